// ExpiryTable: the `expiry(key_hash, expires_at)` side table — one row per key that has an
// expiry (Unix ms), with an index on expires_at for the background clean-up. A key with no row
// never expires; a key whose expires_at <= now is absent for every op. Invariant: every expiry
// row has a stash row (KvTable). Created by layout step 1.
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

class ExpiryTable {
 public:
  static constexpr const char* kCreateSql =
      "CREATE TABLE IF NOT EXISTS expiry (key_hash BLOB PRIMARY KEY, expires_at INTEGER NOT NULL)"
      " WITHOUT ROWID;"
      "CREATE INDEX IF NOT EXISTS expiry_at ON expiry(expires_at);";

  Status Prepare(sqlite3* db, std::string_view file);

  Status Set(const Digest& digest, int64_t expires_at);
  Status Clear(const Digest& digest);
  Status ClearAll();
  // Whether any row exists (in the current transaction).
  Result<bool> Any();
  // Live keys with an expiry (expires_at > now_ms).
  Result<uint64_t> CountAfter(int64_t now_ms);
  // Up to `limit` digests of expired keys (expires_at <= now_ms), oldest first.
  Status Expired(int64_t now_ms, int limit, std::vector<Digest>* out);

 private:
  Status Run(Statement& stmt, const Digest* digest, std::optional<int64_t> at, const char* what);

  sqlite3* db_ = nullptr;
  std::string file_;
  Statement set_, clear_, clear_all_, any_, count_after_, expired_;
};

}  // namespace litestash
