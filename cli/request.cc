// Request encoding and Answer reading; see request.h.
#include "cli/request.h"

#include <cstring>
#include <msgpack.hpp>

#include "protocol/frame_encoder.h"
#include "protocol/msgpack_cursor.h"

namespace litestash::cli {
namespace {

struct Sink {
  std::string out;
  void write(const char* p, size_t n) { out.append(p, n); }
};

}  // namespace

std::string PackUint(uint64_t v) {
  Sink s;
  msgpack::packer<Sink>(s).pack_uint64(v);
  return std::move(s.out);
}

std::string PackStr(std::string_view str) {
  Sink s;
  msgpack::packer<Sink>(s).pack_str(str.size()).pack_str_body(str.data(), str.size());
  return std::move(s.out);
}

std::string PackBool(bool b) { return b ? "\xc3" : "\xc2"; }

std::string PackFloat32(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return {'\xca', char(bits >> 24), char(bits >> 16), char(bits >> 8), char(bits)};
}

std::string PackFloat64(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  std::string out = "\xcb";
  for (int shift = 56; shift >= 0; shift -= 8) out += char(bits >> shift);
  return out;
}

std::string PackArray(const std::vector<std::string>& items) {
  Sink s;
  msgpack::packer<Sink>(s).pack_array(items.size());
  for (const auto& item : items) s.out += item;
  return std::move(s.out);
}

std::string PackMap(const std::vector<std::pair<std::string, std::string>>& fields) {
  Sink s;
  msgpack::packer<Sink> pk(s);
  pk.pack_map(fields.size());
  for (const auto& [name, packed] : fields) {
    pk.pack_str(name.size()).pack_str_body(name.data(), name.size());
    s.out += packed;
  }
  return std::move(s.out);
}

std::string Request::Encode(uint64_t id) const {
  FrameEncoder enc;
  enc.BeginRequest(id, op, fields.size());
  for (const auto& [name, packed] : fields) {
    enc.Key(name);
    enc.Raw(packed);
  }
  return enc.Finish();
}

Result<Answer> Answer::Parse(std::string body) {
  Answer a;
  a.body_ = std::move(body);
  MsgpackCursor c(a.body_);
  uint32_t n;
  bool malformed;
  if (!c.ReadMapHeader(&n, &malformed)) return Status::Corruption("answer is not a map");
  for (uint32_t i = 0; i < n; ++i) {
    MsgScalar key;
    std::string_view span;
    if (!c.ReadScalar(&key) || key.kind != MsgKind::kStr) {
      return Status::Corruption("answer field name is not a str");
    }
    std::string name(key.bytes);
    size_t start = c.offset();
    if (!c.Skip(&span)) return Status::Corruption("answer is truncated");
    a.fields_.push_back({name, {start, span.size()}});
  }
  a.id_ = a.Uint("id");
  a.ok_ = a.Bool("ok");
  if (!a.ok_) {
    a.code_ = StrOf(a.ErrorField("code").value_or("")).value_or("unknown");
    a.message_ = StrOf(a.ErrorField("message").value_or("")).value_or("");
  }
  return a;
}

std::optional<std::string_view> Answer::Field(std::string_view name) const {
  for (const auto& [n, span] : fields_) {
    if (n == name) return std::string_view(body_).substr(span.first, span.second);
  }
  return std::nullopt;
}

std::optional<std::string_view> Answer::ErrorField(std::string_view name) const {
  auto err = Field("error");
  if (!err) return std::nullopt;
  for (auto [k, v] : PairsOf(*err)) {
    if (StrOf(k) == name) return v;
  }
  return std::nullopt;
}

std::optional<uint64_t> Answer::Uint(std::string_view name) const {
  auto f = Field(name);
  return f ? UintOf(*f) : std::nullopt;
}

bool Answer::Bool(std::string_view name) const {
  auto f = Field(name);
  return f && BoolOf(*f).value_or(false);
}

std::optional<std::string> Answer::Str(std::string_view name) const {
  auto f = Field(name);
  return f ? StrOf(*f) : std::nullopt;
}

std::vector<std::string_view> Answer::Items(std::string_view name) const {
  auto f = Field(name);
  return f ? ItemsOf(*f) : std::vector<std::string_view>{};
}

std::vector<std::string> Answer::Names() const {
  std::vector<std::string> out;
  for (const auto& f : fields_) out.push_back(f.first);
  return out;
}

std::optional<uint64_t> UintOf(std::string_view packed) {
  MsgpackCursor c(packed);
  MsgScalar v;
  if (!c.ReadScalar(&v) || v.kind != MsgKind::kUint) return std::nullopt;
  return v.u;
}

std::optional<std::string> StrOf(std::string_view packed) {
  MsgpackCursor c(packed);
  MsgScalar v;
  if (!c.ReadScalar(&v) || v.kind != MsgKind::kStr) return std::nullopt;
  return std::string(v.bytes);
}

std::optional<bool> BoolOf(std::string_view packed) {
  MsgpackCursor c(packed);
  MsgScalar v;
  if (!c.ReadScalar(&v) || v.kind != MsgKind::kBool) return std::nullopt;
  return v.b;
}

std::vector<std::string_view> ItemsOf(std::string_view packed) {
  std::vector<std::string_view> out;
  MsgpackCursor c(packed);
  uint32_t n;
  bool malformed;
  if (!c.ReadArrayHeader(&n, &malformed)) return out;
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view span;
    if (!c.Skip(&span)) break;
    out.push_back(span);
  }
  return out;
}

std::vector<std::pair<std::string_view, std::string_view>> PairsOf(std::string_view packed) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  MsgpackCursor c(packed);
  uint32_t n;
  bool malformed;
  if (!c.ReadMapHeader(&n, &malformed)) return out;
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view k, v;
    if (!c.Skip(&k) || !c.Skip(&v)) break;
    out.emplace_back(k, v);
  }
  return out;
}

}  // namespace litestash::cli
