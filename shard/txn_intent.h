// TxnIntent body: what a multi-shard write did, shard by shard, in a form any engine can replay
// (engine/write_group.h has the protocol; TxnTable stores the bodies).
//
// A part is the ordered list of logical writes on one shard (set, delete, stream append, clear)
// plus the clock the write ran with and the part's first version. Replaying a part runs the
// same writes against the same state with the same clock, so it stamps the same versions and
// entry ids: a participant that lacks the part gets exactly what the others got. Whether a shard
// holds a part is read from its version clock: the part stamped part_version first, above the
// shard's stored clock ceiling, so the part is there iff that ceiling >= part_version (a shard's
// commits survive as a prefix; shard/txn_recovery.h).
//
// Encoding: one MessagePack array (msgpack-cxx; its exceptions stop here). Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace litestash {

struct WriteOp {
  enum Kind : uint8_t { kSet = 0, kDelete = 1, kAppend = 2, kClear = 3 };
  Kind kind = kSet;
  std::string name;                   // the key, or the stream name (kAppend); empty for kClear
  std::string value;                  // raw MessagePack bytes (kSet, kAppend)
  std::optional<int64_t> expires_at;  // kSet: Unix ms
};

struct IntentPart {
  uint32_t shard = 0;
  uint64_t part_version = 0;
  std::vector<WriteOp> ops;
};

struct IntentBody {
  uint64_t txn_id = 0;
  int64_t now_ms = 0;
  int64_t now_us = 0;
  std::vector<IntentPart> parts;
};

std::string EncodeIntent(const IntentBody& body);
Result<IntentBody> DecodeIntent(std::string_view bytes);

}  // namespace litestash
