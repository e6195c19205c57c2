#include "protocol/frame_encoder.h"

#include "protocol/wire_error.h"

namespace litestash {

namespace {
constexpr size_t kPrefix = 4;
}

// Most answers are small (a get of a 100-byte value is ~130 bytes): one allocation of this
// size instead of a string doubling up from its inline buffer.
constexpr size_t kInitialCapacity = 256;

FrameEncoder::FrameEncoder() : pk_(*this) {
  buf_.reserve(kInitialCapacity);
  buf_.assign(kPrefix, '\0');
}

void FrameEncoder::Reset() { buf_.assign(kPrefix, '\0'); }

void FrameEncoder::BeginOk(uint64_t id, uint32_t extra_fields) {
  MapHeader(2 + extra_fields);
  Key("id");
  Uint(id);
  Key("ok");
  Bool(true);
}

void FrameEncoder::BeginRequest(uint64_t id, std::string_view op, uint32_t extra_fields) {
  MapHeader(2 + extra_fields);
  Key("id");
  Uint(id);
  Key("op");
  Str(op);
}

void FrameEncoder::FinishInto(std::string* out) {
  PatchLength();
  out->append(buf_);
  buf_.resize(kPrefix);
}

void FrameEncoder::PatchLength() {
  const uint32_t len = static_cast<uint32_t>(buf_.size() - kPrefix);
  buf_[0] = static_cast<char>(len >> 24);
  buf_[1] = static_cast<char>(len >> 16);
  buf_[2] = static_cast<char>(len >> 8);
  buf_[3] = static_cast<char>(len);
}

std::string FrameEncoder::Finish() {
  PatchLength();
  std::string out = std::move(buf_);
  buf_.assign(kPrefix, '\0');
  return out;
}

std::string EncodeError(std::optional<uint64_t> id, const Status& status) {
  FrameEncoder enc;
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
  const auto& conflict = status.conflict();
  enc.MapHeader(2 + (conflict ? 1 + (conflict->key ? 1 : 0) : 0));
  enc.Key("code");
  enc.Str(WireErrorCode(status.code()));
  enc.Key("message");
  enc.Str(status.message());
  if (conflict) {
    if (conflict->key) {
      enc.Key("key");
      enc.Str(*conflict->key);
    }
    enc.Key("version");
    enc.Uint(conflict->version);
  }
  return enc.Finish();
}

}  // namespace litestash
