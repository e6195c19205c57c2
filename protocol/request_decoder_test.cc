#include "protocol/request_decoder.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <malloc.h>
#include <new>
#include <msgpack.hpp>
#include <string>
#include <utility>
#include <set>
#include <vector>

#include "common/utf8.h"
#include "engine/command_registry.h"
#include "protocol/wire_error.h"

// Tracks the bytes this test binary holds allocated, and the peak, while `g_counting` is set,
// so a test can bound what decoding one frame holds at once (operator new/delete replaced for
// the whole binary; sizes from malloc_usable_size).
namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_peak{0};
}  // namespace

namespace {
void* CountedAlloc(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p != nullptr && g_counting.load(std::memory_order_relaxed)) {
    const int64_t live = g_live += static_cast<int64_t>(malloc_usable_size(p));
    if (live > g_peak) g_peak = live;
  }
  return p;
}
void CountedFree(void* p) {
  if (p != nullptr && g_counting.load(std::memory_order_relaxed)) {
    g_live -= static_cast<int64_t>(malloc_usable_size(p));
  }
  std::free(p);
}
}  // namespace

// Every non-aligned form, so no allocation of this binary pairs ours with another's.
void* operator new(size_t n) {
  if (void* p = CountedAlloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return CountedAlloc(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return CountedAlloc(n); }
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, size_t) noexcept { CountedFree(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { CountedFree(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { CountedFree(p); }

namespace litestash {
namespace {

template <typename T>
std::string P(const T& v) {
  msgpack::sbuffer b;
  msgpack::pack(b, v);
  return std::string(b.data(), b.size());
}

std::string Raw(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

using Fields = std::vector<std::pair<std::string, std::string>>;  // name, raw value bytes

std::string Body(const Fields& fields) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> pk(b);
  pk.pack_map(static_cast<uint32_t>(fields.size()));
  std::string out(b.data(), b.size());
  for (const auto& [name, value] : fields) out += P(name) + value;
  return out;
}

// id 7, the op, and the given extra fields.
std::string Op(const std::string& op, Fields extra = {}) {
  Fields f{{"id", P(7)}, {"op", P(op)}};
  f.insert(f.end(), extra.begin(), extra.end());
  return Body(f);
}

const OpCatalog& Ops() { return StandardRegistry().catalog(); }

std::vector<const OpSchema*> AllOps() {
  std::vector<const OpSchema*> ops;
  for (size_t i = 0; i < Ops().size(); ++i) ops.push_back(&Ops().At(static_cast<uint16_t>(i)));
  return ops;
}

struct Outcome {
  RequestPtr req;
  DecodeError err;
  std::string code() const { return req ? "ok" : std::string(WireErrorCode(err.status.code())); }
};

Outcome Decode(const std::string& body, Limits limits = {}) {
  Outcome o;
  o.req = DecodeRequest(body, Ops(), limits, &o.err);
  return o;
}

Fields Minimal(const OpSchema& op);

// A valid value for a field of this spec (nested ops: the first op the field allows).
std::string ValidFor(const OpSchema& op, const FieldSpec& f) {
  switch (f.type) {
    case FieldType::kKey:
    case FieldType::kText:
      return P("k");
    case FieldType::kPath:
      return P("/tmp/x");
    case FieldType::kValue:
      return P(1);
    case FieldType::kUint:
      return P(std::max<uint64_t>(f.min, f.has_default ? f.default_value : f.min));
    case FieldType::kKeyArray:
      return P(std::vector<std::string>{"a"});
    case FieldType::kEntries:
      return P(std::vector<std::pair<std::string, int>>{{"a", 1}});
    case FieldType::kUintArray:
      return P(std::vector<int>{1});
    case FieldType::kChecks:
      return P(std::vector<std::pair<std::string, int>>{{"a", 0}});
    case FieldType::kOps: {
      const OpSchema* nested = Ops().Nested(op, op.nested.front().name);
      Fields f2{{"op", P(std::string(nested->name))}};
      for (auto& kv : Minimal(*nested)) f2.push_back(kv);
      return Raw({0x91}) + Body(f2);
    }
  }
  return P(1);
}

// Minimal valid fields for an op: its required fields, each with a valid value (and, for an op
// with a validator of its own, e.g. "at least one of", its optional fields too).
Fields Minimal(const OpSchema& op) {
  Fields out;
  for (const FieldSpec& f : op.fields) {
    const bool wanted = f.required || (op.validate != nullptr && f.name != "shard");
    if (wanted) out.push_back({std::string(f.name), ValidFor(op, f)});
  }
  return out;
}

TEST_CASE("every op decodes with its minimal fields") {
  for (const OpSchema* op : AllOps()) {
    INFO(op->name);
    Outcome o = Decode(Op(std::string(op->name), Minimal(*op)));
    INFO(o.err.status.ToString());
    REQUIRE(o.code() == "ok");
    CHECK(o.req->schema == op);
    CHECK(o.req->id == 7);
  }
}

TEST_CASE("every required field of every op is required") {
  for (const OpSchema* opp : AllOps()) {
    const OpSchema& op = *opp;
    Fields minimal = Minimal(op);
    for (size_t drop = 0; drop < minimal.size(); ++drop) {
      if (!op.Field(minimal[drop].first)->required) continue;
      Fields f = minimal;
      INFO(op.name << " without " << f[drop].first);
      f.erase(f.begin() + static_cast<long>(drop));
      Outcome o = Decode(Op(std::string(op.name), f));
      CHECK(o.code() == "bad_request");
      CHECK(o.err.id == 7u);
      CHECK_THAT(o.err.status.message(), Catch::Contains(minimal[drop].first));
    }
  }
}

TEST_CASE("fields an op does not take are refused, including shard on keyless ops") {
  std::set<std::string> every_field;
  for (const OpSchema* op : AllOps()) {
    for (const FieldSpec& f : op->fields) every_field.insert(std::string(f.name));
  }
  REQUIRE(every_field.count("shard") == 1);
  for (const OpSchema* op : AllOps()) {
    for (const std::string& name : every_field) {
      if (op->Field(name) != nullptr) continue;
      INFO(op->name << " with " << name);
      Fields f = Minimal(*op);
      f.push_back({name, P(1)});
      Outcome o = Decode(Op(std::string(op->name), f));
      CHECK(o.code() == "bad_request");
      CHECK_THAT(o.err.status.message(), Catch::Contains("does not take field '" + name + "'"));
    }
  }
  Outcome bogus = Decode(Op("ping", {{"bogus", P(1)}}));
  CHECK(bogus.code() == "bad_request");
  CHECK_THAT(bogus.err.status.message(), Catch::Contains("unknown field 'bogus'"));
}

TEST_CASE("optional fields are accepted and decoded") {
  Outcome set =
      Decode(Op("set", {{"key", P("k")}, {"value", P("v")}, {"ttl_ms", P(500)}, {"shard", P(3)}}));
  REQUIRE(set.req);
  CHECK(set.req->Uint("ttl_ms") == 500u);
  CHECK(set.req->shard == 3u);
  CHECK(set.req->route_key == "k");
  CHECK(set.req->Bytes("value") == P("v"));
  Outcome scan =
      Decode(Op("scan", {{"prefix", P("user:")}, {"after", P("user:5")}, {"limit", P(10)}}));
  REQUIRE(scan.req);
  CHECK(scan.req->Bytes("prefix") == "user:");
  CHECK(scan.req->OptionalBytes("after") == std::optional<std::string_view>("user:5"));
  CHECK(scan.req->UintOrDefault("limit") == 10);
  Outcome plain = Decode(Op("scan"));
  CHECK(plain.req->UintOrDefault("limit") == 1000);
  CHECK_FALSE(plain.req->Uint("limit").has_value());
  CHECK_FALSE(plain.req->OptionalBytes("after").has_value());
}

TEST_CASE("wrong MessagePack types are type_error") {
  struct Case {
    const char* op;
    Fields fields;
  } cases[] = {
      {"get", {{"key", P(5)}}},
      {"get", {{"key", Raw({0xc4, 0x01, 'k'})}}},  // bin key
      {"get", {{"key", P("k")}, {"shard", P(-1)}}},
      {"get", {{"key", P("k")}, {"shard", P(1.5)}}},
      {"set", {{"key", P("k")}, {"value", P(1)}, {"ttl_ms", P("10")}}},
      {"set", {{"key", P("k")}, {"value", P(1)}, {"ttl_ms", P(-5)}}},
      {"expire", {{"key", P("k")}, {"ttl_ms", P(true)}}},
      {"mget", {{"keys", P("a")}}},
      {"mget", {{"keys", P(std::vector<int>{1, 2})}}},
      {"mdelete", {{"keys", P(std::map<std::string, int>{{"a", 1}})}}},
      {"mset", {{"entries", P(std::map<std::string, int>{{"a", 1}})}}},
      {"mset", {{"entries", P(std::vector<int>{1})}}},
      {"mset", {{"entries", P(std::vector<std::pair<int, int>>{{1, 2}})}}},
      {"scan", {{"prefix", P(1)}}},
      {"scan", {{"after", Raw({0xc0})}}},
      {"scan", {{"limit", P(-1)}}},
  };
  for (const auto& c : cases) {
    INFO(c.op);
    Outcome o = Decode(Op(c.op, c.fields));
    CHECK(o.code() == "type_error");
    CHECK(o.err.id == 7u);
  }
}

TEST_CASE("key rules give invalid_key, in every place a key appears") {
  Limits limits;
  limits.max_key_bytes = 8;
  const std::string bad_utf8 = Raw({0xa2, 0xc3, 0x28});
  for (const std::string& key : {P(""), P("123456789"), bad_utf8, Raw({0xa1, 0x80})}) {
    CHECK(Decode(Op("get", {{"key", key}}), limits).code() == "invalid_key");
    CHECK(Decode(Op("set", {{"key", key}, {"value", P(1)}}), limits).code() == "invalid_key");
    CHECK(Decode(Op("mget", {{"keys", Raw({0x92, 0xa1, 'a'}) + key}}), limits).code() ==
          "invalid_key");
    CHECK(Decode(Op("mset", {{"entries", Raw({0x91, 0x92}) + key + P(1)}}), limits).code() ==
          "invalid_key");
  }
  CHECK(Decode(Op("get", {{"key", P("12345678")}}), limits).code() == "ok");
  CHECK(Decode(Op("get", {{"key", P("caf\xC3\xA9")}}), limits).code() == "ok");
}

TEST_CASE("value size is bounded by max_value_bytes, measured on its encoding") {
  Limits limits;
  limits.max_value_bytes = 10;
  const std::string nine = P(std::string(8, 'x'));  // fixstr header + 8 = 9 bytes
  const std::string eleven = P(std::string(10, 'x'));
  CHECK(Decode(Op("set", {{"key", P("k")}, {"value", nine}}), limits).code() == "ok");
  CHECK(Decode(Op("set", {{"key", P("k")}, {"value", eleven}}), limits).code() ==
        "value_too_large");
  CHECK(Decode(Op("mset", {{"entries", Raw({0x91, 0x92, 0xa1, 'k'}) + eleven}}), limits).code() ==
        "value_too_large");
}

TEST_CASE("ranges: ttl_ms >= 1, 1 <= limit <= 10000, prefix/after bounded") {
  CHECK(Decode(Op("set", {{"key", P("k")}, {"value", P(1)}, {"ttl_ms", P(0)}})).code() ==
        "bad_request");
  CHECK(Decode(Op("expire", {{"key", P("k")}, {"ttl_ms", P(0)}})).code() == "bad_request");
  CHECK(Decode(Op("mset", {{"entries", Raw({0x90})}, {"ttl_ms", P(0)}})).code() == "bad_request");
  CHECK(Decode(Op("scan", {{"limit", P(0)}})).code() == "bad_request");
  CHECK(Decode(Op("scan", {{"limit", P(10001)}})).code() == "bad_request");
  CHECK(Decode(Op("scan", {{"limit", P(10000)}})).code() == "ok");
  CHECK(Decode(Op("scan", {{"prefix", P(std::string(1025, 'p'))}})).code() == "bad_request");
  CHECK(Decode(Op("scan", {{"after", Raw({0xa1, 0xff})}})).code() == "bad_request");
}

TEST_CASE("entries must be [key, value] pairs") {
  CHECK(Decode(Op("mset", {{"entries", Raw({0x91, 0x93, 0xa1, 'k', 1, 2})}})).code() ==
        "bad_request");
  CHECK(Decode(Op("mset", {{"entries", Raw({0x91, 0x91, 0xa1, 'k'})}})).code() == "bad_request");
  CHECK(Decode(Op("mset", {{"entries", Raw({0x90})}})).code() == "ok");
  CHECK(Decode(Op("mget", {{"keys", Raw({0x90})}})).code() == "ok");
}

TEST_CASE("values are sliced out of the frame byte for byte") {
  const std::string values[] = {Raw({0xcc, 0x05}),
                                Raw({0xca, 0x3f, 0xc0, 0, 0}),
                                Raw({0xd9, 0x03, 'a', 'b', 'c'}),
                                Raw({0xd4, 0x01, 0xaa}),
                                Raw({0xc7, 0x02, 0x10, 1, 2}),
                                Raw({0xc0}),
                                Raw({0x81, 0xa1, 'k', 0x92, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xc3})};
  for (const std::string& v : values) {
    Outcome set = Decode(Op("set", {{"key", P("k")}, {"value", v}}));
    REQUIRE(set.req);
    const std::string_view value = set.req->Bytes("value");
    CHECK(value == v);
    CHECK(value.data() >= set.req->frame.data());
    CHECK(value.data() < set.req->frame.data() + set.req->frame.size());
    Outcome mset = Decode(
        Op("mset", {{"entries", Raw({0x92, 0x92, 0xa1, 'a'}) + v + Raw({0x92, 0xa1, 'b'}) + v}}));
    REQUIRE(mset.req);
    REQUIRE(mset.req->entries.size() == 2);
    CHECK(mset.req->entries[0].first == "a");
    CHECK(mset.req->entries[0].second == v);
    CHECK(mset.req->entries[1].second == v);
  }
}

TEST_CASE("shape errors and id handling follow the documented precedence") {
  // Not MessagePack / not a map / non-str field names: id nil.
  CHECK(Decode(Raw({0xc1})).code() == "bad_request");
  CHECK_FALSE(Decode(Raw({0xc1})).err.id.has_value());
  CHECK(Decode(P(std::vector<int>{1})).code() == "bad_request");
  CHECK(Decode(Raw({0x82, 0xa2, 'i', 'd', 0x01})).code() == "bad_request");  // truncated map
  CHECK_FALSE(Decode(Raw({0x82, 0xa2, 'i', 'd', 0x01})).err.id.has_value());
  Outcome intkey =
      Decode(Raw({0x83, 0xa2, 'i', 'd', 1, 0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g', 0x01, 0x02}));
  CHECK(intkey.code() == "bad_request");
  CHECK_FALSE(intkey.err.id.has_value());
  // id: missing -> bad_request nil; wrong type -> type_error nil, even with an unknown op.
  Outcome no_id = Decode(Body({{"op", P("nope")}}));
  CHECK(no_id.code() == "bad_request");
  CHECK_FALSE(no_id.err.id.has_value());
  Outcome neg_id = Decode(Body({{"id", P(-1)}, {"op", P("ping")}}));
  CHECK(neg_id.code() == "type_error");
  CHECK_FALSE(neg_id.err.id.has_value());
  CHECK(Decode(Body({{"id", P("7")}, {"op", P("ping")}})).code() == "type_error");
  // From here on the id is echoed.
  Outcome trailing = Decode(Op("ping") + Raw({0xc0}));
  CHECK(trailing.code() == "bad_request");
  CHECK(trailing.err.id == 7u);
  Outcome dup = Decode(Body({{"id", P(7)}, {"op", P("get")}, {"key", P("a")}, {"key", P("b")}}));
  CHECK(dup.code() == "bad_request");
  CHECK_THAT(dup.err.status.message(), Catch::Contains("duplicate"));
  CHECK(Decode(Body({{"id", P(7)}})).code() == "bad_request");
  CHECK(Decode(Body({{"id", P(7)}, {"op", P(1)}})).code() == "type_error");
  Outcome unknown = Decode(Op("frobnicate", {{"whatever", P(1)}}));
  CHECK(unknown.code() == "unknown_op");
  CHECK(unknown.err.id == 7u);
  // Unknown field beats missing field beats type error beats key rules.
  CHECK(Decode(Op("get", {{"bogus", P(1)}})).code() == "bad_request");
  CHECK(Decode(Op("set", {{"key", P("")}})).code() == "bad_request");
  CHECK(Decode(Op("set", {{"key", P("")}, {"value", P(1)}, {"ttl_ms", P("x")}})).code() ==
        "type_error");
  CHECK(Decode(Op("set", {{"key", P("")}, {"value", P(1)}, {"ttl_ms", P(0)}})).code() ==
        "invalid_key");
}

// Regressions found by request_decoder_fuzz: error messages quote host bytes and must stay valid
// UTF-8 (strict MessagePack decoders reject a str that is not).
TEST_CASE("error messages are valid UTF-8 whatever the host sent") {
  const std::string bad_op = Raw({0xa3, 0xff, 'x', 0xc3});
  Outcome o = Decode(Body({{"id", P(7)}, {"op", bad_op}}));
  REQUIRE(o.code() == "unknown_op");
  CHECK(IsValidUtf8(o.err.status.message()));
  CHECK_THAT(o.err.status.message(), Catch::Contains("\\xFF"));
  // A long op of 2-byte characters: the quote is cut at a character boundary.
  std::string e_acute;
  for (int i = 0; i < 100; ++i) e_acute += "\xC3\xA9";
  Outcome cut = Decode(Op(e_acute));
  REQUIRE(cut.code() == "unknown_op");
  CHECK(IsValidUtf8(cut.err.status.message()));
  Outcome field = Decode(Op("ping", {{std::string("\x01" "bad\xF0\x9F", 6), P(1)}}));
  CHECK(field.code() == "bad_request");
  CHECK(IsValidUtf8(field.err.status.message()));
}

TEST_CASE("multi-key requests are bounded in count, not only by the frame size") {
  std::vector<std::string> keys(kMaxItemsPerRequest, "k");
  CHECK(Decode(Op("mget", {{"keys", P(keys)}})).code() == "ok");
  keys.push_back("k");
  Outcome too_many = Decode(Op("mget", {{"keys", P(keys)}}));
  CHECK(too_many.code() == "bad_request");
  CHECK_THAT(too_many.err.status.message(), Catch::Contains("at most"));
  // A declared count far above what the frame holds is malformed, never allocated for.
  CHECK(Decode(Op("mdelete", {{"keys", Raw({0xdd, 0x00, 0x10, 0x00, 0x00, 0xa1, 'k'})}})).code() ==
        "bad_request");
}

// Regression: the decoder once reserve()d list storage from the count an array header declared
// (the host's claim), so a frame of a few bytes could make it allocate megabytes.
TEST_CASE("decoding allocates in proportion to the frame, never to a declared count") {
  // An array16 of `n` one-byte items (fixint 1): a count the frame really holds, of items that
  // are all the wrong type, so nothing but the frame itself needs to be kept.
  auto ones = [](int n) {
    std::string a = Raw({0xdc, (n >> 8) & 0xff, n & 0xff});
    a.append(static_cast<size_t>(n), '\x01');
    return a;
  };
  struct Case {
    const char* what;
    std::string body;
    int64_t per_frame_byte;  // what the request may hold per byte of frame
    const char* code;
  } cases[] = {
      // Reserving from the count would hold 16 (keys) or 32 (entries) bytes per frame byte.
      {"60000 one-byte keys", Op("mget", {{"keys", ones(60000)}}), 2, "type_error"},
      {"60000 one-byte entries", Op("mset", {{"entries", ones(60000)}}), 2, "type_error"},
      {"60000 one-byte mdelete keys", Op("mdelete", {{"keys", ones(60000)}}), 2, "type_error"},
      // A valid request: its lists grow with what is really there (16 bytes per 2-byte key).
      {"3000 keys", Op("mget", {{"keys", P(std::vector<std::string>(3000, "k"))}}), 24, "ok"},
  };
  (void)Decode(Op("ping"));  // builds the registry (once per process) before counting
  for (const auto& c : cases) {
    INFO(c.what);
    g_live = 0;
    g_peak = 0;
    g_counting = true;
    std::string code;
    {
      Outcome o = Decode(c.body);
      code = o.code();
    }
    g_counting = false;
    CHECK(code == c.code);
    const int64_t bound = 16 * 1024 + c.per_frame_byte * static_cast<int64_t>(c.body.size());
    CHECK(g_peak.load() <= bound);
    CHECK(g_peak.load() >= static_cast<int64_t>(c.body.size()));  // the frame copy is counted
    CHECK(g_live.load() <= 0);  // and everything was given back
  }
}

TEST_CASE("the largest id round-trips") {
  Outcome o = Decode(Body(
      {{"id", Raw({0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})}, {"op", P("ping")}}));
  REQUIRE(o.req);
  CHECK(o.req->id == UINT64_MAX);
}

}  // namespace
}  // namespace litestash
