#include "engine/engine.h"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "engine/dispatcher.h"
#include "engine/exit_codes.h"
#include "engine/output_writer.h"
#include "protocol/session.h"
#include "shard/checkpointer.h"

namespace litestash {
namespace {

constexpr size_t kReadChunk = 256 * 1024;
constexpr std::chrono::milliseconds kSignalDrainDeadline{10000};

void SetUpLogging(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("litestash");
  logger->set_pattern("[%Y-%m-%dT%H:%M:%S.%e] [litestash] [%l] %v");
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

// Creates the data dir (mode 0700) if missing and checks it is a writable directory.
int PrepareDataDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    spdlog::critical("cannot create data dir '{}': {}", dir, ec.message());
    return kExitCannotOpen;
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    spdlog::critical("data dir '{}' is not a directory", dir);
    return kExitCannotOpen;
  }
  if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    spdlog::critical("data dir '{}' is not writable: {}", dir, std::strerror(errno));
    return kExitCannotOpen;
  }
  return kExitOk;
}

std::string ShardPath(const std::string& dir, uint32_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "shard-%02u.db", index);
  return (std::filesystem::path(dir) / name).string();
}

// `eighths`/8 of --cache-mib, split evenly across the shards, at least 256 KiB each. The
// shard threads' connections get an eighth: a write touches the B-trees' interior pages, which
// fit, and one leaf per key, which at 1M keys (20 MB per shard) no cache of this size holds
// (1M pipelined SETs ran at the same rate with 4x the writer cache). The reader's connections
// get the other seven: a uniform GET over 1M keys ran 74k -> 90k ops/s from 0.75 to 1.5 MiB.
int CacheKibPerShard(const Config& config, int eighths) {
  return static_cast<int>(std::max<int64_t>(
      256, config.cache_mib * 1024 * eighths / 8 / static_cast<int64_t>(config.shards)));
}

// The options of shard `index` as the flags ask for them (for its shard thread).
ShardOptions ShardOptionsFor(const Config& config, uint32_t index) {
  ShardOptions options;
  options.path = config.memory ? std::string() : ShardPath(config.data_dir, index);
  options.in_memory = config.memory;
  options.index = index;
  options.count = config.shards;
  options.sync = config.sync;
  options.cache_kib = CacheKibPerShard(config, 1);
  options.mmap_bytes = config.mmap_mib << 20;
  options.spin_us = static_cast<int>(config.shard_spin_us);
  options.keep_versions = config.keep_versions;
  return options;
}

// Tells the output writer, once there is one, when a shard thread starts and ends answering a
// committed transaction, so the answers leave in one write (OutputWriter::Hold).
class WriterAnswerScope : public AnswerScope {
 public:
  void Attach(OutputWriter* writer) { writer_.store(writer, std::memory_order_release); }
  void Begin() override {
    if (OutputWriter* w = writer_.load(std::memory_order_acquire)) w->Hold();
  }
  void End() override {
    if (OutputWriter* w = writer_.load(std::memory_order_acquire)) w->Release();
  }

 private:
  std::atomic<OutputWriter*> writer_{nullptr};
};

// Opens all shards in parallel, each on its own worker thread. When the data dir already has
// shard 0, that one is opened (and its shard count checked) first, so a mismatched --shards is
// refused before any new shard file is created, and every shard must open before serving. On a
// new data dir (or --memory) there is nothing to refuse: the futures of the shards still being
// created go to `still_opening` and the engine serves meanwhile (a shard's tasks wait in its
// queue until it is open; `hello` needs no shard). On failure stops every worker and returns
// the exit code. `meanwhile` runs on the calling thread while the shard threads open files.
int OpenShards(const Config& config, const TxnServices& txns, Checkpointer* checkpointer,
               AnswerScope* answers, std::vector<std::unique_ptr<ShardWorker>>* workers,
               const std::function<void()>& meanwhile,
               std::vector<std::future<Status>>* still_opening) {
  const bool existing = !config.memory && std::filesystem::exists(ShardPath(config.data_dir, 0));
  std::vector<std::future<Status>> opened;
  Status failure;
  for (uint32_t i = 0; i < config.shards && failure.ok(); ++i) {
    ShardOptions options = ShardOptionsFor(config, i);
    options.recovery = txns.recovery_env();
    options.checkpointer = checkpointer;
    options.answers = answers;
    workers->push_back(std::make_unique<ShardWorker>(options));
    opened.push_back(workers->back()->Start());
    if (i == 0 && existing) {
      failure = opened.back().get();
      opened.pop_back();
    }
  }
  meanwhile();
  if (!existing && failure.ok()) {
    *still_opening = std::move(opened);  // a new data dir: nothing to refuse, serve meanwhile
    return kExitOk;
  }
  for (auto& f : opened) {
    Status st = f.get();
    if (failure.ok()) failure = st;
  }
  if (failure.ok()) return kExitOk;
  spdlog::critical("cannot open data dir '{}': {}", config.data_dir, failure.message());
  for (auto& w : *workers) w->Stop();
  return ExitCodeForOpenFailure(failure);
}

// Watches the shards still being created on a new data dir while the reader serves. If one
// fails, fd() becomes readable and Finish() says how the engine must stop (as it would have
// at start-up; what was answered so far was true: tasks of other shards committed first).
// Thread-safety: fd()/Finish() from the reader thread; the watcher thread is internal.
class OpenWatcher {
 public:
  OpenWatcher(const std::string& data_dir, std::vector<std::future<Status>> opening)
      : fd_(opening.empty() ? -1 : ::eventfd(0, EFD_CLOEXEC)) {
    if (opening.empty()) return;
    thread_ = std::thread([this, data_dir, opening = std::move(opening)]() mutable {
      for (auto& f : opening) {
        Status st = f.get();
        if (st.ok() || exit_code_.load() != kExitOk) continue;
        spdlog::critical("cannot create data dir '{}': {}", data_dir, st.message());
        exit_code_.store(ExitCodeForOpenFailure(st));
        const uint64_t one = 1;
        if (::write(fd_, &one, sizeof one) < 0) std::_Exit(ExitCodeForOpenFailure(st));
      }
    });
  }
  ~OpenWatcher() {
    Finish();
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }
  // Waits until every shard has finished opening (call once the shard threads have ended) and
  // returns the start-up exit code: kExitOk, or the failure's.
  int Finish() {
    if (thread_.joinable()) thread_.join();
    return exit_code_.load();
  }

 private:
  const int fd_;
  std::atomic<int> exit_code_{kExitOk};
  std::thread thread_;
};

enum class StopReason { kEof, kTruncated, kSignal, kReadError, kOpenFailed };

// Reads stdin into the session until EOF or a signal. Pauses while too much is in flight.
// Takes a pending SIGTERM/SIGINT from the signalfd without blocking; true if there was one.
bool TakeSignal(int signal_fd) {
  pollfd pfd = {signal_fd, POLLIN, 0};
  if (::poll(&pfd, 1, 0) <= 0) return false;
  signalfd_siginfo info;
  if (::read(signal_fd, &info, sizeof info) != sizeof info) return false;
  spdlog::info("received {}, shutting down", strsignal(static_cast<int>(info.ssi_signo)));
  return true;
}

// Waits until stdin or the signalfd is readable. While the host has been sending its next
// request within `busy_poll` of our last answers (a request/answer loop), polls without sleeping
// for up to that long first: waking a sleeping thread costs tens of microseconds on some
// machines (a virtual CPU halts when idle), more than the request takes. Otherwise sleeps at
// once, so an idle or slow host costs no CPU. Returns poll()'s result.
class InputWaiter {
 public:
  InputWaiter(pollfd* fds, std::chrono::microseconds busy_poll)
      : fds_(fds), busy_poll_(busy_poll) {}

  // `before_sleep` runs just before a blocking poll (not before busy polling).
  template <typename BeforeSleep>
  int Wait(BeforeSleep before_sleep) {
    using Clock = std::chrono::steady_clock;
    const auto idle_since = Clock::now();
    int ready = 0;
    if (busy_poll_.count() > 0 && last_gap_ <= busy_poll_) {
      const auto until = idle_since + busy_poll_;
      while ((ready = ::poll(fds_, 3, 0)) == 0 && Clock::now() < until) sched_yield();
    }
    if (ready == 0) ready = ::poll(fds_, 3, 0);  // the last look, then sleep
    if (ready == 0) {
      before_sleep();
      ready = ::poll(fds_, 3, -1);
    }
    last_gap_ = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - idle_since);
    return ready;
  }

 private:
  pollfd* const fds_;
  const std::chrono::microseconds busy_poll_;
  std::chrono::microseconds last_gap_{0};  // how long the last wait took
};

StopReason Serve(Session& session, Dispatcher& dispatcher, InflightLimiter& limiter, int signal_fd,
                 int open_failed_fd, std::chrono::microseconds busy_poll) {
  std::vector<char> buf(kReadChunk);
  uint64_t counted = 0;
  // A negative fd (no shard still being created) is ignored by poll().
  pollfd fds[3] = {{STDIN_FILENO, POLLIN, 0}, {signal_fd, POLLIN, 0}, {open_failed_fd, POLLIN, 0}};
  InputWaiter waiter(fds, busy_poll);
  // Paused for back-pressure: keep watching for SIGTERM/SIGINT meanwhile.
  auto wait_for_room = [&] {
    if (limiter.WaitForRoom(std::chrono::milliseconds(0))) return true;
    dispatcher.Idle();  // what the reader holds (answers, snapshots) must go first
    while (!limiter.WaitForRoom(std::chrono::milliseconds(50))) {
      if (TakeSignal(signal_fd)) return false;
    }
    return true;
  };
  for (;;) {
    if (!wait_for_room()) return StopReason::kSignal;
    if (waiter.Wait([&] { dispatcher.Idle(); }) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("poll failed: {}", std::strerror(errno));
      return StopReason::kReadError;
    }
    if ((fds[1].revents & POLLIN) && TakeSignal(signal_fd)) return StopReason::kSignal;
    if (fds[2].revents & POLLIN) return StopReason::kOpenFailed;
    if (fds[0].revents == 0) continue;
    ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      spdlog::error("reading stdin failed: {}", std::strerror(errno));
      return StopReason::kReadError;
    }
    if (n == 0) return session.mid_frame() ? StopReason::kTruncated : StopReason::kEof;
    // One chunk: frame by frame, pausing whenever the limits are reached (one read can hold
    // thousands of small requests whose answers are large). The dispatcher holds back wake-ups
    // and answers until Flush(), which must come before any wait.
    for (size_t off = 0; off < static_cast<size_t>(n);) {
      off += session.FeedFrame(buf.data() + off, static_cast<size_t>(n) - off);
      limiter.AddFrames(static_cast<int64_t>(session.frames() - counted));
      counted = session.frames();
      if (off < static_cast<size_t>(n) && !wait_for_room()) return StopReason::kSignal;
    }
    dispatcher.Flush();
  }
}

}  // namespace

int RunEngine(const Config& config) {
  SetUpLogging(config.log_level);
  ::umask(077);  // data dir 0700, shard files 0600

  // Block the shutdown signals before any thread starts, so all threads inherit the mask and
  // the reader takes them from the signalfd.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a vanished host shows up as EPIPE on write
  const int signal_fd = ::signalfd(-1, &mask, SFD_CLOEXEC);
  if (signal_fd < 0) {
    spdlog::critical("signalfd failed: {}", std::strerror(errno));
    return kExitInternal;
  }

  if (!config.memory) {
    if (int rc = PrepareDataDir(config.data_dir); rc != kExitOk) return rc;
  }
  // Declared before the workers: their connections' WAL hooks point at it until they close.
  std::unique_ptr<Checkpointer> checkpointer;
  if (const int64_t pages = CheckpointPages(config); !config.memory && pages > 0) {
    std::vector<std::string> paths;
    for (uint32_t i = 0; i < config.shards; ++i) paths.push_back(ShardPath(config.data_dir, i));
    CheckpointerOptions options;
    options.trigger_pages = static_cast<int>(pages);
    options.hard_limit_pages = static_cast<int>(std::min<int64_t>(pages * 2, 1 << 30));
    checkpointer = std::make_unique<Checkpointer>(std::move(paths), config.sync, options);
  }
  WriterAnswerScope answer_scope;  // before the workers: they use it until they stop
  std::vector<std::unique_ptr<ShardWorker>> workers;
  // Fetching OpenSSL's BLAKE2b-512 (provider start-up) costs as much as opening a shard; do it
  // while the shard threads open their files.
  Result<std::unique_ptr<Blake2b512>> hasher = Status::Internal("not created");
  auto create_hasher = [&hasher] { hasher = Blake2b512::Create(); };
  std::vector<std::future<Status>> still_opening;
  // Multi-shard writes: this engine's owner lock on the data dir, and the recovery every shard
  // runs before its write transactions (engine/txn_services.h).
  std::vector<ShardOptions> files;
  for (uint32_t i = 0; i < config.shards; ++i) files.push_back(ShardOptionsFor(config, i));
  auto txns = TxnServices::Create(config.memory ? std::string() : config.data_dir,
                                  !config.memory && config.sync != SyncMode::kOff, files);
  if (!txns.ok()) {
    spdlog::critical("cannot open data dir '{}': {}", config.data_dir, txns.status().message());
    return kExitCannotOpen;
  }
  std::shared_ptr<TxnServices> txn_services = std::move(txns).value();
  if (int rc = OpenShards(config, *txn_services, checkpointer.get(), &answer_scope, &workers,
                          create_hasher, &still_opening);
      rc != kExitOk) {
    return rc;
  }
  if (!hasher.ok()) {
    spdlog::critical("{}", hasher.status().message());
    for (auto& w : workers) w->Stop();
    return kExitInternal;
  }
  const CommandRegistry& registry = StandardRegistry();
  // The depth as recorded: given now, or read by shard 0 (opened first on an existing dir).
  const uint32_t depth = config.keep_versions.value_or(
      still_opening.empty() && !workers.empty() ? workers[0]->keep_versions() : 0);
  OpenWatcher open_watcher(config.data_dir, std::move(still_opening));

  InflightLimiter limiter(config.max_inflight, config.max_inflight_bytes);
  OutputWriter writer(STDOUT_FILENO, &limiter, config.max_inflight_bytes, STDIN_FILENO);
  writer.Start();
  answer_scope.Attach(&writer);
  std::vector<ShardWorker*> shard_ptrs;
  for (auto& w : workers) shard_ptrs.push_back(w.get());
  DispatcherOptions options;  // the reader thread's own read connections (files only)
  for (uint32_t i = 0; i < config.shards && !config.memory; ++i) {
    ShardOptions o = ShardOptionsFor(config, i);
    o.read_only = true;
    o.cache_kib = CacheKibPerShard(config, 7);
    options.read_connections.push_back(o);
  }
  options.read_cache_bytes = static_cast<size_t>(config.read_cache_mib) << 20;
  options.max_waiting_reads = static_cast<size_t>(config.max_waiting_reads);
  options.txns = txn_services;
  Dispatcher dispatcher(
      registry, EngineIdentity{config.shards, config.limits, kEngineVersion, depth}, shard_ptrs,
      std::move(hasher).value(), &writer, &limiter, std::move(options));
  Session session(registry.catalog(), config.limits, &dispatcher, &writer);
  spdlog::info("litestash-engine {} serving {} shards {}{}", kEngineVersion, config.shards,
               config.memory ? "in memory" : "in ", config.memory ? "" : config.data_dir);

  const StopReason reason = Serve(session, dispatcher, limiter, signal_fd, open_watcher.fd(),
                                  std::chrono::microseconds(config.busy_poll_us));
  // No read connection may hold back the shards' final checkpoints, or outlive their close;
  // parked blocking reads are handed back to the shards, which answer them as they finish.
  dispatcher.Stop();
  // Likewise the checkpointer's connections (the shards' own close checkpoints what is left).
  if (checkpointer) checkpointer->Stop();

  // Every accepted request is queued; each worker finishes its queue, commits, checkpoints and
  // closes. Then the writer flushes the last answers.
  writer.Unblock();  // shards must be able to hand over their last answers
  for (auto& w : workers) w->Stop();
  if (reason == StopReason::kSignal) {
    // Everything is committed. A host that asked us to stop but no longer reads would keep
    // the writer blocked forever; give it a while, then exit without the last answers.
    if (!writer.CloseWithin(kSignalDrainDeadline)) {
      spdlog::error("host is not reading stdout; exiting after {}s with answers undelivered",
                    kSignalDrainDeadline.count() / 1000);
      spdlog::default_logger()->flush();
      std::_Exit(kExitOutputFailed);
    }
  }
  writer.Close();
  ::close(signal_fd);

  if (writer.failed()) {
    // A host that closed stdout while it kept stdin open went away mid-session. One that closed
    // both (an Erlang Port.close, a host that exited) ended it: nothing to report as an error.
    if (!writer.host_closed()) return kExitOutputFailed;
    spdlog::info("the host closed stdout and stdin; {} answers were not delivered",
                 writer.dropped());
  }
  // A shard of a new data dir that could not be created ends the engine with the start-up exit
  // code, whatever else stopped it first (stdin may have ended before the failure was seen).
  if (const int open_failure = open_watcher.Finish(); open_failure != kExitOk) return open_failure;
  switch (reason) {
    case StopReason::kTruncated:
      spdlog::error("stdin ended inside a frame; answered every complete request");
      return kExitTruncated;
    case StopReason::kReadError:
      return kExitInternal;
    case StopReason::kOpenFailed:
      return kExitInternal;  // unreachable: Finish() reported the failure above
    case StopReason::kEof:
    case StopReason::kSignal:
      spdlog::info("shut down cleanly after {} requests", session.frames());
      return kExitOk;
  }
  return kExitInternal;
}

}  // namespace litestash
