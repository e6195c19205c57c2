#include "cli/output.h"

#include <catch2/catch.hpp>

#include "cli/progress.h"

namespace litestash::cli {
namespace {

// An answer body built from JSON text (plus optional exact MessagePack for one field).
Answer Ans(std::string_view json) {
  auto body = JsonToMsgpack(json);
  REQUIRE(body.ok());
  auto a = Answer::Parse(*body);
  REQUIRE(a.ok());
  return std::move(a).value();
}

std::string Show(std::string_view word, std::string_view json) {
  return FormatAnswer(word, Ans(json), ValueStyle::kDisplay);
}

TEST_CASE("answers print like redis-cli") {
  CHECK(Show("set", R"({"id": 1, "ok": true, "version": 17})") == "OK (version 17)");
  CHECK(Show("get", R"({"id": 1, "ok": true, "found": true, "value": [1], "version": 3})") ==
        "[1]");
  CHECK(Show("get", R"({"id": 1, "ok": true, "found": false})") == "(nil)");
  CHECK(Show("mget", R"({"id": 1, "ok": true, "found": [true, false], "values": ["a", null]})") ==
        "1) \"a\"\n2) (nil)");
  CHECK(Show("ttl", R"({"id": 1, "ok": true, "found": true, "ttl_ms": null})") == "(no expiry)");
  CHECK(Show("ttl", R"({"id": 1, "ok": true, "found": true, "ttl_ms": 900})") == "(ms) 900");
  CHECK(Show("versions", R"({"id": 1, "ok": true, "versions": [9, 8], "deleted": [false, true],
                             "more": true})") == "1) 9\n2) 8 (deleted)\n(more)");
  CHECK(Show("xrange", R"({"id": 1, "ok": true, "entries": [[7, 100, "a"], [8, 101, {"b": 2}]],
                           "more": false})") == "7: \"a\"\n8: {\"b\": 2}");
  CHECK(Show("xrange", R"({"id": 1, "ok": true, "entries": [], "more": false})") == "(empty)");
  CHECK(Show("xinfo", R"({"id": 1, "ok": true, "exists": false, "length": 0})") ==
        "exists: false\nlength: 0");
}

TEST_CASE("xget prints the requested ids beside the values") {
  Request r("xget");
  r.Raw("ids", PackArray({PackUint(7), PackUint(9)}));
  Answer a = Ans(R"({"id": 1, "ok": true, "found": [true, false], "values": [5, null],
                     "ts": [1, null]})");
  CHECK(FormatAnswer("xget", a, ValueStyle::kDisplay, r) == "7: 5\n9: (absent)");
}

TEST_CASE("values keep their exact type in answers") {
  // {"id": 1, "ok": true, "found": true, "value": float32 1.5}
  const char kBody[] =
      "\x84\xa2id\x01\xa2ok\xc3\xa5"
      "found\xc3\xa5value\xca\x3f\xc0\x00\x00";
  std::string body(kBody, sizeof kBody - 1);
  auto a = Answer::Parse(body);
  REQUIRE(a.ok());
  CHECK(FormatAnswer("get", *a, ValueStyle::kDisplay) == "(float32) 1.5");
  CHECK(FormatAnswer("get", *a, ValueStyle::kJson) == R"({"found": true, "value": 1.5})");
}

TEST_CASE("errors print their code and message") {
  Answer a = Ans(R"({"id": 4, "ok": false, "error": {"code": "conflict", "message": "no",
                     "version": 12, "key": "k"}})");
  CHECK_FALSE(a.ok());
  CHECK(a.code() == "conflict");
  CHECK(FormatAnswer("set", a, ValueStyle::kDisplay) ==
        "(error) conflict: no (current version 12 of k)");
  CHECK(FormatError(a, ValueStyle::kJson) ==
        R"({"error": {"code": "conflict", "message": "no", "version": 12, "key": "k"}})");
  Answer b = Ans(R"({"id": 4, "ok": false, "error": {"code": "invalid_key", "message": "m"}})");
  CHECK(FormatError(b, ValueStyle::kDisplay) == "(error) invalid_key: m");
}

TEST_CASE("stats prints one row per shard and totals") {
  std::string table = Show("stats", R"({"id": 1, "ok": true, "shards": [
      {"shard": 0, "keys": 2, "expiring": 1, "batches": 3, "ops": 4, "pages_written": 6},
      {"shard": 1, "keys": 5, "expiring": 0, "batches": 1, "ops": 1, "pages_written": 2}], "requests": 9})");
  CHECK(table.find("shard         keys   expiring    batches          ops        pages") !=
        std::string::npos);
  CHECK(table.find("     1            5          0          1            1            2") !=
        std::string::npos);
  CHECK(table.find("total            7          1          4            5            8") !=
        std::string::npos);
  CHECK(table.find("requests: 9") != std::string::npos);
}

TEST_CASE("the progress line shows rate, done/total and ETA") {
  CHECK(Progress::Render(50, 100, 5.0, "keys") ==
        "[############............]  50%  50/100 keys  10/s  ETA 5s");
  CHECK(Progress::Render(100, 100, 5.0, "keys").find("ETA") == std::string::npos);
  CHECK(Progress::Render(7, 0, 1.0, "keys") == "7 keys  7/s");
}

}  // namespace
}  // namespace litestash::cli
