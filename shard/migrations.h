// Layout migrations: the ordered steps that take a shard file from an empty file (layout 0) to
// the layout this engine writes, one step per layout number.
//
// Each step is one SQLite transaction taken under the write lock (BEGIN IMMEDIATE): the runner
// re-reads the file's layout inside it, so when several engines open a data dir at once each
// step runs exactly once, and a SIGKILL at any instant leaves the file at the layout before or
// after a step, never in between. Steps are idempotent (CREATE ... IF NOT EXISTS). A file whose
// layout is newer than the last step known here is refused (kTooNew); one with tables but no
// `meta` is not a shard (kCorruption); one of another shard count or index is kMismatch. The
// identity rows (shard_index, shard_count) are written by step 1 and checked at every open.
//
// Adding a table = its table file (its CREATE statement and statements) + one step here.
// Layout numbers and what each added are listed in docs/protocol.md ("Storage layout").
//
// Thread-safety: functions run on the thread that owns `db`.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <span>
#include <string_view>

#include "common/status.h"

namespace litestash {

struct ShardIdentity {
  uint32_t index = 0;
  uint32_t count = 16;
};

struct MigrationStep {
  int layout;             // the layout this step produces (from layout - 1)
  std::string_view what;  // one line for the log: what the step adds
  // Runs inside the step's write transaction; must be idempotent.
  Status (*run)(sqlite3* db, const ShardIdentity& identity);
};

// This engine's steps in order: StandardMigrations()[i].layout == i + 1.
std::span<const MigrationStep> StandardMigrations();

// What a file says about itself, read in the caller's transaction.
struct LayoutFacts {
  bool has_tables = false;  // any schema object at all
  bool has_meta = false;
  int64_t layout = 0;  // 0: a new file
  int64_t index = -1, count = -1;
};
Status ReadLayoutFacts(sqlite3* db, std::string_view file, LayoutFacts* facts);

// Brings the file to the last layout of `steps` (read-write connection, outside any
// transaction). Logs each step taken at info level.
Status Migrate(sqlite3* db, std::string_view file, const ShardIdentity& identity,
               std::span<const MigrationStep> steps);

// For read-only connections: checks, in one read transaction, that the file is a shard of this
// identity at exactly `layout`; creates and changes nothing.
Status VerifyLayout(sqlite3* db, std::string_view file, const ShardIdentity& identity,
                    int layout);

}  // namespace litestash
