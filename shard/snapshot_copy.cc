#include "shard/snapshot_copy.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shard/sqlite_error.h"

namespace litestash {
namespace {

Status Exec(sqlite3* db, std::string_view name, const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  return rc == SQLITE_OK ? Status::Ok() : SqliteStatus(db, name, sql, rc);
}

std::string BaseName(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

}  // namespace

Result<std::unique_ptr<SnapshotCopy>> SnapshotCopy::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const std::string name = BaseName(path);
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status st = SqliteStatus(db, name, "opening for a backup", rc);
    sqlite3_close_v2(db);
    return st;
  }
  sqlite3_busy_timeout(db, 60000);
  std::unique_ptr<SnapshotCopy> copy(new SnapshotCopy(db, name));
  // BEGIN alone takes no snapshot; the first read does.
  LITESTASH_RETURN_IF_ERROR(Exec(db, name, "BEGIN"));
  LITESTASH_RETURN_IF_ERROR(Exec(db, name, "SELECT count(*) FROM meta"));
  return copy;
}

SnapshotCopy::~SnapshotCopy() {
  if (sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close_v2(db_);
}

Status SnapshotCopy::CopyTo(const std::string& dest) { return CopyDatabase(db_, name_, dest); }

Status CopyDatabase(sqlite3* src, std::string_view name, const std::string& dest) {
  sqlite3* out = nullptr;
  const std::string out_name = BaseName(dest);
  int rc =
      sqlite3_open_v2(dest.c_str(), &out,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Status st;
  if (rc != SQLITE_OK) st = SqliteStatus(out, out_name, "creating the backup file", rc);
  if (st.ok()) st = Exec(out, out_name, "PRAGMA synchronous=FULL");
  if (st.ok()) {
    sqlite3_backup* backup = sqlite3_backup_init(out, "main", src, "main");
    if (backup == nullptr) {
      st = SqliteStatus(out, out_name, "starting the backup", sqlite3_errcode(out));
    } else {
      // One step: the whole file in one pass, inside the source's (pinned) read transaction.
      rc = sqlite3_backup_step(backup, -1);
      const int finish = sqlite3_backup_finish(backup);
      if (rc != SQLITE_DONE) {
        st = SqliteStatus(src, name, "copying for a backup", rc);
      } else if (finish != SQLITE_OK) {
        st = SqliteStatus(out, out_name, "finishing the backup", finish);
      }
    }
  }
  // The copy opens like any shard file: WAL mode, checkpointed (nothing left in a -wal file).
  if (st.ok()) st = Exec(out, out_name, "PRAGMA journal_mode=WAL");
  if (st.ok()) {
    rc = sqlite3_wal_checkpoint_v2(out, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    if (rc != SQLITE_OK) st = SqliteStatus(out, out_name, "checkpointing the backup", rc);
  }
  sqlite3_close_v2(out);
  if (st.ok()) {
    // Closing the last connection removed the -wal file; make the file itself durable.
    const int fd = ::open(dest.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      st = Status::IOError(out_name + ": cannot sync the backup: " + std::strerror(errno));
    }
    if (fd >= 0) ::close(fd);
  }
  return st;
}

}  // namespace litestash
