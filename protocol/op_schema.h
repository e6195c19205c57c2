// OpSchema: what the protocol knows of one op — its name, how it is routed, whether it writes,
// and its fields with their types and ranges. The decoder validates a request against its
// op's schema before anything runs (docs/protocol.md, "Error precedence"), so a handler only
// ever sees fields that are present, typed and in range.
//
// Schemas are not written here: each op family in engine/ registers its rows (schema plus
// handlers) with the CommandRegistry, which hands the schemas to an OpCatalog. A field is
// described once in its op's row; its name is all the request accessors need.
//
// Plain data: immutable once registered, safe to share between threads.
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace litestash {

struct Request;
// A check of a whole decoded request beyond its fields' own specs (e.g. "at least one of"),
// run by the decoder after every field passed; a non-OK status refuses the request. Pure.
using RequestValidator = Status (*)(const Request& request);

// How a field's MessagePack object is checked and decoded.
enum class FieldType : uint8_t {
  kKey,        // str obeying the key rules (invalid_key otherwise): keys, stream and group names
  kValue,      // any one object, kept as its raw bytes, at most max_value_bytes
  kUint,       // non-negative integer within [min, max]
  kText,       // str, valid UTF-8, at most max_key_bytes (scan's prefix/after)
  kPath,       // str, valid UTF-8, 1..4096 bytes (a file system path)
  kKeyArray,   // array of keys (at most kMaxItemsPerRequest)
  kEntries,    // array of [key, value] arrays
  kUintArray,  // array of uints
  kChecks,     // array of [key, uint] arrays
  kOps,        // array of maps, each a nested op allowed by the schema's `nested` list
};

// The list-valued types; a request keeps one list of each kind, so an op has at most one field
// of each of them (checked when the row is registered).
inline bool IsListType(FieldType t) {
  return t == FieldType::kKeyArray || t == FieldType::kEntries || t == FieldType::kUintArray ||
         t == FieldType::kChecks || t == FieldType::kOps;
}

struct FieldSpec {
  std::string_view name;
  FieldType type = FieldType::kUint;
  bool required = false;
  // kUint: the accepted range (bad_request outside it) and the value used when absent.
  uint64_t min = 0;
  uint64_t max = std::numeric_limits<uint64_t>::max();
  bool has_default = false;
  uint64_t default_value = 0;
  // Array types: the most items accepted (bad_request beyond; kOps also needs at least 1).
  uint32_t max_items = 100000;
};

// Where an op's work runs.
enum class Routing : uint8_t {
  kLocal,      // answered on the reader thread without a shard (hello, ping)
  kKeyed,      // the shard of one key-like field (`route_field`: key, stream)
  kKeys,       // the shards of each key of the op's kKeyArray field (fan-out)
  kEntries,    // the shards of each key of the op's kEntries field (fan-out)
  kAllShards,  // every shard (fan-out)
  kMulti,      // the shards of every key and stream the op names (txn: all or nothing)
};

struct OpSchema;

// An op allowed inside another op's kOps field (the `ops` of a txn): validated like the
// top-level op of the same name, with only the fields listed here.
struct NestedOpSpec {
  std::string_view name;
  std::vector<std::string_view> fields;  // names of fields of the top-level op `name`
};

struct OpSchema {
  std::string_view name;
  Routing routing = Routing::kLocal;
  std::string_view route_field;  // kKeyed: the field whose value is routed
  bool writes = false;
  std::vector<FieldSpec> fields;  // in error-precedence order (ties go to the earlier field)
  std::string_view feature;       // listed by `hello` once registered ("" for none)
  std::vector<NestedOpSpec> nested;
  RequestValidator validate = nullptr;

  // Set by the OpCatalog when the schema is registered: its index there.
  uint16_t id = 0;

  // The field spec named `name`, or nullptr.
  const FieldSpec* Field(std::string_view field_name) const {
    for (const FieldSpec& f : fields) {
      if (f.name == field_name) return &f;
    }
    return nullptr;
  }
  int FieldIndex(std::string_view field_name) const {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].name == field_name) return static_cast<int>(i);
    }
    return -1;
  }
};

// A schema for a row: `route_field` only for Routing::kKeyed.
inline OpSchema MakeSchema(std::string_view name, Routing routing, bool writes,
                           std::vector<FieldSpec> fields, std::string_view feature = "",
                           std::string_view route_field = "") {
  OpSchema s;
  s.name = name;
  s.routing = routing;
  s.route_field = route_field;
  s.writes = writes;
  s.fields = std::move(fields);
  s.feature = feature;
  return s;
}

// Shorthands for rows.
namespace fields {
inline FieldSpec Key(std::string_view name = "key") { return {name, FieldType::kKey, true}; }
inline FieldSpec Value(std::string_view name = "value") { return {name, FieldType::kValue, true}; }
inline FieldSpec Uint(std::string_view name, bool required, uint64_t min = 0,
                      uint64_t max = std::numeric_limits<uint64_t>::max()) {
  FieldSpec f{name, FieldType::kUint, required};
  f.min = min;
  f.max = max;
  return f;
}
inline FieldSpec UintWithDefault(std::string_view name, uint64_t def, uint64_t min, uint64_t max) {
  FieldSpec f = Uint(name, false, min, max);
  f.has_default = true;
  f.default_value = def;
  return f;
}
// The host's routing of the op's key; checked against the engine's (wrong_shard).
inline FieldSpec Shard() { return Uint("shard", false); }
inline FieldSpec Optional(FieldSpec f) {
  f.required = false;
  return f;
}
inline FieldSpec Of(std::string_view name, FieldType type, bool required) {
  return {name, type, required};
}
}  // namespace fields

}  // namespace litestash
