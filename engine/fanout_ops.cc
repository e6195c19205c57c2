#include "engine/fanout_ops.h"

#include <algorithm>

namespace litestash {
// One part of a FanOutOp, queued on one shard.
class FanOutPart : public ShardTask {
 public:
  FanOutPart(std::shared_ptr<FanOutOp> op, size_t part) : op_(std::move(op)), part_(part) {}
  bool writes() const override { return op_->request().schema().writes; }
  bool transactional() const override { return op_->transactional(); }
  Status Run(ShardStore& store, const Clock& clock) override {
    return op_->RunPart(part_, store, clock);
  }
  void Done(const Status& status) override { op_->PartDone(part_, status); }

 private:
  std::shared_ptr<FanOutOp> op_;
  size_t part_;
};

void FanOutOp::SetParts(std::vector<Part> parts, std::vector<Digest> digests) {
  parts_ = std::move(parts);
  digests_ = std::move(digests);
  SizeResults();
}

void FanOutOp::Launch(const std::vector<ShardWorker*>& workers, PendingWrites* pending) {
  if (parts_.empty()) {
    Finish();
    return;
  }
  if (request_->schema().writes) pending_writes_ = pending;
  pending_.store(parts_.size(), std::memory_order_relaxed);
  for (size_t i = 0; i < parts_.size(); ++i) {
    if (pending_writes_ != nullptr) pending_writes_->Add(parts_[i].shard);
    workers[parts_[i].shard]->Enqueue(std::make_unique<FanOutPart>(shared_from_this(), i));
  }
}

void FanOutOp::PartDone(size_t part, const Status& status) {
  if (pending_writes_ != nullptr) pending_writes_->Finish(parts_[part].shard);
  if (!status.ok()) {
    std::lock_guard<std::mutex> lock(error_mu_);
    if (first_error_.ok()) first_error_ = status;
  }
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
  ResponseEncoder answer;
  Encode(&answer);
  out_->Send(answer.Finish());
}

void EncodeMgetAnswer(const Request& req, const std::vector<std::optional<StoredValue>>& values,
                      ResponseEncoder* out) {
  const auto n = static_cast<uint32_t>(values.size());
  out->BeginOk(req.id, 2);
  out->Key("found");
  out->ArrayHeader(n);
  for (const auto& v : values) out->Bool(v.has_value());
  out->Key("values");
  out->ArrayHeader(n);
  for (const auto& v : values) v ? out->Raw(v->value) : out->Nil();
}

namespace {

class MgetOp : public FanOutOp {
 public:
  using FanOutOp::FanOutOp;
  Status RunPart(size_t part, ShardStore& store, const Clock& clock) override {
    for (uint32_t item : parts_[part].items) {
      auto found = store.Get(digests_[item], clock);
      if (!found.ok()) return found.status();
      values_[item] = std::move(found).value();
    }
    return Status::Ok();
  }
  void Encode(ResponseEncoder* out) override { EncodeMgetAnswer(request(), values_, out); }
  void SizeResults() override { values_.resize(request().keys.size()); }

 private:
  std::vector<std::optional<StoredValue>> values_;
};

class MsetOp : public FanOutOp {
 public:
  using FanOutOp::FanOutOp;
  Status RunPart(size_t part, ShardStore& store, const Clock& clock) override {
    const Request& req = request();
    std::optional<int64_t> expires;
    if (req.ttl_ms) expires = ExpiresAt(clock, *req.ttl_ms);
    for (uint32_t item : parts_[part].items) {
      const auto& [key, value] = req.entries[item];
      auto version = store.Put(digests_[item], key, value, expires, clock);
      if (!version.ok()) return version.status();
    }
    return Status::Ok();
  }
  void Encode(ResponseEncoder* out) override {
    out->BeginOk(request().id, 1);
    out->Key("count");
    out->Uint(request().entries.size());
  }
};

// Base for ops that keep one number per part and answer with their sum.
class SumOp : public FanOutOp {
 public:
  SumOp(SharedRequest request, FrameSink* out, std::string_view field)
      : FanOutOp(std::move(request), out), field_(field) {}
  void Encode(ResponseEncoder* out) override {
    uint64_t sum = 0;
    for (uint64_t v : sums_) sum += v;
    out->BeginOk(request().id, 1);
    out->Key(field_);
    out->Uint(sum);
  }

 protected:
  void SizeResults() override { sums_.resize(parts_.size()); }
  uint64_t& SlotOf(size_t part) { return sums_[part]; }

 private:
  std::vector<uint64_t> sums_;
  std::string_view field_;
};

class MdeleteOp : public SumOp {
 public:
  MdeleteOp(SharedRequest request, FrameSink* out) : SumOp(std::move(request), out, "deleted") {}
  Status RunPart(size_t part, ShardStore& store, const Clock& clock) override {
    uint64_t& deleted = SlotOf(part);
    deleted = 0;
    for (uint32_t item : parts_[part].items) {
      auto gone = store.Delete(digests_[item], clock);
      if (!gone.ok()) return gone.status();
      deleted += *gone ? 1 : 0;
    }
    return Status::Ok();
  }
};

class CountOp : public SumOp {
 public:
  CountOp(SharedRequest request, FrameSink* out) : SumOp(std::move(request), out, "count") {}
  Status RunPart(size_t part, ShardStore& store, const Clock& clock) override {
    auto n = store.CountLive(clock);
    if (!n.ok()) return n.status();
    SlotOf(part) = *n;
    return Status::Ok();
  }
};

class ScanOp : public FanOutOp {
 public:
  using FanOutOp::FanOutOp;
  Status RunPart(size_t part, ShardStore& store, const Clock& clock) override {
    const Request& req = request();
    auto& keys = keys_[part];
    keys.clear();
    // One more than the limit tells whether more keys follow.
    return store.Scan(req.prefix, req.after, req.limit + 1, clock, &keys);
  }
  void Encode(ResponseEncoder* out) override {
    std::vector<std::string> all;
    for (auto& part : keys_) std::move(part.begin(), part.end(), std::back_inserter(all));
    std::sort(all.begin(), all.end());
    const size_t limit = static_cast<size_t>(request().limit);
    const bool more = all.size() > limit;
    if (more) all.resize(limit);
    out->BeginOk(request().id, 2);
    out->Key("keys");
    out->ArrayHeader(static_cast<uint32_t>(all.size()));
    for (const auto& k : all) out->Str(k);
    out->Key("more");
    out->Bool(more);
  }
  void SizeResults() override { keys_.resize(parts_.size()); }

 private:
  std::vector<std::vector<std::string>> keys_;  // per part
};

class ClearOp : public FanOutOp {
 public:
  using FanOutOp::FanOutOp;
  Status RunPart(size_t, ShardStore& store, const Clock&) override { return store.Clear(); }
  void Encode(ResponseEncoder* out) override { out->BeginOk(request().id, 0); }
};

class SyncOp : public FanOutOp {
 public:
  using FanOutOp::FanOutOp;
  bool transactional() const override { return false; }
  Status RunPart(size_t, ShardStore& store, const Clock&) override { return store.SyncToDisk(); }
  void Encode(ResponseEncoder* out) override { out->BeginOk(request().id, 0); }
};

class StatsOp : public FanOutOp {
 public:
  StatsOp(SharedRequest request, FrameSink* out, std::function<EngineStats()> engine)
      : FanOutOp(std::move(request), out), engine_(std::move(engine)) {}
  Status RunPart(size_t part, ShardStore& store, const Clock& clock) override {
    auto keys = store.CountLive(clock);
    if (!keys.ok()) return keys.status();
    auto expiring = store.CountExpiring(clock);
    if (!expiring.ok()) return expiring.status();
    shards_[part] = {*keys, *expiring};
    return Status::Ok();
  }
  void Encode(ResponseEncoder* out) override {
    const EngineStats engine = engine_();
    out->BeginOk(request().id, 5);
    out->Key("shards");
    out->ArrayHeader(static_cast<uint32_t>(shards_.size()));
    for (size_t i = 0; i < shards_.size(); ++i) {
      const uint32_t shard = parts_[i].shard;
      out->MapHeader(5);
      out->Key("shard");
      out->Uint(shard);
      out->Key("keys");
      out->Uint(shards_[i].first);
      out->Key("expiring");
      out->Uint(shards_[i].second);
      out->Key("batches");
      out->Uint(shard < engine.batches.size() ? engine.batches[shard] : 0);
      out->Key("ops");
      out->Uint(shard < engine.tasks.size() ? engine.tasks[shard] : 0);
    }
    out->Key("requests");
    out->Uint(engine.requests);
    out->Key("inflight");
    out->Uint(engine.inflight > 0 ? static_cast<uint64_t>(engine.inflight) : 0);
    out->Key("inline_reads");
    out->Uint(engine.inline_reads);
    out->Key("read_cache_hits");
    out->Uint(engine.cache_hits);
  }
  void SizeResults() override { shards_.resize(parts_.size()); }

 private:
  std::vector<std::pair<uint64_t, uint64_t>> shards_;  // per part: live keys, expiring keys
  std::function<EngineStats()> engine_;
};

}  // namespace

std::shared_ptr<FanOutOp> MakeFanOutOp(SharedRequest request, FrameSink* out,
                                       std::function<EngineStats()> stats) {
  switch (request->op) {
    case OpCode::kMget:
      return std::make_shared<MgetOp>(std::move(request), out);
    case OpCode::kMset:
      return std::make_shared<MsetOp>(std::move(request), out);
    case OpCode::kMdelete:
      return std::make_shared<MdeleteOp>(std::move(request), out);
    case OpCode::kScan:
      return std::make_shared<ScanOp>(std::move(request), out);
    case OpCode::kCount:
      return std::make_shared<CountOp>(std::move(request), out);
    case OpCode::kClear:
      return std::make_shared<ClearOp>(std::move(request), out);
    case OpCode::kSync:
      return std::make_shared<SyncOp>(std::move(request), out);
    case OpCode::kStats:
      return std::make_shared<StatsOp>(std::move(request), out, std::move(stats));
    default:
      return nullptr;
  }
}

}  // namespace litestash
