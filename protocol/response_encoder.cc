#include "protocol/response_encoder.h"

namespace litestash {

namespace {
constexpr size_t kPrefix = 4;
}

// Most answers are small (a get of a 100-byte value is ~130 bytes): one allocation of this
// size instead of a string doubling up from its inline buffer.
constexpr size_t kInitialCapacity = 256;

ResponseEncoder::ResponseEncoder() : pk_(*this) {
  buf_.reserve(kInitialCapacity);
  buf_.assign(kPrefix, '\0');
}

void ResponseEncoder::Reset() { buf_.assign(kPrefix, '\0'); }

void ResponseEncoder::BeginOk(uint64_t id, uint32_t extra_fields) {
  MapHeader(2 + extra_fields);
  Key("id");
  Uint(id);
  Key("ok");
  Bool(true);
}

std::string ResponseEncoder::Finish() {
  const uint32_t len = static_cast<uint32_t>(buf_.size() - kPrefix);
  buf_[0] = static_cast<char>(len >> 24);
  buf_[1] = static_cast<char>(len >> 16);
  buf_[2] = static_cast<char>(len >> 8);
  buf_[3] = static_cast<char>(len);
  std::string out = std::move(buf_);
  buf_.assign(kPrefix, '\0');
  return out;
}

std::string EncodeError(std::optional<uint64_t> id, const Status& status) {
  ResponseEncoder enc;
  enc.MapHeader(3);
  enc.Key("id");
  if (id) {
    enc.Uint(*id);
  } else {
    enc.Nil();
  }
  enc.Key("ok");
  enc.Bool(false);
  enc.Key("error");
  enc.MapHeader(2);
  enc.Key("code");
  enc.Str(ErrorCodeName(status.code()));
  enc.Key("message");
  enc.Str(status.message());
  return enc.Finish();
}

}  // namespace litestash
