// Checkpointer: copies the shards' write-ahead logs back into their files on a thread of its
// own, so that no commit waits for a checkpoint.
//
// SQLite's default (wal_autocheckpoint=1000) checkpoints inside the commit that crossed the
// threshold: that commit's caller waits for ~1000 pages to be copied and for two fsyncs (20-28
// ms at the 99th percentile of pipelined sets on this machine). Here each shard's writing
// connection gets a WAL hook instead (Watch()), and the checkpointer thread does two things
// over a connection of its own to each file:
//
//  - Copying. A commit that leaves `copy_pages` frames not yet copied flags the shard, and so
//    does a shard that stopped committing with frames left (checked every `idle_ms`). Frames
//    not yet copied cost every reader: a page found in the log is looked up in the wal-index and
//    read with a system call, while one in the file is read through its memory map. The
//    checkpointer then runs step 1 alone.
//  - Restarting. A commit that leaves the log at or above `trigger_pages` flags the shard for
//    steps 1 and 2, so that the log starts over from its beginning.
//
//   1. PASSIVE checkpoints: each copies every frame no reader still needs while commits go on
//      (it takes no lock a writer or reader waits for). SQLite starts the log over only at a
//      write that finds all of it copied, and commits keep arriving during a pass, so for a
//      restart passes repeat while the frames committed during the last one are more than
//      `tail_frames` and fewer than the pass before (at most `max_passes`);
//   2. if frames are left, a FULL checkpoint: it holds the write lock for that short tail and
//      the syncs, so that the next write transaction starts the log from its beginning. It
//      waits for the lock through SQLite's busy handler; if a reader of any process holds an
//      old snapshot it gives up (SQLITE_BUSY) and the next trigger tries again.
//
// Found by measurement (docs/performance.md, "Checkpoints that let the WAL start over"): with
// one pass and step 2 only when the pass reported frames it could not copy, step 2 never ran
// under steady load (SQLite reports the log as it was when the checkpoint began), and the log
// grew to the hard limit before it restarted. Every restart costs syncs beside the commit path,
// so restarts are kept rare (a long log) while copying stays frequent (reads).
//
// Bounded WAL: the log restarts after each step 2, and the file is cut back to `trigger_pages`
// when it does (journal_size_limit, set by Watch() on the writing connection). If the
// checkpointer cannot keep up (a slow disk; readers that never let a checkpoint finish) and the
// log reaches `hard_limit_pages`, the committing connection checkpoints passively itself in its
// hook: only then does a commit wait for a whole log, and the log cannot outgrow the limit by
// more than what one passive checkpoint could not copy.
//
// Several processes: each engine has its own checkpointer, and each checkpoints only when its
// own commits trigger it. SQLite serializes checkpoints of one file (a second gets SQLITE_BUSY,
// which counts as skipped); a FULL checkpoint waits at most `full_wait_ms` for other engines'
// writers and readers. Checkpointing never changes what any reader sees.
//
// Durability is unchanged: a checkpoint copies committed frames only, syncing as the shard's
// sync mode says (the checkpointer's connections use the same `synchronous` setting).
//
// Ownership and threads: Watch()/Unwatch() are called by the thread that owns the writing
// connection (the shard thread). The hook runs on that thread too and only takes a mutex.
// The checkpointer's own connections are opened, used and closed by its thread only. Stop()
// (also the destructor) ends the thread and closes its connections; call it before the shard
// connections close, so the last connection to each file is the shard's (it can then remove the
// WAL at shutdown).
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace litestash {

enum class SyncMode;

struct CheckpointerOptions {
  int trigger_pages = 4000;      // a log this long is started over (steps 1 and 2)
  int copy_pages = 1000;         // this many frames not yet copied start step 1 alone
  int idle_ms = 50;              // a shard with no commit for this long gets its log copied
  int hard_limit_pages = 16000;  // the committing connection checkpoints itself from here on
  int full_wait_ms = 5;          // how long step 2 waits for a writer or an old reader
  int tail_frames = 64;          // step 1 repeats until at most this many frames are left,
  int max_passes = 4;            // or this many passes ran, or the tail stops shrinking
};

// What the checkpointer did so far (stats; tests).
struct CheckpointerCounters {
  std::atomic<uint64_t> passive{0};      // step 1 runs
  std::atomic<uint64_t> restarts{0};     // step 2 runs that emptied the log
  std::atomic<uint64_t> busy{0};         // checkpoints skipped: another one, or a reader
  std::atomic<uint64_t> inline_runs{0};  // hard-limit checkpoints in a committing connection
  std::atomic<uint64_t> errors{0};       // failures (logged)
};

class Checkpointer {
 public:
  // `paths`: the shard files, by shard index. `sync`: the shards' sync mode.
  Checkpointer(std::vector<std::string> paths, SyncMode sync, CheckpointerOptions options = {});
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Installs the WAL hook on shard `index`'s writing connection `db` (replacing SQLite's
  // autocheckpoint) and bounds its log file. The hook stays until Unwatch() or the connection
  // closes; the checkpointer must outlive it.
  void Watch(sqlite3* db, uint32_t index);
  // Removes the hook again and restores SQLite's own autocheckpoint (e.g. before the
  // connection's last, closing checkpoint).
  static void Unwatch(sqlite3* db);

  // Ends the thread and closes the checkpointer's connections. Later triggers are ignored (the
  // hard limit still applies in the committing connection).
  void Stop();

  const CheckpointerCounters& counters() const { return counters_; }

 private:
  struct HookContext {
    Checkpointer* self;
    uint32_t index;
    // Frames in the log after the shard's latest commit: written by the shard thread in the
    // hook, read by the checkpointer thread to see what arrived while it copied.
    std::atomic<int> frames{0};
    // Frames of the log copied into the file by the checkpointer's last pass (its thread writes,
    // the hook reads): what a commit leaves beyond it is not yet copied.
    std::atomic<int> copied{0};
  };
  static int OnCommit(void* arg, sqlite3* db, const char* name, int frames);
  void Request(uint32_t index);
  void Main();
  // Steps 1 and 2 for one shard, on the checkpointer thread.
  void Run(uint32_t index);
  Status Open(uint32_t index);

  const std::vector<std::string> paths_;
  const SyncMode sync_;
  const CheckpointerOptions options_;
  CheckpointerCounters counters_;

  std::vector<std::unique_ptr<HookContext>> hooks_;  // one per shard; fixed after construction

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bool> flagged_;  // guarded by mu_: shards waiting for a checkpoint
  bool stopping_ = false;      // guarded by mu_

  std::vector<sqlite3*> conns_;  // checkpointer thread only: its connection per shard, or null
  std::thread thread_;
};

}  // namespace litestash
