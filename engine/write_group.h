// Multi-shard writes, all or nothing (contract v2 sections 5-6): a `txn` over several shards, and
// `mset`, `mdelete` and `clear` when they span shards.
//
// A MultiWrite is one such request: per shard, the logical writes it makes there (WriteOp:
// set, delete, stream append, clear; shard/write_ops.h). Consecutive multi-shard writes form a
// WriteGroup (sealed by any other request, after a write that may be refused, at a size bound,
// or when its first part starts: writes arriving while earlier groups run share one group),
// run together as follows. On each shard the
// group touches, its part is one task (GroupPart), run alone in its own transaction:
//
//   1. a participant other than the coordinator (one of the group's shards, rotating with the
//      group id) commits a pending mark for the group (shard/txn_table.h) — so a writer of
//      another process can tell, should this process die, that the shard may lack the group;
//   2. write locks, once every part has started on its shard (no part holds a lock while a
//      sibling still waits in a queue): first every part tries to take its own at once (BEGIN
//      IMMEDIATE without waiting); if any is held by another connection, every part lets go and
//      they are taken in ascending shard order, each part waiting until the shard below it holds
//      its lock, so engine processes never deadlock. BEGIN IMMEDIATE first finishes any write a
//      dead process left half done (shard/txn_recovery.h);
//   3. the part stamps its first version (the shard's proof of holding the part), then runs its
//      writes in request order; a write that may be refused (txn checks) runs inside a savepoint;
//   4. every part reports; when all have, the decision is known: a write refused on any shard is
//      rolled back on all (its savepoint), a storage error fails the whole group;
//   5. the coordinator stores the intent — every part's writes and clock — with its own part and
//      commits: the group's commit point. The others commit after it (and drop their mark).
//      With the files on disk (not --memory) and --sync other than off, the commit point is
//      fsynced whatever --sync says; the participants' commits follow --sync, and the intent
//      stays until each of them is on disk, so after a power loss start-up recovery replays
//      what a participant lost: every write whole or absent, every acknowledged one present;
//   6. every part done, the answers go out, and the coordinator forgets the intent at its next
//      transaction.
// A process that dies after the commit point leaves participants without their part; whoever
// next writes to one of them (any engine), or the next engine start, replays it from the intent.
// Within this engine no request sees part of a group: every part counts as a pending write of
// its shard, and requests behind it in a shard's queue run after it.
//
// Thread-safety: a group is shared by its parts (one per shard thread) and the reader thread
// that builds and seals it; its state is guarded by its mutex.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "engine/command_registry.h"
#include "shard/shard_worker.h"
#include "shard/txn_intent.h"
#include "shard/write_ops.h"

namespace litestash {

class MultiWrite {
 public:
  MultiWrite(SharedRequest request, FrameSink* out) : request_(std::move(request)), out_(out) {}
  virtual ~MultiWrite() = default;

  // The shards it writes or checks.
  virtual std::set<uint32_t> Shards() const = 0;
  // Its part on `shard`: checks first (a refusal is a kConflict status, with nothing written),
  // then its writes through the store's key and stream operations, which record them for the
  // intent (ShardStore::RecordWrites). Runs inside the group's transaction on that shard.
  virtual Status RunPart(uint32_t shard, ShardStore& store, const Clock& clock) = 0;
  // The success answer, once every part is committed.
  virtual void Encode(FrameEncoder* out) = 0;
  // Whether RunPart may refuse (then the write closes its group: it runs last there).
  virtual bool conditional() const { return false; }

  const Request& request() const { return *request_; }
  void Answer(const Status& outcome);

 private:
  SharedRequest request_;
  FrameSink* out_;
};

// A multi-shard fan-out write (mset, mdelete, clear) as a MultiWrite: its FanOutOp, whose parts
// are set, runs its part of each shard; its answer is the fan-out's.
std::shared_ptr<MultiWrite> MultiWriteOf(std::shared_ptr<FanOutOp> op, SharedRequest request,
                                         FrameSink* out);

struct GroupServices {
  uint64_t owner = 0;    // this engine's owner id (engine/owner_lock.h)
  bool marks = false;    // shard files on disk: pending marks and intents are written
  bool durable = false;  // ... and --sync is not off: the commits of a group fsync
  // Called once every part of a group is done, on the last part's thread; `forget_intent` when
  // the coordinator wrote an intent and every part committed: it may go once each participant
  // (shard, first version of its part) is on disk.
  std::function<void(uint64_t txn_id, uint32_t coord, bool forget_intent,
                     std::vector<std::pair<uint32_t, uint64_t>> participants)>
      finished;
};

class WriteGroup : public std::enable_shared_from_this<WriteGroup> {
 public:
  static constexpr size_t kMaxWrites = 256;

  WriteGroup(uint64_t txn_id, const GroupServices* services)
      : txn_id_(txn_id), services_(services) {}

  // Reader thread: adds a write unless the group is sealed (false: open a new group). On
  // success `fresh` lists the shards new to the group: each must get a part queued now
  // (MakePart), in queue order with everything else.
  bool TryAdd(std::shared_ptr<MultiWrite> write, std::vector<uint32_t>* fresh);
  // No more writes. The reader seals before any request that must not be overtaken by a later
  // write of the group, and at kMaxWrites; the first part to start seals it too, so under load
  // the writes that queue up while earlier groups run share one group. Idempotent.
  void Seal();
  bool full() const { return writes_.size() >= kMaxWrites; }
  uint64_t txn_id() const { return txn_id_; }

  // The task that runs the group's part on `shard`.
  std::unique_ptr<ShardTask> MakePart(uint32_t shard);

 private:
  friend class GroupPart;
  struct Decision {
    bool failed = false;  // a storage error: nothing of the group commits
    Status error;
    std::vector<bool> refused;  // per write: its checks failed somewhere
  };

  // Part protocol, called by GroupPart on its shard thread.
  Status RunPart(uint32_t shard, ShardStore& store, const Clock& clock);
  void SealLocked();                     // with mu_ held
  size_t IndexOf(uint32_t shard) const;  // position in the sorted shard list
  // The coordinator's position (sealed groups): rotates with the group id.
  size_t CoordIndex() const { return static_cast<size_t>(txn_id_ % shards_.size()); }
  void WaitLocked(size_t index);
  void MarkLocked(size_t index);
  // A part's outcome of `round`; waits for the other parts. True: a lock was busy in round 0,
  // every part must let go and run round 1 (ascending order, waiting).
  bool Arrive(int round, size_t index, const std::vector<Status>& results,
              const std::vector<std::vector<WriteOp>>& ops, uint64_t part_version, bool busy);
  IntentBody IntentOf(const Decision& decision, const Clock& clock);
  Decision WaitDecision();
  void CoordinatorCommitted(const Status& status);
  Status WaitCoordinator();
  void PartDone(const Status& status);

  const uint64_t txn_id_;
  const GroupServices* services_;
  std::vector<std::shared_ptr<MultiWrite>> writes_;  // guarded by mu_ until sealed, then const
  std::vector<uint32_t> shards_;                     // guarded by mu_; sorted once sealed

  std::mutex mu_;
  std::condition_variable cv_;
  bool sealed_ = false;       // guarded by mu_
  std::vector<bool> locked_;  // guarded by mu_: by shard index
  std::vector<std::unique_ptr<std::condition_variable>> locked_cv_;  // per index; set at seal
  size_t started_ = 0;                        // guarded by mu_: parts running on their shards
  size_t arrived_ = 0;                        // guarded by mu_: parts arrived this round
  bool busy_ = false;                         // guarded by mu_: a lock was busy this round
  bool retry_ = false;                        // guarded by mu_: round 1 runs
  int rounds_decided_ = 0;                    // guarded by mu_
  std::vector<std::vector<Status>> results_;  // guarded by mu_: [shard index][write]
  std::vector<std::vector<std::vector<WriteOp>>> ops_;  // guarded by mu_: [shard][write]
  std::vector<uint64_t> part_versions_;                 // guarded by mu_
  std::optional<Decision> decision_;                    // guarded by mu_
  std::optional<Status> coordinator_;                   // guarded by mu_
  size_t done_ = 0;                                     // guarded by mu_
  Status late_failure_;                                 // guarded by mu_
  bool intent_written_ = false;                         // guarded by mu_
};

}  // namespace litestash
