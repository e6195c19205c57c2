#include "engine/txn_services.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace litestash {
namespace {

constexpr int kCounterBits = 23;

// Deletes a finished group's intent in the coordinator's next batch transaction.
class ForgetIntent : public ShardTask {
 public:
  explicit ForgetIntent(uint64_t txn_id) : txn_id_(txn_id) {}
  bool writes() const override { return true; }
  Status Run(ShardStore& store, const Clock&) override {
    return store.txns().DeleteIntent(txn_id_);
  }
  void Done(const Status& status) override {
    // Left in place, the intent is collected later (shard/txn_recovery.h, FinishIntents).
    if (!status.ok()) spdlog::debug("intent {:x} kept: {}", txn_id_, status.ToString());
  }

 private:
  const uint64_t txn_id_;
};

}  // namespace

Result<std::unique_ptr<TxnServices>> TxnServices::Create(const std::string& data_dir, bool durable,
                                                         std::vector<ShardOptions> shard_options) {
  if (data_dir.empty()) return InMemory();
  auto lock = OwnerLock::Acquire(data_dir);
  if (!lock.ok()) return lock.status();
  std::unique_ptr<TxnServices> t(new TxnServices());
  t->lock_ = std::move(lock).value();
  t->services_.owner = t->lock_->id();
  t->services_.marks = true;
  t->services_.durable = durable;
  TxnServices* self = t.get();
  t->services_.finished = [self](uint64_t txn_id, uint32_t coord, bool forget,
                                 std::vector<std::pair<uint32_t, uint64_t>> parts) {
    self->Finished(txn_id, coord, forget, std::move(parts));
  };
  t->durable_.assign(shard_options.size(), 0);
  auto env = std::make_shared<TxnRecoveryEnv>();
  env->self = t->services_.owner;
  const OwnerLock* owners = t->lock_.get();
  env->alive = [owners](uint64_t owner) { return owners->IsAlive(owner); };
  env->running_here = [self](uint64_t txn_id) { return self->Running(txn_id); };
  env->startup = std::make_shared<StartupIntents>(static_cast<uint32_t>(shard_options.size()));
  if (durable) {
    env->durable = [self](uint32_t shard, uint64_t version) { self->ShardDurable(shard, version); };
  }
  env->options_of = [options = std::move(shard_options)](uint32_t shard) {
    ShardOptions o = options.at(shard);
    o.recovery = nullptr;
    return o;
  };
  t->env_ = std::move(env);
  return t;
}

std::unique_ptr<TxnServices> TxnServices::InMemory() {
  std::unique_ptr<TxnServices> t(new TxnServices());
  TxnServices* self = t.get();
  t->services_.finished = [self](uint64_t txn_id, uint32_t coord, bool forget,
                                 std::vector<std::pair<uint32_t, uint64_t>> parts) {
    self->Finished(txn_id, coord, forget, std::move(parts));
  };
  return t;
}

std::shared_ptr<WriteGroup> TxnServices::NewGroup() {
  const uint64_t count = counter_.fetch_add(1, std::memory_order_relaxed) + 1;
  const uint64_t id =
      (services_.owner << kCounterBits) | (count & ((uint64_t{1} << kCounterBits) - 1));
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_.insert(id);
  }
  return std::make_shared<WriteGroup>(id, &services_);
}

bool TxnServices::Running(uint64_t txn_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return running_.count(txn_id) > 0;
}

void TxnServices::Finished(uint64_t txn_id, uint32_t coord, bool forget,
                           std::vector<std::pair<uint32_t, uint64_t>> parts) {
  bool now = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_.erase(txn_id);
    // Every participant holds its part. (Otherwise a participant keeps its mark and replays from
    // the intent at its next write transaction; a dead engine's intent goes through
    // CollectIntents, a live one's stays until this engine's next start.)
    if (!forget || !services_.marks) return;
    if (services_.durable) {
      waiting_.push_back({txn_id, coord, std::move(parts)});
    } else {
      now = true;
    }
  }
  if (now) Forget(txn_id, coord);
}

void TxnServices::ShardDurable(uint32_t shard, uint64_t version) {
  std::vector<std::pair<uint64_t, uint32_t>> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shard >= durable_.size()) return;
    durable_[shard] = std::max(durable_[shard], version);
    size_t kept = 0;
    for (size_t i = 0; i < waiting_.size(); ++i) {
      bool on_disk = true;
      for (const auto& [s, first] : waiting_[i].parts) on_disk = on_disk && durable_[s] >= first;
      if (on_disk) {
        ready.emplace_back(waiting_[i].txn_id, waiting_[i].coord);
      } else {
        if (kept != i) waiting_[kept] = std::move(waiting_[i]);
        ++kept;
      }
    }
    waiting_.resize(kept);
  }
  for (const auto& [txn_id, coord] : ready) Forget(txn_id, coord);
}

void TxnServices::Forget(uint64_t txn_id, uint32_t coord) {
  if (coord < workers_.size()) workers_[coord]->Enqueue(std::make_unique<ForgetIntent>(txn_id));
}

}  // namespace litestash
