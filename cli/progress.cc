// Progress bar on stderr; see progress.h.
#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace litestash::cli {

Progress::Progress(std::string unit, uint64_t total)
    : unit_(std::move(unit)),
      total_(total),
      enabled_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

std::string Progress::Render(uint64_t done, uint64_t total, double seconds,
                             const std::string& unit) {
  char buf[200];
  double rate = seconds > 0 ? done / seconds : 0;
  std::string line;
  if (total > 0) {
    constexpr int kWidth = 24;
    int filled = static_cast<int>(kWidth * std::min<double>(1.0, double(done) / total));
    line = "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
    std::snprintf(buf, sizeof buf, "%3d%%  %llu/%llu %s  %.0f/s", int(100.0 * done / total),
                  (unsigned long long)done, (unsigned long long)total, unit.c_str(), rate);
    line += buf;
    if (rate > 0 && done < total) {
      std::snprintf(buf, sizeof buf, "  ETA %.0fs", (total - done) / rate);
      line += buf;
    }
  } else {
    std::snprintf(buf, sizeof buf, "%llu %s  %.0f/s", (unsigned long long)done, unit.c_str(), rate);
    line = buf;
  }
  return line;
}

void Progress::Add(uint64_t n) {
  done_ += n;
  Draw(false);
}

void Progress::Draw(bool force) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  double secs = std::chrono::duration<double>(now - start_).count();
  std::fprintf(stderr, "\r\033[K%s", Render(done_, total_, secs, unit_).c_str());
  std::fflush(stderr);
}

void Progress::Finish() {
  if (!enabled_ || !drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace litestash::cli
