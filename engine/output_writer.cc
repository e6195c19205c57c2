#include "engine/output_writer.h"

#include <limits.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace litestash {
namespace {

// The writer whose Send()s this thread holds (Hold/Release), and what it holds.
thread_local OutputWriter* t_holding = nullptr;
thread_local std::vector<std::string> t_held;

}  // namespace

void OutputWriter::Start() { thread_ = std::thread(&OutputWriter::Main, this); }

void OutputWriter::Send(std::string frame) {
  if (t_holding == this) {
    t_held.push_back(std::move(frame));
    return;
  }
  const auto size = static_cast<int64_t>(frame.size());
  limiter_->AddBytes(size);
  std::unique_lock<std::mutex> lock(mu_);
  // A host that stops reading stops the shard threads here, so answers cannot pile up beyond
  // the budget (one answer may always go, whatever its size). Shutdown lifts the wait.
  WaitForRoom(lock);
  queued_bytes_ += size;
  queue_.push_back(std::move(frame));
  if (queue_.size() == 1) cv_.notify_one();
}

void OutputWriter::WaitForRoom(std::unique_lock<std::mutex>& lock) {
  room_cv_.wait(lock, [this] { return queued_bytes_ < max_queued_bytes_ || unblocked_; });
}

void OutputWriter::Hold() { t_holding = this; }

void OutputWriter::Release() {
  if (t_holding != this) return;
  t_holding = nullptr;
  if (t_held.empty()) return;
  {
    std::unique_lock<std::mutex> lock(mu_);
    WaitForRoom(lock);
  }
  SendBatch(t_held);
  t_held.clear();
}

void OutputWriter::Unblock() {
  std::lock_guard<std::mutex> lock(mu_);
  unblocked_ = true;
  room_cv_.notify_all();
}

void OutputWriter::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool OutputWriter::CloseWithin(std::chrono::milliseconds deadline) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    closing_ = true;
    cv_.notify_one();
    // Drained: nothing queued and the thread has finished writing its last swap.
    if (!drained_cv_.wait_for(lock, deadline, [this] { return queue_.empty() && !writing_; })) {
      return false;
    }
  }
  Close();
  return true;
}

void OutputWriter::Main() {
  std::vector<std::string> frames;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      // writing_ may be held by SendNow on the reader thread: only one writes fd 1 at a time.
      cv_.wait(lock, [this] { return !writing_ && (!queue_.empty() || closing_); });
      if (queue_.empty()) return;  // closing and drained
      frames.swap(queue_);
      writing_ = true;
    }
    WriteAndRelease(frames);
    frames.clear();
  }
}

void OutputWriter::SendNow(std::string frame) {
  std::vector<std::string> one;
  one.push_back(std::move(frame));
  SendBatch(one);
}

void OutputWriter::SendBatch(std::vector<std::string>& frames) {
  int64_t bytes = 0;
  for (const auto& f : frames) bytes += static_cast<int64_t>(f.size());
  limiter_->AddBytes(bytes);
  std::unique_lock<std::mutex> lock(mu_);
  queued_bytes_ += bytes;
  // Write on this thread only if nothing is queued or being written (order); then only what the
  // pipe takes without blocking, so the reader never waits for the host here.
  if (!queue_.empty() || writing_ || failed_.load()) {
    const bool was_empty = queue_.empty();
    for (auto& f : frames) queue_.push_back(std::move(f));
    if (was_empty) cv_.notify_one();
    return;
  }
  writing_ = true;
  lock.unlock();
  std::vector<std::string> mine;
  mine.swap(frames);
  size_t written = WriteWithoutBlocking(mine, static_cast<size_t>(bytes));
  // Release what went out whole; the rest (the first piece possibly cut) goes to the writer
  // thread ahead of anything queued meanwhile.
  size_t whole = 0;
  int64_t released = 0;
  while (whole < mine.size() && written >= mine[whole].size()) {
    written -= mine[whole].size();
    released += static_cast<int64_t>(mine[whole].size());
    ++whole;
  }
  if (whole < mine.size() && written > 0) {
    mine[whole].erase(0, written);
    released += static_cast<int64_t>(written);
  }
  mine.erase(mine.begin(), mine.begin() + static_cast<long>(whole));
  HandBack(static_cast<int64_t>(whole), released, &mine);
  frames.clear();
}

size_t OutputWriter::WriteWithoutBlocking(std::vector<std::string>& frames, size_t total) {
  if (!nowait_unsupported_) {
    const size_t done = Write(frames, /*nowait=*/true);
    if (!nowait_unsupported_ || done > 0) return done;
  }
  // Without RWF_NOWAIT: only what a pipe with room surely takes at once (PIPE_BUF).
  pollfd out = {fd_, POLLOUT, 0};
  if (total > kInlineMax || ::poll(&out, 1, 0) != 1 || (out.revents & POLLOUT) == 0) return 0;
  Write(frames, /*nowait=*/false);
  return total;
}

// Writes `frames` (this thread holds writing_), releases them from the limiter, then hands
// fd 1 back.
void OutputWriter::WriteAndRelease(std::vector<std::string>& frames) {
  Write(frames, /*nowait=*/false);
  int64_t bytes = 0;
  for (const auto& f : frames) bytes += static_cast<int64_t>(f.size());
  HandBack(static_cast<int64_t>(frames.size()), bytes, nullptr);
}

void OutputWriter::HandBack(int64_t frames, int64_t bytes, std::vector<std::string>* rest) {
  limiter_->ReleaseFrames(frames);
  limiter_->ReleaseBytes(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  queued_bytes_ -= bytes;
  if (rest != nullptr) {
    queue_.insert(queue_.begin(), std::make_move_iterator(rest->begin()),
                  std::make_move_iterator(rest->end()));
  }
  writing_ = false;
  room_cv_.notify_all();
  // The writer thread sleeps until writing_ is free and there is something to write (or it must
  // close): wake it only then. Waking it for nothing cost a futex wake and two context switches
  // per answer batch of the reader (perf, 1M uniform GETs: 15 % of engine CPU).
  if (!queue_.empty() || closing_) cv_.notify_one();
  if (queue_.empty()) drained_cv_.notify_all();
}

size_t OutputWriter::Write(std::vector<std::string>& frames, bool nowait) {
  size_t done = 0;    // bytes written so far
  size_t next = 0;    // first frame not fully written
  size_t offset = 0;  // bytes of frames[next] already written
  size_t total = 0;
  for (const auto& f : frames) total += f.size();
  if (failed_.load()) {
    dropped_ += static_cast<int64_t>(frames.size());
    return total;
  }
  while (next < frames.size()) {
    iovec iov[IOV_MAX];
    int n = 0;
    for (size_t i = next; i < frames.size() && n < IOV_MAX; ++i, ++n) {
      const size_t skip = i == next ? offset : 0;
      iov[n].iov_base = frames[i].data() + skip;
      iov[n].iov_len = frames[i].size() - skip;
    }
    // RWF_NOWAIT: write what fits now, EAGAIN if nothing does (pipes, Linux >= 5.x).
    const ssize_t wrote = nowait ? ::pwritev2(fd_, iov, n, -1, RWF_NOWAIT) : ::writev(fd_, iov, n);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      if (nowait && errno == EAGAIN) return done;
      if (nowait && (errno == EOPNOTSUPP || errno == EINVAL || errno == ESPIPE)) {
        if (done == 0) nowait_unsupported_ = true;  // older kernel or not a pipe
        return done;
      }
      const int error = errno;
      if (error == EPIPE && InputHungUp()) {
        host_closed_.store(true);  // the host ended the session; the owner says so at exit
      } else {
        spdlog::error("writing responses to stdout failed: {}", std::strerror(error));
      }
      failed_.store(true);
      dropped_ += static_cast<int64_t>(frames.size() - next);
      return total;  // dropped; the caller releases them as written
    }
    done += static_cast<size_t>(wrote);
    size_t left = static_cast<size_t>(wrote);
    while (next < frames.size() && left >= frames[next].size() - offset) {
      left -= frames[next].size() - offset;
      offset = 0;
      ++next;
    }
    offset += left;
  }
  return done;
}

bool OutputWriter::InputHungUp() const {
  if (input_fd_ < 0) return false;
  const auto until = std::chrono::steady_clock::now() + kHangupGrace;
  for (;;) {
    // POLLHUP is reported whatever `events` asks for, also while unread requests remain.
    pollfd in = {input_fd_, 0, 0};
    if (::poll(&in, 1, 0) == 1 && (in.revents & (POLLHUP | POLLERR)) != 0) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace litestash
