// The command registry: the standard rows are well formed, and a test-only op needs nothing but
// its row and its handlers — decoding, routing, the shard thread, the reader thread's inline
// path, fan-outs, `hello`'s features and nested ops all come from the row.
#include "engine/command_registry.h"

#include <catch2/catch.hpp>
#include <set>

#include "engine/read_path.h"
#include "engine/test_harness.h"
#include "protocol/request_decoder.h"
#include "protocol/wire_error.h"
#include "shard/test_dir.h"

namespace litestash {
namespace {

using testing::Harness;
using testing::KeyReq;
using testing::Req;
using testing::SetReq;

// --- the test-only ops -----------------------------------------------------------------------

// "vlen": the byte length of a key's stored value (0 when absent), read on the shard thread or,
// when its shard has no pending write, inline on the reader thread. `answered_inline` is
// reported so the test can tell the paths apart.
void EncodeVlen(const Request& req, size_t len, bool inline_path, FrameEncoder* out) {
  out->BeginOk(req.id, 2);
  out->Key("length");
  out->Uint(len);
  out->Key("inline");
  out->Bool(inline_path);
}

Status Vlen(const Request& req, ShardCall& call, FrameEncoder* out) {
  auto got = call.store.Get(call.digest, call.clock);
  if (!got.ok()) return got.status();
  EncodeVlen(req, got.value() ? got.value()->value.size() : 0, false, out);
  return Status::Ok();
}

bool VlenInline(const Request& req, InlineCall& call, FrameEncoder* out, Status* status) {
  const StoredRecord* row = nullptr;
  if (!call.read_path.Read(req.route_key, *call.digest, call.shard, &row, status)) return false;
  if (status->ok()) EncodeVlen(req, row ? row->stored.value.size() : 0, true, out);
  return true;
}

// "nkeys": a fan-out over every shard that sums the live keys (like count).
class NkeysOp : public SumOp {
 public:
  NkeysOp(SharedRequest request, FrameSink* out) : SumOp(std::move(request), out, "nkeys") {}
  Status RunPart(size_t part, ShardStore& store, const Clock& clock) override {
    auto n = store.CountLive(clock);
    if (!n.ok()) return n.status();
    SlotOf(part) = *n;
    return Status::Ok();
  }
};

std::shared_ptr<FanOutOp> MakeNkeys(SharedRequest req, const EngineContext&, FrameSink* out) {
  return std::make_shared<NkeysOp>(std::move(req), out);
}

// "batch": a kOps field of nested set/delete ops (decoding only; answered with the count).
std::shared_ptr<FanOutOp> MakeBatch(SharedRequest req, const EngineContext&, FrameSink* out) {
  class Count : public FanOutOp {
   public:
    using FanOutOp::FanOutOp;
    Status RunPart(size_t, ShardStore&, const Clock&) override { return Status::Ok(); }
    void Encode(FrameEncoder* o) override {
      o->BeginOk(request().id, 1);
      o->Key("ops");
      o->Uint(request().ops.size());
    }
  };
  return std::make_shared<Count>(std::move(req), out);
}

const CommandRegistry& TestRegistry() {
  static const CommandRegistry* registry = [] {
    auto* r = new CommandRegistry();
    REQUIRE(RegisterStandardFamilies(*r).ok());
    CommandRow vlen{MakeSchema("vlen", Routing::kKeyed, false, {fields::Key(), fields::Shard()},
                               "vlen-test", "key")};
    vlen.run = Vlen;
    vlen.inline_read = VlenInline;
    REQUIRE(r->Add(std::move(vlen)).ok());
    CommandRow nkeys{MakeSchema("nkeys", Routing::kAllShards, false, {})};
    nkeys.fan_out = MakeNkeys;
    REQUIRE(r->Add(std::move(nkeys)).ok());
    CommandRow batch{MakeSchema("batch", Routing::kAllShards, true,
                                {fields::Of("ops", FieldType::kOps, true)})};
    batch.schema.nested = {{"set", {"key", "value", "ttl_ms"}}, {"delete", {"key"}}};
    batch.fan_out = MakeBatch;
    REQUIRE(r->Add(std::move(batch)).ok());
    return r;
  }();
  return *registry;
}

// --- the standard rows ---------------------------------------------------------------------

TEST_CASE("the standard registry is well formed and lists the v1 features") {
  const CommandRegistry& r = StandardRegistry();
  const std::set<std::string_view> features(r.features().begin(), r.features().end());
  for (std::string_view f : {"ttl", "scan", "mget", "mset", "mdelete", "sync", "stats"}) {
    CHECK(features.count(f) == 1);
  }
  CHECK(features.size() == r.features().size());  // each once
  for (std::string_view op : {"hello", "ping", "set", "get", "delete", "exists", "mset", "mget",
                              "mdelete", "scan", "count", "clear", "expire", "ttl", "persist",
                              "stats", "sync"}) {
    INFO(op);
    const OpSchema* schema = r.catalog().Find(op);
    REQUIRE(schema != nullptr);
    const CommandRow& row = r.RowOf(*[&] {
      auto req = std::make_unique<Request>();
      req->schema = schema;
      return req;
    }());
    CHECK(row.schema.name == op);
  }
}

TEST_CASE("a row whose handlers do not match its routing is refused") {
  CommandRegistry r;
  CommandRow keyed_without_run{MakeSchema("x", Routing::kKeyed, false, {fields::Key()}, "", "key")};
  CHECK_FALSE(r.Add(std::move(keyed_without_run)).ok());
  CommandRow local_with_fanout{MakeSchema("y", Routing::kLocal, false, {})};
  local_with_fanout.fan_out = MakeNkeys;
  CHECK_FALSE(r.Add(std::move(local_with_fanout)).ok());
  CommandRow writing_inline{MakeSchema("z", Routing::kKeyed, true, {fields::Key()}, "", "key")};
  writing_inline.run = Vlen;
  writing_inline.inline_read = VlenInline;
  CHECK_FALSE(r.Add(std::move(writing_inline)).ok());
}

// --- a test-only op, end to end --------------------------------------------------------------

std::map<std::string, msgpack::object> Vlen(Harness& h, uint64_t id, const std::string& key) {
  return h.Call(id, KeyReq(id, "vlen", key));
}

TEST_CASE("a test-only keyed op runs on its shard thread with nothing but its row") {
  Harness h(4, "", "", TestRegistry());
  REQUIRE(h.Call(1, SetReq(1, "k", 300)).at("ok").as<bool>());  // 300: uint16, 3 bytes
  auto got = Vlen(h, 2, "k");
  REQUIRE(got.at("ok").as<bool>());
  CHECK(got.at("length").as<int>() == 3);
  CHECK_FALSE(got.at("inline").as<bool>());  // in memory: no read path, so the shard thread
  CHECK(Vlen(h, 3, "absent").at("length").as<int>() == 0);
  // Decoding and routing come from the row too: a missing key, a wrong shard.
  auto missing = h.Call(4, Req(4, "vlen"));
  CHECK(missing.at("error").as<std::map<std::string, std::string>>().at("code") == "bad_request");
  auto hello = h.Call(5, Req(5, "hello"));
  auto features = hello.at("features").as<std::vector<std::string>>();
  CHECK(std::count(features.begin(), features.end(), "vlen-test") == 1);
}

TEST_CASE("a test-only read is answered inline by the reader thread on files") {
  testing::TempDir dir;
  Harness h(4, dir.path().string(), "", TestRegistry());
  REQUIRE(h.Call(1, SetReq(1, "k", 300)).at("ok").as<bool>());
  auto got = Vlen(h, 2, "k");
  CHECK(got.at("length").as<int>() == 3);
  CHECK(got.at("inline").as<bool>());
}

TEST_CASE("a test-only fan-out op runs a part on every shard") {
  Harness h(4, "", "", TestRegistry());
  for (int i = 0; i < 20; ++i) {
    REQUIRE(h.Call(i + 1, SetReq(i + 1, "k" + std::to_string(i), i)).at("ok").as<bool>());
  }
  CHECK(h.Call(100, Req(100, "nkeys")).at("nkeys").as<int>() == 20);
}

// --- nested ops ----------------------------------------------------------------------------

template <typename T>
std::string Pack(const T& v) {
  msgpack::sbuffer b;
  msgpack::pack(b, v);
  return std::string(b.data(), b.size());
}

// {"id": 7, "op": "batch", "ops": <raw>}
std::string Batch(const std::string& raw_ops) {
  return "\x83" + Pack(std::string("id")) +
         Pack(7) + Pack(std::string("op")) + Pack(std::string("batch")) +
         Pack(std::string("ops")) + raw_ops;
}

struct Decoded {
  RequestPtr req;
  DecodeError err;
  std::string code() const { return req ? "ok" : std::string(WireErrorCode(err.status.code())); }
};

Decoded DecodeBatch(const std::string& raw_ops) {
  Decoded d;
  d.req = DecodeRequest(Batch(raw_ops), TestRegistry().catalog(), Limits{}, &d.err);
  return d;
}

using Op = std::map<std::string, msgpack::type::variant>;

std::string Ops(const std::vector<Op>& ops) { return Pack(ops); }

TEST_CASE("nested ops decode through the rows of the ops of their names") {
  Decoded d = DecodeBatch(
      Ops({{{"op", std::string("set")}, {"key", std::string("a")}, {"value", 5}},
           {{"op", std::string("delete")}, {"key", std::string("b")}}}));
  INFO(d.err.status.ToString());
  REQUIRE(d.code() == "ok");
  REQUIRE(d.req->ops.size() == 2);
  const Request& set = *d.req->ops[0];
  CHECK(set.op_name() == "set");
  CHECK(set.route_key == "a");
  CHECK(set.Bytes("value") == Pack(5));
  CHECK(set.id == 7);
  CHECK(&TestRegistry().RowOf(set) == &TestRegistry().RowOf(*[] {
    auto r = std::make_unique<Request>();
    r->schema = TestRegistry().catalog().Find("set");
    return r;
  }()));
  CHECK(d.req->ops[1]->op_name() == "delete");
  CHECK(d.req->ops[1]->route_key == "b");
}

TEST_CASE("nested ops are validated like the ops of their names") {
  struct Case {
    const char* what;
    std::string ops;
    const char* code;
  } cases[] = {
      {"empty key", Ops({{{"op", std::string("set")}, {"key", std::string("")}, {"value", 1}}}),
       "invalid_key"},
      {"int key", Ops({{{"op", std::string("delete")}, {"key", 5}}}), "type_error"},
      {"ttl 0",
       Ops({{{"op", std::string("set")}, {"key", std::string("k")}, {"value", 1}, {"ttl_ms", 0}}}),
       "bad_request"},
      {"shard not taken",
       Ops({{{"op", std::string("set")}, {"key", std::string("k")}, {"value", 1}, {"shard", 1}}}),
       "bad_request"},
      {"unknown field", Ops({{{"op", std::string("delete")}, {"key", std::string("k")}, {"zz", 1}}}),
       "bad_request"},
      {"missing value", Ops({{{"op", std::string("set")}, {"key", std::string("k")}}}),
       "bad_request"},
      {"op not allowed", Ops({{{"op", std::string("get")}, {"key", std::string("k")}}}),
       "bad_request"},
      {"unknown op", Ops({{{"op", std::string("frob")}, {"key", std::string("k")}}}), "unknown_op"},
      {"no op", Ops({{{"key", std::string("k")}}}), "bad_request"},
      {"not a map", Pack(std::vector<int>{1}), "type_error"},
      {"empty", Pack(std::vector<int>{}), "bad_request"},
      {"not an array", Pack(3), "type_error"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    Decoded d = DecodeBatch(c.ops);
    CHECK(d.code() == c.code);
    CHECK(d.err.id == 7u);
  }
  Decoded where = DecodeBatch(
      Ops({{{"op", std::string("delete")}, {"key", std::string("ok")}},
           {{"op", std::string("set")}, {"key", std::string("")}, {"value", 1}}}));
  CHECK_THAT(where.err.status.message(), Catch::Contains("'ops'[1]"));
}

}  // namespace
}  // namespace litestash
