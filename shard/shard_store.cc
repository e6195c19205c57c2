#include "shard/shard_store.h"

#include <chrono>
#include <filesystem>
#include <thread>

namespace litestash {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS stash (
  key_hash    BLOB PRIMARY KEY,
  key         TEXT NOT NULL,
  value       BLOB NOT NULL,
  timestamp   INTEGER NOT NULL,
  microsecond INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stash_key ON stash(key);
CREATE TABLE IF NOT EXISTS expiry (
  key_hash   BLOB PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS expiry_at ON expiry(expires_at);
CREATE TABLE IF NOT EXISTS meta (
  name  TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;
)sql";

// Live = no expiry row, or one in the future (?now in ms).
constexpr const char* kScanTail =
    " AND (?2 IS NULL OR s.key < ?2)"
    " AND (e.expires_at IS NULL OR e.expires_at > ?3) ORDER BY s.key LIMIT ?4";

// The smallest string greater than every string starting with `prefix` (bytewise), or nullopt
// when there is none (empty prefix, or all 0xFF bytes).
std::optional<std::string> PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xFF) end.pop_back();
  if (end.empty()) return std::nullopt;
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

const char* SyncPragma(SyncMode mode) {
  switch (mode) {
    case SyncMode::kOff:
      return "PRAGMA synchronous=OFF";
    case SyncMode::kNormal:
      return "PRAGMA synchronous=NORMAL";
    case SyncMode::kFull:
      return "PRAGMA synchronous=FULL";
  }
  return "PRAGMA synchronous=FULL";
}

bool IsDataError(int rc) {
  rc &= 0xFF;
  return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

}  // namespace

Clock Clock::Now() {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return Clock{us / 1000, us};
}

ShardStore::ShardStore(const ShardOptions& options)
    : options_(options),
      name_(options.in_memory ? "memory shard " + std::to_string(options.index)
                              : options.path.substr(options.path.find_last_of('/') + 1)) {}

ShardStore::~ShardStore() {
  // close_v2 defers the real close until the members' destructors have finalized every
  // statement, so no statement outlives its connection.
  sqlite3_close_v2(db_);
}

Status ShardStore::SqlError(std::string_view what, int rc) const {
  std::string msg = name_ + ": " + std::string(what) + ": " + sqlite3_errstr(rc);
  if (db_ != nullptr && sqlite3_errcode(db_) == rc) {
    msg += " (" + std::string(sqlite3_errmsg(db_)) + ")";
  }
  if (IsDataError(rc)) saw_data_error_ = true;
  return Status::Storage(msg);
}

Status ShardStore::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return SqlError(sql, rc);
  return Status::Ok();
}

Result<std::unique_ptr<ShardStore>> ShardStore::Open(const ShardOptions& options) {
  std::unique_ptr<ShardStore> store(new ShardStore(options));
  Status st = store->Init();
  if (!st.ok() && store->saw_data_error_) return Status(ErrorCode::kConflict, st.message());
  if (!st.ok()) return st;
  return store;
}

Status ShardStore::Init() {
  // A new (absent or empty) file needs no fsync until its layout exists: if power fails before
  // then, the file is simply empty again and is created at the next start.
  std::error_code ec;
  const bool fresh = !options_.in_memory && (!std::filesystem::exists(options_.path, ec) ||
                                             std::filesystem::file_size(options_.path, ec) == 0);
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const char* path = options_.in_memory ? ":memory:" : options_.path.c_str();
  int rc =
      sqlite3_open_v2(path, &db_, flags, options_.vfs.empty() ? nullptr : options_.vfs.c_str());
  if (rc != SQLITE_OK) {
    return Status::Storage(name_ + ": cannot open: " + sqlite3_errstr(rc));
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, options_.busy_timeout_ms);
  LITESTASH_RETURN_IF_ERROR(Exec(fresh ? "PRAGMA synchronous=OFF" : SyncPragma(options_.sync)));

  if (!options_.in_memory) {
    // Switching to WAL needs a moment of exclusive access; engines starting together on a new
    // data dir may collide, and the busy handler does not cover every case of it.
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.busy_timeout_ms);
    for (;;) {
      char* err = nullptr;
      rc = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, &err);
      sqlite3_free(err);
      if ((rc & 0xFF) != SQLITE_BUSY && (rc & 0xFF) != SQLITE_LOCKED) break;
      if (std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (rc != SQLITE_OK) return SqlError("enabling WAL", rc);
  }
  const std::string cache = "PRAGMA cache_size=-" + std::to_string(options_.cache_kib);
  LITESTASH_RETURN_IF_ERROR(Exec(cache.c_str()));
  LITESTASH_RETURN_IF_ERROR(VerifyLayout());
  return fresh ? Exec(SyncPragma(options_.sync)) : Status::Ok();
}

// Reads the layout facts recorded in `meta` (inside the caller's transaction). has_meta is
// false when the file has no meta table; has_tables tells a foreign database from a new one.
struct ShardStore::LayoutFacts {
  bool has_tables = false;
  bool has_meta = false;
  int64_t layout = -1, index = -1, count = -1;
};

Status ShardStore::ReadLayout(LayoutFacts* facts) {
  Statement probe;
  int rc = probe.Prepare(db_,
                         "SELECT (SELECT count(*) FROM sqlite_schema),"
                         " (SELECT count(*) FROM sqlite_schema WHERE name='meta')");
  if (rc != SQLITE_OK) return SqlError("reading the schema", rc);
  {
    StatementUse use(probe);
    rc = use.Step();
    if (rc != SQLITE_ROW) return SqlError("reading the schema", rc);
    facts->has_tables = use.ColumnInt(0) > 0;
    facts->has_meta = use.ColumnInt(1) > 0;
  }
  if (!facts->has_meta) return Status::Ok();
  Statement read;
  rc = read.Prepare(db_, "SELECT name, value FROM meta");
  if (rc != SQLITE_OK) return SqlError("reading meta", rc);
  StatementUse use(read);
  while ((rc = use.Step()) == SQLITE_ROW) {
    std::string_view name = use.ColumnBytes(0);
    if (name == "layout_version") facts->layout = use.ColumnInt(1);
    if (name == "shard_index") facts->index = use.ColumnInt(1);
    if (name == "shard_count") facts->count = use.ColumnInt(1);
  }
  if (rc != SQLITE_DONE) return SqlError("reading meta", rc);
  return Status::Ok();
}

Status ShardStore::CheckLayout(const LayoutFacts& facts) const {
  if (facts.has_tables && !facts.has_meta) {
    return Status(ErrorCode::kConflict,
                  name_ + ": holds tables but is not a litestash shard (no meta table)");
  }
  if (facts.layout != kLayoutVersion) {
    return Status(ErrorCode::kConflict, name_ + ": layout version " + std::to_string(facts.layout) +
                                            ", this engine uses " + std::to_string(kLayoutVersion));
  }
  if (facts.count != options_.count || facts.index != options_.index) {
    return Status(ErrorCode::kConflict,
                  name_ + ": data dir was created with " + std::to_string(facts.count) +
                      " shards (this file is shard " + std::to_string(facts.index) +
                      "), but the engine was started with --shards " +
                      std::to_string(options_.count));
  }
  return Status::Ok();
}

// Checks an existing file is a litestash shard with this index, shard count and layout version
// (a read transaction: no lock, no commit), or creates the layout on a new file. Creation runs
// under the write lock and re-reads the facts there, so engines starting at the same moment on
// an empty data dir agree on one layout.
Status ShardStore::VerifyLayout() {
  LayoutFacts facts;
  LITESTASH_RETURN_IF_ERROR(Exec("BEGIN"));
  Status st = ReadLayout(&facts);
  Exec("COMMIT").ok();  // ends a read transaction; nothing to fail
  LITESTASH_RETURN_IF_ERROR(st);
  if (facts.has_meta || facts.has_tables) return CheckLayout(facts);

  // A new, empty file (see Init for why this first commit runs without fsync).
  LITESTASH_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  st = ReadLayout(&facts);  // another engine may have created it meanwhile
  if (st.ok() && !facts.has_meta && !facts.has_tables) {
    st = Exec(kSchema);
    const std::string seed = "INSERT INTO meta(name, value) VALUES ('layout_version', " +
                             std::to_string(kLayoutVersion) + "), ('shard_index', " +
                             std::to_string(options_.index) + "), ('shard_count', " +
                             std::to_string(options_.count) + "), ('last_version', 0)";
    if (st.ok()) st = Exec(seed.c_str());
    if (st.ok()) st = ReadLayout(&facts);
  }
  if (st.ok()) st = CheckLayout(facts);
  if (st.ok()) st = Exec("COMMIT");
  if (!st.ok()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return st;
}

Status ShardStore::PrepareStatements() {
  struct {
    Statement* stmt;
    const char* sql;
  } const statements[] = {
      {&begin_read_, "BEGIN"},
      {&begin_write_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&upsert_,
       "INSERT INTO stash(key_hash, key, value, timestamp, microsecond) VALUES (?1,?2,?3,?4,?5)"
       " ON CONFLICT(key_hash) DO UPDATE SET key=excluded.key, value=excluded.value,"
       " timestamp=excluded.timestamp, microsecond=excluded.microsecond"},
      {&get_,
       "SELECT s.value, s.timestamp, s.microsecond, e.expires_at FROM stash AS s"
       " LEFT JOIN expiry AS e ON e.key_hash = s.key_hash WHERE s.key_hash = ?1"},
      {&get_plain_, "SELECT value, timestamp, microsecond FROM stash WHERE key_hash = ?1"},
      {&has_expiries_, "SELECT EXISTS (SELECT 1 FROM expiry)"},
      {&expiry_of_,
       "SELECT e.expires_at FROM stash AS s LEFT JOIN expiry AS e ON e.key_hash = s.key_hash"
       " WHERE s.key_hash = ?1"},
      {&delete_stash_, "DELETE FROM stash WHERE key_hash = ?1"},
      {&delete_expiry_, "DELETE FROM expiry WHERE key_hash = ?1"},
      {&set_expiry_, "INSERT OR REPLACE INTO expiry(key_hash, expires_at) VALUES (?1, ?2)"},
      {&scan_incl_, nullptr},
      {&scan_excl_, nullptr},
      {&count_live_,
       "SELECT (SELECT count(*) FROM stash) -"
       " (SELECT count(*) FROM expiry WHERE expires_at <= ?1)"},
      {&count_expiring_, "SELECT count(*) FROM expiry WHERE expires_at > ?1"},
      {&sweep_stash_,
       "DELETE FROM stash WHERE key_hash IN (SELECT key_hash FROM expiry"
       " WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)"},
      {&sweep_expiry_,
       "DELETE FROM expiry WHERE key_hash IN (SELECT key_hash FROM expiry"
       " WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)"},
      {&clear_stash_, "DELETE FROM stash"},
      {&clear_expiry_, "DELETE FROM expiry"},
      {&load_version_, "SELECT value FROM meta WHERE name = 'last_version'"},
      {&store_version_, "UPDATE meta SET value = ?1 WHERE name = 'last_version'"},
      {&data_version_, "PRAGMA data_version"},
  };
  const std::string scan_head =
      "SELECT s.key FROM stash AS s LEFT JOIN expiry AS e ON e.key_hash = s.key_hash"
      " WHERE s.key ";
  const std::string scan_incl = scan_head + ">= ?1" + kScanTail;
  const std::string scan_excl = scan_head + "> ?1" + kScanTail;
  for (const auto& s : statements) {
    const std::string_view sql = s.stmt == &scan_incl_   ? scan_incl
                                 : s.stmt == &scan_excl_ ? scan_excl
                                                         : std::string_view(s.sql);
    int rc = s.stmt->Prepare(db_, sql);
    if (rc != SQLITE_OK) return SqlError("preparing '" + std::string(sql) + "'", rc);
  }
  return Status::Ok();
}

Status ShardStore::Begin(bool write) {
  StatementUse use(write ? begin_write_ : begin_read_);
  int rc = use.Step();
  if (rc != SQLITE_DONE) return SqlError(write ? "BEGIN IMMEDIATE" : "BEGIN", rc);
  in_write_txn_ = write;
  version_dirty_ = false;
  if (write) {
    StatementUse load(load_version_);
    rc = load.Step();
    if (rc != SQLITE_ROW) {
      Rollback();
      return SqlError("reading last_version", rc);
    }
    last_version_ = static_cast<uint64_t>(load.ColumnInt(0));
  }
  return Status::Ok();
}

Status ShardStore::Commit() {
  if (in_write_txn_ && version_dirty_) {
    StatementUse store(store_version_);
    store.Int(1, static_cast<int64_t>(last_version_));
    int rc = store.Step();
    if (rc != SQLITE_DONE) return SqlError("storing last_version", rc);
  }
  StatementUse use(commit_);
  int rc = use.Step();
  if (rc != SQLITE_DONE) return SqlError("COMMIT", rc);
  in_write_txn_ = false;
  return Status::Ok();
}

void ShardStore::Rollback() {
  if (sqlite3_get_autocommit(db_) == 0) {
    StatementUse use(rollback_);
    use.Step();
  }
  in_write_txn_ = false;
  version_dirty_ = false;
}

uint64_t ShardStore::NextVersion(const Clock& clock) {
  const uint64_t now = static_cast<uint64_t>(clock.now_us);
  last_version_ = now > last_version_ ? now : last_version_ + 1;
  version_dirty_ = true;
  return last_version_;
}

Result<uint64_t> ShardStore::Put(const Digest& digest, std::string_view key, std::string_view value,
                                 std::optional<int64_t> expires_at, const Clock& clock) {
  const uint64_t version = NextVersion(clock);
  {
    StatementUse use(upsert_);
    use.Blob(1, digest.data(), digest.size())
        .Text(2, key)
        .Blob(3, value.data(), value.size())
        .Int(4, static_cast<int64_t>(version / 1000000))
        .Int(5, static_cast<int64_t>(version % 1000000));
    int rc = use.Step();
    if (rc != SQLITE_DONE) return SqlError("writing a key", rc);
  }
  if (expires_at) {
    StatementUse use(set_expiry_);
    use.Blob(1, digest.data(), digest.size()).Int(2, *expires_at);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return SqlError("writing an expiry", rc);
  } else {
    StatementUse use(delete_expiry_);
    use.Blob(1, digest.data(), digest.size());
    int rc = use.Step();
    if (rc != SQLITE_DONE) return SqlError("clearing an expiry", rc);
  }
  return version;
}

Result<std::optional<StoredValue>> ShardStore::Get(const Digest& digest, const Clock& clock) {
  auto found = Lookup(digest);
  if (!found.ok()) return found.status();
  if (!found.value() || !found.value()->LiveAt(clock.now_ms)) return std::optional<StoredValue>();
  return std::optional<StoredValue>(std::move(found.value()->stored));
}

Result<std::optional<StoredRecord>> ShardStore::Lookup(const Digest& digest, bool with_expiry) {
  StatementUse use(with_expiry ? get_ : get_plain_);
  use.Blob(1, digest.data(), digest.size());
  int rc = use.Step();
  if (rc == SQLITE_DONE) return std::optional<StoredRecord>();
  if (rc != SQLITE_ROW) return SqlError("reading a key", rc);
  StoredRecord out;
  out.stored.value = std::string(use.ColumnBytes(0));
  out.stored.version =
      static_cast<uint64_t>(use.ColumnInt(1)) * 1000000 + static_cast<uint64_t>(use.ColumnInt(2));
  if (with_expiry && !use.ColumnIsNull(3)) out.expires_at = use.ColumnInt(3);
  return std::optional<StoredRecord>(std::move(out));
}

Result<bool> ShardStore::HasExpiries() {
  StatementUse use(has_expiries_);
  int rc = use.Step();
  if (rc != SQLITE_ROW) return SqlError("checking for expiries", rc);
  return use.ColumnInt(0) != 0;
}

Result<int64_t> ShardStore::DataVersion() {
  StatementUse use(data_version_);
  int rc = use.Step();
  if (rc != SQLITE_ROW) return SqlError("reading data_version", rc);
  return use.ColumnInt(0);
}

Result<KeyExpiry> ShardStore::Expiry(const Digest& digest, const Clock& clock) {
  StatementUse use(expiry_of_);
  use.Blob(1, digest.data(), digest.size());
  int rc = use.Step();
  KeyExpiry out;
  if (rc == SQLITE_DONE) return out;
  if (rc != SQLITE_ROW) return SqlError("reading an expiry", rc);
  if (!use.ColumnIsNull(0)) {
    const int64_t at = use.ColumnInt(0);
    if (at <= clock.now_ms) return out;  // expired: absent
    out.expires_at = at;
  }
  out.found = true;
  return out;
}

Result<bool> ShardStore::Delete(const Digest& digest, const Clock& clock) {
  auto before = Expiry(digest, clock);
  if (!before.ok()) return before.status();
  int changes = 0;
  for (Statement* stmt : {&delete_stash_, &delete_expiry_}) {
    StatementUse use(*stmt);
    use.Blob(1, digest.data(), digest.size());
    int rc = use.Step();
    if (rc != SQLITE_DONE) return SqlError("deleting a key", rc);
    if (stmt == &delete_stash_) changes = sqlite3_changes(db_);
  }
  return changes > 0 && before->found;
}

Result<bool> ShardStore::SetExpiry(const Digest& digest, std::optional<int64_t> expires_at,
                                   const Clock& clock) {
  auto current = Expiry(digest, clock);
  if (!current.ok()) return current.status();
  if (!current->found) return false;
  if (!expires_at) {
    if (!current->expires_at) return false;  // nothing to persist
    StatementUse use(delete_expiry_);
    use.Blob(1, digest.data(), digest.size());
    int rc = use.Step();
    if (rc != SQLITE_DONE) return SqlError("clearing an expiry", rc);
    return true;
  }
  StatementUse use(set_expiry_);
  use.Blob(1, digest.data(), digest.size()).Int(2, *expires_at);
  int rc = use.Step();
  if (rc != SQLITE_DONE) return SqlError("writing an expiry", rc);
  return true;
}

Status ShardStore::Scan(std::string_view prefix, std::optional<std::string_view> after,
                        uint64_t limit, const Clock& clock, std::vector<std::string>* keys) {
  // Start at the larger of the two lower bounds so the key index is entered in the right place.
  const bool use_after = after && *after >= prefix;
  const std::optional<std::string> end = PrefixEnd(prefix);
  StatementUse use(use_after ? scan_excl_ : scan_incl_);
  use.Text(1, use_after ? *after : prefix).Int(3, clock.now_ms).Int(4, static_cast<int64_t>(limit));
  if (end) {
    use.Text(2, *end);
  } else {
    use.Null(2);
  }
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) keys->emplace_back(use.ColumnBytes(0));
  if (rc != SQLITE_DONE) return SqlError("scanning keys", rc);
  return Status::Ok();
}

Result<uint64_t> ShardStore::CountLive(const Clock& clock) {
  StatementUse use(count_live_);
  use.Int(1, clock.now_ms);
  int rc = use.Step();
  if (rc != SQLITE_ROW) return SqlError("counting keys", rc);
  return static_cast<uint64_t>(use.ColumnInt(0));
}

Result<uint64_t> ShardStore::CountExpiring(const Clock& clock) {
  StatementUse use(count_expiring_);
  use.Int(1, clock.now_ms);
  int rc = use.Step();
  if (rc != SQLITE_ROW) return SqlError("counting expiring keys", rc);
  return static_cast<uint64_t>(use.ColumnInt(0));
}

Status ShardStore::Clear() {
  for (Statement* stmt : {&clear_stash_, &clear_expiry_}) {
    StatementUse use(*stmt);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return SqlError("clearing the shard", rc);
  }
  return Status::Ok();
}

Result<int> ShardStore::SweepExpired(const Clock& clock, int max_rows) {
  LITESTASH_RETURN_IF_ERROR(Begin(true));
  int removed = 0;
  for (Statement* stmt : {&sweep_stash_, &sweep_expiry_}) {
    StatementUse use(*stmt);
    use.Int(1, clock.now_ms).Int(2, max_rows);
    int rc = use.Step();
    if (rc != SQLITE_DONE) {
      Rollback();
      return SqlError("sweeping expired keys", rc);
    }
    if (stmt == &sweep_stash_) removed = sqlite3_changes(db_);
  }
  Status st = Commit();
  if (!st.ok()) {
    Rollback();
    return st;
  }
  return removed;
}

Status ShardStore::SyncToDisk() {
  if (options_.in_memory) return Status::Ok();
  // A commit made under synchronous=FULL fsyncs the WAL, and with it every earlier commit. A
  // passive checkpoint alone is not enough: when another process's read transaction keeps it
  // from copying any frame, it skips the fsync and would report success with nothing synced.
  LITESTASH_RETURN_IF_ERROR(Exec("PRAGMA synchronous=FULL"));
  Status st = Exec("BEGIN IMMEDIATE");
  // The row must really change: SQLite does not write a row whose bytes are unchanged, and a
  // commit with nothing to write fsyncs nothing.
  if (st.ok()) {
    st = Exec(
        "INSERT INTO meta(name, value) VALUES ('sync_count', 1)"
        " ON CONFLICT(name) DO UPDATE SET value = value + 1");
  }
  if (st.ok()) st = Exec("COMMIT");
  if (!st.ok()) Rollback();
  Status restored = Exec(SyncPragma(options_.sync));
  LITESTASH_RETURN_IF_ERROR(st);
  LITESTASH_RETURN_IF_ERROR(restored);
  // Then move the WAL into the database file where no reader is in the way (best effort).
  sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  return Status::Ok();
}

Status ShardStore::Checkpoint() {
  if (options_.in_memory) return Status::Ok();
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  // Another process reading the file can hold the WAL open; that is not an error for us.
  if (rc != SQLITE_OK && (rc & 0xFF) != SQLITE_BUSY) return SqlError("checkpoint", rc);
  return Status::Ok();
}

}  // namespace litestash
