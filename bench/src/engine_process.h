// Lifecycle of one engine process under test, and scratch directories.
//
// Contract:
// - TempDir makes a fresh directory (mkdtemp under `root`, default $TMPDIR or /tmp) and removes
//   it recursively on destruction unless keep() was called.
// - EngineProcess::Spawn runs `<binary> --data-dir <dir> --shards N --sync S --log-level L
//   [extra args...]` with stdin/stdout as pipes owned by this object and stderr appended to
//   `<log_path>`. The data dir does not exist beforehand (the engine creates it).
// - Call() sends one frame and blocks for one answer frame (use only when nothing is in flight).
// - PeakRssKb() reads VmHWM from /proc/<pid>/status; CpuSeconds() reads utime+stime of all
//   threads from /proc/<pid>/stat. Both return -1 once the process is gone.
// - Shutdown() closes stdin (the contract's clean stop), waits up to `timeout_s` with wait4 to
//   collect the exit status and the rusage CPU time, then SIGTERM, then SIGKILL. The destructor
//   kills a process that was not shut down.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace litestash::bench {

class TempDir {
 public:
  explicit TempDir(const std::string& root = "", const std::string& prefix = "litestash-bench-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

void RemoveTree(const std::string& path);

// utime+stime of every thread of `pid` in seconds (from /proc/<pid>/stat); -1 if unreadable.
double ProcCpuSeconds(pid_t pid);
// A "Name:  N kB" line of /proc/<pid>/status (VmHWM, VmRSS) in kB; -1 if unreadable.
int64_t ProcStatusKb(pid_t pid, const char* field);
// CPU seconds this process (the load generator) has used so far, all threads.
double SelfCpuSeconds();

struct EngineOptions {
  std::string binary = "build/litestash-engine";
  int shards = 16;
  std::string sync = "normal";
  std::string log_level = "warn";
  std::vector<std::string> extra_args;
};

struct ExitInfo {
  bool exited = false;      // exited on its own after stdin closed
  int status = -1;          // exit code, or 128+signal
  double cpu_s = -1;        // utime+stime from wait4 rusage
  double shutdown_s = 0;    // stdin close to reaped
};

class EngineProcess {
 public:
  // Throws std::runtime_error when the binary cannot be started.
  EngineProcess(const EngineOptions& opts, const std::string& data_dir, const std::string& log_path);
  ~EngineProcess();
  EngineProcess(const EngineProcess&) = delete;
  EngineProcess& operator=(const EngineProcess&) = delete;

  pid_t pid() const { return pid_; }
  int stdin_fd() const { return in_fd_; }
  int stdout_fd() const { return out_fd_; }
  const std::string& log_path() const { return log_path_; }

  // One synchronous request/answer; returns the answer body. Throws on EOF / timeout.
  std::string Call(const std::string& frame, double timeout_s = 60.0);

  int64_t PeakRssKb() const;
  int64_t RssKb() const;
  int64_t StatusKb(const char* field) const;  // a "... kB" field of /proc/<pid>/status
  double CpuSeconds() const;
  ExitInfo Shutdown(double timeout_s = 120.0);
  // Last `max_bytes` of the engine's stderr log (for error reports).
  std::string LogTail(size_t max_bytes = 2000) const;

 private:
  pid_t pid_ = -1;
  int in_fd_ = -1;
  int out_fd_ = -1;
  bool reaped_ = false;
  std::string log_path_;
};

}  // namespace litestash::bench
