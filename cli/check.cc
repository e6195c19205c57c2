// CheckDataDir(): see check.h.
#include "cli/check.h"

#include <sqlite3.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "cli/executor.h"
#include "cli/progress.h"
#include "common/blake2b.h"

namespace litestash::cli {
namespace {

struct Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close(db); }
};

std::string ShardPath(const std::string& dir, uint32_t i) {
  char name[32];
  std::snprintf(name, sizeof name, "shard-%02u.db", i);
  return (std::filesystem::path(dir) / name).string();
}

bool Open(const std::string& path, Db* db, std::string* error) {
  // A file without a -wal was closed cleanly and no engine has it open: read it as immutable,
  // so the check leaves no -wal/-shm behind. Otherwise read it as one more reader.
  bool wal = std::filesystem::exists(path + "-wal");
  std::string uri = "file:" + path + (wal ? "?mode=ro" : "?mode=ro&immutable=1");
  int rc = sqlite3_open_v2(uri.c_str(), &db->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
  if (rc != SQLITE_OK) {
    *error = db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc);
    return false;
  }
  sqlite3_busy_timeout(db->db, 5000);
  return true;
}

// Runs `sql`, calling `row` per result row; returns false with the error message.
bool Query(sqlite3* db, const std::string& sql, const std::function<void(sqlite3_stmt*)>& row,
           std::string* error) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    *error = sqlite3_errmsg(db);
    return false;
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) row(st);
  if (rc != SQLITE_DONE) *error = sqlite3_errmsg(db);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE;
}

std::optional<int64_t> Meta(sqlite3* db, const char* name) {
  std::optional<int64_t> v;
  std::string err;
  Query(
      db, std::string("SELECT value FROM meta WHERE name = '") + name + "'",
      [&](sqlite3_stmt* st) { v = sqlite3_column_int64(st, 0); }, &err);
  return v;
}

bool HasTable(sqlite3* db, const char* table) {
  bool found = false;
  std::string err;
  Query(
      db, std::string("SELECT 1 FROM sqlite_master WHERE type='table' AND name='") + table + "'",
      [&](sqlite3_stmt*) { found = true; }, &err);
  return found;
}

std::string Text(sqlite3_stmt* st, int col) {
  const char* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
  return p ? std::string(p, sqlite3_column_bytes(st, col)) : std::string();
}

}  // namespace

int CheckDataDir(const std::string& data_dir, std::optional<uint32_t> shards, std::ostream& out) {
  uint64_t problems = 0;
  auto problem = [&](const std::string& file, const std::string& what) {
    ++problems;
    out << "PROBLEM " << file << ": " << what << "\n";
  };
  if (!std::filesystem::is_directory(data_dir)) {
    out << "PROBLEM " << data_dir << ": not a directory\n";
    return kExitCheckFailed;
  }
  uint32_t count = shards.value_or(0);
  if (count == 0) {
    Db db;
    std::string err;
    if (Open(ShardPath(data_dir, 0), &db, &err)) count = Meta(db.db, "shard_count").value_or(0);
    if (count == 0) {
      while (std::filesystem::exists(ShardPath(data_dir, count))) ++count;
    }
    if (count == 0) {
      out << "PROBLEM " << data_dir << ": no shard files (shard-00.db ...)\n";
      return kExitCheckFailed;
    }
  }
  auto hasher = Blake2b512::Create();
  if (!hasher.ok()) {
    out << "PROBLEM: " << hasher.status().message() << "\n";
    return kExitCheckFailed;
  }
  Progress progress("shards", count);
  std::optional<int64_t> layout;
  uint64_t total_keys = 0;
  for (uint32_t i = 0; i < count; ++i) {
    std::string path = ShardPath(data_dir, i);
    std::string file = std::filesystem::path(path).filename().string();
    progress.Add(0);
    if (!std::filesystem::exists(path)) {
      problem(file, "missing");
      continue;
    }
    Db db;
    std::string err;
    if (!Open(path, &db, &err)) {
      problem(file, "cannot open: " + err);
      continue;
    }
    std::vector<std::string> integrity;
    if (!Query(
            db.db, "PRAGMA integrity_check",
            [&](sqlite3_stmt* st) { integrity.push_back(Text(st, 0)); }, &err)) {
      problem(file, "integrity_check failed: " + err);
      continue;
    }
    if (integrity.size() != 1 || integrity[0] != "ok") {
      for (const auto& line : integrity) problem(file, "integrity_check: " + line);
      continue;
    }
    if (!HasTable(db.db, "meta") || !HasTable(db.db, "stash")) {
      problem(file, "not a litestash shard (no meta or stash table)");
      continue;
    }
    auto index = Meta(db.db, "shard_index");
    auto file_count = Meta(db.db, "shard_count");
    auto file_layout = Meta(db.db, "layout_version");
    if (index != int64_t(i)) {
      problem(file, "meta.shard_index is " + (index ? std::to_string(*index) : "missing"));
    }
    if (file_count != int64_t(count)) {
      problem(file, "meta.shard_count is " +
                        (file_count ? std::to_string(*file_count) : "missing") + ", expected " +
                        std::to_string(count));
    }
    if (!file_layout || *file_layout < 1 || *file_layout > kKnownLayout) {
      problem(file, "unknown layout_version " +
                        (file_layout ? std::to_string(*file_layout) : "(missing)"));
    } else if (layout && *layout != *file_layout) {
      problem(file, "layout_version " + std::to_string(*file_layout) +
                        " while other files are at " + std::to_string(*layout));
    }
    if (file_layout && !layout) layout = file_layout;

    uint64_t keys = 0;
    auto route = [&](const std::string& what, const std::string& name, const void* hash,
                     int hash_len) {
      Digest d;
      if (!(*hasher)->Hash(name, &d).ok()) return;
      if (hash && (hash_len != int(kDigestBytes) || std::memcmp(hash, d.data(), kDigestBytes))) {
        problem(file, what + " " + name + ": key_hash is not the BLAKE2b-512 of the key");
      }
      uint32_t want = ShardOf(d, count);
      if (want != i) {
        problem(file, what + " " + name + " belongs in shard " + std::to_string(want));
      }
    };
    bool ok = Query(
        db.db, "SELECT key, key_hash FROM stash",
        [&](sqlite3_stmt* st) {
          ++keys;
          route("key", Text(st, 0), sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1));
        },
        &err);
    if (ok && HasTable(db.db, "history")) {
      ok = Query(
          db.db, "SELECT DISTINCT key, key_hash FROM history",
          [&](sqlite3_stmt* st) {
            route("history of key", Text(st, 0), sqlite3_column_blob(st, 1),
                  sqlite3_column_bytes(st, 1));
          },
          &err);
    }
    if (ok && HasTable(db.db, "streams")) {
      ok = Query(
          db.db, "SELECT name FROM streams",
          [&](sqlite3_stmt* st) { route("stream", Text(st, 0), nullptr, 0); }, &err);
    }
    if (ok && HasTable(db.db, "expiry")) {
      ok = Query(
          db.db,
          "SELECT count(*) FROM expiry e WHERE NOT EXISTS "
          "(SELECT 1 FROM stash s WHERE s.key_hash = e.key_hash)",
          [&](sqlite3_stmt* st) {
            if (int64_t n = sqlite3_column_int64(st, 0)) {
              problem(file, std::to_string(n) + " expiry rows without a stash row");
            }
          },
          &err);
    }
    if (!ok) problem(file, "reading rows: " + err);
    total_keys += keys;
    progress.Add(1);
    progress.Finish();
    out << file << ": layout " << (file_layout ? std::to_string(*file_layout) : "?") << ", " << keys
        << " rows checked\n";
  }
  progress.Finish();
  out << "check: " << count << " shard files, " << total_keys << " keys, " << problems
      << (problems == 1 ? " problem" : " problems") << "\n";
  return problems ? kExitCheckFailed : kExitOk;
}

}  // namespace litestash::cli
