// OpCatalog: every op the decoder accepts, looked up by name.
//
// Built once at start-up (engine/command_registry.h adds one schema per registered op) and
// read-only afterwards, so it may be shared between threads. It also derives what the decoder
// needs beyond single schemas: the set of every field name any op takes (to tell "unknown
// field" from "field this op does not take"), and, for each op with a kOps field, the schema
// of every nested op it allows (the top-level op's fields narrowed to the listed ones).
//
// Add() checks a schema is well formed (unique op and field names, at most one list field per
// list type, a routed field that exists, nested ops that exist) and returns the problem as a
// Status; the registry treats one as a programming error.
#pragma once

#include <deque>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "protocol/op_schema.h"

namespace litestash {

class OpCatalog {
 public:
  OpCatalog() = default;
  OpCatalog(const OpCatalog&) = delete;
  OpCatalog& operator=(const OpCatalog&) = delete;

  // Registers `schema` (its id is set to its index). Nested ops must name ops added before.
  Result<const OpSchema*> Add(OpSchema schema);

  const OpSchema* Find(std::string_view name) const;
  const OpSchema& At(uint16_t id) const { return *ops_[id]; }
  size_t size() const { return ops_.size(); }
  bool IsKnownField(std::string_view name) const { return field_names_.count(name) > 0; }
  // The schema of nested op `name` inside `parent`'s kOps field, or nullptr if not allowed.
  const OpSchema* Nested(const OpSchema& parent, std::string_view name) const;

 private:
  std::deque<OpSchema> storage_;  // stable addresses
  std::deque<OpSchema> nested_storage_;
  std::vector<const OpSchema*> ops_;  // by id
  // Looked up for every request (hash tables: a tree of strings cost ~650 instructions a `get`).
  std::unordered_map<std::string_view, const OpSchema*> by_name_;
  std::map<std::pair<uint16_t, std::string_view>, const OpSchema*> nested_;
  std::unordered_set<std::string_view> field_names_;  // views of names in storage_
};

}  // namespace litestash
