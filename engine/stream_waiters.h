// StreamWaiters: blocking reads (`xread` with `wait_ms`) parked until their stream may have new
// entries, their deadline passes, or the engine stops.
//
// A parked read holds no thread, lock or transaction: it is a record here (its request, shard,
// deadline, and the wal-index header of its shard file read just before the read that found
// nothing). One thread of its own hands a read back to its shard (the Rerun callback queues it
// as a task that runs the op again) when:
//   - an append to its stream committed in this engine (Appended(), called by the appending
//     task after its commit): at once;
//   - its shard file's wal-index header differs from the one noted before its read: some
//     connection, of this process or another engine process, committed to the file since. The
//     header is read from the mapped `-shm` (engine/wal_index_watch.h) every kPollInterval while
//     reads are parked on the shard: another process's append is seen within that interval;
//   - its deadline passed, or Stop() was called: handed back as final (answered with whatever
//     exists, possibly nothing).
// A read handed back runs on its shard thread and either answers or parks again with a fresh
// header (nothing new for it yet). Noting the header before the read and comparing it after the
// park means no append can slip between a read and its park unseen.
//
// Limits: at most `max_parked` reads wait at once; Park() refuses beyond (the caller answers at
// once, as if wait_ms were 0) and after Stop(). Parked reads do not count as in-flight frames:
// the caller releases the frame when it parks a read the first time and counts it again when it
// answers it.
//
// Thread-safety: every method from any thread. The rerun callback is called on the waiters'
// thread (or in Stop(), on the caller's), never with the internal lock held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/blake2b.h"
#include "engine/fanout_op.h"
#include "engine/wal_index_watch.h"

namespace litestash {

// Why a parked read is run again.
struct WaitState {
  int64_t deadline_ms = 0;  // Unix ms after which the read answers with what exists
  bool final = false;       // answer now, whatever exists (deadline passed, or shutdown)
};

struct ParkedRead {
  SharedRequest request;
  Digest digest{};
  uint32_t shard = 0;
  std::string stream;  // the routed stream name (a copy: the request may be nested)
  int64_t deadline_ms = 0;
  WalIndexWatch::Header mark{};
  bool mark_ok = false;  // false: no header was readable (any poll reruns it)
};

class StreamWaiters {
 public:
  static constexpr std::chrono::milliseconds kPollInterval{2};
  using Rerun = std::function<void(ParkedRead read, WaitState state)>;

  // `shard_paths`: the shard files, by index (empty for --memory: no other process, no poll).
  StreamWaiters(size_t max_parked, uint32_t shards, std::vector<std::string> shard_paths,
                Rerun rerun);
  ~StreamWaiters();
  StreamWaiters(const StreamWaiters&) = delete;
  StreamWaiters& operator=(const StreamWaiters&) = delete;

  void Start();
  // Hands every parked read back as final, refuses new parks, ends the thread. Call before the
  // shard threads stop, so the reads are answered by them. Idempotent.
  void Stop();

  // The shard file's wal-index header now (false: none readable). Read it before the read whose
  // result decides to park.
  bool Mark(uint32_t shard, WalIndexWatch::Header* header);
  // Parks `read`; false if the bound is reached or the waiters are stopping.
  bool Park(ParkedRead read);
  // An append to `stream` on `shard` committed in this engine.
  void Appended(uint32_t shard, std::string_view stream);

  size_t parked() const;

 private:
  void Main();
  // Takes out (under mu_) the reads due to run again now; `poll` also compares headers.
  void CollectDue(bool poll, std::vector<std::pair<ParkedRead, WaitState>>* due);

  const size_t max_parked_;
  const std::vector<std::string> paths_;
  const Rerun rerun_;
  std::vector<std::unique_ptr<WalIndexWatch>> watches_;  // by shard; mapped on first Mark
  std::mutex watch_mu_;                                  // guards mapping watches_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<ParkedRead>> parked_;           // guarded by mu_: by shard
  std::vector<std::pair<uint32_t, std::string>> appended_;  // guarded by mu_: not yet handled
  size_t count_ = 0;                                        // guarded by mu_
  uint64_t parks_ = 0;  // guarded by mu_: bumped by each Park (the sleep may need shortening)
  bool stopping_ = false;                                   // guarded by mu_
  std::thread thread_;
};

}  // namespace litestash
