#include "engine/keyed_ops.h"

#include <limits>

namespace litestash {
namespace {

Status HandleSet(const Request& req, const Digest& digest, ShardStore& store, const Clock& clock,
                 ResponseEncoder* out) {
  std::optional<int64_t> expires;
  if (req.ttl_ms) expires = ExpiresAt(clock, *req.ttl_ms);
  auto version = store.Put(digest, req.key, req.value, expires, clock);
  if (!version.ok()) return version.status();
  out->BeginOk(req.id, 1);
  out->Key("version");
  out->Uint(*version);
  return Status::Ok();
}

Status HandleGet(const Request& req, const Digest& digest, ShardStore& store, const Clock& clock,
                 ResponseEncoder* out) {
  auto found = store.Get(digest, clock);
  if (!found.ok()) return found.status();
  EncodeGetAnswer(req, found.value() ? &*found.value() : nullptr, out);
  return Status::Ok();
}

Status HandleDelete(const Request& req, const Digest& digest, ShardStore& store, const Clock& clock,
                    ResponseEncoder* out) {
  auto deleted = store.Delete(digest, clock);
  if (!deleted.ok()) return deleted.status();
  out->BeginOk(req.id, 1);
  out->Key("deleted");
  out->Bool(*deleted);
  return Status::Ok();
}

Status HandleExists(const Request& req, const Digest& digest, ShardStore& store, const Clock& clock,
                    ResponseEncoder* out) {
  auto expiry = store.Expiry(digest, clock);
  if (!expiry.ok()) return expiry.status();
  EncodeExistsAnswer(req, *expiry, out);
  return Status::Ok();
}

Status HandleExpire(const Request& req, const Digest& digest, ShardStore& store, const Clock& clock,
                    ResponseEncoder* out) {
  auto updated = store.SetExpiry(digest, ExpiresAt(clock, *req.ttl_ms), clock);
  if (!updated.ok()) return updated.status();
  out->BeginOk(req.id, 1);
  out->Key("updated");
  out->Bool(*updated);
  return Status::Ok();
}

Status HandlePersist(const Request& req, const Digest& digest, ShardStore& store,
                     const Clock& clock, ResponseEncoder* out) {
  auto updated = store.SetExpiry(digest, std::nullopt, clock);
  if (!updated.ok()) return updated.status();
  out->BeginOk(req.id, 1);
  out->Key("updated");
  out->Bool(*updated);
  return Status::Ok();
}

Status HandleTtl(const Request& req, const Digest& digest, ShardStore& store, const Clock& clock,
                 ResponseEncoder* out) {
  auto expiry = store.Expiry(digest, clock);
  if (!expiry.ok()) return expiry.status();
  EncodeTtlAnswer(req, *expiry, clock, out);
  return Status::Ok();
}

}  // namespace

KeyedHandler KeyedHandlerFor(OpCode op) {
  switch (op) {
    case OpCode::kSet:
      return HandleSet;
    case OpCode::kGet:
      return HandleGet;
    case OpCode::kDelete:
      return HandleDelete;
    case OpCode::kExists:
      return HandleExists;
    case OpCode::kExpire:
      return HandleExpire;
    case OpCode::kTtl:
      return HandleTtl;
    case OpCode::kPersist:
      return HandlePersist;
    default:
      return nullptr;
  }
}

void EncodeGetAnswer(const Request& req, const StoredValue* stored, ResponseEncoder* out) {
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

void EncodeExistsAnswer(const Request& req, const KeyExpiry& expiry, ResponseEncoder* out) {
  out->BeginOk(req.id, 1);
  out->Key("exists");
  out->Bool(expiry.found);
}

void EncodeTtlAnswer(const Request& req, const KeyExpiry& expiry, const Clock& clock,
                     ResponseEncoder* out) {
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

int64_t ExpiresAt(const Clock& clock, uint64_t ttl_ms) {
  const uint64_t room = static_cast<uint64_t>(std::numeric_limits<int64_t>::max() - clock.now_ms);
  return ttl_ms >= room ? std::numeric_limits<int64_t>::max()
                        : clock.now_ms + static_cast<int64_t>(ttl_ms);
}

Status KeyedTask::Run(ShardStore& store, const Clock& clock) {
  answer_.Reset();
  return handler_(*request_, digest_, store, clock, &answer_);
}

void KeyedTask::Done(const Status& status) {
  if (pending_ != nullptr && writes()) pending_->Finish(shard_);
  out_->Send(status.ok() ? answer_.Finish() : EncodeError(request_->id, status));
}

}  // namespace litestash
