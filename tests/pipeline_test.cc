// The whole request path in one process on real shard files: frames in through a Session,
// Dispatcher, shard threads, SQLite, answers out. Covers pipelined read-your-writes on one key
// and durability across a close and reopen of the files.
#include <catch2/catch.hpp>

#include "engine/test_harness.h"
#include "shard/test_dir.h"

namespace litestash {
namespace {

using testing::Harness;
using testing::KeyReq;
using testing::Req;
using testing::SetReq;

TEST_CASE("pipelined read-your-writes on one key, thousands in flight") {
  testing::TempDir dir;
  Harness h(16, dir.path().string());
  std::string stream;
  uint64_t id = 0;
  // For each round: set k=i, get k (must see i), delete k, get k (must be absent).
  for (int i = 0; i < 500; ++i) {
    const std::string key = "hot:" + std::to_string(i % 7);
    stream += testing::Frame(SetReq(++id, key, i));
    stream += testing::Frame(KeyReq(++id, "get", key));
    stream += testing::Frame(KeyReq(++id, "delete", key));
    stream += testing::Frame(KeyReq(++id, "get", key));
  }
  h.Feed(stream);  // all 2000 at once, before any answer is read
  for (int i = 0; i < 500; ++i) {
    const uint64_t base = static_cast<uint64_t>(i) * 4;
    CHECK(h.Await(base + 1).at("ok").as<bool>());
    auto got = h.Await(base + 2);
    REQUIRE(got.at("found").as<bool>());
    CHECK(got.at("value").as<int>() == i);
    CHECK(h.Await(base + 3).at("deleted").as<bool>());
    CHECK_FALSE(h.Await(base + 4).at("found").as<bool>());
  }
}

TEST_CASE("committed writes survive closing and reopening the files") {
  testing::TempDir dir;
  {
    Harness h(4, dir.path().string());
    for (int i = 0; i < 100; ++i) {
      CHECK(h.Call(i + 1, SetReq(i + 1, "k" + std::to_string(i), i)).at("ok").as<bool>());
    }
  }
  Harness again(4, dir.path().string());
  CHECK(again.Call(1000, Req(1000, "count")).at("count").as<int>() == 100);
  for (int i = 0; i < 100; ++i) {
    auto got = again.Call(2000 + i, KeyReq(2000 + i, "get", "k" + std::to_string(i)));
    CHECK(got.at("value").as<int>() == i);
  }
}

}  // namespace
}  // namespace litestash
