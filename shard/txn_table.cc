#include "shard/txn_table.h"

#include "shard/sqlite_error.h"

namespace litestash {
namespace {

// Ids and owners are random 63-bit numbers: stored as SQLite's signed integers unchanged.
int64_t I(uint64_t v) { return static_cast<int64_t>(v); }
uint64_t U(int64_t v) { return static_cast<uint64_t>(v); }

TxnIntent IntentOf(const StatementUse& use) {
  TxnIntent t;
  t.txn_id = U(use.ColumnInt(0));
  t.owner = U(use.ColumnInt(1));
  t.created_ms = use.ColumnInt(2);
  t.body = std::string(use.ColumnBytes(3));
  return t;
}

PendingTxn PendingOf(const StatementUse& use) {
  PendingTxn p;
  p.txn_id = U(use.ColumnInt(0));
  p.coord = static_cast<uint32_t>(use.ColumnInt(1));
  p.owner = U(use.ColumnInt(2));
  return p;
}

}  // namespace

Status TxnTable::Prepare(sqlite3* db, std::string_view file) {
  db_ = db;
  file_ = std::string(file);
  return PrepareStatements(
      db, file_,
      {
          {&add_intent_,
           "INSERT OR REPLACE INTO txn_intents(txn_id, owner, created_ms, body) VALUES "
           "(?1,?2,?3,?4)"},
          {&intent_, "SELECT txn_id, owner, created_ms, body FROM txn_intents WHERE txn_id = ?1"},
          {&intents_,
           "SELECT txn_id, owner, created_ms, body FROM txn_intents WHERE txn_id > ?1"
           " ORDER BY txn_id LIMIT ?2"},
          {&delete_intent_, "DELETE FROM txn_intents WHERE txn_id = ?1"},
          {&add_pending_,
           "INSERT OR REPLACE INTO txn_pending(txn_id, coord, owner) VALUES (?1, ?2, ?3)"},
          {&delete_pending_, "DELETE FROM txn_pending WHERE txn_id = ?1 AND coord = ?2"},
          {&has_pending_,
           "SELECT EXISTS (SELECT 1 FROM txn_pending WHERE txn_id = ?1 AND coord = ?2)"},
          {&all_pending_, "SELECT txn_id, coord, owner FROM txn_pending"},
      });
}

Status TxnTable::AddIntent(const TxnIntent& t) {
  StatementUse use(add_intent_);
  use.Int(1, I(t.txn_id))
      .Int(2, I(t.owner))
      .Int(3, t.created_ms)
      .Blob(4, t.body.data(), t.body.size());
  int rc = use.Step();
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "writing an intent", rc);
}

Result<std::optional<TxnIntent>> TxnTable::Intent(uint64_t txn_id) {
  StatementUse use(intent_);
  use.Int(1, I(txn_id));
  int rc = use.Step();
  if (rc == SQLITE_DONE) return std::optional<TxnIntent>();
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "reading an intent", rc);
  return std::optional<TxnIntent>(IntentOf(use));
}

Status TxnTable::Intents(uint64_t after, int limit, std::vector<TxnIntent>* out) {
  StatementUse use(intents_);
  use.Int(1, I(after)).Int(2, limit);
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) out->push_back(IntentOf(use));
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "reading intents", rc);
}

Status TxnTable::DeleteIntent(uint64_t txn_id) {
  StatementUse use(delete_intent_);
  use.Int(1, I(txn_id));
  int rc = use.Step();
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "deleting an intent", rc);
}

Status TxnTable::AddPending(const PendingTxn& p) {
  StatementUse use(add_pending_);
  use.Int(1, I(p.txn_id)).Int(2, p.coord).Int(3, I(p.owner));
  int rc = use.Step();
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "writing a pending mark", rc);
}

Status TxnTable::DeletePending(uint64_t txn_id, uint32_t coord) {
  StatementUse use(delete_pending_);
  use.Int(1, I(txn_id)).Int(2, coord);
  int rc = use.Step();
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "deleting a pending mark", rc);
}

Result<bool> TxnTable::HasPending(uint64_t txn_id, uint32_t coord) {
  StatementUse use(has_pending_);
  use.Int(1, static_cast<int64_t>(txn_id)).Int(2, coord);
  int rc = use.Step();
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "reading pending marks", rc);
  return use.ColumnInt(0) != 0;
}

Status TxnTable::AllPending(std::vector<PendingTxn>* out) {
  StatementUse use(all_pending_);
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) out->push_back(PendingOf(use));
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "reading pending marks", rc);
}

}  // namespace litestash
