#include "protocol/op_catalog.h"

namespace litestash {

Result<const OpSchema*> OpCatalog::Add(OpSchema schema) {
  const std::string op(schema.name);
  if (schema.name.empty() || by_name_.count(schema.name) > 0) {
    return Status::Internal("op '" + op + "' is empty or registered twice");
  }
  std::set<std::string_view> names;
  std::set<FieldType> lists;
  for (const FieldSpec& f : schema.fields) {
    if (f.name == "id" || f.name == "op" || !names.insert(f.name).second) {
      return Status::Internal("op '" + op + "': field '" + std::string(f.name) +
                              "' is reserved or listed twice");
    }
    if (IsListType(f.type) && !lists.insert(f.type).second) {
      return Status::Internal("op '" + op + "' has two list fields of one type");
    }
    if (f.type == FieldType::kUint && f.has_default &&
        (f.default_value < f.min || f.default_value > f.max)) {
      return Status::Internal("op '" + op + "': default of '" + std::string(f.name) +
                              "' is out of its range");
    }
  }
  if (schema.routing == Routing::kKeyed) {
    const FieldSpec* routed = schema.Field(schema.route_field);
    if (routed == nullptr || routed->type != FieldType::kKey || !routed->required) {
      return Status::Internal("op '" + op + "' routes by a field it does not require as a key");
    }
  }
  if (schema.routing == Routing::kKeys && !lists.count(FieldType::kKeyArray)) {
    return Status::Internal("op '" + op + "' fans out by keys but has no key array");
  }
  if (schema.routing == Routing::kEntries && !lists.count(FieldType::kEntries)) {
    return Status::Internal("op '" + op + "' fans out by entries but has none");
  }
  if (lists.count(FieldType::kOps) != (schema.nested.empty() ? 0u : 1u)) {
    return Status::Internal("op '" + op + "': nested ops and an ops field go together");
  }
  schema.id = static_cast<uint16_t>(ops_.size());
  storage_.push_back(std::move(schema));
  const OpSchema* added = &storage_.back();
  for (const NestedOpSpec& n : added->nested) {
    const OpSchema* top = Find(n.name);
    if (top == nullptr) {
      return Status::Internal("op '" + op + "' nests unknown op '" + std::string(n.name) + "'");
    }
    OpSchema nested;
    nested.name = top->name;
    nested.routing = top->routing;
    nested.route_field = top->route_field;
    nested.writes = top->writes;
    nested.feature = "";
    nested.id = top->id;  // a nested op is run as the top-level op of its name
    for (const FieldSpec& f : top->fields) {  // the top-level order: same precedence
      for (std::string_view allowed : n.fields) {
        if (f.name == allowed) nested.fields.push_back(f);
      }
    }
    if (nested.fields.size() != n.fields.size()) {
      return Status::Internal("op '" + op + "' nests '" + std::string(n.name) +
                              "' with a field that op does not have");
    }
    nested_storage_.push_back(std::move(nested));
    nested_[{added->id, n.name}] = &nested_storage_.back();
  }
  ops_.push_back(added);
  by_name_[added->name] = added;
  for (const FieldSpec& f : added->fields) field_names_.emplace(f.name);
  return added;
}

const OpSchema* OpCatalog::Find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

const OpSchema* OpCatalog::Nested(const OpSchema& parent, std::string_view name) const {
  auto it = nested_.find({parent.id, name});
  return it == nested_.end() ? nullptr : it->second;
}

}  // namespace litestash
