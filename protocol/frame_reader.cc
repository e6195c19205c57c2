#include "protocol/frame_reader.h"

#include <algorithm>

namespace litestash {

size_t FrameReader::Feed(const char* data, size_t size, Event* event, std::string* frame) {
  size_t used = 0;
  while (used < size) {
    switch (state_) {
      case State::kHeader: {
        header_[header_have_++] = static_cast<unsigned char>(data[used++]);
        if (header_have_ < 4) break;
        header_have_ = 0;
        const uint64_t len = (uint64_t{header_[0]} << 24) | (uint64_t{header_[1]} << 16) |
                             (uint64_t{header_[2]} << 8) | uint64_t{header_[3]};
        if (len == 0) {
          *event = Event::kMalformed;
          return used;
        }
        if (len > max_frame_bytes_) {
          last_oversized_ = len;
          body_left_ = len;
          state_ = State::kSkip;
          *event = Event::kTooLarge;
          return used;
        }
        body_.clear();
        body_.reserve(len);  // bounded by max_frame_bytes_ just above
        body_left_ = len;
        state_ = State::kBody;
        break;
      }
      case State::kBody: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(body_left_, size - used));
        body_.append(data + used, take);
        used += take;
        body_left_ -= take;
        if (body_left_ == 0) {
          state_ = State::kHeader;
          *frame = std::move(body_);
          body_ = std::string();
          *event = Event::kFrame;
          return used;
        }
        break;
      }
      case State::kSkip: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(body_left_, size - used));
        used += take;
        body_left_ -= take;
        if (body_left_ == 0) state_ = State::kHeader;
        break;
      }
    }
  }
  *event = Event::kNeedMore;
  return used;
}

}  // namespace litestash
