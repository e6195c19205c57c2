// BLAKE2b-512 key digests (RFC 7693, unkeyed, 64 bytes) and static shard routing.
//
// The digest comes from OpenSSL 3's "BLAKE2B-512" EVP_MD, fetched once per process.
// Blake2b512::Create() fails (a Status, never an exception) when OpenSSL has no such
// algorithm (e.g. a provider configuration without it): the engine cannot route a single key
// then, and reports it at start-up. A Blake2b512 owns one EVP_MD_CTX and is NOT thread-safe:
// give each thread its own.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/status.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace litestash {

inline constexpr size_t kDigestBytes = 64;
using Digest = std::array<uint8_t, kDigestBytes>;

class Blake2b512 {
 public:
  static Result<std::unique_ptr<Blake2b512>> Create();
  ~Blake2b512();
  Blake2b512(const Blake2b512&) = delete;
  Blake2b512& operator=(const Blake2b512&) = delete;

  // Fails only if OpenSSL does (out of memory); the digest is then unusable.
  Status Hash(std::string_view data, Digest* out);

 private:
  explicit Blake2b512(EVP_MD_CTX* ctx) : ctx_(ctx) {}
  EVP_MD_CTX* ctx_;
};

// Hashes with a Blake2b512 of the calling thread's own (created on its first call): for code
// off the hot paths that has no hasher at hand (multi-shard writes, their replay).
Status HashOnThisThread(std::string_view data, Digest* out);

// The contract's routing: the first 8 digest bytes as a big-endian uint64, modulo shard_count.
uint32_t ShardOf(const Digest& digest, uint32_t shard_count);

}  // namespace litestash
