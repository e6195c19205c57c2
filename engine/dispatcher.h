// Dispatcher: where a validated request goes. Implements protocol's RequestSink.
//
//   hello, ping             answered here, on the reader thread;
//   ops routed by `key`     hashed (BLAKE2b-512), checked against the host's `shard` if sent
//                           (wrong_shard), and queued on that shard as a KeyedTask — except
//                           reads (get, exists, ttl) of a shard with no pending write, which
//                           the reader thread answers itself on its own read connection to the
//                           shard file (the read fast path: no queue, no thread hop);
//   multi-key and all-shard ops   split by shard into a FanOutOp whose parts are queued.
// Because requests are queued in stream order and each shard runs its queue in order, a request
// always observes every earlier request on the same key.
//
// Each request is shared by its tasks; when the last task lets go of it, its frame bytes are
// returned to the InflightLimiter.
//
// Thread-safety: Submit() runs on the reader thread only (the hasher and the read connections
// are not shared); the workers, PendingWrites and the FrameSink are thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/blake2b.h"
#include "engine/fanout_ops.h"
#include "engine/inflight_limiter.h"
#include "engine/pending_writes.h"
#include "protocol/limits.h"
#include "protocol/session.h"
#include "shard/shard_worker.h"

namespace litestash {

// What `hello` reports, fixed at start-up.
struct EngineIdentity {
  uint32_t shards = 16;
  Limits limits;
  std::string version;
};

// Where the reader thread's read connections point: one ShardOptions per shard (same files as
// the workers), or empty to disable the read fast path (--memory: an in-memory shard cannot be
// opened twice).
using ReadPathOptions = std::vector<ShardOptions>;

class Dispatcher : public RequestSink {
 public:
  Dispatcher(EngineIdentity identity, std::vector<ShardWorker*> workers, FrameSink* out,
             InflightLimiter* limiter, ReadPathOptions read_path = {});
  ~Dispatcher() override;

  void Submit(RequestPtr request) override;

  // Set by the reader loop before each frame: whether the read fast path may be used now. The
  // loop allows it only near the end of what it has read (a shallow pipeline, where the saved
  // thread hop is latency); with a deep backlog the shard threads read in parallel instead.
  void set_inline_reads(bool allowed) { inline_allowed_ = allowed; }

  // Engine-wide figures for `stats`; callable from any thread.
  EngineStats Stats() const;

 private:
  SharedRequest Share(RequestPtr request);
  void AnswerLocal(const Request& request);
  void RouteKeyed(SharedRequest request);
  // Answers a keyed read on the reader thread if its shard allows; false if it must be queued.
  bool TryReadInline(const Request& request, const Digest& digest, uint32_t shard);
  ShardStore* ReadStore(uint32_t shard);
  void RouteFanOut(SharedRequest request);

  const EngineIdentity identity_;
  const std::vector<ShardWorker*> workers_;
  FrameSink* const out_;
  InflightLimiter* const limiter_;
  Blake2b512 hasher_;                      // reader thread only
  std::atomic<uint64_t> requests_{0};      // written by the reader thread, read by anyone
  std::atomic<uint64_t> inline_reads_{0};  // written by the reader thread, read by anyone
  PendingWrites pending_;                  // reader thread adds, shard threads finish
  const ReadPathOptions read_path_;
  std::vector<std::unique_ptr<ShardStore>> read_stores_;  // reader thread only; opened lazily
  std::vector<bool> read_disabled_;                       // reader thread only
  bool inline_allowed_ = true;                            // reader thread only
};

}  // namespace litestash
