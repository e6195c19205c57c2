// ParseValue() and FormatValue(): see value_text.h for the forms and styles.
#include "cli/value_text.h"

#include <openssl/evp.h>

#include <charconv>
#include <climits>
#include <cmath>
#include <msgpack.hpp>
#include <nlohmann/json.hpp>

#include "cli/request.h"
#include "common/utf8.h"
#include "protocol/msgpack_cursor.h"

namespace litestash::cli {
namespace {

struct Sink {
  std::string out;
  void write(const char* p, size_t n) { out.append(p, n); }
};

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

Result<double> ParseNumber(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  double d;
  auto r = std::from_chars(text.data(), text.data() + text.size(), d);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size()) {
    return Status::InvalidArgument("not a number: '" + std::string(text) + "'");
  }
  return d;
}

// f32:1.5 or f32:[0.1, 0.5]
Result<std::string> ParseFloat32(std::string_view body) {
  Sink sink;
  msgpack::packer<Sink> pk(sink);
  if (!body.empty() && body.front() == '[') {
    if (body.back() != ']') return Status::InvalidArgument("f32: array without ']'");
    body = body.substr(1, body.size() - 2);
    std::vector<float> items;
    while (body.find_first_not_of(' ') != std::string_view::npos) {
      size_t comma = body.find(',');
      auto n = ParseNumber(body.substr(0, comma));
      if (!n.ok()) return n.status();
      items.push_back(static_cast<float>(*n));
      if (comma == std::string_view::npos) break;
      body.remove_prefix(comma + 1);
    }
    pk.pack_array(items.size());
    for (float f : items) sink.out += PackFloat32(f);
    return std::move(sink.out);
  }
  auto n = ParseNumber(body);
  if (!n.ok()) return n.status();
  sink.out += PackFloat32(static_cast<float>(*n));
  return std::move(sink.out);
}

template <typename F>
std::string ShortestFloat(F f) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

class Printer {
 public:
  explicit Printer(ValueStyle style) : style_(style) {}

  bool Print(MsgpackCursor* c, std::string* out, int depth) {
    if (depth > static_cast<int>(kMaxDepth)) return false;
    uint32_t n;
    bool malformed = false;
    if (c->ReadMapHeader(&n, &malformed)) {
      *out += '{';
      for (uint32_t i = 0; i < n; ++i) {
        if (i) *out += ", ";
        if (!PrintKey(c, out, depth)) return false;
        *out += ": ";
        if (!Print(c, out, depth + 1)) return false;
      }
      *out += '}';
      return true;
    }
    if (malformed) return false;
    if (c->ReadArrayHeader(&n, &malformed)) {
      *out += '[';
      for (uint32_t i = 0; i < n; ++i) {
        if (i) *out += ", ";
        if (!Print(c, out, depth + 1)) return false;
      }
      *out += ']';
      return true;
    }
    if (malformed) return false;
    MsgScalar v;
    if (!c->ReadScalar(&v)) return false;
    Scalar(v, out);
    return true;
  }

 private:
  bool PrintKey(MsgpackCursor* c, std::string* out, int depth) {
    MsgpackCursor probe = *c;
    MsgScalar k;
    if (probe.ReadScalar(&k) && k.kind == MsgKind::kStr) {
      *c = probe;
      *out += JsonQuote(k.bytes);
      return true;
    }
    if (style_ == ValueStyle::kDisplay) return Print(c, out, depth + 1);
    std::string text;
    if (!Print(c, &text, depth + 1)) return false;
    *out += JsonQuote(text);
    return true;
  }

  void Scalar(const MsgScalar& v, std::string* out) {
    bool display = style_ == ValueStyle::kDisplay;
    switch (v.kind) {
      case MsgKind::kNil:
        *out += "null";
        break;
      case MsgKind::kBool:
        *out += v.b ? "true" : "false";
        break;
      case MsgKind::kUint:
        *out += std::to_string(v.u);
        break;
      case MsgKind::kInt:
        *out += std::to_string(v.i);
        break;
      case MsgKind::kFloat32:
      case MsgKind::kFloat64: {
        bool f32 = v.kind == MsgKind::kFloat32;
        std::string num = f32 ? ShortestFloat(static_cast<float>(v.f)) : ShortestFloat(v.f);
        if (!std::isfinite(v.f)) {
          *out +=
              display ? (f32 ? "(float32) " : "(float64) ") + num : "{\"$float\": \"" + num + "\"}";
        } else {
          *out += display && f32 ? "(float32) " + num : num;
        }
        break;
      }
      case MsgKind::kStr:
        *out += JsonQuote(v.bytes);
        break;
      case MsgKind::kBin:
        *out +=
            display ? "(bin) " + HexEncode(v.bytes) : "{\"$bin\": \"" + HexEncode(v.bytes) + "\"}";
        break;
      case MsgKind::kExt: {
        int type = static_cast<int8_t>(v.bytes.empty() ? 0 : v.bytes[0]);
        std::string data = HexEncode(v.bytes.substr(v.bytes.empty() ? 0 : 1));
        *out += display ? "(ext " + std::to_string(type) + ") " + data
                        : "{\"$ext\": [" + std::to_string(type) + ", \"" + data + "\"]}";
        break;
      }
      default:
        *out += "null";
        break;
    }
  }

  ValueStyle style_;
};

}  // namespace

std::string HexEncode(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += kDigits[b >> 4], out += kDigits[b & 15];
  return out;
}

Result<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2) return Status::InvalidArgument("hex needs an even number of digits");
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    unsigned v;
    auto r = std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
    if (r.ec != std::errc() || r.ptr != hex.data() + i + 2) {
      return Status::InvalidArgument("not a hex digit in '" + std::string(hex) + "'");
    }
    out += static_cast<char>(v);
  }
  return out;
}

// Standard Base64 (RFC 4648 section 4), decoded by OpenSSL. The URL-safe alphabet (section 5)
// and missing padding are taken too. EVP_DecodeBlock() itself is lenient: it skips blanks around
// the text, reads '=' anywhere as zero bits and counts padding as decoded bytes, so the text is
// checked here and the padding taken off the length.
Result<std::string> Base64Decode(std::string_view b64) {
  auto bad = [&] { return Status::InvalidArgument("not base64: '" + std::string(b64) + "'"); };
  std::string text(b64);
  for (char& c : text) c = c == '-' ? '+' : c == '_' ? '/' : c;
  size_t data = text.find_last_not_of('=') + 1;  // 0 when empty or all '='
  text.append((4 - text.size() % 4) % 4, '=');
  size_t padding = text.size() - data;
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (padding > 2 || text.size() > INT_MAX || text.find_first_not_of(kAlphabet) < data) {
    return bad();
  }
  if (text.empty()) return std::string();
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0 || static_cast<size_t>(n) != out.size()) return bad();
  out.resize(out.size() - padding);
  return out;
}

// nlohmann-json writes the literal. A str that is not UTF-8 is read as Latin-1 (one code point
// per byte) and written ASCII-only, so each byte above 0x7f shows as \u00XX.
std::string JsonQuote(std::string_view s) {
  using json = nlohmann::json;
  if (IsValidUtf8(s)) {
    return json(std::string(s))
        .dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
  }
  std::string latin1;
  for (unsigned char c : s) {
    if (c < 0x80) {
      latin1 += static_cast<char>(c);
    } else {
      latin1 += static_cast<char>(0xC0 | (c >> 6));
      latin1 += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return json(std::move(latin1))
      .dump(-1, ' ', /*ensure_ascii=*/true, json::error_handler_t::replace);
}

Result<std::string> ParseValue(std::string_view text, bool bare_words) {
  Sink sink;
  msgpack::packer<Sink> pk(sink);
  if (StartsWith(text, "bin:") || StartsWith(text, "b64:")) {
    auto bytes =
        text[0] == 'b' && text[1] == 'i' ? HexDecode(text.substr(4)) : Base64Decode(text.substr(4));
    if (!bytes.ok()) return bytes.status();
    pk.pack_bin(bytes->size()), pk.pack_bin_body(bytes->data(), bytes->size());
    return std::move(sink.out);
  }
  if (StartsWith(text, "f32:")) return ParseFloat32(text.substr(4));
  if (StartsWith(text, "f64:")) {
    auto n = ParseNumber(text.substr(4));
    if (!n.ok()) return n.status();
    sink.out += PackFloat64(*n);
    return std::move(sink.out);
  }
  if (StartsWith(text, "str:")) {
    pk.pack_str(text.size() - 4), pk.pack_str_body(text.data() + 4, text.size() - 4);
    return std::move(sink.out);
  }
  if (StartsWith(text, "ext:")) {
    std::string_view rest = text.substr(4);
    size_t colon = rest.find(':');
    int type = 0;
    auto r = std::from_chars(rest.data(), rest.data() + (colon == rest.npos ? 0 : colon), type);
    if (colon == rest.npos || r.ec != std::errc() || r.ptr != rest.data() + colon || type < -128 ||
        type > 127) {
      return Status::InvalidArgument("ext needs the form ext:TYPE:HEX, TYPE in -128..127");
    }
    auto data = HexDecode(rest.substr(colon + 1));
    if (!data.ok()) return data.status();
    pk.pack_ext(data->size(), static_cast<int8_t>(type));
    pk.pack_ext_body(data->data(), data->size());
    return std::move(sink.out);
  }
  if (StartsWith(text, "mp:")) {
    auto bytes = HexDecode(text.substr(3));
    if (!bytes.ok()) return bytes.status();
    MsgpackCursor c(*bytes);
    std::string_view span;
    if (bytes->empty() || !c.Skip(&span) || !c.at_end()) {
      return Status::InvalidArgument("mp: needs exactly one valid MessagePack object");
    }
    return std::move(bytes).value();
  }
  auto json = JsonToMsgpack(text);
  if (json.ok() || !bare_words) return json;
  if (text.empty() || text[0] == '{' || text[0] == '[' || text[0] == '"') return json;
  pk.pack_str(text.size()), pk.pack_str_body(text.data(), text.size());
  return std::move(sink.out);
}

std::string FormatValue(std::string_view msgpack, ValueStyle style) {
  MsgpackCursor c(msgpack);
  std::string out;
  if (!Printer(style).Print(&c, &out, 0) || !c.at_end()) {
    return style == ValueStyle::kDisplay ? "(malformed) " + HexEncode(msgpack)
                                         : "{\"$malformed\": \"" + HexEncode(msgpack) + "\"}";
  }
  return out;
}

bool IsExactJson(std::string_view msgpack) {
  auto back = JsonToMsgpack(FormatValue(msgpack, ValueStyle::kJson));
  return back.ok() && *back == msgpack;
}

}  // namespace litestash::cli
