// Test harness for engine unit and cross-module tests: a Session, a Dispatcher and real shard
// workers (in memory or on files) wired together without stdin/stdout; answers are captured by
// id. Request builders for msgpack bodies. Test-only.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <msgpack.hpp>
#include <mutex>
#include <string>
#include <vector>

#include "engine/dispatcher.h"
#include "protocol/test_frames.h"

namespace litestash::testing {

struct CaptureSink : FrameSink {
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, std::string> by_id;
  std::vector<std::string> no_id;
  void Send(std::string f) override {
    auto oh = testing::Answer(f);
    auto m = oh.get().as<std::map<std::string, msgpack::object>>();
    std::lock_guard<std::mutex> lock(mu);
    if (m.at("id").is_nil()) {
      no_id.push_back(std::move(f));
    } else {
      by_id[m.at("id").as<uint64_t>()] = std::move(f);
    }
    cv.notify_all();
  }
};

// An engine without stdin/stdout: frames in through a Session, answers captured.
class Harness {
 public:
  // In-memory shards, or files in `dir` when given; the engine's commands unless `registry`.
  explicit Harness(uint32_t shards = 4, std::string dir = "", std::string vfs = "",
                   const CommandRegistry& registry = StandardRegistry())
      : limiter_(1 << 20, 1ll << 40) {
    std::vector<ShardOptions> files;
    for (uint32_t i = 0; i < shards; ++i) {
      ShardOptions o;
      o.in_memory = dir.empty();
      o.path = dir + "/shard-" + std::to_string(i) + ".db";
      o.vfs = vfs;
      o.index = i;
      o.count = shards;
      files.push_back(o);
    }
    // On files, multi-shard writes leave marks and intents and every shard recovers, as in the
    // engine (engine/txn_services.h).
    auto txns = TxnServices::Create(dir, /*durable=*/!dir.empty(), files);
    REQUIRE(txns.ok());
    txns_ = std::move(txns).value();
    for (uint32_t i = 0; i < shards; ++i) {
      ShardOptions o = files[i];
      o.recovery = txns_->recovery_env();
      workers_.push_back(std::make_unique<ShardWorker>(o));
      REQUIRE(workers_.back()->Start().get().ok());
      ptrs_.push_back(workers_.back().get());
    }
    DispatcherOptions options;  // files: the reader-thread read fast path is on, as in the engine
    for (uint32_t i = 0; i < shards && !dir.empty(); ++i) {
      ShardOptions o;
      o.path = dir + "/shard-" + std::to_string(i) + ".db";
      o.vfs = vfs;
      o.index = i;
      o.count = shards;
      o.read_only = true;
      options.read_connections.push_back(o);
    }
    options.read_cache_bytes = 1 << 20;
    options.txns = txns_;
    auto hasher = Blake2b512::Create();
    REQUIRE(hasher.ok());
    dispatcher_ = std::make_unique<Dispatcher>(registry, EngineIdentity{shards, Limits{}, "test"},
                                               ptrs_, std::move(hasher).value(), &sink_, &limiter_,
                                               std::move(options));
    session_ = std::make_unique<Session>(registry.catalog(), Limits{}, dispatcher_.get(), &sink_);
  }
  ~Harness() {
    dispatcher_->Stop();  // as the engine does: no read connection outlives the shards
    for (auto& w : workers_) w->Stop();
  }

  // Feeds raw bytes without waiting, as one chunk (then Flush, as the engine's reader loop).
  void Feed(const std::string& bytes) {
    session_->Feed(bytes.data(), bytes.size());
    dispatcher_->Flush();
  }

  // Waits for the answer to `id`.
  std::map<std::string, msgpack::object> Await(uint64_t id) {
    std::unique_lock<std::mutex> lock(sink_.mu);
    sink_.cv.wait(lock, [&] { return sink_.by_id.count(id) > 0; });
    handles_.push_back(testing::Answer(sink_.by_id[id]));
    return handles_.back().get().as<std::map<std::string, msgpack::object>>();
  }

  // Whether the answer to `id` arrives within `limit`.
  bool AnsweredWithin(uint64_t id, std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(sink_.mu);
    return sink_.cv.wait_for(lock, limit, [&] { return sink_.by_id.count(id) > 0; });
  }

  // The shard's worker (to queue test tasks on it).
  ShardWorker& worker(uint32_t shard) { return *workers_[shard]; }

  // Sends a request and waits for its answer.
  std::map<std::string, msgpack::object> Call(uint64_t id, const std::string& body) {
    Feed(testing::Frame(body));
    return Await(id);
  }

 private:
  std::shared_ptr<TxnServices> txns_;
  InflightLimiter limiter_;
  CaptureSink sink_;
  std::vector<std::unique_ptr<ShardWorker>> workers_;
  std::vector<ShardWorker*> ptrs_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<Session> session_;
  std::vector<msgpack::object_handle> handles_;
};

template <typename Fill>
std::string Req(uint64_t id, const char* op, uint32_t extra, Fill fill) {
  return PackMap(2 + extra, [&](auto& pk) {
    pk.pack(std::string("id"));
    pk.pack(id);
    pk.pack(std::string("op"));
    pk.pack(std::string(op));
    fill(pk);
  });
}
inline std::string Req(uint64_t id, const char* op) {
  return Req(id, op, 0, [](auto&) {});
}

// {id, op: "set", key, value: <int>}
inline std::string SetReq(uint64_t id, const std::string& key, int value) {
  return Req(id, "set", 2, [&](auto& pk) {
    pk.pack(std::string("key"));
    pk.pack(key);
    pk.pack(std::string("value"));
    pk.pack(value);
  });
}

// {id, op, key} for any op that takes just a key (get, delete, exists, ttl, persist).
inline std::string KeyReq(uint64_t id, const char* op, const std::string& key) {
  return Req(id, op, 1, [&](auto& pk) {
    pk.pack(std::string("key"));
    pk.pack(key);
  });
}

}  // namespace litestash::testing
