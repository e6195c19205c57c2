// ShardVfs on real files: every commit reaches other connections and the file, with one
// write per commit, large transactions included; the shared-memory safety net is never needed;
// a reader whose memory map is kept across snapshots reads exactly what the writer wrote while
// the file grows, is checkpointed and shrinks.
#include "shard/shard_vfs.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "shard/test_dir.h"
#include "shard/test_store.h"

namespace litestash {
namespace {

sqlite3* OpenWal(const std::string& path, const char* vfs) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) ==
          SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", nullptr, nullptr,
                       nullptr) == SQLITE_OK);
  return db;
}

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO(sql << ": " << (err ? err : ""));
  sqlite3_free(err);
  REQUIRE(rc == SQLITE_OK);
}

int64_t Count(sqlite3* db) { return testing::QueryInt(db, "SELECT count(*) FROM t"); }

std::string Insert(int from, int n, int value_bytes) {
  std::string sql = "INSERT INTO t(k, v) VALUES ";
  for (int i = 0; i < n; ++i) {
    sql += (i ? "," : "") + std::string("(") + std::to_string(from + i) + ", randomblob(" +
           std::to_string(value_bytes) + "))";
  }
  return sql;
}

TEST_CASE("each commit is one write, seen at once by another connection") {
  testing::TempDir dir;
  const std::string path = dir.file("a.db");
  const char* vfs = ShardVfs::Register();
  REQUIRE(vfs != nullptr);
  REQUIRE(std::string(vfs) == ShardVfs::Register(nullptr));  // registered once
  sqlite3* writer = OpenWal(path, vfs);
  Exec(writer, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
  sqlite3* reader = OpenWal(path, nullptr);  // the default VFS: sees only what is in the file
  const int64_t safety_before = ShardVfs::safety_flushes();

  int64_t rows = 0;
  int one_write = 0;
  for (int c = 0; c < 200; ++c) {
    const int64_t flushes_before = ShardVfs::flushes();
    // Several pages per commit: 3 rows of 1.5 KiB, spread over the key space.
    Exec(writer, "BEGIN IMMEDIATE");
    for (int r = 0; r < 3; ++r) {
      Exec(writer, Insert(c + 1000 * r, 1, 1500));
    }
    Exec(writer, "COMMIT");
    rows += 3;
    const int64_t writes = ShardVfs::flushes() - flushes_before;
    CHECK(writes <= 2);  // 2: the commit that starts the log writes its header, then syncs it
    one_write += writes == 1;
    REQUIRE(Count(reader) == rows);
  }
  CHECK(one_write >= 199);
  CHECK(ShardVfs::safety_flushes() == safety_before);
  sqlite3_close(reader);
  sqlite3_close(writer);
  CHECK(testing::IntegrityCheck(path) == "ok");
}

TEST_CASE("a transaction larger than the buffer and the page cache commits whole") {
  testing::TempDir dir;
  const std::string path = dir.file("b.db");
  sqlite3* writer = OpenWal(path, ShardVfs::Register());
  // A tiny page cache makes SQLite spill pages to the WAL before the commit and read them back.
  Exec(writer, "PRAGMA cache_size=10; CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
  sqlite3* reader = OpenWal(path, nullptr);
  const int64_t safety_before = ShardVfs::safety_flushes();
  const int64_t flushes_before = ShardVfs::flushes();

  Exec(writer, "BEGIN IMMEDIATE");
  for (int i = 0; i < 50; ++i) Exec(writer, Insert(i * 100, 100, 600));  // ~3 MiB
  CHECK(Count(reader) == 0);  // nothing visible before the commit
  Exec(writer, "UPDATE t SET v = randomblob(700) WHERE k % 7 = 0");  // rewrites spilled pages
  CHECK(Count(writer) == 5000);
  Exec(writer, "COMMIT");
  CHECK(ShardVfs::flushes() - flushes_before > 40);  // ~3 MiB in writes of 64 KiB
  CHECK(Count(reader) == 5000);

  Exec(writer, "BEGIN IMMEDIATE; DELETE FROM t WHERE k < 2500; ROLLBACK");
  CHECK(Count(reader) == 5000);
  CHECK(Count(writer) == 5000);
  CHECK(ShardVfs::safety_flushes() == safety_before);
  sqlite3_close(reader);
  sqlite3_close(writer);
  CHECK(testing::IntegrityCheck(path) == "ok");
}

TEST_CASE("the WAL written through the buffer survives a checkpoint and a reopen") {
  testing::TempDir dir;
  const std::string path = dir.file("c.db");
  sqlite3* writer = OpenWal(path, ShardVfs::Register());
  Exec(writer, "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
  for (int c = 0; c < 50; ++c) Exec(writer, Insert(c * 10, 10, 300));
  // A restart of the log: the next commits write from its start again, header included.
  Exec(writer, "PRAGMA wal_checkpoint(TRUNCATE)");
  for (int c = 50; c < 100; ++c) Exec(writer, Insert(c * 10, 10, 300));
  CHECK(Count(writer) == 1000);
  // What a crash leaves: the files as they are now, the writer still open. Recovery from the
  // copied log alone must find every commit (frames complete, checksums valid).
  const std::string crashed = dir.file("crashed.db");
  std::filesystem::copy_file(path, crashed);
  std::filesystem::copy_file(path + "-wal", crashed + "-wal");
  REQUIRE(std::filesystem::file_size(crashed + "-wal") > 0);
  sqlite3* recovered = OpenWal(crashed, nullptr);
  CHECK(Count(recovered) == 1000);
  sqlite3_close(recovered);
  CHECK(testing::IntegrityCheck(crashed) == "ok");

  sqlite3* other = OpenWal(path, nullptr);
  CHECK(Count(other) == 1000);
  sqlite3_close(other);
  sqlite3_close(writer);
  sqlite3* reopened = OpenWal(path, nullptr);
  CHECK(Count(reopened) == 1000);
  sqlite3_close(reopened);
  CHECK(testing::IntegrityCheck(path) == "ok");
}

std::string Contents(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT k, hex(v) FROM t ORDER BY k", -1, &st, nullptr) ==
          SQLITE_OK);
  std::string out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    out += std::to_string(sqlite3_column_int64(st, 0)) + ":" +
           reinterpret_cast<const char*>(sqlite3_column_text(st, 1)) + ",";
  }
  sqlite3_finalize(st);
  return out;
}

TEST_CASE("a reader's kept memory map shows every commit while the file grows and shrinks") {
  testing::TempDir dir;
  const std::string path = dir.file("m.db");
  sqlite3* writer = OpenWal(path, ShardVfs::Register());
  Exec(writer, "PRAGMA auto_vacuum=INCREMENTAL; CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)");
  sqlite3* reader = OpenWal(path, ShardVfs::Register());
  Exec(reader, "PRAGMA mmap_size=67108864");
  REQUIRE(testing::QueryInt(reader, "PRAGMA mmap_size") == 67108864);  // this SQLite maps files
  const int64_t keeps_before = ShardVfs::map_keeps();
  const int64_t drops_before = ShardVfs::map_drops();

  for (int round = 0; round < 120; ++round) {
    if (round % 40 < 25) {
      Exec(writer, Insert(round * 1000, 40, 300));  // grows the file
    }
    // Rewrites pages the reader has mapped, through the WAL and then the checkpoint.
    Exec(writer, "UPDATE t SET v = randomblob(300) WHERE k % 13 = " + std::to_string(round % 13));
    if (round % 40 == 30) {
      Exec(writer, "DELETE FROM t WHERE k % 4 != 0; PRAGMA incremental_vacuum");  // shrinks
    }
    if (round % 5 == 4) Exec(writer, "PRAGMA wal_checkpoint(TRUNCATE)");
    REQUIRE(Contents(reader) == Contents(writer));
  }
  CHECK(ShardVfs::map_keeps() > keeps_before);  // the map was kept across snapshots
  CHECK(ShardVfs::map_drops() > drops_before);  // and dropped when the file grew or shrank
  sqlite3_close(reader);
  sqlite3_close(writer);
  CHECK(testing::IntegrityCheck(path) == "ok");
}

}  // namespace
}  // namespace litestash
