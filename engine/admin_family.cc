// The admin family: hello and ping (answered on the reader thread), and the ops that run on
// every shard: scan, count, clear, stats, sync.
#include <algorithm>
#include <iterator>

#include "engine/command_registry.h"

namespace litestash {
namespace {

using fields::Of;
using fields::UintWithDefault;

constexpr int kProtocolVersion = 2;

void Hello(const Request& req, const EngineContext& ctx, FrameEncoder* out) {
  const EngineIdentity& id = ctx.identity;
  out->BeginOk(req.id, 10);
  out->Key("protocol");
  out->Uint(kProtocolVersion);
  out->Key("engine");
  out->Str("litestash-engine");
  out->Key("version");
  out->Str(id.version);
  out->Key("shards");
  out->Uint(id.shards);
  out->Key("hash");
  out->Str("blake2b-512");
  out->Key("max_frame_bytes");
  out->Uint(id.limits.max_frame_bytes);
  out->Key("max_key_bytes");
  out->Uint(id.limits.max_key_bytes);
  out->Key("max_value_bytes");
  out->Uint(id.limits.max_value_bytes);
  out->Key("keep_versions");
  out->Uint(id.keep_versions);  // history depth (contract v2 section 3)
  out->Key("features");
  const auto& features = ctx.registry.features();
  out->ArrayHeader(static_cast<uint32_t>(features.size()));
  for (std::string_view f : features) out->Str(f);
}

void Ping(const Request& req, const EngineContext&, FrameEncoder* out) { out->BeginOk(req.id, 0); }

class ScanOp : public FanOutOp {
 public:
  using FanOutOp::FanOutOp;
  Status RunPart(size_t part, ShardStore& store, const Clock& clock) override {
    const Request& req = request();
    auto& keys = keys_[part];
    keys.clear();
    // One more than the limit tells whether more keys follow.
    return store.Scan(req.Bytes("prefix"), req.OptionalBytes("after"),
                      req.UintOrDefault("limit") + 1, clock, &keys);
  }
  void Encode(FrameEncoder* out) override {
    std::vector<std::string> all;
    for (auto& part : keys_) std::move(part.begin(), part.end(), std::back_inserter(all));
    std::sort(all.begin(), all.end());
    const size_t limit = static_cast<size_t>(request().UintOrDefault("limit"));
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

class ClearOp : public FanOutOp {
 public:
  using FanOutOp::FanOutOp;
  Status RunPart(size_t, ShardStore& store, const Clock& clock) override {
    return store.Clear(clock);
  }
  void Encode(FrameEncoder* out) override { out->BeginOk(request().id, 0); }
};

class SyncOp : public FanOutOp {
 public:
  using FanOutOp::FanOutOp;
  bool transactional() const override { return false; }
  Status RunPart(size_t, ShardStore& store, const Clock&) override { return store.SyncToDisk(); }
  void Encode(FrameEncoder* out) override { out->BeginOk(request().id, 0); }
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
    shards_[part] = {*keys, *expiring, store.PagesWritten()};
    return Status::Ok();
  }
  void Encode(FrameEncoder* out) override {
    const EngineStats engine = engine_();
    out->BeginOk(request().id, 5);
    out->Key("shards");
    out->ArrayHeader(static_cast<uint32_t>(shards_.size()));
    for (size_t i = 0; i < shards_.size(); ++i) {
      const uint32_t shard = parts_[i].shard;
      out->MapHeader(6);
      out->Key("shard");
      out->Uint(shard);
      out->Key("keys");
      out->Uint(shards_[i].keys);
      out->Key("expiring");
      out->Uint(shards_[i].expiring);
      out->Key("batches");
      out->Uint(shard < engine.batches.size() ? engine.batches[shard] : 0);
      out->Key("ops");
      out->Uint(shard < engine.tasks.size() ? engine.tasks[shard] : 0);
      out->Key("pages_written");
      out->Uint(shards_[i].pages_written);
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
  struct ShardFigures {
    uint64_t keys = 0, expiring = 0, pages_written = 0;
  };
  std::vector<ShardFigures> shards_;  // per part
  std::function<EngineStats()> engine_;
};

template <typename Op>
std::shared_ptr<FanOutOp> Make(SharedRequest req, const EngineContext&, FrameSink* out) {
  return std::make_shared<Op>(std::move(req), out);
}

std::shared_ptr<FanOutOp> MakeStats(SharedRequest req, const EngineContext& ctx, FrameSink* out) {
  return std::make_shared<StatsOp>(std::move(req), out, ctx.stats);
}

CommandRow AllShards(std::string_view name, bool writes, std::vector<FieldSpec> fields,
                     std::string_view feature, FanOutFactory factory) {
  CommandRow row{MakeSchema(name, Routing::kAllShards, writes, std::move(fields), feature)};
  row.fan_out = factory;
  return row;
}

}  // namespace

Status RegisterAdminFamily(CommandRegistry& r) {
  CommandRow hello{MakeSchema("hello", Routing::kLocal, false, {})};
  hello.local = Hello;
  CommandRow ping{MakeSchema("ping", Routing::kLocal, false, {})};
  ping.local = Ping;
  const std::vector<FieldSpec> scan_fields = {Of("prefix", FieldType::kText, false),
                                              Of("after", FieldType::kText, false),
                                              UintWithDefault("limit", 1000, 1, 10000)};
  CommandRow rows[] = {
      std::move(hello),
      std::move(ping),
      AllShards("scan", false, scan_fields, "scan", Make<ScanOp>),
      AllShards("count", false, {}, "", Make<CountOp>),
      AllShards("clear", true, {}, "", Make<ClearOp>),
      AllShards("stats", false, {}, "stats", MakeStats),
      AllShards("sync", true, {}, "sync", Make<SyncOp>),
  };
  for (CommandRow& row : rows) {
    row.all_or_nothing = row.schema.name == "clear";  // across shards, like mset and mdelete
    LITESTASH_RETURN_IF_ERROR(r.Add(std::move(row)));
  }
  return Status::Ok();
}

}  // namespace litestash
