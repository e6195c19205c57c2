#include "engine/read_path.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>


namespace litestash {

ReadPath::ReadPath(std::vector<ShardOptions> shards, size_t cache_bytes)
    : options_(std::move(shards)),
      cache_bytes_per_shard_(options_.empty() ? 0 : cache_bytes / options_.size()),
      shards_(options_.size()) {
  for (ShardState& s : shards_) s.cache = ReadCache(cache_bytes_per_shard_);
}

ReadPath::~ReadPath() { EndAll(); }

bool ReadPath::Readable(uint32_t shard) const {
  return shard < shards_.size() && !shards_[shard].disabled;
}

bool ReadPath::Read(std::string_view key, const Digest& digest, uint32_t shard,
                    const StoredRecord** record, Status* status) {
  if (shard >= shards_.size()) return false;
  ShardState& s = shards_[shard];
  if (s.disabled) return false;
  const uint64_t prefix = Prefix(digest);
  const bool unchanged = Revalidate(shard, s);
  if (!s.in_snapshot && unchanged) {
    if (const ReadCache::Entry* e = Hit(s, prefix, key)) {  // a hit needs no snapshot at all
      *record = e->found ? &e->record : nullptr;
      *status = Status::Ok();
      return true;
    }
  }
  *status = Snapshot(shard, s);
  if (s.disabled) return false;
  *record = nullptr;
  if (!status->ok()) return true;
  if (const ReadCache::Entry* e = Hit(s, prefix, key)) {
    *record = e->found ? &e->record : nullptr;
    return true;
  }
  // Into last_read_, whose buffer is reused read after read; the cache copies what it admits.
  auto found = s.store->LookupInto(digest, s.has_expiries, &last_read_);
  if (!found.ok()) {
    *status = found.status();
    return true;
  }
  if (last_read_.stored.value.size() <= kMaxCachedValue) {
    const size_t before = s.cache.bytes();
    s.cache.Remember(prefix, key, *found, last_read_);
    cached_bytes_total_ += s.cache.bytes() - before;  // Remember may evict: wraps, then adds up
  }
  if (*found) *record = &last_read_;
  return true;
}

bool ReadPath::Revalidate(uint32_t shard, ShardState& s) {
  // Nothing committed since the last snapshot began (read before it): that snapshot, and the
  // cache it confirmed, are still exactly the current state.
  WalIndexWatch::Header now;
  const bool unchanged = s.tag_ok && s.watch.Read(&now) && now == s.tag;
  if (s.in_snapshot && s.tag_ok && !unchanged) EndRead(shard);  // stale: a fresh one follows
  return unchanged;
}

ShardStore* ReadPath::SnapshotStore(uint32_t shard, Status* status) {
  if (shard >= shards_.size()) return nullptr;
  ShardState& s = shards_[shard];
  if (s.disabled) return nullptr;
  Revalidate(shard, s);
  *status = Snapshot(shard, s);
  if (s.disabled) return nullptr;
  return s.store.get();
}

const ReadCache::Entry* ReadPath::Hit(ShardState& s, uint64_t prefix, std::string_view key) {
  const ReadCache::Entry* e = s.cache.Find(prefix, key);
  if (e != nullptr) ++counters_.cache_hits;
  return e;
}

uint64_t ReadPath::Prefix(const Digest& digest) {
  uint64_t prefix;
  std::memcpy(&prefix, digest.data(), sizeof prefix);
  return prefix;
}

Status ReadPath::Snapshot(uint32_t shard, ShardState& s) {
  if (s.in_snapshot) return Status::Ok();
  ShardStore* store = Store(shard, s);
  if (store == nullptr) return Status::Ok();  // disabled
  // Read before the snapshot begins: a commit in between makes the tag older than the data,
  // which only costs a later slow check, never a stale answer.
  WalIndexWatch::Header seen;
  const bool seen_ok = s.watch.Read(&seen);
  LITESTASH_RETURN_IF_ERROR(store->Begin(false));
  if (Status st = Reconcile(s, *store); !st.ok()) {
    store->Rollback();
    return st;
  }
  s.in_snapshot = true;
  s.snapshot_began = std::chrono::steady_clock::now();
  open_.push_back(shard);
  s.tag = seen;
  s.tag_ok = seen_ok;
  if (!s.watch_tried) {  // the connection now holds the wal-index open: safe to map
    s.watch_tried = true;
    const ShardOptions& o = options_[shard];
    if (!o.in_memory && o.vfs.empty() && !s.watch.Open(o.path)) {
      spdlog::debug("shard {}: no wal-index watch; cache hits are checked in a snapshot", shard);
    }
  }
  return Status::Ok();
}

Status ReadPath::Reconcile(ShardState& s, ShardStore& store) {
  // The deferred BEGIN takes its snapshot at the first read: this one.
  auto version = store.DataVersion();
  if (!version.ok()) return version.status();
  if (s.cache_valid && s.version == *version) return Status::Ok();
  // Whether the expiry side table has rows, as of this snapshot: without any, a read needs no
  // probe of it (valid for as long as data_version does not move).
  auto has = store.HasExpiries();
  if (!has.ok()) return has.status();
  if (s.cache_valid && s.cache.size() > 0) ++counters_.invalidations;
  DropCache(s);
  s.has_expiries = *has;
  s.version = *version;
  s.cache_valid = true;
  return Status::Ok();
}

ShardStore* ReadPath::Store(uint32_t shard, ShardState& s) {
  if (!s.store) {
    auto store = ShardStore::Open(options_[shard]);
    Status st = store.ok() ? store.value()->PrepareStatements() : store.status();
    if (!st.ok()) {
      spdlog::warn("shard {}: reader's read path off: {}", shard, st.ToString());
      s.disabled = true;
      return nullptr;
    }
    s.store = std::move(store).value();
  }
  return s.store.get();
}

void ReadPath::EndRead(uint32_t shard) {
  if (shard >= shards_.size()) return;
  ShardState& s = shards_[shard];
  if (!s.in_snapshot) return;
  // A read transaction has nothing to commit; ending it cannot lose anything.
  s.store->Rollback();
  s.in_snapshot = false;
}

void ReadPath::EndChunk() {
  // Kept: snapshots the wal-index header can revalidate at their next use, unless old (an open
  // read transaction holds back checkpoints of the WAL, for every process on the file).
  const auto now = std::chrono::steady_clock::now();
  size_t kept = 0;
  for (uint32_t shard : open_) {
    ShardState& s = shards_[shard];
    if (!s.in_snapshot) continue;
    if (s.tag_ok && now - s.snapshot_began < kMaxSnapshotAge) {
      open_[kept++] = shard;
    } else {
      EndRead(shard);
    }
  }
  open_.resize(kept);
}

void ReadPath::Close() {
  EndAll();
  for (ShardState& s : shards_) {
    s.store.reset();
    s.disabled = true;
  }
}

void ReadPath::EndAll() {
  for (uint32_t shard : open_) EndRead(shard);
  open_.clear();
}

void ReadPath::DropCache(ShardState& s) {
  cached_bytes_total_ -= s.cache.bytes();
  s.cache.Clear();
}

}  // namespace litestash
