// Request: one decoded and validated request.
//
// A Request owns its frame's bytes (`frame`); every string_view below points into them, so a
// Request is created on the heap by the decoder and never moved or copied afterwards (moving a
// short std::string would move its bytes and leave the views dangling). A nested request (one
// of a txn's `ops`) owns no bytes: its views point into its parent's frame, and it lives as
// long as the parent. Once decoded a request is immutable and may be read from any thread.
//
// Fields are reached by name through the op's schema (OpSchema::fields): scalars are stored in
// one slot per schema field; list-valued fields in one list per list type (a schema has at most
// one field of each). Only fields the schema declares can be present, and every present field
// was checked against its spec, so accessors need no validation. Asking for a name the schema
// does not declare is a programming error (asserted in debug builds; absent otherwise).
#pragma once

#include <array>
#include <cassert>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/op_schema.h"

namespace litestash {

// Items of one array field (keys of mget/mdelete, entries of mset, ...). Each costs the engine
// far more than its bytes in the frame (a 64-byte digest, routing), so the count is bounded,
// not just the frame size.
inline constexpr uint32_t kMaxItemsPerRequest = 100000;
inline constexpr size_t kMaxFieldsPerOp = 12;

struct Request;
using RequestPtr = std::unique_ptr<Request>;

struct Request {
  Request() = default;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  // One scalar field: present or not; a uint, or the bytes of a str (key, text, path) or of a
  // raw value.
  struct Slot {
    bool present = false;
    uint64_t u = 0;
    std::string_view bytes;
  };

  std::string frame;  // the body bytes (empty for a nested request); all views point here

  uint64_t id = 0;
  const OpSchema* schema = nullptr;
  std::string_view route_key;    // kKeyed: the routed field's bytes (a key or a stream name)
  std::optional<uint64_t> shard;  // the host's routing of route_key, if sent

  std::array<Slot, kMaxFieldsPerOp> slots;  // by index in schema->fields
  std::vector<std::string_view> keys;        // the kKeyArray field
  std::vector<std::pair<std::string_view, std::string_view>> entries;  // kEntries: key, raw value
  std::vector<uint64_t> uints;                                         // the kUintArray field
  std::vector<std::pair<std::string_view, uint64_t>> checks;           // kChecks: key, version
  std::vector<RequestPtr> ops;                                         // kOps: nested requests

  std::string_view op_name() const { return schema->name; }

  bool Has(std::string_view name) const {
    const Slot* s = SlotOf(name);
    return s != nullptr && s->present;
  }
  // A uint field; nullopt when absent (its default is not applied).
  std::optional<uint64_t> Uint(std::string_view name) const {
    const Slot* s = SlotOf(name);
    if (s == nullptr || !s->present) return std::nullopt;
    return s->u;
  }
  // A uint field, or its schema default when absent.
  uint64_t UintOrDefault(std::string_view name) const {
    const int i = schema->FieldIndex(name);
    assert(i >= 0 && schema->fields[i].has_default);
    if (i < 0) return 0;
    return slots[i].present ? slots[i].u : schema->fields[i].default_value;
  }
  // The bytes of a str field (key, text, path) or the raw bytes of a value; empty if absent.
  std::string_view Bytes(std::string_view name) const {
    const Slot* s = SlotOf(name);
    return s != nullptr && s->present ? s->bytes : std::string_view();
  }
  std::optional<std::string_view> OptionalBytes(std::string_view name) const {
    const Slot* s = SlotOf(name);
    if (s == nullptr || !s->present) return std::nullopt;
    return s->bytes;
  }

 private:
  const Slot* SlotOf(std::string_view name) const {
    const int i = schema->FieldIndex(name);
    assert(i >= 0 && "field not declared by the op's schema");
    return i < 0 ? nullptr : &slots[i];
  }
};

}  // namespace litestash
