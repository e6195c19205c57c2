// Dispatcher: where a validated request goes. Implements protocol's RequestSink.
//
//   hello, ping             answered here, on the reader thread;
//   ops routed by `key`     hashed (BLAKE2b-512), checked against the host's `shard` if sent
//                           (wrong_shard), and queued on that shard as a KeyedTask — except
//                           reads (get, exists, ttl) of a shard with no pending write, which
//                           the reader thread answers itself from its ReadPath (own read
//                           connection per shard file + exact read cache; no queue, no hop);
//   multi-key and all-shard ops   split by shard into a FanOutOp whose parts are queued.
// Because requests are queued in stream order and each shard runs its queue in order, a request
// always observes every earlier request on the same key.
//
// Chunks. The reader loop submits the requests of one read() from stdin, then calls Flush().
// Until then keyed tasks are queued without waking their shard threads (each touched shard is
// woken once, with all its work of the chunk: fewer thread switches, bigger transactions), the
// reader's own answers are collected and handed to the FrameSink together (one write or one
// hand-over), and ReadPath snapshots stay open. The reader must Flush() before it waits for
// anything (the answers it holds are in-flight frames the limiter counts).
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
#include "engine/read_path.h"
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
// opened twice); and the read cache's size.
struct ReadPathOptions {
  std::vector<ShardOptions> shards;
  size_t cache_bytes = 0;
};

class Dispatcher : public RequestSink {
 public:
  Dispatcher(EngineIdentity identity, std::vector<ShardWorker*> workers, FrameSink* out,
             InflightLimiter* limiter, ReadPathOptions read_path = {});
  ~Dispatcher() override;

  void Submit(RequestPtr request) override;

  // End of a chunk: wakes the shard threads given work, sends the collected answers, ends the
  // read snapshots. Reader thread only.
  void Flush();
  // Before the reader sleeps or waits: Flush() and end every read snapshot (an open read
  // transaction holds back WAL checkpoints). Reader thread only.
  void Idle();

  // Engine-wide figures for `stats`; callable from any thread.
  EngineStats Stats() const;

 private:
  SharedRequest Share(RequestPtr request);
  void AnswerLocal(const Request& request);
  void RouteKeyed(RequestPtr request);
  // Answers a keyed read on the reader thread if its shard allows; false if it must be queued.
  bool TryReadInline(const Request& request, const Digest& digest, uint32_t shard);
  void RouteFanOut(SharedRequest request);
  // Answers an mget on the reader thread if every key's shard allows; false if it must fan out.
  bool TryMgetInline(const Request& request);
  // Collects one of the reader's own answers for the next Flush().
  void Answer(std::string frame);
  void SendAnswers();
  // A write to `shard` is being queued: its read snapshot must not outlive this point.
  void WillWrite(uint32_t shard);

  const EngineIdentity identity_;
  const std::vector<ShardWorker*> workers_;
  FrameSink* const out_;
  InflightLimiter* const limiter_;
  Blake2b512 hasher_;                      // reader thread only
  std::atomic<uint64_t> requests_{0};      // written by the reader thread, read by anyone
  std::atomic<uint64_t> inline_reads_{0};  // written by the reader thread, read by anyone
  std::atomic<uint64_t> cache_hits_{0};    // written by the reader thread, read by anyone
  PendingWrites pending_;                  // reader thread adds, shard threads finish
  ReadPath read_path_;                     // reader thread only
  std::vector<std::string> answers_;       // reader thread only: answers held until Flush()
  size_t answer_bytes_ = 0;                // reader thread only
  std::vector<uint32_t> to_wake_;          // reader thread only: shards given work this chunk
  std::vector<bool> wake_pending_;         // reader thread only: shard is in to_wake_
  std::vector<Digest> mget_digests_;       // reader thread only: TryMgetInline's scratch
  std::vector<uint32_t> mget_shards_;      // reader thread only
};

}  // namespace litestash
