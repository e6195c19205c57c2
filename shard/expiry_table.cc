#include "shard/expiry_table.h"

#include "shard/sqlite_error.h"

namespace litestash {

Status ExpiryTable::Prepare(sqlite3* db, std::string_view file) {
  db_ = db;
  file_ = std::string(file);
  return PrepareStatements(
      db, file_,
      {
          {&set_, "INSERT OR REPLACE INTO expiry(key_hash, expires_at) VALUES (?1, ?2)"},
          {&clear_, "DELETE FROM expiry WHERE key_hash = ?1"},
          {&clear_all_, "DELETE FROM expiry"},
          {&any_, "SELECT EXISTS (SELECT 1 FROM expiry)"},
          {&count_after_, "SELECT count(*) FROM expiry WHERE expires_at > ?1"},
          {&expired_,
           "SELECT key_hash FROM expiry WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2"},
      });
}

Status ExpiryTable::Run(Statement& stmt, const Digest* digest, std::optional<int64_t> at,
                        const char* what) {
  StatementUse use(stmt);
  if (digest != nullptr) use.Blob(1, digest->data(), digest->size());
  if (at) use.Int(2, *at);
  int rc = use.Step();
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, what, rc);
}

Status ExpiryTable::Set(const Digest& digest, int64_t expires_at) {
  return Run(set_, &digest, expires_at, "writing an expiry");
}

Status ExpiryTable::Clear(const Digest& digest) {
  return Run(clear_, &digest, std::nullopt, "clearing an expiry");
}

Status ExpiryTable::ClearAll() {
  return Run(clear_all_, nullptr, std::nullopt, "clearing expiries");
}

Result<bool> ExpiryTable::Any() {
  StatementUse use(any_);
  int rc = use.Step();
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "checking for expiries", rc);
  return use.ColumnInt(0) != 0;
}

Result<uint64_t> ExpiryTable::CountAfter(int64_t now_ms) {
  StatementUse use(count_after_);
  use.Int(1, now_ms);
  int rc = use.Step();
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "counting expiring keys", rc);
  return static_cast<uint64_t>(use.ColumnInt(0));
}

Status ExpiryTable::Expired(int64_t now_ms, int limit, std::vector<Digest>* out) {
  StatementUse use(expired_);
  use.Int(1, now_ms).Int(2, limit);
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) {
    out->push_back(use.ColumnDigest(0));
  }
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "finding expired keys", rc);
}

}  // namespace litestash
