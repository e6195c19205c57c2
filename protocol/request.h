// Request: one decoded and validated request.
//
// A Request owns its frame's bytes (`frame`); every string_view below points into them, so a
// Request is created on the heap by the decoder and never moved or copied afterwards (moving a
// short std::string would move its bytes and leave the views dangling). Once decoded it is
// immutable and may be read from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/op_table.h"

namespace litestash {

inline constexpr uint64_t kDefaultScanLimit = 1000;
inline constexpr uint64_t kMaxScanLimit = 10000;
// Keys of one mget/mdelete, entries of one mset. Each costs the engine far more than its bytes
// in the frame (a 64-byte digest, routing), so the count is bounded, not just the frame size.
inline constexpr uint32_t kMaxKeysPerRequest = 100000;

struct Request {
  Request() = default;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  std::string frame;  // the body bytes; all views point here

  uint64_t id = 0;
  OpCode op = OpCode::kPing;
  std::string_view key;                // ops routed by key
  std::string_view value;              // raw MessagePack bytes of `value` (set)
  std::optional<uint64_t> ttl_ms;      // set, mset, expire; >= 1 when present
  std::optional<uint64_t> shard;       // the host's routing of `key`, if sent
  std::vector<std::string_view> keys;  // mget, mdelete
  std::vector<std::pair<std::string_view, std::string_view>> entries;  // mset: key, raw value
  std::string_view prefix;                                             // scan (empty: all keys)
  std::optional<std::string_view> after;                               // scan: exclusive start key
  uint64_t limit = kDefaultScanLimit;                                  // scan

  const OpSchema& schema() const { return SchemaOf(op); }
};

using RequestPtr = std::unique_ptr<Request>;

}  // namespace litestash
