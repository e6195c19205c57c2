// Dispatcher with real in-memory shards, driven through a protocol Session.
#include "engine/dispatcher.h"

#include <catch2/catch.hpp>
#include <future>

#include "engine/test_harness.h"
#include "shard/test_dir.h"

namespace litestash {
namespace {

using testing::Harness;
using testing::KeyReq;
using testing::Req;
using testing::SetReq;

TEST_CASE("hello reports the engine's identity") {
  Harness h(4);
  auto m = h.Call(1, Req(1, "hello"));
  CHECK(m.at("ok").as<bool>());
  CHECK(m.at("protocol").as<int>() == 2);
  CHECK(m.at("keep_versions").as<int>() == 0);
  CHECK(m.at("shards").as<int>() == 4);
  CHECK(m.at("hash").as<std::string>() == "blake2b-512");
}

TEST_CASE("shard hints are checked against the engine's routing") {
  Harness h(16);
  auto get = [&](uint64_t id, uint64_t shard) {
    return h.Call(id, Req(id, "get", 2, [&](auto& pk) {
                    pk.pack(std::string("key"));
                    pk.pack(std::string("user:1001"));
                    pk.pack(std::string("shard"));
                    pk.pack(shard);
                  }));
  };
  CHECK(get(1, 14).at("ok").as<bool>());
  auto wrong = get(2, 3);
  CHECK_FALSE(wrong.at("ok").as<bool>());
  CHECK(wrong.at("error").as<std::map<std::string, std::string>>().at("code") == "wrong_shard");
  CHECK_FALSE(get(3, 99).at("ok").as<bool>());
}

TEST_CASE("mset then mget across shards answers in request order") {
  Harness h(4);
  std::vector<std::pair<std::string, int>> entries;
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) {
    entries.push_back({"k" + std::to_string(i), i});
    keys.push_back("k" + std::to_string(i));
  }
  keys.push_back("missing");
  auto set = h.Call(1, Req(1, "mset", 1, [&](auto& pk) {
                      pk.pack(std::string("entries"));
                      pk.pack(entries);
                    }));
  CHECK(set.at("count").as<int>() == 40);
  auto got = h.Call(2, Req(2, "mget", 1, [&](auto& pk) {
                      pk.pack(std::string("keys"));
                      pk.pack(keys);
                    }));
  auto found = got.at("found").as<std::vector<bool>>();
  auto values = got.at("values").as<std::vector<msgpack::object>>();
  REQUIRE(values.size() == 41);
  for (int i = 0; i < 40; ++i) {
    CHECK(found[i]);
    CHECK(values[i].as<int>() == i);
  }
  CHECK_FALSE(found[40]);
  CHECK(values[40].is_nil());
  CHECK(h.Call(3, Req(3, "count")).at("count").as<int>() == 40);
  auto scan = h.Call(4, Req(4, "scan", 1, [](auto& pk) {
                       pk.pack(std::string("limit"));
                       pk.pack(5);
                     }));
  CHECK(scan.at("keys").as<std::vector<std::string>>() ==
        std::vector<std::string>{"k0", "k1", "k10", "k11", "k12"});
  CHECK(scan.at("more").as<bool>());
  auto del = h.Call(5, Req(5, "mdelete", 1, [&](auto& pk) {
                      pk.pack(std::string("keys"));
                      pk.pack(keys);
                    }));
  CHECK(del.at("deleted").as<int>() == 40);
}

TEST_CASE("empty multi-key requests are answered without touching a shard") {
  Harness h(4);
  auto got = h.Call(1, Req(1, "mget", 1, [](auto& pk) {
                      pk.pack(std::string("keys"));
                      pk.pack(std::vector<std::string>{});
                    }));
  CHECK(got.at("found").as<std::vector<bool>>().empty());
}

TEST_CASE("stats lists every shard") {
  Harness h(3);
  auto stats = h.Call(1, Req(1, "stats"));
  auto shards = stats.at("shards").as<std::vector<std::map<std::string, uint64_t>>>();
  REQUIRE(shards.size() == 3);
  for (uint64_t i = 0; i < 3; ++i) {
    CHECK(shards[i].at("shard") == i);
    CHECK(shards[i].count("keys") == 1);
  }
}

// Holds its shard's thread from Run until released (a read: it is no pending write).
class HoldTask : public ShardTask {
 public:
  HoldTask(std::promise<void>* running, std::shared_future<void> release)
      : running_(running), release_(std::move(release)) {}
  bool writes() const override { return false; }
  Status Run(ShardStore&, const Clock&) override {
    if (running_ != nullptr) running_->set_value();
    running_ = nullptr;
    release_.wait();
    return Status::Ok();
  }
  void Done(const Status&) override {}

 private:
  std::promise<void>* running_;
  std::shared_future<void> release_;
};

TEST_CASE("a pending write holds back reads of its own key only") {
  testing::TempDir dir;
  Harness h(1, dir.path().string());  // one shard: every key shares it
  CHECK(h.Call(1, SetReq(1, "a", 1)).at("ok").as<bool>());
  CHECK(h.Call(2, SetReq(2, "b", 2)).at("ok").as<bool>());
  // Two chunks of reads: the second snapshot is taken with the wal-index header noted, so the
  // read path revalidates every later use of a snapshot (ReadPath::Watched).
  CHECK(h.Call(3, KeyReq(3, "get", "b")).at("value").as<int>() == 2);
  CHECK(h.Call(4, KeyReq(4, "get", "b")).at("value").as<int>() == 2);

  std::promise<void> running, release;
  // Whatever the checks find, the shard thread is let go before the harness stops it.
  struct Releaser {
    std::promise<void>& p;
    bool done = false;
    void Now() {
      if (!done) p.set_value();
      done = true;
    }
    ~Releaser() { Now(); }
  } releaser{release};
  h.worker(0).Enqueue(std::make_unique<HoldTask>(&running, release.get_future().share()));
  running.get_future().wait();
  // The write to a waits behind the held shard thread; b's read does not wait for it, a's does.
  h.Feed(testing::Frame(SetReq(5, "a", 10)) + testing::Frame(KeyReq(6, "get", "b")) +
         testing::Frame(KeyReq(7, "get", "a")));
  REQUIRE(h.AnsweredWithin(6, std::chrono::seconds(10)));
  CHECK(h.Await(6).at("value").as<int>() == 2);
  CHECK_FALSE(h.AnsweredWithin(7, std::chrono::milliseconds(100)));
  // The same for an mget: answered unless one of its keys has a write pending.
  const auto mget = [](uint64_t id, std::vector<std::string> keys) {
    return testing::Frame(Req(id, "mget", 1, [&](auto& pk) {
      pk.pack(std::string("keys"));
      pk.pack(keys);
    }));
  };
  h.Feed(mget(11, {"b", "nothing"}) + mget(12, {"b", "a"}));
  REQUIRE(h.AnsweredWithin(11, std::chrono::seconds(10)));
  auto first = h.Await(11).at("values").as<std::vector<msgpack::object>>();
  CHECK(first.at(0).as<int>() == 2);
  CHECK(first.at(1).is_nil());
  CHECK_FALSE(h.AnsweredWithin(12, std::chrono::milliseconds(100)));
  // A write that may touch any key (an mset) holds back every read of the shard.
  h.Feed(testing::Frame(Req(8, "mset", 1,
                            [](auto& pk) {
                              pk.pack(std::string("entries"));
                              pk.pack(std::vector<std::pair<std::string, int>>{{"c", 3}});
                            })) +
         testing::Frame(KeyReq(9, "get", "b")));
  CHECK_FALSE(h.AnsweredWithin(9, std::chrono::milliseconds(100)));
  releaser.Now();
  CHECK(h.Await(7).at("value").as<int>() == 10);  // read-your-writes
  auto second = h.Await(12).at("values").as<std::vector<msgpack::object>>();
  CHECK(second.at(0).as<int>() == 2);
  CHECK(second.at(1).as<int>() == 10);
  CHECK(h.Await(5).at("ok").as<bool>());
  CHECK(h.Await(9).at("value").as<int>() == 2);
  CHECK(h.Await(8).at("ok").as<bool>());
  // Once committed, the new value is read on the fast path again.
  CHECK(h.Call(10, KeyReq(10, "get", "a")).at("value").as<int>() == 10);
}

}  // namespace
}  // namespace litestash
