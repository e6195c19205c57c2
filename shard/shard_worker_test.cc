#include "shard/shard_worker.h"

#include <algorithm>
#include <chrono>
#include <catch2/catch.hpp>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "common/test_digest.h"

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

// A writing probe stores key `name` and then, while fail_runs lasts, fails: the batch's
// rollback must undo its write.
class ProbeTask : public ShardTask {
 public:
  ProbeTask(Log* log, std::string name, bool writes, int fail_runs = 0)
      : log_(log), name_(std::move(name)), writes_(writes), fail_runs_(fail_runs) {}
  bool writes() const override { return writes_; }
  Status Run(ShardStore& store, const Clock& clock) override {
    log_->Add("run " + name_);
    if (writes_) {
      auto put = store.Put(testing::DigestOf(name_), name_, "\xc0", std::nullopt, clock);
      if (!put.ok()) return put.status();
    }
    if (fail_runs_-- > 0) return Status::IOError("injected failure");
    return Status::Ok();
  }
  void Done(const Status& status) override {
    log_->Add("done " + name_ + " " + std::string(StatusCodeName(status.code())));
  }

 private:
  Log* log_;
  std::string name_;
  bool writes_;
  int fail_runs_;
};

// A writing probe that declares the one key it writes (its name).
class KeyProbeTask : public ProbeTask {
 public:
  KeyProbeTask(Log* log, std::string name, int fail_runs = 0)
      : ProbeTask(log, name, true, fail_runs), digest_(testing::DigestOf(name)) {}
  const Digest* written_key() const override { return &digest_; }

 private:
  Digest digest_;
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

// Reads keys back on the shard thread (in its own read transaction): which of `names` exist.
class ReadBackTask : public ShardTask {
 public:
  ReadBackTask(std::vector<std::string> names, std::promise<std::vector<std::string>>* found)
      : names_(std::move(names)), found_(found) {}
  bool writes() const override { return false; }
  Status Run(ShardStore& store, const Clock& clock) override {
    present_.clear();
    for (const auto& n : names_) {
      auto got = store.Get(testing::DigestOf(n), clock);
      if (!got.ok()) return got.status();
      if (got.value()) present_.push_back(n);
    }
    return Status::Ok();
  }
  void Done(const Status& status) override {
    REQUIRE(status.ok());
    found_->set_value(present_);
  }

 private:
  std::vector<std::string> names_;
  std::vector<std::string> present_;
  std::promise<std::vector<std::string>>* found_;
};

std::vector<std::string> Stored(ShardWorker& w, std::vector<std::string> names) {
  std::promise<std::vector<std::string>> found;
  auto result = found.get_future();
  w.Enqueue(std::make_unique<ReadBackTask>(std::move(names), &found));
  return result.get();
}

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

TEST_CASE("a failing task fails alone, and the rest of its batch still commits") {
  Log log;
  ShardWorker w(Memory());
  REQUIRE(w.Start().get().ok());
  std::promise<void> gate;
  w.Enqueue(std::make_unique<GateTask>(gate.get_future().share()));
  w.Enqueue(std::make_unique<ProbeTask>(&log, "a", true));
  w.Enqueue(std::make_unique<ProbeTask>(&log, "bad", true, /*fail_runs=*/100));
  w.Enqueue(std::make_unique<ProbeTask>(&log, "c", true));
  gate.set_value();
  // The store holds the writes that were answered ok, and not the failed one's.
  CHECK(Stored(w, {"a", "bad", "c"}) == std::vector<std::string>{"a", "c"});
  w.Stop();
  const std::vector<std::string> done = log.Done();
  CHECK(done == std::vector<std::string>{"done a ok", "done bad I/O error", "done c ok"});
}

TEST_CASE("a task that fails once inside a batch succeeds on its retry") {
  Log log;
  ShardWorker w(Memory());
  REQUIRE(w.Start().get().ok());
  std::promise<void> gate;
  w.Enqueue(std::make_unique<GateTask>(gate.get_future().share()));
  w.Enqueue(std::make_unique<ProbeTask>(&log, "x", true, /*fail_runs=*/1));
  w.Enqueue(std::make_unique<ProbeTask>(&log, "y", true));
  const uint64_t batches_before = w.counters().batches.load();
  gate.set_value();
  CHECK(Stored(w, {"x", "y"}) == std::vector<std::string>{"x", "y"});
  w.Stop();
  int x_runs = 0;
  for (const auto& e : log.events) x_runs += e == "run x";
  CHECK(x_runs == 2);
  CHECK(std::count(log.events.begin(), log.events.end(), "done x ok") == 1);
  CHECK(std::count(log.events.begin(), log.events.end(), "done y ok") == 1);
  // The gate's batch, the failed batch's retries (x, y alone) and the read-back.
  CHECK(w.counters().batches.load() - batches_before >= 3);
}

TEST_CASE("a writing task counts as pending from Enqueue until its Done") {
  Log log;
  ShardWorker w(Memory());
  REQUIRE(w.Start().get().ok());
  CHECK(Stored(w, {}).empty());  // the store is prepared once a task has run
  CHECK(w.ready());
  CHECK(w.NoPendingWrites());
  std::promise<void> gate;
  w.Enqueue(std::make_unique<GateTask>(gate.get_future().share()));
  CHECK(w.NoPendingWrites());  // a read is not a pending write
  w.Enqueue(std::make_unique<ProbeTask>(&log, "w", true));
  CHECK_FALSE(w.NoPendingWrites());
  w.Enqueue(std::make_unique<ProbeTask>(&log, "bad", true, /*fail_runs=*/100));
  gate.set_value();
  CHECK(Stored(w, {"w"}) == std::vector<std::string>{"w"});
  CHECK(w.NoPendingWrites());  // the committed write and the failed one both released
  w.Stop();
}

TEST_CASE("a write of one key is pending for that key only, other writes for every key") {
  Log log;
  ShardWorker w(Memory());
  REQUIRE(w.Start().get().ok());
  const Digest a = testing::DigestOf("a"), b = testing::DigestOf("b");
  std::promise<void> gate;
  w.Enqueue(std::make_unique<GateTask>(gate.get_future().share()));
  w.Enqueue(std::make_unique<KeyProbeTask>(&log, "a"));
  CHECK_FALSE(w.NoPendingWrites());
  CHECK_FALSE(w.NoPendingWritesTo(a));
  CHECK(w.NoPendingWritesTo(b));  // a write to another key leaves b readable
  w.Enqueue(std::make_unique<KeyProbeTask>(&log, "a", /*fail_runs=*/100));  // fails: released too
  w.Enqueue(std::make_unique<ProbeTask>(&log, "any", true));                // may write any key
  CHECK_FALSE(w.NoPendingWritesTo(b));
  gate.set_value();
  CHECK(Stored(w, {"a", "any"}) == std::vector<std::string>{"a", "any"});
  CHECK(w.NoPendingWrites());
  CHECK(w.NoPendingWritesTo(a));
  CHECK(w.NoPendingWritesTo(b));
  w.Stop();
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

TEST_CASE("a worker yielding for work waits for the signal and takes the whole chunk") {
  Log log;
  ShardOptions o = Memory();
  o.spin_us = 10'000'000;  // far longer than the test: only a signal or Stop ends a yield
  ShardWorker w(o);
  REQUIRE(w.Start().get().ok());
  CHECK(Stored(w, {"nothing"}).empty());  // one batch run: the worker now yields
  const uint64_t batches_before = w.counters().batches.load();
  // Queued without a wake-up, as the reader does within a chunk: not taken while it yields.
  for (int i = 0; i < 20; ++i) {
    w.Enqueue(std::make_unique<ProbeTask>(&log, std::to_string(i), true), /*wake=*/false);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  {
    std::lock_guard<std::mutex> lock(log.mu);
    CHECK(log.events.empty());  // still yielding: nothing taken without the signal
  }
  w.Wake();  // the chunk's end
  CHECK(Stored(w, {"0", "19"}).size() == 2);
  // The 20 in one transaction; the read joins them or comes right after.
  CHECK(w.counters().batches.load() - batches_before <= 2);
  const auto stop_began = std::chrono::steady_clock::now();
  w.Stop();  // ends the yield that follows
  CHECK(std::chrono::steady_clock::now() - stop_began < std::chrono::seconds(5));
  CHECK(log.Done().size() == 20);
}

// Logs where the worker opens and closes the answering of a committed transaction.
class ScopeLog : public AnswerScope {
 public:
  explicit ScopeLog(Log* log) : log_(log) {}
  void Begin() override { log_->Add("begin"); }
  void End() override { log_->Add("end"); }

 private:
  Log* log_;
};

TEST_CASE("the answer scope brackets the Done calls of each committed transaction") {
  Log log;
  ScopeLog scope(&log);
  ShardOptions options = Memory();
  options.answers = &scope;
  ShardWorker w(options);
  REQUIRE(w.Start().get().ok());
  std::promise<void> gate;
  w.Enqueue(std::make_unique<GateTask>(gate.get_future().share()));
  for (const char* name : {"a", "b", "c"}) w.Enqueue(std::make_unique<ProbeTask>(&log, name, true));
  gate.set_value();  // a, b and c commit together (with the gate, or after it ran alone)
  w.Stop();
  std::vector<std::string> seen;
  for (const auto& e : log.events) {
    if (e.rfind("run", 0) != 0) seen.push_back(e);
  }
  CHECK(seen == std::vector<std::string>{"begin", "done a ok", "done b ok", "done c ok", "end"});
}

TEST_CASE("work queued after Stop is answered shutting_down") {
  Log log;
  ShardWorker w(Memory());
  REQUIRE(w.Start().get().ok());
  w.Stop();
  w.Enqueue(std::make_unique<ProbeTask>(&log, "late", true));
  REQUIRE(log.events.size() == 1);
  CHECK(log.events[0] == "done late shutting down");
}

TEST_CASE("an open failure is reported by Start") {
  ShardOptions o;
  o.path = "/nonexistent-dir/for/sure/shard-00.db";
  ShardWorker w(o);
  Status st = w.Start().get();
  CHECK(st.code() == StatusCode::kIOError);
  CHECK_THAT(st.message(), Catch::Contains("shard-00.db"));
  CHECK_FALSE(w.ready());
  w.Stop();
}

}  // namespace
}  // namespace litestash
