// Recovery of multi-shard writes (engine/write_group.h) on one shard.
//
// A multi-shard write commits first on its coordinator shard, with its intent (the whole write,
// shard/txn_intent.h) — its commit point, fsynced — then on the other participants, whose
// commits follow --sync. Two things can leave a participant without its part:
//
// * its engine is SIGKILLed between the commit point and the participant's commit, while other
//   engines keep running on the data dir. The participant holds a pending mark (TxnTable),
//   committed before the write took its lock. ResolvePending() runs at the start of every write
//   transaction on the shard, of any engine: for each mark of an engine that is gone, it reads
//   the intent from the coordinator's file; with one, it replays the part (unless present),
//   without one the write never reached its commit point; either way the mark goes. Marks need
//   no fsync: a process's death does not lose what it wrote to the page cache.
// * a power loss (every engine dies; a participant's commit, or its mark, may be lost). Every
//   engine starting on the data dir runs StartupRecovery before any shard serves: each shard
//   publishes the intents of dead engines it coordinates, every shard waits for all of them,
//   then replays the parts addressed to it that it lacks.
//
// Whether a shard holds a part is read from its version clock: the part stamped part_version
// first under the shard's write lock, above the stored clock ceiling (ShardStore::
// NextPartVersion), and its commit stores a ceiling at least that high, so the part is there
// iff the ceiling >= part_version. That holds because no write reaches a shard before what is
// in doubt on it is resolved.
//
// Intents are deleted by their coordinator once no participant can need them: for this
// engine's own finished writes once every participant is durable (engine/txn_services.h); for a
// dead engine's by CollectIntents() once no participant holds a mark and each participant has
// been synced to disk.
//
// Thread-safety: functions run on the thread that owns `store`; StartupIntents is shared by the
// shard threads of one engine (its own mutex).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "shard/shard_store.h"
#include "shard/txn_intent.h"
#include "shard/txn_table.h"

namespace litestash {

// The start-up barrier: every shard of one engine publishes the intents of dead engines it
// coordinates, then takes the parts addressed to it.
class StartupIntents {
 public:
  explicit StartupIntents(uint32_t shards) : shards_(shards) {}
  // Once per shard (also when it failed to open: with nothing).
  void Publish(std::vector<IntentBody> intents);
  // Waits until every shard published; the (body, part) pairs for `shard`.
  std::vector<std::pair<IntentBody, IntentPart>> PartsFor(uint32_t shard);

 private:
  const uint32_t shards_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint32_t published_ = 0;           // guarded by mu_
  std::vector<IntentBody> intents_;  // guarded by mu_
};

struct TxnRecoveryEnv {
  uint64_t self = 0;                                       // this engine's owner id
  std::function<bool(uint64_t owner)> alive;               // a live process holds this owner id
  std::function<bool(uint64_t txn_id)> running_here;       // a write of this process, not finished
  std::function<ShardOptions(uint32_t shard)> options_of;  // shard i's options (no recovery)
  // Called by a shard's sweep after SyncCommitted(): every version up to `version` of `shard`
  // is on disk (null: nobody waits for it).
  std::function<void(uint32_t shard, uint64_t version)> durable;
  std::shared_ptr<StartupIntents> startup;  // null: no start-up barrier (tests of one shard)
};

// Inside a write transaction on `store` (whose shard index is `shard`).
Status ResolvePending(ShardStore& store, uint32_t shard, const TxnRecoveryEnv& env);

// Replays `part` of `body` on `store` (a write transaction) unless it is there already;
// true if it replayed.
Result<bool> ReplayPart(ShardStore& store, const IntentBody& body, const IntentPart& part);

// Reads intent `txn_id` from the file of shard `coord` (nullopt: there is none).
Result<std::optional<IntentBody>> ReadIntent(const TxnRecoveryEnv& env, uint32_t coord,
                                             uint64_t txn_id);

// The start-up step of a shard thread, outside any transaction, before it serves: publishes the
// dead engines' intents this shard coordinates, waits for every shard's, replays its parts.
Status StartupRecovery(ShardStore& store, uint32_t shard, const TxnRecoveryEnv& env);

// Outside a transaction on coordinator `store` (shard `shard`): deletes the intents of dead
// engines that no participant needs any more (at most `max` looked at). A participant is
// synced to disk first (its own connection; skipped for now if it is busy). Returns how many
// went.
Result<int> CollectIntents(ShardStore& store, uint32_t shard, const TxnRecoveryEnv& env, int max);

}  // namespace litestash
