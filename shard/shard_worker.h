// ShardWorker: the one thread that owns a shard's ShardStore, and the queue that reaches it.
//
// Other threads only Enqueue() tasks. The worker drains whatever is queued (up to kMaxBatch)
// and runs it as one transaction — BEGIN IMMEDIATE if any task writes, else a read
// transaction — in queue order, so a task sees the effects of every task queued before it
// (pipelined read-your-writes); a batch whose answers pass kBatchAnswerBytes commits early and
// the rest runs in the next transaction. Only after COMMIT succeeds are the tasks told they
// are Done, so
// an answer for a write is sent only once the write is committed. If any task or the commit
// fails, the batch is rolled back and its tasks run again one transaction each, so a failing
// task fails alone and the others still succeed.
//
// With ShardOptions::recovery (a data dir on disk), the worker's first act after opening is a
// write transaction, which finishes any multi-shard write a stopped engine left half done here
// (shard/txn_recovery.h) before ready() and before any task runs.
//
// Every kSweepInterval (between batches, busy or idle) the worker deletes expired keys, stream
// entries past their age retention and intents of finished multi-shard writes, in batches of
// kSweepBatch, one short transaction each,
// checking the queue between batches so requests are not stalled.
//
// Pending writes. The worker counts the writing tasks it has been given and not yet finished
// (counted in Enqueue, released right after the task's Done): while the count is 0, every
// write queued here so far has committed (or failed), so another thread may read the file
// directly and still see them (the reader thread's read path relies on it). The same count is
// kept per key for tasks that write one key (ShardTask::written_key), in kKeySlots slots chosen
// by the digest (keys sharing a slot share a count: a false "pending", never a missed one), and
// apart for tasks that may write any key: NoPendingWritesTo(digest) says that no write queued
// here so far can touch that key, even while writes to other keys are in flight.
//
// After a batch the worker yields the CPU (sched_yield) for up to ShardOptions::spin_us while
// its queue stays empty, then sleeps on its condition variable until woken.
//
// Stop() lets the worker finish every task queued before it, checkpoints the WAL, closes the
// file and joins. Tasks enqueued after Stop() began are answered with `shutting_down`.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/blake2b.h"
#include "common/status.h"
#include "shard/shard_store.h"

namespace litestash {

// Told on the shard thread around the Done() calls of a committed transaction's tasks: a sink
// may hold the answers those calls send and send them together at End() (engine/: the output
// writer, one write for the transaction's answers instead of a wake-up of its thread).
class AnswerScope {
 public:
  virtual ~AnswerScope() = default;
  virtual void Begin() = 0;
  virtual void End() = 0;
};

class ShardTask {
 public:
  virtual ~ShardTask() = default;
  virtual bool writes() const = 0;
  // False for work that must run outside any transaction (a WAL checkpoint): the worker commits
  // the tasks queued before it, then runs it on its own.
  virtual bool transactional() const { return true; }
  // Runs on the shard thread inside the batch's transaction. May run more than once (after a
  // batch failure), so it must reset any output it builds. A non-OK status fails the batch.
  virtual Status Run(ShardStore& store, const Clock& clock) = 0;
  // A writing task that writes one key and nothing else returns that key's digest (its pending
  // count is then kept per key, see ShardWorker::NoPendingWritesTo); nullptr (the default): the
  // task may write any key of the shard. Must not change while the task is queued.
  virtual const Digest* written_key() const { return nullptr; }
  // Bytes of the answer Run() built and holds until Done() (0 if none): bounds a batch.
  virtual size_t answer_bytes() const { return 0; }
  // Called exactly once on the shard thread with the final outcome: OK after the commit, or the
  // error that made the task fail. (Or on the enqueuing thread, with kShuttingDown, when the
  // worker is stopping.)
  virtual void Done(const Status& status) = 0;
};
using TaskPtr = std::unique_ptr<ShardTask>;

// What `stats` reports per shard: transactions run for requests, and request tasks run.
struct ShardCounters {
  std::atomic<uint64_t> tasks{0};
  std::atomic<uint64_t> batches{0};
};

class ShardWorker {
 public:
  static constexpr size_t kMaxBatch = 1024;
  static constexpr size_t kKeySlots = 4096;              // per-key pending counts (16 KiB)
  static constexpr size_t kBatchAnswerBytes = 4u << 20;  // answers one transaction may hold
  static constexpr int kSweepBatch = 256;
  static constexpr std::chrono::milliseconds kSweepInterval{500};

  explicit ShardWorker(ShardOptions options) : options_(std::move(options)) {}
  ~ShardWorker();
  ShardWorker(const ShardWorker&) = delete;
  ShardWorker& operator=(const ShardWorker&) = delete;

  // Starts the thread, which opens the store. The future reports whether the open succeeded;
  // on failure the thread has already ended. Workers started together open in parallel.
  std::future<Status> Start();

  // Thread-safe. Hands a task to the shard thread (a writing task counts as pending until its
  // Done). With wake=false the thread is not woken for it (it may still find it, if awake): the
  // caller queues several tasks, then calls Wake().
  void Enqueue(TaskPtr task, bool wake = true);
  // Thread-safe. True while no writing task given to this worker is unfinished. Acquire: a
  // caller that sees true also sees the committed writes' effects on the file.
  bool NoPendingWrites() const { return pending_writes_.load(std::memory_order_acquire) == 0; }
  // Thread-safe. True while no unfinished writing task given to this worker may write the key
  // of `digest` (none that may write any key, none of one key in the same slot). Acquire, as
  // NoPendingWrites.
  bool NoPendingWritesTo(const Digest& digest) const {
    return any_key_writes_.load(std::memory_order_acquire) == 0 &&
           key_writes_[SlotOf(digest)].load(std::memory_order_acquire) == 0;
  }
  // Thread-safe. True once the store is open and its statements prepared.
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // Thread-safe. The history depth recorded in the file when it was opened (once Start()'s
  // future reported success).
  uint32_t keep_versions() const { return keep_versions_.load(std::memory_order_acquire); }
  // Thread-safe. Wakes the thread if it has anything queued.
  void Wake();

  // Finishes queued work, checkpoints and closes the store, joins the thread. Idempotent.
  void Stop();

  const ShardCounters& counters() const { return counters_; }

 private:
  void Main(std::promise<Status> opened);
  // After a batch: yields the CPU until told to take the queue, up to options_.spin_us.
  void YieldForWork();
  // Tells the worker to take its queue (mu_ held): sets woken_ and wakes a sleeping worker.
  void Signal();
  void RunBatch(std::vector<TaskPtr>& batch);
  void RunTransaction(std::vector<TaskPtr>& batch, size_t begin, size_t end);
  void RunAlone(TaskPtr& task);
  // Reports `status` to the task and, for a writing task, releases its pending count.
  void Finish(TaskPtr& task, const Status& status);
  // A writing task's pending counts (its key's slot or any-key, and the total) by `delta`.
  void CountPending(const ShardTask& task, int delta, std::memory_order order);
  void Sweep();
  // The key's slot: digest bytes 8..11 (bytes 0..7 chose the shard).
  static size_t SlotOf(const Digest& digest) {
    return (size_t{digest[8]} | size_t{digest[9]} << 8 | size_t{digest[10]} << 16 |
            size_t{digest[11]} << 24) %
           kKeySlots;
  }

  const ShardOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<TaskPtr> queue_;  // guarded by mu_
  // Set (under mu_) when the worker is told to take its queue, cleared (under mu_) when it does;
  // read without the lock by the worker's yield loop.
  std::atomic<bool> woken_{false};
  bool stopping_ = false;      // guarded by mu_

  std::unique_ptr<ShardStore> store_;       // owned by the worker thread only
  Status prepared_;                         // worker thread only: outcome of PrepareStatements()
  uint64_t reported_durable_ = 0;           // worker thread only: last durable version reported
  std::thread thread_;                      // started/joined by the owner of the ShardWorker
  ShardCounters counters_;                  // written by the worker thread, read by anyone
  std::atomic<int64_t> pending_writes_{0};  // raised by Enqueue (any thread), lowered here
  // The same count split: writes that may touch any key, and one-key writes by slot. Raised by
  // Enqueue (any thread, under mu_), lowered by the worker thread before pending_writes_.
  std::atomic<int64_t> any_key_writes_{0};
  std::unique_ptr<std::atomic<int32_t>[]> key_writes_ =
      std::make_unique<std::atomic<int32_t>[]>(kKeySlots);  // value-initialized: zeros
  std::atomic<bool> ready_{false};          // set by the worker thread once prepared
  std::atomic<uint32_t> keep_versions_{0};  // set by the worker thread at open
};

}  // namespace litestash
