// StreamTable: the streams of one shard file — named, append-only event logs (contract v2
// section 2) — in three side tables added by layout step 2:
//
//   streams(stream_id INTEGER PRIMARY KEY, name TEXT UNIQUE, first_id, last_id, maxlen,
//           max_age_ms)          one row per existing stream; first_id..last_id are the live
//                                entries (first_id = last_id + 1 when empty); last_id is the last
//                                id ever handed out (0: none), so ids are never reused while the
//                                stream exists; maxlen/max_age_ms are its retention (NULL: none)
//   stream_entries(stream_id, entry_id, ts, value) WITHOUT ROWID, primary key (stream_id,
//                                entry_id); ts is a version of the shard's clock (µs), so it
//                                grows with entry_id; value is the exact MessagePack bytes
//   stream_groups(stream_id, grp, committed) WITHOUT ROWID: committed offsets per group
//
// Writes run inside the caller's write transaction (ShardStore). Within one transaction the
// rows of the streams touched are cached and written back once at FlushMeta() (before COMMIT),
// so a batch of appends to one stream costs one row update, not one per append. Forget() drops
// the cache (after a rollback, or at the end of a read transaction).
//
// Failure: SQLite errors come back as Status. Thread-safety: none (the owning thread).
#pragma once

#include <sqlite3.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "shard/sqlite_statement.h"

namespace litestash {

// What a stream is, as stored.
struct StreamMeta {
  int64_t stream_id = 0;
  uint64_t first_id = 1;  // oldest live entry (last_id + 1 when empty)
  uint64_t last_id = 0;   // newest entry ever appended (0: none yet)
  std::optional<uint64_t> maxlen;
  std::optional<uint64_t> max_age_ms;

  uint64_t length() const { return last_id >= first_id ? last_id - first_id + 1 : 0; }
};

struct StreamEntry {
  uint64_t id = 0;
  uint64_t ts = 0;
  std::string value;  // raw MessagePack bytes
};

class StreamTable {
 public:
  static constexpr const char* kCreateSql =
      "CREATE TABLE IF NOT EXISTS streams ("
      " stream_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
      " first_id INTEGER NOT NULL, last_id INTEGER NOT NULL,"
      " maxlen INTEGER, max_age_ms INTEGER);"
      "CREATE TABLE IF NOT EXISTS stream_entries ("
      " stream_id INTEGER NOT NULL, entry_id INTEGER NOT NULL, ts INTEGER NOT NULL,"
      " value BLOB NOT NULL, PRIMARY KEY (stream_id, entry_id)) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS stream_groups ("
      " stream_id INTEGER NOT NULL, grp TEXT NOT NULL, committed INTEGER NOT NULL,"
      " PRIMARY KEY (stream_id, grp)) WITHOUT ROWID;";

  Status Prepare(sqlite3* db, std::string_view file);

  // The stream's row (nullopt: no such stream), from the transaction's cache when touched.
  Result<std::optional<StreamMeta>> Find(std::string_view name);
  // Creates an empty stream (a row with last_id 0) and returns it.
  Result<StreamMeta> Create(std::string_view name);
  // Changes the cached row of `name` (found or created in this transaction); written back by
  // FlushMeta().
  void Update(std::string_view name, const StreamMeta& meta);

  Status Append(int64_t stream_id, uint64_t entry_id, uint64_t ts, std::string_view value);
  // Removes the entries with id < below (from the head); returns how many went.
  Result<uint64_t> DeleteBelow(int64_t stream_id, uint64_t below);
  // The id of the first entry whose ts >= min_ts (nullopt: none).
  Result<std::optional<uint64_t>> FirstAtOrAfter(int64_t stream_id, uint64_t min_ts);
  // The ts of entry `id` (nullopt: no such entry).
  Result<std::optional<uint64_t>> TsOf(int64_t stream_id, uint64_t id);
  Result<std::optional<StreamEntry>> Get(int64_t stream_id, uint64_t id);
  // Up to `limit` entries with after < id < before in ascending order (ascending = true), or
  // the `limit` entries just below `before` in descending order.
  Status Range(int64_t stream_id, uint64_t after, uint64_t before, uint64_t limit, bool ascending,
               std::vector<StreamEntry>* out);
  // The same entries as Range(), each handed to `visit` as its row is read: `value` points into
  // SQLite's row and is valid only during the call (no copy is made).
  using EntryVisitor = std::function<void(uint64_t id, uint64_t ts, std::string_view value)>;
  Status Visit(int64_t stream_id, uint64_t after, uint64_t before, uint64_t limit, bool ascending,
               const EntryVisitor& visit);
  // Drops the stream: its entries, groups and row. The cache forgets it.
  Status Drop(std::string_view name, int64_t stream_id);
  // Names ascending by bytes with `prefix`, strictly after `after` (if given), at most `limit`.
  Status Names(std::string_view prefix, std::optional<std::string_view> after, uint64_t limit,
               std::vector<std::string>* out);
  // Streams with age retention: (name, meta) pairs, at most `limit`, names after `after`.
  Status WithAgeRetention(std::string_view after, int limit,
                          std::vector<std::pair<std::string, StreamMeta>>* out);

  Status SetGroup(int64_t stream_id, std::string_view group, uint64_t committed);
  Result<std::optional<uint64_t>> GroupOffset(int64_t stream_id, std::string_view group);
  Status Groups(int64_t stream_id, std::vector<std::pair<std::string, uint64_t>>* out);

  // Writes back the rows changed in this transaction (call before COMMIT) and empties the cache.
  Status FlushMeta();
  // Empties the cache without writing (after ROLLBACK, or a read transaction).
  void Forget() { cache_.clear(); }

 private:
  struct Cached {
    std::optional<StreamMeta> meta;  // nullopt: known not to exist
    bool dirty = false;
  };

  sqlite3* db_ = nullptr;
  std::string file_;
  std::unordered_map<std::string, Cached> cache_;  // this transaction's streams, by name
  Statement find_, create_, update_, append_, delete_below_, first_at_, ts_of_, get_;
  Statement range_asc_, range_desc_, drop_entries_, drop_groups_, drop_stream_;
  Statement names_incl_, names_excl_, aged_, set_group_, group_, groups_;
};

}  // namespace litestash
