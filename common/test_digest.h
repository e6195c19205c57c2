// DigestOf: BLAKE2b-512 of a key for tests (a per-thread hasher; fails the test if OpenSSL has
// no BLAKE2B-512). Test-only.
#pragma once

#include <catch2/catch.hpp>
#include <string_view>

#include "common/blake2b.h"

namespace litestash::testing {

inline Digest DigestOf(std::string_view key) {
  thread_local std::unique_ptr<Blake2b512> hasher = [] {
    auto h = Blake2b512::Create();
    REQUIRE(h.ok());
    return std::move(h).value();
  }();
  Digest d;
  REQUIRE(hasher->Hash(key, &d).ok());
  return d;
}

}  // namespace litestash::testing
