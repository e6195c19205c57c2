// Blocking-read wake-up latency (`wakeup` subcommand): how long after an append a reader parked
// on the stream gets the new entry.
//
// Contract:
// - Engine modes. Engine A is spawned on a fresh data dir; one `xadd` creates stream "wake:0".
//   Mode "same": the appends go through A itself. Mode "other": a second engine B is spawned on
//   the same data dir (after A's first append) and the appends go through B. Each round:
//     1. `xread {stream, after: last id, wait_ms: 60000}` is sent to A, then `xinfo` of the same
//        stream. The previous xadd has been answered, so no write is pending on the shard and
//        A's reader thread runs both itself, in order (protocol 5.1): when the xinfo is answered
//        the xread has run and found nothing, so it is parked. (An xread answered before that is
//        counted in `not_parked` and the round is not timed.)
//     2. a settle pause, uniform in [settle_min_ms, settle_max_ms) (the engine goes idle as it
//        would while a read waits; the spread keeps the rounds from locking onto the engine's
//        2 ms wal-index poll in mode "other");
//     3. `xadd` of a 100-byte value is written to A (same) or B (other); the latency is from just
//        before that write() to the moment A's xread answer is read and parsed (the client
//        polls, it does not spin). The answer must hold exactly the new entry (entry id = last
//        + 1), else the round counts as an error. The xadd's own answer time is kept too.
//   `warmup` rounds run first and are not counted.
// - Mode "redis": two connections to a Redis server; `XREAD BLOCK 60000 STREAMS wake:0 <last>`
//   on one, the settle pause, then `XADD wake:0 * v <value>` on the other; the latency is from
//   sending the XADD to reading the XREAD reply (Redis cannot confirm the park; the pause is far
//   longer than Redis takes to block the reader).
// - Output: {"mode": "wakeup", "results": {"<mode>": {"n", "p50_ms", "p90_ms", "p99_ms",
//   "p999_ms", "max_ms", "min_ms", "mean_ms", "xadd_answer_p50_ms", "xadd_answer_p99_ms",
//   "errors", "not_parked", "settle_ms": [min, max]}}, "ok"}. Percentiles are nearest-rank.
//   Exit code as engine_bench.h (3: an engine crashed, exited non-zero, or a round timed out).
#pragma once

#include <string>
#include <vector>

#include "engine_process.h"
#include "json_writer.h"

namespace litestash::bench {

struct WakeupConfig {
  EngineOptions engine;
  std::vector<std::string> modes;  // same | other | redis
  int rounds = 100;
  int warmup = 5;
  size_t value_size = 100;
  double settle_min_ms = 1.0;
  double settle_max_ms = 3.0;
  double round_timeout_s = 30;
  std::string tmp_root;
  std::string host = "127.0.0.1";  // redis mode
  int port = 0;                    // redis mode
};

int RunWakeupBench(const WakeupConfig& cfg, JsonWriter& w);

}  // namespace litestash::bench
