#include "common/blake2b.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace litestash {
namespace {

// Fetched once per process; OpenSSL keeps the returned EVP_MD alive for the process lifetime.
const EVP_MD* Blake2bMd() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "BLAKE2B-512", nullptr);
    if (fetched == nullptr) throw std::runtime_error("OpenSSL has no BLAKE2B-512 digest");
    return fetched;
  }();
  return md;
}

}  // namespace

Blake2b512::Blake2b512() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) throw std::runtime_error("EVP_MD_CTX_new failed");
  Blake2bMd();
}

Blake2b512::~Blake2b512() { EVP_MD_CTX_free(ctx_); }

Digest Blake2b512::Hash(std::string_view data) {
  Digest out;
  unsigned int len = 0;
  if (EVP_DigestInit_ex2(ctx_, Blake2bMd(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1 || len != kDigestBytes) {
    throw std::runtime_error("BLAKE2b-512 digest failed");
  }
  return out;
}

uint32_t ShardOf(const Digest& digest, uint32_t shard_count) {
  uint64_t prefix = 0;
  for (int i = 0; i < 8; ++i) prefix = (prefix << 8) | digest[i];
  return static_cast<uint32_t>(prefix % shard_count);
}

}  // namespace litestash
