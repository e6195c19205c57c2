// ReadPath: how the reader thread reads keys itself (the inline reads of get, exists, ttl and
// mget: engine/*_family.cc), without a hop to a shard thread, and the exact read cache behind
// it.
//
// Snapshots. The reader keeps its own read-only connection to every shard file (opened
// SQLITE_OPEN_READONLY once the shard's worker has the file at this engine's layout; it never
// creates or changes anything). The first read
// of a shard within a chunk (the requests one read() from stdin brought) opens a read
// transaction there; the chunk's later reads of that shard share it. A snapshot may outlive its
// chunk (up to kMaxSnapshotAge, never while the reader sleeps: EndAll()) only because each
// later use first checks the wal-index header: unchanged since just before the snapshot began
// means nothing has committed since, so the snapshot is still the current state; changed means
// it is replaced. EndRead(shard) ends one early. The caller (Dispatcher) comes here only for a
// shard with no write of this process queued or uncommitted that may touch the key read
// (ShardWorker::NoPendingWrites, or NoPendingWritesTo(key) while Watched(shard): then a write to
// the key that committed after the snapshot began has moved the header, so the read renews the
// snapshot first), and ends the shard's snapshot whenever it queues a write to it. Hence every
// read sees a state at least as new as the moment its request arrived (every write any host was
// told about before sending it, whichever process made it) and every earlier write of this
// stream to its key (pipelined read-your-writes).
//
// Cache. Per shard, key -> the stored row (value, version, expiry) or "absent", filled by the
// reads served here. Each shard's cache is tagged with the `PRAGMA data_version` of the snapshot
// it was filled from; a snapshot whose data_version differs (any connection, of this process or
// another, committed to the file since) empties that shard's cache first. A cache hit needs no
// snapshot while the shard's wal-index header (WalIndexWatch) equals the one read just before
// the last snapshot: then nothing has committed since that snapshot either. So a cached answer
// is exactly what SQLite would answer now; expiry is judged at answer time.
//
// Memory: `cache_bytes` in all, an equal share per shard, each kept by a ReadCache (flat index,
// admission on a key's second miss once full, CLOCK eviction: engine/read_cache.h). Rows read
// are decoded into one reused buffer (last_read_), so a miss allocates nothing. Values over
// kMaxCachedValue are read but not cached; cache_bytes 0 disables the cache,
// not the read path. While a shard's expiry table is empty (checked when data_version moves),
// misses skip the probe of it.
//
// Failure: a connection that cannot be opened turns the read path off for that shard (Read
// returns false; the request goes to the shard thread). A SQLite error while reading is returned
// as the request's error status.
//
// Thread-safety: none; owned and used by the reader thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/blake2b.h"
#include "common/status.h"
#include "engine/read_cache.h"
#include "engine/wal_index_watch.h"
#include "shard/shard_store.h"

namespace litestash {

struct ReadPathCounters {
  uint64_t cache_hits = 0;     // reads answered from the cache (stats: read_cache_hits)
  uint64_t invalidations = 0;  // shard caches emptied because the file changed (tests)
};

class ReadPath {
 public:
  static constexpr size_t kMaxCachedValue = 64 * 1024;
  static constexpr std::chrono::milliseconds kMaxSnapshotAge{50};

  // `shards`: one ShardOptions per shard (the files the workers own), or empty for no read path
  // at all (--memory: an in-memory shard cannot be opened twice).
  ReadPath(std::vector<ShardOptions> shards, size_t cache_bytes);
  ~ReadPath();

  // Reads `key` (digest `digest`, on `shard`) from the shard's snapshot or the cache. Returns
  // false if this shard cannot be read here (the caller queues the request instead).
  // Otherwise *status holds the read's outcome and, when OK, *record is the key's row as
  // stored (nullptr: no row), expiry not yet judged; valid until the next call.
  bool Read(std::string_view key, const Digest& digest, uint32_t shard,
            const StoredRecord** record, Status* status);
  // The shard's store inside a read transaction that sees at least every commit before this
  // call (the snapshot is revalidated, or renewed, as for Read), for reads beyond single keys
  // (streams). nullptr if this shard cannot be read here; otherwise *status says whether the
  // snapshot could be taken. Valid until the snapshot ends (EndRead/EndChunk/EndAll).
  ShardStore* SnapshotStore(uint32_t shard, Status* status);
  // True if reads of `shard` can be answered here (its connection is not known to fail).
  bool Readable(uint32_t shard) const;
  // True if every use of the shard's snapshot (and every cache hit) first checks the shard's
  // wal-index header, so nothing committed after a snapshot began is ever missed by a read that
  // starts after the commit (known once a snapshot of the shard was taken with the header).
  bool Watched(uint32_t shard) const { return shard < shards_.size() && shards_[shard].tag_ok; }

  // Ends the shard's snapshot, if open (a write to it is being queued).
  void EndRead(uint32_t shard);
  // End of a chunk: ends the snapshots that cannot be revalidated at their next use (no
  // wal-index watch) and those older than kMaxSnapshotAge; the others stay open, and each use
  // first checks the wal-index header, taking a fresh snapshot if anything committed since.
  void EndChunk();
  // Ends every open snapshot (before the reader sleeps or waits, and at shutdown).
  void EndAll();
  // Ends every snapshot and closes every read connection (before the shard threads close their
  // files: a read-only connection left last could not checkpoint or remove the WAL). Reads
  // decline afterwards.
  void Close();

  const ReadPathCounters& counters() const { return counters_; }
  size_t cached_bytes() const { return cached_bytes_total_; }

 private:
  static uint64_t Prefix(const Digest& digest);
  struct ShardState {
    std::unique_ptr<ShardStore> store;  // opened on first use
    bool disabled = false;
    bool in_snapshot = false;  // a read transaction is open
    std::chrono::steady_clock::time_point snapshot_began;
    bool cache_valid = false;  // cache holds rows of data_version `version`
    int64_t version = 0;
    bool has_expiries = true;  // the expiry table had rows at data_version `version`
    // The wal-index header read just before the snapshot the cache was last confirmed in: while
    // the header still equals it, no commit has happened since and a cache hit needs no
    // snapshot at all (no read transaction, no lock system calls).
    WalIndexWatch watch;
    bool watch_tried = false;
    WalIndexWatch::Header tag{};
    bool tag_ok = false;
    ReadCache cache;  // keyed by the first 8 bytes of the key's digest
  };

  // Opens the shard's snapshot if needed and reconciles its cache; false if unusable.
  Status Snapshot(uint32_t shard, ShardState& s);
  // Ends an open snapshot that a commit has made stale (the wal-index header moved); true if
  // the header still equals the one noted before the last snapshot began.
  bool Revalidate(uint32_t shard, ShardState& s);
  // Inside a just-begun read transaction: empties the cache if data_version moved since it was
  // filled, and notes whether the expiry table has rows.
  Status Reconcile(ShardState& s, ShardStore& store);
  ShardStore* Store(uint32_t shard, ShardState& s);
  // The cached entry for `key` (counted as a hit), or nullptr.
  const ReadCache::Entry* Hit(ShardState& s, uint64_t prefix, std::string_view key);
  void DropCache(ShardState& s);

  const std::vector<ShardOptions> options_;
  const size_t cache_bytes_per_shard_;
  std::vector<ShardState> shards_;
  std::vector<uint32_t> open_;  // shards with an open snapshot
  StoredRecord last_read_;      // the row Read() returned when it was not a cache hit
  size_t cached_bytes_total_ = 0;
  ReadPathCounters counters_;
};

}  // namespace litestash
