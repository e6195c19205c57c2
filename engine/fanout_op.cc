#include "engine/fanout_op.h"

namespace litestash {

// One part of a FanOutOp, queued on one shard.
class FanOutPart : public ShardTask {
 public:
  FanOutPart(std::shared_ptr<FanOutOp> op, size_t part) : op_(std::move(op)), part_(part) {}
  bool writes() const override { return op_->request().schema->writes; }
  bool transactional() const override { return op_->transactional(); }
  Status Run(ShardStore& store, const Clock& clock) override {
    return op_->RunPart(part_, store, clock);
  }
  void Done(const Status& status) override { op_->PartDone(status); }

 private:
  std::shared_ptr<FanOutOp> op_;
  size_t part_;
};

void FanOutOp::SetParts(std::vector<Part> parts, std::vector<Digest> digests) {
  parts_ = std::move(parts);
  digests_ = std::move(digests);
  SizeResults();
}

void FanOutOp::Launch(const std::vector<ShardWorker*>& workers) {
  if (parts_.empty()) {
    Finish();
    return;
  }
  pending_.store(parts_.size(), std::memory_order_relaxed);
  for (size_t i = 0; i < parts_.size(); ++i) {
    workers[parts_[i].shard]->Enqueue(std::make_unique<FanOutPart>(shared_from_this(), i));
  }
}

void FanOutOp::Fail(const Status& status) {
  if (status.ok()) return;
  std::lock_guard<std::mutex> lock(error_mu_);
  if (first_error_.ok()) first_error_ = status;
}

void FanOutOp::PartDone(const Status& status) {
  Fail(status);
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) Finish();
}

void FanOutOp::Finish() {
  Status error;
  {
    std::lock_guard<std::mutex> lock(error_mu_);
    error = first_error_;
  }
  if (!error.ok()) {
    out_->Send(EncodeError(request_->id, error));
    return;
  }
  FrameEncoder answer;
  Encode(&answer);
  out_->Send(answer.Finish());
}

void SumOp::Encode(FrameEncoder* out) {
  uint64_t sum = 0;
  for (uint64_t v : sums_) sum += v;
  out->BeginOk(request().id, 1);
  out->Key(field_);
  out->Uint(sum);
}

}  // namespace litestash
