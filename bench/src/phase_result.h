// The measured outcome of one phase on any target, and its JSON form.
//
// Contract: `latency_ns` holds one sample per answered request (send time to answer time for
// pipelined targets, call duration for in-process SQLite). Summarize() sorts it and fills the
// percentiles (nearest-rank; p99.9 needs >= 1000 samples to mean much, the sample count is
// written beside it). ops_per_s counts requests, keys_per_s counts keys (differs for mget/mset);
// for xrange, entries_per_s counts the entries the answers returned and keys_per_s equals it.
// Fields that were not measured stay negative and are written as null.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "json_writer.h"
#include "workload.h"

namespace litestash::bench {

struct PhaseResult {
  PhaseSpec spec;
  double seconds = 0;
  uint64_t answered = 0;   // requests answered
  uint64_t errors = 0;     // answers with ok=false (or a Redis error reply)
  uint64_t misses = 0;     // get/mget keys not found, deletes of absent keys, xrange entries short
  uint64_t entries = 0;    // stream entries returned (xrange)
  std::string first_error;
  bool broken = false;     // the target died or stopped answering during the phase
  std::string broken_reason;
  std::vector<uint64_t> latency_ns;

  // Filled by Summarize().
  double ops_per_s = -1, keys_per_s = -1, entries_per_s = -1;
  double p50_us = -1, p99_us = -1, p999_us = -1, max_us = -1, mean_us = -1;

  // Optional extras set by the target driver.
  double target_cpu_s = -1;        // CPU seconds the target process spent during the phase
  double client_cpu_s = -1;        // CPU seconds the load generator itself spent (all threads)
  double engine_avg_batch = -1;    // writes per commit reported by the engine's stats, if any
  double pages_written = -1;       // database pages (WAL frames) the target's commits wrote

  void Summarize();
  void WriteJson(JsonWriter& w) const;
  // One progress line on stderr: "[target] name: ops/s, p50/p99 us".
  void Log(const char* target) const;
};

}  // namespace litestash::bench
