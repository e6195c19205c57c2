#include "shard/meta_table.h"

#include "shard/sqlite_error.h"

namespace litestash {

Status MetaTable::Prepare(sqlite3* db, std::string_view file) {
  db_ = db;
  file_ = std::string(file);
  return PrepareStatements(db, file_,
                           {
                               {&get_, "SELECT value FROM meta WHERE name = ?1"},
                               {&set_, "INSERT OR REPLACE INTO meta(name, value) VALUES (?1, ?2)"},
                               {&increment_,
                                "INSERT INTO meta(name, value) VALUES (?1, 1)"
                                " ON CONFLICT(name) DO UPDATE SET value = value + 1"},
                           });
}

Result<std::optional<int64_t>> MetaTable::Get(std::string_view name) {
  StatementUse use(get_);
  use.Text(1, name);
  int rc = use.Step();
  if (rc == SQLITE_DONE) return std::optional<int64_t>();
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "reading meta", rc);
  return std::optional<int64_t>(use.ColumnInt(0));
}

Status MetaTable::Set(std::string_view name, int64_t value) {
  StatementUse use(set_);
  use.Text(1, name).Int(2, value);
  int rc = use.Step();
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "writing meta", rc);
}

Status MetaTable::Increment(std::string_view name) {
  StatementUse use(increment_);
  use.Text(1, name);
  int rc = use.Step();
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "writing meta", rc);
}

}  // namespace litestash
