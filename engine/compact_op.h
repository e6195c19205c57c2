// CompactOp: `compact` (contract v2 section 3) — online, one shard at a time, in bounded steps.
//
// On each shard, in order: expired keys are deleted, history beyond the depth (the recorded
// one, or the request's keep_versions override for this run) is trimmed, stream entries past
// their age retention are deleted, and free pages are given back to the file system
// (incremental vacuum), then the WAL is checkpointed without waiting so the file shrinks.
//
// Each step is one task on the shard's queue, run alone in its own short transaction, and the
// next step is queued behind whatever arrived meanwhile: a request waits behind compact for at
// most one step. A step deletes at most kRowsPerStep rows, trims the history of at most
// kKeysPerStep keys, or frees at most kPagesPerStep pages — except once per file created before
// incremental auto-vacuum existed here (layout-1 files of old engines): its first compact
// rewrites it with VACUUM, one long step. The answer reports the longest step (max_step_us).
//
// bytes_reclaimed: the shard files' size (pages x page size) before minus after, summed.
//
// Thread-safety: the op's state is touched by one step at a time; steps are chained through
// the workers' queues (each step queues the next after it ends), which orders them.
#pragma once

#include <chrono>

#include "engine/fanout_op.h"
#include "shard/shard_store.h"

namespace litestash {

class CompactOp : public FanOutOp {
 public:
  static constexpr int kRowsPerStep = 1000;
  static constexpr int kKeysPerStep = 500;
  static constexpr uint64_t kPagesPerStep = 1024;

  CompactOp(SharedRequest request, FrameSink* out);

  void Launch(const std::vector<ShardWorker*>& workers) override;
  Status RunPart(size_t part, ShardStore& store, const Clock& clock) override;
  void Encode(FrameEncoder* out) override;

 private:
  friend class CompactStep;
  enum class Phase { kStart, kExpired, kHistory, kStreams, kVacuum, kFinish, kDone };

  // Runs the current step of the current shard (its thread).
  Status Step(ShardStore& store, const Clock& clock);
  // After a step: queues the next one (here or on the next shard), or answers.
  void StepDone(const Status& status);
  void QueueStep();

  std::vector<ShardWorker*> workers_;
  size_t part_ = 0;  // the shard being compacted (index into parts_)
  Phase phase_ = Phase::kStart;
  std::optional<Digest> history_after_;  // the history pass's position
  uint32_t depth_ = 0;                   // this run's depth on the current shard
  uint64_t bytes_before_ = 0;            // the current shard's size at its start
  uint64_t expired_ = 0, versions_ = 0, entries_ = 0, reclaimed_ = 0;
  std::chrono::microseconds max_step_{0};
  uint64_t steps_ = 0;
};

}  // namespace litestash
