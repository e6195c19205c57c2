// The kv family: set, get, delete, exists, versions — single keys, routed by `key`.
//
// get and exists are read inline by the reader thread when the key's shard has no pending
// write (engine/read_path.h); the shard handlers answer them otherwise (and a get of an old
// version, which reads the history table).
//
// Compare-and-set (contract v2 section 4): set and delete with `if_version` first read the
// key's current version (0: absent or expired) in the same transaction, under the shard's write
// lock; when it differs, nothing is written and the answer is `conflict` with the current
// version — a refusal of this request only (ShardCall::refused), not a failure of its batch.
#include "engine/command_registry.h"
#include "engine/read_path.h"

namespace litestash {
namespace {

using fields::Key;
using fields::Shard;
using fields::Uint;
using fields::UintWithDefault;
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

// True if the request's if_version (when given) holds; otherwise sets the refusal.
Result<bool> ConditionHolds(const Request& req, ShardCall& call) {
  const std::optional<uint64_t> want = req.Uint("if_version");
  if (!want) return true;
  auto current = call.store.Get(call.digest, call.clock);
  if (!current.ok()) return current.status();
  const uint64_t now = current.value() ? current.value()->version : 0;
  if (now == *want) return true;
  call.refused =
      Status::Conflict("if_version " + std::to_string(*want) + " does not hold: the key is " +
                           (now == 0 ? std::string("absent") : "at version " + std::to_string(now)),
                       now, std::string(req.route_key));
  return false;
}

Status Set(const Request& req, ShardCall& call, FrameEncoder* out) {
  auto holds = ConditionHolds(req, call);
  if (!holds.ok() || !*holds) return holds.status();
  std::optional<int64_t> expires;
  if (auto ttl = req.Uint("ttl_ms")) expires = call.clock.ExpiresAt(*ttl);
  auto version =
      call.store.Put(call.digest, req.route_key, req.Bytes("value"), expires, call.clock);
  if (!version.ok()) return version.status();
  out->BeginOk(req.id, 1);
  out->Key("version");
  out->Uint(*version);
  return Status::Ok();
}

Status Get(const Request& req, ShardCall& call, FrameEncoder* out) {
  const std::optional<uint64_t> version = req.Uint("version");
  auto found = version ? call.store.GetVersion(call.digest, *version, call.clock)
                       : call.store.Get(call.digest, call.clock);
  if (!found.ok()) return found.status();
  EncodeGet(req, found.value() ? &*found.value() : nullptr, out);
  return Status::Ok();
}

bool GetInline(const Request& req, InlineCall& call, FrameEncoder* out, Status* status) {
  const StoredRecord* row = nullptr;
  if (!call.read_path.Read(req.route_key, *call.digest, call.shard, &row, status)) return false;
  if (!status->ok()) return true;
  const StoredValue* live = row && row->LiveAt(call.clock.now_ms) ? &row->stored : nullptr;
  if (const std::optional<uint64_t> version = req.Uint("version")) {
    // An old version lives in the history table: the shard thread reads it.
    if (live == nullptr || live->version != *version) return false;
  }
  EncodeGet(req, live, out);
  return true;
}

Status Delete(const Request& req, ShardCall& call, FrameEncoder* out) {
  auto holds = ConditionHolds(req, call);
  if (!holds.ok() || !*holds) return holds.status();
  auto deleted = call.store.Delete(call.digest, req.route_key, call.clock);
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

Status Versions(const Request& req, ShardCall& call, FrameEncoder* out) {
  std::vector<VersionInfo> versions;
  bool more = false;
  LITESTASH_RETURN_IF_ERROR(call.store.Versions(call.digest, call.clock,
                                                req.Uint("before").value_or(UINT64_MAX),
                                                req.UintOrDefault("limit"), &versions, &more));
  out->BeginOk(req.id, 3);
  out->Key("versions");
  out->ArrayHeader(static_cast<uint32_t>(versions.size()));
  for (const VersionInfo& v : versions) out->Uint(v.version);
  out->Key("deleted");
  out->ArrayHeader(static_cast<uint32_t>(versions.size()));
  for (const VersionInfo& v : versions) out->Bool(v.deleted);
  out->Key("more");
  out->Bool(more);
  return Status::Ok();
}

OpSchema Keyed(std::string_view name, bool writes, std::vector<FieldSpec> fields) {
  return MakeSchema(name, Routing::kKeyed, writes, std::move(fields), "", "key");
}

}  // namespace

Status RegisterKvFamily(CommandRegistry& r) {
  const FieldSpec if_version = Uint("if_version", false);
  CommandRow set{Keyed("set", true, {Key(), Value(), TtlMs(), if_version, Shard()})};
  set.schema.feature = "cas";
  set.run = Set;
  CommandRow get{Keyed("get", false, {Key(), Uint("version", false), Shard()})};
  get.run = Get;
  get.inline_read = GetInline;
  CommandRow del{Keyed("delete", true, {Key(), if_version, Shard()})};
  del.run = Delete;
  CommandRow exists{Keyed("exists", false, {Key(), Shard()})};
  exists.run = Exists;
  exists.inline_read = ExistsInline;
  CommandRow versions{
      Keyed("versions", false,
            {Key(), UintWithDefault("limit", 100, 1, 10000), Uint("before", false), Shard()})};
  versions.schema.feature = "versions";
  versions.run = Versions;
  for (CommandRow* row : {&set, &get, &del, &exists, &versions}) {
    LITESTASH_RETURN_IF_ERROR(r.Add(std::move(*row)));
  }
  return Status::Ok();
}

}  // namespace litestash
