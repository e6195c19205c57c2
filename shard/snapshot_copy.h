// Copies of shard files for `backup` (contract v2 section 7), through SQLite's online backup
// API (sqlite3_backup_*).
//
// SnapshotCopy pins one consistent point of a shard file: it opens its own read-only
// connection and starts a read transaction that has read the file (in WAL mode the snapshot is
// fixed from that moment, whatever other connections commit later). CopyTo() then copies
// exactly that snapshot into a new file — the backup API reads through the connection's open
// read transaction — and may run much later, on another thread, while the shard keeps serving.
//
// CopyDatabase() copies whatever `src` sees now (an in-memory shard: its own connection, on its
// own thread, between transactions).
//
// The copy is written with synchronous=FULL and rollback journal mode, then set to WAL like a
// shard file, and fsynced: once CopyTo returns OK the file is complete on disk.
//
// Failure: Status (kIOError etc., naming the files). Thread-safety: a SnapshotCopy is used by
// one thread at a time (opened on one, copied on another is fine).
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace litestash {

class SnapshotCopy {
 public:
  static Result<std::unique_ptr<SnapshotCopy>> Open(const std::string& path);
  ~SnapshotCopy();
  SnapshotCopy(const SnapshotCopy&) = delete;
  SnapshotCopy& operator=(const SnapshotCopy&) = delete;

  // Writes the snapshot to a new file at `dest` (which must not exist). Once only.
  Status CopyTo(const std::string& dest);

 private:
  SnapshotCopy(sqlite3* db, std::string name) : db_(db), name_(std::move(name)) {}
  sqlite3* db_;
  std::string name_;
};

// Copies the main database of `src` (file name `name`, for messages) to a new file at `dest`.
Status CopyDatabase(sqlite3* src, std::string_view name, const std::string& dest);

}  // namespace litestash
