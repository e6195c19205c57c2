// JsonToMsgpack(): strict JSON (RFC 8259, parsed by nlohmann-json) to MessagePack.
//
// nlohmann's SAX interface drives msgpack-cxx's packer, so no JSON tree is built: object keys
// keep their order (and duplicates), and every number keeps the encoding the cli promises: an
// integer becomes the smallest MessagePack int, any other number float64 (nlohmann's own
// to_msgpack would write float32 where a double happens to fit, msgpack-cxx's pack_double an
// int where it is integral). Containers are packed into a child buffer first, because
// MessagePack needs the element count before the elements. Depth is capped at 512 like the
// engine's own limit. nlohmann reports errors through the SAX parse_error event; whatever it
// throws all the same is caught here, so nothing leaves JsonToMsgpack() but a Status.
#include <msgpack.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/request.h"
#include "cli/value_text.h"

namespace litestash::cli {
namespace {

constexpr size_t kMaxJsonDepth = 512;

struct Sink {
  std::string out;
  void write(const char* p, size_t n) { out.append(p, n); }
};

// "[json.exception.parse_error.101] parse error at ..." -> "parse error at ...".
std::string WithoutExceptionId(std::string_view what) {
  if (!what.empty() && what.front() == '[') {
    size_t end = what.find("] ");
    if (end != std::string_view::npos) what.remove_prefix(end + 2);
  }
  return std::string(what);
}

class MsgpackWriter {
 public:
  using json = nlohmann::json;

  // nlohmann::json_sax's events; returning false stops the parse.
  bool null() {
    return Scalar([](auto& pk) { pk.pack_nil(); });
  }
  bool boolean(bool b) {
    return Scalar([b](auto& pk) { b ? pk.pack_true() : pk.pack_false(); });
  }
  bool number_integer(json::number_integer_t v) {
    return Scalar([v](auto& pk) { pk.pack_int64(v); });
  }
  bool number_unsigned(json::number_unsigned_t v) {
    return Scalar([v](auto& pk) { pk.pack_uint64(v); });
  }
  bool number_float(json::number_float_t d, const json::string_t&) {
    // PackFloat64, not pack_double: msgpack-cxx packs an integral double (1e2) as an int.
    return Scalar([this, d](auto&) { Target().out += PackFloat64(d); });
  }
  bool string(json::string_t& s) {
    return Scalar([&s](auto& pk) { pk.pack_str(s.size()).pack_str_body(s.data(), s.size()); });
  }
  bool binary(json::binary_t&) { return Fail("binary values are not JSON"); }
  bool start_object(size_t) { return Open(); }
  bool key(json::string_t& k) {
    msgpack::packer<Sink>(open_.back().body).pack_str(k.size()).pack_str_body(k.data(), k.size());
    return true;
  }
  bool end_object() { return Close(/*map=*/true); }
  bool start_array(size_t) { return Open(); }
  bool end_array() { return Close(/*map=*/false); }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception& e) {
    return Fail(WithoutExceptionId(e.what()));
  }

  std::string& out() { return root_.out; }
  const std::string& error() const { return error_; }

 private:
  struct Container {
    Sink body;
    uint32_t count = 0;  // elements, or key/value pairs
  };

  Sink& Target() { return open_.empty() ? root_ : open_.back().body; }
  void Counted() {
    if (!open_.empty()) ++open_.back().count;
  }
  bool Fail(std::string what) {
    error_ = std::move(what);
    return false;
  }
  // A value at depth open_.size() (the top-level value is at depth 0).
  bool DepthOk() {
    return open_.size() <= kMaxJsonDepth ||
           Fail("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }

  template <typename Pack>
  bool Scalar(Pack pack) {
    if (!DepthOk()) return false;
    msgpack::packer<Sink> pk(Target());
    pack(pk);
    Counted();
    return true;
  }
  bool Open() {
    if (!DepthOk()) return false;
    open_.emplace_back();
    return true;
  }
  bool Close(bool map) {
    Container done = std::move(open_.back());
    open_.pop_back();
    msgpack::packer<Sink> pk(Target());
    map ? pk.pack_map(done.count) : pk.pack_array(done.count);
    Target().out += done.body.out;
    Counted();
    return true;
  }

  Sink root_;
  std::vector<Container> open_;
  std::string error_;
};

}  // namespace

Result<std::string> JsonToMsgpack(std::string_view json) {
  // nlohmann's lexer takes a NUL byte for the end of the input (and would ignore what follows);
  // JSON has no place for one outside a string, and none inside one unescaped.
  if (size_t nul = json.find('\0'); nul != std::string_view::npos) {
    return Status::InvalidArgument("JSON: a NUL byte at offset " + std::to_string(nul));
  }
  MsgpackWriter writer;
  bool ok;
  try {
    ok = nlohmann::json::sax_parse(json.data(), json.data() + json.size(), &writer);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument("JSON: " + WithoutExceptionId(e.what()));
  }
  if (!ok) return Status::InvalidArgument("JSON: " + writer.error());
  return std::move(writer.out());
}

}  // namespace litestash::cli
