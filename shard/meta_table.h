// MetaTable: the `meta(name, value)` side table of a shard file — named integers the engine
// keeps beside the data: shard_index, shard_count, layout_version, last_version (the last
// version this shard handed out), and sync_count (bumped by each `sync` so its commit really
// writes). Created by layout step 1 (shard/migrations.cc).
//
// Failure: SQLite errors come back as Status (shard/sqlite_error.h).
// Thread-safety: none; owned by one ShardStore, used on its thread.
#pragma once

#include <sqlite3.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "shard/sqlite_statement.h"

namespace litestash {

class MetaTable {
 public:
  static constexpr const char* kCreateSql =
      "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID";

  Status Prepare(sqlite3* db, std::string_view file);

  // The integer stored under `name`, or nullopt if there is no such row.
  Result<std::optional<int64_t>> Get(std::string_view name);
  // Inserts or replaces the row.
  Status Set(std::string_view name, int64_t value);
  // Adds 1 to the row (creating it at 1); a commit holding it always writes.
  Status Increment(std::string_view name);

 private:
  sqlite3* db_ = nullptr;
  std::string file_;
  Statement get_, set_, increment_;
};

}  // namespace litestash
