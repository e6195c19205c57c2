// Minimal streaming JSON writer for the load generator's one result document on stdout.
//
// Contract: callers emit a well-formed tree by pairing BeginObject/EndObject and
// BeginArray/EndArray; inside an object every value is preceded by Key(). Commas are inserted
// automatically. Non-finite doubles are written as null (JSON has no NaN/Inf), strings are
// escaped per RFC 8259 (control bytes as \u00XX; other bytes pass through unchanged).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace litestash::bench {

class JsonWriter {
 public:
  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }

  void Key(std::string_view k) {
    Comma();
    String(k);
    out_ += ':';
    after_key_ = true;
  }

  void Value(std::string_view s) { Comma(); String(s); }
  void Value(const char* s) { Value(std::string_view(s)); }
  void Value(const std::string& s) { Value(std::string_view(s)); }
  void Value(bool b) { Comma(); out_ += b ? "true" : "false"; }
  void Value(double d) {
    Comma();
    if (!std::isfinite(d)) { out_ += "null"; return; }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", d);
    out_ += buf;
  }
  void Value(uint64_t v) { Comma(); out_ += std::to_string(v); }
  void Value(int64_t v) { Comma(); out_ += std::to_string(v); }
  void Value(int v) { Value(static_cast<int64_t>(v)); }
  void Value(uint32_t v) { Value(static_cast<uint64_t>(v)); }
  void Null() { Comma(); out_ += "null"; }
  // Splices an already-serialized JSON value (e.g. a decoded engine `stats` map).
  void Raw(std::string_view json) { Comma(); out_ += json; }

  template <typename T>
  void Field(std::string_view k, const T& v) { Key(k); Value(v); }

  const std::string& str() const { return out_; }

 private:
  void Open(char c) { Comma(); out_ += c; first_.push_back(true); }
  void Close(char c) { out_ += c; first_.pop_back(); }
  void Comma() {
    if (after_key_) { after_key_ = false; return; }
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
    }
  }
  void String(std::string_view s) {
    out_ += '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out_ += buf;
          } else {
            out_ += static_cast<char>(c);
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace litestash::bench
