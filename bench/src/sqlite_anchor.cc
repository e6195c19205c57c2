// Raw SQLite anchor: sharded WAL files, prepared statements, batched commits (see sqlite_anchor.h).
#include "sqlite_anchor.h"

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "common/blake2b.h"
#include "engine_process.h"
#include "phase_result.h"
#include "pipeline_driver.h"

namespace litestash::bench {

namespace {

const char* kSchema =
    "CREATE TABLE IF NOT EXISTS stash ("
    " key_hash BLOB PRIMARY KEY, key TEXT NOT NULL, value BLOB NOT NULL,"
    " timestamp INTEGER NOT NULL, microsecond INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS stash_key ON stash(key);";

void Check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    throw std::runtime_error(std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
  }
}

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw std::runtime_error(sql.substr(0, 60) + ": " + msg);
  }
}

// One shard file with its prepared statements and open-transaction bookkeeping.
struct Shard {
  sqlite3* db = nullptr;
  sqlite3_stmt* put = nullptr;
  sqlite3_stmt* get = nullptr;
  bool in_txn = false;
  uint64_t pending = 0;  // writes since BEGIN
  uint64_t last_version = 0;
  uint64_t pages_written = 0;  // PagesWritten()'s total

  // Pages written to the WAL (commits, and dirty pages spilled from a full cache mid-transaction),
  // counted as the engine counts its own (stats pages_written).
  uint64_t PagesWritten() {
    int current = 0, highwater = 0;
    if (sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_WRITE, &current, &highwater, 1) == SQLITE_OK &&
        current > 0) {
      pages_written += static_cast<uint64_t>(current);
    }
    return pages_written;
  }

  Shard(const std::string& path) {
    Check(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                          nullptr),
          db, "open");
    Exec(db, "PRAGMA journal_mode=WAL");
    Exec(db, "PRAGMA synchronous=NORMAL");
    Exec(db, kSchema);
    Check(sqlite3_prepare_v3(db,
                             "INSERT OR REPLACE INTO stash(key_hash,key,value,timestamp,microsecond) "
                             "VALUES(?1,?2,?3,?4,?5)",
                             -1, SQLITE_PREPARE_PERSISTENT, &put, nullptr),
          db, "prepare insert");
    Check(sqlite3_prepare_v3(db, "SELECT value,timestamp,microsecond FROM stash WHERE key_hash=?1", -1,
                             SQLITE_PREPARE_PERSISTENT, &get, nullptr),
          db, "prepare select");
  }
  ~Shard() {
    sqlite3_finalize(put);
    sqlite3_finalize(get);
    sqlite3_close(db);
  }
  void Begin() { if (!in_txn) { Exec(db, "BEGIN"); in_txn = true; pending = 0; } }
  void Commit() { if (in_txn) { Exec(db, "COMMIT"); in_txn = false; pending = 0; } }
};

uint64_t NowMicros() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

class Store {
 public:
  Store(const std::string& dir, int shards) {
    for (int i = 0; i < shards; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "/shard-%02d.db", i);
      shards_.push_back(std::make_unique<Shard>(dir + name));
    }
  }
  void SetSync(const std::string& level) {
    for (auto& s : shards_) Exec(s->db, "PRAGMA synchronous=" + level);
  }
  // Writes one key; commits its shard when `commit_every` writes are pending (0 = never here).
  void Put(const std::string& key, const std::string& value, int64_t commit_every) {
    Digest d = Hash(key);
    Shard& s = *shards_[ShardOf(d, static_cast<uint32_t>(shards_.size()))];
    s.Begin();
    uint64_t v = std::max(NowMicros(), s.last_version + 1);  // strictly increasing per shard
    s.last_version = v;
    sqlite3_bind_blob(s.put, 1, d.data(), static_cast<int>(d.size()), SQLITE_STATIC);
    sqlite3_bind_text(s.put, 2, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    sqlite3_bind_blob(s.put, 3, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    sqlite3_bind_int64(s.put, 4, static_cast<int64_t>(v / 1000000));
    sqlite3_bind_int64(s.put, 5, static_cast<int64_t>(v % 1000000));
    Check(sqlite3_step(s.put), s.db, "insert");
    sqlite3_reset(s.put);
    if (commit_every > 0 && ++s.pending >= static_cast<uint64_t>(commit_every)) s.Commit();
  }
  // Reads one key; returns whether it was found (the value bytes are touched, not copied out).
  bool Get(const std::string& key, uint64_t& checksum) {
    Digest d = Hash(key);
    Shard& s = *shards_[ShardOf(d, static_cast<uint32_t>(shards_.size()))];
    sqlite3_bind_blob(s.get, 1, d.data(), static_cast<int>(d.size()), SQLITE_STATIC);
    int rc = sqlite3_step(s.get);
    bool found = rc == SQLITE_ROW;
    if (found) {
      const void* p = sqlite3_column_blob(s.get, 0);
      int n = sqlite3_column_bytes(s.get, 0);
      checksum += static_cast<uint64_t>(n) + (p && n ? static_cast<const unsigned char*>(p)[n - 1] : 0);
    } else {
      Check(rc, s.db, "select");
    }
    sqlite3_reset(s.get);
    return found;
  }
  void CommitAll() { for (auto& s : shards_) s->Commit(); }
  uint64_t PagesWritten() {
    uint64_t total = 0;
    for (auto& s : shards_) total += s->PagesWritten();
    return total;
  }

 private:
  std::vector<std::unique_ptr<Shard>> shards_;
  Digest Hash(const std::string& key) {
    if (!hasher_) {
      auto h = Blake2b512::Create();
      if (!h.ok()) throw std::runtime_error(h.status().message());
      hasher_ = std::move(h).value();
    }
    Digest d;
    if (Status st = hasher_->Hash(key, &d); !st.ok()) throw std::runtime_error(st.message());
    return d;
  }
  std::unique_ptr<Blake2b512> hasher_;
};

void RunPhase(Store& store, const SqliteAnchorConfig& cfg, const PhaseSpec& spec, size_t index,
              const std::string& value, PhaseResult& r, uint64_t& checksum) {
  r.spec = spec;
  if (!spec.at.empty()) throw std::runtime_error("raw SQLite anchor keeps no versions (at=first is engine-only)");
  const bool writes = spec.op == OpKind::kSet || spec.op == OpKind::kMset || spec.op == OpKind::kMixed;
  if (r.spec.commit_every < 0 && writes) r.spec.commit_every = cfg.default_commit_every;
  if (!spec.sync.empty()) store.SetSync(spec.sync);
  OpStream stream(spec, cfg.keys, 1000 + index);
  Op op;
  std::string key;
  r.latency_ns.reserve(spec.requests);
  const uint64_t pages0 = store.PagesWritten();
  const double cpu0 = SelfCpuSeconds();
  const uint64_t start = MonotonicNs();
  uint64_t t_prev = start;
  for (uint64_t i = 0; i < spec.requests; ++i) {
    stream.Next(op);
    for (uint64_t k : op.keys) {
      KeyName(k, key);
      switch (op.kind) {
        case OpKind::kSet:
        case OpKind::kMset: store.Put(key, value, r.spec.commit_every); break;
        case OpKind::kGet:
        case OpKind::kMget:
          store.CommitAll();  // reads in a mixed phase see committed writes, like the engine
          if (!store.Get(key, checksum)) ++r.misses;
          break;
        default: throw std::runtime_error("raw SQLite anchor does not run op " + std::string(OpKindName(op.kind)));
      }
    }
    if (i + 1 == spec.requests) store.CommitAll();  // the phase ends with everything committed
    const uint64_t t = MonotonicNs();
    r.latency_ns.push_back(t - t_prev);
    t_prev = t;
    ++r.answered;
  }
  r.seconds = static_cast<double>(t_prev - start) / 1e9;
  r.target_cpu_s = SelfCpuSeconds() - cpu0;  // the anchor runs in this process
  r.pages_written = static_cast<double>(store.PagesWritten() - pages0);
}

}  // namespace

int RunSqliteAnchor(const SqliteAnchorConfig& cfg, JsonWriter& w) {
  const std::string value = MakeMsgpackBinValue(MakeRawValue(cfg.value_size));
  std::unique_ptr<TempDir> dir = std::make_unique<TempDir>(cfg.tmp_root, "litestash-bench-sqlite-");
  if (cfg.keep) dir->keep();
  std::unique_ptr<Store> store;
  std::string failure;
  uint64_t checksum = 0;

  w.BeginObject();
  w.Field("mode", "sqlite");
  w.Field("sqlite_version", sqlite3_libversion());
  w.Field("shards", cfg.shards);
  w.Field("keys", cfg.keys);
  w.Field("value_size", static_cast<uint64_t>(cfg.value_size));
  w.Field("default_commit_every", static_cast<uint64_t>(cfg.default_commit_every));
  w.Key("phases");
  w.BeginObject();
  for (size_t i = 0; i < cfg.phases.size() && failure.empty(); ++i) {
    const PhaseSpec& spec = cfg.phases[i];
    PhaseResult r;
    try {
      if (spec.fresh || !store) {
        store.reset();
        if (spec.fresh) dir = std::make_unique<TempDir>(cfg.tmp_root, "litestash-bench-sqlite-");
        if (cfg.keep) dir->keep();
        store = std::make_unique<Store>(dir->path(), cfg.shards);
      }
      RunPhase(*store, cfg, spec, i, value, r, checksum);
    } catch (const std::exception& e) {
      r.broken = true;
      r.broken_reason = e.what();
      failure = "phase " + spec.name + ": " + e.what();
    }
    r.Summarize();
    r.Log("sqlite");
    w.Key(spec.name);
    r.WriteJson(w);
  }
  w.EndObject();
  w.Field("checksum", checksum);
  if (cfg.keep) w.Field("kept_dir", dir->path());
  w.Field("ok", failure.empty());
  if (!failure.empty()) w.Field("error", failure);
  w.EndObject();
  store.reset();
  return failure.empty() ? 0 : 3;
}

}  // namespace litestash::bench
