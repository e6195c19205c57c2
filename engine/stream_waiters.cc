#include "engine/stream_waiters.h"

#include <algorithm>

#include "shard/shard_store.h"

namespace litestash {

StreamWaiters::StreamWaiters(size_t max_parked, uint32_t shards,
                             std::vector<std::string> shard_paths, Rerun rerun)
    : max_parked_(max_parked), paths_(std::move(shard_paths)), rerun_(std::move(rerun)) {
  watches_.resize(paths_.size());
  parked_.resize(shards);
}

StreamWaiters::~StreamWaiters() { Stop(); }

void StreamWaiters::Start() { thread_ = std::thread(&StreamWaiters::Main, this); }

void StreamWaiters::Stop() {
  std::vector<ParkedRead> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& shard : parked_) {
      for (auto& r : shard) all.push_back(std::move(r));
      shard.clear();
    }
    count_ = 0;
  }
  for (auto& r : all) {
    const int64_t deadline = r.deadline_ms;
    rerun_(std::move(r), WaitState{deadline, /*final=*/true});
  }
}

bool StreamWaiters::Mark(uint32_t shard, WalIndexWatch::Header* header) {
  if (shard >= paths_.size() || paths_[shard].empty()) return false;
  std::lock_guard<std::mutex> lock(watch_mu_);
  auto& watch = watches_[shard];
  if (!watch) {
    auto w = std::make_unique<WalIndexWatch>();
    // The shard thread holds the file open for the engine's whole life: safe to map.
    if (!w->Open(paths_[shard])) return false;
    watch = std::move(w);
  }
  return watch->Read(header);
}

bool StreamWaiters::Park(ParkedRead read) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || count_ >= max_parked_ || read.shard >= parked_.size()) return false;
    parked_[read.shard].push_back(std::move(read));
    ++count_;
    ++parks_;
  }
  cv_.notify_all();  // a new, possibly earlier deadline
  return true;
}

void StreamWaiters::Appended(uint32_t shard, std::string_view stream) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (count_ == 0) return;  // nobody waits: the common case costs one lock
    appended_.emplace_back(shard, std::string(stream));
  }
  cv_.notify_all();
}

size_t StreamWaiters::parked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

void StreamWaiters::CollectDue(bool poll, std::vector<std::pair<ParkedRead, WaitState>>* due) {
  const int64_t now = Clock::Now().now_ms;
  for (uint32_t shard = 0; shard < parked_.size(); ++shard) {
    auto& reads = parked_[shard];
    if (reads.empty()) continue;
    WalIndexWatch::Header header{};
    bool header_ok = false;
    if (poll && shard < watches_.size()) {
      std::lock_guard<std::mutex> wlock(watch_mu_);
      header_ok = watches_[shard] && watches_[shard]->Read(&header);
    }
    size_t kept = 0;
    for (size_t i = 0; i < reads.size(); ++i) {
      ParkedRead& r = reads[i];
      bool appended = false;
      for (const auto& [s, name] : appended_) appended = appended || (s == shard && name == r.stream);
      const bool expired = now >= r.deadline_ms;
      // A header that moved (or cannot be read now) may mean another process appended.
      const bool moved = poll && (!header_ok || !r.mark_ok || header != r.mark);
      if (expired || appended || moved) {
        const int64_t deadline = r.deadline_ms;
        due->emplace_back(std::move(r), WaitState{deadline, expired});
      } else if (kept++ != i) {
        reads[kept - 1] = std::move(r);  // never onto itself: a self-move empties the strings
      }
    }
    reads.resize(kept);
  }
  appended_.clear();
  count_ -= due->size();
}

void StreamWaiters::Main() {
  const bool can_poll = !paths_.empty();
  auto next_poll = std::chrono::steady_clock::now() + kPollInterval;
  std::vector<std::pair<ParkedRead, WaitState>> due;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stopping_) return;
      // Sleep until the earliest deadline, the next poll, or a notification.
      int64_t earliest = INT64_MAX;
      for (const auto& shard : parked_) {
        for (const auto& r : shard) earliest = std::min(earliest, r.deadline_ms);
      }
      auto until = std::chrono::steady_clock::now() + std::chrono::hours(1);
      if (earliest != INT64_MAX) {
        const int64_t wait_ms = std::max<int64_t>(0, earliest - Clock::Now().now_ms);
        until = std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms));
      }
      if (can_poll && count_ > 0) until = std::min(until, next_poll);
      const uint64_t parks = parks_;
      cv_.wait_until(lock, until, [&] {
        return stopping_ || !appended_.empty() || parks_ != parks ||
               std::chrono::steady_clock::now() >= until;
      });
      if (stopping_) return;
      const bool poll = can_poll && std::chrono::steady_clock::now() >= next_poll;
      if (poll) next_poll = std::chrono::steady_clock::now() + kPollInterval;
      CollectDue(poll, &due);
    }
    for (auto& [read, state] : due) rerun_(std::move(read), state);
    due.clear();
  }
}

}  // namespace litestash
