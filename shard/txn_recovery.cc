#include "shard/txn_recovery.h"

#include <spdlog/spdlog.h>

#include <map>

#include "shard/write_ops.h"

namespace litestash {
namespace {

// Whether the write `txn_id` of `owner` may still be running (then it is not ours to touch).
bool Running(const TxnRecoveryEnv& env, uint64_t owner, uint64_t txn_id) {
  return owner == env.self ? env.running_here(txn_id) : env.alive(owner);
}

}  // namespace

Result<bool> ReplayPart(ShardStore& store, const IntentBody& body, const IntentPart& part) {
  if (store.ClockCeiling() >= part.part_version) return false;  // the part is there
  // The part's first version, then its writes with the clock they ran with: the same versions
  // and entry ids as the original run.
  store.SetLastVersion(part.part_version);
  const Clock clock{body.now_ms, body.now_us};
  for (const WriteOp& op : part.ops) {
    auto done = ApplyWriteOp(store, op, clock);
    if (!done.ok()) return done.status();
  }
  return true;
}

Result<std::optional<IntentBody>> ReadIntent(const TxnRecoveryEnv& env, uint32_t coord,
                                             uint64_t txn_id) {
  ShardOptions o = env.options_of(coord);
  o.read_only = true;
  o.recovery = nullptr;
  o.keep_versions.reset();
  o.cache_kib = 256;
  auto opened = ShardStore::Open(o);
  if (!opened.ok()) return opened.status();
  ShardStore& other = *opened.value();
  LITESTASH_RETURN_IF_ERROR(other.PrepareStatements());
  LITESTASH_RETURN_IF_ERROR(other.Begin(false));
  auto intent = other.txns().Intent(txn_id);
  other.Rollback();
  if (!intent.ok()) return intent.status();
  if (!intent.value()) return std::optional<IntentBody>();
  auto body = DecodeIntent(intent.value()->body);
  if (!body.ok()) return body.status();
  return std::optional<IntentBody>(std::move(body).value());
}

Status ResolvePending(ShardStore& store, uint32_t shard, const TxnRecoveryEnv& env) {
  std::vector<PendingTxn> marks;
  LITESTASH_RETURN_IF_ERROR(store.txns().AllPending(&marks));
  for (const PendingTxn& mark : marks) {
    // A write still running in this process, or owned by another live process: it holds (or
    // will take) this shard's lock itself before its commit point; not ours to touch.
    if (Running(env, mark.owner, mark.txn_id)) continue;
    auto intent = ReadIntent(env, mark.coord, mark.txn_id);
    if (!intent.ok()) return intent.status().WithContext("resolving an unfinished transaction");
    if (intent.value()) {
      for (const IntentPart& part : intent.value()->parts) {
        if (part.shard != shard) continue;
        auto replayed = ReplayPart(store, *intent.value(), part);
        if (!replayed.ok()) return replayed.status();
        if (*replayed) {
          spdlog::warn("{}: finished transaction {:x} left by a stopped engine", store.name(),
                       mark.txn_id);
        }
      }
    }
    LITESTASH_RETURN_IF_ERROR(store.txns().DeletePending(mark.txn_id, mark.coord));
  }
  return Status::Ok();
}

void StartupIntents::Publish(std::vector<IntentBody> intents) {
  std::lock_guard<std::mutex> lock(mu_);
  for (IntentBody& body : intents) intents_.push_back(std::move(body));
  ++published_;
  cv_.notify_all();
}

std::vector<std::pair<IntentBody, IntentPart>> StartupIntents::PartsFor(uint32_t shard) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return published_ >= shards_; });
  std::vector<std::pair<IntentBody, IntentPart>> out;
  for (const IntentBody& body : intents_) {
    for (const IntentPart& part : body.parts) {
      if (part.shard == shard) out.emplace_back(body, part);
    }
  }
  return out;
}

namespace {

// The intents in `store` (a coordinator) whose write no longer runs, at most `max`.
Status StaleIntents(ShardStore& store, const TxnRecoveryEnv& env, int max,
                    std::vector<TxnIntent>* out) {
  std::vector<TxnIntent> all;
  LITESTASH_RETURN_IF_ERROR(store.Begin(false));
  Status st = store.txns().Intents(0, max, &all);
  store.Rollback();
  LITESTASH_RETURN_IF_ERROR(st);
  for (TxnIntent& intent : all) {
    // This engine's own intents are forgotten by it once its participants are on disk
    // (engine/txn_services.h); one kept after a late failure goes at its next start.
    if (intent.owner != env.self && !env.alive(intent.owner)) out->push_back(std::move(intent));
  }
  return Status::Ok();
}

// Opens shard `shard` on a connection of its own (read-only or not), statements prepared.
Result<std::unique_ptr<ShardStore>> OpenOther(const TxnRecoveryEnv& env, uint32_t shard,
                                              bool read_only, int busy_timeout_ms) {
  ShardOptions o = env.options_of(shard);
  o.read_only = read_only;
  o.recovery = nullptr;
  o.keep_versions.reset();
  o.cache_kib = 256;
  o.busy_timeout_ms = busy_timeout_ms;
  auto opened = ShardStore::Open(o);
  if (!opened.ok()) return opened.status();
  LITESTASH_RETURN_IF_ERROR(opened.value()->PrepareStatements());
  return opened;
}

}  // namespace

Status StartupRecovery(ShardStore& store, uint32_t shard, const TxnRecoveryEnv& env) {
  if (!env.startup) return Status::Ok();
  std::vector<TxnIntent> stale;
  Status st = StaleIntents(store, env, 1 << 20, &stale);
  std::vector<IntentBody> bodies;
  for (size_t i = 0; st.ok() && i < stale.size(); ++i) {
    auto body = DecodeIntent(stale[i].body);
    if (body.ok()) bodies.push_back(std::move(body).value());
    st = body.status();
  }
  env.startup->Publish(std::move(bodies));  // also on failure: the others must not wait forever
  LITESTASH_RETURN_IF_ERROR(st);
  auto mine = env.startup->PartsFor(shard);
  if (mine.empty()) return Status::Ok();
  LITESTASH_RETURN_IF_ERROR(store.Begin(true));
  int replayed = 0;
  for (const auto& [body, part] : mine) {
    auto done = ReplayPart(store, body, part);
    if (!done.ok()) {
      store.Rollback();
      return done.status().WithContext("finishing a transaction left by a stopped engine");
    }
    replayed += *done ? 1 : 0;
  }
  LITESTASH_RETURN_IF_ERROR(store.Commit());
  if (replayed > 0) {
    spdlog::warn("{}: finished {} transaction part(s) left by stopped engines", store.name(),
                 replayed);
  }
  return Status::Ok();
}

Result<int> CollectIntents(ShardStore& store, uint32_t shard, const TxnRecoveryEnv& env, int max) {
  std::vector<TxnIntent> stale;
  LITESTASH_RETURN_IF_ERROR(StaleIntents(store, env, max, &stale));
  if (stale.empty()) return 0;
  // Participants are opened once per collection; a short busy timeout, so a sweep never waits
  // long behind another writer (the intent is simply looked at again next time).
  constexpr int kBusyMs = 50;
  std::map<uint32_t, std::unique_ptr<ShardStore>> open;
  std::map<uint32_t, bool> synced;
  std::vector<uint64_t> done;
  for (const TxnIntent& intent : stale) {
    auto body = DecodeIntent(intent.body);
    if (!body.ok()) return body.status().WithContext("reading a transaction intent");
    bool needed = false;
    for (const IntentPart& part : body->parts) {
      if (part.shard == shard || needed) continue;
      auto it = open.find(part.shard);
      if (it == open.end()) {
        auto opened = OpenOther(env, part.shard, /*read_only=*/false, kBusyMs);
        if (!opened.ok()) return opened.status();
        it = open.emplace(part.shard, std::move(opened).value()).first;
      }
      ShardStore& other = *it->second;
      // Still marked: that participant replays at its next write transaction; not yet.
      LITESTASH_RETURN_IF_ERROR(other.Begin(false));
      auto pending = other.txns().HasPending(intent.txn_id, shard);
      other.Rollback();
      if (!pending.ok()) return pending.status();
      if (*pending) {
        needed = true;
        continue;
      }
      // Its part (committed or replayed under --sync) must be on disk before the intent goes.
      if (!synced[part.shard]) {
        auto sync = other.SyncCommitted();
        if (!sync.ok()) {
          needed = true;  // busy or failing: next time
          continue;
        }
        synced[part.shard] = true;
      }
    }
    if (!needed) done.push_back(intent.txn_id);
  }
  if (done.empty()) return 0;
  LITESTASH_RETURN_IF_ERROR(store.Begin(true));
  Status st;
  for (uint64_t txn_id : done) {
    st = store.txns().DeleteIntent(txn_id);
    if (!st.ok()) break;
  }
  if (st.ok()) st = store.Commit();
  if (!st.ok()) {
    store.Rollback();
    return st;
  }
  return static_cast<int>(done.size());
}

}  // namespace litestash
