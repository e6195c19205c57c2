#include "engine/dispatcher.h"

#include "engine/keyed_task.h"

namespace litestash {

namespace {

// The reader's own answers go out at least this often within a chunk: the host can send more
// while the rest of the chunk is still being read (a 64-deep pipeline then has no bubble the
// length of a whole chunk; 1M-key uniform GET 79k -> 89k ops/s, hot set 238k -> 283k). Every
// slice is a write for us and a read and a wake-up for the host: 32 frames, not 16, halved the
// bench client's CPU per GET (1.9 -> 0.9 us) and gave a 10k-key hot set 400-440k -> 540k ops/s
// at 100k keys, 460k -> 563k at 1M (uniform GET the same or better); 64 lost uniform GET
// (bubble) and 8 lost both (docs/performance.md).
constexpr size_t kAnswerSlice = 64 * 1024;
constexpr size_t kAnswerSliceFrames = 32;

}  // namespace

namespace {

// Adds to a counter that only the reader thread writes (others only load it): a plain load and
// store, not a locked read-modify-write, which on this path cost about 4 % of a uniform GET's
// reader time (perf: the store buffer drains at every lock prefix).
void CountOne(std::atomic<uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

std::vector<std::string> PathsOf(const std::vector<ShardOptions>& shards) {
  std::vector<std::string> paths;
  for (const ShardOptions& o : shards) paths.push_back(o.in_memory ? std::string() : o.path);
  return paths;
}

}  // namespace

Dispatcher::Dispatcher(const CommandRegistry& registry, EngineIdentity identity,
                       std::vector<ShardWorker*> workers, std::unique_ptr<Blake2b512> hasher,
                       FrameSink* out, InflightLimiter* limiter, DispatcherOptions options)
    : registry_(registry),
      identity_(std::move(identity)),
      workers_(std::move(workers)),
      digests_(std::move(hasher)),
      out_(out),
      limiter_(limiter),
      waiters_(options.max_waiting_reads, identity_.shards, PathsOf(options.read_connections),
               [this](ParkedRead read, WaitState state) { Rerun(std::move(read), state); }),
      txns_(options.txns ? std::move(options.txns)
                         : std::shared_ptr<TxnServices>(TxnServices::InMemory())),
      files_(options.read_connections),
      context_{identity_, registry_, [this] { return Stats(); }, &waiters_, limiter_,
               &jobs_,    &files_},
      read_path_(std::move(options.read_connections), options.read_cache_bytes),
      wake_pending_(identity_.shards, false) {
  txns_->Attach(workers_);
  waiters_.Start();
}

Dispatcher::~Dispatcher() { waiters_.Stop(); }

void Dispatcher::Rerun(ParkedRead read, WaitState state) {
  const CommandRow& row = registry_.RowOf(*read.request);
  const uint32_t shard = read.shard;
  workers_[shard]->Enqueue(std::make_unique<KeyedTask>(std::move(read.request), read.digest, shard,
                                                       row, out_, &context_, state));
}

void Dispatcher::Submit(RequestPtr request) {
  CountOne(requests_);
  const CommandRow& row = registry_.RowOf(*request);
  if (open_group_ && row.multi_write == nullptr && !row.all_or_nothing) SealGroup();
  switch (row.schema.routing) {
    case Routing::kLocal: {
      FrameEncoder answer;
      row.local(*request, context_, &answer);
      Answer(answer.Finish());
      return;
    }
    case Routing::kKeyed:
      RouteKeyed(row, std::move(request));
      return;
    case Routing::kMulti: {
      SharedRequest shared = Share(std::move(request));
      RouteGroup(row.multi_write(shared, context_, out_));
      return;
    }
    case Routing::kKeys:
    case Routing::kEntries:
    case Routing::kAllShards:
      if (row.inline_read != nullptr && TryInline(row, request, nullptr, 0)) return;
      RouteFanOut(row, Share(std::move(request)));
      return;
  }
}

void Dispatcher::RouteGroup(std::shared_ptr<MultiWrite> write) {
  if (open_group_ && open_group_->full()) SealGroup();
  const bool conditional = write->conditional();
  std::vector<uint32_t> fresh;
  if (!open_group_ || !open_group_->TryAdd(write, &fresh)) {
    open_group_ = txns_->NewGroup();  // none open, or its first part has started
    open_group_->TryAdd(std::move(write), &fresh);
  }
  for (uint32_t shard : fresh) {
    read_path_.EndRead(shard);  // a snapshot of the shard must not outlive a write queued to it
    workers_[shard]->Enqueue(open_group_->MakePart(shard), /*wake=*/false);
    WakeLater(shard);
  }
  // A write that may be refused runs last in its group (its savepoint is the group's last).
  if (conditional) SealGroup();
}

void Dispatcher::SealGroup() {
  if (!open_group_) return;
  open_group_->Seal();
  open_group_.reset();
}

SharedRequest Dispatcher::Share(RequestPtr request) {
  const auto bytes = static_cast<int64_t>(request->frame.size());
  limiter_->AddBytes(bytes);
  InflightLimiter* limiter = limiter_;
  return SharedRequest(request.release(), [limiter, bytes](const Request* r) {
    delete r;
    limiter->ReleaseBytes(bytes);
  });
}

void Dispatcher::Answer(std::string frame) {
  answer_bytes_ += frame.size();
  answers_.push_back(std::move(frame));
  // A chunk of many small requests with big answers: hand them over in slices.
  if (answer_bytes_ >= kAnswerSlice || answers_.size() >= kAnswerSliceFrames) SendAnswers();
}

void Dispatcher::SendAnswers() {
  if (answers_.empty()) return;
  if (answers_.size() == 1) {
    out_->SendNow(std::move(answers_.front()));
  } else {
    out_->SendBatch(answers_);
  }
  answers_.clear();
  answer_bytes_ = 0;
}

void Dispatcher::Flush() {
  for (uint32_t shard : to_wake_) {
    workers_[shard]->Wake();
    wake_pending_[shard] = false;
  }
  to_wake_.clear();
  read_path_.EndChunk();
  SendAnswers();
}

void Dispatcher::Idle() {
  Flush();
  read_path_.EndAll();
}

void Dispatcher::Stop() {
  Flush();
  read_path_.Close();
  waiters_.Stop();
  jobs_.Stop();
}

void Dispatcher::WakeLater(uint32_t shard) {
  if (!wake_pending_[shard]) {
    wake_pending_[shard] = true;
    to_wake_.push_back(shard);
  }
}

void Dispatcher::RouteKeyed(const CommandRow& row, RequestPtr request) {
  Digest digest;
  if (Status st = digests_.Hash(request->route_key, &digest); !st.ok()) {
    Answer(EncodeError(request->id, st));
    return;
  }
  const uint32_t shard = ShardOf(digest, identity_.shards);
  if (request->shard && *request->shard != shard) {
    Answer(EncodeError(
        request->id, Status(StatusCode::kWrongShard,
                            std::string(row.schema.route_field) + " routes to shard " +
                                std::to_string(shard) + " of " + std::to_string(identity_.shards) +
                                ", request says " + std::to_string(*request->shard))));
    return;
  }
  if (row.inline_read != nullptr && TryInline(row, request, &digest, shard)) return;
  // A snapshot of the shard must not outlive a write queued to it.
  if (row.schema.writes) read_path_.EndRead(shard);
  workers_[shard]->Enqueue(
      std::make_unique<KeyedTask>(Share(std::move(request)), digest, shard, row, out_, &context_),
      /*wake=*/false);
  WakeLater(shard);
}

bool Dispatcher::TryInline(const CommandRow& row, RequestPtr& request, const Digest* digest,
                           uint32_t shard) {
  const Clock clock = Clock::Now();
  InlineCall call(read_path_, clock, digests_, workers_, digest, shard);
  if (digest != nullptr && !call.Readable(shard, *digest)) return false;
  WalIndexWatch::Header mark{};
  const bool mark_ok = row.may_park && waiters_.Mark(shard, &mark);  // before the read
  FrameEncoder answer;
  Status st;
  const uint64_t hits = read_path_.counters().cache_hits;
  if (!row.inline_read(*request, call, &answer, &st)) return false;
  CountOne(inline_reads_);
  if (read_path_.counters().cache_hits != hits) CountOne(cache_hits_);
  if (st.ok() && call.park_until && row.may_park) {
    // Its answer (nothing yet) is kept in case the waiters refuse it; any answers collected
    // so far go first, so none is overtaken by a park.
    SendAnswers();
    ParkOrAnswer(&context_, Share(std::move(request)), *digest, shard, call.park_until,
                 /*first_time=*/true, mark, mark_ok, answer.Finish(), out_);
    return true;
  }
  Answer(st.ok() ? answer.Finish() : EncodeError(request->id, st));
  return true;
}

void Dispatcher::RouteFanOut(const CommandRow& row, SharedRequest request) {
  const Request& req = *request;
  std::vector<FanOutOp::Part> parts;
  std::vector<Digest> digests;
  if (row.schema.routing == Routing::kAllShards) {
    parts.resize(identity_.shards);
    for (uint32_t s = 0; s < identity_.shards; ++s) parts[s].shard = s;
  } else {
    const bool by_entries = row.schema.routing == Routing::kEntries;
    const size_t n = by_entries ? req.entries.size() : req.keys.size();
    std::vector<int> part_of_shard(identity_.shards, -1);
    digests.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const std::string_view key = by_entries ? req.entries[i].first : req.keys[i];
      if (Status st = digests_.Hash(key, &digests[i]); !st.ok()) {
        Answer(EncodeError(req.id, st));
        return;
      }
      const uint32_t shard = ShardOf(digests[i], identity_.shards);
      if (part_of_shard[shard] < 0) {
        part_of_shard[shard] = static_cast<int>(parts.size());
        parts.push_back({shard, {}});
      }
      parts[part_of_shard[shard]].items.push_back(static_cast<uint32_t>(i));
    }
  }
  if (row.schema.writes) {
    for (const auto& part : parts) read_path_.EndRead(part.shard);
  }
  const bool group = row.all_or_nothing && parts.size() > 1;
  SharedRequest shared = request;
  auto op = row.fan_out(std::move(request), context_, out_);
  op->SetParts(std::move(parts), std::move(digests));
  if (group) {
    RouteGroup(MultiWriteOf(std::move(op), std::move(shared), out_));
    return;
  }
  if (open_group_) SealGroup();  // a single-shard mset/mdelete comes after the group's writes
  op->Launch(workers_);
}

EngineStats Dispatcher::Stats() const {
  EngineStats stats;
  stats.requests = requests_.load(std::memory_order_relaxed);
  stats.inflight = limiter_->frames();
  stats.inline_reads = inline_reads_.load(std::memory_order_relaxed);
  stats.cache_hits = cache_hits_.load(std::memory_order_relaxed);
  for (const ShardWorker* w : workers_) {
    stats.batches.push_back(w->counters().batches.load(std::memory_order_relaxed));
    stats.tasks.push_back(w->counters().tasks.load(std::memory_order_relaxed));
  }
  return stats;
}

}  // namespace litestash
