#include "shard/shard_store.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/test_digest.h"
#include "shard/test_dir.h"
#include "shard/test_store.h"

namespace litestash {
namespace {

using testing::OpenOrDie;
using testing::TempDir;

Digest D(std::string_view key) { return testing::DigestOf(key); }

Clock At(int64_t ms) { return Clock{ms, ms * 1000}; }

ShardOptions FileShard(const TempDir& dir, uint32_t index = 0, uint32_t count = 16) {
  ShardOptions o;
  o.path = dir.file("shard-00.db");
  o.index = index;
  o.count = count;
  return o;
}

ShardOptions MemoryShard() {
  ShardOptions o;
  o.in_memory = true;
  return o;
}

Status Put(ShardStore& s, std::string_view key, std::string_view value, const Clock& c,
           std::optional<int64_t> expires = std::nullopt) {
  LITESTASH_RETURN_IF_ERROR(s.Begin(true));
  auto v = s.Put(D(key), key, value, expires, c);
  LITESTASH_RETURN_IF_ERROR(v.status());
  return s.Commit();
}

std::optional<StoredValue> Get(ShardStore& s, std::string_view key, const Clock& c) {
  REQUIRE(s.Begin(false).ok());
  auto v = s.Get(D(key), c);
  REQUIRE(v.ok());
  REQUIRE(s.Commit().ok());
  return v.value();
}

TEST_CASE("a base VFS that does not exist fails the open instead of being ignored") {
  TempDir dir;
  ShardOptions o = FileShard(dir);
  o.vfs = "litestash-no-such-vfs";
  auto store = ShardStore::Open(o);
  REQUIRE_FALSE(store.ok());
  CHECK_THAT(store.status().ToString(), Catch::Contains("no such vfs"));
}

TEST_CASE("put then get returns the exact bytes and the version") {
  TempDir dir;
  auto s = OpenOrDie(FileShard(dir));
  const std::string raw("\xca\x3f\xc0\x00\x00", 5);  // float32 1.5
  REQUIRE(s->Begin(true).ok());
  auto v = s->Put(D("k"), "k", raw, std::nullopt, At(1000));
  REQUIRE(v.ok());
  REQUIRE(s->Commit().ok());
  auto got = Get(*s, "k", At(1000));
  REQUIRE(got);
  CHECK(got->value == raw);
  CHECK(got->version == *v);
  CHECK_FALSE(Get(*s, "other", At(1000)));
}

TEST_CASE("versions strictly increase even when the clock steps back, and across reopen") {
  TempDir dir;
  uint64_t last = 0;
  {
    auto s = OpenOrDie(FileShard(dir));
    REQUIRE(s->Begin(true).ok());
    for (int64_t ms : {5000, 5000, 4000, 6000, 1}) {
      auto v = s->Put(D("k"), "k", "\x01", std::nullopt, At(ms));
      REQUIRE(v.ok());
      CHECK(*v > last);
      last = *v;
    }
    REQUIRE(s->Commit().ok());
  }
  auto again = OpenOrDie(FileShard(dir));
  REQUIRE(again->Begin(true).ok());
  auto v = again->Put(D("x"), "x", "\x01", std::nullopt, At(1));  // clock far behind
  REQUIRE(v.ok());
  CHECK(*v > last);
  REQUIRE(again->Commit().ok());
}

// meta `last_version`: the stored clock ceiling, read over a connection of its own.
int64_t StoredClock(const TempDir& dir) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(dir.file("shard-00.db").c_str(), &db) == SQLITE_OK);
  const int64_t v = testing::QueryInt(db, "SELECT value FROM meta WHERE name = 'last_version'");
  sqlite3_close(db);
  return v;
}

TEST_CASE("a run of commits stores the clock once per lease, and other writers start above it") {
  TempDir dir;
  auto a = OpenOrDie(FileShard(dir));
  auto put = [](ShardStore& s, const Clock& c) {
    REQUIRE(s.Begin(true).ok());
    auto v = s.Put(D("k"), "k", "\x01", std::nullopt, c);
    REQUIRE(v.ok());
    REQUIRE(s.Commit().ok());
    return *v;
  };
  // The first write transaction read the stored clock: it stores its version exactly.
  const uint64_t first = put(*a, At(1000));
  CHECK(StoredClock(dir) == static_cast<int64_t>(first));
  // Then, as the only writer, a commit that passes the stored clock stores a lease ahead of its
  // batch clock, and the commits inside the lease write the row's leaf only.
  CHECK(put(*a, At(1001)) == 1'001'000);
  CHECK(StoredClock(dir) == 1'001'000 + static_cast<int64_t>(kVersionLease));
  for (int64_t ms = 1002; ms <= 1010; ++ms) {
    const uint64_t pages = a->PagesWritten();
    CHECK(put(*a, At(ms)) == static_cast<uint64_t>(ms) * 1000);
    CHECK(a->PagesWritten() - pages == 1);
  }
  CHECK(StoredClock(dir) == 1'011'000);
  const uint64_t pages = a->PagesWritten();
  CHECK(put(*a, At(1012)) == 1'012'000);  // past the lease: the next one is stored
  CHECK(a->PagesWritten() - pages == 2);
  CHECK(StoredClock(dir) == 1'022'000);

  // Another engine starts above the ceiling, not above a's last version (which it cannot
  // know), and stores exact versions: it read the clock.
  auto b = OpenOrDie(FileShard(dir));
  const uint64_t by_b = put(*b, At(1012));
  CHECK(by_b == 1'022'001);
  CHECK(StoredClock(dir) == static_cast<int64_t>(by_b));
  // a, which finds b's commit, goes on from b's exact version: taking turns adds no lease.
  const uint64_t by_a = put(*a, At(1013));
  CHECK(by_a == by_b + 1);
  CHECK(StoredClock(dir) == static_cast<int64_t>(by_a));

  // A multi-shard part starts above the stored ceiling: recovery reads its presence from it.
  put(*a, At(2000));  // stores a lease again
  REQUIRE(a->Begin(true).ok());
  const uint64_t part = a->NextPartVersion(At(2001));
  CHECK(part == 2'000'000 + kVersionLease + 1);
  CHECK(a->ClockCeiling() == part);
  REQUIRE(a->Commit().ok());
  CHECK(StoredClock(dir) == static_cast<int64_t>(part));  // exactly: the next part goes on
  REQUIRE(a->Begin(true).ok());
  CHECK(a->NextPartVersion(At(2001)) == part + 1);
  a->Rollback();

  // After a restart, versions start above the ceiling too.
  put(*a, At(3000));  // read the clock (the rollback dropped what was carried): exact
  CHECK(put(*a, At(3001)) == 3'001'000);  // a lease again
  a.reset();
  b.reset();
  auto c = OpenOrDie(FileShard(dir));
  CHECK(put(*c, At(3001)) == 3'001'000 + kVersionLease + 1);
}

TEST_CASE("expired keys are absent for every read and delete") {
  auto s = OpenOrDie(MemoryShard());
  REQUIRE(Put(*s, "temp", "\x01", At(1000), 1500).ok());
  REQUIRE(Put(*s, "keep", "\x02", At(1000)).ok());
  CHECK(Get(*s, "temp", At(1499)));
  CHECK_FALSE(Get(*s, "temp", At(1500)));

  REQUIRE(s->Begin(true).ok());
  CHECK(s->Expiry(D("temp"), At(1499))->found);
  CHECK(s->Expiry(D("temp"), At(1499))->expires_at == 1500);
  CHECK_FALSE(s->Expiry(D("temp"), At(1500))->found);
  CHECK(*s->CountLive(At(1499)) == 2);
  CHECK(*s->CountLive(At(1500)) == 1);
  CHECK(*s->CountExpiring(At(1499)) == 1);
  std::vector<std::string> keys;
  REQUIRE(s->Scan("", std::nullopt, 10, At(1500), &keys).ok());
  CHECK(keys == std::vector<std::string>{"keep"});
  CHECK_FALSE(*s->SetExpiry(D("temp"), 9999, At(1500)));  // expire on an expired key
  CHECK_FALSE(*s->Delete(D("temp"), "temp", At(1500)));   // gone already
  CHECK(*s->CountLive(At(1000)) == 1);                    // and the row went too
  REQUIRE(s->Commit().ok());
}

TEST_CASE("a put without expiry clears an earlier one, persist and expire") {
  auto s = OpenOrDie(MemoryShard());
  REQUIRE(Put(*s, "k", "\x01", At(1000), 2000).ok());
  REQUIRE(Put(*s, "k", "\x02", At(1000)).ok());
  CHECK(Get(*s, "k", At(5000)));
  REQUIRE(s->Begin(true).ok());
  CHECK_FALSE(*s->SetExpiry(D("k"), std::nullopt, At(1000)));  // nothing to persist
  CHECK(*s->SetExpiry(D("k"), 3000, At(1000)));
  CHECK(s->Expiry(D("k"), At(1000))->expires_at == 3000);
  CHECK(*s->SetExpiry(D("k"), std::nullopt, At(1000)));
  CHECK_FALSE(s->Expiry(D("k"), At(1000))->expires_at.has_value());
  CHECK_FALSE(*s->SetExpiry(D("absent"), 3000, At(1000)));
  REQUIRE(s->Commit().ok());
}

TEST_CASE("a write without expiry clears one set in the same transaction or by another engine") {
  // A write without expiry skips the expiry table while it is empty; whether it is, is known
  // per transaction, so an expiry added earlier in the same transaction, or by another
  // connection (another engine on the data dir) since, is still cleared.
  TempDir dir;
  auto a = OpenOrDie(FileShard(dir));
  auto b = OpenOrDie(FileShard(dir));
  REQUIRE(Put(*a, "plain", "\x01", At(1000)).ok());  // a's last transaction saw no expiry
  REQUIRE(Put(*b, "k", "\x01", At(1000), 2000).ok());
  REQUIRE(Put(*a, "k", "\x02", At(1000)).ok());
  CHECK(Get(*b, "k", At(5000)));

  REQUIRE(a->Begin(true).ok());
  REQUIRE(a->Put(D("j"), "j", "\x01", 2000, At(1000)).ok());
  REQUIRE(a->Put(D("j"), "j", "\x02", std::nullopt, At(1000)).ok());
  REQUIRE(a->Commit().ok());
  CHECK(Get(*b, "j", At(5000)));

  REQUIRE(Put(*b, "d", "\x01", At(1000), 2000).ok());
  REQUIRE(a->Begin(true).ok());
  CHECK(*a->Delete(D("d"), "d", At(1000)));
  REQUIRE(a->Commit().ok());
  REQUIRE(Put(*a, "d", "\x03", At(1000)).ok());
  CHECK(Get(*a, "d", At(5000)));
}

TEST_CASE("a writer reads the clock and the depth again after another connection commits") {
  // Between its write transactions a store carries its clock and depth over instead of reading
  // them from meta, only while no other connection (another engine) has committed since.
  TempDir dir;
  auto a = OpenOrDie(FileShard(dir));
  auto b = OpenOrDie(FileShard(dir));
  REQUIRE(Put(*a, "k", "\x01", At(1000)).ok());
  REQUIRE(b->Begin(true).ok());
  auto ahead = b->Put(D("j"), "j", "\x01", std::nullopt, At(9'000'000));  // b's clock is ahead
  REQUIRE(ahead.ok());
  REQUIRE(b->Commit().ok());

  REQUIRE(a->Begin(true).ok());
  auto next = a->Put(D("k"), "k", "\x02", std::nullopt, At(1000));
  REQUIRE(next.ok());
  CHECK(*next == *ahead + 1);
  REQUIRE(a->Commit().ok());
  REQUIRE(a->Begin(true).ok());  // nothing committed in between: a's own clock goes on
  auto after = a->Put(D("k"), "k", "\x03", std::nullopt, At(1000));
  REQUIRE(after.ok());
  CHECK(*after == *next + 1);
  REQUIRE(a->Commit().ok());

  // Another engine opening the data dir with a depth records it; a's next write keeps history.
  ShardOptions deeper = FileShard(dir);
  deeper.keep_versions = 3;
  auto c = OpenOrDie(deeper);
  REQUIRE(a->Begin(true).ok());
  CHECK(a->keep_versions() == 3);
  REQUIRE(a->Put(D("k"), "k", "\x04", std::nullopt, At(1000)).ok());
  REQUIRE(a->Commit().ok());
  REQUIRE(c->Begin(false).ok());
  std::vector<VersionInfo> versions;
  bool more = false;
  REQUIRE(c->Versions(D("k"), At(1000), UINT64_MAX, 10, &versions, &more).ok());
  REQUIRE(c->Commit().ok());
  CHECK(versions.size() == 2);  // the current one and the one a's write kept
}

TEST_CASE("scan: byte order, prefix, exclusive after, limit") {
  auto s = OpenOrDie(MemoryShard());
  for (const char* k : {"user:10", "user:2", "user:1", "usera", "user;", "zeta", "caf\xC3\xA9",
                        "cafe", "user:\xF0\x9F\x98\x80"}) {
    REQUIRE(Put(*s, k, "\xc0", At(1)).ok());
  }
  auto scan = [&](std::string_view prefix, std::optional<std::string_view> after, uint64_t limit) {
    std::vector<std::string> keys;
    REQUIRE(s->Begin(false).ok());
    REQUIRE(s->Scan(prefix, after, limit, At(1), &keys).ok());
    REQUIRE(s->Commit().ok());
    return keys;
  };
  using V = std::vector<std::string>;
  CHECK(scan("user:", std::nullopt, 100) ==
        V{"user:1", "user:10", "user:2", "user:\xF0\x9F\x98\x80"});
  CHECK(scan("user:", std::string_view("user:10"), 100) == V{"user:2", "user:\xF0\x9F\x98\x80"});
  CHECK(scan("user:", std::string_view("a"), 2) == V{"user:1", "user:10"});
  CHECK(scan("user:", std::string_view("zzz"), 100).empty());
  CHECK(scan("", std::nullopt, 3) == V{"cafe", "caf\xC3\xA9", "user:1"});
  CHECK(scan("", std::string_view("user;"), 100) == V{"usera", "zeta"});
  CHECK(scan("nothing", std::nullopt, 100).empty());
}

TEST_CASE("an overwrite rewrites the row's leaf only, not its entry in the key index") {
  // Each page a commit changes is one more frame in the WAL, so a commit's frames count the
  // pages it rewrote. Keys in index order sit far from their rows (which are in digest
  // order), so an overwrite that touched the stash_key index would add a second leaf.
  TempDir dir;
  auto s = OpenOrDie(FileShard(dir));
  const std::string value(100, 'v');
  REQUIRE(s->Begin(true).ok());
  for (int i = 0; i < 3000; ++i) {
    const std::string key = "session:" + std::to_string(100000 + i);
    REQUIRE(s->Put(D(key), key, value, std::nullopt, At(1)).ok());
  }
  REQUIRE(s->Commit().ok());
  REQUIRE(s->Checkpoint().ok());  // the WAL starts over, empty
  const std::string wal = dir.file("shard-00.db-wal");
  REQUIRE(std::filesystem::file_size(wal) == 0);

  const std::string key = "session:101500";
  const uint64_t pages_before = s->PagesWritten();
  REQUIRE(Put(*s, key, std::string(100, 'w'), At(2)).ok());
  // Two pages: the row's leaf, and the meta row holding the shard's version clock (stored by
  // a commit whose versions passed it, as this one's do). Assigning the key as well made it
  // three: the key's index leaf.
  const auto frames = (std::filesystem::file_size(wal) - 32) / (24 + 4096);
  CHECK(frames == 2);
  CHECK(s->PagesWritten() - pages_before == frames);  // what `stats` reports as pages_written
  CHECK(Get(*s, key, At(2))->value == std::string(100, 'w'));
  std::vector<std::string> keys;
  REQUIRE(s->Begin(false).ok());
  REQUIRE(s->Scan("session:1015", std::nullopt, 100, At(2), &keys).ok());
  REQUIRE(s->Commit().ok());
  CHECK(keys.size() == 100);
  CHECK(keys[0] == "session:101500");
}

TEST_CASE("pages written count every write commit's WAL frames, and reads write none") {
  TempDir dir;
  auto s = OpenOrDie(FileShard(dir));
  REQUIRE(s->Checkpoint().ok());  // the WAL starts over, empty
  const std::string wal = dir.file("shard-00.db-wal");
  const uint64_t before = s->PagesWritten();
  const std::string value(100, 'v');
  for (int round = 0; round < 20; ++round) {
    REQUIRE(s->Begin(true).ok());
    for (int i = 0; i < 50; ++i) {
      const std::string key = "k" + std::to_string(round * 50 + i);
      REQUIRE(s->Put(D(key), key, value, std::nullopt, At(1 + round)).ok());
    }
    REQUIRE(s->Commit().ok());
  }
  const uint64_t frames = (std::filesystem::file_size(wal) - 32) / (24 + 4096);
  CHECK(frames > 20);  // the tree grew: more than a page per commit
  CHECK(s->PagesWritten() - before == frames);
  CHECK(Get(*s, "k999", At(30))->value == value);
  CHECK(s->PagesWritten() - before == frames);
  auto memory = OpenOrDie(MemoryShard());
  REQUIRE(Put(*memory, "k", value, At(1)).ok());
  CHECK(memory->PagesWritten() == 0);  // nothing reaches a file
}

TEST_CASE("clear and sweep") {
  auto s = OpenOrDie(MemoryShard());
  for (int i = 0; i < 300; ++i) {
    REQUIRE(Put(*s, "t" + std::to_string(i), "\x01", At(1000), 1100).ok());
  }
  REQUIRE(Put(*s, "stay", "\x01", At(1000)).ok());
  auto first = s->SweepExpired(At(2000), 256);
  REQUIRE(first.ok());
  CHECK(*first == 256);
  CHECK(*s->SweepExpired(At(2000), 256) == 44);
  CHECK(*s->SweepExpired(At(2000), 256) == 0);
  REQUIRE(s->Begin(true).ok());
  CHECK(*s->CountLive(At(0)) == 1);  // even at time 0 only the unexpiring key is left
  REQUIRE(s->Clear(At(0)).ok());
  CHECK(*s->CountLive(At(0)) == 0);
  REQUIRE(s->Commit().ok());
}

TEST_CASE("a data dir of another shard count or layout is refused") {
  TempDir dir;
  { OpenOrDie(FileShard(dir, 0, 16)); }
  auto other_count = ShardStore::Open(FileShard(dir, 0, 8));
  REQUIRE_FALSE(other_count.ok());
  CHECK(other_count.status().code() == StatusCode::kMismatch);
  CHECK_THAT(other_count.status().message(), Catch::Contains("16 shards"));
  auto other_index = ShardStore::Open(FileShard(dir, 3, 16));
  CHECK(other_index.status().code() == StatusCode::kMismatch);
}

TEST_CASE("a foreign database and a corrupt file are refused, naming the file") {
  TempDir dir;
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dir.file("shard-00.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  auto foreign = ShardStore::Open(FileShard(dir));
  CHECK(foreign.status().code() == StatusCode::kCorruption);
  CHECK_THAT(foreign.status().message(), Catch::Contains("shard-00.db"));

  std::filesystem::remove(dir.file("shard-00.db"));
  std::ofstream(dir.file("shard-00.db")) << std::string(8192, 'G');
  auto corrupt = ShardStore::Open(FileShard(dir));
  REQUIRE_FALSE(corrupt.ok());
  CHECK(corrupt.status().code() == StatusCode::kCorruption);
  CHECK_THAT(corrupt.status().message(), Catch::Contains("shard-00.db"));
}

TEST_CASE("the layout matches the contract") {
  TempDir dir;
  { OpenOrDie(FileShard(dir, 0, 16)); }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(dir.file("shard-00.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT name, type, pk FROM pragma_table_info('stash')", -1, &st,
                             nullptr) == SQLITE_OK);
  std::vector<std::string> cols;
  while (sqlite3_step(st) == SQLITE_ROW) {
    cols.push_back(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) + " " +
                   reinterpret_cast<const char*>(sqlite3_column_text(st, 1)) +
                   (sqlite3_column_int(st, 2) ? " pk" : ""));
  }
  sqlite3_finalize(st);
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
  CHECK(cols == std::vector<std::string>{"key_hash BLOB pk", "key TEXT", "value BLOB",
                                         "timestamp INTEGER", "microsecond INTEGER"});
}

TEST_CASE("a new shard file gives freed pages back in steps (incremental auto-vacuum)") {
  TempDir dir;
  { OpenOrDie(FileShard(dir, 0, 16)); }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(dir.file("shard-00.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA auto_vacuum", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int(st, 0) == 2);  // INCREMENTAL
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_CASE("opening an existing shard writes nothing") {
  // Setting auto_vacuum again on every open rewrote the header page: a WAL write per shard at
  // every engine start, under the write lock that starting engines share.
  TempDir dir;
  {
    auto s = OpenOrDie(FileShard(dir));
    REQUIRE(Put(*s, "k", "\x07", At(1000)).ok());
  }  // the last connection checkpoints and removes the WAL
  auto again = OpenOrDie(FileShard(dir));
  CHECK(again->PagesWritten() == 0);
  const std::string wal = dir.file("shard-00.db-wal");
  CHECK((!std::filesystem::exists(wal) || std::filesystem::file_size(wal) <= 32));  // no frame
  CHECK(Get(*again, "k", At(2000))->value == "\x07");
}

TEST_CASE("a read-only store reads a shard and never creates one") {
  TempDir dir;
  ShardOptions ro = FileShard(dir);
  ro.read_only = true;
  auto missing = ShardStore::Open(ro);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kIOError);
  CHECK_THAT(missing.status().message(), Catch::Contains("shard-00.db"));
  CHECK_FALSE(std::filesystem::exists(dir.file("shard-00.db")));

  auto writer = OpenOrDie(FileShard(dir));
  REQUIRE(Put(*writer, "k", "\x07", At(1000)).ok());
  auto reader = OpenOrDie(ro);
  REQUIRE(reader->Begin(false).ok());
  auto got = reader->Get(D("k"), At(1000));
  REQUIRE(got.ok());
  REQUIRE(got.value().has_value());
  CHECK(got.value()->value == "\x07");
  reader->Rollback();
  // It cannot write: SQLite refuses the write itself (SQLITE_READONLY), an I/O error here.
  const Status began = reader->Begin(true);
  Status wrote = began;
  if (began.ok()) wrote = reader->Put(D("x"), "x", "\x01", std::nullopt, At(1000)).status();
  reader->Rollback();
  CHECK(wrote.code() == StatusCode::kIOError);
}

TEST_CASE("a file whose layout is newer than this engine knows is refused as too new") {
  TempDir dir;
  { OpenOrDie(FileShard(dir)); }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(dir.file("shard-00.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "UPDATE meta SET value = 99 WHERE name = 'layout_version'", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto opened = ShardStore::Open(FileShard(dir));
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.status().code() == StatusCode::kTooNew);
  CHECK_THAT(opened.status().message(), Catch::Contains("layout version 99"));
  CHECK_THAT(opened.status().message(), Catch::Contains("shard-00.db"));
}

}  // namespace
}  // namespace litestash
