// FrameEncoder: builds one frame (4-byte big-endian length + one MessagePack map): the engine's
// answers, and requests for programs that speak the protocol from C++ (litestash-cli, the
// benchmark's load generator).
//
// Values stored by hosts are written back with Raw(): their bytes are copied verbatim, never
// re-encoded. The length prefix is reserved up front and patched by Finish(), so a frame is
// built in one buffer with no second copy. EncodeError() builds the contract's failure shape.
//
// Thread-safety: an encoder is a local value used by one thread at a time.
#pragma once

#include <cstdint>
#include <msgpack.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace litestash {

class FrameEncoder {
 public:
  FrameEncoder();
  // The packer points at this object, so an encoder never moves; Reset() reuses it.
  FrameEncoder(const FrameEncoder&) = delete;
  FrameEncoder& operator=(const FrameEncoder&) = delete;

  // Drops everything built so far.
  void Reset();

  // Starts {"id": id, "ok": true, ...} with room for `extra_fields` more key/value pairs, which
  // the caller then appends as Key() followed by one value each.
  void BeginOk(uint64_t id, uint32_t extra_fields);
  // Starts a request {"id": id, "op": op, ...} with room for `extra_fields` more pairs.
  void BeginRequest(uint64_t id, std::string_view op, uint32_t extra_fields);

  void Key(std::string_view key) {
    pk_.pack_str(key.size()), pk_.pack_str_body(key.data(), key.size());
  }
  void Uint(uint64_t v) { pk_.pack_uint64(v); }
  void Bool(bool v) { v ? pk_.pack_true() : pk_.pack_false(); }
  void Nil() { pk_.pack_nil(); }
  void Str(std::string_view s) { Key(s); }
  void ArrayHeader(uint32_t n) { pk_.pack_array(n); }
  void MapHeader(uint32_t n) { pk_.pack_map(n); }
  // Appends bytes that already are one complete MessagePack object.
  void Raw(std::string_view msgpack_bytes) { write(msgpack_bytes.data(), msgpack_bytes.size()); }

  // Bytes built so far (length prefix included).
  size_t size() const { return buf_.size(); }
  // Makes room for a frame of `bytes` in all (a hint: the frame may still grow past it).
  void Reserve(size_t bytes) { buf_.reserve(bytes); }

  // Patches the length prefix and hands over the finished frame. The encoder is then empty.
  std::string Finish();
  // Like Finish(), appending the frame to `out` and keeping the buffer for the next frame.
  void FinishInto(std::string* out);

  // msgpack::packer's buffer interface.
  void write(const char* p, size_t n) { buf_.append(p, n); }

 private:
  void PatchLength();

  std::string buf_;
  msgpack::packer<FrameEncoder> pk_;
};

// {"id": id-or-nil, "ok": false, "error": {"code": ..., "message": ...}} as a whole frame.
std::string EncodeError(std::optional<uint64_t> id, const Status& status);

}  // namespace litestash
