// InflightLimiter: bounds the requests (and their frame bytes) accepted but not yet answered.
//
// The reader thread calls WaitForRoom() before each read of stdin; while the engine holds
// max_frames unanswered frames, or max_bytes of request bytes not yet run plus answer bytes not
// yet written, it waits, stops reading, and the pipe pushes back on the host. Memory therefore
// stays bounded whatever the host sends: at most the limits plus one read's worth of frames.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace litestash {

class InflightLimiter {
 public:
  InflightLimiter(int64_t max_frames, int64_t max_bytes)
      : max_frames_(max_frames), max_bytes_(max_bytes) {}

  void AddFrames(int64_t n) { Adjust(n, 0); }
  void ReleaseFrames(int64_t n) { Adjust(-n, 0); }
  void AddBytes(int64_t n) { Adjust(0, n); }
  void ReleaseBytes(int64_t n) { Adjust(0, -n); }

  // Waits up to `timeout` for both counts to be under their limits; true if they are.
  bool WaitForRoom(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout,
                        [this] { return frames_ < max_frames_ && bytes_ < max_bytes_; });
  }
  int64_t frames() const {
    std::lock_guard<std::mutex> lock(mu_);
    return frames_;
  }

 private:
  void Adjust(int64_t frames, int64_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      frames_ += frames;
      bytes_ += bytes;
    }
    if (frames < 0 || bytes < 0) cv_.notify_all();
  }

  const int64_t max_frames_;
  const int64_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t frames_ = 0;  // guarded by mu_; may dip below 0 briefly (answer before count)
  int64_t bytes_ = 0;   // guarded by mu_
};

}  // namespace litestash
