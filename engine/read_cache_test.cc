#include "engine/read_cache.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <string>

namespace litestash {
namespace {

StoredRecord Row(const std::string& value, uint64_t version = 1) {
  StoredRecord r;
  r.stored.value = value;
  r.stored.version = version;
  return r;
}

// A well-spread prefix per key, as the digest's first 8 bytes are.
uint64_t PrefixOf(const std::string& key) {
  uint64_t x = std::hash<std::string>{}(key) + 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

TEST_CASE("read cache finds what it remembered, absent rows included") {
  ReadCache cache(1 << 20);
  CHECK(cache.Find(PrefixOf("a"), "a") == nullptr);
  CHECK(cache.Remember(PrefixOf("a"), "a", true, Row("va", 7)));
  CHECK(cache.Remember(PrefixOf("gone"), "gone", false, Row("ignored")));
  const ReadCache::Entry* a = cache.Find(PrefixOf("a"), "a");
  REQUIRE(a != nullptr);
  CHECK(a->found);
  CHECK(a->record.stored.value == "va");
  CHECK(a->record.stored.version == 7);
  const ReadCache::Entry* gone = cache.Find(PrefixOf("gone"), "gone");
  REQUIRE(gone != nullptr);
  CHECK_FALSE(gone->found);
  CHECK(cache.size() == 2);
  CHECK(cache.bytes() == 1 + 2 + 4 + 2 * ReadCache::kEntryOverhead);
}

TEST_CASE("read cache: two keys sharing a prefix, the newer replaces the older") {
  ReadCache cache(1 << 20);
  REQUIRE(cache.Remember(42, "first", true, Row("1")));
  REQUIRE(cache.Remember(42, "second", true, Row("2")));
  CHECK(cache.Find(42, "first") == nullptr);  // same prefix, other key: not this one's row
  REQUIRE(cache.Find(42, "second") != nullptr);
  CHECK(cache.Find(42, "second")->record.stored.value == "2");
  CHECK(cache.size() == 1);
  CHECK(cache.bytes() == 6 + 1 + ReadCache::kEntryOverhead);
}

TEST_CASE("read cache keeps every live entry reachable through churn and eviction") {
  // A small budget: thousands of admissions and evictions, each a removal by backward shift.
  // Every entry the cache counts must still be found from its home slot, with its own value.
  const size_t budget = 32 * 1024;
  ReadCache cache(budget);
  std::mt19937_64 rng(7);
  std::map<std::string, std::string> written;
  for (int i = 0; i < 20000; ++i) {
    const std::string key = "k" + std::to_string(rng() % 3000);
    const std::string value(rng() % 300, static_cast<char>('a' + i % 26));
    if (cache.Find(PrefixOf(key), key) != nullptr) continue;
    // Offered twice, as a read path's second miss is: admitted even when full.
    if (!cache.Remember(PrefixOf(key), key, true, Row(value))) {
      cache.Remember(PrefixOf(key), key, true, Row(value));
    }
    written[key] = value;
    REQUIRE(cache.bytes() <= budget);
  }
  size_t reachable = 0;
  size_t bytes = 0;
  for (const auto& [key, value] : written) {
    const ReadCache::Entry* e = cache.Find(PrefixOf(key), key);
    if (e == nullptr) continue;
    ++reachable;
    bytes += key.size() + value.size() + ReadCache::kEntryOverhead;
    CHECK(e->record.stored.value == value);
  }
  CHECK(cache.size() > 50);
  CHECK(reachable == cache.size());
  CHECK(bytes == cache.bytes());
}

TEST_CASE("read cache at its budget admits a key on its second offer") {
  ReadCache cache(8 * 1024);
  int admitted = 0;
  for (int i = 0; cache.bytes() < 7 * 1024; ++i) {
    const std::string key = "fill-" + std::to_string(i);
    admitted += cache.Remember(PrefixOf(key), key, true, Row(std::string(100, 'x')));
  }
  for (int i = 0; i < 20; ++i) {  // make it full
    const std::string key = "more-" + std::to_string(i);
    cache.Remember(PrefixOf(key), key, true, Row(std::string(100, 'x')));
  }
  CHECK(admitted > 0);
  const std::string key = "newcomer";
  CHECK_FALSE(cache.Remember(PrefixOf(key), key, true, Row(std::string(100, 'y'))));
  CHECK(cache.Find(PrefixOf(key), key) == nullptr);
  CHECK(cache.Remember(PrefixOf(key), key, true, Row(std::string(100, 'y'))));
  CHECK(cache.Find(PrefixOf(key), key) != nullptr);
  CHECK(cache.bytes() <= 8 * 1024);
}

TEST_CASE("read cache Clear forgets everything and the cache fills again") {
  ReadCache cache(1 << 20);
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "k" + std::to_string(i);
    REQUIRE(cache.Remember(PrefixOf(key), key, true, Row("v" + key)));
  }
  cache.Clear();
  CHECK(cache.size() == 0);
  CHECK(cache.bytes() == 0);
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "k" + std::to_string(i);
    CHECK(cache.Find(PrefixOf(key), key) == nullptr);
  }
  REQUIRE(cache.Remember(PrefixOf("k5"), "k5", true, Row("new")));
  REQUIRE(cache.Find(PrefixOf("k5"), "k5") != nullptr);
  CHECK(cache.Find(PrefixOf("k5"), "k5")->record.stored.value == "new");
  CHECK(cache.size() == 1);
}

TEST_CASE("read cache: entries evicted, cleared and reused over many generations") {
  // Clear() starts a new generation instead of wiping: what the old one left must never be
  // found, evicted as live or counted, while new entries reuse its slots and buffers.
  const size_t budget = 16 * 1024;
  ReadCache cache(budget);
  std::mt19937_64 rng(11);
  for (int gen = 0; gen < 200; ++gen) {
    std::map<std::string, std::string> now;
    const int n = static_cast<int>(rng() % 400);
    for (int i = 0; i < n; ++i) {
      const std::string key = "g" + std::to_string(rng() % 500);
      const std::string value(rng() % 120, 'v');
      if (!cache.Remember(PrefixOf(key), key, true, Row(value))) {
        cache.Remember(PrefixOf(key), key, true, Row(value));
      }
      now[key] = value;
    }
    size_t reachable = 0;
    for (const auto& [key, value] : now) {
      const ReadCache::Entry* e = cache.Find(PrefixOf(key), key);
      if (e == nullptr) continue;
      ++reachable;
      CHECK(e->record.stored.value == value);
    }
    REQUIRE(reachable == cache.size());
    REQUIRE(cache.bytes() <= budget);
    cache.Clear();
    REQUIRE(cache.size() == 0);
    for (const auto& [key, value] : now) REQUIRE(cache.Find(PrefixOf(key), key) == nullptr);
  }
}

TEST_CASE("read cache with budget 0 admits nothing") {
  ReadCache cache(0);
  CHECK_FALSE(cache.Remember(1, "a", true, Row("v")));
  CHECK_FALSE(cache.Remember(1, "a", true, Row("v")));
  CHECK(cache.Find(1, "a") == nullptr);
  CHECK(cache.bytes() == 0);
}

}  // namespace
}  // namespace litestash
