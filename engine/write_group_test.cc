// Multi-shard writes through the whole request path (Session -> Dispatcher -> write groups ->
// real shard files): txn all or nothing, checks refusing the whole txn with `conflict`, mset
// and mdelete across shards, compare-and-set on single keys, ordering against pipelined
// requests, and the bookkeeping (marks, intents) gone once the writes are done.
#include "engine/write_group.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "engine/test_harness.h"
#include "shard/test_dir.h"

namespace litestash {
namespace {

using testing::Frame;
using testing::Harness;
using testing::KeyReq;
using testing::Req;
using testing::SetReq;
using Answer = std::map<std::string, msgpack::object>;

std::string Code(const Answer& a) {
  if (a.at("ok").as<bool>()) return "ok";
  return a.at("error").as<std::map<std::string, msgpack::object>>().at("code").as<std::string>();
}

std::map<std::string, msgpack::object> ErrorOf(const Answer& a) {
  return a.at("error").as<std::map<std::string, msgpack::object>>();
}

struct Op {
  std::string op, key;
  int value = 0;
};

// {id, op: txn, checks: [[key, version]...], ops: [...]}
std::string Txn(uint64_t id, const std::vector<std::pair<std::string, uint64_t>>& checks,
                const std::vector<Op>& ops) {
  return Req(id, "txn", checks.empty() ? 1 : 2, [&](auto& pk) {
    if (!checks.empty()) {
      pk.pack(std::string("checks"));
      pk.pack_array(static_cast<uint32_t>(checks.size()));
      for (const auto& [k, v] : checks) {
        pk.pack_array(2);
        pk.pack(k);
        pk.pack(v);
      }
    }
    pk.pack(std::string("ops"));
    pk.pack_array(static_cast<uint32_t>(ops.size()));
    for (const Op& o : ops) {
      const bool has_value = o.op != "delete";
      pk.pack_map(has_value ? 3 : 2);
      pk.pack(std::string("op"));
      pk.pack(o.op);
      pk.pack(std::string(o.op == "xadd" ? "stream" : "key"));
      pk.pack(o.key);
      if (has_value) {
        pk.pack(std::string("value"));
        pk.pack(o.value);
      }
    }
  });
}

std::string CasSet(uint64_t id, const std::string& key, int value, uint64_t if_version) {
  return Req(id, "set", 3, [&](auto& pk) {
    pk.pack(std::string("key"));
    pk.pack(key);
    pk.pack(std::string("value"));
    pk.pack(value);
    pk.pack(std::string("if_version"));
    pk.pack(if_version);
  });
}

std::optional<int> Value(Harness& h, uint64_t id, const std::string& key) {
  auto a = h.Call(id, KeyReq(id, "get", key));
  if (!a.at("found").as<bool>()) return std::nullopt;
  return a.at("value").as<int>();
}

int64_t CountRows(const testing::TempDir& dir, int shards, const char* table) {
  int64_t total = 0;
  for (int i = 0; i < shards; ++i) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2((dir.path() / ("shard-" + std::to_string(i) + ".db")).c_str(), &db,
                            SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    const std::string sql = std::string("SELECT count(*) FROM ") + table;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    total += sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  return total;
}

std::vector<Op> Sets(const std::string& prefix, int n, int value) {
  std::vector<Op> ops;
  for (int i = 0; i < n; ++i) ops.push_back({"set", prefix + std::to_string(i), value});
  return ops;
}

TEST_CASE("a txn over several shards applies every op and answers each result") {
  testing::TempDir dir;
  Harness h(4, dir.path().string());
  std::vector<Op> ops = Sets("t", 8, 5);
  ops.push_back({"xadd", "events", 1});
  ops.push_back({"delete", "nothing"});
  auto a = h.Call(1, Txn(1, {}, ops));
  REQUIRE(Code(a) == "ok");
  auto results = a.at("results").as<std::vector<msgpack::object>>();
  REQUIRE(results.size() == 10);
  for (int i = 0; i < 8; ++i) {
    auto got = h.Call(100 + i, KeyReq(100 + i, "get", "t" + std::to_string(i)));
    CHECK(got.at("value").as<int>() == 5);
    CHECK(got.at("version").as<uint64_t>() == results[i].as<uint64_t>());
  }
  CHECK(results[8].as<uint64_t>() == 1);  // the first entry of the stream
  CHECK(results[9].as<bool>() == false);
  // Marks are gone with their parts; intents once the coordinator ran its next batch.
  CHECK(CountRows(dir, 4, "txn_pending") == 0);
  for (int i = 0; i < 200 && CountRows(dir, 4, "txn_intents") > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(CountRows(dir, 4, "txn_intents") == 0);
}

TEST_CASE("a failed check refuses the whole txn with conflict, key and version") {
  testing::TempDir dir;
  Harness h(4, dir.path().string());
  const uint64_t v = h.Call(1, SetReq(1, "balance", 10)).at("version").as<uint64_t>();
  auto refused = h.Call(2, Txn(2, {{"balance", v + 1}}, Sets("r", 6, 1)));
  REQUIRE(Code(refused) == "conflict");
  auto error = ErrorOf(refused);
  CHECK(error.at("key").as<std::string>() == "balance");
  CHECK(error.at("version").as<uint64_t>() == v);
  for (int i = 0; i < 6; ++i) CHECK_FALSE(Value(h, 10 + i, "r" + std::to_string(i)).has_value());
  // Absent keys check as version 0.
  auto absent = h.Call(3, Txn(3, {{"nobody", 0}, {"balance", v}}, Sets("r", 6, 2)));
  REQUIRE(Code(absent) == "ok");
  for (int i = 0; i < 6; ++i) CHECK(Value(h, 20 + i, "r" + std::to_string(i)) == 2);
}

TEST_CASE("pipelined writes around refused and applied txns keep request order") {
  testing::TempDir dir;
  Harness h(4, dir.path().string());
  // One chunk: set, txn (ok), txn (refused), mset, txn overwriting, get.
  std::string chunk = Frame(SetReq(1, "x", 1));
  chunk += Frame(Txn(2, {}, {{"set", "x", 2}, {"set", "y", 2}}));
  chunk += Frame(Txn(3, {{"x", 12345}}, {{"set", "x", 3}, {"set", "z", 3}}));
  chunk += Frame(Req(4, "mset", 1, [&](auto& pk) {
    pk.pack(std::string("entries"));
    pk.pack(std::vector<std::pair<std::string, int>>{{"x", 4}, {"y", 4}, {"w", 4}});
  }));
  chunk += Frame(Txn(5, {}, {{"set", "y", 5}, {"delete", "w"}}));
  chunk += Frame(KeyReq(6, "get", "x"));
  chunk += Frame(KeyReq(7, "get", "y"));
  chunk += Frame(KeyReq(8, "exists", "w"));
  chunk += Frame(KeyReq(9, "exists", "z"));
  h.Feed(chunk);
  CHECK(Code(h.Await(2)) == "ok");
  CHECK(Code(h.Await(3)) == "conflict");
  CHECK(Code(h.Await(4)) == "ok");
  CHECK(Code(h.Await(5)) == "ok");
  CHECK(h.Await(6).at("value").as<int>() == 4);
  CHECK(h.Await(7).at("value").as<int>() == 5);
  CHECK_FALSE(h.Await(8).at("exists").as<bool>());
  CHECK_FALSE(h.Await(9).at("exists").as<bool>());
}

TEST_CASE("a key written twice in one txn is a bad request") {
  Harness h(4);
  auto a = h.Call(1, Txn(1, {}, {{"set", "k", 1}, {"delete", "k"}}));
  CHECK(Code(a) == "bad_request");
  auto streams =
      h.Call(2, Txn(2, {{"k", 0}}, {{"xadd", "s", 1}, {"xadd", "s", 2}, {"set", "k", 1}}));
  CHECK(Code(streams) == "ok");  // several appends to one stream, and a check of a written key
}

TEST_CASE("compare-and-set on one key: if_version, 0 for absent, conflict with the version") {
  Harness h(4);
  auto created = h.Call(1, CasSet(1, "c", 1, 0));
  REQUIRE(Code(created) == "ok");
  const uint64_t v1 = created.at("version").as<uint64_t>();
  auto again = h.Call(2, CasSet(2, "c", 9, 0));
  REQUIRE(Code(again) == "conflict");
  CHECK(ErrorOf(again).at("version").as<uint64_t>() == v1);
  auto next = h.Call(3, CasSet(3, "c", 2, v1));
  REQUIRE(Code(next) == "ok");
  const uint64_t v2 = next.at("version").as<uint64_t>();
  CHECK(Code(h.Call(4, CasSet(4, "c", 3, v1))) == "conflict");
  auto del = h.Call(5, Req(5, "delete", 2, [&](auto& pk) {
                      pk.pack(std::string("key"));
                      pk.pack(std::string("c"));
                      pk.pack(std::string("if_version"));
                      pk.pack(v1);
                    }));
  CHECK(Code(del) == "conflict");
  CHECK(Value(h, 6, "c") == 2);
  // A refusal fails only itself: pipelined with other writes of the same shard's batch.
  std::string chunk;
  for (int i = 0; i < 20; ++i) chunk += Frame(CasSet(100 + i, "c", 100 + i, v2));
  h.Feed(chunk);
  int won = 0;
  for (int i = 0; i < 20; ++i) won += Code(h.Await(100 + i)) == "ok" ? 1 : 0;
  CHECK(won == 1);
  CHECK(Value(h, 7, "c") == 100);
}

TEST_CASE("mset and mdelete across shards, and clear across shards") {
  testing::TempDir dir;
  Harness h(4, dir.path().string());
  std::vector<std::pair<std::string, int>> entries;
  std::vector<std::string> keys;
  for (int i = 0; i < 64; ++i) {
    entries.push_back({"m" + std::to_string(i), i});
    keys.push_back("m" + std::to_string(i));
  }
  auto set = h.Call(1, Req(1, "mset", 1, [&](auto& pk) {
                      pk.pack(std::string("entries"));
                      pk.pack(entries);
                    }));
  CHECK(set.at("count").as<int>() == 64);
  auto del = h.Call(2, Req(2, "mdelete", 1, [&](auto& pk) {
                      pk.pack(std::string("keys"));
                      pk.pack(std::vector<std::string>(keys.begin(), keys.begin() + 10));
                    }));
  CHECK(del.at("deleted").as<int>() == 10);
  CHECK(h.Call(3, Req(3, "count")).at("count").as<int>() == 54);
  CHECK(Code(h.Call(4, Req(4, "clear"))) == "ok");
  CHECK(h.Call(5, Req(5, "count")).at("count").as<int>() == 0);
}

}  // namespace
}  // namespace litestash
