// The txn family (contract v2 section 5): `txn` — checks, then set/delete/xadd ops, all or
// nothing across shards, run through a WriteGroup (engine/write_group.h).
//
// Checks are `[key, version]` pairs (version 0: the key must be absent or expired); each is
// evaluated on its key's shard under that shard's write lock, before any op of the txn writes
// there, and all locks are held until the commit point, so a check never passes against a value
// another process has already replaced. A failed check refuses the whole txn with `conflict`
// (`key`, and the key's current `version`, in the error map). Nested ops are validated like the
// top-level ops of their names; a key may be set or deleted at most once per txn.
#include <algorithm>
#include <set>

#include "engine/command_registry.h"
#include "engine/write_group.h"

namespace litestash {
namespace {

using fields::Of;

constexpr uint32_t kMaxTxnOps = 10000;

class TxnWrite : public MultiWrite {
 public:
  TxnWrite(SharedRequest request, FrameSink* out, uint32_t shards)
      : MultiWrite(std::move(request), out), shard_count_(shards) {
    const Request& req = this->request();
    results_.resize(req.ops.size());
    for (const auto& [key, version] : req.checks)
      checks_.push_back({ShardOfName(key), key, version});
    for (size_t i = 0; i < req.ops.size(); ++i) ops_.push_back(ShardOfName(req.ops[i]->route_key));
  }

  std::set<uint32_t> Shards() const override {
    std::set<uint32_t> out;
    for (const Check& c : checks_) out.insert(c.shard);
    for (uint32_t s : ops_) out.insert(s);
    return out;
  }
  bool conditional() const override { return !checks_.empty(); }

  Status RunPart(uint32_t shard, ShardStore& store, const Clock& clock) override {
    for (const Check& c : checks_) {
      if (c.shard != shard) continue;
      Digest d;
      LITESTASH_RETURN_IF_ERROR(HashOnThisThread(c.key, &d));
      auto current = store.Get(d, clock);
      if (!current.ok()) return current.status();
      const uint64_t now = current.value() ? current.value()->version : 0;
      if (now != c.version) {
        return Status::Conflict("txn check failed: key '" + std::string(c.key.substr(0, 64)) +
                                    "' is at version " + std::to_string(now) + ", not " +
                                    std::to_string(c.version),
                                now, std::string(c.key));
      }
    }
    const Request& req = request();
    for (size_t i = 0; i < req.ops.size(); ++i) {
      if (ops_[i] != shard) continue;
      const Request& op = *req.ops[i];
      WriteOp w;
      w.name = std::string(op.route_key);
      if (op.op_name() == "set") {
        w.kind = WriteOp::kSet;
        w.value = std::string(op.Bytes("value"));
        if (auto ttl = op.Uint("ttl_ms")) w.expires_at = clock.ExpiresAt(*ttl);
      } else if (op.op_name() == "delete") {
        w.kind = WriteOp::kDelete;
      } else {
        w.kind = WriteOp::kAppend;
        w.value = std::string(op.Bytes("value"));
      }
      auto done = ApplyWriteOp(store, w, clock);
      if (!done.ok()) return done.status();
      results_[i] = *done;
    }
    return Status::Ok();
  }

  void Encode(FrameEncoder* out) override {
    const Request& req = request();
    out->BeginOk(req.id, 1);
    out->Key("results");
    out->ArrayHeader(static_cast<uint32_t>(req.ops.size()));
    for (size_t i = 0; i < req.ops.size(); ++i) {
      const std::string_view op = req.ops[i]->op_name();
      if (op == "set") {
        out->Uint(results_[i].version);
      } else if (op == "delete") {
        out->Bool(results_[i].deleted);
      } else {
        out->Uint(results_[i].entry_id);
      }
    }
  }

 private:
  struct Check {
    uint32_t shard;
    std::string_view key;
    uint64_t version;
  };
  uint32_t ShardOfName(std::string_view name) const {
    Digest d;
    if (!HashOnThisThread(name, &d).ok())
      return 0;  // unreachable: the dispatcher hashed it already
    return ShardOf(d, shard_count_);
  }

  const uint32_t shard_count_;
  std::vector<Check> checks_;
  std::vector<uint32_t> ops_;         // each op's shard
  std::vector<WriteResult> results_;  // each op's result, written by its shard's part
};

// A key set or deleted twice in one txn is refused (its final state would depend on order).
Status TxnValidate(const Request& req) {
  std::vector<std::string_view> written;
  for (const RequestPtr& op : req.ops) {
    if (op->op_name() != "xadd") written.push_back(op->route_key);
  }
  std::sort(written.begin(), written.end());
  auto dup = std::adjacent_find(written.begin(), written.end());
  if (dup != written.end()) {
    return Status::InvalidArgument("key '" + std::string(dup->substr(0, 64)) +
                                   "' is set or deleted more than once in one txn");
  }
  return Status::Ok();
}

std::shared_ptr<MultiWrite> MakeTxn(SharedRequest req, const EngineContext& ctx, FrameSink* out) {
  return std::make_shared<TxnWrite>(std::move(req), out, ctx.identity.shards);
}

}  // namespace

Status RegisterTxnFamily(CommandRegistry& r) {
  FieldSpec checks = Of("checks", FieldType::kChecks, false);
  checks.max_items = kMaxTxnOps;
  FieldSpec ops = Of("ops", FieldType::kOps, true);
  ops.max_items = kMaxTxnOps;
  CommandRow txn{MakeSchema("txn", Routing::kMulti, true, {checks, ops}, "txn")};
  txn.schema.nested = {
      {"set", {"key", "value", "ttl_ms"}}, {"delete", {"key"}}, {"xadd", {"stream", "value"}}};
  txn.schema.validate = TxnValidate;
  txn.multi_write = MakeTxn;
  return r.Add(std::move(txn));
}

}  // namespace litestash
