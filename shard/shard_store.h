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
// Versions: microseconds since the epoch, strictly increasing per shard. last_version is read
// from meta when a write transaction begins (under SQLite's write lock, so other processes on
// the same file are ordered too) and stored back at commit.
//
// Expiry: a key whose expires_at <= now is absent for every read; rows are removed by
// SweepExpired() or when the key is written again.
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

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/blake2b.h"
#include "common/status.h"
#include "shard/expiry_table.h"
#include "shard/kv_table.h"
#include "shard/meta_table.h"
#include "shard/migrations.h"
#include "shard/sqlite_statement.h"
#include "shard/stream_table.h"

namespace litestash {

enum class SyncMode { kOff, kNormal, kFull };

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
  // The layout steps to apply (tests add a test-only step); empty: StandardMigrations().
  std::span<const MigrationStep> migrations;
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
  // timeout for other processes.
  Status Begin(bool write);
  Status Commit();
  void Rollback();

  // Key operations; call inside a transaction (writes inside a write transaction).
  // Put stamps and returns the new version; expires_at nullopt clears any expiry.
  Result<uint64_t> Put(const Digest& digest, std::string_view key, std::string_view value,
                       std::optional<int64_t> expires_at, const Clock& clock);
  Result<std::optional<StoredValue>> Get(const Digest& digest, const Clock& clock);
  // The key's row whether live or expired (nullopt: no row). with_expiry=false skips the
  // probe of the expiry table: only for a caller that knows it is empty in this transaction.
  Result<std::optional<StoredRecord>> Lookup(const Digest& digest, bool with_expiry = true);
  // Whether the expiry table has any row (in the current transaction).
  Result<bool> HasExpiries();
  Result<KeyExpiry> Expiry(const Digest& digest, const Clock& clock);
  Result<bool> Delete(const Digest& digest, const Clock& clock);  // true if a live key went
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
  Status Clear();
  // SQLite's `PRAGMA data_version` of this connection: changes whenever another connection (of
  // this process or another) has committed to the file since this connection last read it.
  // Inside a read transaction it is fixed to that transaction's snapshot.
  Result<int64_t> DataVersion();

  // Deletes up to max_rows expired keys (own transaction). Returns how many went.
  Result<int> SweepExpired(const Clock& clock, int max_rows);

  // Makes everything committed so far durable (fsync), whatever the sync mode and whatever other
  // processes hold open. Call outside a transaction.
  Status SyncToDisk();
  // Checkpoints the WAL into the database file and truncates it (used at shutdown; waits at
  // most a second for readers of other connections, then leaves the WAL as it is).
  Status Checkpoint();

  // The next version of this shard's clock (inside a write transaction): microseconds since
  // the epoch, strictly increasing, stored back at Commit().
  uint64_t NextVersion(const Clock& clock);
  StreamTable& streams() { return streams_; }

  const std::string& name() const { return name_; }

 private:
  explicit ShardStore(const ShardOptions& options);
  Status Init();
  Status Exec(const char* sql);
  Status SqlError(std::string_view what, int rc) const;

  const ShardOptions options_;
  const std::string name_;  // file name for messages, e.g. "shard-03.db"
  sqlite3* db_ = nullptr;

  bool in_write_txn_ = false;
  uint64_t last_version_ = 0;
  bool version_dirty_ = false;

  KvTable kv_;
  ExpiryTable expiry_;
  MetaTable meta_;
  StreamTable streams_;
  Statement begin_read_, begin_write_, commit_, rollback_, data_version_;
};

}  // namespace litestash
