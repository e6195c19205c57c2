#include "shard/shard_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <thread>

#include "shard/checkpointer.h"
#include "shard/shard_vfs.h"
#include "shard/snapshot_copy.h"
#include "shard/sqlite_error.h"
#include "shard/txn_recovery.h"

namespace litestash {
namespace {

// PRAGMA auto_vacuum's answers.
constexpr uint64_t kAutoVacuumNone = 0;
constexpr uint64_t kAutoVacuumIncremental = 2;

}  // namespace

const char* SyncPragma(SyncMode mode) {
  switch (mode) {
    case SyncMode::kOff:
      return "PRAGMA synchronous=OFF";
    case SyncMode::kNormal:
      return "PRAGMA synchronous=NORMAL";
    case SyncMode::kFull:
      return "PRAGMA synchronous=FULL";
  }
  return "PRAGMA synchronous=FULL";
}

Clock Clock::Now() {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return Clock{us / 1000, us};
}

int64_t Clock::ExpiresAt(uint64_t ttl_ms) const {
  const uint64_t room = static_cast<uint64_t>(std::numeric_limits<int64_t>::max() - now_ms);
  return ttl_ms >= room ? std::numeric_limits<int64_t>::max()
                        : now_ms + static_cast<int64_t>(ttl_ms);
}

ShardStore::ShardStore(const ShardOptions& options)
    : options_(options),
      name_(options.in_memory ? "memory shard " + std::to_string(options.index)
                              : options.path.substr(options.path.find_last_of('/') + 1)) {}

ShardStore::~ShardStore() {
  // close_v2 defers the real close until the members' destructors have finalized every
  // statement, so no statement outlives its connection.
  sqlite3_close_v2(db_);
}

void ShardStore::SetBusyTimeout(int ms) {
  busy_timeout_ms_ = ms;
  sqlite3_busy_handler(db_, ms > 0 ? &ShardStore::OnBusy : nullptr, this);
}

int ShardStore::OnBusy(void* arg, int count) {
  // SQLite's own timeout handler sleeps 1, 2, 5, 10, 15, 20, 25 ... ms between tries: a lock
  // held for 1 ms (another engine's commit, the checkpointer's short FULL step) cost a waiting
  // writer 8 ms, which was the 99th percentile of pipelined sets. Here the first 20 ms are
  // retried every 100 us, later ones every 2 ms, up to the busy timeout.
  auto* self = static_cast<ShardStore*>(arg);
  const auto now = std::chrono::steady_clock::now();
  if (count == 0) self->busy_since_ = now;
  const auto waited = now - self->busy_since_;
  if (waited >= std::chrono::milliseconds(self->busy_timeout_ms_)) return 0;
  std::this_thread::sleep_for(waited < std::chrono::milliseconds(20)
                                  ? std::chrono::microseconds(100)
                                  : std::chrono::microseconds(2000));
  return 1;
}

Status ShardStore::SqlError(std::string_view what, int rc) const {
  return SqliteStatus(db_, name_, what, rc);
}

Status ShardStore::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return SqlError(sql, rc);
  return Status::Ok();
}

Result<std::unique_ptr<ShardStore>> ShardStore::Open(const ShardOptions& options) {
  std::unique_ptr<ShardStore> store(new ShardStore(options));
  LITESTASH_RETURN_IF_ERROR(store->Init());
  return store;
}

Status ShardStore::Init() {
  const bool read_only = options_.read_only && !options_.in_memory;
  // A new (absent or empty) file needs no fsync until its layout exists: if power fails before
  // then, the file is simply empty again and is created at the next start.
  std::error_code ec;
  const bool fresh = !options_.in_memory && !read_only &&
                     (!std::filesystem::exists(options_.path, ec) ||
                      std::filesystem::file_size(options_.path, ec) == 0);
  const int flags =
      (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
      SQLITE_OPEN_NOMUTEX;
  const char* path = options_.in_memory ? ":memory:" : options_.path.c_str();
  const char* vfs = options_.vfs.empty() ? nullptr : options_.vfs.c_str();
  if (!options_.in_memory && options_.shard_vfs) {
    // An unknown base stays as named: sqlite3_open_v2 then fails with "no such vfs".
    if (const char* wrapped = ShardVfs::Register(vfs)) vfs = wrapped;
  }
  int rc = sqlite3_open_v2(path, &db_, flags, vfs);
  if (rc != SQLITE_OK) {
    Status st = SqlError(read_only ? "cannot open for reading" : "cannot open or create", rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    return st;
  }
  sqlite3_extended_result_codes(db_, 1);
  SetBusyTimeout(options_.busy_timeout_ms);
  if (!read_only) {
    // Takes effect only on a file with no table yet (a new shard): freed pages can then be
    // given back to the file system in steps (PRAGMA incremental_vacuum). An existing file is
    // asked first, since setting it again rewrites the header page: a WAL write on every open.
    bool set_vacuum = fresh;
    if (!fresh) {
      auto mode = PragmaInt("PRAGMA auto_vacuum");
      if (!mode.ok()) return mode.status();
      set_vacuum = *mode != kAutoVacuumIncremental;
    }
    if (set_vacuum) LITESTASH_RETURN_IF_ERROR(Exec("PRAGMA auto_vacuum=INCREMENTAL"));
    LITESTASH_RETURN_IF_ERROR(Exec(fresh ? "PRAGMA synchronous=OFF" : SyncPragma(options_.sync)));
  }
  if (!options_.in_memory && !read_only) {
    // Switching to WAL needs a moment of exclusive access; engines starting together on a new
    // data dir may collide, and the busy handler does not cover every case of it.
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.busy_timeout_ms);
    for (;;) {
      char* err = nullptr;
      rc = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, &err);
      sqlite3_free(err);
      if ((rc & 0xFF) != SQLITE_BUSY && (rc & 0xFF) != SQLITE_LOCKED) break;
      if (std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (rc != SQLITE_OK) return SqlError("enabling WAL", rc);
    if (options_.checkpointer != nullptr) options_.checkpointer->Watch(db_, options_.index);
  }
  const std::string cache = "PRAGMA cache_size=-" + std::to_string(options_.cache_kib);
  LITESTASH_RETURN_IF_ERROR(Exec(cache.c_str()));
  if (!options_.in_memory && options_.mmap_bytes > 0) {
    const std::string mmap = "PRAGMA mmap_size=" + std::to_string(options_.mmap_bytes);
    LITESTASH_RETURN_IF_ERROR(Exec(mmap.c_str()));
  }
  const auto steps = options_.migrations.empty() ? StandardMigrations() : options_.migrations;
  const ShardIdentity identity{options_.index, options_.count};
  if (read_only) {
    LITESTASH_RETURN_IF_ERROR(VerifyLayout(db_, name_, identity, steps.back().layout));
  } else {
    LITESTASH_RETURN_IF_ERROR(Migrate(db_, name_, identity, steps));
  }
  LITESTASH_RETURN_IF_ERROR(meta_.Prepare(db_, name_));
  if (!read_only && options_.keep_versions) LITESTASH_RETURN_IF_ERROR(RecordDepth());
  LITESTASH_RETURN_IF_ERROR(ReadDepth());
  return fresh ? Exec(SyncPragma(options_.sync)) : Status::Ok();
}

Status ShardStore::RecordDepth() {
  const auto depth = static_cast<int64_t>(*options_.keep_versions);
  LITESTASH_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto recorded = meta_.Get("keep_versions");
  Status st = recorded.status();
  if (st.ok() && recorded->value_or(0) != depth) {
    st = meta_.Set("keep_versions", depth);
    if (st.ok() && options_.index == 0) {
      spdlog::info("history depth of the data dir: {} -> {}", recorded->value_or(0), depth);
    }
  }
  if (st.ok()) st = Exec("COMMIT");
  if (!st.ok() && sqlite3_get_autocommit(db_) == 0)
    (void)Exec("ROLLBACK");  // statements unprepared
  return st.ok() ? Status::Ok() : st.WithContext("recording keep_versions");
}

Status ShardStore::PrepareStatements() {
  LITESTASH_RETURN_IF_ERROR(kv_.Prepare(db_, name_));
  LITESTASH_RETURN_IF_ERROR(expiry_.Prepare(db_, name_));
  LITESTASH_RETURN_IF_ERROR(streams_.Prepare(db_, name_));
  LITESTASH_RETURN_IF_ERROR(history_.Prepare(db_, name_));
  LITESTASH_RETURN_IF_ERROR(txns_.Prepare(db_, name_));
  return litestash::PrepareStatements(db_, name_,
                                      {
                                          {&begin_read_, "BEGIN"},
                                          {&begin_write_, "BEGIN IMMEDIATE"},
                                          {&commit_, "COMMIT"},
                                          {&rollback_, "ROLLBACK"},
                                          {&data_version_, "PRAGMA data_version"},
                                      });
}

Status ShardStore::Begin(bool write, bool wait) {
  StatementUse use(write ? begin_write_ : begin_read_);
  if (!wait) SetBusyTimeout(0);
  int rc = use.Step();
  if (!wait) SetBusyTimeout(options_.busy_timeout_ms);
  if (rc != SQLITE_DONE) return SqlError(write ? "BEGIN IMMEDIATE" : "BEGIN", rc);
  in_write_txn_ = write;
  ForgetTransactionState();
  if (!write) return Status::Ok();
  Status st = ReadClockAndDepth();
  if (st.ok() && options_.recovery && !recovering_) {
    // Whatever a dead engine left half done here is finished before anything else is written.
    recovering_ = true;
    st = ResolvePending(*this, options_.index, *options_.recovery);
    recovering_ = false;
  }
  if (!st.ok()) Rollback();
  return st;
}

Status ShardStore::ReadClockAndDepth() {
  if (carried_ && FileDataVersion() == carried_->data_version) {
    last_version_ = carried_->last_version;
    stored_version_ = carried_->stored_version;
    exact_versions_ = false;
    keep_versions_ = carried_->keep_versions;
    history_rows_ = carried_->history_rows;
    expiry_rows_ = carried_->expiry_rows;
    return Status::Ok();
  }
  carried_.reset();
  auto last = meta_.Get("last_version");
  if (!last.ok()) return last.status();
  // A ceiling: the versions handed out here start above it (see Versions in the header).
  last_version_ = static_cast<uint64_t>(last->value_or(0));
  stored_version_ = last_version_;
  exact_versions_ = true;
  auto depth = meta_.Get("keep_versions");
  if (!depth.ok()) return depth.status();
  keep_versions_ =
      static_cast<uint32_t>(std::clamp<int64_t>(depth->value_or(0), 0, kKeepAllVersions));
  return Status::Ok();
}

Status ShardStore::ReadDepth() {
  LITESTASH_RETURN_IF_ERROR(Exec("BEGIN"));
  auto depth = meta_.Get("keep_versions");
  LITESTASH_RETURN_IF_ERROR(Exec("ROLLBACK"));
  if (!depth.ok()) return depth.status();
  keep_versions_ =
      static_cast<uint32_t>(std::clamp<int64_t>(depth->value_or(0), 0, kKeepAllVersions));
  return Status::Ok();
}

uint64_t ShardStore::PagesWritten() {
  int current = 0, highwater = 0;
  if (sqlite3_db_status(db_, SQLITE_DBSTATUS_CACHE_WRITE, &current, &highwater, /*reset=*/1) ==
          SQLITE_OK &&
      current > 0) {
    pages_written_ += static_cast<uint64_t>(current);
  }
  return pages_written_;
}

Status ShardStore::Commit() {
  if (in_write_txn_) LITESTASH_RETURN_IF_ERROR(streams_.FlushMeta());
  // The stored ceiling moves only when this transaction's versions passed it (one page less
  // per commit in a run of commits): exactly, or a lease ahead while this is the only writer.
  // A write transaction begins with last_version_ <= stored_version_ (each commit leaves it so,
  // and a read of meta sets both), so only versions handed out since can pass it.
  uint64_t stored = stored_version_;
  if (in_write_txn_ && last_version_ > stored_version_) {
    stored = exact_versions_
                 ? last_version_
                 : std::max(last_version_, static_cast<uint64_t>(lease_base_us_) + kVersionLease);
    LITESTASH_RETURN_IF_ERROR(meta_.Set("last_version", static_cast<int64_t>(stored)));
  }
  StatementUse use(commit_);
  int rc = use.Step();
  if (rc != SQLITE_DONE) return SqlError("COMMIT", rc);
  if (in_write_txn_) {
    stored_version_ = stored;
    (void)PagesWritten();
    // Read after the commit, which moved it: the next Begin(true) finds it unchanged only if
    // nothing else committed in between.
    const auto data_version = FileDataVersion();
    carried_.reset();
    if (data_version) {
      carried_ = Carried{*data_version,  last_version_, stored_version_,
                         keep_versions_, history_rows_, expiry_rows_};
    }
  }
  in_write_txn_ = false;
  return Status::Ok();
}

std::optional<unsigned> ShardStore::FileDataVersion() {
  unsigned version = 0;
  if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_DATA_VERSION, &version) != SQLITE_OK) {
    return std::nullopt;
  }
  return version;
}

void ShardStore::Rollback() {
  if (sqlite3_get_autocommit(db_) == 0) {
    StatementUse use(rollback_);
    use.Step();
  }
  in_write_txn_ = false;
  carried_.reset();
  ForgetTransactionState();
}

void ShardStore::ForgetTransactionState() {
  history_rows_.reset();
  expiry_rows_.reset();
  streams_.Forget();
}

void ShardStore::SetLastVersion(uint64_t version) {
  if (version > last_version_) last_version_ = version;
}

Status ShardStore::Savepoint(std::string_view name) {
  // Cached stream state goes to its tables first, so a rollback to here loses none of it.
  LITESTASH_RETURN_IF_ERROR(streams_.FlushMeta());
  return Exec(("SAVEPOINT " + std::string(name)).c_str());
}

Status ShardStore::RollbackToSavepoint(std::string_view name) {
  const std::string n(name);
  LITESTASH_RETURN_IF_ERROR(Exec(("ROLLBACK TO " + n).c_str()));
  ForgetTransactionState();
  return Exec(("RELEASE " + n).c_str());
}

Status ShardStore::ReleaseSavepoint(std::string_view name) {
  return Exec(("RELEASE " + std::string(name)).c_str());
}

Status ShardStore::SetDurableCommits(bool durable) {
  if (options_.in_memory) return Status::Ok();
  return Exec(durable ? "PRAGMA synchronous=FULL" : SyncPragma(options_.sync));
}

Result<uint64_t> ShardStore::PragmaInt(const char* pragma) {
  Statement stmt;
  int rc = stmt.Prepare(db_, pragma);
  if (rc != SQLITE_OK) return SqlError(pragma, rc);
  StatementUse use(stmt);
  rc = use.Step();
  if (rc != SQLITE_ROW) return SqlError(pragma, rc);
  return static_cast<uint64_t>(use.ColumnInt(0));
}

Result<uint64_t> ShardStore::FileBytes() {
  auto pages = PragmaInt("PRAGMA page_count");
  if (!pages.ok()) return pages.status();
  auto size = PragmaInt("PRAGMA page_size");
  if (!size.ok()) return size.status();
  return *pages * *size;
}

Result<uint64_t> ShardStore::IncrementalVacuum(uint64_t pages) {
  LITESTASH_RETURN_IF_ERROR(
      Exec(("PRAGMA incremental_vacuum(" + std::to_string(pages) + ")").c_str()));
  return PragmaInt("PRAGMA freelist_count");
}

Result<bool> ShardStore::NeedsVacuumConversion() {
  if (options_.in_memory) return false;
  auto mode = PragmaInt("PRAGMA auto_vacuum");
  if (!mode.ok()) return mode.status();
  return *mode == kAutoVacuumNone;
}

Status ShardStore::ConvertToIncremental() {
  LITESTASH_RETURN_IF_ERROR(Exec("PRAGMA auto_vacuum=INCREMENTAL"));
  return Exec("VACUUM");
}

Status ShardStore::CopyTo(const std::string& path) { return CopyDatabase(db_, name_, path); }

uint64_t ShardStore::NextVersion(const Clock& clock) {
  const uint64_t now = static_cast<uint64_t>(clock.now_us);
  last_version_ = now > last_version_ ? now : last_version_ + 1;
  lease_base_us_ = clock.now_us;
  return last_version_;
}

uint64_t ShardStore::NextPartVersion(const Clock& clock) {
  NextVersion(clock);
  if (last_version_ <= stored_version_) last_version_ = stored_version_ + 1;
  // Stored exactly, so the next part (a run of multi-shard writes) need not jump again.
  exact_versions_ = true;
  return last_version_;
}

Result<int64_t> ShardStore::DataVersion() {
  StatementUse use(data_version_);
  int rc = use.Step();
  if (rc != SQLITE_ROW) return SqlError("reading data_version", rc);
  return use.ColumnInt(0);
}

Status ShardStore::SyncToDisk() {
  auto synced = SyncCommitted();
  if (!synced.ok()) return synced.status();
  // Then move the WAL into the database file where no reader is in the way (best effort).
  if (!options_.in_memory) {
    sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  }
  return Status::Ok();
}

Result<uint64_t> ShardStore::SyncCommitted() {
  // A commit made under synchronous=FULL fsyncs the WAL, and with it every earlier commit. A
  // passive checkpoint alone is not enough: when another process's read transaction keeps it
  // from copying any frame, it skips the fsync and would report success with nothing synced.
  LITESTASH_RETURN_IF_ERROR(SetDurableCommits(true));
  Status st = Begin(true);
  const uint64_t last = last_version_;
  // The row must really change: SQLite does not write a row whose bytes are unchanged, and a
  // commit with nothing to write fsyncs nothing.
  if (st.ok() && !options_.in_memory) st = meta_.Increment("sync_count");
  if (st.ok()) st = Commit();
  if (!st.ok()) Rollback();
  Status restored = SetDurableCommits(false);
  LITESTASH_RETURN_IF_ERROR(st);
  LITESTASH_RETURN_IF_ERROR(restored);
  unsynced_ = false;
  durable_version_ = std::max(durable_version_, last);
  return last;
}

Status ShardStore::CheckpointPassive() {
  if (options_.in_memory) return Status::Ok();
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  if (rc != SQLITE_OK && (rc & 0xFF) != SQLITE_BUSY) return SqlError("checkpoint", rc);
  return Status::Ok();
}

Status ShardStore::Checkpoint() {
  if (options_.in_memory || options_.read_only) return Status::Ok();
  // Called as the store closes: wait a little for readers, not the whole busy timeout.
  SetBusyTimeout(std::min(options_.busy_timeout_ms, 1000));
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  // Another process reading the file can hold the WAL open; that is not an error for us.
  if (rc != SQLITE_OK && (rc & 0xFF) != SQLITE_BUSY) return SqlError("checkpoint", rc);
  return Status::Ok();
}

}  // namespace litestash
