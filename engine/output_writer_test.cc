// OutputWriter on a real pipe: frames a thread holds (Hold) stay off the pipe until that thread
// calls Release and then arrive together and in order; frames other threads send meanwhile are
// not held; and the limiter's frame count comes back to where it started once all are written.
// A write to a pipe nobody reads (EPIPE) counts as the host ending the session only when the
// host's request pipe is hung up too.
#include "engine/output_writer.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <thread>

#include "engine/inflight_limiter.h"

namespace litestash {
namespace {

// Reads exactly `n` bytes from `fd`, waiting up to 5 s for them ("" if they do not come).
std::string ReadExactly(int fd, size_t n) {
  std::string out;
  while (out.size() < n) {
    pollfd in = {fd, POLLIN, 0};
    if (::poll(&in, 1, 5000) != 1) return "";
    char buf[256];
    const ssize_t got = ::read(fd, buf, std::min(sizeof(buf), n - out.size()));
    if (got <= 0) return "";
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

bool Readable(int fd, int wait_ms) {
  pollfd in = {fd, POLLIN, 0};
  return ::poll(&in, 1, wait_ms) == 1;
}

TEST_CASE("a thread's held frames leave together at Release, other threads' are not held") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  InflightLimiter limiter(1000, 1 << 20);
  limiter.AddFrames(5);  // as the reader counts the requests these frames answer
  {
    OutputWriter writer(fds[1], &limiter, 1 << 20);
    writer.Start();
    writer.Hold();
    writer.Send("aa");
    writer.Send("bb");
    std::thread other([&writer] { writer.Send("cc"); });
    other.join();
    CHECK(ReadExactly(fds[0], 2) == "cc");
    CHECK_FALSE(Readable(fds[0], 100));  // "aa" and "bb" are held
    writer.Release();
    CHECK(ReadExactly(fds[0], 4) == "aabb");
    writer.Release();   // nothing held: no effect
    writer.Send("dd");  // no longer held
    CHECK(ReadExactly(fds[0], 2) == "dd");
    writer.Hold();
    writer.Release();  // held nothing
    writer.Send("ee");
    CHECK(ReadExactly(fds[0], 2) == "ee");
    writer.Close();
  }
  CHECK(limiter.frames() == 0);
  ::close(fds[0]);
  ::close(fds[1]);
}

struct ClosedPipeOutcome {
  bool failed = false;
  bool host_closed = false;
  int64_t dropped = 0;
};

// Sends three frames to a pipe whose read end is closed. `close_input`: the host's request
// pipe is hung up too; `known_input`: the writer is told that pipe (else -1).
ClosedPipeOutcome SendToClosedPipe(bool close_input, bool known_input = true) {
  ::signal(SIGPIPE, SIG_IGN);  // as the engine does: EPIPE, not death
  int in[2], out[2];
  REQUIRE(::pipe(in) == 0);
  REQUIRE(::pipe(out) == 0);
  ::close(out[0]);
  if (close_input) ::close(in[1]);
  InflightLimiter limiter(1000, 1 << 20);
  limiter.AddFrames(3);
  ClosedPipeOutcome outcome;
  {
    OutputWriter writer(out[1], &limiter, 1 << 20, known_input ? in[0] : -1);
    writer.Start();
    writer.Send("aa");
    writer.Send("bb");
    writer.Send("cc");
    writer.Close();
    outcome = {writer.failed(), writer.host_closed(), writer.dropped()};
  }
  ::close(out[1]);
  ::close(in[0]);
  if (!close_input) ::close(in[1]);
  return outcome;
}

TEST_CASE("EPIPE with the host's request pipe hung up too is the host ending the session") {
  const ClosedPipeOutcome o = SendToClosedPipe(/*close_input=*/true);
  CHECK(o.failed);
  CHECK(o.host_closed);
  CHECK(o.dropped == 3);
}

TEST_CASE("EPIPE while the host's request pipe stays open is a failure") {
  ClosedPipeOutcome o = SendToClosedPipe(/*close_input=*/false);
  CHECK(o.failed);
  CHECK_FALSE(o.host_closed);
  CHECK(o.dropped == 3);
  o = SendToClosedPipe(/*close_input=*/true, /*known_input=*/false);  // no request pipe known
  CHECK(o.failed);
  CHECK_FALSE(o.host_closed);
}

}  // namespace
}  // namespace litestash
