// ShardStore: one shard's SQLite file (or in-memory database), its layout and its statements.
//
// Layout (contract section 5): table `stash` with the 5 contract columns, index `stash_key` on
// key (ordered scans), side table `expiry(key_hash, expires_at ms)` with an index on
// expires_at, and `meta(name, value)` holding shard_index, shard_count, layout_version and
// last_version. Invariant: every expiry row has a stash row.
//
// Versions: microseconds since the epoch, strictly increasing per shard. last_version is read
// from meta when a write transaction begins (under SQLite's write lock, so other processes on
// the same file are ordered too) and stored back at commit.
//
// Expiry: a key whose expires_at <= now is absent for every read; rows are removed by
// SweepExpired() or when the key is written again.
//
// Failure: every call returns Status/Result; SQLite failures become kStorageError carrying
// SQLite's message (also for corruption found while serving). Open() reports a layout or
// shard-count mismatch, a corrupt file or a foreign database as kConflict, and a file that
// cannot be opened or created as kStorageError.
//
// Thread-safety: none. A ShardStore is owned and used by exactly one thread (its ShardWorker).
// The connection is opened SQLITE_OPEN_NOMUTEX for that reason.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/blake2b.h"
#include "common/status.h"
#include "shard/sqlite_statement.h"

namespace litestash {

enum class SyncMode { kOff, kNormal, kFull };

inline constexpr int kLayoutVersion = 1;

struct ShardOptions {
  std::string path;  // the shard file; ignored when in_memory
  bool in_memory = false;
  uint32_t index = 0;
  uint32_t count = 16;
  SyncMode sync = SyncMode::kNormal;
  int busy_timeout_ms = 60000;
  std::string vfs;       // SQLite VFS name; empty: the default. Tests inject faults through a shim.
  int cache_kib = 2048;  // SQLite page cache of this shard
};

// One batch's notion of time, taken once when the batch starts.
struct Clock {
  int64_t now_ms = 0;
  int64_t now_us = 0;
  static Clock Now();
};

struct StoredValue {
  std::string value;  // raw MessagePack bytes
  uint64_t version = 0;
};

// A key's row as stored, expiry included and not yet judged against any clock (a cache keeps
// it and judges expiry when it answers).
struct StoredRecord {
  StoredValue stored;
  std::optional<int64_t> expires_at;  // Unix ms; nullopt: never expires

  bool LiveAt(int64_t now_ms) const { return !expires_at || *expires_at > now_ms; }
};

struct KeyExpiry {
  bool found = false;                 // the key exists and is live
  std::optional<int64_t> expires_at;  // Unix ms; nullopt: never expires
};

class ShardStore {
 public:
  // Opens the file and verifies (or creates) the layout. PrepareStatements() must succeed before
  // any other call; it is separate so a worker can report "open" before paying for it.
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
  // Sets (expires_at) or clears (nullopt) the expiry of a live key; false if absent.
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
  // Checkpoints the WAL into the database file and truncates it (used at shutdown).
  Status Checkpoint();

  const std::string& name() const { return name_; }

 private:
  explicit ShardStore(const ShardOptions& options);
  Status Init();
  Status Exec(const char* sql);
  struct LayoutFacts;
  Status VerifyLayout();
  Status ReadLayout(LayoutFacts* facts);
  Status CheckLayout(const LayoutFacts& facts) const;
  Status SqlError(std::string_view what, int rc) const;
  uint64_t NextVersion(const Clock& clock);

  const ShardOptions options_;
  const std::string name_;  // file name for messages, e.g. "shard-03.db"
  sqlite3* db_ = nullptr;

  bool in_write_txn_ = false;
  mutable bool saw_data_error_ =
      false;  // SQLITE_CORRUPT/NOTADB seen (Open reports it as kConflict)
  uint64_t last_version_ = 0;
  bool version_dirty_ = false;

  Statement begin_read_, begin_write_, commit_, rollback_;
  Statement upsert_, get_, get_plain_, has_expiries_, expiry_of_, delete_stash_, delete_expiry_,
      set_expiry_;
  Statement scan_incl_, scan_excl_, count_live_, count_expiring_;
  Statement sweep_stash_, sweep_expiry_, clear_stash_, clear_expiry_;
  Statement load_version_, store_version_, data_version_;
};

}  // namespace litestash
