// Fault injection: a full disk (SQLITE_FULL) and write I/O errors (SQLITE_IOERR_WRITE) injected
// through the FaultVfs shim under real shard files. The engine must answer storage_error for the
// writes that hit the fault, keep serving reads, corrupt nothing, and accept writes again once
// the fault is gone. Every acknowledged write must be there afterwards.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <set>

#include "engine/test_harness.h"
#include "shard/shard_vfs.h"
#include "shard/test_dir.h"
#include "shard/test_store.h"
#include "tests/fault_vfs.h"

namespace litestash {
namespace {

using testing::FaultVfs;
using testing::Harness;
using testing::KeyReq;
using testing::Req;
using testing::SetReq;

std::string Code(const std::map<std::string, msgpack::object>& answer) {
  if (answer.at("ok").as<bool>()) return "ok";
  return answer.at("error").as<std::map<std::string, std::string>>().at("code");
}

// Opens each shard file directly and checks integrity and the total number of keys.
void CheckFiles(const testing::TempDir& dir, int shards, int64_t expected_keys) {
  int64_t total = 0;
  for (int i = 0; i < shards; ++i) {
    const std::string path = (dir.path() / ("shard-" + std::to_string(i) + ".db")).string();
    CHECK(testing::IntegrityCheck(path) == "ok");
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    total += testing::QueryInt(db, "SELECT count(*) FROM stash");
    sqlite3_close(db);
  }
  CHECK(total == expected_keys);
}

void RunFaultScenario(int error, int after_writes) {
  testing::TempDir dir;
  const int shards = 4;
  uint64_t id = 0;
  {
    Harness h(shards, dir.path().string(), FaultVfs::Register());
    for (int i = 0; i < 40; ++i) {
      ++id;
      REQUIRE(Code(h.Call(id, SetReq(id, "k" + std::to_string(i), i))) == "ok");
    }

    FaultVfs::Arm(after_writes, error);
    // Pipelined: new writes, overwrites, deletes and reads, all in flight together.
    std::string stream;
    std::vector<std::pair<uint64_t, std::string>> writes, reads;
    for (int i = 0; i < 20; ++i) {
      ++id;
      stream += testing::Frame(SetReq(id, "new" + std::to_string(i), i));
      writes.push_back({id, "new" + std::to_string(i)});
      ++id;
      stream += testing::Frame(KeyReq(id, "get", "k" + std::to_string(i)));
      reads.push_back({id, "k" + std::to_string(i)});
    }
    h.Feed(stream);
    int failed = 0;
    std::set<std::string> acknowledged;
    for (const auto& [wid, key] : writes) {
      const std::string code = Code(h.Await(wid));
      CHECK((code == "ok" || code == "storage_error"));
      failed += code == "storage_error";
      if (code == "ok") acknowledged.insert(key);
    }
    CHECK(failed > 0);
    for (size_t i = 0; i < reads.size(); ++i) {
      auto got = h.Await(reads[i].first);
      REQUIRE(Code(got) == "ok");  // reads keep working on a full disk
      CHECK(got.at("value").as<int>() == static_cast<int>(i));
    }
    CHECK(FaultVfs::failed_writes() > 0);

    FaultVfs::Disarm();
    // Writes work again, including the keys whose writes failed.
    for (int i = 0; i < 20; ++i) {
      ++id;
      REQUIRE(Code(h.Call(id, SetReq(id, "new" + std::to_string(i), 100 + i))) == "ok");
    }
    for (int i = 0; i < 20; ++i) {
      ++id;
      auto got = h.Call(id, KeyReq(id, "get", "new" + std::to_string(i)));
      CHECK(got.at("value").as<int>() == 100 + i);
    }
    ++id;
    CHECK(h.Call(id, Req(id, "count")).at("count").as<int>() == 60);
  }
  CheckFiles(dir, shards, 60);
}

TEST_CASE("a full disk answers storage_error, keeps serving reads and recovers") {
  RunFaultScenario(SQLITE_FULL, 0);
}

TEST_CASE("write I/O errors in the middle of batches fail only the writes they hit") {
  RunFaultScenario(SQLITE_IOERR_WRITE, 3);
}

// The shard's writes reach the WAL through ShardVfs (one write per commit): a failed write
// of a commit's gathered frames must fail that commit, publish nothing, and leave the file
// ready for the next commit.
TEST_CASE("a failed write of a commit's gathered WAL frames fails that commit only") {
  testing::TempDir dir;
  const std::string path = (dir.path() / "w.db").string();
  sqlite3* writer = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &writer, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                          ShardVfs::Register(FaultVfs::Register())) == SQLITE_OK);
  REQUIRE(sqlite3_exec(writer, "PRAGMA journal_mode=WAL; CREATE TABLE t(k INTEGER PRIMARY KEY, v)",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3* reader = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &reader) == SQLITE_OK);
  auto count = [&] { return testing::QueryInt(reader, "SELECT count(*) FROM t"); };
  const char* insert3 =
      "INSERT INTO t(v) VALUES (randomblob(3000)), (randomblob(3000)), (randomblob(3000))";
  REQUIRE(sqlite3_exec(writer, insert3, nullptr, nullptr, nullptr) == SQLITE_OK);
  const long failed_before = FaultVfs::failed_writes();
  FaultVfs::Arm(0, SQLITE_FULL);
  CHECK(sqlite3_exec(writer, insert3, nullptr, nullptr, nullptr) == SQLITE_FULL);
  FaultVfs::Disarm();
  CHECK(FaultVfs::failed_writes() == failed_before + 1);  // the commit's frames: one write
  CHECK(count() == 3);
  REQUIRE(sqlite3_exec(writer, insert3, nullptr, nullptr, nullptr) == SQLITE_OK);
  CHECK(count() == 6);
  CHECK(ShardVfs::safety_flushes() == 0);
  sqlite3_close(reader);
  sqlite3_close(writer);
  CHECK(testing::IntegrityCheck(path) == "ok");
}

// Regression: `sync` once relied on a passive WAL checkpoint, which skips the fsync when another
// connection's read transaction keeps it from copying anything, and still answered ok.
TEST_CASE("sync fsyncs even while another connection holds a read transaction") {
  testing::TempDir dir;
  Harness h(1, dir.path().string(), FaultVfs::Register());
  REQUIRE(Code(h.Call(1, SetReq(1, "before", 1))) == "ok");
  // Everything so far is checkpointed, so the reader's snapshot leaves nothing to copy later.
  REQUIRE(Code(h.Call(100, Req(100, "sync"))) == "ok");
  sqlite3* reader = nullptr;
  REQUIRE(sqlite3_open((dir.path() / "shard-0.db").c_str(), &reader) == SQLITE_OK);
  REQUIRE(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM stash;", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  for (uint64_t id = 2; id < 7; ++id)
    REQUIRE(Code(h.Call(id, SetReq(id, "k" + std::to_string(id), 1))) == "ok");
  const long before = FaultVfs::syncs();
  REQUIRE(Code(h.Call(10, Req(10, "sync"))) == "ok");
  CHECK(FaultVfs::syncs() > before);
  sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(reader);
}

}  // namespace
}  // namespace litestash
