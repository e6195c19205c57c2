// Stream operations on one shard (contract v2 section 2): appends that hand out entry ids and
// keep a stream within its retention, ranges, trims, drops and committed offsets — the storage
// semantics behind the stream ops (engine/stream_family.cc), built on StreamTable.
//
// Every function runs inside the caller's transaction on the store's thread (writes inside a
// write transaction). Entry ids of a stream are contiguous from first_id to last_id and never
// reused while it exists; trimming removes from the head only. `ts` is a version of the shard's
// clock (ShardStore::NextVersion), strictly increasing within the shard.
//
// Failure: SQLite errors come back as Status; a commit of an offset on a missing stream or past
// its last entry is kInvalidArgument (nothing written).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shard/shard_store.h"
#include "shard/stream_table.h"

namespace litestash {

struct Appended {
  uint64_t entry_id = 0;
  uint64_t ts = 0;
};

// Retention given with an append: each field, when set, replaces the stored one.
struct RetentionUpdate {
  std::optional<uint64_t> maxlen;
  std::optional<uint64_t> max_age_ms;
};

// Appends `value` (creating the stream if needed), stores the retention given, then trims the
// head to the stream's retention.
Result<Appended> StreamAppend(ShardStore& store, std::string_view stream, std::string_view value,
                              const RetentionUpdate& retention, const Clock& clock);

// A one-off trim (xtrim): entries beyond the newest `maxlen`, with id < `min_id`, older than
// `max_age_ms`; returns how many went. Stores nothing; a missing stream removes 0.
struct TrimSpec {
  std::optional<uint64_t> maxlen;
  std::optional<uint64_t> min_id;
  std::optional<uint64_t> max_age_ms;
};
Result<uint64_t> StreamTrim(ShardStore& store, std::string_view stream, const TrimSpec& trim,
                            const Clock& clock);

// Entries after < id < before: the first `limit` (from_start) or the last `limit` below
// `before`, always returned in ascending order; *more says whether further entries lie in the
// range past those returned (beyond the last for from_start, below the first otherwise).
Status StreamRange(ShardStore& store, std::string_view stream, uint64_t after, uint64_t before,
                   uint64_t limit, bool from_start, std::vector<StreamEntry>* entries, bool* more);

// What StreamRange returns, known from the stream's row before any entry is read (live ids are
// contiguous): the bounds clipped to first_id - 1 .. last_id + 1, how many entries the range
// holds up to `limit`, and `more`. A missing or empty stream, or an empty range, has count 0.
// StreamTable::Visit(stream_id, lo, hi, count, ...) then reads exactly those entries, so an
// answer can be encoded straight from the rows (its array length written first).
struct RangePlan {
  int64_t stream_id = 0;
  uint64_t lo = 0;
  uint64_t hi = 0;
  uint64_t count = 0;
  bool more = false;
};
Result<RangePlan> PlanStreamRange(ShardStore& store, std::string_view stream, uint64_t after,
                                  uint64_t before, uint64_t limit);

struct StreamInfo {
  bool exists = false;
  StreamMeta meta;
  std::optional<uint64_t> first_ts, last_ts;  // nullopt when empty
  std::vector<std::pair<std::string, uint64_t>> groups;
};
Result<StreamInfo> StreamDescribe(ShardStore& store, std::string_view stream);

// Drops the stream with its entries and offsets; false if it did not exist.
Result<bool> StreamDrop(ShardStore& store, std::string_view stream);

Status StreamCommitOffset(ShardStore& store, std::string_view stream, std::string_view group,
                          uint64_t entry_id);
Result<std::optional<uint64_t>> StreamOffset(ShardStore& store, std::string_view stream,
                                             std::string_view group);

// Background age retention: removes up to `max_rows` entries older than their stream's
// max_age_ms (own transaction). Returns how many went.
Result<uint64_t> StreamSweepAged(ShardStore& store, const Clock& clock, uint64_t max_rows);

}  // namespace litestash
