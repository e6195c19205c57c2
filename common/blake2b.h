// BLAKE2b-512 key digests (RFC 7693, unkeyed, 64 bytes) and static shard routing.
//
// The digest comes from OpenSSL 3's "BLAKE2B-512" EVP_MD, fetched once per process. A
// Blake2b512 object owns one EVP_MD_CTX and is NOT thread-safe: give each thread its own.
// Failure to fetch the algorithm is fatal at construction (std::runtime_error) because the engine
// cannot route a single key without it.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace litestash {

inline constexpr size_t kDigestBytes = 64;
using Digest = std::array<uint8_t, kDigestBytes>;

class Blake2b512 {
 public:
  Blake2b512();
  ~Blake2b512();
  Blake2b512(const Blake2b512&) = delete;
  Blake2b512& operator=(const Blake2b512&) = delete;

  Digest Hash(std::string_view data);

 private:
  EVP_MD_CTX* ctx_;
};

// The contract's routing: the first 8 digest bytes as a big-endian uint64, modulo shard_count.
uint32_t ShardOf(const Digest& digest, uint32_t shard_count);

}  // namespace litestash
