// DigestMemo: the reader thread's memory of the BLAKE2b-512 digests of keys it routed lately.
//
// Routing a key costs one BLAKE2b-512 digest through OpenSSL's EVP interface: ~2,900
// instructions for a short key (callgrind of pipelined gets: a fifth of the reader thread's
// work, as much as reading the answer from the read cache). A key read again, as in a hot set,
// is routed from here instead.
//
// Exact: a slot holds its whole key and answers only for that key, byte for byte; keys longer
// than kMaxKeyBytes are hashed every time. kWays-way set associative over kSets sets, with a
// one-byte tag per slot checked before any key compare, and ways replaced in turn (so a set
// with more keys than ways still hits part of the time, where least-recently-used would miss
// every time under a cyclic scan). A hot set of 10k keys is found ~95 % of the time. Memory: a
// fixed kSets * kWays * (sizeof(Slot) + 1) (2 MiB), allocated at construction.
//
// Failure: Hash() returns the hasher's error (then nothing is remembered).
// Thread-safety: none; one owner thread (the memo owns the Blake2b512 it hashes with).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "common/blake2b.h"
#include "common/status.h"

namespace litestash {

class DigestMemo {
 public:
  static constexpr size_t kSets = 2048;
  static constexpr size_t kWays = 8;
  static constexpr size_t kMaxKeyBytes = 63;

  explicit DigestMemo(std::unique_ptr<Blake2b512> hasher);

  // *out = BLAKE2b-512(key), remembered or computed (and then remembered).
  Status Hash(std::string_view key, Digest* out);

  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Slot {
    uint8_t len = 0;
    char key[kMaxKeyBytes];
    Digest digest;
  };

  const std::unique_ptr<Blake2b512> hasher_;
  std::vector<Slot> slots_;    // set s holds slots [s * kWays, (s + 1) * kWays)
  std::vector<uint8_t> tags_;  // per slot: 0 unused, else a hash byte of its key (never 0)
  std::vector<uint8_t> next_;  // per set: the way the next new key replaces
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace litestash
