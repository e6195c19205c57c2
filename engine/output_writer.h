// OutputWriter: the single writer of stdout. Every response frame, from any thread, goes
// through Send(); one thread writes them in arrival order with writev, many frames per call.
//
// After a frame is written the writer releases it from the InflightLimiter. If the write fails
// (the host closed its end: EPIPE), the writer records the failure, drops further frames but
// keeps releasing them, so the engine can still finish its committed work and shut down.
//
// Thread-safety: Send() from any thread; Start()/Close() from the owner.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/inflight_limiter.h"
#include "protocol/session.h"

namespace litestash {

class OutputWriter : public FrameSink {
 public:
  OutputWriter(int fd, InflightLimiter* limiter) : fd_(fd), limiter_(limiter) {}
  ~OutputWriter() override { Close(); }

  void Start();
  void Send(std::string frame) override;
  // Writes everything sent so far, then ends the thread. Idempotent.
  void Close();
  bool failed() const { return failed_.load(); }

 private:
  void Main();
  void WriteAll(std::vector<std::string>& frames);

  const int fd_;
  InflightLimiter* limiter_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> queue_;  // guarded by mu_
  bool closing_ = false;            // guarded by mu_
  std::atomic<bool> failed_{false};
  std::thread thread_;
};

}  // namespace litestash
