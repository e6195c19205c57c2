#include "shard/migrations.h"

#include <spdlog/spdlog.h>

#include <string>

#include "shard/expiry_table.h"
#include "shard/history_table.h"
#include "shard/kv_table.h"
#include "shard/meta_table.h"
#include "shard/sqlite_error.h"
#include "shard/sqlite_statement.h"
#include "shard/stream_table.h"
#include "shard/txn_table.h"

namespace litestash {
namespace {

// Runs `sql`; a failure names `what` (default: the SQL itself).
Status Exec(sqlite3* db, std::string_view file, const std::string& sql,
            std::string_view what = {}) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  return rc == SQLITE_OK ? Status::Ok()
                         : SqliteStatus(db, file, what.empty() ? std::string_view(sql) : what, rc);
}

// Layout 1: the contract's stash table, expiry and meta with the shard's identity.
Status Layout1(sqlite3* db, const ShardIdentity& id) {
  const std::string sql =
      std::string(KvTable::kCreateSql) + ExpiryTable::kCreateSql + MetaTable::kCreateSql + ";" +
      "INSERT OR IGNORE INTO meta(name, value) VALUES ('shard_index', " + std::to_string(id.index) +
      "), ('shard_count', " + std::to_string(id.count) + "), ('last_version', 0)";
  return Exec(db, "", sql, "creating the layout-1 tables");
}

// Layout 2: streams, their entries and committed offsets (contract v2 section 2).
Status Layout2(sqlite3* db, const ShardIdentity&) {
  return Exec(db, "", StreamTable::kCreateSql, "creating the stream tables");
}

// Layout 3: key history (contract v2 section 3) and the bookkeeping of multi-shard writes
// (sections 5-6). The history depth lives in meta (`keep_versions`; no row: 0).
Status Layout3(sqlite3* db, const ShardIdentity&) {
  return Exec(db, "", std::string(HistoryTable::kCreateSql) + TxnTable::kCreateSql,
              "creating the history and transaction tables");
}

constexpr MigrationStep kSteps[] = {
    {1, "stash, expiry and meta tables", Layout1},
    {2, "stream tables (streams, stream_entries, stream_groups)", Layout2},
    {3, "history and transaction tables (history, txn_intents, txn_pending)", Layout3},
};

Status CheckIdentity(std::string_view file, const LayoutFacts& facts, const ShardIdentity& id) {
  if (facts.count != id.count || facts.index != id.index) {
    return Status::Mismatch(
        std::string(file) + ": data dir was created with " + std::to_string(facts.count) +
        " shards (this file is shard " + std::to_string(facts.index) +
        "), but the engine was started with --shards " + std::to_string(id.count));
  }
  return Status::Ok();
}

// The checks every open makes before touching anything.
Status CheckFacts(std::string_view file, const LayoutFacts& facts, int latest) {
  if (facts.has_tables && !facts.has_meta) {
    return Status::Corruption(std::string(file) +
                              ": holds tables but is not a litestash shard (no meta table)");
  }
  if (facts.layout > latest) {
    return Status::TooNew(std::string(file) + ": layout version " + std::to_string(facts.layout) +
                          " is newer than this engine knows (" + std::to_string(latest) +
                          "); use a newer litestash-engine");
  }
  return Status::Ok();
}

void Rollback(sqlite3* db) {
  if (sqlite3_get_autocommit(db) == 0) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace

std::span<const MigrationStep> StandardMigrations() { return kSteps; }

Status ReadLayoutFacts(sqlite3* db, std::string_view file, LayoutFacts* facts) {
  *facts = LayoutFacts();
  Statement probe;
  int rc = probe.Prepare(db,
                         "SELECT (SELECT count(*) FROM sqlite_schema),"
                         " (SELECT count(*) FROM sqlite_schema WHERE name='meta')");
  if (rc != SQLITE_OK) return SqliteStatus(db, file, "reading the schema", rc);
  {
    StatementUse use(probe);
    rc = use.Step();
    if (rc != SQLITE_ROW) return SqliteStatus(db, file, "reading the schema", rc);
    facts->has_tables = use.ColumnInt(0) > 0;
    facts->has_meta = use.ColumnInt(1) > 0;
  }
  if (!facts->has_meta) return Status::Ok();
  Statement read;
  rc = read.Prepare(db, "SELECT name, value FROM meta");
  if (rc != SQLITE_OK) return SqliteStatus(db, file, "reading meta", rc);
  StatementUse use(read);
  while ((rc = use.Step()) == SQLITE_ROW) {
    std::string_view name = use.ColumnBytes(0);
    if (name == "layout_version") facts->layout = use.ColumnInt(1);
    if (name == "shard_index") facts->index = use.ColumnInt(1);
    if (name == "shard_count") facts->count = use.ColumnInt(1);
  }
  if (rc != SQLITE_DONE) return SqliteStatus(db, file, "reading meta", rc);
  // A meta table without a layout row is a layout-1 file caught before its first commit ended:
  // impossible (step 1 is one transaction); treat it as not a shard.
  if (facts->layout == 0) {
    return Status::Corruption(std::string(file) + ": has a meta table but no layout_version");
  }
  return Status::Ok();
}

Status Migrate(sqlite3* db, std::string_view file, const ShardIdentity& identity,
               std::span<const MigrationStep> steps) {
  const int latest = steps.empty() ? 0 : steps.back().layout;
  // Fast path: a file already at the latest layout needs no write lock (a read transaction).
  LayoutFacts facts;
  LITESTASH_RETURN_IF_ERROR(Exec(db, file, "BEGIN"));
  Status st = ReadLayoutFacts(db, file, &facts);
  Rollback(db);
  LITESTASH_RETURN_IF_ERROR(st);
  LITESTASH_RETURN_IF_ERROR(CheckFacts(file, facts, latest));
  if (facts.layout == latest) return CheckIdentity(file, facts, identity);

  const int64_t found_layout = facts.layout;  // 0: a new file (its steps are not upgrades)
  for (;;) {
    LITESTASH_RETURN_IF_ERROR(Exec(db, file, "BEGIN IMMEDIATE"));
    st = ReadLayoutFacts(db, file, &facts);  // another engine may have moved it meanwhile
    if (st.ok()) st = CheckFacts(file, facts, latest);
    if (st.ok() && facts.layout >= 1) st = CheckIdentity(file, facts, identity);
    if (st.ok() && facts.layout == latest) {
      Rollback(db);
      return Status::Ok();
    }
    const MigrationStep* step = nullptr;
    for (const MigrationStep& s : steps) {
      if (s.layout == facts.layout + 1) step = &s;
    }
    if (st.ok() && step == nullptr) {
      st = Status::Internal(std::string(file) + ": no migration step to layout " +
                            std::to_string(facts.layout + 1));
    }
    if (st.ok()) {
      st = step->run(db, identity);
      if (!st.ok()) st = Status(st.code(), std::string(file) + st.message());
    }
    if (st.ok()) {
      st = Exec(db, file,
                "INSERT OR REPLACE INTO meta(name, value) VALUES ('layout_version', " +
                    std::to_string(step->layout) + ")");
    }
    if (st.ok()) st = Exec(db, file, "COMMIT");
    if (!st.ok()) {
      Rollback(db);
      return st;
    }
    if (found_layout > 0) {
      spdlog::info("{}: upgraded layout {} -> {} ({})", file, facts.layout, step->layout,
                   step->what);
    }
  }
}

Status VerifyLayout(sqlite3* db, std::string_view file, const ShardIdentity& identity, int layout) {
  LayoutFacts facts;
  LITESTASH_RETURN_IF_ERROR(Exec(db, file, "BEGIN"));
  Status st = ReadLayoutFacts(db, file, &facts);
  Rollback(db);
  LITESTASH_RETURN_IF_ERROR(st);
  LITESTASH_RETURN_IF_ERROR(CheckFacts(file, facts, layout));
  if (facts.layout != layout) {
    return Status::Mismatch(std::string(file) + ": layout " + std::to_string(facts.layout) +
                            ", expected " + std::to_string(layout));
  }
  return CheckIdentity(file, facts, identity);
}

}  // namespace litestash
