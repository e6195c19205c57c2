// Pipelined request driver: one writer thread and one reader thread over a byte stream (the
// engine's stdin/stdout pipes, or a TCP socket to Redis), keeping at most `depth` requests in
// flight.
//
// Contract:
// - The writer asks the protocol to encode request seq = 0, 1, 2, ... in order, stamps each
//   request's send time (monotonic ns) just before the write() that carries it, and coalesces
//   up to 64 ready requests into one write. It never has more than spec.depth unanswered
//   requests outstanding.
// - The reader hands received bytes to the protocol, which reports each complete answer with
//   the seq it belongs to (by echoed id for the engine, by order for Redis). Latency of a
//   request = answer parse time - its send time.
// - At depth 1 there is nothing to overlap, so one thread does write-then-read per request,
//   like a plain synchronous client (no cross-thread wake-up in the measured round trip).
// - RunPipeline returns when every request is answered, or marks the result `broken` when the
//   peer closes, a write fails, the protocol throws (malformed answer / unknown id), or no byte
//   arrives for `stall_timeout_s` seconds. It never kills the peer itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "phase_result.h"

namespace litestash::bench {

struct Answer {
  uint64_t seq = 0;
  bool ok = true;
  uint32_t misses = 0;
  uint32_t items = 0;  // stream entries the answer returned (xrange)
  std::string error;  // set when !ok
};

class PipelineProtocol {
 public:
  virtual ~PipelineProtocol() = default;
  // Writer thread only; seq increases by one each call starting from 0.
  virtual void Encode(uint64_t seq, std::string& out) = 0;
  // Reader thread only. Parses every complete answer at the front of [data, data+len),
  // appends them to `answers` and returns the number of bytes consumed. Throws
  // std::runtime_error on malformed input.
  virtual size_t Decode(const char* data, size_t len, std::vector<Answer>& answers) = 0;
};

// Drives spec.requests requests at spec.depth through (write_fd, read_fd) and fills `result`
// (seconds, answered, errors, misses, entries, latency_ns, broken). Call result.Summarize() afterwards.
void RunPipeline(int write_fd, int read_fd, PipelineProtocol& protocol, const PhaseSpec& spec,
                 PhaseResult& result, double stall_timeout_s = 120.0);

uint64_t MonotonicNs();

}  // namespace litestash::bench
