#include "shard/stream_table.h"

#include "shard/sqlite_error.h"

namespace litestash {
namespace {

std::optional<uint64_t> OptionalUint(const StatementUse& use, int column) {
  if (use.ColumnIsNull(column)) return std::nullopt;
  return static_cast<uint64_t>(use.ColumnInt(column));
}

StreamMeta MetaOf(const StatementUse& use) {  // columns: stream_id, first, last, maxlen, age
  StreamMeta m;
  m.stream_id = use.ColumnInt(0);
  m.first_id = static_cast<uint64_t>(use.ColumnInt(1));
  m.last_id = static_cast<uint64_t>(use.ColumnInt(2));
  m.maxlen = OptionalUint(use, 3);
  m.max_age_ms = OptionalUint(use, 4);
  return m;
}

}  // namespace

Status StreamTable::Prepare(sqlite3* db, std::string_view file) {
  db_ = db;
  file_ = std::string(file);
  constexpr const char* kMeta =
      "SELECT stream_id, first_id, last_id, maxlen, max_age_ms FROM streams";
  const std::string names_head = "SELECT name FROM streams WHERE name ";
  const std::string names_tail = " AND (?2 IS NULL OR name < ?2) ORDER BY name LIMIT ?3";
  return PrepareStatements(
      db, file_,
      {
          {&find_, std::string(kMeta) + " WHERE name = ?1"},
          {&create_,
           "INSERT INTO streams(name, first_id, last_id) VALUES (?1, 1, 0)"
           " RETURNING stream_id, first_id, last_id, maxlen, max_age_ms"},
          {&update_,
           "UPDATE streams SET first_id = ?2, last_id = ?3, maxlen = ?4, max_age_ms = ?5"
           " WHERE stream_id = ?1"},
          {&append_,
           "INSERT INTO stream_entries(stream_id, entry_id, ts, value) VALUES (?1,?2,?3,?4)"},
          {&delete_below_, "DELETE FROM stream_entries WHERE stream_id = ?1 AND entry_id < ?2"},
          {&first_at_,
           "SELECT entry_id FROM stream_entries WHERE stream_id = ?1 AND ts >= ?2"
           " ORDER BY entry_id LIMIT 1"},
          {&ts_of_, "SELECT ts FROM stream_entries WHERE stream_id = ?1 AND entry_id = ?2"},
          {&get_, "SELECT ts, value FROM stream_entries WHERE stream_id = ?1 AND entry_id = ?2"},
          {&range_asc_,
           "SELECT entry_id, ts, value FROM stream_entries WHERE stream_id = ?1"
           " AND entry_id > ?2 AND entry_id < ?3 ORDER BY entry_id LIMIT ?4"},
          {&range_desc_,
           "SELECT entry_id, ts, value FROM stream_entries WHERE stream_id = ?1"
           " AND entry_id > ?2 AND entry_id < ?3 ORDER BY entry_id DESC LIMIT ?4"},
          {&drop_entries_, "DELETE FROM stream_entries WHERE stream_id = ?1"},
          {&drop_groups_, "DELETE FROM stream_groups WHERE stream_id = ?1"},
          {&drop_stream_, "DELETE FROM streams WHERE stream_id = ?1"},
          {&names_incl_, names_head + ">= ?1" + names_tail},
          {&names_excl_, names_head + "> ?1" + names_tail},
          {&aged_,
           "SELECT stream_id, first_id, last_id, maxlen, max_age_ms, name FROM streams"
           " WHERE max_age_ms IS NOT NULL AND name > ?1 ORDER BY name LIMIT ?2"},
          {&set_group_,
           "INSERT INTO stream_groups(stream_id, grp, committed) VALUES (?1, ?2, ?3)"
           " ON CONFLICT(stream_id, grp) DO UPDATE SET committed = excluded.committed"},
          {&group_, "SELECT committed FROM stream_groups WHERE stream_id = ?1 AND grp = ?2"},
          {&groups_, "SELECT grp, committed FROM stream_groups WHERE stream_id = ?1 ORDER BY grp"},
      });
}

Result<std::optional<StreamMeta>> StreamTable::Find(std::string_view name) {
  if (auto it = cache_.find(std::string(name)); it != cache_.end()) return it->second.meta;
  StatementUse use(find_);
  use.Text(1, name);
  int rc = use.Step();
  std::optional<StreamMeta> meta;
  if (rc == SQLITE_ROW) {
    meta = MetaOf(use);
  } else if (rc != SQLITE_DONE) {
    return SqliteStatus(db_, file_, "reading a stream", rc);
  }
  cache_[std::string(name)] = Cached{meta, false};
  return meta;
}

Result<StreamMeta> StreamTable::Create(std::string_view name) {
  StatementUse use(create_);
  use.Text(1, name);
  int rc = use.Step();
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "creating a stream", rc);
  StreamMeta meta = MetaOf(use);
  cache_[std::string(name)] = Cached{meta, false};
  return meta;
}

void StreamTable::Update(std::string_view name, const StreamMeta& meta) {
  Cached& c = cache_[std::string(name)];
  c.meta = meta;
  c.dirty = true;
}

Status StreamTable::FlushMeta() {
  Status st;
  for (auto& [name, c] : cache_) {
    if (!c.dirty || !c.meta || !st.ok()) continue;
    StatementUse use(update_);
    use.Int(1, c.meta->stream_id)
        .Int(2, static_cast<int64_t>(c.meta->first_id))
        .Int(3, static_cast<int64_t>(c.meta->last_id));
    use.IntOrNull(4, c.meta->maxlen).IntOrNull(5, c.meta->max_age_ms);
    int rc = use.Step();
    if (rc != SQLITE_DONE) st = SqliteStatus(db_, file_, "writing a stream", rc);
  }
  cache_.clear();
  return st;
}

Status StreamTable::Append(int64_t stream_id, uint64_t entry_id, uint64_t ts,
                           std::string_view value) {
  StatementUse use(append_);
  use.Int(1, stream_id)
      .Int(2, static_cast<int64_t>(entry_id))
      .Int(3, static_cast<int64_t>(ts))
      .Blob(4, value.data(), value.size());
  int rc = use.Step();
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "appending an entry", rc);
}

Result<uint64_t> StreamTable::DeleteBelow(int64_t stream_id, uint64_t below) {
  StatementUse use(delete_below_);
  use.Int(1, stream_id).Int(2, static_cast<int64_t>(below));
  int rc = use.Step();
  if (rc != SQLITE_DONE) return SqliteStatus(db_, file_, "trimming a stream", rc);
  return static_cast<uint64_t>(sqlite3_changes(db_));
}

Result<std::optional<uint64_t>> StreamTable::FirstAtOrAfter(int64_t stream_id, uint64_t min_ts) {
  StatementUse use(first_at_);
  use.Int(1, stream_id).Int(2, static_cast<int64_t>(min_ts));
  int rc = use.Step();
  if (rc == SQLITE_DONE) return std::optional<uint64_t>();
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "reading a stream", rc);
  return std::optional<uint64_t>(static_cast<uint64_t>(use.ColumnInt(0)));
}

Result<std::optional<uint64_t>> StreamTable::TsOf(int64_t stream_id, uint64_t id) {
  StatementUse use(ts_of_);
  use.Int(1, stream_id).Int(2, static_cast<int64_t>(id));
  int rc = use.Step();
  if (rc == SQLITE_DONE) return std::optional<uint64_t>();
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "reading an entry", rc);
  return std::optional<uint64_t>(static_cast<uint64_t>(use.ColumnInt(0)));
}

Result<std::optional<StreamEntry>> StreamTable::Get(int64_t stream_id, uint64_t id) {
  StatementUse use(get_);
  use.Int(1, stream_id).Int(2, static_cast<int64_t>(id));
  int rc = use.Step();
  if (rc == SQLITE_DONE) return std::optional<StreamEntry>();
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "reading an entry", rc);
  StreamEntry e;
  e.id = id;
  e.ts = static_cast<uint64_t>(use.ColumnInt(0));
  e.value = std::string(use.ColumnBytes(1));
  return std::optional<StreamEntry>(std::move(e));
}

Status StreamTable::Range(int64_t stream_id, uint64_t after, uint64_t before, uint64_t limit,
                          bool ascending, std::vector<StreamEntry>* out) {
  return Visit(stream_id, after, before, limit, ascending,
               [out](uint64_t id, uint64_t ts, std::string_view value) {
                 out->push_back(StreamEntry{id, ts, std::string(value)});
               });
}

Status StreamTable::Visit(int64_t stream_id, uint64_t after, uint64_t before, uint64_t limit,
                          bool ascending, const EntryVisitor& visit) {
  StatementUse use(ascending ? range_asc_ : range_desc_);
  // SQLite integers are signed: a bound past INT64_MAX means "no bound" (ids never get there).
  const auto clamp = [](uint64_t v) {
    return static_cast<int64_t>(std::min<uint64_t>(v, INT64_MAX));
  };
  use.Int(1, stream_id).Int(2, clamp(after)).Int(3, clamp(before)).Int(4, clamp(limit));
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) {
    visit(static_cast<uint64_t>(use.ColumnInt(0)), static_cast<uint64_t>(use.ColumnInt(1)),
          use.ColumnBytes(2));
  }
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "reading a stream", rc);
}

Status StreamTable::Drop(std::string_view name, int64_t stream_id) {
  for (Statement* stmt : {&drop_entries_, &drop_groups_, &drop_stream_}) {
    StatementUse use(*stmt);
    use.Int(1, stream_id);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return SqliteStatus(db_, file_, "dropping a stream", rc);
  }
  cache_[std::string(name)] = Cached{std::nullopt, false};
  return Status::Ok();
}

Status StreamTable::Names(std::string_view prefix, std::optional<std::string_view> after,
                          uint64_t limit, std::vector<std::string>* out) {
  const bool use_after = after && *after >= prefix;
  StatementUse use(use_after ? names_excl_ : names_incl_);
  use.Text(1, use_after ? *after : prefix).PrefixEnd(2, prefix);
  use.Int(3, static_cast<int64_t>(limit));
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) out->emplace_back(use.ColumnBytes(0));
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "listing streams", rc);
}

Status StreamTable::WithAgeRetention(std::string_view after, int limit,
                                     std::vector<std::pair<std::string, StreamMeta>>* out) {
  StatementUse use(aged_);
  use.Text(1, after).Int(2, limit);
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) out->emplace_back(use.ColumnBytes(5), MetaOf(use));
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "listing streams", rc);
}

Status StreamTable::SetGroup(int64_t stream_id, std::string_view group, uint64_t committed) {
  StatementUse use(set_group_);
  use.Int(1, stream_id).Text(2, group).Int(3, static_cast<int64_t>(committed));
  int rc = use.Step();
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "committing an offset", rc);
}

Result<std::optional<uint64_t>> StreamTable::GroupOffset(int64_t stream_id,
                                                         std::string_view group) {
  StatementUse use(group_);
  use.Int(1, stream_id).Text(2, group);
  int rc = use.Step();
  if (rc == SQLITE_DONE) return std::optional<uint64_t>();
  if (rc != SQLITE_ROW) return SqliteStatus(db_, file_, "reading an offset", rc);
  return std::optional<uint64_t>(static_cast<uint64_t>(use.ColumnInt(0)));
}

Status StreamTable::Groups(int64_t stream_id, std::vector<std::pair<std::string, uint64_t>>* out) {
  StatementUse use(groups_);
  use.Int(1, stream_id);
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) {
    out->emplace_back(use.ColumnBytes(0), static_cast<uint64_t>(use.ColumnInt(1)));
  }
  return rc == SQLITE_DONE ? Status::Ok() : SqliteStatus(db_, file_, "reading offsets", rc);
}

}  // namespace litestash
