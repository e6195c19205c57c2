// JsonToMsgpack(): a strict JSON (RFC 8259) reader that writes MessagePack as it goes.
//
// Containers are packed into a child buffer first, because MessagePack needs the element
// count before the elements. Depth is capped at 512 like the engine's own limit.
#include <charconv>
#include <cmath>
#include <msgpack.hpp>
#include <string>

#include "cli/request.h"
#include "cli/value_text.h"

namespace litestash::cli {
namespace {

constexpr int kMaxJsonDepth = 512;

struct Sink {
  std::string out;
  void write(const char* p, size_t n) { out.append(p, n); }
};

class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : s_(text) {}

  Result<std::string> ReadDocument() {
    Sink sink;
    if (Status st = Value(&sink, 0); !st.ok()) return st;
    SkipSpace();
    if (pos_ != s_.size()) return Error("unexpected text after the value");
    return std::move(sink.out);
  }

 private:
  Status Error(std::string what) const {
    return Status::InvalidArgument("JSON: " + what + " at offset " + std::to_string(pos_));
  }
  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Status Value(Sink* sink, int depth) {
    if (depth > kMaxJsonDepth) return Error("nested too deep");
    msgpack::packer<Sink> pk(*sink);
    SkipSpace();
    if (pos_ >= s_.size()) return Error("a value is missing");
    char c = s_[pos_];
    if (c == '{') return Object(sink, depth);
    if (c == '[') return Array(sink, depth);
    if (c == '"') {
      std::string str;
      if (Status st = String(&str); !st.ok()) return st;
      pk.pack_str(str.size()), pk.pack_str_body(str.data(), str.size());
      return Status::Ok();
    }
    if (Literal("true")) return pk.pack_true(), Status::Ok();
    if (Literal("false")) return pk.pack_false(), Status::Ok();
    if (Literal("null")) return pk.pack_nil(), Status::Ok();
    if (c == '-' || (c >= '0' && c <= '9')) return Number(sink);
    return Error(std::string("unexpected character '") + c + "'");
  }

  Status Object(Sink* sink, int depth) {
    ++pos_;  // '{'
    Sink body;
    uint32_t n = 0;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
    } else {
      for (;;) {
        SkipSpace();
        if (pos_ >= s_.size() || s_[pos_] != '"') return Error("expected a string key");
        std::string key;
        if (Status st = String(&key); !st.ok()) return st;
        msgpack::packer<Sink>(body).pack_str(key.size()).pack_str_body(key.data(), key.size());
        SkipSpace();
        if (pos_ >= s_.size() || s_[pos_] != ':') return Error("expected ':'");
        ++pos_;
        if (Status st = Value(&body, depth + 1); !st.ok()) return st;
        ++n;
        SkipSpace();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == '}') {
          ++pos_;
          break;
        }
        return Error("expected ',' or '}'");
      }
    }
    msgpack::packer<Sink>(*sink).pack_map(n);
    sink->out += body.out;
    return Status::Ok();
  }

  Status Array(Sink* sink, int depth) {
    ++pos_;  // '['
    Sink body;
    uint32_t n = 0;
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
    } else {
      for (;;) {
        if (Status st = Value(&body, depth + 1); !st.ok()) return st;
        ++n;
        SkipSpace();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == ']') {
          ++pos_;
          break;
        }
        return Error("expected ',' or ']'");
      }
    }
    msgpack::packer<Sink>(*sink).pack_array(n);
    sink->out += body.out;
    return Status::Ok();
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xC0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xE0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *out += static_cast<char>(0xF0 | (cp >> 18));
      *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool Hex4(uint32_t* v) {
    if (pos_ + 4 > s_.size()) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (d < 0) return false;
      *v = *v * 16 + d;
    }
    return true;
  }

  Status String(std::string* out) {
    ++pos_;  // opening quote
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return Status::Ok();
      if (static_cast<unsigned char>(c) < 0x20) return Error("control character in a string");
      if (c != '\\') {
        *out += c;
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case '"':
          *out += '"';
          break;
        case '\\':
          *out += '\\';
          break;
        case '/':
          *out += '/';
          break;
        case 'b':
          *out += '\b';
          break;
        case 'f':
          *out += '\f';
          break;
        case 'n':
          *out += '\n';
          break;
        case 'r':
          *out += '\r';
          break;
        case 't':
          *out += '\t';
          break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return Error("bad \\u escape");
          if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair
            uint32_t lo;
            if (!Literal("\\u") || !Hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF) {
              return Error("unpaired surrogate");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            return Error("unpaired surrogate");
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          return Error(std::string("bad escape '\\") + e + "'");
      }
    }
    return Error("unterminated string");
  }

  Status Number(Sink* sink) {
    size_t start = pos_;
    bool integral = true;
    if (s_[pos_] == '-') ++pos_;
    auto digits = [&] {
      size_t d = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ - d;
    };
    size_t int_digits = digits();
    if (int_digits == 0) return Error("bad number");
    if (int_digits > 1 && s_[pos_ - int_digits] == '0') return Error("leading zero");
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_, integral = false;
      if (digits() == 0) return Error("bad number");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_, integral = false;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (digits() == 0) return Error("bad number");
    }
    std::string_view text = s_.substr(start, pos_ - start);
    msgpack::packer<Sink> pk(*sink);
    if (integral) {
      if (text[0] == '-') {
        int64_t v;
        auto r = std::from_chars(text.data(), text.data() + text.size(), v);
        if (r.ec == std::errc() && r.ptr == text.data() + text.size()) {
          pk.pack_int64(v);
          return Status::Ok();
        }
      } else {
        uint64_t v;
        auto r = std::from_chars(text.data(), text.data() + text.size(), v);
        if (r.ec == std::errc() && r.ptr == text.data() + text.size()) {
          pk.pack_uint64(v);
          return Status::Ok();
        }
      }
    }
    double d = std::strtod(std::string(text).c_str(), nullptr);
    if (!std::isfinite(d)) return Error("number out of range");
    sink->out += PackFloat64(d);
    return Status::Ok();
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::string> JsonToMsgpack(std::string_view json) { return JsonReader(json).ReadDocument(); }

}  // namespace litestash::cli
