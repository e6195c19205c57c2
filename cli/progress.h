// Progress: a one-line progress bar on stderr for long work (export, import, check):
//   [#########.........]  45%  4500/10000 keys  1234/s  ETA 4s
// It draws only when stderr is a terminal (else it is silent, so scripts and logs stay
// clean), at most 10 times a second, and erases itself at Finish(). `total` 0 means unknown
// (no bar, no ETA).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace litestash::cli {

class Progress {
 public:
  Progress(std::string unit, uint64_t total);
  ~Progress() { Finish(); }
  void SetTotal(uint64_t total) { total_ = total; }
  void Add(uint64_t n);
  void Finish();
  bool enabled() const { return enabled_; }

  // The line drawn for `done` of `total` after `seconds` (exposed for tests).
  static std::string Render(uint64_t done, uint64_t total, double seconds, const std::string& unit);

 private:
  void Draw(bool force);

  std::string unit_;
  uint64_t total_;
  uint64_t done_ = 0;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace litestash::cli
