// MsgpackCursor: allocation-free, bounded reading of MessagePack from one frame's bytes.
//
// The cursor walks a request body object by object so the decoder learns each field's exact
// byte span: values are sliced out of the frame, never decoded and re-encoded. Objects are
// parsed by msgpack-cxx's visitor parser (msgpack::parse) with visitors that enforce the
// limits below and allocate nothing per element. Read here instead: map and array *headers*
// (msgpack-cxx has no call that stops after a container header), and the scalars requests are
// made of (str, bin, uint, fixint, nil, bool: a type byte and a length), because
// msgpack::parse allocates its parse stack at every call, several times per request field.
//
// Limits (untrusted input): nesting depth <= kMaxDepth; a declared array/map/str/bin/ext size
// can never exceed the bytes left in the frame (checked before any use). Every exception that
// msgpack-cxx might throw stays inside this file.
//
// Thread-safety: a cursor is a view over caller-owned bytes; use it from one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace litestash {

inline constexpr uint32_t kMaxDepth = 512;

// The MessagePack type family of one object.
enum class MsgKind : uint8_t {
  kNil,
  kBool,
  kUint,  // positive integer (any width)
  kInt,   // negative integer
  kFloat32,
  kFloat64,
  kStr,
  kBin,
  kExt,
  kArray,
  kMap,
};

std::string_view MsgKindName(MsgKind kind);

// A decoded scalar; for kStr/kBin/kExt `bytes` points into the frame. For kArray/kMap only
// `kind` is meaningful.
struct MsgScalar {
  MsgKind kind = MsgKind::kNil;
  bool b = false;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  std::string_view bytes;
};

class MsgpackCursor {
 public:
  MsgpackCursor(const char* data, size_t size) : data_(data), size_(size) {}
  explicit MsgpackCursor(std::string_view bytes) : MsgpackCursor(bytes.data(), bytes.size()) {}

  size_t offset() const { return off_; }
  size_t remaining() const { return size_ - off_; }
  bool at_end() const { return off_ == size_; }

  // If the next object is a map (resp. array), reads its header and returns true with the
  // element count. Returns false, consuming nothing, if the next object is of another type or
  // the header is truncated; `*malformed` then tells the two apart. Counts larger than the
  // remaining bytes could hold are reported as malformed.
  bool ReadMapHeader(uint32_t* count, bool* malformed);
  bool ReadArrayHeader(uint32_t* count, bool* malformed);

  // Skips one whole object, validating it (depth, sizes, truncation). On success stores its
  // bytes in *span and advances; on failure consumes nothing and returns false.
  bool Skip(std::string_view* span);

  // Reads one object; scalars are decoded, containers are skipped whole with only their kind
  // reported. Returns false (consuming nothing) if the bytes are malformed.
  bool ReadScalar(MsgScalar* out);

 private:
  bool ReadContainerHeader(bool map, uint32_t* count, bool* malformed);

  const char* data_;
  size_t size_;
  size_t off_ = 0;
};

}  // namespace litestash
