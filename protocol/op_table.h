// The operations of protocol v1 described as data.
//
// Each OpSchema row names an op, how it is routed, whether it writes, and which request fields
// it requires or accepts. The decoder validates requests against these rows before anything is
// dispatched, so adding an op is one row here plus one handler in engine/. The table is a
// constant: thread-safe, no ownership.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace litestash {

enum class OpCode : uint8_t {
  kHello,
  kPing,
  kSet,
  kGet,
  kDelete,
  kExists,
  kMset,
  kMget,
  kMdelete,
  kScan,
  kCount,
  kClear,
  kExpire,
  kTtl,
  kPersist,
  kStats,
  kSync,
};

// Request fields other than `id` and `op`, which every request carries.
enum class FieldId : uint8_t {
  kKey,
  kValue,
  kTtlMs,
  kShard,
  kEntries,
  kKeys,
  kPrefix,
  kAfter,
  kLimit,
};
inline constexpr int kFieldCount = 9;

// How a field's MessagePack object is checked and decoded.
enum class FieldType : uint8_t {
  kKey,       // str obeying the key rules (invalid_key otherwise)
  kValue,     // any object, kept as raw bytes, bounded by max_value_bytes
  kUint,      // non-negative integer
  kEntries,   // array of [key, value] arrays
  kKeyArray,  // array of keys
  kText,      // str, valid UTF-8, at most max_key_bytes (prefix, after)
};

struct FieldSpec {
  FieldId id;
  std::string_view name;
  FieldType type;
};

// Where an op's work runs.
enum class Routing : uint8_t {
  kLocal,      // answered without touching a shard (hello, ping)
  kKey,        // the shard of `key`
  kKeys,       // the shards of each entry of `keys` (fan-out, answers merged)
  kEntries,    // the shards of each key of `entries` (fan-out)
  kAllShards,  // every shard (fan-out)
};

using FieldMask = uint16_t;
constexpr FieldMask Bit(FieldId f) { return static_cast<FieldMask>(1u << static_cast<int>(f)); }

struct OpSchema {
  OpCode code;
  std::string_view name;
  Routing routing;
  bool writes;
  FieldMask required;
  FieldMask optional;
};

// All fields known to any op, indexed by FieldId.
std::span<const FieldSpec> AllFields();
const FieldSpec& FieldSpecOf(FieldId id);
std::optional<FieldId> FindField(std::string_view name);

// All ops, indexed by OpCode.
std::span<const OpSchema> AllOps();
const OpSchema& SchemaOf(OpCode code);
const OpSchema* FindOp(std::string_view name);

}  // namespace litestash
