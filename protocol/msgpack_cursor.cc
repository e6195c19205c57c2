#include "protocol/msgpack_cursor.h"

#include <msgpack.hpp>

namespace litestash {
namespace {

// Validates one object without building it: bounds depth and declared element counts.
class BoundedSkipVisitor : public msgpack::null_visitor {
 public:
  explicit BoundedSkipVisitor(size_t bytes_left) : bytes_left_(bytes_left) {}

  bool start_array(uint32_t n) { return Enter(n); }
  bool end_array() { return Leave(); }
  bool start_map(uint32_t n) { return Enter(2ull * n); }
  bool end_map() { return Leave(); }

 private:
  // Each element takes at least one byte, so a count above the bytes left is a lie.
  bool Enter(uint64_t elements) { return ++depth_ <= kMaxDepth && elements <= bytes_left_; }
  bool Leave() {
    --depth_;
    return true;
  }

  size_t bytes_left_;
  uint32_t depth_ = 0;
};

// Captures a scalar; stops at the first container (its kind is recorded, the caller skips it).
class ScalarVisitor : public msgpack::null_visitor {
 public:
  explicit ScalarVisitor(MsgScalar* out) : out_(out) {}

  bool visit_nil() { return Set(MsgKind::kNil); }
  bool visit_boolean(bool v) {
    out_->b = v;
    return Set(MsgKind::kBool);
  }
  bool visit_positive_integer(uint64_t v) {
    out_->u = v;
    return Set(MsgKind::kUint);
  }
  bool visit_negative_integer(int64_t v) {
    out_->i = v;
    return Set(MsgKind::kInt);
  }
  bool visit_float32(float v) {
    out_->f = v;
    return Set(MsgKind::kFloat32);
  }
  bool visit_float64(double v) {
    out_->f = v;
    return Set(MsgKind::kFloat64);
  }
  bool visit_str(const char* p, uint32_t n) { return SetBytes(MsgKind::kStr, p, n); }
  bool visit_bin(const char* p, uint32_t n) { return SetBytes(MsgKind::kBin, p, n); }
  bool visit_ext(const char* p, uint32_t n) { return SetBytes(MsgKind::kExt, p, n); }
  bool start_array(uint32_t) {
    out_->kind = MsgKind::kArray;
    return false;
  }
  bool start_map(uint32_t) {
    out_->kind = MsgKind::kMap;
    return false;
  }

 private:
  bool Set(MsgKind k) {
    out_->kind = k;
    return true;
  }
  bool SetBytes(MsgKind k, const char* p, uint32_t n) {
    out_->bytes = std::string_view(p, n);
    return Set(k);
  }
  MsgScalar* out_;
};

template <typename Visitor>
bool ParseOne(const char* data, size_t size, size_t* off, Visitor& v) {
  try {
    return msgpack::parse(data, size, *off, v);
  } catch (const std::exception&) {
    return false;  // msgpack-cxx reports some malformations by throwing; they end here.
  }
}

uint64_t LoadBigEndian(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// The scalars requests are made of (str, bin, uint, small negative int, nil, bool), read straight
// from their type byte and length. msgpack::parse sets up its parse stack on the heap at every
// call, and a field took three calls' worth: callgrind of pipelined gets counted 9 allocations
// per 3-field `get` there and ~280 instructions per call. Returns the object's size in bytes
// and fills *out as ScalarVisitor would; 0 for any other type or a truncated object, which then
// takes msgpack-cxx's path (and its verdict).
size_t ReadCommonScalar(const unsigned char* p, size_t left, MsgScalar* out) {
  const unsigned char type = p[0];
  auto bytes = [&](MsgKind kind, size_t head, size_t n) -> size_t {
    if (left < head || left - head < n) return 0;
    out->kind = kind;
    out->bytes = std::string_view(reinterpret_cast<const char*>(p + head), n);
    return head + n;
  };
  auto sized = [&](MsgKind kind, int width) -> size_t {
    if (left < static_cast<size_t>(1 + width)) return 0;
    return bytes(kind, 1 + width, LoadBigEndian(p + 1, width));
  };
  if (type <= 0x7f) {  // positive fixint
    out->kind = MsgKind::kUint;
    out->u = type;
    return 1;
  }
  if (type >= 0xe0) {  // negative fixint
    out->kind = MsgKind::kInt;
    out->i = static_cast<int8_t>(type);
    return 1;
  }
  if ((type & 0xe0) == 0xa0) return bytes(MsgKind::kStr, 1, type & 0x1f);  // fixstr
  switch (type) {
    case 0xc0:
      out->kind = MsgKind::kNil;
      return 1;
    case 0xc2:
    case 0xc3:
      out->kind = MsgKind::kBool;
      out->b = type == 0xc3;
      return 1;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {  // uint 8/16/32/64
      const int width = 1 << (type - 0xcc);
      if (left < static_cast<size_t>(1 + width)) return 0;
      out->kind = MsgKind::kUint;
      out->u = LoadBigEndian(p + 1, width);
      return 1 + width;
    }
    case 0xd9:
    case 0xda:
    case 0xdb:  // str 8/16/32
      return sized(MsgKind::kStr, 1 << (type - 0xd9));
    case 0xc4:
    case 0xc5:
    case 0xc6:  // bin 8/16/32
      return sized(MsgKind::kBin, 1 << (type - 0xc4));
    default:
      return 0;
  }
}

}  // namespace

std::string_view MsgKindName(MsgKind kind) {
  switch (kind) {
    case MsgKind::kNil:
      return "nil";
    case MsgKind::kBool:
      return "bool";
    case MsgKind::kUint:
      return "uint";
    case MsgKind::kInt:
      return "negative int";
    case MsgKind::kFloat32:
      return "float32";
    case MsgKind::kFloat64:
      return "float64";
    case MsgKind::kStr:
      return "str";
    case MsgKind::kBin:
      return "bin";
    case MsgKind::kExt:
      return "ext";
    case MsgKind::kArray:
      return "array";
    case MsgKind::kMap:
      return "map";
  }
  return "?";
}

bool MsgpackCursor::ReadContainerHeader(bool map, uint32_t* count, bool* malformed) {
  *malformed = false;
  if (at_end()) {
    *malformed = true;
    return false;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(data_ + off_);
  const unsigned char fix_base = map ? 0x80 : 0x90;
  const unsigned char b16 = map ? 0xde : 0xdc;
  int width;  // bytes of the count after the type byte
  if ((p[0] & 0xf0) == fix_base) {
    *count = p[0] & 0x0f;
    width = 0;
  } else if (p[0] == b16) {
    width = 2;
  } else if (p[0] == b16 + 1) {
    width = 4;
  } else {
    *malformed = p[0] == 0xc1;  // the one byte MessagePack never uses
    return false;
  }
  if (remaining() < static_cast<size_t>(1 + width)) {
    *malformed = true;
    return false;
  }
  if (width > 0) *count = static_cast<uint32_t>(LoadBigEndian(p + 1, width));
  const uint64_t min_bytes = (map ? 2ull : 1ull) * *count;
  if (min_bytes > remaining() - 1 - width) {
    *malformed = true;
    return false;
  }
  off_ += 1 + width;
  return true;
}

bool MsgpackCursor::ReadMapHeader(uint32_t* count, bool* malformed) {
  return ReadContainerHeader(true, count, malformed);
}

bool MsgpackCursor::ReadArrayHeader(uint32_t* count, bool* malformed) {
  return ReadContainerHeader(false, count, malformed);
}

bool MsgpackCursor::Skip(std::string_view* span) {
  if (at_end()) return false;
  MsgScalar scalar;
  if (const size_t n = ReadCommonScalar(reinterpret_cast<const unsigned char*>(data_ + off_),
                                        remaining(), &scalar)) {
    *span = std::string_view(data_ + off_, n);
    off_ += n;
    return true;
  }
  size_t off = off_;
  BoundedSkipVisitor v(remaining());
  if (at_end() || !ParseOne(data_, size_, &off, v)) return false;
  *span = std::string_view(data_ + off_, off - off_);
  off_ = off;
  return true;
}

bool MsgpackCursor::ReadScalar(MsgScalar* out) {
  if (at_end()) return false;
  const size_t start = off_;
  const auto first = static_cast<unsigned char>(data_[start]);
  const bool container = (first >= 0x80 && first <= 0x9f) || (first >= 0xdc && first <= 0xdf);
  if (!container) {
    if (const size_t n = ReadCommonScalar(reinterpret_cast<const unsigned char*>(data_ + start),
                                          remaining(), out)) {
      off_ += n;
      return true;
    }
    // Another scalar: one parse both validates it (length within the frame, no reserved byte) and
    // captures it; the depth and count bounds of Skip() concern containers only.
    size_t off = start;
    ScalarVisitor v(out);
    if (!ParseOne(data_, size_, &off, v)) return false;
    off_ = off;
    return true;
  }
  std::string_view span;
  if (!Skip(&span)) return false;  // validates the whole container first
  size_t off = start;
  ScalarVisitor v(out);
  ParseOne(data_, size_, &off, v);  // returns false for containers, by design
  return true;
}

}  // namespace litestash
