#include "protocol/op_table.h"

#include <array>

namespace litestash {
namespace {

constexpr std::array<FieldSpec, kFieldCount> kFields = {{
    {FieldId::kKey, "key", FieldType::kKey},
    {FieldId::kValue, "value", FieldType::kValue},
    {FieldId::kTtlMs, "ttl_ms", FieldType::kUint},
    {FieldId::kShard, "shard", FieldType::kUint},
    {FieldId::kEntries, "entries", FieldType::kEntries},
    {FieldId::kKeys, "keys", FieldType::kKeyArray},
    {FieldId::kPrefix, "prefix", FieldType::kText},
    {FieldId::kAfter, "after", FieldType::kText},
    {FieldId::kLimit, "limit", FieldType::kUint},
}};

constexpr FieldMask kKey = Bit(FieldId::kKey);
constexpr FieldMask kShard = Bit(FieldId::kShard);  // accepted by every op that takes `key`
constexpr FieldMask kNone = 0;

// Rows are in OpCode order; op_table_test checks that.
constexpr auto kOps = std::to_array<OpSchema>({
    {OpCode::kHello, "hello", Routing::kLocal, false, kNone, kNone},
    {OpCode::kPing, "ping", Routing::kLocal, false, kNone, kNone},
    {OpCode::kSet, "set", Routing::kKey, true, kKey | Bit(FieldId::kValue),
     kShard | Bit(FieldId::kTtlMs)},
    {OpCode::kGet, "get", Routing::kKey, false, kKey, kShard},
    {OpCode::kDelete, "delete", Routing::kKey, true, kKey, kShard},
    {OpCode::kExists, "exists", Routing::kKey, false, kKey, kShard},
    {OpCode::kMset, "mset", Routing::kEntries, true, Bit(FieldId::kEntries), Bit(FieldId::kTtlMs)},
    {OpCode::kMget, "mget", Routing::kKeys, false, Bit(FieldId::kKeys), kNone},
    {OpCode::kMdelete, "mdelete", Routing::kKeys, true, Bit(FieldId::kKeys), kNone},
    {OpCode::kScan, "scan", Routing::kAllShards, false, kNone,
     Bit(FieldId::kPrefix) | Bit(FieldId::kAfter) | Bit(FieldId::kLimit)},
    {OpCode::kCount, "count", Routing::kAllShards, false, kNone, kNone},
    {OpCode::kClear, "clear", Routing::kAllShards, true, kNone, kNone},
    {OpCode::kExpire, "expire", Routing::kKey, true, kKey | Bit(FieldId::kTtlMs), kShard},
    {OpCode::kTtl, "ttl", Routing::kKey, false, kKey, kShard},
    {OpCode::kPersist, "persist", Routing::kKey, true, kKey, kShard},
    {OpCode::kStats, "stats", Routing::kAllShards, false, kNone, kNone},
    {OpCode::kSync, "sync", Routing::kAllShards, true, kNone, kNone},
});

}  // namespace

std::span<const FieldSpec> AllFields() { return kFields; }
const FieldSpec& FieldSpecOf(FieldId id) { return kFields[static_cast<size_t>(id)]; }

std::optional<FieldId> FindField(std::string_view name) {
  for (const auto& f : kFields) {
    if (f.name == name) return f.id;
  }
  return std::nullopt;
}

std::span<const OpSchema> AllOps() { return kOps; }
const OpSchema& SchemaOf(OpCode code) { return kOps[static_cast<size_t>(code)]; }

const OpSchema* FindOp(std::string_view name) {
  for (const auto& op : kOps) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

}  // namespace litestash
