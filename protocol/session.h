// Session: the protocol side of one host connection, from raw stdin bytes to decoded requests.
//
// Feed() takes bytes exactly as read from the pipe. Complete frames are decoded and validated;
// valid requests go to the RequestSink, and every frame that cannot become a request (zero
// length, too large, malformed, invalid) is answered at once through the FrameSink with the
// contract's error shape. So each frame yields exactly one call to one of the two sinks, which
// is what the engine's in-flight accounting counts on.
//
// No I/O and no SQLite here: the engine owns the fd and the shards; tests drive a Session with
// stub sinks. Thread-safety: a Session is used by the one reader thread; the sinks are called on
// that thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/frame_reader.h"
#include "protocol/limits.h"
#include "protocol/op_catalog.h"
#include "protocol/request.h"

namespace litestash {

class RequestSink {
 public:
  virtual ~RequestSink() = default;
  // Takes ownership of a valid request; must lead to exactly one response frame.
  virtual void Submit(RequestPtr request) = 0;
};

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // Takes one finished response frame (length prefix included) for the host.
  virtual void Send(std::string frame) = 0;
  // Like Send(), for the reader thread's own answers: a sink may write it at once on the
  // calling thread when that cannot block. The default just queues it.
  virtual void SendNow(std::string frame) { Send(std::move(frame)); }
  // Takes several frames at once (moved out; `frames` is left with moved-from strings), for the
  // reader thread. A sink may write them at once when that cannot block, or queue them together.
  virtual void SendBatch(std::vector<std::string>& frames) {
    for (auto& f : frames) Send(std::move(f));
  }
};

class Session {
 public:
  // `ops` must outlive the session.
  Session(const OpCatalog& ops, const Limits& limits, RequestSink* requests, FrameSink* responses)
      : ops_(ops),
        limits_(limits),
        reader_(limits.max_frame_bytes),
        requests_(requests),
        responses_(responses) {}

  // Consumes bytes up to and including the end of the next complete frame (or all of them if
  // none completes), emitting one sink call for that frame. Returns the bytes consumed. The
  // engine calls it in a loop so it can pause between frames (back-pressure).
  size_t FeedFrame(const char* data, size_t size);

  // Consumes all `size` bytes, emitting one sink call per completed frame.
  void Feed(const char* data, size_t size) {
    while (size > 0) {
      const size_t used = FeedFrame(data, size);
      data += used;
      size -= used;
    }
  }

  // True if the bytes fed so far end inside a frame (end of input now = truncated frame).
  bool mid_frame() const { return reader_.mid_frame(); }

  uint64_t frames() const { return frames_; }

 private:
  void OnFrame(std::string frame);

  const OpCatalog& ops_;
  const Limits limits_;
  FrameReader reader_;
  RequestSink* requests_;
  FrameSink* responses_;
  uint64_t frames_ = 0;
};

}  // namespace litestash
