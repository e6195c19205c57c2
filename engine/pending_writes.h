// PendingWrites: per shard, the writing tasks that have been queued and are not yet Done (that
// is, not yet committed or failed).
//
// The reader thread may answer a keyed read itself (Dispatcher's read fast path) only when its
// shard has no pending write: then every earlier request in the stream that could change the
// key has committed, so a fresh read transaction sees it, and pipelined read-your-writes holds.
// Only the reader thread adds; shard threads finish. The release/acquire pair makes the
// commit visible to the reader before the count drops.
//
// Thread-safety: all methods are safe from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace litestash {

class PendingWrites {
 public:
  explicit PendingWrites(uint32_t shards)
      : counts_(std::make_unique<std::atomic<int64_t>[]>(shards)) {}

  void Add(uint32_t shard) { counts_[shard].fetch_add(1, std::memory_order_relaxed); }
  void Finish(uint32_t shard) { counts_[shard].fetch_sub(1, std::memory_order_release); }
  bool None(uint32_t shard) const { return counts_[shard].load(std::memory_order_acquire) == 0; }

 private:
  std::unique_ptr<std::atomic<int64_t>[]> counts_;
};

}  // namespace litestash
