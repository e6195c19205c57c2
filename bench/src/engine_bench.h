// The two engine measurements of the load generator: a phased pipelined run on one engine
// process (`engine` subcommand) and repeated spawn-to-first-hello timing (`spawn` subcommand).
//
// Contract:
// - RunEngineBench spawns one engine on a fresh data dir, asks `hello`, runs the phases in order
//   on that one process (so a get phase sees the keys a previous set phase wrote), samples the
//   engine's CPU time and `stats` after each phase, reads VmHWM just before closing stdin, then
//   shuts the engine down and measures the data dir. It stops at the first broken phase.
// - Wire ids are (phase index + 1) << 40 plus the request's seq, so answers can never be
//   confused across phases.
// - Both write one JSON object (fields described in docs/performance.md) and return the exit code:
//   0 ok, 3 the engine crashed / misbehaved / exited non-zero, 1 could not start.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine_process.h"
#include "json_writer.h"
#include "workload.h"

namespace litestash::bench {

struct EngineBenchConfig {
  EngineOptions engine;
  uint64_t keys = 1000000;
  size_t value_size = 100;
  std::vector<PhaseSpec> phases;
  std::string tmp_root;
  bool keep = false;
  double stall_timeout_s = 120;
};

int RunEngineBench(const EngineBenchConfig& cfg, JsonWriter& w);
int RunSpawnBench(const EngineOptions& engine, int spawns, const std::string& tmp_root, JsonWriter& w);

}  // namespace litestash::bench
