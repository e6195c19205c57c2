// DigestMemo: always the digest BLAKE2b-512 gives (remembered or not, across evictions, for
// keys that differ in one byte or in length, and for keys too long to remember), and a hot set
// is served from memory.
#include "engine/digest_memo.h"

#include <catch2/catch.hpp>
#include <string>
#include <utility>

namespace litestash {
namespace {

Digest Direct(std::string_view key) {
  Digest d;
  REQUIRE(HashOnThisThread(key, &d).ok());
  return d;
}

TEST_CASE("the memo gives BLAKE2b-512 of every key, remembered or not") {
  auto hasher = Blake2b512::Create();
  REQUIRE(hasher.ok());
  DigestMemo memo(std::move(hasher).value());
  std::vector<std::string> keys = {"",
                                   "a",
                                   "b",
                                   "ab",
                                   "ba",
                                   std::string(1, '\0'),
                                   std::string(DigestMemo::kMaxKeyBytes, 'k'),
                                   std::string(DigestMemo::kMaxKeyBytes + 1, 'k'),
                                   std::string(1000, 'x')};
  // Far more keys than slots: every set sees evictions.
  for (int i = 0; i < 40000; ++i) keys.push_back("user:" + std::to_string(i));
  for (int round = 0; round < 2; ++round) {
    for (const std::string& k : keys) {
      Digest d;
      REQUIRE(memo.Hash(k, &d).ok());
      INFO("key of " << k.size() << " bytes: " << k.substr(0, 20));
      REQUIRE(d == Direct(k));
    }
  }
}

TEST_CASE("a hot set is served from memory") {
  auto hasher = Blake2b512::Create();
  REQUIRE(hasher.ok());
  DigestMemo memo(std::move(hasher).value());
  Digest d;
  for (int i = 0; i < 5000; ++i) REQUIRE(memo.Hash("hot:" + std::to_string(i), &d).ok());
  const uint64_t misses = memo.misses();
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5000; ++i) REQUIRE(memo.Hash("hot:" + std::to_string(i), &d).ok());
  }
  // 5,000 keys in 2,048 eight-way sets: only keys of the few sets that got more than eight
  // miss again (Poisson: ~0.2 % of sets).
  CHECK(memo.misses() - misses < 300);
  CHECK(memo.hits() >= 14700);
}

}  // namespace
}  // namespace litestash
