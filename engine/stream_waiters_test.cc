// StreamWaiters alone, with a rerun callback that records what it is handed back: appends wake
// the reads of their stream only, deadlines hand reads back as final, the bound refuses parks,
// Stop hands everything back, and reads kept across wake-ups keep their fields.
#include "engine/stream_waiters.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "shard/shard_store.h"

namespace litestash {
namespace {

struct Reruns {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<ParkedRead, WaitState>> got;

  StreamWaiters::Rerun Callback() {
    return [this](ParkedRead read, WaitState state) {
      std::lock_guard<std::mutex> lock(mu);
      got.emplace_back(std::move(read), state);
      cv.notify_all();
    };
  }
  // Waits until `n` reruns arrived (false after 5 s).
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(5), [&] { return got.size() >= n; });
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return got.size();
  }
};

ParkedRead Read(uint32_t shard, std::string stream, int64_t wait_ms) {
  ParkedRead r;
  r.shard = shard;
  r.stream = std::move(stream);
  r.deadline_ms = Clock::Now().now_ms + wait_ms;
  return r;
}

TEST_CASE("an append wakes the reads of its stream and shard only, fields intact") {
  Reruns reruns;
  StreamWaiters w(100, 4, {}, reruns.Callback());
  w.Start();
  REQUIRE(w.Park(Read(1, "a", 60000)));
  REQUIRE(w.Park(Read(1, "b", 60000)));  // wakes the thread; "a" and "b" stay parked
  REQUIRE(w.Park(Read(2, "b", 60000)));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(reruns.size() == 0);
  w.Appended(1, "b");
  REQUIRE(reruns.WaitFor(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(reruns.size() == 1);
  CHECK(reruns.got[0].first.stream == "b");  // kept across wake-ups without losing its name
  CHECK(reruns.got[0].first.shard == 1);
  CHECK_FALSE(reruns.got[0].second.final);
  CHECK(w.parked() == 2);
  w.Appended(1, "a");
  REQUIRE(reruns.WaitFor(2));
  CHECK(reruns.got[1].first.stream == "a");
  w.Stop();
  REQUIRE(reruns.size() == 3);  // the last one handed back at Stop, as final
  CHECK(reruns.got[2].first.stream == "b");
  CHECK(reruns.got[2].first.shard == 2);
  CHECK(reruns.got[2].second.final);
}

TEST_CASE("a read whose deadline passes is handed back as final") {
  Reruns reruns;
  StreamWaiters w(100, 1, {}, reruns.Callback());
  w.Start();
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(w.Park(Read(0, "s", 100)));
  REQUIRE(reruns.WaitFor(1));
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(90));
  CHECK(reruns.got[0].second.final);
  CHECK(w.parked() == 0);
  w.Stop();
}

TEST_CASE("parks beyond the bound and after Stop are refused") {
  Reruns reruns;
  StreamWaiters w(2, 1, {}, reruns.Callback());
  w.Start();
  CHECK(w.Park(Read(0, "s", 60000)));
  CHECK(w.Park(Read(0, "s", 60000)));
  CHECK_FALSE(w.Park(Read(0, "s", 60000)));
  w.Stop();
  CHECK(reruns.size() == 2);
  CHECK_FALSE(w.Park(Read(0, "s", 60000)));
  w.Appended(0, "s");  // nothing waits: a no-op
}

}  // namespace
}  // namespace litestash
