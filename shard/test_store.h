// Test-only helpers for shard files: open a store or fail the test, read one integer, and ask
// SQLite whether a file is intact.
#pragma once

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "shard/shard_store.h"

namespace litestash::testing {

// Opens the store and prepares its statements; fails the running test otherwise.
inline std::unique_ptr<ShardStore> OpenOrDie(const ShardOptions& o) {
  auto s = ShardStore::Open(o);
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  REQUIRE(s.value()->PrepareStatements().ok());
  return std::move(s).value();
}

// The integer in the first column of the first row `sql` returns on `db`; fails the test if
// there is no such row.
inline int64_t QueryInt(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
  const int rc = sqlite3_step(st);
  const int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  REQUIRE(rc == SQLITE_ROW);
  return n;
}

// The first row of `PRAGMA integrity_check` on a read-only connection to `path` ("ok" for an
// intact file), or SQLite's error message.
inline std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    result = sqlite3_errmsg(db);
    sqlite3_close_v2(db);
    return result;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    result = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  } else {
    result = sqlite3_errmsg(db);
  }
  sqlite3_finalize(st);
  sqlite3_close_v2(db);
  return result;
}

}  // namespace litestash::testing
