#include "engine/read_path.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>


namespace litestash {

ReadPath::ReadPath(std::vector<ShardOptions> shards, size_t cache_bytes)
    : options_(std::move(shards)),
      cache_bytes_per_shard_(options_.empty() ? 0 : cache_bytes / options_.size()),
      shards_(options_.size()) {}

ReadPath::~ReadPath() { EndAll(); }

bool ReadPath::Readable(uint32_t shard) const {
  return shard < shards_.size() && !shards_[shard].disabled;
}

bool ReadPath::Read(std::string_view key, const Digest& digest, uint32_t shard,
                    const StoredRecord** record, Status* status) {
  Entry scratch;
  const Entry* entry = nullptr;
  if (!Locate(key, digest, shard, &scratch, &entry, status)) return false;
  *record = status->ok() && entry->found ? &entry->record : nullptr;
  if (*record == &scratch.record) {  // not cached: keep it until the next call
    last_read_ = std::move(scratch.record);
    *record = &last_read_;
  }
  return true;
}

bool ReadPath::Locate(std::string_view key, const Digest& digest, uint32_t shard, Entry* scratch,
                      const Entry** entry, Status* status) {
  if (shard >= shards_.size()) return false;
  ShardState& s = shards_[shard];
  if (s.disabled) return false;
  const uint64_t prefix = Prefix(digest);
  const bool unchanged = Revalidate(shard, s);
  if (!s.in_snapshot && unchanged) {
    if ((*entry = Hit(s, prefix, key)) != nullptr) {  // a hit needs no snapshot at all
      *status = Status::Ok();
      return true;
    }
  }
  *status = Snapshot(shard, s);
  if (s.disabled) return false;
  if (!status->ok()) return true;
  if ((*entry = Hit(s, prefix, key)) != nullptr) return true;
  auto row = s.store->Lookup(digest, s.has_expiries);
  if (!row.ok()) {
    *status = row.status();
    return true;
  }
  scratch->found = row.value().has_value();
  if (scratch->found) scratch->record = std::move(*row.value());
  scratch->key = std::string(key);
  const Entry* cached = Remember(s, prefix, *scratch);
  *entry = cached != nullptr ? cached : scratch;
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

const ReadPath::Entry* ReadPath::Hit(ShardState& s, uint64_t prefix, std::string_view key) {
  auto it = s.cache.find(prefix);
  if (it == s.cache.end() || it->second.key != key) return nullptr;
  it->second.referenced = true;
  ++counters_.cache_hits;
  return &it->second;
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
  if (s.cache_valid && !s.cache.empty()) ++counters_.invalidations;
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

const ReadPath::Entry* ReadPath::Remember(ShardState& s, uint64_t prefix, Entry& entry) {
  if (cache_bytes_per_shard_ == 0 || entry.record.stored.value.size() > kMaxCachedValue) {
    return nullptr;
  }
  if (auto it = s.cache.find(prefix); it != s.cache.end()) {  // a key sharing the prefix
    Forget(s, it);
  }
  const size_t cost = Cost(entry);
  if (s.cache_bytes + cost > cache_bytes_per_shard_) {
    // Full: admit only a key missed before in the current window (a doorkeeper bit per digest
    // prefix), so uniform or scanning traffic does not churn out what is read again and again
    // (nor pay an insert and an eviction per read that will not repeat).
    if (s.doorkeeper.empty()) s.doorkeeper.assign(kDoorkeeperBits / 64, 0);
    const uint64_t bit = (prefix >> 32) % kDoorkeeperBits;
    uint64_t& word = s.doorkeeper[bit / 64];
    const uint64_t mask = uint64_t{1} << (bit % 64);
    if (++s.doorkeeper_checks >= kDoorkeeperWindow) {
      std::fill(s.doorkeeper.begin(), s.doorkeeper.end(), 0);
      s.doorkeeper_checks = 0;
    }
    if ((word & mask) == 0) {
      word |= mask;
      return nullptr;
    }
    Evict(s, cost);
  }
  if (s.cache_bytes + cost > cache_bytes_per_shard_) return nullptr;
  s.cache_bytes += cost;
  cached_bytes_total_ += cost;
  return &s.cache.emplace(prefix, std::move(entry)).first->second;
}

void ReadPath::Evict(ShardState& s, size_t room) {
  // CLOCK over the buckets: an entry read since the hand last passed gets another round;
  // the others go, until the new entry fits under 7/8 of the budget.
  const size_t target = cache_bytes_per_shard_ / 8 * 7;
  std::vector<uint64_t> victims;
  for (size_t visited = 0; s.cache_bytes + room > target && !s.cache.empty();) {
    const size_t buckets = s.cache.bucket_count();
    if (visited++ > 2 * buckets) break;  // every entry had its second chance
    const size_t b = s.clock_hand++ % buckets;
    victims.clear();
    for (auto it = s.cache.begin(b); it != s.cache.end(b); ++it) {
      if (it->second.referenced) {
        it->second.referenced = false;
      } else {
        victims.push_back(it->first);
      }
    }
    for (uint64_t prefix : victims) {
      if (auto it = s.cache.find(prefix); it != s.cache.end()) Forget(s, it);
      if (s.cache_bytes + room <= target) break;
    }
  }
}

void ReadPath::Forget(ShardState& s, Cache::iterator it) {
  const size_t freed = Cost(it->second);
  s.cache_bytes -= freed;
  cached_bytes_total_ -= freed;
  s.cache.erase(it);
}

void ReadPath::DropCache(ShardState& s) {
  cached_bytes_total_ -= s.cache_bytes;
  s.cache_bytes = 0;
  s.cache.clear();
}

}  // namespace litestash
