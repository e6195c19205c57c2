// HistoryTable: the superseded versions of keys (contract v2 section 3), added by layout step 3:
//
//   history(key_hash BLOB, version INTEGER, key TEXT, value BLOB, PRIMARY KEY (key_hash,
//           version)) WITHOUT ROWID
//
// One row per retained old version of a key; a row whose value is NULL is a tombstone (the
// version a delete was stamped with). A key's current value stays in `stash` (KvTable), so the
// contract's 5-column table is always current; with history depth N, at most N rows per key
// are kept here (the newest ones), tombstones counted.
//
// Failure: SQLite errors come back as Status. Thread-safety: none (the owning thread).
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

struct HistoryRow {
  uint64_t version = 0;
  std::optional<std::string> value;  // nullopt: a tombstone
};

// One entry of a key's version list (`versions` op): no value.
struct VersionInfo {
  uint64_t version = 0;
  bool deleted = false;  // a tombstone
};

class HistoryTable {
 public:
  static constexpr const char* kCreateSql =
      "CREATE TABLE IF NOT EXISTS history ("
      " key_hash BLOB NOT NULL, version INTEGER NOT NULL, key TEXT NOT NULL, value BLOB,"
      " PRIMARY KEY (key_hash, version)) WITHOUT ROWID;";

  Status Prepare(sqlite3* db, std::string_view file);

  // Records an old version (value nullopt: a tombstone).
  Status Push(const Digest& digest, std::string_view key, std::optional<std::string_view> value,
              uint64_t version);
  // Keeps only the newest `keep` rows of the key (keep 0: removes them all); returns how many
  // went.
  Result<uint64_t> Trim(const Digest& digest, uint64_t keep);
  // Whether the table has any row (in the current transaction).
  Result<bool> Any();
  // The key's rows with version < before, newest first, at most `limit`.
  Status List(const Digest& digest, uint64_t before, uint64_t limit, std::vector<VersionInfo>* out);
  Result<std::optional<HistoryRow>> Get(const Digest& digest, uint64_t version);
  // Up to `limit` distinct digests with history, ascending, greater than `after` (nullopt: from
  // the start); for passes over every key (compact).
  Status Keys(const std::optional<Digest>& after, int limit, std::vector<Digest>* out);
  Status DeleteAll();
  // Rows in the table (compact's figures).
  Result<uint64_t> Count();

 private:
  sqlite3* db_ = nullptr;
  std::string file_;
  Statement push_, trim_find_, trim_, any_, list_, get_, keys_first_, keys_after_, delete_all_,
      count_;
};

}  // namespace litestash
