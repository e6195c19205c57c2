#include "engine/digest_memo.h"

#include <cstring>
#include <functional>
#include <utility>

namespace litestash {

DigestMemo::DigestMemo(std::unique_ptr<Blake2b512> hasher)
    : hasher_(std::move(hasher)), slots_(kSets * kWays), tags_(kSets * kWays, 0), next_(kSets, 0) {}

Status DigestMemo::Hash(std::string_view key, Digest* out) {
  if (key.size() > kMaxKeyBytes) return hasher_->Hash(key, out);
  // A different function from BLAKE2b (std::hash: murmur over the bytes), so keys that share a
  // shard are spread over the sets as well.
  const size_t h = std::hash<std::string_view>{}(key);
  const size_t set = h & (kSets - 1);
  const auto tag = static_cast<uint8_t>((h >> 56) | 1);
  const size_t first = set * kWays;
  for (size_t i = first; i < first + kWays; ++i) {
    if (tags_[i] != tag) continue;
    const Slot& slot = slots_[i];
    if (slot.len == key.size() && std::memcmp(slot.key, key.data(), key.size()) == 0) {
      *out = slot.digest;
      ++hits_;
      return Status::Ok();
    }
  }
  ++misses_;
  if (Status st = hasher_->Hash(key, out); !st.ok()) return st;
  const size_t i = first + next_[set];
  next_[set] = static_cast<uint8_t>((next_[set] + 1) % kWays);
  Slot& slot = slots_[i];
  tags_[i] = tag;
  slot.len = static_cast<uint8_t>(key.size());
  std::memcpy(slot.key, key.data(), key.size());
  slot.digest = *out;
  return Status::Ok();
}

}  // namespace litestash
