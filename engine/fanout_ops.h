// Fan-out ops: requests whose work spans shards (mget, mset, mdelete, scan, count, clear,
// stats, sync). A FanOutOp is split into parts, one per shard involved; each part runs as a
// task on its shard's thread, inside that shard's batch transaction; the part that finishes
// last encodes and sends the one answer. If any part fails, the answer is that part's error
// (parts on other shards may have committed: multi-key writes are atomic per shard only).
//
// Ownership: the op is shared by its parts (shared_ptr); each part writes only its own slots
// (results of its items, or its per-part slot), and the last part reads them all after an
// acquire-release countdown, so no lock guards the results.
//
// Adding a fan-out op = one row in protocol/op_table.cc + one FanOutOp subclass + one case in
// MakeFanOutOp.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/keyed_ops.h"

namespace litestash {

// Engine-wide figures the stats op reports beside the per-shard ones.
struct EngineStats {
  uint64_t requests = 0;          // requests accepted since start
  int64_t inflight = 0;           // frames accepted and not yet answered
  uint64_t inline_reads = 0;      // keyed reads answered by the reader thread (fast path)
  uint64_t cache_hits = 0;        // of those, answered from the exact read cache
  std::vector<uint64_t> batches;  // per shard: transactions run
  std::vector<uint64_t> tasks;    // per shard: tasks run
};

class FanOutOp : public std::enable_shared_from_this<FanOutOp> {
 public:
  struct Part {
    uint32_t shard = 0;
    std::vector<uint32_t> items;  // indices into the request's keys/entries (keyed fan-outs)
  };

  FanOutOp(SharedRequest request, FrameSink* out) : request_(std::move(request)), out_(out) {}
  virtual ~FanOutOp() = default;

  // Runs part `part` on its shard's thread; must reset that part's output first (it may run
  // again after a batch failure).
  virtual Status RunPart(size_t part, ShardStore& store, const Clock& clock) = 0;
  // Encodes the success answer once every part has succeeded.
  virtual void Encode(ResponseEncoder* out) = 0;
  virtual bool transactional() const { return true; }
  // Sizes the per-part / per-item result slots; runs in SetParts, before any part can run.
  virtual void SizeResults() {}

  // Sets up the parts (called once by the dispatcher before Launch).
  void SetParts(std::vector<Part> parts, std::vector<Digest> digests);
  // Enqueues each part on its shard's worker; answers at once if there are no parts. Parts of a
  // writing op are counted in `pending` (may be null) until done.
  void Launch(const std::vector<ShardWorker*>& workers, PendingWrites* pending);

  const Request& request() const { return *request_; }

 protected:
  std::vector<Part> parts_;
  std::vector<Digest> digests_;  // per item, for keyed fan-outs

 private:
  friend class FanOutPart;
  void PartDone(size_t part, const Status& status);
  void Finish();

  SharedRequest request_;
  FrameSink* out_;
  PendingWrites* pending_writes_ = nullptr;
  std::atomic<size_t> pending_{0};
  std::mutex error_mu_;
  Status first_error_;  // guarded by error_mu_
};

// Builds the op for a fan-out request. `stats` is called (on a shard thread) by the stats op.
std::shared_ptr<FanOutOp> MakeFanOutOp(SharedRequest request, FrameSink* out,
                                       std::function<EngineStats()> stats);

// The answer of `mget`: `values[i]` is key i's live value, nullopt if absent. Shared by the
// fan-out op and the reader thread's read path.
void EncodeMgetAnswer(const Request& req, const std::vector<std::optional<StoredValue>>& values,
                      ResponseEncoder* out);

}  // namespace litestash
