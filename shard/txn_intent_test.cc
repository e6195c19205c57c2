// Intent bodies of multi-shard writes: an exact round trip (raw bytes, optional expiry, every
// op kind), and a clear Corruption status — never an exception — for bytes that are not one.
#include "shard/txn_intent.h"

#include <catch2/catch.hpp>

namespace litestash {
namespace {

TEST_CASE("an intent body round-trips exactly") {
  IntentBody body;
  body.txn_id = (uint64_t{1} << 62) + 5;
  body.now_ms = 1700000000123;
  body.now_us = 1700000000123456;
  IntentPart a;
  a.shard = 3;
  a.part_version = 1700000000123456;
  a.ops.push_back({WriteOp::kSet, "k\xc3\xa9y", std::string("\xc4\x02\x00\xff", 4), 1700000005000});
  a.ops.push_back({WriteOp::kDelete, "gone", "", std::nullopt});
  a.ops.push_back({WriteOp::kAppend, "stream", "\x93\x01\x02\x03", std::nullopt});
  IntentPart b;
  b.shard = 1023;
  b.part_version = UINT64_MAX >> 1;
  b.ops.push_back({WriteOp::kClear, "", "", std::nullopt});
  body.parts = {a, b};

  auto decoded = DecodeIntent(EncodeIntent(body));
  REQUIRE(decoded.ok());
  CHECK(decoded->txn_id == body.txn_id);
  CHECK(decoded->now_ms == body.now_ms);
  CHECK(decoded->now_us == body.now_us);
  REQUIRE(decoded->parts.size() == 2);
  CHECK(decoded->parts[0].shard == 3);
  CHECK(decoded->parts[0].part_version == a.part_version);
  REQUIRE(decoded->parts[0].ops.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(decoded->parts[0].ops[i].kind == a.ops[i].kind);
    CHECK(decoded->parts[0].ops[i].name == a.ops[i].name);
    CHECK(decoded->parts[0].ops[i].value == a.ops[i].value);
    CHECK(decoded->parts[0].ops[i].expires_at == a.ops[i].expires_at);
  }
  CHECK(decoded->parts[1].shard == 1023);
  CHECK(decoded->parts[1].ops[0].kind == WriteOp::kClear);
}

TEST_CASE("bytes that are not an intent are corruption, not a crash") {
  for (const std::string& bad :
       {std::string(), std::string("\xc1"), std::string("\x94\x01\x02\x03\x04"),
        std::string("\x94\x01\x02\x03\x91\x93\x00\x00\x91\x94\x09\xc4\x00\xc4\x00\xc0"),
        std::string("\x92\x01\x02"), std::string("\xdc\xff\xff")}) {
    auto decoded = DecodeIntent(bad);
    CHECK_FALSE(decoded.ok());
    CHECK(decoded.status().code() == StatusCode::kCorruption);
  }
}

}  // namespace
}  // namespace litestash
