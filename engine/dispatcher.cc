#include "engine/dispatcher.h"

#include <spdlog/spdlog.h>

namespace litestash {

namespace {

const char* const kFeatures[] = {"ttl", "scan", "mget", "mset", "mdelete", "sync", "stats"};

}  // namespace

Dispatcher::Dispatcher(EngineIdentity identity, std::vector<ShardWorker*> workers, FrameSink* out,
                       InflightLimiter* limiter, ReadPathOptions read_path)
    : identity_(std::move(identity)),
      workers_(std::move(workers)),
      out_(out),
      limiter_(limiter),
      pending_(identity_.shards),
      read_path_(std::move(read_path)),
      read_stores_(identity_.shards),
      read_disabled_(identity_.shards, read_path_.empty()) {}

Dispatcher::~Dispatcher() = default;

void Dispatcher::Submit(RequestPtr request) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  switch (request->schema().routing) {
    case Routing::kLocal:
      AnswerLocal(*request);
      return;
    case Routing::kKey:
      RouteKeyed(Share(std::move(request)));
      return;
    case Routing::kKeys:
    case Routing::kEntries:
    case Routing::kAllShards:
      RouteFanOut(Share(std::move(request)));
      return;
  }
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

void Dispatcher::AnswerLocal(const Request& request) {
  ResponseEncoder answer;
  if (request.op == OpCode::kPing) {
    answer.BeginOk(request.id, 0);
  } else {  // hello
    answer.BeginOk(request.id, 9);
    answer.Key("protocol");
    answer.Uint(1);
    answer.Key("engine");
    answer.Str("litestash-engine");
    answer.Key("version");
    answer.Str(identity_.version);
    answer.Key("shards");
    answer.Uint(identity_.shards);
    answer.Key("hash");
    answer.Str("blake2b-512");
    answer.Key("max_frame_bytes");
    answer.Uint(identity_.limits.max_frame_bytes);
    answer.Key("max_key_bytes");
    answer.Uint(identity_.limits.max_key_bytes);
    answer.Key("max_value_bytes");
    answer.Uint(identity_.limits.max_value_bytes);
    answer.Key("features");
    answer.ArrayHeader(std::size(kFeatures));
    for (const char* f : kFeatures) answer.Str(f);
  }
  out_->SendNow(answer.Finish());
}

void Dispatcher::RouteKeyed(SharedRequest request) {
  const Digest digest = hasher_.Hash(request->key);
  const uint32_t shard = ShardOf(digest, identity_.shards);
  if (request->shard && *request->shard != shard) {
    out_->SendNow(EncodeError(
        request->id,
        Status(ErrorCode::kWrongShard, "key routes to shard " + std::to_string(shard) + " of " +
                                           std::to_string(identity_.shards) + ", request says " +
                                           std::to_string(*request->shard))));
    return;
  }
  if (!request->schema().writes && TryReadInline(*request, digest, shard)) return;
  KeyedHandler handler = KeyedHandlerFor(request->op);
  if (request->schema().writes) pending_.Add(shard);
  workers_[shard]->Enqueue(
      std::make_unique<KeyedTask>(std::move(request), digest, shard, handler, out_, &pending_));
}

bool Dispatcher::TryReadInline(const Request& request, const Digest& digest, uint32_t shard) {
  if (!inline_allowed_ || read_disabled_[shard] || !pending_.None(shard)) return false;
  ShardStore* store = ReadStore(shard);
  if (store == nullptr) return false;
  ResponseEncoder answer;
  // Autocommit: the statement runs in its own read transaction, which sees every commit so far,
  // this process's and others'.
  Status st = KeyedHandlerFor(request.op)(request, digest, *store, Clock::Now(), &answer);
  inline_reads_.fetch_add(1, std::memory_order_relaxed);
  out_->SendNow(st.ok() ? answer.Finish() : EncodeError(request.id, st));
  return true;
}

ShardStore* Dispatcher::ReadStore(uint32_t shard) {
  if (!read_stores_[shard]) {
    auto store = ShardStore::Open(read_path_[shard]);
    Status st = store.ok() ? store.value()->PrepareStatements() : store.status();
    if (!st.ok()) {
      spdlog::warn("shard {}: read fast path off: {}", shard, st.ToString());
      read_disabled_[shard] = true;
      return nullptr;
    }
    read_stores_[shard] = std::move(store).value();
  }
  return read_stores_[shard].get();
}

void Dispatcher::RouteFanOut(SharedRequest request) {
  const Request& req = *request;
  std::vector<FanOutOp::Part> parts;
  std::vector<Digest> digests;
  if (req.schema().routing == Routing::kAllShards) {
    parts.resize(identity_.shards);
    for (uint32_t s = 0; s < identity_.shards; ++s) parts[s].shard = s;
  } else {
    const bool by_entries = req.schema().routing == Routing::kEntries;
    const size_t n = by_entries ? req.entries.size() : req.keys.size();
    std::vector<int> part_of_shard(identity_.shards, -1);
    digests.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      digests.push_back(hasher_.Hash(by_entries ? req.entries[i].first : req.keys[i]));
      const uint32_t shard = ShardOf(digests.back(), identity_.shards);
      if (part_of_shard[shard] < 0) {
        part_of_shard[shard] = static_cast<int>(parts.size());
        parts.push_back({shard, {}});
      }
      parts[part_of_shard[shard]].items.push_back(static_cast<uint32_t>(i));
    }
  }
  auto op = MakeFanOutOp(std::move(request), out_, [this] { return Stats(); });
  op->SetParts(std::move(parts), std::move(digests));
  op->Launch(workers_, &pending_);
}

EngineStats Dispatcher::Stats() const {
  EngineStats stats;
  stats.requests = requests_.load(std::memory_order_relaxed);
  stats.inflight = limiter_->frames();
  stats.inline_reads = inline_reads_.load(std::memory_order_relaxed);
  for (const ShardWorker* w : workers_) {
    stats.batches.push_back(w->counters().batches.load(std::memory_order_relaxed));
    stats.tasks.push_back(w->counters().tasks.load(std::memory_order_relaxed));
  }
  return stats;
}

}  // namespace litestash
