#include "protocol/request_decoder.h"

#include <catch2/catch.hpp>
#include <msgpack.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/utf8.h"

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

struct Outcome {
  RequestPtr req;
  DecodeError err;
  std::string code() const { return req ? "ok" : std::string(ErrorCodeName(err.status.code())); }
};

Outcome Decode(const std::string& body, Limits limits = {}) {
  Outcome o;
  o.req = DecodeRequest(body, limits, &o.err);
  return o;
}

// Minimal valid fields for each op.
Fields Minimal(const std::string& op) {
  if (op == "set") return {{"key", P("k")}, {"value", P(1)}};
  if (op == "mset") return {{"entries", P(std::vector<std::pair<std::string, int>>{{"a", 1}})}};
  if (op == "mget" || op == "mdelete") return {{"keys", P(std::vector<std::string>{"a"})}};
  if (op == "expire") return {{"key", P("k")}, {"ttl_ms", P(10)}};
  if (op == "get" || op == "delete" || op == "exists" || op == "ttl" || op == "persist") {
    return {{"key", P("k")}};
  }
  return {};
}

TEST_CASE("every op decodes with its minimal fields") {
  for (const OpSchema& op : AllOps()) {
    INFO(op.name);
    Outcome o = Decode(Op(std::string(op.name), Minimal(std::string(op.name))));
    REQUIRE(o.code() == "ok");
    CHECK(o.req->op == op.code);
    CHECK(o.req->id == 7);
  }
}

TEST_CASE("every required field of every op is required") {
  for (const OpSchema& op : AllOps()) {
    Fields minimal = Minimal(std::string(op.name));
    for (size_t drop = 0; drop < minimal.size(); ++drop) {
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
  for (const OpSchema& op : AllOps()) {
    for (const FieldSpec& field : AllFields()) {
      if ((op.required | op.optional) & Bit(field.id)) continue;
      INFO(op.name << " with " << field.name);
      Fields f = Minimal(std::string(op.name));
      f.push_back({std::string(field.name), P(1)});
      CHECK(Decode(Op(std::string(op.name), f)).code() == "bad_request");
    }
  }
  CHECK(Decode(Op("ping", {{"bogus", P(1)}})).code() == "bad_request");
}

TEST_CASE("optional fields are accepted and decoded") {
  Outcome set =
      Decode(Op("set", {{"key", P("k")}, {"value", P("v")}, {"ttl_ms", P(500)}, {"shard", P(3)}}));
  REQUIRE(set.req);
  CHECK(set.req->ttl_ms == 500u);
  CHECK(set.req->shard == 3u);
  Outcome scan =
      Decode(Op("scan", {{"prefix", P("user:")}, {"after", P("user:5")}, {"limit", P(10)}}));
  REQUIRE(scan.req);
  CHECK(scan.req->prefix == "user:");
  CHECK(scan.req->after == std::optional<std::string_view>("user:5"));
  CHECK(scan.req->limit == 10);
  Outcome plain = Decode(Op("scan"));
  CHECK(plain.req->limit == kDefaultScanLimit);
  CHECK_FALSE(plain.req->after.has_value());
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
    CHECK(set.req->value == v);
    CHECK(set.req->value.data() >= set.req->frame.data());
    CHECK(set.req->value.data() < set.req->frame.data() + set.req->frame.size());
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
  std::vector<std::string> keys(kMaxKeysPerRequest, "k");
  CHECK(Decode(Op("mget", {{"keys", P(keys)}})).code() == "ok");
  keys.push_back("k");
  Outcome too_many = Decode(Op("mget", {{"keys", P(keys)}}));
  CHECK(too_many.code() == "bad_request");
  CHECK_THAT(too_many.err.status.message(), Catch::Contains("at most"));
  // A declared count far above what the frame holds is malformed, never allocated for.
  CHECK(Decode(Op("mdelete", {{"keys", Raw({0xdd, 0x00, 0x10, 0x00, 0x00, 0xa1, 'k'})}})).code() ==
        "bad_request");
}

TEST_CASE("the largest id round-trips") {
  Outcome o = Decode(Body(
      {{"id", Raw({0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})}, {"op", P("ping")}}));
  REQUIRE(o.req);
  CHECK(o.req->id == UINT64_MAX);
}

}  // namespace
}  // namespace litestash
