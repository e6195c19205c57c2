// The multi-key family: mset, mget, mdelete — fan-outs over the shards of their keys. A read's
// part runs inside its shard's batch transaction; mset and mdelete over several shards run as a
// write group (engine/write_group.h): all or nothing across shards, on crash as well. mget is read
// inline by the reader thread when every shard it touches has no pending write: all of them are
// checked before the first read, so one answer never mixes the two paths.
#include "engine/command_registry.h"
#include "engine/read_path.h"

namespace litestash {
namespace {

using fields::Of;
using fields::Uint;

// The answer of `mget`: `values[i]` is key i's live value, nullopt if absent.
void EncodeMget(const Request& req, const std::vector<std::optional<StoredValue>>& values,
                FrameEncoder* out) {
  const auto n = static_cast<uint32_t>(values.size());
  out->BeginOk(req.id, 2);
  out->Key("found");
  out->ArrayHeader(n);
  for (const auto& v : values) out->Bool(v.has_value());
  out->Key("values");
  out->ArrayHeader(n);
  for (const auto& v : values) v ? out->Raw(v->value) : out->Nil();
}

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
  void Encode(FrameEncoder* out) override { EncodeMget(request(), values_, out); }
  void SizeResults() override { values_.resize(request().keys.size()); }

 private:
  std::vector<std::optional<StoredValue>> values_;
};

bool MgetInline(const Request& req, InlineCall& call, FrameEncoder* out, Status* status) {
  thread_local std::vector<Digest> digests;
  thread_local std::vector<uint32_t> shards;
  digests.resize(req.keys.size());
  shards.resize(req.keys.size());
  for (size_t i = 0; i < req.keys.size(); ++i) {
    if (Status st = call.hasher.Hash(req.keys[i], &digests[i]); !st.ok()) return false;
    shards[i] = ShardOf(digests[i], call.shards());
    if (!call.Readable(shards[i], digests[i])) return false;
  }
  std::vector<std::optional<StoredValue>> values(req.keys.size());
  for (size_t i = 0; i < req.keys.size() && status->ok(); ++i) {
    const StoredRecord* row = nullptr;
    if (!call.read_path.Read(req.keys[i], digests[i], shards[i], &row, status)) {
      *status = Status::IOError("shard " + std::to_string(shards[i]) + " could not be read");
    } else if (status->ok() && row != nullptr && row->LiveAt(call.clock.now_ms)) {
      values[i] = row->stored;
    }
  }
  if (status->ok()) EncodeMget(req, values, out);
  return true;
}

class MsetOp : public FanOutOp {
 public:
  using FanOutOp::FanOutOp;
  Status RunPart(size_t part, ShardStore& store, const Clock& clock) override {
    const Request& req = request();
    std::optional<int64_t> expires;
    if (auto ttl = req.Uint("ttl_ms")) expires = clock.ExpiresAt(*ttl);
    for (uint32_t item : parts_[part].items) {
      const auto& [key, value] = req.entries[item];
      auto version = store.Put(digests_[item], key, value, expires, clock);
      if (!version.ok()) return version.status();
    }
    return Status::Ok();
  }
  void Encode(FrameEncoder* out) override {
    out->BeginOk(request().id, 1);
    out->Key("count");
    out->Uint(request().entries.size());
  }
};

class MdeleteOp : public SumOp {
 public:
  MdeleteOp(SharedRequest request, FrameSink* out) : SumOp(std::move(request), out, "deleted") {}
  Status RunPart(size_t part, ShardStore& store, const Clock& clock) override {
    uint64_t& deleted = SlotOf(part);
    deleted = 0;
    for (uint32_t item : parts_[part].items) {
      auto gone = store.Delete(digests_[item], request().keys[item], clock);
      if (!gone.ok()) return gone.status();
      deleted += *gone ? 1 : 0;
    }
    return Status::Ok();
  }
};

template <typename Op>
std::shared_ptr<FanOutOp> Make(SharedRequest req, const EngineContext&, FrameSink* out) {
  return std::make_shared<Op>(std::move(req), out);
}

}  // namespace

Status RegisterMultiKeyFamily(CommandRegistry& r) {
  CommandRow mset{MakeSchema("mset", Routing::kEntries, true,
                             {Uint("ttl_ms", false, 1), Of("entries", FieldType::kEntries, true)},
                             "mset")};
  mset.fan_out = Make<MsetOp>;
  mset.all_or_nothing = true;
  CommandRow mget{
      MakeSchema("mget", Routing::kKeys, false, {Of("keys", FieldType::kKeyArray, true)}, "mget")};
  mget.fan_out = Make<MgetOp>;
  mget.inline_read = MgetInline;
  CommandRow mdelete{MakeSchema("mdelete", Routing::kKeys, true,
                                {Of("keys", FieldType::kKeyArray, true)}, "mdelete")};
  mdelete.fan_out = Make<MdeleteOp>;
  mdelete.all_or_nothing = true;
  for (CommandRow* row : {&mset, &mget, &mdelete}) {
    LITESTASH_RETURN_IF_ERROR(r.Add(std::move(*row)));
  }
  return Status::Ok();
}

}  // namespace litestash
