#include "engine/wal_index_watch.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "common/blake2b.h"
#include "common/test_digest.h"
#include "shard/shard_store.h"
#include "shard/test_dir.h"
#include "shard/test_store.h"

namespace litestash {
namespace {

// One shard file in `dir`.
ShardOptions OneShard(const testing::TempDir& dir) {
  ShardOptions options;
  options.path = dir.file("shard-00.db");
  options.count = 1;
  return options;
}

}  // namespace

TEST_CASE("wal-index watch sees every commit, from any connection, and nothing else") {
  testing::TempDir dir;
  const ShardOptions options = OneShard(dir);
  auto writer = testing::OpenOrDie(options);
  auto reader = testing::OpenOrDie(options);  // another connection, as the reader thread has
  REQUIRE(reader->DataVersion().ok());        // the reader has used the wal-index

  WalIndexWatch watch;
  REQUIRE(watch.Open(options.path));
  WalIndexWatch::Header before, again, after;
  REQUIRE(watch.Read(&before));
  REQUIRE(watch.Read(&again));
  CHECK(before == again);

  // Reads, even in a transaction, publish nothing.
  REQUIRE(reader->Begin(false).ok());
  REQUIRE(reader->DataVersion().ok());
  reader->Rollback();
  REQUIRE(watch.Read(&again));
  CHECK(before == again);

  const Clock clock = Clock::Now();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(writer->Begin(true).ok());
    REQUIRE(writer->Put(testing::DigestOf("k"), "k", "\x01", std::nullopt, clock).ok());
    REQUIRE(writer->Commit().ok());
    REQUIRE(watch.Read(&after));
    CHECK(after != before);  // each commit moves the header
    before = after;
  }
}

TEST_CASE("wal-index watch declines what it cannot map") {
  testing::TempDir dir;
  WalIndexWatch missing;
  CHECK_FALSE(missing.Open(dir.file("none.db")));
  CHECK_FALSE(missing.usable());
  WalIndexWatch::Header h;
  CHECK_FALSE(missing.Read(&h));
}

// Regression: the watch once closed its descriptor of `-shm` after mapping it, and closing any
// descriptor of a file drops all of the process's fcntl locks on it, SQLite's "DMS" lock too.
// Another process opening the database then took itself for the first and truncated the
// wal-index under the live connections (a SIGBUS in a shard thread under TSan).
TEST_CASE("opening a watch keeps SQLite's lock on the wal-index") {
  testing::TempDir dir;
  const ShardOptions options = OneShard(dir);
  auto store = testing::OpenOrDie(options);
  REQUIRE(store->DataVersion().ok());
  // Is the DMS byte of `-shm` (offset 128, SQLite's unix VFS) locked by another process?
  auto dms_locked = [&] {
    const pid_t child = ::fork();
    if (child == 0) {
      const int fd = ::open((options.path + "-shm").c_str(), O_RDWR);
      struct flock lk {};
      lk.l_type = F_WRLCK;
      lk.l_whence = SEEK_SET;
      lk.l_start = 128;
      lk.l_len = 1;
      if (fd < 0 || ::fcntl(fd, F_GETLK, &lk) != 0) ::_exit(2);
      ::_exit(lk.l_type == F_UNLCK ? 0 : 1);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) != 2);
    return WEXITSTATUS(status) == 1;
  };
  REQUIRE(dms_locked());
  WalIndexWatch watch;
  REQUIRE(watch.Open(options.path));
  CHECK(dms_locked());
  WalIndexWatch second;  // a second watch of the same file, as stream waiters open
  REQUIRE(second.Open(options.path));
  CHECK(dms_locked());
}

}  // namespace litestash
