#include "engine/read_path.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "common/test_digest.h"
#include "shard/test_dir.h"

namespace litestash {
namespace {

using testing::DigestOf;

// A shard file written through its own connection, as a shard thread (or another engine
// process) would, and a ReadPath reading the same file read-only.
struct Fixture {
  testing::TempDir dir;
  ShardOptions options;
  std::unique_ptr<ShardStore> writer;

  Fixture() {
    options.path = dir.file("shard-00.db");
    options.index = 0;
    options.count = 1;
    auto store = ShardStore::Open(options);
    REQUIRE(store.ok());
    writer = std::move(store).value();
    REQUIRE(writer->PrepareStatements().ok());
    options.read_only = true;  // what the engine gives its read path
  }

  void Put(const std::string& key, const std::string& value, std::optional<int64_t> expires_at,
           const Clock& clock) {
    REQUIRE(writer->Begin(true).ok());
    REQUIRE(writer->Put(DigestOf(key), key, value, expires_at, clock).ok());
    REQUIRE(writer->Commit().ok());
  }
};

// What one read saw. `routed` false: the path declined (nothing else is meaningful).
struct Seen {
  bool routed = false;
  Status status;
  bool live = false;  // a row exists and is live at the read's clock
  std::string value;
  std::optional<int64_t> expires_at;
};

Seen Read(ReadPath& path, const std::string& key, const Clock& clock) {
  Seen s;
  const StoredRecord* row = nullptr;
  s.routed = path.Read(key, DigestOf(key), 0, &row, &s.status);
  if (s.routed && s.status.ok() && row != nullptr && row->LiveAt(clock.now_ms)) {
    s.live = true;
    s.value = row->stored.value;
    s.expires_at = row->expires_at;
  }
  return s;
}

// A read that must have been answered without error.
Seen MustRead(ReadPath& path, const std::string& key, const Clock& clock) {
  Seen s = Read(path, key, clock);
  REQUIRE(s.routed);
  INFO(s.status.ToString());
  REQUIRE(s.status.ok());
  return s;
}

Clock At(int64_t ms) {
  Clock c;
  c.now_ms = ms;
  c.now_us = ms * 1000;
  return c;
}

}  // namespace

TEST_CASE("read path answers from its snapshot and caches, exactly") {
  Fixture f;
  ReadPath path({f.options}, 1 << 20);
  const Clock t = At(1'700'000'000'000);

  auto a = MustRead(path, "k", t);
  REQUIRE(a.routed);
  REQUIRE(a.status.ok());
  CHECK_FALSE(a.live);  // absent
  path.EndChunk();

  // Another connection commits: the next chunk's snapshot sees it, the cached "absent" is gone.
  f.Put("k", "\xa3one", std::nullopt, t);
  a = MustRead(path, "k", t);
  CHECK(a.value == "\xa3one");
  const uint64_t hits = path.counters().cache_hits;
  a = MustRead(path, "k", t);  // same chunk: from the cache
  CHECK(a.value == "\xa3one");
  CHECK(path.counters().cache_hits == hits + 1);
  path.EndChunk();

  // No commit in between: the cache stays (a hit checked by the wal-index header alone).
  a = MustRead(path, "k", t);
  CHECK(a.value == "\xa3one");
  CHECK(path.counters().cache_hits == hits + 2);

  // A commit by another connection: the very next hit notices (header moved), no chunk end
  // needed, since no snapshot was open.
  f.Put("k", "\xa3two", std::nullopt, t);
  a = MustRead(path, "k", t);
  CHECK(a.value == "\xa3two");
  CHECK(path.counters().invalidations >= 1);
  path.EndChunk();

  // A snapshot left open past its chunk (a miss opened it) is replaced at its next use once
  // anything has committed: the read sees the commit.
  a = MustRead(path, "other", t);
  path.EndChunk();  // kept open: revalidated by the header at the next use
  f.Put("k", "\xa5three", std::nullopt, t);
  a = MustRead(path, "k", t);
  CHECK(a.value == "\xa5three");
  path.EndAll();
}

TEST_CASE("read path judges expiry when it answers, also from the cache") {
  Fixture f;
  ReadPath path({f.options}, 1 << 20);
  const int64_t now = 1'700'000'000'000;
  f.Put("session",
        "\xa3"
        "abc",
        now + 1000, At(now));

  auto a = MustRead(path, "session", At(now));
  CHECK(a.live);
  CHECK(a.expires_at == now + 1000);
  a = MustRead(path, "session", At(now + 400));
  CHECK(path.counters().cache_hits == 1);
  CHECK(a.live);
  CHECK(*a.expires_at - (now + 400) == 600);  // ttl 600 ms left
  a = MustRead(path, "session", At(now + 1000));
  CHECK(path.counters().cache_hits == 2);
  CHECK_FALSE(a.live);  // expired: absent, though cached
  a = MustRead(path, "session", At(now + 5000));
  CHECK_FALSE(a.live);
  path.EndChunk();
}

TEST_CASE("read path cache stays within its budget") {
  Fixture f;
  const size_t budget = 64 * 1024;
  ReadPath path({f.options}, budget);
  const Clock t = At(1'700'000'000'000);
  const std::string value = "\xc4\xc8" + std::string(200, 'v');  // bin 8, 200 bytes
  for (int i = 0; i < 2000; ++i) f.Put("key-" + std::to_string(i), value, std::nullopt, t);
  f.Put("newcomer", value, std::nullopt, t);
  for (int i = 0; i < 2000; ++i) {
    auto a = MustRead(path, "key-" + std::to_string(i), t);
    REQUIRE(a.status.ok());
    CHECK(a.value == value);
    CHECK(path.cached_bytes() <= budget);
  }
  CHECK(path.cached_bytes() > budget / 2);
  // The cache is full: a key not read so far is admitted on its second miss, then hits.
  // (Keys and digests are fixed, so this is deterministic.)
  const uint64_t hits = path.counters().cache_hits;
  for (int i = 0; i < 3; ++i) MustRead(path, "newcomer", t);
  CHECK(path.counters().cache_hits == hits + 1);
  path.EndChunk();

  // A budget of 0 turns the cache off, not the reads.
  ReadPath uncached({f.options}, 0);
  auto a = MustRead(uncached, "key-1", t);
  a = MustRead(uncached, "key-1", t);
  CHECK(a.value == value);
  CHECK(uncached.counters().cache_hits == 0);
  CHECK(uncached.cached_bytes() == 0);
}

TEST_CASE("read path declines a shard it cannot open") {
  testing::TempDir dir;
  ShardOptions missing;
  missing.path = dir.file("no-such-dir/shard-00.db");
  missing.count = 1;
  missing.read_only = true;
  ReadPath path({missing}, 1 << 20);
  auto a = Read(path, "k", At(0));
  CHECK_FALSE(a.routed);
  CHECK_FALSE(path.Readable(0));
  a = Read(path, "k", At(0));  // stays off, no retry per request
  CHECK_FALSE(a.routed);
  CHECK_FALSE(std::filesystem::exists(dir.file("no-such-dir")));  // read-only: creates nothing

  ReadPath none({}, 1 << 20);  // --memory: no read path at all
  CHECK_FALSE(Read(none, "k", At(0)).routed);
}

}  // namespace litestash

namespace litestash {

TEST_CASE("read path keeps a hot set cached while cold keys stream through (CLOCK)") {
  Fixture f;
  const size_t budget = 64 * 1024;
  ReadPath path({f.options}, budget);
  const Clock t = At(1'700'000'000'000);
  const std::string value = "\xc4\x40" + std::string(64, 'v');
  for (int i = 0; i < 3000; ++i) f.Put("k" + std::to_string(i), value, std::nullopt, t);
  // 50 hot keys read again and again between reads of 2900 cold keys, each read once.
  for (int round = 0; round < 58; ++round) {
    for (int h = 0; h < 50; ++h) MustRead(path, "k" + std::to_string(h), t);
    for (int c = 0; c < 50; ++c) {
      MustRead(path, "k" + std::to_string(100 + round * 50 + c), t);
    }
    CHECK(path.cached_bytes() <= budget);
  }
  // Then a burst of cold keys filling most of the cache: the hot set, read just before, stays.
  for (int h = 0; h < 50; ++h) MustRead(path, "k" + std::to_string(h), t);
  for (int c = 2900; c < 3000; ++c) MustRead(path, "k" + std::to_string(c), t);
  for (int c = 100; c < 300; ++c) MustRead(path, "k" + std::to_string(c), t);
  const uint64_t before = path.counters().cache_hits;
  for (int h = 0; h < 50; ++h) MustRead(path, "k" + std::to_string(h), t);
  CHECK(path.counters().cache_hits - before >= 45);
  path.EndChunk();
}

TEST_CASE("read path notices the first expiry written to a shard that had none") {
  Fixture f;
  ReadPath path({f.options}, 1 << 20);
  const int64_t now = 1'700'000'000'000;
  f.Put("plain", "\xa1p", std::nullopt, At(now));
  auto a = MustRead(path, "plain", At(now));  // no expiry rows: no probe
  CHECK(a.live);
  CHECK_FALSE(a.expires_at.has_value());  // never expires
  path.EndChunk();
  f.Put("temp", "\xa1t", now + 5000, At(now));
  a = MustRead(path, "temp", At(now + 1000));
  CHECK(a.live);
  CHECK(*a.expires_at - (now + 1000) == 4000);  // ttl 4000 ms left
  a = MustRead(path, "temp", At(now + 6000));
  CHECK_FALSE(a.live);  // expired
  path.EndChunk();
}

}  // namespace litestash
