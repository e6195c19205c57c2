#include "engine/keyed_task.h"

#include "engine/inflight_limiter.h"

namespace litestash {

Status KeyedTask::Run(ShardStore& store, const Clock& clock) {
  answer_.Reset();
  if (row_.may_park && engine_ != nullptr && engine_->waiters != nullptr) {
    mark_ok_ = engine_->waiters->Mark(shard_, &mark_);  // before the read
  }
  ShardCall call{store, clock, digest_, shard_, nullptr, std::nullopt, false, std::nullopt};
  call.wait = wait_ ? &*wait_ : nullptr;
  Status st = row_.run(*request_, call, &answer_);
  park_until_ = call.park_until;
  appended_ = call.appended;
  refused_ = std::move(call.refused);
  return st;
}

void KeyedTask::Done(const Status& status) {
  const bool rerun = wait_.has_value();
  if (!status.ok() || refused_) {
    const Status& answer = status.ok() ? *refused_ : status;
    if (rerun && engine_ != nullptr && engine_->limiter != nullptr) engine_->limiter->AddFrames(1);
    out_->Send(EncodeError(request_->id, answer));
    return;
  }
  if (appended_ && engine_ != nullptr && engine_->waiters != nullptr) {
    engine_->waiters->Appended(shard_, request_->route_key);
  }
  ParkOrAnswer(engine_, request_, digest_, shard_, park_until_, !rerun, mark_, mark_ok_,
               answer_.Finish(), out_);
}

void ParkOrAnswer(const EngineContext* engine, SharedRequest request, const Digest& digest,
                  uint32_t shard, std::optional<int64_t> park_until, bool first_time,
                  const WalIndexWatch::Header& mark, bool mark_ok, std::string answer,
                  FrameSink* out) {
  if (park_until && engine != nullptr && engine->waiters != nullptr) {
    ParkedRead read;
    read.request = request;
    read.digest = digest;
    read.shard = shard;
    read.stream = std::string(request->route_key);
    read.deadline_ms = *park_until;
    read.mark = mark;
    read.mark_ok = mark_ok;
    if (engine->waiters->Park(std::move(read))) {
      // Waiting reads do not count against the in-flight limits.
      if (first_time && engine->limiter != nullptr) engine->limiter->ReleaseFrames(1);
      return;
    }
  }
  if (!first_time && engine != nullptr && engine->limiter != nullptr) engine->limiter->AddFrames(1);
  out->Send(std::move(answer));
}

}  // namespace litestash
