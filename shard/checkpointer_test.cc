#include "shard/checkpointer.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "common/test_digest.h"
#include "shard/shard_store.h"
#include "shard/test_dir.h"
#include "shard/test_store.h"

namespace litestash {
namespace {

using testing::OpenOrDie;
using testing::TempDir;

constexpr uint64_t kFrameBytes = 4096 + 24;

ShardOptions FileShard(const TempDir& dir, Checkpointer* checkpointer) {
  ShardOptions o;
  o.path = dir.file("shard-00.db");
  o.checkpointer = checkpointer;
  return o;
}

// `txns` transactions of `rows` keys each, 400-byte values (a few pages per transaction).
void Write(ShardStore& s, const std::string& prefix, int txns, int rows) {
  const std::string value(400, 'v');
  for (int t = 0; t < txns; ++t) {
    REQUIRE(s.Begin(true).ok());
    for (int r = 0; r < rows; ++r) {
      const std::string key = prefix + std::to_string(t * rows + r);
      REQUIRE(s.Put(testing::DigestOf(key), key, value, std::nullopt, Clock::Now()).ok());
    }
    REQUIRE(s.Commit().ok());
  }
}

uint64_t WalBytes(const TempDir& dir) {
  std::error_code ec;
  auto n = std::filesystem::file_size(dir.file("shard-00.db-wal"), ec);
  return ec ? 0 : n;
}

template <typename Pred>
bool WaitFor(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

int64_t CountKeys(ShardStore& s, const std::string& prefix, int n) {
  int64_t found = 0;
  REQUIRE(s.Begin(false).ok());
  for (int i = 0; i < n; ++i) {
    const std::string key = prefix + std::to_string(i);
    auto v = s.Get(testing::DigestOf(key), Clock::Now());
    REQUIRE(v.ok());
    if (v.value()) ++found;
  }
  REQUIRE(s.Commit().ok());
  return found;
}

TEST_CASE("checkpointer: commits past the trigger are checkpointed off the committing thread") {
  TempDir dir;
  CheckpointerOptions co;
  co.trigger_pages = 64;
  co.hard_limit_pages = 1 << 20;  // never reached: every checkpoint must be the thread's
  co.full_wait_ms = 50;
  Checkpointer cp({dir.file("shard-00.db")}, SyncMode::kNormal, co);
  auto s = OpenOrDie(FileShard(dir, &cp));
  Write(*s, "k", 400, 10);
  REQUIRE(WaitFor([&] { return cp.counters().passive.load() > 0; }));
  CHECK(cp.counters().inline_runs.load() == 0);
  CHECK(cp.counters().errors.load() == 0);
  // Once the checkpointer has caught up, the next write starts the log over and cuts the file
  // back to the trigger's size: without it the log would hold all 4,000 rows (> 1.6 MB).
  const uint64_t grown = WalBytes(dir);
  bool restarted = WaitFor([&] {
    Write(*s, "more", 1, 1);
    return WalBytes(dir) <= 64 * 4096 + 8 * kFrameBytes;
  });
  INFO("wal bytes before " << grown << ", now " << WalBytes(dir));
  CHECK(restarted);
  CHECK(CountKeys(*s, "k", 4000) == 4000);
}

TEST_CASE("checkpointer: a stopped checkpointer leaves the hard limit to the committing write") {
  TempDir dir;
  CheckpointerOptions co;
  co.trigger_pages = 16;
  co.hard_limit_pages = 64;
  Checkpointer cp({dir.file("shard-00.db")}, SyncMode::kNormal, co);
  cp.Stop();
  auto s = OpenOrDie(FileShard(dir, &cp));
  uint64_t largest = 0;
  for (int i = 0; i < 400; ++i) {
    Write(*s, "k" + std::to_string(i) + ":", 1, 1);
    largest = std::max(largest, WalBytes(dir));
  }
  CHECK(cp.counters().inline_runs.load() > 0);
  CHECK(cp.counters().passive.load() == 0);
  // The hard limit plus one transaction's frames (one row: leaves, parents, pointer maps, the
  // clock's page). Unbounded, the log would hold all 400 transactions (over 1,000 frames).
  CHECK(largest <= (64 + 16) * kFrameBytes + 32);
}

TEST_CASE("checkpointer: an old reader makes the full step give up, and the log restarts later") {
  TempDir dir;
  CheckpointerOptions co;
  co.trigger_pages = 32;
  co.hard_limit_pages = 1 << 20;
  co.full_wait_ms = 5;
  Checkpointer cp({dir.file("shard-00.db")}, SyncMode::kNormal, co);
  auto s = OpenOrDie(FileShard(dir, &cp));
  Write(*s, "a", 1, 10);  // below the trigger: no checkpoint (and no restart) before the reader
  ShardOptions ro = FileShard(dir, nullptr);
  ro.read_only = true;
  auto reader = OpenOrDie(ro);
  REQUIRE(reader->Begin(false).ok());
  REQUIRE(CountKeys(*s, "a", 10) == 10);
  {
    // The reader's snapshot sees frames the checkpoint must not overwrite.
    auto v = reader->Get(testing::DigestOf("a1"), Clock::Now());
    REQUIRE(v.ok());
  }
  Write(*s, "b", 200, 10);
  REQUIRE(WaitFor([&] { return cp.counters().busy.load() > 0; }));
  CHECK(cp.counters().restarts.load() == 0);
  REQUIRE(reader->Commit().ok());
  REQUIRE(WaitFor([&] {
    Write(*s, "c", 5, 10);
    return cp.counters().restarts.load() > 0;
  }));
  CHECK(CountKeys(*s, "b", 2000) == 2000);
}

TEST_CASE("checkpointer: the log starts over while commits keep arriving") {
  // A passive checkpoint copies the log as it was when it began, and commits made meanwhile keep
  // the log from starting over. With commits arriving all the time, the log restarts only
  // through the repeated passes and the full step for the short tail. The writer pauses 50 us
  // after each commit, as a shard thread does when it answers and takes the next batch.
  TempDir dir;
  CheckpointerOptions co;
  co.trigger_pages = 64;
  co.hard_limit_pages = 1 << 20;  // never reached: the log must be bounded by restarts alone
  Checkpointer cp({dir.file("shard-00.db")}, SyncMode::kNormal, co);
  auto s = OpenOrDie(FileShard(dir, &cp));
  constexpr int kTxns = 4000;  // about 64,000 frames in all (one row: about 16 pages)
  uint64_t largest = 0;
  for (int t = 0; t < kTxns; ++t) {
    Write(*s, "k" + std::to_string(t) + ":", 1, 5);
    largest = std::max(largest, WalBytes(dir));
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  INFO("largest log " << largest / kFrameBytes << " frames, restarts "
                      << cp.counters().restarts.load() << ", passive "
                      << cp.counters().passive.load() << ", busy " << cp.counters().busy.load());
  // With one passive step and a full step only when the log had grown during it (never, as
  // SQLite reports the log's size when the checkpoint began), the log started over a few times
  // in such a run and grew to 40,000-78,000 frames.
  CHECK(largest < 24000 * kFrameBytes);
  CHECK(cp.counters().restarts.load() > 0);
  CHECK(cp.counters().inline_runs.load() == 0);
  CHECK(cp.counters().errors.load() == 0);
  cp.Stop();
  int64_t found = 0;
  for (int t = 0; t < kTxns; ++t) found += CountKeys(*s, "k" + std::to_string(t) + ":", 5);
  CHECK(found == int64_t{kTxns} * 5);
}

TEST_CASE("checkpointer: a shard that stops committing gets its log copied") {
  // Frames not yet copied are read from the log (a lookup and a system call per page) instead of
  // through the file's map; a shard that went quiet below both thresholds has them copied.
  TempDir dir;
  CheckpointerOptions co;
  co.trigger_pages = 1 << 20;
  co.copy_pages = 1 << 20;
  co.hard_limit_pages = 1 << 20;
  co.idle_ms = 20;
  Checkpointer cp({dir.file("shard-00.db")}, SyncMode::kNormal, co);
  auto s = OpenOrDie(FileShard(dir, &cp));
  Write(*s, "k", 5, 10);
  REQUIRE(WaitFor([&] { return cp.counters().passive.load() > 0; }));
  // On a loaded machine the commits can span an idle check, so a first pass may copy only part
  // of the log and a second the rest: take the count once passes have stopped for 250 ms (over
  // ten idle periods).
  uint64_t passes = cp.counters().passive.load();
  for (int quiet = 0; quiet < 5;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const uint64_t now = cp.counters().passive.load();
    quiet = now == passes ? quiet + 1 : 0;
    passes = now;
  }
  // All copied: later idle checks find nothing to do.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(cp.counters().passive.load() == passes);
  CHECK(CountKeys(*s, "k", 50) == 50);
}

TEST_CASE("checkpointer: two writers with checkpointers of their own keep every row") {
  // Two engines on one data dir: each connection has its own checkpointer.
  TempDir dir;
  CheckpointerOptions co;
  co.trigger_pages = 32;
  co.full_wait_ms = 5;
  Checkpointer cp1({dir.file("shard-00.db")}, SyncMode::kNormal, co);
  Checkpointer cp2({dir.file("shard-00.db")}, SyncMode::kNormal, co);
  auto s1 = OpenOrDie(FileShard(dir, &cp1));
  auto s2 = OpenOrDie(FileShard(dir, &cp2));
  std::thread t1([&] { Write(*s1, "one", 300, 10); });
  std::thread t2([&] { Write(*s2, "two", 300, 10); });
  t1.join();
  t2.join();
  CHECK(cp1.counters().passive.load() + cp2.counters().passive.load() > 0);
  CHECK(cp1.counters().errors.load() + cp2.counters().errors.load() == 0);
  cp1.Stop();
  cp2.Stop();
  CHECK(CountKeys(*s1, "one", 3000) == 3000);
  CHECK(CountKeys(*s1, "two", 3000) == 3000);
  s2.reset();
  s1.reset();
  // The file as SQLite sees it after both are gone.
  CHECK(testing::IntegrityCheck(dir.file("shard-00.db")) == "ok");
}

}  // namespace
}  // namespace litestash
