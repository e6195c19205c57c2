#include "shard/history_table.h"

#include <algorithm>

#include "shard/sqlite_error.h"

namespace litestash {
namespace {

int64_t Clamp(uint64_t v) { return static_cast<int64_t>(std::min<uint64_t>(v, INT64_MAX)); }

}  // namespace

Status HistoryTable::Prepare(sqlite3* db, std::string_view file) {
  db_ = db;
  file_ = std::string(file);
  return PrepareStatements(
      db, file_,
      {
          {&push_,
           "INSERT OR REPLACE INTO history(key_hash, version, key, value) VALUES (?1, ?2, ?3, ?4)"},
          // The newest version beyond the first `keep` (none when there are no more rows); it
          // and everything older go. Two statements, not one DELETE with this as its subquery:
          // a write almost always finds nothing to trim, and then the DELETE never runs.
          {&trim_find_,
           "SELECT version FROM history WHERE key_hash = ?1 ORDER BY version DESC"
           " LIMIT 1 OFFSET ?2"},
          {&trim_, "DELETE FROM history WHERE key_hash = ?1 AND version <= ?2"},
          {&any_, "SELECT EXISTS (SELECT 1 FROM history)"},
          {&list_,
           "SELECT version, value IS NULL FROM history WHERE key_hash = ?1 AND version < ?2"
           " ORDER BY version DESC LIMIT ?3"},
          {&get_, "SELECT value FROM history WHERE key_hash = ?1 AND version = ?2"},
          {&keys_first_, "SELECT DISTINCT key_hash FROM history ORDER BY key_hash LIMIT ?2"},
          {&keys_after_,
           "SELECT DISTINCT key_hash FROM history WHERE key_hash > ?1 ORDER BY key_hash LIMIT ?2"},
          {&delete_all_, "DELETE FROM history"},
          {&count_, "SELECT count(*) FROM history"},
      });
}

Status HistoryTable::Push(const Digest& digest, std::string_view key,
                          std::optional<std::string_view> value, uint64_t version) {
  StatementUse use(push_);
  use.Blob(1, digest.data(), digest.size()).Int(2, Clamp(version)).Text(3, key);
  use.BlobOrNull(4, value);
  int rc = use.Step();
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "writing history", rc);
}

Result<uint64_t> HistoryTable::Trim(const Digest& digest, uint64_t keep) {
  int64_t newest_gone;
  {
    StatementUse find(trim_find_);
    find.Blob(1, digest.data(), digest.size()).Int(2, Clamp(keep));
    int rc = find.Step();
    if (rc == SQLITE_DONE) return uint64_t{0};  // at most `keep` rows: nothing goes
    if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "trimming history", rc);
    newest_gone = find.ColumnInt(0);
  }
  StatementUse use(trim_);
  use.Blob(1, digest.data(), digest.size()).Int(2, newest_gone);
  int rc = use.Step();
  if (rc != SQLITE_DONE) return SqliteStatus(db_, file_, "trimming history", rc);
  return static_cast<uint64_t>(sqlite3_changes(db_));
}

Result<bool> HistoryTable::Any() {
  StatementUse use(any_);
  int rc = use.Step();
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "checking history", rc);
  return use.ColumnInt(0) != 0;
}

Status HistoryTable::List(const Digest& digest, uint64_t before, uint64_t limit,
                          std::vector<VersionInfo>* out) {
  StatementUse use(list_);
  use.Blob(1, digest.data(), digest.size()).Int(2, Clamp(before)).Int(3, Clamp(limit));
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) {
    out->push_back({static_cast<uint64_t>(use.ColumnInt(0)), use.ColumnInt(1) != 0});
  }
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "reading history", rc);
}

Result<std::optional<HistoryRow>> HistoryTable::Get(const Digest& digest, uint64_t version) {
  StatementUse use(get_);
  use.Blob(1, digest.data(), digest.size()).Int(2, Clamp(version));
  int rc = use.Step();
  if (rc == SQLITE_DONE) return std::optional<HistoryRow>();
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "reading history", rc);
  HistoryRow row;
  row.version = version;
  if (!use.ColumnIsNull(0)) row.value = std::string(use.ColumnBytes(0));
  return std::optional<HistoryRow>(std::move(row));
}

Status HistoryTable::Keys(const std::optional<Digest>& after, int limit, std::vector<Digest>* out) {
  StatementUse use(after ? keys_after_ : keys_first_);
  if (after) use.Blob(1, after->data(), after->size());
  use.Int(2, limit);
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) {
    out->push_back(use.ColumnDigest(0));
  }
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "listing history", rc);
}

Status HistoryTable::DeleteAll() {
  StatementUse use(delete_all_);
  int rc = use.Step();
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "clearing history", rc);
}

Result<uint64_t> HistoryTable::Count() {
  StatementUse use(count_);
  int rc = use.Step();
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "counting history", rc);
  return static_cast<uint64_t>(use.ColumnInt(0));
}

}  // namespace litestash
