// Key history (shard/key_ops.cc) on a real shard file: depth N keeps the N newest superseded
// versions (tombstones counted), "all" keeps everything, depth 0 keeps nothing and removes
// leftovers at the key's next write, expired keys have no history, and the depth is recorded in
// the file and changed by a later open.
#include <catch2/catch.hpp>

#include "common/test_digest.h"
#include "shard/shard_store.h"
#include "shard/test_dir.h"

namespace litestash {
namespace {

using testing::TempDir;

Digest D(std::string_view key) { return testing::DigestOf(key); }
Clock At(int64_t ms) { return Clock{ms, ms * 1000}; }

std::unique_ptr<ShardStore> Open(const TempDir& dir, std::optional<uint32_t> depth) {
  ShardOptions o;
  o.path = dir.file("shard-00.db");
  o.count = 1;
  o.keep_versions = depth;
  auto s = ShardStore::Open(o);
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  REQUIRE(s.value()->PrepareStatements().ok());
  return std::move(s).value();
}

uint64_t Put(ShardStore& s, std::string_view key, std::string_view value, const Clock& c,
             std::optional<int64_t> expires = std::nullopt) {
  REQUIRE(s.Begin(true).ok());
  auto v = s.Put(D(key), key, value, expires, c);
  REQUIRE(v.ok());
  REQUIRE(s.Commit().ok());
  return *v;
}

bool Delete(ShardStore& s, std::string_view key, const Clock& c) {
  REQUIRE(s.Begin(true).ok());
  auto gone = s.Delete(D(key), key, c);
  REQUIRE(gone.ok());
  REQUIRE(s.Commit().ok());
  return *gone;
}

struct Listed {
  std::vector<uint64_t> versions;
  std::vector<bool> deleted;
  bool more = false;
};

Listed Versions(ShardStore& s, std::string_view key, const Clock& c, uint64_t limit = 100,
                uint64_t before = UINT64_MAX) {
  REQUIRE(s.Begin(false).ok());
  std::vector<VersionInfo> out;
  Listed l;
  REQUIRE(s.Versions(D(key), c, before, limit, &out, &l.more).ok());
  s.Rollback();
  for (const auto& v : out) {
    l.versions.push_back(v.version);
    l.deleted.push_back(v.deleted);
  }
  return l;
}

std::optional<std::string> At(ShardStore& s, std::string_view key, uint64_t version,
                              const Clock& c) {
  REQUIRE(s.Begin(false).ok());
  auto v = s.GetVersion(D(key), version, c);
  REQUIRE(v.ok());
  s.Rollback();
  if (!v.value()) return std::nullopt;
  CHECK(v.value()->version == version);
  return v.value()->value;
}

TEST_CASE("depth 3 keeps the three newest superseded versions, newest first") {
  TempDir dir;
  auto s = Open(dir, 3);
  CHECK(s->keep_versions() == 3);
  std::vector<uint64_t> v;
  for (int i = 0; i < 6; ++i)
    v.push_back(Put(*s, "k", std::string(1, char('a' + i)), At(1000 + i)));
  const Listed l = Versions(*s, "k", At(2000));
  CHECK(l.versions == std::vector<uint64_t>{v[5], v[4], v[3], v[2]});
  CHECK(l.deleted == std::vector<bool>{false, false, false, false});
  CHECK_FALSE(l.more);
  CHECK(At(*s, "k", v[5], At(2000)) == "f");  // the current version
  CHECK(At(*s, "k", v[2], At(2000)) == "c");
  CHECK(At(*s, "k", v[1], At(2000)) == std::nullopt);  // beyond the depth
  // Paging: limit and before.
  const Listed page = Versions(*s, "k", At(2000), 2);
  CHECK(page.versions == std::vector<uint64_t>{v[5], v[4]});
  CHECK(page.more);
  const Listed rest = Versions(*s, "k", At(2000), 2, v[4]);
  CHECK(rest.versions == std::vector<uint64_t>{v[3], v[2]});
  CHECK_FALSE(rest.more);
}

TEST_CASE("a delete records a tombstone counted in the depth, and the key can come back") {
  TempDir dir;
  auto s = Open(dir, 2);
  const uint64_t v1 = Put(*s, "k", "a", At(1000));
  CHECK(Delete(*s, "k", At(1001)));
  CHECK_FALSE(Delete(*s, "k", At(1002)));  // already gone: no second tombstone
  const Listed l = Versions(*s, "k", At(2000));
  REQUIRE(l.versions.size() == 2);
  CHECK(l.versions[1] == v1);
  CHECK(l.deleted == std::vector<bool>{true, false});
  CHECK(l.versions[0] > v1);
  CHECK(At(*s, "k", l.versions[0], At(2000)) == std::nullopt);  // a tombstone is not found
  CHECK(At(*s, "k", v1, At(2000)) == "a");
  const uint64_t v3 = Put(*s, "k", "b", At(1003));
  const Listed after = Versions(*s, "k", At(2000));
  CHECK(after.versions == std::vector<uint64_t>{v3, l.versions[0], v1});
}

TEST_CASE("depth all keeps every version, and depth 0 keeps none") {
  TempDir dir;
  {
    auto s = Open(dir, kKeepAllVersions);
    for (int i = 0; i < 50; ++i) Put(*s, "k", "x", At(1000 + i));
    CHECK(Versions(*s, "k", At(2000), 1000).versions.size() == 50);
  }
  {
    TempDir other;
    auto s = Open(other, std::nullopt);  // a new file without the flag: depth 0
    CHECK(s->keep_versions() == 0);
    for (int i = 0; i < 5; ++i) Put(*s, "k", "x", At(1000 + i));
    CHECK(Versions(*s, "k", At(2000)).versions.size() == 1);
    CHECK(Delete(*s, "k", At(1010)));
    CHECK(Versions(*s, "k", At(2000)).versions.empty());  // no tombstone at depth 0
  }
}

TEST_CASE("the depth is recorded in the file, and lowering it trims a key at its next write") {
  TempDir dir;
  {
    auto s = Open(dir, 5);
    for (int i = 0; i < 6; ++i) Put(*s, "k", "x", At(1000 + i));
    Put(*s, "other", "x", At(1100));
    Put(*s, "other", "y", At(1101));
  }
  {
    auto s = Open(dir, std::nullopt);  // reopened without the flag: keeps the record
    CHECK(s->keep_versions() == 5);
  }
  auto s = Open(dir, 1);  // lowered
  CHECK(s->keep_versions() == 1);
  CHECK(Versions(*s, "k", At(2000)).versions.size() == 6);  // not applied until written
  Put(*s, "k", "z", At(1200));
  CHECK(Versions(*s, "k", At(2000)).versions.size() == 2);
  CHECK(Versions(*s, "other", At(2000)).versions.size() == 2);
}

TEST_CASE("an expired key has no history, and its history goes with it") {
  TempDir dir;
  auto s = Open(dir, 10);
  Put(*s, "k", "a", At(1000));
  Put(*s, "k", "b", At(1001), /*expires=*/1500);
  CHECK(Versions(*s, "k", At(1400)).versions.size() == 2);
  CHECK(Versions(*s, "k", At(1600)).versions.empty());  // expired: none at all
  CHECK(At(*s, "k", Versions(*s, "k", At(1400)).versions[1], At(1600)) == std::nullopt);
  // Written again after expiry: starts a new history.
  const uint64_t v = Put(*s, "k", "c", At(1700));
  CHECK(Versions(*s, "k", At(1800)).versions == std::vector<uint64_t>{v});
  // The sweeper removes an expired key's history too.
  Put(*s, "t", "a", At(1000));
  Put(*s, "t", "b", At(1001), 1500);
  CHECK(*s->SweepExpired(At(1600), 100) == 1);
  REQUIRE(s->Begin(false).ok());
  CHECK(*s->history().Count() == 0);
  s->Rollback();
}

TEST_CASE("clear tombstones every live key when history is kept") {
  TempDir dir;
  auto s = Open(dir, 4);
  Put(*s, "a", "1", At(1000));
  Put(*s, "b", "2", At(1000));
  REQUIRE(s->Begin(true).ok());
  REQUIRE(s->Clear(At(1100)).ok());
  REQUIRE(s->Commit().ok());
  for (const char* key : {"a", "b"}) {
    const Listed l = Versions(*s, key, At(2000));
    CHECK(l.deleted == std::vector<bool>{true, false});
  }
}

TEST_CASE("recorded writes list what a transaction part did, for its intent") {
  TempDir dir;
  auto s = Open(dir, 0);
  std::vector<WriteOp> log;
  REQUIRE(s->Begin(true).ok());
  s->RecordWrites(&log);
  REQUIRE(s->Put(D("a"), "a", "\x01", 5000, At(1000)).ok());
  REQUIRE(s->Delete(D("b"), "b", At(1000)).ok());
  s->RecordWrites(nullptr);
  REQUIRE(s->Put(D("c"), "c", "\x02", std::nullopt, At(1000)).ok());  // not recorded
  REQUIRE(s->Commit().ok());
  REQUIRE(log.size() == 2);
  CHECK(log[0].kind == WriteOp::kSet);
  CHECK(log[0].name == "a");
  CHECK(log[0].value == "\x01");
  CHECK(log[0].expires_at == 5000);
  CHECK(log[1].kind == WriteOp::kDelete);
  CHECK(log[1].name == "b");
}

}  // namespace
}  // namespace litestash
