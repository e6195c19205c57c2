#include "common/blake2b.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <string>

namespace litestash {
namespace {

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "no further detail from OpenSSL";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// Fetched once per process; OpenSSL keeps the returned EVP_MD alive for the process lifetime.
// nullptr when the algorithm is not available.
const EVP_MD* Blake2bMd() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "BLAKE2B-512", nullptr);
  return md;
}

}  // namespace

Result<std::unique_ptr<Blake2b512>> Blake2b512::Create() {
  if (Blake2bMd() == nullptr) {
    return Status::Internal("OpenSSL provides no BLAKE2B-512 digest (" + OpenSslError() +
                            "); keys cannot be routed");
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return Status::Internal("EVP_MD_CTX_new failed: " + OpenSslError());
  return std::unique_ptr<Blake2b512>(new Blake2b512(ctx));
}

Blake2b512::~Blake2b512() { EVP_MD_CTX_free(ctx_); }

Status Blake2b512::Hash(std::string_view data, Digest* out) {
  unsigned int len = 0;
  if (EVP_DigestInit_ex2(ctx_, Blake2bMd(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx_, out->data(), &len) != 1 || len != kDigestBytes) {
    return Status::Internal("BLAKE2b-512 digest failed: " + OpenSslError());
  }
  return Status::Ok();
}

uint32_t ShardOf(const Digest& digest, uint32_t shard_count) {
  uint64_t prefix = 0;
  for (int i = 0; i < 8; ++i) prefix = (prefix << 8) | digest[i];
  return static_cast<uint32_t>(prefix % shard_count);
}

Status HashOnThisThread(std::string_view data, Digest* out) {
  thread_local Result<std::unique_ptr<Blake2b512>> hasher = Blake2b512::Create();
  if (!hasher.ok()) return hasher.status();
  return hasher.value()->Hash(data, out);
}

}  // namespace litestash
