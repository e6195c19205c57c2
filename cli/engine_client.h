// EngineClient: litestash-cli's host side. It spawns litestash-engine with pipes on its stdin
// and stdout and speaks the protocol's frames over them.
//
// The engine runs in its own process group, so a Ctrl-C at the terminal reaches only the cli
// (which then stops a TAIL, say) and never shuts the engine down under it. Its stderr is the
// cli's stderr.
//
// Pipelining: Send() only queues a frame; Flush() and Receive() write queued frames while
// reading answers at the same time (poll on both pipes), so any number of requests can be
// sent before the first answer is read without the two processes blocking each other.
// Answers are matched to requests by id; an answer that arrives for another id waits in a map
// until asked for. Receive() gives up with kShuttingDown when Interrupt() was called (by a
// SIGINT handler: it is async-signal-safe) and with kIOError when the engine exits.
//
// Not thread-safe: one thread drives a client.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli/request.h"
#include "common/status.h"

namespace litestash::cli {

struct EngineSpec {
  std::string binary;             // a path, or a bare name looked up on PATH
  std::vector<std::string> args;  // everything after argv[0]
};

// The engine binary to run: `flag` when given, else $LITESTASH_ENGINE, else litestash-engine
// beside `self_exe` when that file exists, else "litestash-engine" (found on PATH).
std::string LocateEngine(const std::string& flag, const std::string& self_exe);

class EngineClient {
 public:
  // Spawns the engine and waits for its `hello` answer. Fails (kIOError, with the engine's
  // exit status in the message) when it cannot be started or exits before answering.
  static Result<std::unique_ptr<EngineClient>> Start(const EngineSpec& spec);
  ~EngineClient();

  // Queues one request and returns its id.
  uint64_t Send(const Request& request);
  Status Flush();
  // Waits for the answer to `id`.
  Result<Answer> Receive(uint64_t id);
  Result<Answer> Call(const Request& request) { return Receive(Send(request)); }
  // An answer nobody will ask for (after an interrupted Receive): dropped when it arrives.
  void Abandon(uint64_t id) { abandoned_.insert(id); }

  const Answer& hello() const { return hello_; }
  uint64_t shards() const { return hello_.Uint("shards").value_or(0); }

  // Closes the engine's stdin, drains its answers and waits for it. Returns its exit status.
  int Close();

  // Makes the current (or next) Receive() return kShuttingDown; async-signal-safe.
  static void Interrupt() { interrupted_.store(true); }
  static void ClearInterrupt() { interrupted_.store(false); }
  static bool Interrupted() { return interrupted_.load(); }
  // Makes SIGINT call Interrupt() (no SA_RESTART, so a waiting poll wakes). `once`: the
  // handler resets itself, so a second Ctrl-C kills the process as usual.
  static void CatchSigint(bool once);

 private:
  EngineClient() = default;
  // One round of poll: writes what it can, reads what is there. `want_read`: wait for input.
  Status Pump(bool want_read);
  Status ReadAvailable();

  pid_t pid_ = -1;
  int to_engine_ = -1;
  int from_engine_ = -1;
  uint64_t next_id_ = 1;
  std::string out_;  // frames not yet written
  size_t out_off_ = 0;
  std::string in_;  // bytes read, not yet split into frames
  std::map<uint64_t, Answer> ready_;
  std::set<uint64_t> abandoned_;
  Answer hello_;
  bool eof_ = false;
  int exit_status_ = -1;
  static std::atomic<bool> interrupted_;
};

}  // namespace litestash::cli
