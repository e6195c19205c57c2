// KvTable: the contract's 5-column `stash` table (one row per live or not-yet-swept key, the
// key's latest value as exact MessagePack bytes) and its `stash_key` index for ordered scans.
// Reads that must judge expiry join the `expiry` side table (ExpiryTable) by key_hash.
// Created by layout step 1.
//
// Versions are stored split as the contract says: timestamp = version / 1e6, microsecond =
// version % 1e6.
//
// Failure: SQLite errors come back as Status. Thread-safety: none (the owning shard's thread).
#pragma once

#include <sqlite3.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/blake2b.h"
#include "common/status.h"
#include "shard/sqlite_statement.h"

namespace litestash {

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

// A whole row: digest, key text and record (for passes over every key).
struct KeyedRecord {
  Digest digest{};
  std::string key;
  StoredRecord record;
};

class KvTable {
 public:
  static constexpr const char* kCreateSql =
      "CREATE TABLE IF NOT EXISTS stash ("
      " key_hash BLOB PRIMARY KEY, key TEXT NOT NULL, value BLOB NOT NULL,"
      " timestamp INTEGER NOT NULL, microsecond INTEGER NOT NULL) WITHOUT ROWID;"
      "CREATE INDEX IF NOT EXISTS stash_key ON stash(key);";

  Status Prepare(sqlite3* db, std::string_view file);

  Status Upsert(const Digest& digest, std::string_view key, std::string_view value,
                uint64_t version);
  // The key's row with its expiry (nullopt: no row). with_expiry=false skips the expiry join:
  // only for a caller that knows the expiry table is empty in this transaction.
  Result<std::optional<StoredRecord>> Lookup(const Digest& digest, bool with_expiry = true);
  // Lookup into *out, reusing its buffers (a reader reading key after key); true if found, and
  // *out is reset when not.
  Result<bool> LookupInto(const Digest& digest, bool with_expiry, StoredRecord* out);
  // Whether the key has a row, and its expiry (nullopt inside: never expires).
  Result<std::optional<std::optional<int64_t>>> ExpiryOf(const Digest& digest);
  // Removes the row; true if there was one.
  Result<bool> Delete(const Digest& digest);
  Status DeleteAll();
  // Every row, in key_hash order (clear with history: each key is written).
  Status All(std::vector<KeyedRecord>* out);
  // Live keys (at now_ms) in ascending byte order with `prefix`, strictly after `after` (if
  // given), at most `limit` of them.
  Status Scan(std::string_view prefix, std::optional<std::string_view> after, uint64_t limit,
              int64_t now_ms, std::vector<std::string>* keys);
  Result<uint64_t> CountLive(int64_t now_ms);

 private:
  sqlite3* db_ = nullptr;
  std::string file_;
  Statement upsert_, lookup_, lookup_plain_, expiry_of_, delete_, delete_all_;
  Statement scan_incl_, scan_excl_, count_live_, all_;
};

}  // namespace litestash
