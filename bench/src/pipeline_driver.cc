// Writer/reader thread pair with a depth-bounded credit semaphore (see pipeline_driver.h).
#include "pipeline_driver.h"

#include "engine_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <chrono>
#include <memory>
#include <mutex>
#include <semaphore>
#include <stdexcept>
#include <thread>

namespace litestash::bench {

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {

constexpr int kMaxCoalesce = 64;          // requests per write() at most
constexpr size_t kCoalesceBytes = 256 << 10;
constexpr size_t kReadChunk = 1 << 20;

struct Shared {
  explicit Shared(int depth, uint64_t n) : credits(depth), send_ns(new std::atomic<uint64_t>[n]) {}
  std::counting_semaphore<1024> credits;
  std::unique_ptr<std::atomic<uint64_t>[]> send_ns;
  std::atomic<bool> stop{false};
  std::mutex mu;  // guards the failure fields below
  bool failed = false;
  std::string reason;

  void Fail(std::string why) {
    std::lock_guard<std::mutex> lock(mu);
    if (!failed) { failed = true; reason = std::move(why); }
    stop.store(true);
  }
};

// Writes all of `buf` to a non-blocking fd, waiting with poll; false when stopped or failed.
bool WriteAll(int fd, const std::string& buf, Shared& sh) {
  size_t off = 0;
  while (off < buf.size()) {
    ssize_t w = ::write(fd, buf.data() + off, buf.size() - off);
    if (w > 0) { off += static_cast<size_t>(w); continue; }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (sh.stop.load()) return false;
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 100);
      continue;
    }
    sh.Fail(std::string("write to target failed: ") + strerror(errno));
    return false;
  }
  return true;
}

void WriterLoop(int fd, PipelineProtocol& proto, uint64_t n, Shared& sh) {
  std::string buf;
  buf.reserve(kCoalesceBytes + 4096);
  uint64_t seq = 0;
  while (seq < n) {
    // Block for one credit (re-checking the stop flag), then take whatever else is free.
    while (!sh.credits.try_acquire_for(std::chrono::milliseconds(100))) {
      if (sh.stop.load()) return;
    }
    uint64_t take = 1;
    while (take < kMaxCoalesce && seq + take < n && sh.credits.try_acquire()) ++take;
    buf.clear();
    uint64_t first = seq;
    for (uint64_t i = 0; i < take; ++i) {
      proto.Encode(seq++, buf);
      if (buf.size() >= kCoalesceBytes && i + 1 < take) {
        // Too big to coalesce further: give the unused credits back.
        sh.credits.release(static_cast<ptrdiff_t>(take - i - 1));
        take = i + 1;
        break;
      }
    }
    uint64_t now = MonotonicNs();
    for (uint64_t s = first; s < first + take; ++s) sh.send_ns[s].store(now, std::memory_order_release);
    if (!WriteAll(fd, buf, sh)) return;
  }
}

// Depth 1: the calling thread writes one request and reads until its answer is parsed.
void RunLockstep(int write_fd, int read_fd, PipelineProtocol& proto, uint64_t n, PhaseResult& result,
                 double stall_timeout_s, Shared& sh, uint64_t& end) {
  std::string out;
  std::vector<char> buf(kReadChunk);
  size_t filled = 0;
  std::vector<Answer> answers;
  for (uint64_t seq = 0; seq < n && !sh.stop.load(); ++seq) {
    out.clear();
    proto.Encode(seq, out);
    const uint64_t sent = MonotonicNs();
    if (!WriteAll(write_fd, out, sh)) return;
    answers.clear();
    while (answers.empty()) {
      pollfd p{read_fd, POLLIN, 0};
      int pr = ::poll(&p, 1, static_cast<int>(stall_timeout_s * 1000));
      if (pr == 0) { sh.Fail("no answer for " + std::to_string(stall_timeout_s) + " s at depth 1"); return; }
      if (pr < 0) { if (errno == EINTR) continue; sh.Fail(std::string("poll: ") + strerror(errno)); return; }
      if (filled == buf.size()) buf.resize(buf.size() * 2);
      ssize_t r = ::read(read_fd, buf.data() + filled, buf.size() - filled);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        sh.Fail(r == 0 ? "target closed its output (exited?)" : std::string("read failed: ") + strerror(errno));
        return;
      }
      filled += static_cast<size_t>(r);
      size_t used = 0;
      try {
        used = proto.Decode(buf.data(), filled, answers);
      } catch (const std::exception& e) {
        sh.Fail(std::string("bad answer: ") + e.what());
        return;
      }
      std::memmove(buf.data(), buf.data() + used, filled - used);
      filled -= used;
    }
    end = MonotonicNs();
    for (const Answer& a : answers) {
      if (a.seq != seq) { sh.Fail("answer for request " + std::to_string(a.seq) + " while waiting for " + std::to_string(seq)); return; }
      result.latency_ns.push_back(end - sent);
      ++result.answered;
      if (!a.ok) {
        ++result.errors;
        if (result.first_error.empty()) result.first_error = a.error;
      }
      result.misses += a.misses;
      result.entries += a.items;
    }
  }
}

}  // namespace

void RunPipeline(int write_fd, int read_fd, PipelineProtocol& proto, const PhaseSpec& spec,
                 PhaseResult& result, double stall_timeout_s) {
  const uint64_t n = spec.requests;
  Shared sh(spec.depth, n);
  for (uint64_t i = 0; i < n; ++i) sh.send_ns[i].store(0, std::memory_order_relaxed);
  result.spec = spec;
  result.latency_ns.clear();
  result.latency_ns.reserve(n);

  int flags = fcntl(write_fd, F_GETFL);
  fcntl(write_fd, F_SETFL, flags | O_NONBLOCK);

  const double cpu0 = SelfCpuSeconds();
  uint64_t start = MonotonicNs();
  if (spec.depth == 1) {
    uint64_t end = start;
    RunLockstep(write_fd, read_fd, proto, n, result, stall_timeout_s, sh, end);
    fcntl(write_fd, F_SETFL, flags);
    result.seconds = static_cast<double>(end - start) / 1e9;
    result.client_cpu_s = SelfCpuSeconds() - cpu0;
    if (sh.failed) {
      result.broken = true;
      result.broken_reason = sh.reason;
    }
    return;
  }
  std::thread writer(WriterLoop, write_fd, std::ref(proto), n, std::ref(sh));

  std::vector<char> buf(kReadChunk);
  size_t filled = 0;
  std::vector<Answer> answers;
  uint64_t last_byte = MonotonicNs();
  uint64_t end = start;
  while (result.answered < n && !sh.stop.load()) {
    pollfd p{read_fd, POLLIN, 0};
    int pr = ::poll(&p, 1, 200);
    if (pr == 0) {
      if (MonotonicNs() - last_byte > static_cast<uint64_t>(stall_timeout_s * 1e9)) {
        sh.Fail("no answer for " + std::to_string(stall_timeout_s) + " s (" + std::to_string(result.answered) +
                "/" + std::to_string(n) + " answered)");
      }
      continue;
    }
    if (pr < 0 && errno == EINTR) continue;
    if (filled == buf.size()) buf.resize(buf.size() * 2);  // one answer larger than the buffer
    ssize_t r = ::read(read_fd, buf.data() + filled, buf.size() - filled);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      sh.Fail(r == 0 ? "target closed its output (exited?)" : std::string("read failed: ") + strerror(errno));
      break;
    }
    last_byte = MonotonicNs();
    filled += static_cast<size_t>(r);
    answers.clear();
    size_t used = 0;
    try {
      used = proto.Decode(buf.data(), filled, answers);
    } catch (const std::exception& e) {
      sh.Fail(std::string("bad answer: ") + e.what());
      break;
    }
    uint64_t now = MonotonicNs();
    for (const Answer& a : answers) {
      if (a.seq >= n) { sh.Fail("answer for unknown request " + std::to_string(a.seq)); break; }
      uint64_t sent = sh.send_ns[a.seq].load(std::memory_order_acquire);
      result.latency_ns.push_back(sent && now > sent ? now - sent : 0);
      ++result.answered;
      if (!a.ok) {
        ++result.errors;
        if (result.first_error.empty()) result.first_error = a.error;
      }
      result.misses += a.misses;
      result.entries += a.items;
    }
    if (!answers.empty() && !sh.stop.load()) sh.credits.release(static_cast<ptrdiff_t>(answers.size()));
    end = now;
    if (used > 0) {
      std::memmove(buf.data(), buf.data() + used, filled - used);
      filled -= used;
    }
  }
  sh.stop.store(true);
  writer.join();
  fcntl(write_fd, F_SETFL, flags);
  result.seconds = static_cast<double>(end - start) / 1e9;
  result.client_cpu_s = SelfCpuSeconds() - cpu0;
  if (sh.failed) {
    result.broken = true;
    result.broken_reason = sh.reason;
  }
}

}  // namespace litestash::bench
