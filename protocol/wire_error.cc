#include "protocol/wire_error.h"

namespace litestash {

std::string_view WireErrorCode(StatusCode code) {
  switch (code) {
    case StatusCode::kBadFrame:
      return "bad_frame";
    case StatusCode::kFrameTooLarge:
      return "frame_too_large";
    case StatusCode::kInvalidArgument:
      return "bad_request";
    case StatusCode::kWrongType:
      return "type_error";
    case StatusCode::kUnknownOp:
      return "unknown_op";
    case StatusCode::kInvalidKey:
      return "invalid_key";
    case StatusCode::kTooLarge:
      return "value_too_large";
    case StatusCode::kWrongShard:
      return "wrong_shard";
    case StatusCode::kConflict:
      return "conflict";
    case StatusCode::kShuttingDown:
      return "shutting_down";
    case StatusCode::kBusy:
    case StatusCode::kIOError:
    case StatusCode::kCorruption:
    case StatusCode::kMismatch:
    case StatusCode::kTooNew:
      return "storage_error";
    case StatusCode::kOk:
    case StatusCode::kNotFound:
    case StatusCode::kInternal:
      return "internal";
  }
  return "internal";
}

}  // namespace litestash
