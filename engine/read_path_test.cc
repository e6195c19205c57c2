#include "engine/read_path.h"

#include <catch2/catch.hpp>

#include "shard/test_dir.h"

namespace litestash {
namespace {

// A shard file written through its own connection, as a shard thread (or another engine
// process) would, and a ReadPath reading the same file.
struct Fixture {
  testing::TempDir dir;
  ShardOptions options;
  std::unique_ptr<ShardStore> writer;
  Blake2b512 hasher;

  Fixture() {
    options.path = dir.file("shard-00.db");
    options.index = 0;
    options.count = 1;
    auto store = ShardStore::Open(options);
    REQUIRE(store.ok());
    writer = std::move(store).value();
    REQUIRE(writer->PrepareStatements().ok());
  }

  void Put(const std::string& key, const std::string& value, std::optional<int64_t> expires_at,
           const Clock& clock) {
    REQUIRE(writer->Begin(true).ok());
    REQUIRE(writer->Put(hasher.Hash(key), key, value, expires_at, clock).ok());
    REQUIRE(writer->Commit().ok());
  }
};

struct Answered {
  bool routed = false;  // the read path answered (true) or declined (false)
  Status status;
  std::string frame;
};

Answered Ask(ReadPath& path, Blake2b512& hasher, OpCode op, const std::string& key,
             const Clock& clock) {
  Request req;
  req.id = 7;
  req.op = op;
  req.frame = key;
  req.key = req.frame;
  ResponseEncoder out;
  Answered a;
  a.routed = path.Answer(req, hasher.Hash(key), 0, clock, &out, &a.status);
  if (a.routed && a.status.ok()) a.frame = out.Finish();
  return a;
}

// True if the answer frame contains `needle` (a MessagePack str/bin payload or key).
bool Has(const Answered& a, const std::string& needle) {
  return a.frame.find(needle) != std::string::npos;
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

  auto a = Ask(path, f.hasher, OpCode::kGet, "k", t);
  REQUIRE(a.routed);
  REQUIRE(a.status.ok());
  CHECK_FALSE(Has(a, "value"));  // absent
  path.EndChunk();

  // Another connection commits: the next chunk's snapshot sees it, the cached "absent" is gone.
  f.Put("k", "\xa3one", std::nullopt, t);
  a = Ask(path, f.hasher, OpCode::kGet, "k", t);
  CHECK(Has(a, "one"));
  const uint64_t hits = path.counters().cache_hits;
  a = Ask(path, f.hasher, OpCode::kGet, "k", t);  // same chunk: from the cache
  CHECK(Has(a, "one"));
  CHECK(path.counters().cache_hits == hits + 1);
  path.EndChunk();

  // No commit in between: the cache stays (a hit checked by the wal-index header alone).
  a = Ask(path, f.hasher, OpCode::kGet, "k", t);
  CHECK(Has(a, "one"));
  CHECK(path.counters().cache_hits == hits + 2);

  // A commit by another connection: the very next hit notices (header moved), no chunk end
  // needed, since no snapshot was open.
  f.Put("k", "\xa3two", std::nullopt, t);
  a = Ask(path, f.hasher, OpCode::kGet, "k", t);
  CHECK(Has(a, "two"));
  CHECK(path.counters().invalidations >= 1);
  path.EndChunk();

  // A snapshot left open past its chunk (a miss opened it) is replaced at its next use once
  // anything has committed: the read sees the commit.
  a = Ask(path, f.hasher, OpCode::kGet, "other", t);
  path.EndChunk();  // kept open: revalidated by the header at the next use
  f.Put("k", "\xa5three", std::nullopt, t);
  a = Ask(path, f.hasher, OpCode::kGet, "k", t);
  CHECK(Has(a, "three"));
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

  auto a = Ask(path, f.hasher, OpCode::kExists, "session", At(now));
  CHECK(Has(a, "exists"));
  CHECK(a.frame.back() == '\xc3');  // true
  a = Ask(path, f.hasher, OpCode::kTtl, "session", At(now + 400));
  CHECK(path.counters().cache_hits == 1);
  CHECK(a.frame.find("\xcd\x02\x58") != std::string::npos);  // ttl_ms 600
  a = Ask(path, f.hasher, OpCode::kGet, "session", At(now + 1000));
  CHECK(path.counters().cache_hits == 2);
  CHECK_FALSE(Has(a, "abc"));  // expired: absent, though cached
  a = Ask(path, f.hasher, OpCode::kExists, "session", At(now + 5000));
  CHECK(a.frame.back() == '\xc2');  // false
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
    auto a = Ask(path, f.hasher, OpCode::kGet, "key-" + std::to_string(i), t);
    REQUIRE(a.status.ok());
    CHECK(a.frame.find(std::string(200, 'v')) != std::string::npos);
    CHECK(path.cached_bytes() <= budget);
  }
  CHECK(path.cached_bytes() > budget / 2);
  // The cache is full: a key not read so far is admitted on its second miss, then hits.
  // (Keys and digests are fixed, so this is deterministic.)
  const uint64_t hits = path.counters().cache_hits;
  for (int i = 0; i < 3; ++i) Ask(path, f.hasher, OpCode::kGet, "newcomer", t);
  CHECK(path.counters().cache_hits == hits + 1);
  path.EndChunk();

  // A budget of 0 turns the cache off, not the reads.
  ReadPath uncached({f.options}, 0);
  auto a = Ask(uncached, f.hasher, OpCode::kGet, "key-1", t);
  a = Ask(uncached, f.hasher, OpCode::kGet, "key-1", t);
  CHECK(a.frame.find(std::string(200, 'v')) != std::string::npos);
  CHECK(uncached.counters().cache_hits == 0);
  CHECK(uncached.cached_bytes() == 0);
}

TEST_CASE("read path declines a shard it cannot open") {
  testing::TempDir dir;
  ShardOptions missing;
  missing.path = dir.file("no-such-dir/shard-00.db");
  missing.count = 1;
  ReadPath path({missing}, 1 << 20);
  Blake2b512 hasher;
  auto a = Ask(path, hasher, OpCode::kGet, "k", At(0));
  CHECK_FALSE(a.routed);
  a = Ask(path, hasher, OpCode::kGet, "k", At(0));  // stays off, no retry per request
  CHECK_FALSE(a.routed);

  ReadPath none({}, 1 << 20);  // --memory: no read path at all
  CHECK_FALSE(Ask(none, hasher, OpCode::kGet, "k", At(0)).routed);
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
    for (int h = 0; h < 50; ++h) Ask(path, f.hasher, OpCode::kGet, "k" + std::to_string(h), t);
    for (int c = 0; c < 50; ++c) {
      Ask(path, f.hasher, OpCode::kGet, "k" + std::to_string(100 + round * 50 + c), t);
    }
    CHECK(path.cached_bytes() <= budget);
  }
  // Then a burst of cold keys filling most of the cache: the hot set, read just before, stays.
  for (int h = 0; h < 50; ++h) Ask(path, f.hasher, OpCode::kGet, "k" + std::to_string(h), t);
  for (int c = 2900; c < 3000; ++c) Ask(path, f.hasher, OpCode::kGet, "k" + std::to_string(c), t);
  for (int c = 100; c < 300; ++c) Ask(path, f.hasher, OpCode::kGet, "k" + std::to_string(c), t);
  const uint64_t before = path.counters().cache_hits;
  for (int h = 0; h < 50; ++h) Ask(path, f.hasher, OpCode::kGet, "k" + std::to_string(h), t);
  CHECK(path.counters().cache_hits - before >= 45);
  path.EndChunk();
}

TEST_CASE("read path notices the first expiry written to a shard that had none") {
  Fixture f;
  ReadPath path({f.options}, 1 << 20);
  const int64_t now = 1'700'000'000'000;
  f.Put("plain", "\xa1p", std::nullopt, At(now));
  auto a = Ask(path, f.hasher, OpCode::kTtl, "plain", At(now));  // no expiry rows: no probe
  CHECK(a.frame.back() == '\xc0');                               // ttl_ms nil
  path.EndChunk();
  f.Put("temp", "\xa1t", now + 5000, At(now));
  a = Ask(path, f.hasher, OpCode::kTtl, "temp", At(now + 1000));
  CHECK(a.frame.find("\xcd\x0f\xa0") != std::string::npos);  // ttl_ms 4000
  a = Ask(path, f.hasher, OpCode::kGet, "temp", At(now + 6000));
  CHECK(a.frame.find("\xa1t") == std::string::npos);  // expired
  path.EndChunk();
}

}  // namespace litestash
