#include "engine/command_registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "engine/read_path.h"
#include "shard/shard_worker.h"

namespace litestash {

bool InlineCall::Readable(uint32_t s) const {
  return s < workers_.size() && workers_[s]->ready() && workers_[s]->NoPendingWrites() &&
         read_path.Readable(s);
}

bool InlineCall::Readable(uint32_t s, const Digest& digest) const {
  if (s >= workers_.size() || !workers_[s]->ready() || !read_path.Readable(s)) return false;
  return workers_[s]->NoPendingWrites() ||
         (read_path.Watched(s) && workers_[s]->NoPendingWritesTo(digest));
}

Status CommandRegistry::Add(CommandRow row) {
  const std::string op(row.schema.name);
  const Routing routing = row.schema.routing;
  const bool local = routing == Routing::kLocal;
  const bool keyed = routing == Routing::kKeyed;
  const bool multi = routing == Routing::kMulti;
  if (local != (row.local != nullptr) || keyed != (row.run != nullptr) ||
      multi != (row.multi_write != nullptr) ||
      (!local && !keyed && !multi) != (row.fan_out != nullptr)) {
    return Status::Internal("op '" + op + "': its handlers do not match its routing");
  }
  if (row.all_or_nothing && (row.fan_out == nullptr || !row.schema.writes)) {
    return Status::Internal("op '" + op + "' is all or nothing but no fan-out write");
  }
  if (row.inline_read != nullptr && row.schema.writes) {
    return Status::Internal("op '" + op + "' writes but has an inline read handler");
  }
  if (row.may_park && (!keyed || row.schema.writes)) {
    return Status::Internal("op '" + op + "' may park but is not a keyed read");
  }
  auto schema = catalog_.Add(row.schema);
  if (!schema.ok()) return schema.status();
  row.schema = **schema;  // with its id
  storage_.push_back(std::move(row));
  rows_.push_back(&storage_.back());
  const std::string_view feature = storage_.back().schema.feature;
  if (!feature.empty() &&
      std::find(features_.begin(), features_.end(), feature) == features_.end()) {
    features_.push_back(feature);
  }
  return Status::Ok();
}

Status RegisterStandardFamilies(CommandRegistry& registry) {
  for (auto family :
       {RegisterAdminFamily, RegisterKvFamily, RegisterTtlFamily, RegisterMultiKeyFamily,
        RegisterStreamFamily, RegisterTxnFamily, RegisterMaintenanceFamily}) {
    LITESTASH_RETURN_IF_ERROR(family(registry));
  }
  return Status::Ok();
}

const CommandRegistry& StandardRegistry() {
  static const CommandRegistry* registry = [] {
    auto* r = new CommandRegistry();
    if (Status st = RegisterStandardFamilies(*r); !st.ok()) {
      std::fprintf(stderr, "litestash-engine: bad command registry: %s\n", st.ToString().c_str());
      std::abort();
    }
    return r;
  }();
  return *registry;
}

}  // namespace litestash
