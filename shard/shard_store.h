// ShardStore: one shard's SQLite file (or in-memory database): its connection, layout,
// transactions, version clock, and the key operations built on its tables (KvTable,
// ExpiryTable, MetaTable, StreamTable; each owns its statements). Stream operations are
// shard/stream_ops.h, over streams().
//
// Opening. A read-write store (a shard thread's) brings the file to this engine's layout with
// the migration steps (shard/migrations.h) and puts it in WAL mode. A read-only store (the
// reader thread's, ShardOptions::read_only) opens the file SQLITE_OPEN_READONLY, checks it is a
// shard of this identity at the current layout, and never creates or changes anything.
//
// Versions: microseconds since the epoch, strictly increasing per shard. What a write
// transaction begins with (the clock, the depth, whether history and expiry have rows) is
// carried over from this connection's last write commit instead of read again while no
// connection of any process has committed to the file since: SQLite's data version of the file
// (SQLITE_FCNTL_DATA_VERSION) moves with every commit, this connection's included, and is read
// under the write lock. Otherwise it is read from meta (under SQLite's write lock, so other
// processes on the same file are ordered too).
//
// The stored clock (meta `last_version`) is a ceiling: no version handed out in this file is
// above it, and a transaction that reads it hands out versions above it. A commit stores it
// only when its versions passed it, and then (while this connection is the file's only
// writer) a lease ahead: the batch clock plus kVersionLease. So a run of commits writes the
// meta page about once per lease instead of once per commit (one page of the ~2 a depth-1 set
// writes). The price: the first versions after a restart, or after another process's commits,
// may start up to the lease above the wall clock. A transaction that had to read the stored
// clock (another connection wrote since) stores exact versions, so engines taking turns do not
// push each other ahead. Multi-shard parts take a version above the stored ceiling
// (NextPartVersion), because recovery reads a part's presence from it, and store it exactly.
//
// Expiry: a key whose expires_at <= now is absent for every read; rows are removed by
// SweepExpired() or when the key is written again.
//
// History (shard/key_ops.cc, HistoryTable): with the data dir's depth keep_versions > 0, writes
// keep the versions they replace. The depth is recorded in meta (`keep_versions`); an open with
// ShardOptions::keep_versions set records that value, and every write transaction starts from
// the record as it is (read again whenever another connection has committed: see Versions), so
// a depth changed by another engine applies to this one's next writes.
//
// Multi-shard writes (engine/write_group.h): their parts use Savepoint()/SetDurableCommits()
// and txns(); ShardOptions::recovery makes every write transaction first finish what a dead
// engine left half done on this shard (shard/txn_recovery.h).
//
// Failure: every call returns Status/Result (shard/sqlite_error.h: busy, I/O, corruption, ...).
// Open() reports a file of another shard count or layout as kMismatch, a layout newer than
// this engine as kTooNew, a corrupt or foreign file as kCorruption, a file that cannot be
// opened or created as kIOError — each message naming the file and keeping SQLite's reason.
//
// Thread-safety: none. A ShardStore is owned and used by exactly one thread. The connection is
// opened SQLITE_OPEN_NOMUTEX for that reason.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/blake2b.h"
#include "common/status.h"
#include "shard/expiry_table.h"
#include "shard/history_table.h"
#include "shard/kv_table.h"
#include "shard/meta_table.h"
#include "shard/migrations.h"
#include "shard/sqlite_statement.h"
#include "shard/stream_table.h"
#include "shard/txn_intent.h"
#include "shard/txn_table.h"

namespace litestash {

struct TxnRecoveryEnv;
class Checkpointer;

// History depth meaning "every version".
inline constexpr uint32_t kKeepAllVersions = 0xffffffff;
// How far ahead of the batch clock a commit stores the version ceiling (µs; see Versions).
inline constexpr uint64_t kVersionLease = 10000;

enum class SyncMode { kOff, kNormal, kFull };
// The `PRAGMA synchronous=...` statement of a mode.
const char* SyncPragma(SyncMode mode);

class AnswerScope;

struct ShardOptions {
  std::string path;  // the shard file; ignored when in_memory
  bool in_memory = false;
  bool read_only = false;  // open an existing shard for reading only (no create, no migrate)
  uint32_t index = 0;
  uint32_t count = 16;
  SyncMode sync = SyncMode::kNormal;
  int busy_timeout_ms = 60000;
  std::string vfs;       // SQLite VFS name; empty: the default. Tests inject faults through a shim.
  int cache_kib = 2048;  // SQLite page cache of this connection
  // Files: open through ShardVfs (shard/shard_vfs.h): one WAL write per commit, and the
  // memory map (mmap_bytes) kept across snapshots.
  bool shard_vfs = true;
  // Bytes of the file SQLite reads through a memory map instead of read() (PRAGMA mmap_size;
  // 0: none). Mapped pages are the kernel's page cache, shared, and count in this process's RSS.
  int64_t mmap_bytes = 0;
  // Read-write opens run by a ShardWorker: after each batch its thread yields the CPU for up to
  // this long while waiting for more work, before it sleeps (0: sleep at once).
  int spin_us = 0;
  // Read-write opens run by a ShardWorker: told around the Done() calls of each committed
  // transaction, so the answers they send can leave together (nullptr: nothing told).
  AnswerScope* answers = nullptr;
  // The layout steps to apply (tests add a test-only step); empty: StandardMigrations().
  std::span<const MigrationStep> migrations;
  // Read-write opens: the history depth to record (nullopt: keep the recorded one, 0 if none).
  std::optional<uint32_t> keep_versions;
  // Read-write opens of a data dir: resolves multi-shard writes left by dead engines at the
  // start of each write transaction (null: none; in-memory shards need none).
  std::shared_ptr<const TxnRecoveryEnv> recovery;
  // Read-write opens of a file: checkpoints the WAL off the commit path (shard/checkpointer.h);
  // not owned, outlives the store. Null: SQLite's autocheckpoint inside the committing write.
  Checkpointer* checkpointer = nullptr;
};

// One batch's notion of time, taken once when the batch starts.
struct Clock {
  int64_t now_ms = 0;
  int64_t now_us = 0;
  static Clock Now();
  // Unix ms at which a key written now with `ttl_ms` expires (saturating at INT64_MAX).
  int64_t ExpiresAt(uint64_t ttl_ms) const;
};

struct KeyExpiry {
  bool found = false;                 // the key exists and is live
  std::optional<int64_t> expires_at;  // Unix ms; nullopt: never expires
};

class ShardStore {
 public:
  // Opens the file and verifies (read-only) or migrates (read-write) its layout.
  // PrepareStatements() must succeed before any other call; it is separate so a worker can
  // report "open" before paying for it.
  static Result<std::unique_ptr<ShardStore>> Open(const ShardOptions& options);
  Status PrepareStatements();
  ~ShardStore();
  ShardStore(const ShardStore&) = delete;
  ShardStore& operator=(const ShardStore&) = delete;

  // Transactions. Begin(true) takes the write lock (BEGIN IMMEDIATE), waiting up to the busy
  // timeout for other processes — or, with wait=false, failing at once with kBusy when another
  // connection holds it.
  Status Begin(bool write, bool wait = true);
  Status Commit();
  void Rollback();
  // Pages this connection has written since it opened: in WAL mode, the frames its commits
  // appended to the log. A commit writes whole pages, so this over the rows written is the
  // write amplification of small commits (SQLITE_DBSTATUS_CACHE_WRITE, taken and reset at each
  // write commit so SQLite's int counter cannot wrap).
  uint64_t PagesWritten();

  // Key operations; call inside a transaction (writes inside a write transaction).
  // Put stamps and returns the new version; expires_at nullopt clears any expiry.
  Result<uint64_t> Put(const Digest& digest, std::string_view key, std::string_view value,
                       std::optional<int64_t> expires_at, const Clock& clock);
  Result<std::optional<StoredValue>> Get(const Digest& digest, const Clock& clock);
  // The key's row whether live or expired (nullopt: no row). with_expiry=false skips the
  // probe of the expiry table: only for a caller that knows it is empty in this transaction.
  Result<std::optional<StoredRecord>> Lookup(const Digest& digest, bool with_expiry = true);
  // Lookup into *out, reusing its buffers; true if found (KvTable::LookupInto).
  Result<bool> LookupInto(const Digest& digest, bool with_expiry, StoredRecord* out);
  // Whether the expiry table has any row (in the current transaction).
  Result<bool> HasExpiries();
  Result<KeyExpiry> Expiry(const Digest& digest, const Clock& clock);
  // Removes the key (true if a live key went); `key` names it in its history's tombstone.
  Result<bool> Delete(const Digest& digest, std::string_view key, const Clock& clock);
  // Sets (expires_at) or clears (nullopt) the expiry of a live key; false if absent (or, when
  // clearing, if it had no expiry).
  Result<bool> SetExpiry(const Digest& digest, std::optional<int64_t> expires_at,
                         const Clock& clock);

  // Live keys in ascending byte order with `prefix`, strictly after `after` (if given), at most
  // `limit` of them.
  Status Scan(std::string_view prefix, std::optional<std::string_view> after, uint64_t limit,
              const Clock& clock, std::vector<std::string>* keys);
  Result<uint64_t> CountLive(const Clock& clock);
  Result<uint64_t> CountExpiring(const Clock& clock);
  Status Clear(const Clock& clock);

  // History. The key's versions older than `before` (exclusive), newest first: its current
  // version (when live) and its retained history, at most `limit`; *more if others follow.
  // An expired key has none.
  Status Versions(const Digest& digest, const Clock& clock, uint64_t before, uint64_t limit,
                  std::vector<VersionInfo>* out, bool* more);
  // The value of exactly `version` if it is the key's current live version or a retained,
  // non-tombstone one.
  Result<std::optional<StoredValue>> GetVersion(const Digest& digest, uint64_t version,
                                                const Clock& clock);
  // The recorded depth: read at open, and as of each Begin(true) (for its writes).
  uint32_t keep_versions() const { return keep_versions_; }
  HistoryTable& history() { return history_; }
  // SQLite's `PRAGMA data_version` of this connection: changes whenever another connection (of
  // this process or another) has committed to the file since this connection last read it.
  // Inside a read transaction it is fixed to that transaction's snapshot.
  Result<int64_t> DataVersion();

  // Deletes up to max_rows expired keys (own transaction). Returns how many went.
  Result<int> SweepExpired(const Clock& clock, int max_rows);

  // Makes everything committed so far durable (fsync), whatever the sync mode and whatever other
  // processes hold open, then checkpoints passively. Call outside a transaction.
  Status SyncToDisk();
  // The durable part of SyncToDisk (one small commit under synchronous=FULL, which fsyncs the WAL
  // and every commit before it). Returns the shard's last version as of that commit: every
  // version up to it is on disk (also durable_version() from then on). Clears unsynced().
  Result<uint64_t> SyncCommitted();
  uint64_t durable_version() const { return durable_version_; }
  // Multi-shard writes: a participant's part committed without fsync (engine/write_group.h)
  // notes it, and the worker's sweep makes it durable (SyncCommitted) soon after.
  void NoteUnsynced() { unsynced_ = true; }
  bool unsynced() const { return unsynced_; }
  // Checkpoints the WAL into the database file and truncates it (used at shutdown; waits at
  // most a second for readers of other connections, then leaves the WAL as it is).
  Status Checkpoint();

  // The next version of this shard's clock (inside a write transaction): microseconds since
  // the epoch, strictly increasing, stored (as a ceiling: see Versions above) at Commit().
  uint64_t NextVersion(const Clock& clock);
  // The same, and also above the stored ceiling: the first version of a multi-shard write's
  // part, whose presence recovery reads as ClockCeiling() >= it (shard/txn_recovery.h).
  uint64_t NextPartVersion(const Clock& clock);
  // The last version handed out (inside a write transaction), and moving it forward (replay of
  // a multi-shard write's part, shard/txn_recovery.h).
  uint64_t LastVersion() const { return last_version_; }
  void SetLastVersion(uint64_t version);
  // No version of this file is above this (inside a write transaction): the stored ceiling, or
  // the last version handed out if that is higher.
  uint64_t ClockCeiling() const { return std::max(last_version_, stored_version_); }
  StreamTable& streams() { return streams_; }
  TxnTable& txns() { return txns_; }
  // While set, Put, Delete, Clear and stream appends add what they do to `log` (the intent of a
  // multi-shard write: shard/txn_intent.h); nullptr stops it.
  void RecordWrites(std::vector<WriteOp>* log) { log_ = log; }
  // Adds one write to the log while one is recorded (copies its bytes only then).
  void Record(WriteOp::Kind kind, std::string_view name, std::string_view value = {},
              std::optional<int64_t> expires_at = std::nullopt) {
    if (log_ != nullptr) {
      log_->push_back({kind, std::string(name), std::string(value), expires_at});
    }
  }

  // Savepoints inside a write transaction (one write of a multi-shard group that may be
  // refused). Rolling back to one also forgets cached state of the tables.
  Status Savepoint(std::string_view name);
  Status RollbackToSavepoint(std::string_view name);
  Status ReleaseSavepoint(std::string_view name);
  // Outside a transaction: commits fsync (synchronous=FULL) until called with false, which
  // restores the configured mode.
  Status SetDurableCommits(bool durable);

  // Compaction helpers (engine/compact_op.h). Size of the main file in bytes, and free pages.
  Result<uint64_t> FileBytes();
  // Gives up to `pages` free pages back to the file system (inside a write transaction; a
  // file created without incremental auto-vacuum frees nothing: ConvertToIncremental first).
  // Returns the pages still free.
  Result<uint64_t> IncrementalVacuum(uint64_t pages);
  // Outside a transaction: copies the WAL into the file as far as no reader is in the way (and
  // truncates the file when all of it went), without waiting.
  Status CheckpointPassive();
  // Whether the file was created with auto_vacuum NONE (pages can only be freed by VACUUM).
  Result<bool> NeedsVacuumConversion();
  // Outside a transaction: rewrites the file with incremental auto-vacuum (VACUUM; blocks this
  // shard for its duration, once per file).
  Status ConvertToIncremental();
  // Copies the whole database into a new file at `path` (sqlite3 backup API), outside any
  // transaction of this connection. For in-memory shards (a file's copy reads its own
  // connection, shard/snapshot_copy.h).
  Status CopyTo(const std::string& path);
  const std::string& name() const { return name_; }
  const ShardOptions& options() const { return options_; }

 private:
  explicit ShardStore(const ShardOptions& options);
  Status Init();
  Status Exec(const char* sql);
  Status SqlError(std::string_view what, int rc) const;
  // The connection's busy handler (OnBusy) with this timeout; 0: fail at once with SQLITE_BUSY.
  void SetBusyTimeout(int ms);
  static int OnBusy(void* arg, int count);
  Status RecordDepth();
  // At Begin(true): the clock, the depth and the table facts, carried over or read.
  Status ReadClockAndDepth();
  // SQLITE_FCNTL_DATA_VERSION of the main file (nullopt: not available). Unlike DataVersion()
  // (PRAGMA data_version) it moves with this connection's own commits too, and it costs a
  // function call instead of a statement: what the carried-over clock compares at each Begin.
  std::optional<unsigned> FileDataVersion();
  Status ReadDepth();
  Result<uint64_t> PragmaInt(const char* pragma);
  // What the store knows only for the current transaction (table facts, cached stream rows).
  void ForgetTransactionState();
  // History bookkeeping of key_ops.cc.
  Result<bool> HistoryMayExist();
  // Whether the expiry table may have a row (known once per transaction, key_ops.cc): a write
  // with no expiry then skips deleting the key's expiry when there can be none.
  Result<bool> ExpiryMayExist();
  // The key's row for a write that replaces or removes it (the expiry join only when needed).
  Result<std::optional<StoredRecord>> LookupInWrite(const Digest& digest);
  Status SetExpiryRow(const Digest& digest, int64_t expires_at);
  Status ClearExpiryRow(const Digest& digest);
  Status KeepHistory(const Digest& digest, std::string_view key,
                     const std::optional<StoredRecord>& old, int64_t now_ms,
                     std::optional<uint64_t> tombstone);

  const ShardOptions options_;
  const std::string name_;  // file name for messages, e.g. "shard-03.db"
  sqlite3* db_ = nullptr;
  int busy_timeout_ms_ = 0;                             // OnBusy's bound
  std::chrono::steady_clock::time_point busy_since_{};  // OnBusy: when this wait began

  bool in_write_txn_ = false;
  uint64_t last_version_ = 0;  // the last version handed out (or the ceiling, when read)
  // meta `last_version` as this transaction found it (and as its commit will leave it).
  uint64_t stored_version_ = 0;
  // This transaction read the stored clock (another connection wrote since this one's last
  // commit): its commit stores exact versions, not a lease.
  bool exact_versions_ = false;
  int64_t lease_base_us_ = 0;   // the batch clock of the last NextVersion (the lease's start)
  uint32_t keep_versions_ = 0;  // the recorded depth, as of each Begin(true)
  // Whether the history and expiry tables have rows, once known in this transaction (key_ops.cc;
  // forgotten with the transaction: ForgetTransactionState; a write transaction may start from
  // what the last one committed knew: Carried).
  std::optional<bool> history_rows_;
  std::optional<bool> expiry_rows_;
  // What the last write transaction committed here left known (Begin(true) takes it back while
  // the file's data version is still `data_version`; Rollback() drops it).
  struct Carried {
    unsigned data_version = 0;
    uint64_t last_version = 0;
    uint64_t stored_version = 0;
    uint32_t keep_versions = 0;
    std::optional<bool> history_rows, expiry_rows;
  };
  std::optional<Carried> carried_;
  bool recovering_ = false;              // inside ResolvePending (no recursion)
  std::vector<WriteOp>* log_ = nullptr;  // RecordWrites()
  bool unsynced_ = false;                // NoteUnsynced()
  uint64_t durable_version_ = 0;         // the last SyncCommitted()'s version
  uint64_t pages_written_ = 0;           // PagesWritten()'s total

  KvTable kv_;
  ExpiryTable expiry_;
  MetaTable meta_;
  StreamTable streams_;
  HistoryTable history_;
  TxnTable txns_;
  Statement begin_read_, begin_write_, commit_, rollback_, data_version_;
};

}  // namespace litestash
