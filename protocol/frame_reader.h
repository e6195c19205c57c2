// FrameReader: incremental, pure parser of the transport's length-prefixed frames.
//
// Bytes go in as they arrive (any split, down to one byte at a time); out come events:
//   kFrame      one complete body (moved into the caller's string),
//   kNeedMore   every byte given was consumed and no frame is complete yet,
//   kTooLarge   a header announced more than max_frame_bytes; the body is then skipped without
//               being buffered (the bytes are consumed silently as they arrive),
//   kMalformed  a header announced a zero-length frame.
// Memory: a body buffer is reserved only after its length passed the limit check, so a frame
// can never make the reader allocate more than max_frame_bytes.
//
// Thread-safety: none; one reader per byte stream. No I/O: the caller reads the fd.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace litestash {

class FrameReader {
 public:
  enum class Event { kNeedMore, kFrame, kTooLarge, kMalformed };

  explicit FrameReader(size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

  // Consumes bytes from data[0..size) up to and including the first event other than
  // kNeedMore. Returns the number of bytes consumed and stores the event; on kFrame the body
  // is moved into *frame. Call again with the unconsumed rest.
  size_t Feed(const char* data, size_t size, Event* event, std::string* frame);

  // True while a frame (header or body, kept or skipped) has been started but not finished:
  // end of input now means a truncated frame.
  bool mid_frame() const { return state_ != State::kHeader || header_have_ > 0; }

  // Length announced by the last kTooLarge header (for the error message).
  uint64_t last_oversized_length() const { return last_oversized_; }

 private:
  enum class State { kHeader, kBody, kSkip };

  const size_t max_frame_bytes_;
  State state_ = State::kHeader;
  unsigned char header_[4] = {};
  size_t header_have_ = 0;
  uint64_t body_left_ = 0;  // bytes of the current body (kept or skipped) not yet seen
  std::string body_;
  uint64_t last_oversized_ = 0;
};

}  // namespace litestash
