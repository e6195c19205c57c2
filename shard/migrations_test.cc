// The layout migration mechanism, proved with a test-only step (layout N+1 adds a table and
// counts its own runs in meta): a new file, an upgrade in place, idempotence, several
// processes upgrading one file at once, a SIGKILL in the middle of a step, and the layout-1
// data dir written by the last layout-1 engine (tests/fixtures/layout1).
#include "shard/migrations.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/test_digest.h"
#include "shard/shard_store.h"
#include "shard/test_dir.h"

namespace litestash {
namespace {

using testing::TempDir;

// The test step: adds table `extra` and bumps meta.test_runs (so a second run shows).
Status AddExtraTable(sqlite3* db, const ShardIdentity&) {
  const char* sql =
      "CREATE TABLE IF NOT EXISTS extra (x INTEGER);"
      "INSERT INTO meta(name, value) VALUES ('test_runs', 1)"
      " ON CONFLICT(name) DO UPDATE SET value = value + 1;";
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK
             ? Status::Ok()
             : Status::IOError(sqlite3_errmsg(db));
}

// The same, but it tells `fd` it is inside its transaction and then waits to be killed.
int g_signal_fd = -1;
Status AddExtraTableAndHang(sqlite3* db, const ShardIdentity& id) {
  LITESTASH_RETURN_IF_ERROR(AddExtraTable(db, id));
  const char inside = 'i';
  if (::write(g_signal_fd, &inside, 1) != 1) return Status::Internal("pipe");
  for (;;) ::pause();
}

std::vector<MigrationStep> WithTestStep(Status (*run)(sqlite3*, const ShardIdentity&)) {
  std::vector<MigrationStep> steps(StandardMigrations().begin(), StandardMigrations().end());
  steps.push_back({steps.back().layout + 1, "test-only table", run});
  return steps;
}

ShardOptions FileShard(const std::string& path, std::span<const MigrationStep> steps = {},
                       uint32_t index = 0, uint32_t count = 16) {
  ShardOptions o;
  o.path = path;
  o.index = index;
  o.count = count;
  o.migrations = steps;
  return o;
}

// Reads one integer with a plain connection.
int64_t Query(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
  int64_t v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

int64_t Layout(const std::string& path) {
  return Query(path, "SELECT value FROM meta WHERE name = 'layout_version'");
}

TEST_CASE("a new file is created at the standard layout, step by step") {
  TempDir dir;
  const std::string path = dir.file("shard-00.db");
  { REQUIRE(ShardStore::Open(FileShard(path)).ok()); }
  CHECK(Layout(path) == StandardMigrations().back().layout);
  CHECK(StandardMigrations().front().layout == 1);
  for (size_t i = 0; i < StandardMigrations().size(); ++i) {
    CHECK(StandardMigrations()[i].layout == static_cast<int>(i) + 1);
  }
}

TEST_CASE("an older file is upgraded in place, keeping its data, exactly once") {
  TempDir dir;
  const std::string path = dir.file("shard-00.db");
  const Clock clock = Clock::Now();
  {
    auto s = ShardStore::Open(FileShard(path));
    REQUIRE(s.ok());
    REQUIRE(s.value()->PrepareStatements().ok());
    REQUIRE(s.value()->Begin(true).ok());
    REQUIRE(s.value()->Put(testing::DigestOf("k"), "k", "\x2a", std::nullopt, clock).ok());
    REQUIRE(s.value()->Commit().ok());
  }
  const auto steps = WithTestStep(AddExtraTable);
  const int64_t old_layout = Layout(path);
  for (int reopen = 0; reopen < 3; ++reopen) {
    auto s = ShardStore::Open(FileShard(path, steps));
    INFO(s.status().ToString());
    REQUIRE(s.ok());
    REQUIRE(s.value()->PrepareStatements().ok());
    REQUIRE(s.value()->Begin(false).ok());
    auto got = s.value()->Get(testing::DigestOf("k"), clock);
    REQUIRE(got.ok());
    REQUIRE(got.value().has_value());
    CHECK(got.value()->value == "\x2a");
    s.value()->Rollback();
  }
  CHECK(Layout(path) == old_layout + 1);
  CHECK(Query(path, "SELECT value FROM meta WHERE name = 'test_runs'") == 1);
  CHECK(Query(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'extra'") == 1);
  // The step itself is idempotent: running it again changes nothing but its counter.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  CHECK(AddExtraTable(db, ShardIdentity{}).ok());
  sqlite3_close(db);
  // An engine that knows only the standard steps now refuses the file as too new.
  auto older = ShardStore::Open(FileShard(path));
  REQUIRE_FALSE(older.ok());
  CHECK(older.status().code() == StatusCode::kTooNew);
}

TEST_CASE("several processes upgrading one file at once run each step once") {
  TempDir dir;
  const std::string path = dir.file("shard-00.db");
  { REQUIRE(ShardStore::Open(FileShard(path)).ok()); }
  const auto steps = WithTestStep(AddExtraTable);
  std::vector<pid_t> children;
  for (int i = 0; i < 6; ++i) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto s = ShardStore::Open(FileShard(path, steps));
      ::_exit(s.ok() ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  CHECK(Layout(path) == steps.back().layout);
  CHECK(Query(path, "SELECT value FROM meta WHERE name = 'test_runs'") == 1);
}

TEST_CASE("a SIGKILL inside a step leaves the file at the old layout, and the next open upgrades") {
  TempDir dir;
  const std::string path = dir.file("shard-00.db");
  { REQUIRE(ShardStore::Open(FileShard(path)).ok()); }
  const int64_t old_layout = Layout(path);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const auto hanging = WithTestStep(AddExtraTableAndHang);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    g_signal_fd = fds[1];
    auto s = ShardStore::Open(FileShard(path, hanging));
    ::_exit(2);  // never reached: the step hangs until killed
  }
  ::close(fds[1]);
  char inside = 0;
  REQUIRE(::read(fds[0], &inside, 1) == 1);  // the child is inside the step's transaction
  ::kill(pid, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  ::close(fds[0]);
  CHECK(Layout(path) == old_layout);
  CHECK(Query(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'extra'") == 0);
  CHECK(Query(path, "SELECT count(*) FROM meta WHERE name = 'test_runs'") == 0);
  const auto steps = WithTestStep(AddExtraTable);
  REQUIRE(ShardStore::Open(FileShard(path, steps)).ok());
  CHECK(Layout(path) == old_layout + 1);
  CHECK(Query(path, "SELECT value FROM meta WHERE name = 'test_runs'") == 1);
}

TEST_CASE("the layout-1 data dir of the last layout-1 engine opens and upgrades") {
  TempDir dir;
  const std::filesystem::path fixture =
      std::filesystem::path(LITESTASH_SOURCE_DIR) / "tests" / "fixtures" / "layout1";
  REQUIRE(std::filesystem::exists(fixture / "shard-00.db"));
  int64_t rows = 0;
  for (uint32_t i = 0; i < 4; ++i) {
    const std::string name = "shard-0" + std::to_string(i) + ".db";
    std::filesystem::copy_file(fixture / name, dir.path() / name);
    const std::string path = dir.file(name);
    CHECK(Layout(path) == 1);
    rows += Query(path, "SELECT count(*) FROM stash");
    auto s = ShardStore::Open(FileShard(path, WithTestStep(AddExtraTable), i, 4));
    INFO(s.status().ToString());
    REQUIRE(s.ok());
    CHECK(Layout(path) == 2 + (StandardMigrations().back().layout - 1));
  }
  CHECK(rows == 43);  // 40 fx:i keys, fx:ttl, fx:gone (expired, not yet swept), fx:nil
}

}  // namespace
}  // namespace litestash
