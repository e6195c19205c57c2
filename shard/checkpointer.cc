#include "shard/checkpointer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <filesystem>

#include "shard/shard_store.h"
#include "shard/sqlite_error.h"

namespace litestash {
namespace {

std::string FileName(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

}  // namespace

Checkpointer::Checkpointer(std::vector<std::string> paths, SyncMode sync,
                           CheckpointerOptions options)
    : paths_(std::move(paths)),
      sync_(sync),
      options_(options),
      flagged_(paths_.size(), false),
      conns_(paths_.size(), nullptr) {
  for (uint32_t i = 0; i < paths_.size(); ++i) {
    hooks_.push_back(std::make_unique<HookContext>());
    hooks_.back()->self = this;
    hooks_.back()->index = i;
  }
  thread_ = std::thread(&Checkpointer::Main, this);
}

Checkpointer::~Checkpointer() { Stop(); }

void Checkpointer::Watch(sqlite3* db, uint32_t index) {
  if (index >= hooks_.size()) return;
  sqlite3_wal_hook(db, &Checkpointer::OnCommit, hooks_[index].get());
  // When the log restarts, its file is cut back to the trigger's size (not to zero: reusing the
  // file is cheaper than growing it again).
  const std::string limit = "PRAGMA journal_size_limit=" +
                            std::to_string(static_cast<int64_t>(options_.trigger_pages) * 4096);
  sqlite3_exec(db, limit.c_str(), nullptr, nullptr, nullptr);
}

void Checkpointer::Unwatch(sqlite3* db) {
  sqlite3_wal_hook(db, nullptr, nullptr);
  sqlite3_wal_autocheckpoint(db, 1000);
}

int Checkpointer::OnCommit(void* arg, sqlite3* db, const char* name, int frames) {
  auto* hook = static_cast<HookContext*>(arg);
  Checkpointer* self = hook->self;
  hook->frames.store(frames, std::memory_order_relaxed);
  if (frames >= self->options_.hard_limit_pages) {
    // The checkpointer has fallen behind: this commit pays for bounding the log.
    self->counters_.inline_runs.fetch_add(1, std::memory_order_relaxed);
    int copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, &copied);
    if (rc != SQLITE_OK && (rc & 0xFF) != SQLITE_BUSY) {
      self->counters_.errors.fetch_add(1, std::memory_order_relaxed);
    }
    (void)copied;
    return SQLITE_OK;
  }
  // Frames not yet copied: readers must look them up in the log (and read them with a system
  // call rather than through the file's map), so they are copied long before the log restarts.
  const int copied = hook->copied.load(std::memory_order_relaxed);
  const int pending = frames >= copied ? frames - copied : frames;  // less: the log started over
  if (frames >= self->options_.trigger_pages ||
      pending >= std::min(self->options_.copy_pages, self->options_.trigger_pages)) {
    self->Request(hook->index);
  }
  return SQLITE_OK;
}

void Checkpointer::Request(uint32_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || flagged_[index]) return;
  flagged_[index] = true;
  cv_.notify_one();
}

void Checkpointer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Checkpointer::Main() {
  // Per shard, the log's length at the last idle check (checkpointer thread only).
  std::vector<int> idle_seen(paths_.size(), -1);
  for (;;) {
    std::vector<uint32_t> work;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const bool woken = cv_.wait_for(lock, std::chrono::milliseconds(options_.idle_ms), [this] {
        if (stopping_) return true;
        for (bool f : flagged_) {
          if (f) return true;
        }
        return false;
      });
      if (stopping_) break;
      for (uint32_t i = 0; i < flagged_.size(); ++i) {
        if (flagged_[i]) work.push_back(i);
      }
      if (!woken) {
        // No trigger for a while: copy what shards that stopped committing left in their logs,
        // so that their readers find every page in the file.
        for (uint32_t i = 0; i < hooks_.size(); ++i) {
          const int frames = hooks_[i]->frames.load(std::memory_order_relaxed);
          const int copied = hooks_[i]->copied.load(std::memory_order_relaxed);
          if (frames != copied && frames == idle_seen[i]) work.push_back(i);
          idle_seen[i] = frames;
        }
      }
    }
    for (uint32_t i : work) {
      Run(i);
      // Cleared after the run: commits during it must not queue the same shard again at once.
      std::lock_guard<std::mutex> lock(mu_);
      flagged_[i] = false;
    }
  }
  for (sqlite3*& db : conns_) {
    sqlite3_close_v2(db);
    db = nullptr;
  }
}

Status Checkpointer::Open(uint32_t index) {
  sqlite3* db = nullptr;
  // Read-write (a checkpoint writes the file) but never create: the shard thread made the file.
  int rc = sqlite3_open_v2(paths_[index].c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  Status st;
  if (rc != SQLITE_OK) {
    st = SqliteStatus(db, FileName(paths_[index]), "checkpointer cannot open", rc);
    sqlite3_close_v2(db);
    return st;
  }
  sqlite3_extended_result_codes(db, 1);
  // No autocheckpoint of its own (it never commits), the shard's sync mode for the copies, and a
  // first read so the connection has opened the WAL before the first checkpoint.
  // A checkpoint copies frames without the page cache: keep that cache small.
  const char* setup[] = {"PRAGMA wal_autocheckpoint=0", "PRAGMA cache_size=-64", SyncPragma(sync_),
                         "SELECT 1 FROM sqlite_master LIMIT 1"};
  for (const char* sql : setup) {
    rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      st = SqliteStatus(db, FileName(paths_[index]), "checkpointer set-up", rc);
      sqlite3_close_v2(db);
      return st;
    }
  }
  sqlite3_busy_timeout(db, options_.full_wait_ms);
  conns_[index] = db;
  return Status::Ok();
}

void Checkpointer::Run(uint32_t index) {
  if (conns_[index] == nullptr) {
    Status st = Open(index);
    if (!st.ok()) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("{}", st.ToString());
      return;
    }
  }
  sqlite3* db = conns_[index];
  auto checkpoint = [&](int mode, int* log, int* copied) {
    int rc = sqlite3_wal_checkpoint_v2(db, nullptr, mode, log, copied);
    if ((rc & 0xFF) == SQLITE_BUSY || (rc & 0xFF) == SQLITE_LOCKED) {
      counters_.busy.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (rc != SQLITE_OK) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("{}", SqliteStatus(db, FileName(paths_[index]), "checkpoint", rc).ToString());
      return false;
    }
    return true;
  };
  // Step 1: passive passes. Commits go on during each, and the log starts over only once a
  // checkpoint has copied all of it: so passes repeat while the tail committed during the last
  // one is long and shrinking (each copies less than the one before).
  int log = 0;
  int copied = 0;
  int tail = INT_MAX;
  for (int pass = 1;; ++pass) {
    if (!checkpoint(SQLITE_CHECKPOINT_PASSIVE, &log, &copied)) return;
    counters_.passive.fetch_add(1, std::memory_order_relaxed);
    hooks_[index]->copied.store(copied, std::memory_order_relaxed);
    const int latest = hooks_[index]->frames.load(std::memory_order_relaxed);
    // Short of the restart length: copying was all this run was for.
    if (latest < options_.trigger_pages) return;
    // All copied and nothing committed since (or the log already started over): the next write
    // transaction starts the log from its beginning.
    if (copied >= log && latest <= log) return;
    const int left = latest - copied;
    if (left <= options_.tail_frames || left >= tail || pass >= options_.max_passes) break;
    tail = left;
  }
  // Step 2: the tail under the write lock (FULL), so that the log can start over.
  if (!checkpoint(SQLITE_CHECKPOINT_FULL, &log, &copied)) return;
  if (copied >= log) counters_.restarts.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace litestash
