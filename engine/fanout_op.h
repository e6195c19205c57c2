// FanOutOp: a request whose work spans shards (mget, mset, mdelete, scan, count, clear, stats,
// sync). It is split into parts, one per shard involved; each part runs as a task on its
// shard's thread, inside that shard's batch transaction; the part that finishes last encodes
// and sends the one answer. If any part fails, the answer is that part's error (parts on other
// shards may have committed: multi-key writes are atomic per shard only).
//
// Ownership: the op is shared by its parts (shared_ptr); each part writes only its own slots
// (results of its items, or its per-part slot), and the last part reads them all after an
// acquire-release countdown, so no lock guards the results. Pending-write accounting is the
// shard workers' (a writing op's parts are writing tasks).
//
// An op family defines a subclass per op and registers a factory for it in its row
// (engine/command_registry.h); the Dispatcher splits the request into parts by the row's
// routing and launches them.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "common/blake2b.h"
#include "protocol/frame_encoder.h"
#include "protocol/request.h"
#include "protocol/session.h"
#include "shard/shard_worker.h"

namespace litestash {

using SharedRequest = std::shared_ptr<const Request>;

// Engine-wide figures the stats op reports beside the per-shard ones.
struct EngineStats {
  uint64_t requests = 0;          // requests accepted since start
  int64_t inflight = 0;           // frames accepted and not yet answered
  uint64_t inline_reads = 0;      // reads answered by the reader thread (fast path)
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
  virtual void Encode(FrameEncoder* out) = 0;
  virtual bool transactional() const { return true; }
  // Sizes the per-part / per-item result slots; runs in SetParts, before any part can run.
  virtual void SizeResults() {}

  // Sets up the parts (called once by the dispatcher before Launch).
  void SetParts(std::vector<Part> parts, std::vector<Digest> digests);
  // Enqueues each part on its shard's worker; answers at once if there are no parts. An op that
  // schedules its own work (compact's steps, backup's barrier) overrides it.
  virtual void Launch(const std::vector<ShardWorker*>& workers);

  const Request& request() const { return *request_; }
  const std::vector<Part>& parts() const { return parts_; }

 protected:
  // Records a part's failure (the first one is the answer).
  void Fail(const Status& status);
  // Sends the answer: the first failure, else Encode()'s.
  void Finish();

  std::vector<Part> parts_;
  std::vector<Digest> digests_;  // per item, for keyed fan-outs

 private:
  friend class FanOutPart;
  void PartDone(const Status& status);

  SharedRequest request_;
  FrameSink* out_;
  std::atomic<size_t> pending_{0};
  std::mutex error_mu_;
  Status first_error_;  // guarded by error_mu_
};

// Base for ops that keep one number per part and answer with their sum in field `field`.
class SumOp : public FanOutOp {
 public:
  SumOp(SharedRequest request, FrameSink* out, std::string_view field)
      : FanOutOp(std::move(request), out), field_(field) {}
  void Encode(FrameEncoder* out) override;

 protected:
  void SizeResults() override { sums_.resize(parts_.size()); }
  uint64_t& SlotOf(size_t part) { return sums_[part]; }

 private:
  std::vector<uint64_t> sums_;
  std::string_view field_;
};

}  // namespace litestash
