// The ttl family: expire, ttl, persist — a key's expiry, routed by `key`. None of them changes
// the key's version. ttl is read inline by the reader thread when the shard has no pending
// write.
#include "engine/command_registry.h"
#include "engine/read_path.h"

namespace litestash {
namespace {

using fields::Key;
using fields::Shard;
using fields::Uint;

void EncodeTtl(const Request& req, const KeyExpiry& expiry, const Clock& clock,
               FrameEncoder* out) {
  out->BeginOk(req.id, 2);
  out->Key("found");
  out->Bool(expiry.found);
  out->Key("ttl_ms");
  if (expiry.found && expiry.expires_at) {
    out->Uint(static_cast<uint64_t>(*expiry.expires_at - clock.now_ms));
  } else {
    out->Nil();
  }
}

void EncodeUpdated(const Request& req, bool updated, FrameEncoder* out) {
  out->BeginOk(req.id, 1);
  out->Key("updated");
  out->Bool(updated);
}

Status Expire(const Request& req, ShardCall& call, FrameEncoder* out) {
  auto updated = call.store.SetExpiry(call.digest, call.clock.ExpiresAt(*req.Uint("ttl_ms")),
                                      call.clock);
  if (!updated.ok()) return updated.status();
  EncodeUpdated(req, *updated, out);
  return Status::Ok();
}

Status Persist(const Request& req, ShardCall& call, FrameEncoder* out) {
  auto updated = call.store.SetExpiry(call.digest, std::nullopt, call.clock);
  if (!updated.ok()) return updated.status();
  EncodeUpdated(req, *updated, out);
  return Status::Ok();
}

Status Ttl(const Request& req, ShardCall& call, FrameEncoder* out) {
  auto expiry = call.store.Expiry(call.digest, call.clock);
  if (!expiry.ok()) return expiry.status();
  EncodeTtl(req, *expiry, call.clock, out);
  return Status::Ok();
}

bool TtlInline(const Request& req, InlineCall& call, FrameEncoder* out, Status* status) {
  const StoredRecord* row = nullptr;
  if (!call.read_path.Read(req.route_key, *call.digest, call.shard, &row, status)) return false;
  if (!status->ok()) return true;
  KeyExpiry expiry;
  expiry.found = row != nullptr && row->LiveAt(call.clock.now_ms);
  if (expiry.found) expiry.expires_at = row->expires_at;
  EncodeTtl(req, expiry, call.clock, out);
  return true;
}

OpSchema Keyed(std::string_view name, bool writes, std::vector<FieldSpec> fields) {
  return MakeSchema(name, Routing::kKeyed, writes, std::move(fields), "ttl", "key");
}

}  // namespace

Status RegisterTtlFamily(CommandRegistry& r) {
  CommandRow expire{Keyed("expire", true, {Key(), Uint("ttl_ms", true, 1), Shard()})};
  expire.run = Expire;
  CommandRow ttl{Keyed("ttl", false, {Key(), Shard()})};
  ttl.run = Ttl;
  ttl.inline_read = TtlInline;
  CommandRow persist{Keyed("persist", true, {Key(), Shard()})};
  persist.run = Persist;
  for (CommandRow* row : {&expire, &ttl, &persist}) {
    LITESTASH_RETURN_IF_ERROR(r.Add(std::move(*row)));
  }
  return Status::Ok();
}

}  // namespace litestash
