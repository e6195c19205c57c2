// Engine spawning, /proc sampling, clean shutdown and temp dirs (see engine_process.h).
#include "engine_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "pipeline_driver.h"

namespace litestash::bench {

TempDir::TempDir(const std::string& root, const std::string& prefix) {
  std::string base = root;
  if (base.empty()) {
    const char* t = getenv("TMPDIR");
    base = (t && *t) ? t : "/tmp";
  }
  std::string templ = base + "/" + prefix + "XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp " + templ + ": " + strerror(errno));
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (!keep_) RemoveTree(path_);
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

EngineProcess::EngineProcess(const EngineOptions& opts, const std::string& data_dir, const std::string& log_path)
    : log_path_(log_path) {
  std::vector<std::string> args = {opts.binary,   "--data-dir", data_dir,       "--shards",
                                   std::to_string(opts.shards), "--sync", opts.sync,
                                   "--log-level", opts.log_level};
  args.insert(args.end(), opts.extra_args.begin(), opts.extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  if (access(opts.binary.c_str(), X_OK) != 0) {
    throw std::runtime_error("engine binary not executable: " + opts.binary);
  }
  int in_pipe[2], out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe: ") + strerror(errno));
  }
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("open " + log_path + ": " + strerror(errno));

  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + strerror(errno));
  if (pid_ == 0) {
    // Child: only async-signal-safe calls until exec.
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(log_fd, 2);
    signal(SIGPIPE, SIG_DFL);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(log_fd);
  in_fd_ = in_pipe[1];
  out_fd_ = out_pipe[0];
}

EngineProcess::~EngineProcess() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (in_fd_ >= 0) close(in_fd_);
  if (out_fd_ >= 0) close(out_fd_);
}

std::string EngineProcess::Call(const std::string& frame, double timeout_s) {
  size_t off = 0;
  while (off < frame.size()) {
    ssize_t w = write(in_fd_, frame.data() + off, frame.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw std::runtime_error(std::string("write to engine: ") + strerror(errno));
    off += static_cast<size_t>(w);
  }
  const uint64_t deadline = MonotonicNs() + static_cast<uint64_t>(timeout_s * 1e9);
  auto read_exact = [&](char* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
      uint64_t now = MonotonicNs();
      if (now >= deadline) throw std::runtime_error("engine did not answer within the timeout");
      pollfd p{out_fd_, POLLIN, 0};
      int pr = poll(&p, 1, static_cast<int>((deadline - now) / 1000000 + 1));
      if (pr <= 0) continue;
      ssize_t r = read(out_fd_, dst + got, n - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) throw std::runtime_error("engine closed stdout (exited?)");
      got += static_cast<size_t>(r);
    }
  };
  unsigned char hdr[4];
  read_exact(reinterpret_cast<char*>(hdr), 4);
  uint32_t n = (uint32_t{hdr[0]} << 24) | (uint32_t{hdr[1]} << 16) | (uint32_t{hdr[2]} << 8) | hdr[3];
  std::string body(n, '\0');
  read_exact(body.data(), n);
  return body;
}

int64_t ProcStatusKb(pid_t pid, const char* field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const size_t flen = strlen(field);
  while (std::getline(f, line)) {
    if (line.compare(0, flen, field) == 0 && line.size() > flen && line[flen] == ':') {
      return std::stoll(line.substr(flen + 1));  // "VmHWM:    12345 kB"
    }
  }
  return -1;
}

int64_t EngineProcess::PeakRssKb() const { return reaped_ ? -1 : ProcStatusKb(pid_, "VmHWM"); }
int64_t EngineProcess::RssKb() const { return reaped_ ? -1 : ProcStatusKb(pid_, "VmRSS"); }
int64_t EngineProcess::StatusKb(const char* field) const {
  return reaped_ ? -1 : ProcStatusKb(pid_, field);
}
double EngineProcess::CpuSeconds() const { return reaped_ ? -1 : ProcCpuSeconds(pid_); }

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double ProcCpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  if (!f) return -1;
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces; fields after the last ')' are fixed.
  auto rp = all.rfind(')');
  if (rp == std::string::npos) return -1;
  std::istringstream rest(all.substr(rp + 2));
  std::string tok;
  unsigned long long utime = 0, stime = 0;
  for (int field = 3; rest >> tok; ++field) {
    if (field == 14) utime = std::stoull(tok);
    if (field == 15) { stime = std::stoull(tok); break; }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

ExitInfo EngineProcess::Shutdown(double timeout_s) {
  ExitInfo info;
  if (reaped_) return info;
  if (in_fd_ >= 0) { close(in_fd_); in_fd_ = -1; }
  const uint64_t start = MonotonicNs();
  int status = 0;
  rusage ru{};
  int signals_sent = 0;
  while (true) {
    pid_t r = wait4(pid_, &status, WNOHANG, &ru);
    if (r == pid_) break;
    if (r < 0 && errno != EINTR) break;
    double waited = static_cast<double>(MonotonicNs() - start) / 1e9;
    if (signals_sent == 0 && waited > timeout_s) { kill(pid_, SIGTERM); signals_sent = 1; }
    if (signals_sent == 1 && waited > timeout_s + 10) { kill(pid_, SIGKILL); signals_sent = 2; }
    // Drain stray output so a chatty engine cannot block on a full pipe while exiting.
    char sink[4096];
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, 10) > 0 && (p.revents & POLLIN)) (void)!read(out_fd_, sink, sizeof sink);
  }
  reaped_ = true;
  info.shutdown_s = static_cast<double>(MonotonicNs() - start) / 1e9;
  info.exited = WIFEXITED(status) && signals_sent == 0;
  info.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  info.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  return info;
}

std::string EngineProcess::LogTail(size_t max_bytes) const {
  std::ifstream f(log_path_, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return all.size() > max_bytes ? all.substr(all.size() - max_bytes) : all;
}

}  // namespace litestash::bench
