// Dispatcher: where a validated request goes. Implements protocol's RequestSink.
//
//   hello, ping             answered here, on the reader thread;
//   ops routed by `key`     hashed (BLAKE2b-512), checked against the host's `shard` if sent
//                           (wrong_shard), and queued on that shard as a KeyedTask;
//   multi-key and all-shard ops   split by shard into a FanOutOp whose parts are queued.
// Because requests are queued in stream order and each shard runs its queue in order, a request
// always observes every earlier request on the same key.
//
// Each request is shared by its tasks; when the last task lets go of it, its frame bytes are
// returned to the InflightLimiter.
//
// Thread-safety: Submit() runs on the reader thread only (the hasher is not shared); the
// workers and the FrameSink are thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/blake2b.h"
#include "engine/fanout_ops.h"
#include "engine/inflight_limiter.h"
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

class Dispatcher : public RequestSink {
 public:
  Dispatcher(EngineIdentity identity, std::vector<ShardWorker*> workers, FrameSink* out,
             InflightLimiter* limiter)
      : identity_(std::move(identity)),
        workers_(std::move(workers)),
        out_(out),
        limiter_(limiter) {}

  void Submit(RequestPtr request) override;

  // Engine-wide figures for `stats`; callable from any thread.
  EngineStats Stats() const;

 private:
  SharedRequest Share(RequestPtr request);
  void AnswerLocal(const Request& request);
  void RouteKeyed(SharedRequest request);
  void RouteFanOut(SharedRequest request);

  const EngineIdentity identity_;
  const std::vector<ShardWorker*> workers_;
  FrameSink* const out_;
  InflightLimiter* const limiter_;
  Blake2b512 hasher_;                  // reader thread only
  std::atomic<uint64_t> requests_{0};  // written by the reader thread, read by anyone
};

}  // namespace litestash
