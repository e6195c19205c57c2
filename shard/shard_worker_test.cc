#include "shard/shard_worker.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <future>
#include <mutex>
#include <vector>

namespace litestash {
namespace {

// Records the order tasks ran and finished in; can be told to fail its first N runs.
struct Log {
  std::mutex mu;
  std::vector<std::string> events;
  void Add(std::string e) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(std::move(e));
  }
  // The "done ..." events, in order (read after the worker stopped).
  std::vector<std::string> Done() const {
    std::vector<std::string> done;
    for (const auto& e : events) {
      if (e.rfind("done", 0) == 0) done.push_back(e);
    }
    return done;
  }
};

class ProbeTask : public ShardTask {
 public:
  ProbeTask(Log* log, std::string name, bool writes, int fail_runs = 0)
      : log_(log), name_(std::move(name)), writes_(writes), fail_runs_(fail_runs) {}
  bool writes() const override { return writes_; }
  Status Run(ShardStore& store, const Clock& clock) override {
    static thread_local Blake2b512 h;
    log_->Add("run " + name_);
    if (fail_runs_-- > 0) return Status::Storage("injected failure");
    if (writes_) return store.Put(h.Hash(name_), name_, "\xc0", std::nullopt, clock).status();
    return Status::Ok();
  }
  void Done(const Status& status) override {
    log_->Add("done " + name_ + " " + std::string(ErrorCodeName(status.code())));
  }

 private:
  Log* log_;
  std::string name_;
  bool writes_;
  int fail_runs_;
};

// Blocks the shard thread until released, so tasks enqueued meanwhile form one batch.
class GateTask : public ShardTask {
 public:
  explicit GateTask(std::shared_future<void> open) : open_(std::move(open)) {}
  bool writes() const override { return false; }
  Status Run(ShardStore&, const Clock&) override {
    open_.wait();
    return Status::Ok();
  }
  void Done(const Status&) override {}

 private:
  std::shared_future<void> open_;
};

ShardOptions Memory() {
  ShardOptions o;
  o.in_memory = true;
  return o;
}

TEST_CASE("tasks run and finish in queue order, once each") {
  Log log;
  ShardWorker w(Memory());
  REQUIRE(w.Start().get().ok());
  for (int i = 0; i < 50; ++i) {
    w.Enqueue(std::make_unique<ProbeTask>(&log, std::to_string(i), i % 2 == 0));
  }
  w.Stop();
  const std::vector<std::string> done = log.Done();
  REQUIRE(done.size() == 50);
  for (int i = 0; i < 50; ++i) CHECK(done[i] == "done " + std::to_string(i) + " ok");
  CHECK(w.counters().tasks.load() == 50);
}

TEST_CASE("a failing task fails alone; the rest of its batch still commits") {
  Log log;
  ShardWorker w(Memory());
  REQUIRE(w.Start().get().ok());
  std::promise<void> gate;
  w.Enqueue(std::make_unique<GateTask>(gate.get_future().share()));
  w.Enqueue(std::make_unique<ProbeTask>(&log, "a", true));
  w.Enqueue(std::make_unique<ProbeTask>(&log, "bad", true, /*fail_runs=*/100));
  w.Enqueue(std::make_unique<ProbeTask>(&log, "c", true));
  gate.set_value();
  w.Stop();
  const std::vector<std::string> done = log.Done();
  CHECK(done == std::vector<std::string>{"done a ok", "done bad storage_error", "done c ok"});
}

TEST_CASE("a task that fails once inside a batch succeeds on its retry") {
  Log log;
  ShardWorker w(Memory());
  REQUIRE(w.Start().get().ok());
  std::promise<void> gate;
  w.Enqueue(std::make_unique<GateTask>(gate.get_future().share()));
  w.Enqueue(std::make_unique<ProbeTask>(&log, "x", true, /*fail_runs=*/1));
  w.Enqueue(std::make_unique<ProbeTask>(&log, "y", true));
  gate.set_value();
  w.Stop();
  int x_runs = 0;
  for (const auto& e : log.events) x_runs += e == "run x";
  CHECK(x_runs == 2);
  CHECK(std::count(log.events.begin(), log.events.end(), "done x ok") == 1);
  CHECK(std::count(log.events.begin(), log.events.end(), "done y ok") == 1);
  CHECK(w.counters().failed_batches.load() == 1);
}

// A read whose answer is `bytes` long, held until Done (like a get of a large value).
class BigAnswerTask : public ProbeTask {
 public:
  BigAnswerTask(Log* log, std::string name, size_t bytes)
      : ProbeTask(log, std::move(name), false), bytes_(bytes) {}
  size_t answer_bytes() const override { return bytes_; }

 private:
  size_t bytes_;
};

TEST_CASE("a batch holding more answer bytes than its budget commits early") {
  Log log;
  ShardWorker w(Memory());
  REQUIRE(w.Start().get().ok());
  std::promise<void> gate;
  w.Enqueue(std::make_unique<GateTask>(gate.get_future().share()));
  const size_t big = ShardWorker::kBatchAnswerBytes / 2 + 1;  // two of these pass the budget
  for (int i = 0; i < 6; ++i) {
    w.Enqueue(std::make_unique<BigAnswerTask>(&log, "big" + std::to_string(i), big));
  }
  const uint64_t batches_before = w.counters().batches.load();
  gate.set_value();
  w.Stop();
  // Six big answers need at least three transactions; all still finish, in order.
  CHECK(w.counters().batches.load() - batches_before >= 3);
  const std::vector<std::string> done = log.Done();
  REQUIRE(done.size() == 6);
  for (int i = 0; i < 6; ++i) CHECK(done[i] == "done big" + std::to_string(i) + " ok");
}

TEST_CASE("work queued after Stop is answered shutting_down") {
  Log log;
  ShardWorker w(Memory());
  REQUIRE(w.Start().get().ok());
  w.Stop();
  w.Enqueue(std::make_unique<ProbeTask>(&log, "late", true));
  REQUIRE(log.events.size() == 1);
  CHECK(log.events[0] == "done late shutting_down");
}

TEST_CASE("an open failure is reported by Start") {
  ShardOptions o;
  o.path = "/nonexistent-dir/for/sure/shard-00.db";
  ShardWorker w(o);
  Status st = w.Start().get();
  CHECK(st.code() == ErrorCode::kStorageError);
  w.Stop();
}

}  // namespace
}  // namespace litestash
