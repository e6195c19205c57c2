#include "cli/value_text.h"

#include <catch2/catch.hpp>

namespace litestash::cli {
namespace {

std::string Hex(const Result<std::string>& r) {
  REQUIRE(r.ok());
  return HexEncode(*r);
}

std::string Show(std::string_view typed) {
  auto v = ParseValue(typed);
  REQUIRE(v.ok());
  return FormatValue(*v, ValueStyle::kDisplay);
}

TEST_CASE("JSON values become the shortest MessagePack") {
  CHECK(Hex(ParseValue("42")) == "2a");
  CHECK(Hex(ParseValue("-1")) == "ff");
  CHECK(Hex(ParseValue("300")) == "cd012c");
  CHECK(Hex(ParseValue("18446744073709551615")) == "cfffffffffffffffff");
  CHECK(Hex(ParseValue("-9223372036854775808")) == "d38000000000000000");
  CHECK(Hex(ParseValue("1.5")) == "cb3ff8000000000000");
  CHECK(Hex(ParseValue("1e2")) == "cb4059000000000000");
  CHECK(Hex(ParseValue("true")) == "c3");
  CHECK(Hex(ParseValue("null")) == "c0");
  CHECK(Hex(ParseValue("\"abc\"")) == "a3616263");
  CHECK(Hex(ParseValue("{\"a\": [1, false]}")) == "81a1619201c2");
  CHECK(Hex(ParseValue("[]")) == "90");
  CHECK(Hex(ParseValue("\"\\u00e9\\ud83d\\ude00\"")) == "a6c3a9f09f9880");
}

TEST_CASE("explicit forms give the types JSON cannot") {
  CHECK(Hex(ParseValue("bin:0a0b")) == "c4020a0b");
  CHECK(Hex(ParseValue("b64:CgsM")) == "c4030a0b0c");
  CHECK(Hex(ParseValue("f32:1.5")) == "ca3fc00000");
  CHECK(Hex(ParseValue("f32:[1.5, 2]")) == "92ca3fc00000ca40000000");
  CHECK(Hex(ParseValue("f64:2")) == "cb4000000000000000");
  CHECK(Hex(ParseValue("str:42")) == "a23432");
  CHECK(Hex(ParseValue("ext:5:0102")) == "d5050102");
  CHECK(Hex(ParseValue("mp:d903616263")) == "d903616263");  // str 8 kept as typed
}

TEST_CASE("bare words are strings, broken forms are errors") {
  CHECK(Hex(ParseValue("hello")) == "a568656c6c6f");
  CHECK_FALSE(ParseValue("hello", /*bare_words=*/false).ok());
  CHECK_FALSE(ParseValue("{\"a\": 1").ok());
  CHECK_FALSE(ParseValue("[1, 2").ok());
  CHECK_FALSE(ParseValue("\"open").ok());
  CHECK_FALSE(ParseValue("bin:0g").ok());
  CHECK_FALSE(ParseValue("bin:abc").ok());
  CHECK_FALSE(ParseValue("f32:x").ok());
  CHECK_FALSE(ParseValue("ext:999:00").ok());
  CHECK_FALSE(ParseValue("mp:").ok());
  CHECK_FALSE(ParseValue("mp:9201").ok());  // truncated array
  CHECK_FALSE(ParseValue("mp:0102").ok());  // two objects
  CHECK_FALSE(JsonToMsgpack("01").ok());    // leading zero
  CHECK_FALSE(JsonToMsgpack("[1,]").ok());
  CHECK_FALSE(JsonToMsgpack("1 2").ok());
  CHECK_FALSE(JsonToMsgpack(std::string("1\0 2", 4)).ok());  // not the end of the input
  CHECK_FALSE(JsonToMsgpack("\"\xff\"").ok());               // strings are UTF-8
  CHECK(JsonToMsgpack("1e400").status().message() == "JSON: number overflow parsing '1e400'");
  CHECK(JsonToMsgpack("[1,]").status().message().rfind("JSON: parse error at line 1, column 4",
                                                       0) == 0);
}

TEST_CASE("JSON objects keep their key order and duplicates, nesting stops at 512") {
  CHECK(Hex(JsonToMsgpack(R"({"z": 1, "a": 2, "z": 3})")) == "83a17a01a16102a17a03");
  auto nested = [](int n) { return std::string(n, '[') + "1" + std::string(n, ']'); };
  CHECK(JsonToMsgpack(nested(512)).ok());
  CHECK(JsonToMsgpack(nested(513)).status().message() == "JSON: nested deeper than 512 levels");
  CHECK_FALSE(JsonToMsgpack(std::string(100000, '[')).ok());
}

TEST_CASE("display style shows the exact type where JSON cannot") {
  CHECK(Show("bin:0a0b") == "(bin) 0a0b");
  CHECK(Show("f32:1.5") == "(float32) 1.5");
  CHECK(Show("ext:5:0102") == "(ext 5) 0102");
  CHECK(Show("ext:-1:ff") == "(ext -1) ff");
  CHECK(Show("f64:2") == "2.0");
  CHECK(Show("2") == "2");
}

TEST_CASE("display style prints nested JSON") {
  CHECK(Show("{\"a\": [1, -2, 2.5, true, null, \"x\\ny\"]}") ==
        "{\"a\": [1, -2, 2.5, true, null, \"x\\ny\"]}");
  CHECK(Show("f32:[0.5, 0.25]") == "[(float32) 0.5, (float32) 0.25]");
  CHECK(Show("mp:81c40101c3") == "{(bin) 01: true}");  // a bin map key
  CHECK(FormatValue("\x92\x01", ValueStyle::kDisplay) == "(malformed) 9201");
}

TEST_CASE("JSON style is strict JSON and says when it is exact") {
  auto json = [](std::string_view typed) {
    auto v = ParseValue(typed);
    REQUIRE(v.ok());
    return FormatValue(*v, ValueStyle::kJson);
  };
  CHECK(json("bin:0a0b") == "{\"$bin\": \"0a0b\"}");
  CHECK(json("f32:1.5") == "1.5");
  CHECK(json("ext:5:01") == "{\"$ext\": [5, \"01\"]}");
  CHECK(json("mp:cb7ff8000000000000") == "{\"$float\": \"nan\"}");
  CHECK(json("mp:81c3c2") == "{\"true\": false}");

  for (const char* exact : {"1", "-5", "2.5", "\"s\"", "{\"a\": [1, null]}", "f64:3"}) {
    auto v = ParseValue(exact);
    REQUIRE(v.ok());
    CHECK(IsExactJson(*v));
  }
  for (const char* lossy : {"bin:00", "f32:1.5", "ext:1:00", "mp:d90161", "mp:d10001"}) {
    auto v = ParseValue(lossy);
    REQUIRE(v.ok());
    CHECK_FALSE(IsExactJson(*v));
  }
}

TEST_CASE("every parsed value prints back to text that parses to the same bytes") {
  for (const char* typed : {"0", "127", "128", "-33", "65536", "0.1", "-0.0", "1e300", "\"\"",
                            "\"tab\\t\"", "[[], {}]", "{\"k\": {\"n\": [true]}}"}) {
    auto v = ParseValue(typed);
    REQUIRE(v.ok());
    auto again = JsonToMsgpack(FormatValue(*v, ValueStyle::kDisplay));
    REQUIRE(again.ok());
    CHECK(HexEncode(*again) == HexEncode(*v));
  }
}

TEST_CASE("hex and base64 helpers") {
  CHECK(HexEncode(std::string("\x00\xff", 2)) == "00ff");
  CHECK(*HexDecode("00FF") == std::string("\x00\xff", 2));
  CHECK(*Base64Decode("aGVsbG8=") == "hello");
  CHECK(*Base64Decode("aGVsbG8") == "hello");  // padding optional
  CHECK(*Base64Decode("aGk=") == "hi");
  CHECK(*Base64Decode("") == "");
  CHECK(*Base64Decode("-_8=") == "\xfb\xff");  // URL-safe alphabet
  CHECK(*Base64Decode("+/8=") == "\xfb\xff");
  CHECK_FALSE(Base64Decode("a*b").ok());
  CHECK_FALSE(Base64Decode("a").ok());         // 6 bits are no byte
  CHECK_FALSE(Base64Decode("aG=k").ok());      // '=' inside
  CHECK_FALSE(Base64Decode("aGk=aGk=").ok());  // text after the padding
  CHECK_FALSE(Base64Decode("aGVsbG8===").ok());
  CHECK_FALSE(Base64Decode(" aGk=").ok());  // OpenSSL would skip the blank
  CHECK(JsonQuote("a\"\\\x01") == "\"a\\\"\\\\\\u0001\"");
  CHECK(JsonQuote("\b\f\n\x7f") == "\"\\b\\f\\n\x7f\"");
  CHECK(JsonQuote("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
  CHECK(JsonQuote("\xff") == "\"\\u00ff\"");
  CHECK(JsonQuote("a\xe9\x01") == "\"a\\u00e9\\u0001\"");
}

}  // namespace
}  // namespace litestash::cli
