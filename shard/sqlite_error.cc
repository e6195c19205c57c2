#include "shard/sqlite_error.h"

#include <string>

namespace litestash {

Status SqliteStatus(sqlite3* db, std::string_view file, std::string_view what, int rc) {
  std::string msg = std::string(file) + ": " + std::string(what) + ": " + sqlite3_errstr(rc);
  if (db != nullptr && sqlite3_extended_errcode(db) == rc) {
    const std::string detail = sqlite3_errmsg(db);
    if (detail != sqlite3_errstr(rc)) msg += " (" + detail + ")";
  }
  switch (rc & 0xFF) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Busy(std::move(msg));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(std::move(msg));
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_NOLFS:
      return Status::IOError(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

Status PrepareStatements(sqlite3* db, std::string_view file,
                         std::initializer_list<StatementSql> statements) {
  for (const StatementSql& s : statements) {
    int rc = s.stmt->Prepare(db, s.sql);
    if (rc != SQLITE_OK) {
      return SqliteStatus(db, file, "preparing '" + std::string(s.sql) + "'", rc);
    }
  }
  return Status::Ok();
}

}  // namespace litestash
