// EngineClient: spawning the engine and moving frames both ways; see engine_client.h.
#include "cli/engine_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace litestash::cli {

std::atomic<bool> EngineClient::interrupted_{false};

std::string LocateEngine(const std::string& flag, const std::string& self_exe) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("LITESTASH_ENGINE"); env && *env) return env;
  std::error_code ec;
  auto beside = std::filesystem::path(self_exe).parent_path() / "litestash-engine";
  if (!self_exe.empty() && std::filesystem::exists(beside, ec)) return beside.string();
  return "litestash-engine";
}

namespace {

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "stopped";
}

}  // namespace

Result<std::unique_ptr<EngineClient>> EngineClient::Start(const EngineSpec& spec) {
  int in_pipe[2], out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0) {
    return Status::IOError(std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_pipe[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], STDOUT_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> argv_s{spec.binary};
  argv_s.insert(argv_s.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::unique_ptr<EngineClient> c(new EngineClient());
  int rc = posix_spawnp(&c->pid_, spec.binary.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(in_pipe[0]);
  close(out_pipe[1]);
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    c->pid_ = -1;
    return Status::IOError("cannot start " + spec.binary + ": " + std::strerror(rc));
  }
  c->to_engine_ = in_pipe[1];
  c->from_engine_ = out_pipe[0];
  fcntl(c->to_engine_, F_SETFL, O_NONBLOCK);
  signal(SIGPIPE, SIG_IGN);

  auto hello = c->Call(Request("hello"));
  if (!hello.ok() || !hello->ok()) {
    int status = c->Close();
    return Status::IOError("the engine (" + spec.binary + ") " + DescribeExit(status) +
                           " before answering hello");
  }
  c->hello_ = std::move(hello).value();
  return c;
}

EngineClient::~EngineClient() { Close(); }

namespace {
void OnSigint(int) { EngineClient::Interrupt(); }
}  // namespace

void EngineClient::CatchSigint(bool once) {
  struct sigaction sa {};
  sa.sa_handler = OnSigint;
  sa.sa_flags = once ? SA_RESETHAND : 0;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
}

uint64_t EngineClient::Send(const Request& request) {
  uint64_t id = next_id_++;
  out_ += request.Encode(id);
  return id;
}

Status EngineClient::ReadAvailable() {
  char buf[65536];
  ssize_t n = read(from_engine_, buf, sizeof buf);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN) return Status::Ok();
    return Status::IOError(std::string("reading from the engine: ") + std::strerror(errno));
  }
  if (n == 0) {
    eof_ = true;
    return Status::IOError("the engine closed its output");
  }
  in_.append(buf, n);
  size_t off = 0;
  while (in_.size() - off >= 4) {
    const auto* p = reinterpret_cast<const unsigned char*>(in_.data() + off);
    uint32_t len = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
    if (in_.size() - off - 4 < len) break;
    auto answer = Answer::Parse(in_.substr(off + 4, len));
    off += 4 + len;
    if (!answer.ok()) return answer.status();
    uint64_t id = answer->id().value_or(0);
    if (abandoned_.erase(id) == 0) ready_.insert_or_assign(id, std::move(answer).value());
  }
  in_.erase(0, off);
  return Status::Ok();
}

Status EngineClient::Pump(bool want_read) {
  bool writing = out_off_ < out_.size();
  if (!writing && !want_read) return Status::Ok();
  pollfd fds[2] = {{from_engine_, POLLIN, 0}, {to_engine_, POLLOUT, 0}};
  int n = poll(fds, writing ? 2 : 1, -1);
  if (n < 0) {
    if (errno == EINTR) return Status::Ok();
    return Status::IOError(std::string("poll: ") + std::strerror(errno));
  }
  if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
    if (Status st = ReadAvailable(); !st.ok()) return st;
  }
  if (writing && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
    ssize_t w = write(to_engine_, out_.data() + out_off_, out_.size() - out_off_);
    if (w < 0 && errno != EAGAIN && errno != EINTR) {
      return Status::IOError(std::string("writing to the engine: ") + std::strerror(errno));
    }
    if (w > 0) out_off_ += w;
    if (out_off_ == out_.size()) out_.clear(), out_off_ = 0;
  }
  return Status::Ok();
}

Status EngineClient::Flush() {
  while (out_off_ < out_.size()) {
    if (eof_) return Status::IOError("the engine exited");
    if (Status st = Pump(false); !st.ok()) return st;
  }
  return Status::Ok();
}

Result<Answer> EngineClient::Receive(uint64_t id) {
  for (;;) {
    if (auto it = ready_.find(id); it != ready_.end()) {
      Answer a = std::move(it->second);
      ready_.erase(it);
      return a;
    }
    if (interrupted_.load()) return Status(StatusCode::kShuttingDown, "interrupted");
    if (eof_) return Status::IOError("the engine exited before answering");
    if (Status st = Pump(true); !st.ok()) return st;
  }
}

int EngineClient::Close() {
  if (pid_ < 0) return exit_status_;
  (void)Flush();
  if (to_engine_ >= 0) close(to_engine_), to_engine_ = -1;
  while (!eof_) {
    char buf[65536];
    ssize_t n = read(from_engine_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
  }
  if (from_engine_ >= 0) close(from_engine_), from_engine_ = -1;
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  exit_status_ = status;
  return status;
}

}  // namespace litestash::cli
