// BackupOp: `backup` (contract v2 section 7) — an online copy of the data dir holding one
// consistent point of the data.
//
// 1. On the reader thread: `dir` must not exist or be an empty directory (else bad_request,
//    nothing touched); the copy is built in a sibling temporary directory.
// 2. One part per shard, alone on its shard thread, takes the shard's write lock in ascending
//    shard order (as multi-shard writes do, so no engine deadlocks with it); once every part
//    holds its lock, no write of any engine is half committed across shards, and each part pins
//    a read snapshot of its file on a connection of its own (shard/snapshot_copy.h). Then all
//    locks go. Everything acknowledged before the request was sent is in the snapshots: this
//    engine's earlier writes were queued before the parts, other engines' were committed.
//    The shards are held only for as long as it takes every part to get there.
// 3. A background thread (engine/background_jobs.h) copies the snapshots into the temporary
//    directory, fsyncs it and renames it to `dir`: a failure removes it (storage_error), so no
//    partial data dir is left behind. The answer: shards, bytes (the copy's size).
// In memory (--memory) each part copies its shard itself while all are held.
//
// Thread-safety: the barrier state is guarded by the op's mutex; the copy runs once, on one
// thread, after every part is done.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>

#include "engine/background_jobs.h"
#include "engine/fanout_op.h"
#include "shard/snapshot_copy.h"

namespace litestash {

class BackupOp : public FanOutOp {
 public:
  BackupOp(SharedRequest request, FrameSink* out, BackgroundJobs* jobs);
  ~BackupOp() override;

  void Launch(const std::vector<ShardWorker*>& workers) override;
  Status RunPart(size_t part, ShardStore& store, const Clock& clock) override;
  void Encode(FrameEncoder* out) override;

 private:
  friend class BackupPart;
  void PartFinished(const Status& status);
  // The background copy, then the answer.
  void Copy();
  Status CopyAll();
  void RemoveTemporary();

  BackgroundJobs* const jobs_;
  std::string dir_;        // the request's dir
  std::string temporary_;  // where the copy is built (reader thread sets it before parts run)
  uint64_t bytes_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  size_t locked_ = 0;                                 // guarded by mu_: parts holding locks
  size_t finished_ = 0;                               // guarded by mu_
  bool part_failed_ = false;                          // guarded by mu_
  std::vector<std::unique_ptr<SnapshotCopy>> snaps_;  // guarded by mu_: per part
};

}  // namespace litestash
