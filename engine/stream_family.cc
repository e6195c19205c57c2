// The stream family (contract v2 section 2): xadd, xget, xrange, xread, xinfo, xtrim, xdrop,
// xstreams, xcommit, xoffset — named append-only logs routed by `stream` like keys.
//
// Reads (xget, xrange, xread, xinfo, xoffset) are answered inline by the reader thread from its
// read snapshot of the shard when the shard has no pending write, else on the shard thread: the
// same handler either way (it gets a ShardStore in a read transaction). xread with `wait_ms`
// that finds nothing parks (engine/stream_waiters.h) and runs again when an append may have
// come; xadd tells the waiters after its commit. The storage semantics are shard/stream_ops.h.
#include "engine/command_registry.h"
#include "engine/read_path.h"
#include "engine/stream_waiters.h"
#include "shard/stream_ops.h"

namespace litestash {
namespace {

using fields::Key;
using fields::Of;
using fields::Shard;
using fields::Uint;
using fields::UintWithDefault;
using fields::Value;

constexpr uint64_t kMaxRangeLimit = 10000;
constexpr uint64_t kMaxWaitMs = 60000;
// The most an answer of xrange/xread reserves up front (it still grows past it as needed).
constexpr uint64_t kRangeReserve = uint64_t{1} << 20;

// One entry of an answer's `entries`: [id, ts, value].
void EncodeEntry(FrameEncoder* out, uint64_t id, uint64_t ts, std::string_view value) {
  out->ArrayHeader(3);
  out->Uint(id);
  out->Uint(ts);
  out->Raw(value);
}

void EncodeEntries(FrameEncoder* out, const std::vector<StreamEntry>& entries) {
  out->Key("entries");
  out->ArrayHeader(static_cast<uint32_t>(entries.size()));
  for (const StreamEntry& e : entries) EncodeEntry(out, e.id, e.ts, e.value);
}

void EncodeRange(const Request& req, const std::vector<StreamEntry>& entries, bool more,
                 FrameEncoder* out) {
  out->BeginOk(req.id, 2);
  EncodeEntries(out, entries);
  out->Key("more");
  out->Bool(more);
}

// EncodeRange of the entries StreamRange(from_start) would return, written straight from the
// rows as they are read: no entry is copied out of SQLite's row first (that copy, one string
// per entry, was ~20 % of an xrange of 100 entries by callgrind). *returned: how many.
Status EncodeRangeFromRows(const Request& req, ShardStore& store, uint64_t after, uint64_t before,
                           uint64_t limit, FrameEncoder* out, uint64_t* returned) {
  auto plan = PlanStreamRange(store, req.route_key, after, before, limit);
  if (!plan.ok()) return plan.status();
  out->BeginOk(req.id, 2);
  out->Key("entries");
  out->ArrayHeader(static_cast<uint32_t>(plan->count));
  uint64_t seen = 0;
  if (plan->count > 0) {
    LITESTASH_RETURN_IF_ERROR(store.streams().Visit(
        plan->stream_id, plan->lo, plan->hi, plan->count, /*ascending=*/true,
        [&](uint64_t id, uint64_t ts, std::string_view value) {
          // Room for all of them at once, sized by the first (entries of a stream are mostly
          // alike), at most kRangeReserve: a large first entry must not reserve `limit` of it.
          if (seen++ == 0) {
            out->Reserve(out->size() +
                         std::min<uint64_t>(plan->count * (value.size() + 20) + 16, kRangeReserve));
          }
          EncodeEntry(out, id, ts, value);
        }));
  }
  // The array's length went out first: a stream whose rows lack ids between its first and last
  // id (a damaged file) must not produce a malformed answer.
  if (seen != plan->count) {
    return Status(StatusCode::kCorruption,
                  "stream \"" + std::string(req.route_key) + "\" holds " + std::to_string(seen) +
                      " of the " + std::to_string(plan->count) + " entries its ids promise");
  }
  out->Key("more");
  out->Bool(plan->more);
  *returned = seen;
  return Status::Ok();
}

void OptionalUint(FrameEncoder* out, std::optional<uint64_t> v) {
  if (v) {
    out->Uint(*v);
  } else {
    out->Nil();
  }
}

// --- writes ------------------------------------------------------------------------------

Status Xadd(const Request& req, ShardCall& call, FrameEncoder* out) {
  RetentionUpdate retention{req.Uint("maxlen"), req.Uint("max_age_ms")};
  auto added = StreamAppend(call.store, req.route_key, req.Bytes("value"), retention, call.clock);
  if (!added.ok()) return added.status();
  call.appended = true;
  out->BeginOk(req.id, 2);
  out->Key("entry_id");
  out->Uint(added->entry_id);
  out->Key("ts");
  out->Uint(added->ts);
  return Status::Ok();
}

Status Xtrim(const Request& req, ShardCall& call, FrameEncoder* out) {
  TrimSpec trim{req.Uint("maxlen"), req.Uint("min_id"), req.Uint("max_age_ms")};
  auto removed = StreamTrim(call.store, req.route_key, trim, call.clock);
  if (!removed.ok()) return removed.status();
  out->BeginOk(req.id, 1);
  out->Key("removed");
  out->Uint(*removed);
  return Status::Ok();
}

Status XtrimHasALimit(const Request& req) {
  if (req.Has("maxlen") || req.Has("min_id") || req.Has("max_age_ms")) return Status::Ok();
  return Status::InvalidArgument("op 'xtrim' needs at least one of 'maxlen', 'min_id', 'max_age_ms'");
}

Status Xdrop(const Request& req, ShardCall& call, FrameEncoder* out) {
  auto dropped = StreamDrop(call.store, req.route_key);
  if (!dropped.ok()) return dropped.status();
  out->BeginOk(req.id, 1);
  out->Key("dropped");
  out->Bool(*dropped);
  return Status::Ok();
}

Status Xcommit(const Request& req, ShardCall& call, FrameEncoder* out) {
  LITESTASH_RETURN_IF_ERROR(StreamCommitOffset(call.store, req.route_key, req.Bytes("group"),
                                               *req.Uint("entry_id")));
  out->BeginOk(req.id, 0);
  return Status::Ok();
}

// --- reads: one handler per op over a store in a read (or the batch's) transaction ----------

Status Xget(const Request& req, ShardStore& store, FrameEncoder* out) {
  auto found = store.streams().Find(req.route_key);
  if (!found.ok()) return found.status();
  std::vector<std::optional<StreamEntry>> got(req.uints.size());
  if (found.value()) {
    for (size_t i = 0; i < req.uints.size(); ++i) {
      auto e = store.streams().Get(found.value()->stream_id, req.uints[i]);
      if (!e.ok()) return e.status();
      got[i] = std::move(e).value();
    }
  }
  const auto n = static_cast<uint32_t>(got.size());
  out->BeginOk(req.id, 3);
  out->Key("found");
  out->ArrayHeader(n);
  for (const auto& e : got) out->Bool(e.has_value());
  out->Key("values");
  out->ArrayHeader(n);
  for (const auto& e : got) e ? out->Raw(e->value) : out->Nil();
  out->Key("ts");
  out->ArrayHeader(n);
  for (const auto& e : got) OptionalUint(out, e ? std::optional(e->ts) : std::nullopt);
  return Status::Ok();
}

Status Xrange(const Request& req, ShardStore& store, FrameEncoder* out) {
  const auto after = req.Uint("after");
  const auto before = req.Uint("before");
  // With only `before`: the entries just below it (klite's GET n BEFORE id), read newest first
  // and answered oldest first, so through a vector.
  const bool from_start = after.has_value() || !before.has_value();
  if (from_start) {
    uint64_t returned = 0;
    return EncodeRangeFromRows(req, store, after.value_or(0), before.value_or(UINT64_MAX),
                               req.UintOrDefault("limit"), out, &returned);
  }
  std::vector<StreamEntry> entries;
  bool more = false;
  LITESTASH_RETURN_IF_ERROR(StreamRange(store, req.route_key, after.value_or(0),
                                        before.value_or(UINT64_MAX), req.UintOrDefault("limit"),
                                        /*from_start=*/false, &entries, &more));
  EncodeRange(req, entries, more, out);
  return Status::Ok();
}

// xread: xrange from `after`; with nothing to return and wait time left, asks to park.
Status Xread(const Request& req, ShardStore& store, const Clock& clock, const WaitState* wait,
             std::optional<int64_t>* park_until, FrameEncoder* out) {
  uint64_t returned = 0;
  LITESTASH_RETURN_IF_ERROR(EncodeRangeFromRows(req, store, *req.Uint("after"), UINT64_MAX,
                                                req.UintOrDefault("limit"), out, &returned));
  const uint64_t wait_ms = req.UintOrDefault("wait_ms");
  if (returned == 0 && wait_ms > 0 && !(wait && wait->final)) {
    const int64_t deadline = wait ? wait->deadline_ms : clock.now_ms + static_cast<int64_t>(wait_ms);
    if (clock.now_ms < deadline) *park_until = deadline;
  }
  return Status::Ok();
}

Status Xinfo(const Request& req, ShardStore& store, FrameEncoder* out) {
  auto info = StreamDescribe(store, req.route_key);
  if (!info.ok()) return info.status();
  const StreamMeta& m = info->meta;
  out->BeginOk(req.id, 9);
  out->Key("exists");
  out->Bool(info->exists);
  out->Key("length");
  out->Uint(m.length());
  out->Key("first_id");
  OptionalUint(out, info->exists ? std::optional(m.first_id) : std::nullopt);
  out->Key("last_id");
  OptionalUint(out, info->exists ? std::optional(m.last_id) : std::nullopt);
  out->Key("first_ts");
  OptionalUint(out, info->first_ts);
  out->Key("last_ts");
  OptionalUint(out, info->last_ts);
  out->Key("maxlen");
  OptionalUint(out, info->exists ? m.maxlen : std::nullopt);
  out->Key("max_age_ms");
  OptionalUint(out, info->exists ? m.max_age_ms : std::nullopt);
  out->Key("groups");
  out->MapHeader(static_cast<uint32_t>(info->groups.size()));
  for (const auto& [group, committed] : info->groups) {
    out->Str(group);
    out->Uint(committed);
  }
  return Status::Ok();
}

Status Xoffset(const Request& req, ShardStore& store, FrameEncoder* out) {
  auto offset = StreamOffset(store, req.route_key, req.Bytes("group"));
  if (!offset.ok()) return offset.status();
  out->BeginOk(req.id, 1);
  out->Key("entry_id");
  OptionalUint(out, *offset);
  return Status::Ok();
}

// Adapters: the same read on the shard thread (ShardCall) and inline on the reader thread.
template <Status (*Read)(const Request&, ShardStore&, FrameEncoder*)>
Status OnShard(const Request& req, ShardCall& call, FrameEncoder* out) {
  return Read(req, call.store, out);
}

template <Status (*Read)(const Request&, ShardStore&, FrameEncoder*)>
bool Inline(const Request& req, InlineCall& call, FrameEncoder* out, Status* status) {
  ShardStore* store = call.read_path.SnapshotStore(call.shard, status);
  if (store == nullptr) return false;
  if (status->ok()) *status = Read(req, *store, out);
  return true;
}

Status XreadOnShard(const Request& req, ShardCall& call, FrameEncoder* out) {
  return Xread(req, call.store, call.clock, call.wait, &call.park_until, out);
}

bool XreadInline(const Request& req, InlineCall& call, FrameEncoder* out, Status* status) {
  ShardStore* store = call.read_path.SnapshotStore(call.shard, status);
  if (store == nullptr) return false;
  if (status->ok()) *status = Xread(req, *store, call.clock, nullptr, &call.park_until, out);
  return true;
}

// --- xstreams: every shard's names, merged --------------------------------------------------

class XstreamsOp : public FanOutOp {
 public:
  using FanOutOp::FanOutOp;
  Status RunPart(size_t part, ShardStore& store, const Clock&) override {
    const Request& req = request();
    auto& names = names_[part];
    names.clear();
    return store.streams().Names(req.Bytes("prefix"), req.OptionalBytes("after"),
                                 req.UintOrDefault("limit") + 1, &names);
  }
  void Encode(FrameEncoder* out) override {
    std::vector<std::string> all;
    for (auto& part : names_) std::move(part.begin(), part.end(), std::back_inserter(all));
    std::sort(all.begin(), all.end());
    const size_t limit = static_cast<size_t>(request().UintOrDefault("limit"));
    const bool more = all.size() > limit;
    if (more) all.resize(limit);
    out->BeginOk(request().id, 2);
    out->Key("streams");
    out->ArrayHeader(static_cast<uint32_t>(all.size()));
    for (const auto& n : all) out->Str(n);
    out->Key("more");
    out->Bool(more);
  }
  void SizeResults() override { names_.resize(parts_.size()); }

 private:
  std::vector<std::vector<std::string>> names_;  // per part
};

std::shared_ptr<FanOutOp> MakeXstreams(SharedRequest req, const EngineContext&, FrameSink* out) {
  return std::make_shared<XstreamsOp>(std::move(req), out);
}

// --- rows ----------------------------------------------------------------------------------

FieldSpec Stream() { return Key("stream"); }
FieldSpec Limit() { return UintWithDefault("limit", 100, 1, kMaxRangeLimit); }

CommandRow Keyed(std::string_view name, bool writes, std::vector<FieldSpec> fields,
                 ShardHandler run, InlineReadHandler inline_read = nullptr,
                 std::string_view feature = "streams") {
  CommandRow row{MakeSchema(name, Routing::kKeyed, writes, std::move(fields), feature, "stream")};
  row.run = run;
  row.inline_read = inline_read;
  return row;
}

}  // namespace

Status RegisterStreamFamily(CommandRegistry& r) {
  FieldSpec ids = Of("ids", FieldType::kUintArray, true);
  ids.max_items = kMaxRangeLimit;
  CommandRow xtrim = Keyed("xtrim", true,
                           {Stream(), Uint("maxlen", false), Uint("min_id", false),
                            Uint("max_age_ms", false), Shard()},
                           Xtrim);
  xtrim.schema.validate = XtrimHasALimit;
  CommandRow xstreams{MakeSchema("xstreams", Routing::kAllShards, false,
                                 {Of("prefix", FieldType::kText, false),
                                  Of("after", FieldType::kText, false),
                                  UintWithDefault("limit", 1000, 1, kMaxRangeLimit)},
                                 "streams")};
  xstreams.fan_out = MakeXstreams;
  CommandRow rows[] = {
      Keyed("xadd", true,
            {Stream(), Value(), Uint("maxlen", false, 1), Uint("max_age_ms", false, 1), Shard()},
            Xadd),
      Keyed("xget", false, {Stream(), ids, Shard()}, OnShard<Xget>, Inline<Xget>),
      Keyed("xrange", false,
            {Stream(), Uint("after", false), Uint("before", false), Limit(), Shard()},
            OnShard<Xrange>, Inline<Xrange>),
      Keyed("xread", false,
            {Stream(), Uint("after", true), Limit(), UintWithDefault("wait_ms", 0, 0, kMaxWaitMs),
             Shard()},
            XreadOnShard, XreadInline, "blocking_reads"),
      Keyed("xinfo", false, {Stream(), Shard()}, OnShard<Xinfo>, Inline<Xinfo>),
      std::move(xtrim),
      Keyed("xdrop", true, {Stream(), Shard()}, Xdrop),
      std::move(xstreams),
      Keyed("xcommit", true, {Stream(), Key("group"), Uint("entry_id", true), Shard()}, Xcommit),
      Keyed("xoffset", false, {Stream(), Key("group"), Shard()}, OnShard<Xoffset>,
            Inline<Xoffset>),
  };
  for (CommandRow& row : rows) {
    row.may_park = row.schema.name == "xread";
    LITESTASH_RETURN_IF_ERROR(r.Add(std::move(row)));
  }
  return Status::Ok();
}

}  // namespace litestash
