// SqliteStatus: the one translation of a SQLite result code into a Status.
//
//   SQLITE_BUSY, SQLITE_LOCKED                          -> kBusy
//   SQLITE_CORRUPT, SQLITE_NOTADB                       -> kCorruption
//   SQLITE_FULL, SQLITE_IOERR, SQLITE_CANTOPEN,
//   SQLITE_READONLY, SQLITE_PERM, SQLITE_NOLFS          -> kIOError
//   anything else (a misuse, a constraint, no memory)   -> kInternal
//
// The message keeps every reason: "<file>: <what>: <sqlite3_errstr> (<sqlite3_errmsg>)", the
// connection's own message included when it belongs to this result code.
// Thread-safety: call on the thread that owns `db` (may be null).
#pragma once

#include <sqlite3.h>

#include <initializer_list>
#include <string_view>

#include "common/status.h"
#include "shard/sqlite_statement.h"

namespace litestash {

Status SqliteStatus(sqlite3* db, std::string_view file, std::string_view what, int rc);

// One statement of a table: where it is kept and its SQL.
struct StatementSql {
  Statement* stmt;
  std::string_view sql;
};
// Prepares each statement on `db`; the first failure is "<file>: preparing '<sql>': ...".
Status PrepareStatements(sqlite3* db, std::string_view file,
                         std::initializer_list<StatementSql> statements);

}  // namespace litestash
