// TxnTable: what a shard file keeps for writes that span shards (contract v2 sections 5-6),
// added by layout step 3 (the protocol is described in engine/write_group.h):
//
//   txn_intents(txn_id INTEGER PRIMARY KEY, owner INTEGER, created_ms INTEGER, body BLOB)
//       in the coordinator shard (the lowest shard a multi-shard write touches): the whole
//       write — what every participant shard must hold — committed with the coordinator's own
//       part. Its commit is the write's commit point: a participant lacking the write redoes
//       it from here.
//   txn_pending(txn_id INTEGER, coord INTEGER, owner INTEGER, PRIMARY KEY (txn_id, coord))
//       in each other participant shard, committed before the write takes that shard's lock
//       and deleted with the participant's part: while it exists, the write may be in doubt
//       on this shard, and a writer of another process must resolve it first (redo or drop).
//
// `owner` identifies the engine process that ran the write (engine/owner_lock.h), so a pending
// row of a live process is left alone.
//
// Failure: SQLite errors come back as Status. Thread-safety: none (the owning thread).
#pragma once

#include <sqlite3.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "shard/sqlite_statement.h"

namespace litestash {

struct PendingTxn {
  uint64_t txn_id = 0;
  uint32_t coord = 0;
  uint64_t owner = 0;
};

struct TxnIntent {
  uint64_t txn_id = 0;
  uint64_t owner = 0;
  int64_t created_ms = 0;
  std::string body;  // shard/txn_intent.h
};

class TxnTable {
 public:
  static constexpr const char* kCreateSql =
      "CREATE TABLE IF NOT EXISTS txn_intents ("
      " txn_id INTEGER PRIMARY KEY, owner INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
      " body BLOB NOT NULL);"
      "CREATE TABLE IF NOT EXISTS txn_pending ("
      " txn_id INTEGER NOT NULL, coord INTEGER NOT NULL, owner INTEGER NOT NULL,"
      " PRIMARY KEY (txn_id, coord)) WITHOUT ROWID;";

  Status Prepare(sqlite3* db, std::string_view file);

  Status AddIntent(const TxnIntent& intent);
  Result<std::optional<TxnIntent>> Intent(uint64_t txn_id);
  // Intents ascending by id, after `after`, at most `limit`.
  Status Intents(uint64_t after, int limit, std::vector<TxnIntent>* out);
  Status DeleteIntent(uint64_t txn_id);

  Status AddPending(const PendingTxn& pending);
  Status DeletePending(uint64_t txn_id, uint32_t coord);
  Result<bool> HasPending(uint64_t txn_id, uint32_t coord);
  Status AllPending(std::vector<PendingTxn>* out);

 private:
  sqlite3* db_ = nullptr;
  std::string file_;
  Statement add_intent_, intent_, intents_, delete_intent_;
  Statement add_pending_, delete_pending_, has_pending_, all_pending_;
};

}  // namespace litestash
