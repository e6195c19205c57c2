#include "cli/dump_format.h"

#include <catch2/catch.hpp>

#include "cli/value_text.h"

namespace litestash::cli {
namespace {

std::string V(std::string_view typed) {
  auto v = ParseValue(typed);
  REQUIRE(v.ok());
  return *v;
}

DumpContents Sample() {
  DumpContents d;
  d.keys.push_back({"plain", V("{\"a\": [1, 2.5]}"), std::nullopt, {}});
  d.keys.push_back({"typed", V("f32:1.5"), 1800000000000, {{false, V("bin:00")}, {true, ""}}});
  d.keys.push_back({"str8", V("mp:d90161"), std::nullopt, {}});
  StreamRecord s;
  s.name = "events";
  s.first_id = 3;
  s.maxlen = 100;
  s.groups = {{"readers", 4}};
  s.values = {V("\"e\""), V("bin:beef")};
  d.streams.push_back(s);
  return d;
}

std::string Encode(const DumpContents& d, bool raw) {
  std::string out = EncodeHeader(raw, d.keys.size());
  for (const auto& k : d.keys) out += EncodeKey(k, raw);
  for (const auto& s : d.streams) out += EncodeStream(s, raw);
  return out;
}

TEST_CASE("both formats decode to the records they were encoded from") {
  for (bool raw : {false, true}) {
    INFO(raw);
    DumpContents in = Sample();
    auto out = DecodeDump(Encode(in, raw));
    REQUIRE(out.ok());
    REQUIRE(out->keys.size() == 3);
    for (size_t i = 0; i < 3; ++i) {
      CHECK(out->keys[i].key == in.keys[i].key);
      CHECK(HexEncode(out->keys[i].value) == HexEncode(in.keys[i].value));
      CHECK(out->keys[i].expires_at_ms == in.keys[i].expires_at_ms);
    }
    if (raw) {  // history only travels in raw
      REQUIRE(out->keys[1].history.size() == 2);
      CHECK(HexEncode(out->keys[1].history[0].second) == "c40100");
      CHECK(out->keys[1].history[1].first);
    }
    REQUIRE(out->streams.size() == 1);
    const StreamRecord& s = out->streams[0];
    CHECK(s.name == "events");
    CHECK(s.first_id == 3);
    CHECK(s.maxlen == 100u);
    CHECK_FALSE(s.max_age_ms);
    CHECK(s.groups == in.streams[0].groups);
    REQUIRE(s.values.size() == 2);
    CHECK(HexEncode(s.values[1]) == "c402beef");
    CHECK(Encode(*out, raw) == Encode(in, raw));  // re-encoding gives the same bytes
  }
}

TEST_CASE("a stream with more than 15 groups survives both formats") {
  StreamRecord s;
  s.name = "busy";
  s.first_id = 1;
  for (uint64_t i = 0; i < 20; ++i) s.groups.emplace_back("g" + std::to_string(i), i);
  for (bool raw : {false, true}) {
    INFO(raw);
    auto out = DecodeDump(EncodeHeader(raw, 0) + EncodeStream(s, raw));
    REQUIRE(out.ok());
    REQUIRE(out->streams.size() == 1);
    CHECK(out->streams[0].groups == s.groups);
  }
}

TEST_CASE("jsonl lines carry exact bytes only where JSON is lossy") {
  DumpContents d = Sample();
  CHECK(EncodeKey(d.keys[0], false) == "{\"key\": \"plain\", \"value\": {\"a\": [1, 2.5]}}\n");
  CHECK(EncodeKey(d.keys[1], false) ==
        "{\"key\": \"typed\", \"value\": 1.5, \"mp\": \"ca3fc00000\", "
        "\"expires_at_ms\": 1800000000000}\n");
  CHECK(EncodeStream(d.streams[0], false) ==
        "{\"stream\": \"events\", \"first_id\": 3, \"maxlen\": 100, \"groups\": {\"readers\": "
        "4}, \"entries\": [\"e\", {\"$bin\": \"beef\"}], \"entries_mp\": [null, \"c402beef\"]}\n");
}

TEST_CASE("broken dumps are refused with the place of the problem") {
  CHECK(DecodeDump("{\"key\": \"a\", \"value\": 1}\n{\"key\": \"b\"}\n").status().message() ==
        "line 2: needs key and value");
  CHECK_FALSE(DecodeDump("{\"key\": \"a\", \"value\": \n").ok());
  std::string raw = Encode(Sample(), true);
  CHECK_FALSE(DecodeDump(raw.substr(0, raw.size() - 1)).ok());         // truncated
  CHECK_FALSE(DecodeDump(raw.substr(raw.find('\x84', 10) - 4)).ok());  // no header
  CHECK(DecodeDump("").ok());
}

}  // namespace
}  // namespace litestash::cli
