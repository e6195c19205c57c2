#include "common/blake2b.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

namespace litestash {
namespace {

// A hasher that must exist: Create() fails only without OpenSSL's BLAKE2B-512.
std::unique_ptr<Blake2b512> NewHasher() {
  auto h = Blake2b512::Create();
  REQUIRE(h.ok());
  return std::move(h).value();
}

Digest HashOf(Blake2b512& h, std::string_view data) {
  Digest d;
  REQUIRE(h.Hash(data, &d).ok());
  return d;
}

std::string Hex(const uint8_t* p, size_t n) {
  std::string out;
  char buf[3];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    out += buf;
  }
  return out;
}

TEST_CASE("BLAKE2b-512 matches RFC 7693 for \"abc\"") {
  auto h = NewHasher();
  Digest d = HashOf(*h, "abc");
  CHECK(Hex(d.data(), 64) ==
        "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
        "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
}

TEST_CASE("contract hash vectors route to the documented shards") {
  struct Vec {
    const char* key;
    const char* prefix_hex;
    uint32_t shard;
  } vectors[] = {{"user:1001", "24c580f64b17c1ce", 14},
                 {"a", "333fcb4ee1aa7c11", 1},
                 {"vec:1", "fdd91d8eb996d7ac", 12}};
  auto h = NewHasher();
  for (const auto& v : vectors) {
    Digest d = HashOf(*h, v.key);
    CHECK(Hex(d.data(), 8) == v.prefix_hex);
    CHECK(ShardOf(d, 16) == v.shard);
  }
}

TEST_CASE("one hasher object can be reused and agrees with a fresh one") {
  auto reused = NewHasher();
  for (int i = 0; i < 100; ++i) {
    std::string key = "key:" + std::to_string(i);
    auto fresh = NewHasher();
    CHECK(HashOf(*reused, key) == HashOf(*fresh, key));
  }
}

TEST_CASE("shard routing covers every shard and respects the count") {
  auto h = NewHasher();
  for (uint32_t count : {1u, 7u, 16u, 64u}) {
    std::vector<int> hits(count, 0);
    for (int i = 0; i < 4000; ++i) {
      uint32_t s = ShardOf(HashOf(*h, "k" + std::to_string(i)), count);
      REQUIRE(s < count);
      ++hits[s];
    }
    for (uint32_t s = 0; s < count; ++s) CHECK(hits[s] > 0);
  }
}

}  // namespace
}  // namespace litestash
