#include "shard/kv_table.h"

#include "shard/sqlite_error.h"

namespace litestash {
namespace {

// Live = no expiry row, or one in the future (?3: now in ms).
constexpr const char* kScanHead =
    "SELECT s.key FROM stash AS s LEFT JOIN expiry AS e ON e.key_hash = s.key_hash WHERE s.key ";
constexpr const char* kScanTail =
    " AND (?2 IS NULL OR s.key < ?2)"
    " AND (e.expires_at IS NULL OR e.expires_at > ?3) ORDER BY s.key LIMIT ?4";

uint64_t VersionOf(const StatementUse& use, int timestamp_column) {
  return static_cast<uint64_t>(use.ColumnInt(timestamp_column)) * 1000000 +
         static_cast<uint64_t>(use.ColumnInt(timestamp_column + 1));
}

}  // namespace

Status KvTable::Prepare(sqlite3* db, std::string_view file) {
  db_ = db;
  file_ = std::string(file);
  const std::string scan_incl = std::string(kScanHead) + ">= ?1" + kScanTail;
  const std::string scan_excl = std::string(kScanHead) + "> ?1" + kScanTail;
  return PrepareStatements(
      db, file_,
      {
          // An overwrite leaves `key` alone: the digest names the key, so the stored key is
          // already these bytes, and assigning it anyway makes SQLite delete and re-insert the
          // row's entry in the stash_key index (a second B-tree leaf read and written per set).
          {&upsert_,
           "INSERT INTO stash(key_hash, key, value, timestamp, microsecond) VALUES (?1,?2,?3,?4,?5)"
           " ON CONFLICT(key_hash) DO UPDATE SET value=excluded.value,"
           " timestamp=excluded.timestamp, microsecond=excluded.microsecond"},
          {&lookup_,
           "SELECT s.value, s.timestamp, s.microsecond, e.expires_at FROM stash AS s"
           " LEFT JOIN expiry AS e ON e.key_hash = s.key_hash WHERE s.key_hash = ?1"},
          {&lookup_plain_, "SELECT value, timestamp, microsecond FROM stash WHERE key_hash = ?1"},
          {&expiry_of_,
           "SELECT e.expires_at FROM stash AS s LEFT JOIN expiry AS e ON e.key_hash = s.key_hash"
           " WHERE s.key_hash = ?1"},
          {&delete_, "DELETE FROM stash WHERE key_hash = ?1"},
          {&delete_all_, "DELETE FROM stash"},
          {&scan_incl_, scan_incl},
          {&scan_excl_, scan_excl},
          {&all_,
           "SELECT s.key_hash, s.key, s.value, s.timestamp, s.microsecond, e.expires_at FROM stash "
           "AS s"
           " LEFT JOIN expiry AS e ON e.key_hash = s.key_hash ORDER BY s.key_hash"},
          {&count_live_,
           "SELECT (SELECT count(*) FROM stash) -"
           " (SELECT count(*) FROM expiry WHERE expires_at <= ?1)"},
      });
}

Status KvTable::Upsert(const Digest& digest, std::string_view key, std::string_view value,
                       uint64_t version) {
  StatementUse use(upsert_);
  use.Blob(1, digest.data(), digest.size())
      .Text(2, key)
      .Blob(3, value.data(), value.size())
      .Int(4, static_cast<int64_t>(version / 1000000))
      .Int(5, static_cast<int64_t>(version % 1000000));
  int rc = use.Step();
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "writing a key", rc);
}

Result<std::optional<StoredRecord>> KvTable::Lookup(const Digest& digest, bool with_expiry) {
  StoredRecord out;
  auto found = LookupInto(digest, with_expiry, &out);
  if (!found.ok()) return found.status();
  if (!*found) return std::optional<StoredRecord>();
  return std::optional<StoredRecord>(std::move(out));
}

Result<bool> KvTable::LookupInto(const Digest& digest, bool with_expiry, StoredRecord* out) {
  StatementUse use(with_expiry ? lookup_ : lookup_plain_);
  use.Blob(1, digest.data(), digest.size());
  int rc = use.Step();
  out->stored.value.clear();
  out->stored.version = 0;
  out->expires_at.reset();
  if (rc == SQLITE_DONE) return false;
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "reading a key", rc);
  const std::string_view value = use.ColumnBytes(0);
  out->stored.value.assign(value.data(), value.size());
  out->stored.version = VersionOf(use, 1);
  if (with_expiry && !use.ColumnIsNull(3)) out->expires_at = use.ColumnInt(3);
  return true;
}

Result<std::optional<std::optional<int64_t>>> KvTable::ExpiryOf(const Digest& digest) {
  StatementUse use(expiry_of_);
  use.Blob(1, digest.data(), digest.size());
  int rc = use.Step();
  using Out = std::optional<std::optional<int64_t>>;
  if (rc == SQLITE_DONE) return Out();
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "reading an expiry", rc);
  return Out(use.ColumnIsNull(0) ? std::optional<int64_t>() : use.ColumnInt(0));
}

Result<bool> KvTable::Delete(const Digest& digest) {
  StatementUse use(delete_);
  use.Blob(1, digest.data(), digest.size());
  int rc = use.Step();
  if (rc != SQLITE_DONE) return SqliteStatus(db_, file_, "deleting a key", rc);
  return sqlite3_changes(db_) > 0;
}

Status KvTable::DeleteAll() {
  StatementUse use(delete_all_);
  int rc = use.Step();
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "clearing keys", rc);
}

Status KvTable::Scan(std::string_view prefix, std::optional<std::string_view> after, uint64_t limit,
                     int64_t now_ms, std::vector<std::string>* keys) {
  // Start at the larger of the two lower bounds so the key index is entered in the right place.
  const bool use_after = after && *after >= prefix;
  StatementUse use(use_after ? scan_excl_ : scan_incl_);
  use.Text(1, use_after ? *after : prefix).PrefixEnd(2, prefix).Int(3, now_ms);
  use.Int(4, static_cast<int64_t>(limit));
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) keys->emplace_back(use.ColumnBytes(0));
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "scanning keys", rc);
}

Status KvTable::All(std::vector<KeyedRecord>* out) {
  StatementUse use(all_);
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) {
    KeyedRecord r;
    r.digest = use.ColumnDigest(0);
    r.key = std::string(use.ColumnBytes(1));
    r.record.stored.value = std::string(use.ColumnBytes(2));
    r.record.stored.version = VersionOf(use, 3);
    if (!use.ColumnIsNull(5)) r.record.expires_at = use.ColumnInt(5);
    out->push_back(std::move(r));
  }
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "reading every key", rc);
}

Result<uint64_t> KvTable::CountLive(int64_t now_ms) {
  StatementUse use(count_live_);
  use.Int(1, now_ms);
  int rc = use.Step();
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "counting keys", rc);
  return static_cast<uint64_t>(use.ColumnInt(0));
}

}  // namespace litestash
