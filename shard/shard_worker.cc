#include "shard/shard_worker.h"

#include <sched.h>

#include <spdlog/spdlog.h>

#include <functional>

#include "shard/stream_ops.h"
#include "shard/txn_recovery.h"

namespace litestash {

ShardWorker::~ShardWorker() { Stop(); }

std::future<Status> ShardWorker::Start() {
  // spdlog creates its registry on first use; make that happen here, before the thread exists,
  // rather than in whichever worker logs first (TSan flagged two workers racing to it).
  spdlog::default_logger_raw();
  std::promise<Status> opened;
  std::future<Status> result = opened.get_future();
  thread_ = std::thread(&ShardWorker::Main, this, std::move(opened));
  return result;
}

void ShardWorker::Enqueue(TaskPtr task, bool wake) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      CountPending(*task, +1, std::memory_order_relaxed);
      queue_.push_back(std::move(task));
      if (wake) Signal();
      return;
    }
  }
  task->Done(Status(StatusCode::kShuttingDown, "the engine is shutting down"));
}

void ShardWorker::Finish(TaskPtr& task, const Status& status) {
  // Released before the answer goes out, so a read the host sends on seeing it can already take
  // the reader's direct path; release order makes the commit visible with the count.
  CountPending(*task, -1, std::memory_order_release);
  task->Done(status);
}

void ShardWorker::CountPending(const ShardTask& task, int delta, std::memory_order order) {
  if (!task.writes()) return;
  if (const Digest* key = task.written_key()) {
    key_writes_[SlotOf(*key)].fetch_add(delta, order);
  } else {
    any_key_writes_.fetch_add(delta, order);
  }
  pending_writes_.fetch_add(delta, order);
}

void ShardWorker::Wake() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!queue_.empty()) Signal();
}

void ShardWorker::Signal() {
  if (woken_.load(std::memory_order_relaxed)) return;  // already told, not yet taken
  woken_.store(true, std::memory_order_relaxed);
  cv_.notify_one();
}

void ShardWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    woken_.store(true, std::memory_order_relaxed);  // ends a yield at once
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void ShardWorker::Main(std::promise<Status> opened) {
  auto store = ShardStore::Open(options_);
  if (!store.ok()) {
    // The other shards' start-up recovery waits for every shard to publish (shard/txn_recovery.h).
    if (options_.recovery && options_.recovery->startup) options_.recovery->startup->Publish({});
    opened.set_value(store.status());
    return;
  }
  store_ = std::move(store).value();
  keep_versions_.store(store_->keep_versions(), std::memory_order_release);
  opened.set_value(Status::Ok());
  // Statements are parsed after the open is reported, off the start-up path; tasks wait in the
  // queue meanwhile. A failure here fails every task of this shard with its status.
  prepared_ = store_->PrepareStatements();
  if (options_.recovery) {
    // What stopped engines left half done here is finished before anything runs, so no read or
    // write of this engine meets part of a multi-shard write (shard/txn_recovery.h): the marks
    // (a write transaction resolves them), then the start-up exchange of intents.
    if (prepared_.ok()) prepared_ = store_->Begin(true);
    if (prepared_.ok()) prepared_ = store_->Commit();
    if (!prepared_.ok()) store_->Rollback();
    if (prepared_.ok()) {
      prepared_ = StartupRecovery(*store_, options_.index, *options_.recovery);
    } else if (options_.recovery->startup) {
      options_.recovery->startup->Publish({});
    }
  }
  if (!prepared_.ok()) spdlog::error("shard {}: {}", options_.index, prepared_.ToString());
  if (prepared_.ok()) ready_.store(true, std::memory_order_release);

  std::vector<TaskPtr> batch;
  batch.reserve(kMaxBatch);
  auto next_sweep = std::chrono::steady_clock::now() + kSweepInterval;
  bool batch_was_empty = true;
  for (;;) {
    bool stop = false;
    if (!batch_was_empty) YieldForWork();
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, next_sweep, [this] { return !queue_.empty() || stopping_; });
      woken_.store(false, std::memory_order_relaxed);
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      stop = stopping_ && queue_.empty();
    }
    batch_was_empty = batch.empty();
    if (!batch.empty()) RunBatch(batch);
    batch.clear();
    if (stop) break;
    // Expired rows are invisible already; deleting them is housekeeping, done between batches
    // even under constant load.
    if (std::chrono::steady_clock::now() >= next_sweep) {
      Sweep();
      next_sweep = std::chrono::steady_clock::now() + kSweepInterval;
    }
  }
  Status st = store_->Checkpoint();
  if (!st.ok()) spdlog::warn("{}", st.ToString());
  store_.reset();
}

void ShardWorker::YieldForWork() {
  // A pipelining host sends the next writes for this shard as soon as it has the answers just
  // committed: yielding (not spinning) for a moment lets the reader, the writer and the other
  // shards run meanwhile, and the next batch then needs no sleeping thread brought back. It
  // waits for the same signal as the condition variable (the reader's Wake() at the end of a
  // chunk), so a batch still takes the whole chunk's tasks for this shard.
  if (options_.spin_us <= 0) return;
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::microseconds(options_.spin_us);
  while (!woken_.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < until) {
    sched_yield();
  }
}

void ShardWorker::RunBatch(std::vector<TaskPtr>& batch) {
  if (!prepared_.ok()) {
    for (auto& t : batch) Finish(t, prepared_);
    return;
  }
  size_t begin = 0;
  for (size_t i = 0; i <= batch.size(); ++i) {
    if (i < batch.size() && batch[i]->transactional()) continue;
    RunTransaction(batch, begin, i);
    if (i < batch.size()) {
      counters_.tasks.fetch_add(1, std::memory_order_relaxed);
      Finish(batch[i], batch[i]->Run(*store_, Clock::Now()));
    }
    begin = i + 1;
  }
}

void ShardWorker::RunTransaction(std::vector<TaskPtr>& batch, size_t begin, size_t end) {
  while (end - begin > 1) {
    bool writes = false;
    for (size_t i = begin; i < end; ++i) writes = writes || batch[i]->writes();
    const Clock clock = Clock::Now();
    Status st = store_->Begin(writes);
    // Answers are held until the commit; past kBatchAnswerBytes the transaction commits early
    // and the rest goes into the next one, so a batch of large reads cannot hold unbounded
    // memory.
    size_t stop = begin;
    size_t answer_bytes = 0;
    while (st.ok() && stop < end && (stop == begin || answer_bytes < kBatchAnswerBytes)) {
      st = batch[stop]->Run(*store_, clock);
      answer_bytes += batch[stop]->answer_bytes();
      ++stop;
    }
    counters_.batches.fetch_add(1, std::memory_order_relaxed);
    counters_.tasks.fetch_add(stop - begin, std::memory_order_relaxed);
    if (st.ok()) st = store_->Commit();
    if (st.ok()) {
      if (options_.answers != nullptr) options_.answers->Begin();
      for (size_t i = begin; i < stop; ++i) Finish(batch[i], st);
      if (options_.answers != nullptr) options_.answers->End();
    } else {
      store_->Rollback();
      spdlog::warn("shard {}: batch of {} failed ({}); retrying one by one", options_.index,
                   stop - begin, st.ToString());
      for (size_t i = begin; i < stop; ++i) RunAlone(batch[i]);
    }
    begin = stop;
  }
  if (end > begin) RunAlone(batch[begin]);
}

void ShardWorker::RunAlone(TaskPtr& task) {
  const Clock clock = Clock::Now();
  counters_.batches.fetch_add(1, std::memory_order_relaxed);
  counters_.tasks.fetch_add(1, std::memory_order_relaxed);
  Status st = store_->Begin(task->writes());
  if (st.ok()) st = task->Run(*store_, clock);
  if (st.ok()) st = store_->Commit();
  if (!st.ok()) store_->Rollback();
  Finish(task, st);
}

void ShardWorker::Sweep() {
  if (!prepared_.ok()) return;
  // Expired keys, then stream entries past their age retention: each in transactions of at
  // most kSweepBatch rows, the queue checked between them.
  auto keys = [this] { return store_->SweepExpired(Clock::Now(), kSweepBatch); };
  auto aged = [this]() -> Result<int> {
    auto n = StreamSweepAged(*store_, Clock::Now(), kSweepBatch);
    if (!n.ok()) return n.status();
    return static_cast<int>(*n);
  };
  // Intents of dead engines' multi-shard writes that no participant needs any more.
  auto intents = [this]() -> Result<int> {
    if (!options_.recovery) return 0;
    return CollectIntents(*store_, options_.index, *options_.recovery, kSweepBatch);
  };
  // Parts of multi-shard writes committed here without fsync: made durable, so their intents
  // can go (engine/txn_services.h).
  if (options_.recovery && options_.recovery->durable) {
    if (store_->unsynced()) {
      auto synced = store_->SyncCommitted();
      if (!synced.ok()) spdlog::warn("shard {}: {}", options_.index, synced.status().ToString());
    }
    // Also after a `sync` op synced it.
    if (store_->durable_version() > reported_durable_) {
      reported_durable_ = store_->durable_version();
      options_.recovery->durable(options_.index, reported_durable_);
    }
  }
  for (const auto& step : {std::function<Result<int>()>(keys), std::function<Result<int>()>(aged),
                           std::function<Result<int>()>(intents)}) {
    for (;;) {
      auto removed = step();
      if (!removed.ok()) {
        spdlog::warn("shard {}: {}", options_.index, removed.status().ToString());
        break;
      }
      if (*removed < kSweepBatch) break;
      std::lock_guard<std::mutex> lock(mu_);
      if (!queue_.empty() || stopping_) return;  // requests first; the rest goes next idle turn
    }
  }
}

}  // namespace litestash
