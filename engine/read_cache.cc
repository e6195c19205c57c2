#include "engine/read_cache.h"

#include <algorithm>
#include <string>

namespace litestash {

namespace {

// Home slot of a prefix: Fibonacci hashing of all 64 bits, so that a table of any size spreads
// the keys of one shard (which share their prefix's value modulo the shard count) evenly.
size_t Home(uint64_t prefix, size_t slots) {
  return static_cast<size_t>((prefix * 0x9E3779B97F4A7C15ull) >> 32) & (slots - 1);
}

// Copies `from` into `to`, reusing the buffer `to` already has unless it is far too large.
void AssignBytes(std::string& to, std::string_view from) {
  if (to.capacity() > 2 * from.size() + 64) std::string().swap(to);
  to.assign(from.data(), from.size());
}

size_t Buffers(const ReadCache::Entry& e) {
  return e.key.capacity() + e.record.stored.value.capacity();
}

}  // namespace

size_t ReadCache::Probe(uint64_t prefix) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = Home(prefix, slots_.size());; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (!Used(slot) || slot.prefix == prefix) return i;
  }
}

const ReadCache::Entry* ReadCache::Find(uint64_t prefix, std::string_view key) {
  if (live_ == 0) return nullptr;
  const Slot& slot = slots_[Probe(prefix)];
  if (!Used(slot)) return nullptr;
  Stored& e = entries_[slot.entry];
  if (e.key != key) return nullptr;
  e.referenced = true;
  return &e;
}

bool ReadCache::Remember(uint64_t prefix, std::string_view key, bool found,
                         const StoredRecord& record) {
  if (budget_ == 0) return false;
  if (live_ > 0) {
    if (size_t slot = Probe(prefix); Used(slots_[slot])) Remove(slot);  // same prefix
  }
  const size_t cost = Cost(key, found, record);
  if (bytes_ + cost > budget_) {
    if (!SeenBefore(prefix)) return false;
    Evict(cost);
    if (bytes_ + cost > budget_) return false;
  }
  Reserve();
  const uint32_t number = Allocate();
  Stored& e = entries_[number];
  AssignBytes(e.key, key);
  e.found = found;
  if (found) {
    AssignBytes(e.record.stored.value, record.stored.value);
    e.record.stored.version = record.stored.version;
    e.record.expires_at = record.expires_at;
  } else {
    e.record.stored.value.clear();
    e.record.stored.version = 0;
    e.record.expires_at.reset();
  }
  e.prefix = prefix;
  e.generation = generation_;
  e.referenced = false;
  slots_[Probe(prefix)] = Slot{prefix, number, generation_};
  bytes_ += cost;
  ++live_;
  return true;
}

uint32_t ReadCache::Allocate() {
  if (!free_.empty()) {
    const uint32_t number = free_.back();
    free_.pop_back();
    spare_bytes_ -= Buffers(entries_[number]);
    return number;
  }
  if (next_ == entries_.size()) entries_.emplace_back();
  return static_cast<uint32_t>(next_++);
}

bool ReadCache::SeenBefore(uint64_t prefix) {
  if (doorkeeper_.empty()) doorkeeper_.assign(kDoorkeeperBits / 64, 0);
  if (++doorkeeper_checks_ >= kDoorkeeperWindow) {
    std::fill(doorkeeper_.begin(), doorkeeper_.end(), 0);
    doorkeeper_checks_ = 0;
  }
  const uint64_t bit = (prefix >> 32) % kDoorkeeperBits;
  uint64_t& word = doorkeeper_[bit / 64];
  const uint64_t mask = uint64_t{1} << (bit % 64);
  const bool seen = (word & mask) != 0;
  word |= mask;
  return seen;
}

void ReadCache::Reserve() {
  if (2 * (live_ + 1) <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(std::max<size_t>(64, 2 * old.size()), Slot{});
  for (const Slot& slot : old) {
    if (Used(slot)) slots_[Probe(slot.prefix)] = slot;
  }
}

void ReadCache::Evict(size_t room) {
  // CLOCK over the entries: one found since the hand last passed gets another round; the
  // others go, until `room` more bytes fit under 7/8 of the budget. Two full turns at most
  // (after one, no entry is still marked).
  const size_t target = budget_ / 8 * 7;
  for (size_t visited = 0; bytes_ + room > target && live_ > 0 && visited < 2 * next_; ++visited) {
    if (hand_ >= next_) hand_ = 0;
    Stored& e = entries_[hand_++];
    if (e.generation != generation_) continue;
    if (e.referenced) {
      e.referenced = false;
    } else {
      Remove(Probe(e.prefix));
    }
  }
}

void ReadCache::Remove(size_t slot) {
  const uint32_t number = slots_[slot].entry;
  Stored& e = entries_[number];
  bytes_ -= Cost(e.key, e.found, e.record);
  --live_;
  Free(number);
  // Backward shift: move later members of the probe chain into the hole, so every remaining
  // entry stays reachable from its home slot without tombstones.
  const size_t mask = slots_.size() - 1;
  size_t hole = slot;
  for (size_t i = (slot + 1) & mask; Used(slots_[i]); i = (i + 1) & mask) {
    const size_t home = Home(slots_[i].prefix, slots_.size());
    // The entry at i may fill the hole if its home is not in the cyclic range (hole, i].
    const bool home_after_hole =
        hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
    if (!home_after_hole) {
      slots_[hole] = slots_[i];
      hole = i;
    }
  }
  slots_[hole] = Slot{};
}

void ReadCache::Free(uint32_t number) {
  Stored& e = entries_[number];
  e.generation = 0;
  // Keep the buffers for the next entry while the spare ones stay within 1/8 of the budget.
  if (spare_bytes_ + Buffers(e) > budget_ / 8) {
    std::string().swap(e.key);
    std::string().swap(e.record.stored.value);
  }
  spare_bytes_ += Buffers(e);
  free_.push_back(number);
}

void ReadCache::Clear() {
  if (live_ == 0 && free_.empty()) return;
  // A new generation: every slot and entry of the old one now counts as unused.
  if (++generation_ == 0) {  // wrapped: old marks could collide with new ones
    std::fill(slots_.begin(), slots_.end(), Slot{});
    for (Stored& e : entries_) e.generation = 0;
    generation_ = 1;
  }
  free_.clear();
  spare_bytes_ = 0;
  next_ = 0;
  hand_ = 0;
  bytes_ = 0;
  live_ = 0;
}

}  // namespace litestash
