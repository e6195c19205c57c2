// Dispatcher: where a validated request goes, decided by its row in the CommandRegistry.
// Implements protocol's RequestSink.
//
//   Routing::kLocal       the row's local handler answers on the reader thread (hello, ping);
//   Routing::kKeyed       the routed field (key, stream) is hashed (BLAKE2b-512), checked
//                         against the host's `shard` if sent (wrong_shard), and the request is
//                         queued on that shard as a KeyedTask — unless the row has an inline
//                         read handler and no pending write of the shard may touch the key
//                         (InlineCall::Readable), in which case the reader thread answers from
//                         its ReadPath (own read connection per shard file + exact read cache;
//                         no queue, no hop);
//   kKeys/kEntries/kAllShards   split by shard into the row's FanOutOp, whose parts are queued
//                         (a row with an inline read handler, e.g. mget, is tried inline first);
//                         an all-or-nothing write (mset, mdelete, clear) touching more than one
//                         shard runs in a write group instead;
//   kMulti                the row's MultiWrite (txn) runs in a write group.
// Write groups (engine/write_group.h): consecutive multi-shard writes share one group, whose
// part on each shard is queued when the group first touches it. Any other request, a write that
// may be refused, or kMaxWrites seal it (and so does its first part starting): a later request
// is never queued behind a group that could still take in a write coming after it.
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
// are not shared); the workers and the FrameSink are thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/blake2b.h"
#include "engine/background_jobs.h"
#include "engine/command_registry.h"
#include "engine/digest_memo.h"
#include "engine/inflight_limiter.h"
#include "engine/read_path.h"
#include "engine/stream_waiters.h"
#include "engine/txn_services.h"
#include "engine/write_group.h"
#include "protocol/limits.h"
#include "protocol/session.h"
#include "shard/shard_worker.h"

namespace litestash {

// What the dispatcher needs beyond the shards: where the reader thread's read connections
// point (one ShardOptions per shard, the workers' files opened read-only; empty to disable the
// read fast path: an in-memory shard cannot be opened twice), the read cache's size, and the
// bound on parked blocking reads.
struct DispatcherOptions {
  std::vector<ShardOptions> read_connections;
  size_t read_cache_bytes = 0;
  size_t max_waiting_reads = 10000;
  // Multi-shard writes' services (owner lock, recovery); null: TxnServices::InMemory().
  std::shared_ptr<TxnServices> txns;
};

class Dispatcher : public RequestSink {
 public:
  // `registry` must outlive the dispatcher. Starts the blocking-read waiters' thread.
  Dispatcher(const CommandRegistry& registry, EngineIdentity identity,
             std::vector<ShardWorker*> workers, std::unique_ptr<Blake2b512> hasher, FrameSink* out,
             InflightLimiter* limiter, DispatcherOptions options = {});
  ~Dispatcher() override;

  void Submit(RequestPtr request) override;

  // End of a chunk: wakes the shard threads given work, sends the collected answers, ends the
  // read snapshots. Reader thread only.
  void Flush();
  // Before the reader sleeps or waits: Flush() and end every read snapshot (an open read
  // transaction holds back WAL checkpoints). Reader thread only.
  void Idle();
  // At shutdown, before the shard threads stop: Idle(), close the reader's read connections,
  // and hand every parked blocking read back to its shard to be answered with what exists.
  void Stop();

  // Engine-wide figures for `stats`; callable from any thread.
  EngineStats Stats() const;

 private:
  SharedRequest Share(RequestPtr request);
  void RouteKeyed(const CommandRow& row, RequestPtr request);
  // Answers a read on the reader thread if its row and shards allow (or parks it: then
  // `request` is taken); false if it must queue.
  bool TryInline(const CommandRow& row, RequestPtr& request, const Digest* digest, uint32_t shard);
  // Queues a parked read on its shard again (the waiters' thread).
  void Rerun(ParkedRead read, WaitState state);
  void RouteFanOut(const CommandRow& row, SharedRequest request);
  // Adds a multi-shard write to the open group (opening one), queuing its new parts.
  void RouteGroup(std::shared_ptr<MultiWrite> write);
  void SealGroup();
  // Collects one of the reader's own answers for the next Flush().
  void Answer(std::string frame);
  void SendAnswers();
  // Wakes `shard` at the next Flush().
  void WakeLater(uint32_t shard);

  const CommandRegistry& registry_;
  const EngineIdentity identity_;
  const std::vector<ShardWorker*> workers_;
  DigestMemo digests_;  // reader thread only: routes keys read again without hashing them
  FrameSink* const out_;
  InflightLimiter* const limiter_;
  StreamWaiters waiters_;  // its own thread; any thread parks
  BackgroundJobs jobs_;    // its own threads; joined by Stop()
  std::shared_ptr<TxnServices> txns_;
  const std::vector<ShardOptions> files_;  // each shard's file, for backup (empty: memory)
  EngineContext context_;
  std::shared_ptr<WriteGroup> open_group_;  // reader thread only: the group taking writes
  std::atomic<uint64_t> requests_{0};       // written by the reader thread, read by anyone
  std::atomic<uint64_t> inline_reads_{0};   // written by the reader thread, read by anyone
  std::atomic<uint64_t> cache_hits_{0};     // written by the reader thread, read by anyone
  ReadPath read_path_;                      // reader thread only
  std::vector<std::string> answers_;        // reader thread only: answers held until Flush()
  size_t answer_bytes_ = 0;                 // reader thread only
  std::vector<uint32_t> to_wake_;           // reader thread only: shards given work this chunk
  std::vector<bool> wake_pending_;          // reader thread only: shard is in to_wake_
};

}  // namespace litestash
