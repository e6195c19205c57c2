// KeyedTask: runs one request routed by a key (or stream name) on that shard's thread, through
// its row's shard handler (engine/command_registry.h), and sends the answer once the batch
// holding it has committed — or the error instead.
//
// Blocking reads: for a row that may park, the shard file's wal-index header is noted before
// the handler runs; a handler that found nothing and asks to wait is parked with it
// (engine/stream_waiters.h) instead of answered — unless the waiters refuse, then its answer
// goes out as built. A task made from a parked read (`wait` set) answers or parks again. The
// frame of a parked read leaves the in-flight count when first parked and comes back when its
// answer is sent. After a handler appended to a stream, the waiters hear of it once committed.
//
// Ownership: holds its request (shared) until Done; the answer it builds in Run() is sent from
// Done() on the shard thread. Thread-safety: used by the one shard thread it was queued on.
#pragma once

#include <optional>

#include "engine/command_registry.h"
#include "engine/stream_waiters.h"
#include "shard/shard_worker.h"

namespace litestash {

class KeyedTask : public ShardTask {
 public:
  KeyedTask(SharedRequest request, const Digest& digest, uint32_t shard, const CommandRow& row,
            FrameSink* out, const EngineContext* engine,
            std::optional<WaitState> wait = std::nullopt)
      : request_(std::move(request)),
        digest_(digest),
        shard_(shard),
        row_(row),
        out_(out),
        engine_(engine),
        wait_(wait) {}

  bool writes() const override { return request_->schema->writes; }
  // A keyed write touches its routed key only (kv and ttl ops: the key; stream ops: the stream).
  const Digest* written_key() const override { return writes() ? &digest_ : nullptr; }
  Status Run(ShardStore& store, const Clock& clock) override;
  size_t answer_bytes() const override { return answer_.size(); }
  void Done(const Status& status) override;

 private:
  SharedRequest request_;
  Digest digest_;
  uint32_t shard_;
  const CommandRow& row_;
  FrameSink* out_;
  const EngineContext* engine_;  // may be null (no waiters: nothing parks)
  std::optional<WaitState> wait_;
  FrameEncoder answer_;  // built by Run on the shard thread
  // Reported by the handler's last run.
  std::optional<int64_t> park_until_;
  bool appended_ = false;
  std::optional<Status> refused_;
  WalIndexWatch::Header mark_{};
  bool mark_ok_ = false;
};

// Parks `request` if `park_until` is set and the waiters take it (first_time: its frame leaves
// the in-flight count); otherwise sends `answer` (a rerun's frame re-enters the count first).
// Shared by shard tasks and the reader thread's inline reads.
void ParkOrAnswer(const EngineContext* engine, SharedRequest request, const Digest& digest,
                  uint32_t shard, std::optional<int64_t> park_until, bool first_time,
                  const WalIndexWatch::Header& mark, bool mark_ok, std::string answer,
                  FrameSink* out);

}  // namespace litestash
