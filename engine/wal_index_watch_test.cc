#include "engine/wal_index_watch.h"

#include <catch2/catch.hpp>

#include "common/test_digest.h"

#include "common/blake2b.h"
#include "shard/shard_store.h"
#include "shard/test_dir.h"

namespace litestash {

TEST_CASE("wal-index watch sees every commit, from any connection, and nothing else") {
  testing::TempDir dir;
  ShardOptions options;
  options.path = dir.file("shard-00.db");
  options.count = 1;
  auto writer = ShardStore::Open(options);
  REQUIRE(writer.ok());
  REQUIRE(writer.value()->PrepareStatements().ok());
  auto reader = ShardStore::Open(options);  // another connection, as the reader thread has
  REQUIRE(reader.ok());
  REQUIRE(reader.value()->PrepareStatements().ok());
  REQUIRE(reader.value()->DataVersion().ok());  // the reader has used the wal-index

  WalIndexWatch watch;
  REQUIRE(watch.Open(options.path));
  WalIndexWatch::Header before, again, after;
  REQUIRE(watch.Read(&before));
  REQUIRE(watch.Read(&again));
  CHECK(before == again);

  // Reads, even in a transaction, publish nothing.
  REQUIRE(reader.value()->Begin(false).ok());
  REQUIRE(reader.value()->DataVersion().ok());
  reader.value()->Rollback();
  REQUIRE(watch.Read(&again));
  CHECK(before == again);

  const Clock clock = Clock::Now();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(writer.value()->Begin(true).ok());
    REQUIRE(writer.value()->Put(testing::DigestOf("k"), "k", "\x01", std::nullopt, clock).ok());
    REQUIRE(writer.value()->Commit().ok());
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

}  // namespace litestash
