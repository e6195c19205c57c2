// TxnServices: what multi-shard writes (engine/write_group.h) need from the running engine —
// its owner id (engine/owner_lock.h), the set of its groups still running, group ids, the
// recovery environment every shard's write transactions use (shard/txn_recovery.h), and the
// clean-up of a finished group's intent.
//
// Built once at start-up, before the shard threads (their ShardOptions carry recovery_env());
// Attach() gives it the workers before the first group. With files on disk the engine holds an
// OwnerLock on the data dir; in memory (or in unit tests without a dir) there are no marks, no
// intents and no recovery.
//
// Forgetting intents. A group's intent may be deleted once every participant's part is on
// disk. With --sync off (nothing is promised across a power loss) that is at once; otherwise
// the group waits in `waiting_` until each participant's sweep has synced it (ShardDurable,
// called through the recovery environment's `durable`), then its coordinator deletes it in its
// next batch (about one sweep interval, 500 ms, after the write).
//
// Group ids: the owner id (< 2^40) shifted left 23 bits plus a per-process counter (mod 2^23):
// unique among the groups of live engines on a data dir, so intent and mark keys never collide.
//
// Thread-safety: every member is safe from any thread (the running set has its own mutex).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "engine/owner_lock.h"
#include "engine/write_group.h"
#include "shard/shard_worker.h"
#include "shard/txn_recovery.h"

namespace litestash {

class TxnServices {
 public:
  // `shard_options`: each shard's options as its thread opens it (paths; ignored in memory).
  // `data_dir` empty: in memory (no owner lock, no marks).
  static Result<std::unique_ptr<TxnServices>> Create(const std::string& data_dir, bool durable,
                                                     std::vector<ShardOptions> shard_options);
  // No owner lock, no marks, no recovery: in-memory engines and unit tests.
  static std::unique_ptr<TxnServices> InMemory();

  // For each shard's ShardOptions::recovery (null in memory).
  std::shared_ptr<const TxnRecoveryEnv> recovery_env() const { return env_; }
  void Attach(std::vector<ShardWorker*> workers) { workers_ = std::move(workers); }

  // A new group, registered as running until its last part is done.
  std::shared_ptr<WriteGroup> NewGroup();
  uint64_t owner() const { return services_.owner; }

  // Every version up to `version` of `shard` is on disk (a shard thread's sweep).
  void ShardDurable(uint32_t shard, uint64_t version);

 private:
  struct Waiting {
    uint64_t txn_id;
    uint32_t coord;
    std::vector<std::pair<uint32_t, uint64_t>> parts;  // participant shard, first version
  };
  TxnServices() = default;
  void Finished(uint64_t txn_id, uint32_t coord, bool forget,
                std::vector<std::pair<uint32_t, uint64_t>> parts);
  bool Running(uint64_t txn_id);
  void Forget(uint64_t txn_id, uint32_t coord);

  std::unique_ptr<OwnerLock> lock_;  // null in memory
  GroupServices services_;
  std::shared_ptr<TxnRecoveryEnv> env_;
  std::vector<ShardWorker*> workers_;  // set once by Attach, before any group
  std::atomic<uint64_t> counter_{0};
  std::mutex mu_;
  std::unordered_set<uint64_t> running_;  // guarded by mu_
  std::vector<Waiting> waiting_;          // guarded by mu_: intents waiting for durability
  std::vector<uint64_t> durable_;         // guarded by mu_: per shard, synced up to version
};

}  // namespace litestash
