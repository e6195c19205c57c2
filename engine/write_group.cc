#include "engine/write_group.h"

#include <algorithm>
#include <map>

namespace litestash {

void MultiWrite::Answer(const Status& outcome) {
  if (!outcome.ok()) {
    out_->Send(EncodeError(request_->id, outcome));
    return;
  }
  FrameEncoder answer;
  Encode(&answer);
  out_->Send(answer.Finish());
}

namespace {

// A fan-out write whose parts run inside a group.
class FanOutWrite : public MultiWrite {
 public:
  FanOutWrite(std::shared_ptr<FanOutOp> op, SharedRequest request, FrameSink* out)
      : MultiWrite(std::move(request), out), op_(std::move(op)) {
    for (size_t i = 0; i < op_->parts().size(); ++i) index_.emplace(op_->parts()[i].shard, i);
  }
  std::set<uint32_t> Shards() const override {
    std::set<uint32_t> out;
    for (const auto& [shard, index] : index_) out.insert(shard);
    return out;
  }
  Status RunPart(uint32_t shard, ShardStore& store, const Clock& clock) override {
    return op_->RunPart(index_.at(shard), store, clock);
  }
  void Encode(FrameEncoder* out) override { op_->Encode(out); }

 private:
  std::shared_ptr<FanOutOp> op_;
  std::map<uint32_t, size_t> index_;  // shard -> part
};

}  // namespace

std::shared_ptr<MultiWrite> MultiWriteOf(std::shared_ptr<FanOutOp> op, SharedRequest request,
                                         FrameSink* out) {
  return std::make_shared<FanOutWrite>(std::move(op), std::move(request), out);
}

// The group's part on one shard: runs alone (not inside the worker's batch transaction).
class GroupPart : public ShardTask {
 public:
  GroupPart(std::shared_ptr<WriteGroup> group, uint32_t shard)
      : group_(std::move(group)), shard_(shard) {}
  bool writes() const override { return true; }
  bool transactional() const override { return false; }
  Status Run(ShardStore& store, const Clock& clock) override {
    return group_->RunPart(shard_, store, clock);
  }
  void Done(const Status& status) override { group_->PartDone(status); }

 private:
  std::shared_ptr<WriteGroup> group_;
  uint32_t shard_;
};

bool WriteGroup::TryAdd(std::shared_ptr<MultiWrite> write, std::vector<uint32_t>* fresh) {
  std::lock_guard<std::mutex> lock(mu_);
  if (sealed_) return false;  // a part has started: the group takes no more writes
  fresh->clear();
  for (uint32_t s : write->Shards()) {
    if (std::find(shards_.begin(), shards_.end(), s) == shards_.end()) {
      shards_.push_back(s);
      fresh->push_back(s);
    }
  }
  writes_.push_back(std::move(write));
  return true;
}

void WriteGroup::Seal() {
  std::lock_guard<std::mutex> lock(mu_);
  SealLocked();
}

void WriteGroup::SealLocked() {
  if (sealed_) return;
  std::sort(shards_.begin(), shards_.end());
  locked_.assign(shards_.size(), false);
  locked_cv_.clear();
  for (size_t i = 0; i < shards_.size(); ++i) {
    locked_cv_.push_back(std::make_unique<std::condition_variable>());
  }
  results_.assign(shards_.size(), {});
  ops_.assign(shards_.size(), {});
  part_versions_.assign(shards_.size(), 0);
  sealed_ = true;
}

std::unique_ptr<ShardTask> WriteGroup::MakePart(uint32_t shard) {
  return std::make_unique<GroupPart>(shared_from_this(), shard);
}

size_t WriteGroup::IndexOf(uint32_t shard) const {
  return static_cast<size_t>(std::lower_bound(shards_.begin(), shards_.end(), shard) -
                             shards_.begin());
}

void WriteGroup::WaitLocked(size_t index) {
  std::unique_lock<std::mutex> lock(mu_);
  locked_cv_[index]->wait(lock, [&] { return locked_[index]; });
}

void WriteGroup::MarkLocked(size_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  locked_[index] = true;
  locked_cv_[index]->notify_one();  // only the next part waits for this one
}

bool WriteGroup::Arrive(int round, size_t index, const std::vector<Status>& results,
                        const std::vector<std::vector<WriteOp>>& ops, uint64_t part_version,
                        bool busy) {
  std::unique_lock<std::mutex> lock(mu_);
  results_[index] = results;
  ops_[index] = ops;
  part_versions_[index] = part_version;
  busy_ = busy_ || busy;
  if (++arrived_ == shards_.size()) {
    // The last part decides for all: another round, or the outcome of each write.
    arrived_ = 0;
    if (busy_ && round == 0) {
      busy_ = false;
      retry_ = true;
    } else {
      Decision d;
      d.refused.assign(writes_.size(), false);
      for (const auto& part : results_) {
        for (size_t w = 0; w < part.size(); ++w) {
          const Status& st = part[w];
          if (st.ok()) continue;
          if (st.code() == StatusCode::kConflict) {
            d.refused[w] = true;
          } else if (!d.failed) {
            d.failed = true;
            d.error = st;
          }
        }
      }
      decision_ = std::move(d);
    }
    rounds_decided_ = round + 1;
    cv_.notify_all();
  } else {
    cv_.wait(lock, [&] { return rounds_decided_ > round; });
  }
  return round == 0 && retry_;
}

WriteGroup::Decision WriteGroup::WaitDecision() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return decision_.has_value(); });
  return *decision_;
}

void WriteGroup::CoordinatorCommitted(const Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  coordinator_ = status;
  cv_.notify_all();
}

Status WriteGroup::WaitCoordinator() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return coordinator_.has_value(); });
  return *coordinator_;
}

IntentBody WriteGroup::IntentOf(const Decision& decision, const Clock& clock) {
  IntentBody body;
  body.txn_id = txn_id_;
  body.now_ms = clock.now_ms;
  body.now_us = clock.now_us;
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t s = 0; s < shards_.size(); ++s) {
    IntentPart part;
    part.shard = shards_[s];
    part.part_version = part_versions_[s];
    for (size_t w = 0; w < writes_.size(); ++w) {
      if (decision.refused[w]) continue;
      for (const WriteOp& op : ops_[s][w]) part.ops.push_back(op);
    }
    body.parts.push_back(std::move(part));
  }
  return body;
}

Status WriteGroup::RunPart(uint32_t shard, ShardStore& store, const Clock& clock) {
  {
    // The first part to start closes the group: the reader then opens a new one. No part takes
    // a lock before every part has started: a part holding a shard's write lock while its
    // sibling still waits in another shard's queue (behind an earlier group waiting for a lock
    // another engine holds) would close a cycle across engines. Started parts wait only for
    // write locks (none in round 0, ascending in round 1) and for each other.
    std::unique_lock<std::mutex> lock(mu_);
    SealLocked();
    if (++started_ == shards_.size()) cv_.notify_all();
    cv_.wait(lock, [this] { return started_ == shards_.size(); });
  }
  const size_t index = IndexOf(shard);
  // The coordinator rotates over the group's shards, so no shard carries every intent.
  const size_t coord_index = CoordIndex();
  const uint32_t coord = shards_[coord_index];
  const bool coordinator = index == coord_index;
  const bool many = shards_.size() > 1;
  const bool marks = services_->marks && many;
  const bool durable = services_->durable && many;

  // A durable group fsyncs one commit: the coordinator's commit point. The marks serve other
  // engines while this one might die (a process's death loses nothing it wrote), and a power
  // loss is covered by the intent: start-up recovery replays what a participant lost
  // (shard/txn_recovery.h), and the intent stays until every participant is on disk.
  Status st;
  if (coordinator && durable) st = store.SetDurableCommits(true);
  bool marked = coordinator || !marks;
  std::vector<Status> results;
  std::vector<std::vector<WriteOp>> ops;
  uint64_t part_version = 0;
  // Round 0 takes every lock without waiting, all parts at once; if any lock is held elsewhere
  // (another engine), every part lets go and round 1 takes them in ascending shard order,
  // waiting, so engines never deadlock.
  for (int round = 0;; ++round) {
    const bool wait = round > 0;
    bool busy = false;
    auto take = [&](Status got) {
      if (!wait && got.code() == StatusCode::kBusy) {
        busy = true;
        return Status::Ok();
      }
      return got;
    };
    // 1. The pending mark, committed before this part's lock is taken.
    if (st.ok() && !marked) {
      if (wait && index > 0) WaitLocked(index - 1);
      st = take(store.Begin(true, wait));
      if (st.ok() && !busy) {
        st = store.txns().AddPending({txn_id_, coord, services_->owner});
        if (st.ok()) st = store.Commit();
        if (!st.ok()) store.Rollback();
        marked = st.ok();
      }
    } else if (wait && index > 0) {
      WaitLocked(index - 1);
    }
    // 2. This part's lock.
    if (st.ok() && !busy) st = take(store.Begin(true, wait));
    if (wait) MarkLocked(index);
    // 3. The part: its first version, then every write's part here, in request order.
    results.assign(writes_.size(), Status::Ok());
    ops.assign(writes_.size(), {});
    part_version = 0;
    if (st.ok() && !busy) {
      part_version = store.NextPartVersion(clock);
      for (size_t w = 0; w < writes_.size() && st.ok(); ++w) {
        if (!writes_[w]->Shards().count(shard)) continue;
        if (writes_[w]->conditional()) st = store.Savepoint("w");
        if (!st.ok()) break;
        store.RecordWrites(marks ? &ops[w] : nullptr);
        results[w] = writes_[w]->RunPart(shard, store, clock);
        store.RecordWrites(nullptr);
        if (!results[w].ok() && results[w].code() != StatusCode::kConflict) st = results[w];
      }
    }
    if (!st.ok()) {
      for (auto& r : results) r = st;  // the whole part failed
    }
    if (!Arrive(round, index, results, ops, part_version, busy)) break;
    store.Rollback();  // a lock was busy somewhere: again, in order
  }
  // 4. The decision.
  const Decision decision = WaitDecision();
  auto abandon = [&](const Status& why) {
    store.Rollback();
    if (durable && coordinator) (void)store.SetDurableCommits(false);
    if (coordinator) CoordinatorCommitted(why);
    return why;
  };
  if (decision.failed) return abandon(decision.error);
  for (size_t w = 0; w < writes_.size(); ++w) {
    if (!writes_[w]->conditional() || !writes_[w]->Shards().count(shard)) continue;
    st = decision.refused[w] ? store.RollbackToSavepoint("w") : store.ReleaseSavepoint("w");
    if (!st.ok()) return abandon(st);
  }
  // 5. The coordinator's commit, with the intent, is the commit point; the others follow it.
  if (coordinator) {
    bool any = false;
    for (size_t w = 0; w < writes_.size(); ++w) any = any || !decision.refused[w];
    if (marks && any) {
      st = store.txns().AddIntent(
          {txn_id_, services_->owner, clock.now_ms, EncodeIntent(IntentOf(decision, clock))});
      if (!st.ok()) return abandon(st);
      std::lock_guard<std::mutex> lock(mu_);
      intent_written_ = true;
    }
    st = store.Commit();
    if (!st.ok()) return abandon(st);
    if (durable) (void)store.SetDurableCommits(false);  // the next batches: the --sync mode
    CoordinatorCommitted(Status::Ok());
    return Status::Ok();
  }
  Status committed = WaitCoordinator();
  if (!committed.ok()) return abandon(committed);
  if (marks) st = store.txns().DeletePending(txn_id_, coord);
  if (st.ok()) st = store.Commit();
  if (st.ok() && durable) store.NoteUnsynced();  // its sweep syncs it; then the intent goes
  if (!st.ok()) {
    // Past the commit point: this shard's part is replayed from the intent by the next writer
    // of the shard (its pending mark stays, and the group is no longer running here).
    store.Rollback();
  }
  return st;
}

void WriteGroup::PartDone(const Status& status) {
  bool last = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status.ok() && late_failure_.ok() && coordinator_ && coordinator_->ok()) {
      late_failure_ = status;  // a participant could not commit after the commit point
    }
    last = ++done_ == shards_.size();
  }
  if (!last) return;
  // Every part committed (or failed): answer each write.
  const Decision& d = *decision_;
  std::vector<Status> outcome(writes_.size());
  for (size_t w = 0; w < writes_.size(); ++w) {
    if (d.failed) {
      outcome[w] = d.error;
    } else if (d.refused[w]) {
      for (const auto& shard : results_) {
        if (w < shard.size() && shard[w].code() == StatusCode::kConflict) {
          outcome[w] = shard[w];
          break;
        }
      }
    } else if (!coordinator_ || !coordinator_->ok()) {
      outcome[w] = coordinator_ ? *coordinator_ : Status::Internal("no commit decision");
    } else if (!late_failure_.ok()) {
      // Not acknowledged: a shard lacks its part until the next write there replays it.
      outcome[w] = late_failure_.WithContext(
          "committed on some shards only; the others get their part at their next write");
    }
  }
  for (size_t w = 0; w < writes_.size(); ++w) writes_[w]->Answer(outcome[w]);
  const bool forget = intent_written_ && coordinator_ && coordinator_->ok() && late_failure_.ok();
  if (services_->finished) {
    std::vector<std::pair<uint32_t, uint64_t>> parts;
    const size_t c = CoordIndex();
    for (size_t s = 0; s < shards_.size(); ++s) {
      if (s != c) parts.emplace_back(shards_[s], part_versions_[s]);
    }
    services_->finished(txn_id_, shards_[c], forget, std::move(parts));
  }
}

}  // namespace litestash
