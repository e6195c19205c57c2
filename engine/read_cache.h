// ReadCache: one shard's exact cache of key rows for the reader's read path (ReadPath decides
// when its contents are current; this class only keeps them).
//
// Index. An open-addressed table of slots {digest prefix, entry number, generation}, linear
// probing, at most half full, removal by backward shift (no tombstones). Clear() only starts a
// new generation: slots and entries of older ones count as empty, so emptying the cache (at
// every commit to the shard, under a mixed load) costs the same however large it had grown. The
// first 8 bytes of the key's BLAKE2b-512 digest are already uniformly spread, so a probe that
// misses (the common case under uniform traffic) reads one cache line and no entry at all; only a
// prefix match looks at the entry's full key (two keys may share a prefix: the newer one replaces
// the older).
//
// Entries live in one vector and are reused in place after eviction: an entry's key and value
// strings keep their buffers, so a steady stream of admissions and evictions allocates nothing.
// Memory: the budget (counted by string sizes), string capacity up to twice a live entry's bytes,
// buffers kept by entries evicted since the last Clear (at most budget/8) and by entries of
// older generations (at most what was live at the Clear, reused first); the table and the entry
// vector never shrink (both bounded by budget / kEntryOverhead entries).
//
// Admission and eviction. Below its budget every remembered row is admitted. At its budget a
// key is admitted only on its second miss within a window (doorkeeper bits by digest prefix),
// so uniform or scanning traffic neither churns out what is read again and again nor pays an
// insertion and an eviction per read that will not repeat; then CLOCK over the entries (an
// entry found since the hand last passed gets a second chance) evicts down to 7/8 of the
// budget. Cost of an entry: key + value + kEntryOverhead bytes.
//
// Thread-safety: none; owned and used by the reader thread only (through ReadPath).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "shard/kv_table.h"

namespace litestash {

class ReadCache {
 public:
  static constexpr size_t kEntryOverhead = 96;  // slot, entry, string headers: a fair estimate
  static constexpr size_t kDoorkeeperBits = 1 << 15;      // 4 KiB
  static constexpr uint32_t kDoorkeeperWindow = 1 << 13;  // admission checks between resets

  struct Entry {
    std::string key;      // the full key
    bool found = false;   // false: the key has no row ("absent" is cached too)
    StoredRecord record;  // valid when found
  };

  // `budget`: bytes this cache may hold (0: it admits nothing).
  explicit ReadCache(size_t budget = 0) : budget_(budget) {}

  // The entry for `key` (digest prefix `prefix`), marked as found for CLOCK, or nullptr.
  // Valid until the next Remember or Clear.
  const Entry* Find(uint64_t prefix, std::string_view key);
  // Offers the row just read for `key` (`record` when `found`); copies it in if admitted.
  // True if cached. A cached entry of another key with the same prefix is replaced.
  bool Remember(uint64_t prefix, std::string_view key, bool found, const StoredRecord& record);
  // Forgets everything (the file changed); keeps the allocations for reuse.
  void Clear();

  size_t bytes() const { return bytes_; }
  size_t size() const { return live_; }

 private:
  struct Slot {
    uint64_t prefix = 0;
    uint32_t entry = 0;       // entry number
    uint32_t generation = 0;  // in use iff equal to generation_
  };
  struct Stored : Entry {
    uint64_t prefix = 0;
    uint32_t generation = 0;  // live iff equal to generation_
    bool referenced = false;  // found since the eviction hand last passed (CLOCK)
  };

  bool Used(const Slot& slot) const { return slot.generation == generation_; }
  // Bytes an entry counts against the budget (its value only when the key was found).
  static size_t Cost(std::string_view key, bool found, const StoredRecord& record) {
    return key.size() + (found ? record.stored.value.size() : 0) + kEntryOverhead;
  }

  // The slot holding `prefix`, or the empty slot where it would go. Needs a non-empty table.
  size_t Probe(uint64_t prefix) const;
  // True if `prefix` has been offered before in this window (and notes it if not).
  bool SeenBefore(uint64_t prefix);
  // Grows the table to keep it at most half full with one more entry.
  void Reserve();
  void Evict(size_t room);
  // Removes the entry in `slot` (backward-shift deletion keeps probe chains whole).
  void Remove(size_t slot);
  // Puts entry `number` on the free list, keeping its buffers while spare ones are few.
  void Free(uint32_t number);
  // An entry not live in this generation, for a new row.
  uint32_t Allocate();

  size_t budget_;
  size_t bytes_ = 0;
  size_t live_ = 0;
  std::vector<Slot> slots_;  // power-of-two size, or empty before the first entry
  std::vector<Stored> entries_;
  uint32_t generation_ = 1;     // 0 marks what was never used or was removed
  std::vector<uint32_t> free_;  // entries removed in this generation
  size_t spare_bytes_ = 0;      // buffer capacity held by the entries in free_
  size_t next_ = 0;             // entries_[next_..] are unused in this generation
  size_t hand_ = 0;             // next entry the CLOCK hand looks at
  std::vector<uint64_t> doorkeeper_;
  uint32_t doorkeeper_checks_ = 0;
};

}  // namespace litestash
