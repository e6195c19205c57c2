// OutputWriter: the owner of stdout. Every response frame, from any thread, goes through
// Send(); one writer thread writes them in arrival order with writev, many frames per call. The
// reader thread's own small answers may be written at once on the reader thread (SendNow) when
// the writer is idle and the pipe has room, saving a thread hop on the one-in-flight path. A
// shard thread holds the answers of a committed transaction (Hold/Release, told by the shard
// worker's AnswerScope) and hands them over together, written at once on the shard thread under
// the same conditions: one write per transaction instead of a wake-up of the writer thread. One
// thread at a time writes fd 1 (the `writing_` flag), so frames never interleave.
//
// A frame's bytes count against the InflightLimiter's byte budget from Send() until written, so
// a host that stops reading cannot make answers pile up without bound; after a frame is written
// the writer releases it (one frame, its bytes) from the limiter. If the write fails
// (the host closed its end: EPIPE), the writer records the failure, drops further frames but
// keeps releasing them, so the engine can still finish its committed work and shut down.
//
// A host that closes both pipes at once (an Erlang `Port.close`, or a host that exits) has ended
// the session rather than failed it: when a write fails with EPIPE and `input_fd` (the host's
// request pipe, stdin) reports a hang-up within kHangupGrace, the failure is recorded as
// host_closed() and not logged as an error; the owner decides the exit status. Otherwise the
// failure is logged once, as an error.
//
// Thread-safety: Send() from any thread; Start()/Close() from the owner.
#pragma once

#include <atomic>
#include <chrono>
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
  // `max_queued_bytes`: answer bytes not yet written beyond which Send() waits. `input_fd`: the
  // host's request pipe, polled (never read) after a failed write; -1: none.
  OutputWriter(int fd, InflightLimiter* limiter, int64_t max_queued_bytes, int input_fd = -1)
      : fd_(fd), input_fd_(input_fd), limiter_(limiter), max_queued_bytes_(max_queued_bytes) {}
  ~OutputWriter() override { Close(); }

  void Start();
  // Queues a frame for the writer thread. Waits while the answers not yet written exceed
  // max_queued_bytes (the shard threads' back-pressure), until Unblock().
  void Send(std::string frame) override;
  // Shutdown: Send() no longer waits for the host.
  void Unblock();
  // For the reader thread: when nothing is queued or being written, writes at once as much as
  // the pipe takes without blocking (pwritev2 RWF_NOWAIT; without it, a batch up to PIPE_BUF
  // when poll says there is room) and queues the rest for the writer thread; otherwise queues
  // all (one wake-up). Never blocks on the host.
  void SendNow(std::string frame) override;
  void SendBatch(std::vector<std::string>& frames) override;
  // Frames this thread Send()s from Hold() until Release() are held, then sent as one batch:
  // after Send()'s wait for room, written at once on this thread if the writer is idle and the
  // pipe has room (as SendBatch), else queued with one wake-up. For the shard threads.
  void Hold();
  void Release();
  // Writes everything sent so far, then ends the thread. Idempotent.
  void Close();
  // Like Close(), but gives up after `deadline` if the host is not reading (returns false; the
  // thread is then still blocked in write() and the process must exit without joining it).
  bool CloseWithin(std::chrono::milliseconds deadline);
  bool failed() const { return failed_.load(); }
  // The failure was EPIPE with the host's request pipe hung up too: the host ended the session.
  bool host_closed() const { return host_closed_.load(); }
  // Frames dropped after the failure (answers the host never got).
  int64_t dropped() const { return dropped_.load(); }

 private:
  void Main();
  // Caller holds writing_. Writes `frames` from their first byte: with writev until all is
  // written, or (nowait) with pwritev2(RWF_NOWAIT) until the pipe is full. Returns the bytes
  // written; after a write error (failed_), all of them, as they are dropped. Sets
  // nowait_unsupported_ if RWF_NOWAIT is refused before anything was written.
  size_t Write(std::vector<std::string>& frames, bool nowait);
  void WriteAndRelease(std::vector<std::string>& frames);
  // Caller holds writing_. Returns the leading bytes of `frames` (`total` in all) written.
  size_t WriteWithoutBlocking(std::vector<std::string>& frames, size_t total);
  // Ends a write: releases `frames` whole frames and `bytes` from the limiter and the queue's
  // count, puts `rest` (unwritten frames, may be null) at the front of the queue, gives up
  // writing_ and wakes whoever waits for it.
  void HandBack(int64_t frames, int64_t bytes, std::vector<std::string>* rest);
  // `lock` holds mu_. Waits while the answers not yet written reach max_queued_bytes_, until
  // Unblock(): the back-pressure of Send() and Release().
  void WaitForRoom(std::unique_lock<std::mutex>& lock);

  // After EPIPE: whether input_fd_ reports a hang-up within kHangupGrace (a host closing both
  // pipes closes them microseconds apart, in either order).
  bool InputHungUp() const;

  static constexpr size_t kInlineMax = 4096;  // PIPE_BUF: a pipe with room takes it whole
  static constexpr std::chrono::milliseconds kHangupGrace{100};

  const int fd_;
  const int input_fd_;
  InflightLimiter* limiter_;
  const int64_t max_queued_bytes_;
  std::mutex mu_;
  std::condition_variable cv_;  // wakes the writer thread
  std::condition_variable drained_cv_;
  std::condition_variable room_cv_;  // signalled when written answers free budget
  int64_t queued_bytes_ = 0;         // guarded by mu_: answers queued or being written
  bool unblocked_ =
      false;  // guarded by mu_  // signalled when a swap was written and none is queued
  std::vector<std::string> queue_;  // guarded by mu_
  bool closing_ = false;            // guarded by mu_
  bool writing_ = false;  // guarded by mu_: some thread (writer or reader) is writing fd 1
  std::atomic<bool> failed_{false};
  std::atomic<bool> host_closed_{false};  // set once, with failed_, by the failing writer
  std::atomic<int64_t> dropped_{0};
  bool nowait_unsupported_ = false;  // guarded by writing_: RWF_NOWAIT refused once
  std::thread thread_;
};

}  // namespace litestash
