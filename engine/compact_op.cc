#include "engine/compact_op.h"

#include "shard/stream_ops.h"

namespace litestash {

// One step of a CompactOp, alone between the shard's batches.
class CompactStep : public ShardTask {
 public:
  explicit CompactStep(std::shared_ptr<CompactOp> op) : op_(std::move(op)) {}
  bool writes() const override { return true; }
  bool transactional() const override { return false; }
  Status Run(ShardStore& store, const Clock& clock) override { return op_->Step(store, clock); }
  void Done(const Status& status) override { op_->StepDone(status); }

 private:
  std::shared_ptr<CompactOp> op_;
};

CompactOp::CompactOp(SharedRequest request, FrameSink* out) : FanOutOp(std::move(request), out) {}

void CompactOp::Launch(const std::vector<ShardWorker*>& workers) {
  workers_ = workers;
  if (parts_.empty()) {
    Finish();
    return;
  }
  QueueStep();
}

void CompactOp::QueueStep() {
  auto self = std::static_pointer_cast<CompactOp>(shared_from_this());
  workers_[parts_[part_].shard]->Enqueue(std::make_unique<CompactStep>(std::move(self)));
}

Status CompactOp::RunPart(size_t, ShardStore&, const Clock&) {
  return Status::Internal("compact runs in steps");  // Launch() never queues plain parts
}

Status CompactOp::Step(ShardStore& store, const Clock& clock) {
  const auto started = std::chrono::steady_clock::now();
  Status st;
  switch (phase_) {
    case Phase::kStart: {
      auto bytes = store.FileBytes();
      if (!bytes.ok()) return bytes.status();
      bytes_before_ = *bytes;
      depth_ = static_cast<uint32_t>(std::min<uint64_t>(
          request().Uint("keep_versions").value_or(store.keep_versions()), kKeepAllVersions));
      history_after_.reset();
      phase_ = Phase::kExpired;
      break;
    }
    case Phase::kExpired: {
      auto n = store.SweepExpired(clock, kRowsPerStep);
      if (!n.ok()) return n.status();
      expired_ += static_cast<uint64_t>(*n);
      if (*n < kRowsPerStep) phase_ = Phase::kHistory;
      break;
    }
    case Phase::kHistory: {
      if (depth_ == kKeepAllVersions) {
        phase_ = Phase::kStreams;
        break;
      }
      std::vector<Digest> keys;
      LITESTASH_RETURN_IF_ERROR(store.Begin(true));
      st = store.history().Keys(history_after_, kKeysPerStep, &keys);
      uint64_t removed = 0;
      for (size_t i = 0; st.ok() && i < keys.size(); ++i) {
        auto n = store.history().Trim(keys[i], depth_);
        if (n.ok()) removed += *n;
        st = n.status();
      }
      if (st.ok()) st = store.Commit();
      if (!st.ok()) {
        store.Rollback();
        return st;
      }
      versions_ += removed;
      if (!keys.empty()) history_after_ = keys.back();
      if (keys.size() < static_cast<size_t>(kKeysPerStep)) phase_ = Phase::kStreams;
      break;
    }
    case Phase::kStreams: {
      auto n = StreamSweepAged(store, clock, kRowsPerStep);
      if (!n.ok()) return n.status();
      entries_ += *n;
      if (*n < static_cast<uint64_t>(kRowsPerStep)) phase_ = Phase::kVacuum;
      break;
    }
    case Phase::kVacuum: {
      auto convert = store.NeedsVacuumConversion();
      if (!convert.ok()) return convert.status();
      if (*convert) {
        LITESTASH_RETURN_IF_ERROR(store.ConvertToIncremental());  // once per old file
        phase_ = Phase::kFinish;
        break;
      }
      LITESTASH_RETURN_IF_ERROR(store.Begin(true));
      auto free_pages = store.IncrementalVacuum(kPagesPerStep);
      st = free_pages.status();
      if (st.ok()) st = store.Commit();
      if (!st.ok()) {
        store.Rollback();
        return st;
      }
      if (*free_pages == 0) phase_ = Phase::kFinish;
      break;
    }
    case Phase::kFinish: {
      LITESTASH_RETURN_IF_ERROR(store.CheckpointPassive());
      auto bytes = store.FileBytes();
      if (!bytes.ok()) return bytes.status();
      if (bytes_before_ > *bytes) reclaimed_ += bytes_before_ - *bytes;
      phase_ = Phase::kDone;
      break;
    }
    case Phase::kDone:
      break;
  }
  ++steps_;
  max_step_ = std::max(max_step_, std::chrono::duration_cast<std::chrono::microseconds>(
                                      std::chrono::steady_clock::now() - started));
  return Status::Ok();
}

void CompactOp::StepDone(const Status& status) {
  if (!status.ok()) {
    Fail(status.WithContext("compacting shard " + std::to_string(parts_[part_].shard)));
    Finish();
    return;
  }
  if (phase_ == Phase::kDone) {
    if (++part_ == parts_.size()) {
      Finish();
      return;
    }
    phase_ = Phase::kStart;
  }
  QueueStep();
}

void CompactOp::Encode(FrameEncoder* out) {
  out->BeginOk(request().id, 6);
  out->Key("expired_removed");
  out->Uint(expired_);
  out->Key("versions_removed");
  out->Uint(versions_);
  out->Key("entries_removed");
  out->Uint(entries_);
  out->Key("bytes_reclaimed");
  out->Uint(reclaimed_);
  out->Key("steps");
  out->Uint(steps_);
  out->Key("max_step_us");
  out->Uint(static_cast<uint64_t>(max_step_.count()));
}

}  // namespace litestash
