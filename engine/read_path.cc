#include "engine/read_path.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "engine/keyed_ops.h"

namespace litestash {

ReadPath::ReadPath(std::vector<ShardOptions> shards, size_t cache_bytes)
    : options_(std::move(shards)),
      cache_bytes_per_shard_(options_.empty() ? 0 : cache_bytes / options_.size()),
      shards_(options_.size()) {}

ReadPath::~ReadPath() { EndChunk(); }

bool ReadPath::Answer(const Request& req, const Digest& digest, uint32_t shard, const Clock& clock,
                      ResponseEncoder* out, Status* status) {
  if (shard >= shards_.size()) return false;
  ShardState& s = shards_[shard];
  if (s.disabled) return false;
  *status = Snapshot(shard, s);
  if (s.disabled) return false;
  if (!status->ok()) return true;

  Entry fetched;
  const Entry* entry = nullptr;
  const uint64_t prefix = Prefix(digest);
  if (auto it = s.cache.find(prefix); it != s.cache.end() && it->second.key == req.key) {
    entry = &it->second;
    ++counters_.cache_hits;
  } else {
    auto row = s.store->Lookup(digest);
    if (!row.ok()) {
      *status = row.status();
      return true;
    }
    fetched.found = row.value().has_value();
    if (fetched.found) fetched.record = std::move(*row.value());
    entry = &fetched;
  }
  ++counters_.answered;

  const bool live = entry->found && entry->record.LiveAt(clock.now_ms);
  switch (req.op) {
    case OpCode::kGet:
      EncodeGetAnswer(req, live ? &entry->record.stored : nullptr, out);
      break;
    case OpCode::kExists:
    case OpCode::kTtl: {
      KeyExpiry expiry;
      expiry.found = live;
      if (live) expiry.expires_at = entry->record.expires_at;
      if (req.op == OpCode::kExists) {
        EncodeExistsAnswer(req, expiry, out);
      } else {
        EncodeTtlAnswer(req, expiry, clock, out);
      }
      break;
    }
    default:
      *status = Status(ErrorCode::kInternal, "not a keyed read");
      return true;
  }
  if (entry == &fetched) {
    fetched.key = std::string(req.key);
    Remember(s, prefix, std::move(fetched));
  }
  return true;
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
  LITESTASH_RETURN_IF_ERROR(store->Begin(false));
  // The deferred BEGIN takes its snapshot at the first read: this one.
  auto version = store->DataVersion();
  if (!version.ok()) {
    store->Rollback();
    return version.status();
  }
  s.in_snapshot = true;
  open_.push_back(shard);
  if (!s.cache_valid || s.version != *version) {
    if (s.cache_valid && !s.cache.empty()) ++counters_.invalidations;
    DropCache(s);
    s.version = *version;
    s.cache_valid = true;
  }
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
  for (uint32_t shard : open_) EndRead(shard);
  open_.clear();
}

void ReadPath::Remember(ShardState& s, uint64_t prefix, Entry entry) {
  if (cache_bytes_per_shard_ == 0 || entry.record.stored.value.size() > kMaxCachedValue) return;
  if (auto it = s.cache.find(prefix); it != s.cache.end()) {  // a key sharing the prefix
    const size_t freed = Cost(it->second);
    s.cache_bytes -= freed;
    cached_bytes_total_ -= freed;
    s.cache.erase(it);
  }
  const size_t cost = Cost(entry);
  if (s.cache_bytes + cost > cache_bytes_per_shard_) {
    const size_t target = cache_bytes_per_shard_ / 8 * 7;
    for (auto it = s.cache.begin(); it != s.cache.end() && s.cache_bytes + cost > target;) {
      const size_t freed = Cost(it->second);
      s.cache_bytes -= freed;
      cached_bytes_total_ -= freed;
      it = s.cache.erase(it);
    }
    if (s.cache_bytes + cost > cache_bytes_per_shard_) return;
  }
  s.cache_bytes += cost;
  cached_bytes_total_ += cost;
  s.cache.emplace(prefix, std::move(entry));
}

void ReadPath::DropCache(ShardState& s) {
  cached_bytes_total_ -= s.cache_bytes;
  s.cache_bytes = 0;
  s.cache.clear();
}

}  // namespace litestash
