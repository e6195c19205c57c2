// ShardStore's key operations (declared in shard_store.h): writes that keep a key's history
// when the data dir's depth asks for it, reads of the current and of old versions, expiry.
//
// History (contract v2 section 3). With depth N > 0 (keep_versions_), a write of a live key
// first moves its current version to `history`, a delete of a live key moves it there and adds
// a tombstone (a version of its own), and each write keeps only the key's N newest rows. With
// depth 0 nothing is kept, but rows left from an earlier, higher depth are removed at the key's
// next write (so lowering the depth takes effect write by write; compact applies it to all). An
// expired key has no history: its rows go when it is written, deleted or swept.
#include "shard/shard_store.h"

namespace litestash {

namespace {

// Whether `table` has a row: looked up the first time in a transaction, then kept in `known`.
template <typename Table>
Result<bool> AnyRowOnce(std::optional<bool>* known, Table& table) {
  if (!known->has_value()) {
    auto any = table.Any();
    if (!any.ok()) return any.status();
    *known = *any;
  }
  return **known;
}

}  // namespace

Result<bool> ShardStore::HistoryMayExist() { return AnyRowOnce(&history_rows_, history_); }

Result<bool> ShardStore::ExpiryMayExist() { return AnyRowOnce(&expiry_rows_, expiry_); }

Result<std::optional<StoredRecord>> ShardStore::LookupInWrite(const Digest& digest) {
  // Without an expiry row the join with the expiry table finds nothing: skip that probe.
  auto may = ExpiryMayExist();
  if (!may.ok()) return may.status();
  return kv_.Lookup(digest, /*with_expiry=*/*may);
}

Status ShardStore::SetExpiryRow(const Digest& digest, int64_t expires_at) {
  LITESTASH_RETURN_IF_ERROR(expiry_.Set(digest, expires_at));
  expiry_rows_ = true;
  return Status::Ok();
}

Status ShardStore::ClearExpiryRow(const Digest& digest) {
  // Most data dirs hold keys without expiry: one look at the table per transaction instead of a
  // DELETE per write. The write lock of the transaction keeps other engines from adding one.
  auto may = ExpiryMayExist();
  if (!may.ok()) return may.status();
  return *may ? expiry_.Clear(digest) : Status::Ok();
}

// Before replacing or removing the key's current row `old` (nullopt: none): keeps it (and a
// tombstone at `tombstone`, when given) as history, or drops the history of an expired key;
// then applies the depth.
Status ShardStore::KeepHistory(const Digest& digest, std::string_view key,
                               const std::optional<StoredRecord>& old, int64_t now_ms,
                               std::optional<uint64_t> tombstone) {
  const bool keep = keep_versions_ > 0;
  if (!keep) {
    auto may = HistoryMayExist();
    if (!may.ok()) return may.status();
    if (!*may) return Status::Ok();
  }
  if (old && !old->LiveAt(now_ms)) {
    auto gone = history_.Trim(digest, 0);  // an expired key's history goes with it
    if (!gone.ok()) return gone.status();
  } else if (old && keep) {
    LITESTASH_RETURN_IF_ERROR(history_.Push(digest, key, old->stored.value, old->stored.version));
    history_rows_ = true;
  }
  if (tombstone && keep) {
    LITESTASH_RETURN_IF_ERROR(history_.Push(digest, key, std::nullopt, *tombstone));
    history_rows_ = true;
  }
  if (keep_versions_ != kKeepAllVersions) {
    auto trimmed = history_.Trim(digest, keep_versions_);
    if (!trimmed.ok()) return trimmed.status();
  }
  return Status::Ok();
}

Result<uint64_t> ShardStore::Put(const Digest& digest, std::string_view key, std::string_view value,
                                 std::optional<int64_t> expires_at, const Clock& clock) {
  const uint64_t version = NextVersion(clock);
  bool history = keep_versions_ > 0;
  if (!history) {
    auto may = HistoryMayExist();
    if (!may.ok()) return may.status();
    history = *may;
  }
  if (history) {
    auto old = LookupInWrite(digest);
    if (!old.ok()) return old.status();
    LITESTASH_RETURN_IF_ERROR(KeepHistory(digest, key, *old, clock.now_ms, std::nullopt));
  }
  LITESTASH_RETURN_IF_ERROR(kv_.Upsert(digest, key, value, version));
  LITESTASH_RETURN_IF_ERROR(expires_at ? SetExpiryRow(digest, *expires_at)
                                       : ClearExpiryRow(digest));
  Record(WriteOp::kSet, key, value, expires_at);
  return version;
}

Result<std::optional<StoredValue>> ShardStore::Get(const Digest& digest, const Clock& clock) {
  auto found = kv_.Lookup(digest);
  if (!found.ok()) return found.status();
  if (!found.value() || !found.value()->LiveAt(clock.now_ms)) return std::optional<StoredValue>();
  return std::optional<StoredValue>(std::move(found.value()->stored));
}

Result<std::optional<StoredRecord>> ShardStore::Lookup(const Digest& digest, bool with_expiry) {
  return kv_.Lookup(digest, with_expiry);
}

Result<bool> ShardStore::LookupInto(const Digest& digest, bool with_expiry, StoredRecord* out) {
  return kv_.LookupInto(digest, with_expiry, out);
}

Result<bool> ShardStore::HasExpiries() { return expiry_.Any(); }

Result<KeyExpiry> ShardStore::Expiry(const Digest& digest, const Clock& clock) {
  auto row = kv_.ExpiryOf(digest);
  if (!row.ok()) return row.status();
  KeyExpiry out;
  if (!row.value()) return out;  // no row: absent
  const std::optional<int64_t>& at = *row.value();
  if (at && *at <= clock.now_ms) return out;  // expired: absent
  out.found = true;
  out.expires_at = at;
  return out;
}

Result<bool> ShardStore::Delete(const Digest& digest, std::string_view key, const Clock& clock) {
  Record(WriteOp::kDelete, key);
  auto old = LookupInWrite(digest);
  if (!old.ok()) return old.status();
  if (!old.value()) {
    // Nothing to remove; a key with history but no row (deleted before) keeps its history.
    return false;
  }
  const bool live = old.value()->LiveAt(clock.now_ms);
  std::optional<uint64_t> tombstone;
  if (live && keep_versions_ > 0) tombstone = NextVersion(clock);
  LITESTASH_RETURN_IF_ERROR(KeepHistory(digest, key, *old, clock.now_ms, tombstone));
  auto gone = kv_.Delete(digest);
  if (!gone.ok()) return gone.status();
  LITESTASH_RETURN_IF_ERROR(ClearExpiryRow(digest));
  return live;
}

Result<bool> ShardStore::SetExpiry(const Digest& digest, std::optional<int64_t> expires_at,
                                   const Clock& clock) {
  auto current = Expiry(digest, clock);
  if (!current.ok()) return current.status();
  if (!current->found) return false;
  if (!expires_at) {
    if (!current->expires_at) return false;  // nothing to persist
    LITESTASH_RETURN_IF_ERROR(expiry_.Clear(digest));
    return true;
  }
  LITESTASH_RETURN_IF_ERROR(SetExpiryRow(digest, *expires_at));
  return true;
}

Status ShardStore::Scan(std::string_view prefix, std::optional<std::string_view> after,
                        uint64_t limit, const Clock& clock, std::vector<std::string>* keys) {
  return kv_.Scan(prefix, after, limit, clock.now_ms, keys);
}

Result<uint64_t> ShardStore::CountLive(const Clock& clock) { return kv_.CountLive(clock.now_ms); }

Result<uint64_t> ShardStore::CountExpiring(const Clock& clock) {
  return expiry_.CountAfter(clock.now_ms);
}

Status ShardStore::Clear(const Clock& clock) {
  Record(WriteOp::kClear, {});
  const bool keep = keep_versions_ > 0;
  auto may = HistoryMayExist();
  if (!may.ok()) return may.status();
  if (keep || *may) {
    // Every key is written: its history is kept (and tombstoned) or trimmed as by a delete.
    std::vector<KeyedRecord> rows;
    LITESTASH_RETURN_IF_ERROR(kv_.All(&rows));
    for (const KeyedRecord& row : rows) {
      std::optional<uint64_t> tombstone;
      if (keep && row.record.LiveAt(clock.now_ms)) tombstone = NextVersion(clock);
      LITESTASH_RETURN_IF_ERROR(
          KeepHistory(row.digest, row.key, row.record, clock.now_ms, tombstone));
    }
  }
  LITESTASH_RETURN_IF_ERROR(kv_.DeleteAll());
  return expiry_.ClearAll();
}

Result<int> ShardStore::SweepExpired(const Clock& clock, int max_rows) {
  LITESTASH_RETURN_IF_ERROR(Begin(true));
  std::vector<Digest> expired;
  Status st = expiry_.Expired(clock.now_ms, max_rows, &expired);
  auto may = HistoryMayExist();
  if (st.ok() && !may.ok()) st = may.status();
  for (size_t i = 0; st.ok() && i < expired.size(); ++i) {
    auto gone = kv_.Delete(expired[i]);
    st = gone.ok() ? expiry_.Clear(expired[i]) : gone.status();
    if (st.ok() && *may) st = history_.Trim(expired[i], 0).status();
  }
  if (st.ok()) st = Commit();
  if (!st.ok()) {
    Rollback();
    return st.WithContext("sweeping expired keys");
  }
  return static_cast<int>(expired.size());
}

Status ShardStore::Versions(const Digest& digest, const Clock& clock, uint64_t before,
                            uint64_t limit, std::vector<VersionInfo>* out, bool* more) {
  *more = false;
  auto current = kv_.Lookup(digest);
  if (!current.ok()) return current.status();
  if (current.value() && !current.value()->LiveAt(clock.now_ms)) {
    return Status::Ok();  // an expired key has no history at all
  }
  // One more than asked tells whether more follow.
  if (current.value() && current.value()->stored.version < before) {
    out->push_back({current.value()->stored.version, false});
  }
  LITESTASH_RETURN_IF_ERROR(history_.List(digest, before, limit + 1 - out->size(), out));
  if (out->size() > limit) {
    out->resize(limit);
    *more = true;
  }
  return Status::Ok();
}

Result<std::optional<StoredValue>> ShardStore::GetVersion(const Digest& digest, uint64_t version,
                                                          const Clock& clock) {
  auto current = kv_.Lookup(digest);
  if (!current.ok()) return current.status();
  if (current.value()) {
    if (!current.value()->LiveAt(clock.now_ms)) return std::optional<StoredValue>();
    if (current.value()->stored.version == version) {
      return std::optional<StoredValue>(std::move(current.value()->stored));
    }
  }
  auto row = history_.Get(digest, version);
  if (!row.ok()) return row.status();
  if (!row.value() || !row.value()->value) return std::optional<StoredValue>();  // none, tombstone
  return std::optional<StoredValue>(StoredValue{std::move(*row.value()->value), version});
}

}  // namespace litestash
