// Recovery of multi-shard writes on real shard files (shard/txn_recovery.h): a participant
// holding a pending mark of a dead engine replays its part from the coordinator's intent (same
// versions, entry ids), or drops the mark when there is no intent; a live owner's mark is left
// alone; a part already present is not applied twice; intents go once no mark needs them.
#include "shard/txn_recovery.h"

#include <catch2/catch.hpp>
#include <thread>

#include "common/test_digest.h"
#include "shard/stream_ops.h"
#include "shard/test_dir.h"

namespace litestash {
namespace {

using testing::TempDir;

constexpr uint64_t kSelf = 1;
constexpr uint64_t kDead = 77;
constexpr uint64_t kAlive = 88;
constexpr uint32_t kShards = 3;

Digest D(std::string_view key) { return testing::DigestOf(key); }

struct Fixture {
  TempDir dir;
  std::shared_ptr<TxnRecoveryEnv> env = std::make_shared<TxnRecoveryEnv>();

  Fixture() {
    env->self = kSelf;
    env->alive = [](uint64_t owner) { return owner == kSelf || owner == kAlive; };
    env->running_here = [](uint64_t) { return false; };
    env->options_of = [this](uint32_t shard) { return Options(shard); };
  }
  ShardOptions Options(uint32_t shard) const {
    ShardOptions o;
    o.path = dir.file("shard-0" + std::to_string(shard) + ".db");
    o.index = shard;
    o.count = kShards;
    return o;
  }
  std::unique_ptr<ShardStore> Open(uint32_t shard, bool recover) {
    ShardOptions o = Options(shard);
    if (recover) o.recovery = env;
    auto s = ShardStore::Open(o);
    INFO(s.status().ToString());
    REQUIRE(s.ok());
    REQUIRE(s.value()->PrepareStatements().ok());
    return std::move(s).value();
  }
};

// What a dead engine left: the participant's mark, then (when `commit_point`) the coordinator's
// own part with the intent. Returns the intent.
IntentBody LeaveHalfDone(Fixture& f, uint64_t txn_id, uint64_t owner, bool commit_point,
                         uint64_t participant_last) {
  auto coord = f.Open(0, false);
  auto part = f.Open(2, false);
  REQUIRE(part->Begin(true).ok());
  REQUIRE(part->txns().AddPending({txn_id, 0, owner}).ok());
  part->SetLastVersion(participant_last);
  REQUIRE(part->Commit().ok());

  IntentBody body;
  body.txn_id = txn_id;
  body.now_ms = 1700000000000;
  body.now_us = 1700000000000000;
  const Clock clock{body.now_ms, body.now_us};
  REQUIRE(coord->Begin(true).ok());
  IntentPart p0{0, coord->NextVersion(clock), {}};
  coord->RecordWrites(&p0.ops);
  REQUIRE(coord->Put(D("a"), "a", "\x01", std::nullopt, clock).ok());
  coord->RecordWrites(nullptr);
  IntentPart p2{2, std::max<uint64_t>(participant_last + 1, body.now_us), {}};
  p2.ops.push_back({WriteOp::kSet, "b", "\x02", std::nullopt});
  p2.ops.push_back({WriteOp::kAppend, "events", "\xa1x", std::nullopt});
  body.parts = {p0, p2};
  if (commit_point) {
    REQUIRE(coord->txns().AddIntent({txn_id, owner, body.now_ms, EncodeIntent(body)}).ok());
    REQUIRE(coord->Commit().ok());
  } else {
    coord->Rollback();
  }
  return body;
}

std::optional<StoredValue> Read(ShardStore& s, std::string_view key) {
  REQUIRE(s.Begin(false).ok());
  auto v = s.Get(D(key), Clock::Now());
  REQUIRE(v.ok());
  s.Rollback();
  return v.value();
}

bool HasMark(ShardStore& s, uint64_t txn_id) {
  REQUIRE(s.Begin(false).ok());
  auto pending = s.txns().HasPending(txn_id, 0);
  REQUIRE(pending.ok());
  s.Rollback();
  return *pending;
}

TEST_CASE("a dead engine's write past its commit point is finished by the next write") {
  Fixture f;
  const IntentBody body = LeaveHalfDone(f, 9, kDead, /*commit_point=*/true, 0);
  auto part = f.Open(2, /*recover=*/true);
  CHECK_FALSE(Read(*part, "b").has_value());  // reads do not resolve
  REQUIRE(part->Begin(true).ok());            // a write transaction does, first
  REQUIRE(part->Commit().ok());
  auto b = Read(*part, "b");
  REQUIRE(b.has_value());
  CHECK(b->value == "\x02");
  CHECK(b->version == body.parts[1].part_version + 1);  // the version the original run stamped
  REQUIRE(part->Begin(false).ok());
  auto info = StreamDescribe(*part, "events");
  part->Rollback();
  REQUIRE(info.ok());
  CHECK(info->exists);
  CHECK(info->meta.last_id == 1);
  CHECK_FALSE(HasMark(*part, 9));
  // Resolving again (another engine, a restart) changes nothing: the part is there.
  REQUIRE(part->Begin(true).ok());
  REQUIRE(ReplayPart(*part, body, body.parts[1]).ok());
  CHECK_FALSE(*ReplayPart(*part, body, body.parts[1]));
  REQUIRE(part->Commit().ok());
}

TEST_CASE("a dead engine's write before its commit point is dropped") {
  Fixture f;
  LeaveHalfDone(f, 10, kDead, /*commit_point=*/false, 0);
  auto part = f.Open(2, true);
  REQUIRE(part->Begin(true).ok());
  REQUIRE(part->Commit().ok());
  CHECK_FALSE(Read(*part, "b").has_value());
  CHECK_FALSE(HasMark(*part, 10));
  auto coord = f.Open(0, true);
  CHECK_FALSE(Read(*coord, "a").has_value());
}

TEST_CASE("a live engine's mark is left to it") {
  Fixture f;
  LeaveHalfDone(f, 11, kAlive, true, 0);
  auto part = f.Open(2, true);
  REQUIRE(part->Begin(true).ok());
  REQUIRE(part->Commit().ok());
  CHECK(HasMark(*part, 11));
  CHECK_FALSE(Read(*part, "b").has_value());
}

TEST_CASE("intents go once no participant marks them, and not before") {
  Fixture f;
  LeaveHalfDone(f, 12, kDead, true, 0);
  auto coord = f.Open(0, true);
  // The participant still lacks its part: the intent stays.
  auto kept = CollectIntents(*coord, 0, *f.env, 64);
  REQUIRE(kept.ok());
  CHECK(*kept == 0);
  {
    auto part = f.Open(2, true);
    REQUIRE(part->Begin(true).ok());
    REQUIRE(part->Commit().ok());
  }
  auto gone = CollectIntents(*coord, 0, *f.env, 64);
  REQUIRE(gone.ok());
  CHECK(*gone == 1);
  REQUIRE(coord->Begin(false).ok());
  auto intent = coord->txns().Intent(12);
  coord->Rollback();
  REQUIRE(intent.ok());
  CHECK_FALSE(intent.value().has_value());
}

TEST_CASE("after a power loss took a participant's mark, start-up recovery replays its part") {
  Fixture f;
  const IntentBody body = LeaveHalfDone(f, 14, kDead, true, 0);
  {
    auto part = f.Open(2, false);  // the lost mark: as if its commit never reached the disk
    REQUIRE(part->Begin(true).ok());
    REQUIRE(part->txns().DeletePending(14, 0).ok());
    REQUIRE(part->Commit().ok());
  }
  f.env->startup = std::make_shared<StartupIntents>(kShards);
  std::vector<std::unique_ptr<ShardStore>> stores;
  for (uint32_t s = 0; s < kShards; ++s) stores.push_back(f.Open(s, true));
  std::vector<Status> results(kShards);
  std::vector<std::thread> threads;
  for (uint32_t s = 0; s < kShards; ++s) {
    threads.emplace_back([&, s] { results[s] = StartupRecovery(*stores[s], s, *f.env); });
  }
  for (auto& t : threads) t.join();
  for (const Status& st : results) CHECK(st.ok());
  auto b = Read(*stores[2], "b");
  REQUIRE(b.has_value());
  CHECK(b->version == body.parts[1].part_version + 1);
  // Then the intent goes at the coordinator's next collection (the participant is synced).
  auto gone = CollectIntents(*stores[0], 0, *f.env, 64);
  REQUIRE(gone.ok());
  CHECK(*gone == 1);
}

TEST_CASE("a part is known present from the shard's version clock") {
  Fixture f;
  // The participant's clock is already past the part's first version: the part committed.
  const IntentBody body = LeaveHalfDone(f, 13, kDead, true, 0);
  auto part = f.Open(2, false);
  REQUIRE(part->Begin(true).ok());
  part->SetLastVersion(body.parts[1].part_version);
  auto replayed = ReplayPart(*part, body, body.parts[1]);
  REQUIRE(replayed.ok());
  CHECK_FALSE(*replayed);
  part->Rollback();
}

}  // namespace
}  // namespace litestash
