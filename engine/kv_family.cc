// The kv family: set, get, delete, exists — single keys, routed by `key`.
//
// get and exists are read inline by the reader thread when the key's shard has no pending
// write (engine/read_path.h); the shard handlers answer them otherwise.
#include "engine/command_registry.h"
#include "engine/read_path.h"

namespace litestash {
namespace {

using fields::Key;
using fields::Shard;
using fields::Uint;
using fields::Value;

FieldSpec TtlMs() { return Uint("ttl_ms", false, 1); }

void EncodeGet(const Request& req, const StoredValue* stored, FrameEncoder* out) {
  out->BeginOk(req.id, stored ? 3 : 1);
  out->Key("found");
  out->Bool(stored != nullptr);
  if (stored) {
    out->Key("value");
    out->Raw(stored->value);
    out->Key("version");
    out->Uint(stored->version);
  }
}

void EncodeExists(const Request& req, bool exists, FrameEncoder* out) {
  out->BeginOk(req.id, 1);
  out->Key("exists");
  out->Bool(exists);
}

Status Set(const Request& req, ShardCall& call, FrameEncoder* out) {
  std::optional<int64_t> expires;
  if (auto ttl = req.Uint("ttl_ms")) expires = call.clock.ExpiresAt(*ttl);
  auto version = call.store.Put(call.digest, req.route_key, req.Bytes("value"), expires, call.clock);
  if (!version.ok()) return version.status();
  out->BeginOk(req.id, 1);
  out->Key("version");
  out->Uint(*version);
  return Status::Ok();
}

Status Get(const Request& req, ShardCall& call, FrameEncoder* out) {
  auto found = call.store.Get(call.digest, call.clock);
  if (!found.ok()) return found.status();
  EncodeGet(req, found.value() ? &*found.value() : nullptr, out);
  return Status::Ok();
}

bool GetInline(const Request& req, InlineCall& call, FrameEncoder* out, Status* status) {
  const StoredRecord* row = nullptr;
  if (!call.read_path.Read(req.route_key, *call.digest, call.shard, &row, status)) return false;
  if (status->ok()) EncodeGet(req, row && row->LiveAt(call.clock.now_ms) ? &row->stored : nullptr, out);
  return true;
}

Status Delete(const Request& req, ShardCall& call, FrameEncoder* out) {
  auto deleted = call.store.Delete(call.digest, call.clock);
  if (!deleted.ok()) return deleted.status();
  out->BeginOk(req.id, 1);
  out->Key("deleted");
  out->Bool(*deleted);
  return Status::Ok();
}

Status Exists(const Request& req, ShardCall& call, FrameEncoder* out) {
  auto expiry = call.store.Expiry(call.digest, call.clock);
  if (!expiry.ok()) return expiry.status();
  EncodeExists(req, expiry->found, out);
  return Status::Ok();
}

bool ExistsInline(const Request& req, InlineCall& call, FrameEncoder* out, Status* status) {
  const StoredRecord* row = nullptr;
  if (!call.read_path.Read(req.route_key, *call.digest, call.shard, &row, status)) return false;
  if (status->ok()) EncodeExists(req, row && row->LiveAt(call.clock.now_ms), out);
  return true;
}

OpSchema Keyed(std::string_view name, bool writes, std::vector<FieldSpec> fields) {
  return MakeSchema(name, Routing::kKeyed, writes, std::move(fields), "", "key");
}

}  // namespace

Status RegisterKvFamily(CommandRegistry& r) {
  CommandRow set{Keyed("set", true, {Key(), Value(), TtlMs(), Shard()})};
  set.run = Set;
  CommandRow get{Keyed("get", false, {Key(), Shard()})};
  get.run = Get;
  get.inline_read = GetInline;
  CommandRow del{Keyed("delete", true, {Key(), Shard()})};
  del.run = Delete;
  CommandRow exists{Keyed("exists", false, {Key(), Shard()})};
  exists.run = Exists;
  exists.inline_read = ExistsInline;
  for (CommandRow* row : {&set, &get, &del, &exists}) {
    LITESTASH_RETURN_IF_ERROR(r.Add(std::move(*row)));
  }
  return Status::Ok();
}

}  // namespace litestash
