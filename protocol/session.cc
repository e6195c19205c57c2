#include "protocol/session.h"

#include "protocol/request_decoder.h"
#include "protocol/frame_encoder.h"

namespace litestash {

size_t Session::FeedFrame(const char* data, size_t size) {
  std::string frame;
  FrameReader::Event event;
  const size_t used = reader_.Feed(data, size, &event, &frame);
  switch (event) {
    case FrameReader::Event::kNeedMore:
      break;
    case FrameReader::Event::kFrame:
      OnFrame(std::move(frame));
      break;
    case FrameReader::Event::kMalformed:
      ++frames_;
      responses_->SendNow(
          EncodeError(std::nullopt, Status(StatusCode::kBadFrame, "frame length is 0")));
      break;
    case FrameReader::Event::kTooLarge:
      ++frames_;
      responses_->SendNow(EncodeError(
          std::nullopt,
          Status(StatusCode::kFrameTooLarge,
                 "frame of " + std::to_string(reader_.last_oversized_length()) +
                     " bytes exceeds max_frame_bytes " + std::to_string(limits_.max_frame_bytes))));
      break;
  }
  return used;
}

void Session::OnFrame(std::string frame) {
  ++frames_;
  DecodeError error;
  RequestPtr request = DecodeRequest(std::move(frame), ops_, limits_, &error);
  if (request) {
    requests_->Submit(std::move(request));
  } else {
    responses_->SendNow(EncodeError(error.id, error.status));
  }
}

}  // namespace litestash
