// Config: the engine's settings from command-line flags, each also settable through an
// environment variable LITESTASH_<FLAG> (flags win). Parsed once at start-up with CLI11.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "protocol/limits.h"
#include "shard/shard_store.h"

namespace litestash {

inline constexpr const char* kEngineVersion = "0.1.0";

struct Config {
  std::string data_dir = "./data";
  uint32_t shards = 16;
  bool memory = false;
  SyncMode sync = SyncMode::kNormal;
  Limits limits;
  std::string log_level = "info";
  int64_t max_inflight = 4096;
  int64_t max_inflight_bytes = 256ll << 20;
  int64_t cache_mib = 28;      // SQLite page cache shared out across the shards
  int64_t read_cache_mib = 4;  // the reader thread's exact read cache (0: off)
  // Per shard file: how much of it the shard's connections read through a memory map (0: off).
  int64_t mmap_mib = 1024;
  int64_t busy_poll_us = 100;         // how long the reader polls stdin before sleeping (0: never)
  int64_t shard_spin_us = 200;        // how long an idle shard thread yields before sleeping
  int64_t max_waiting_reads = 10000;  // parked blocking reads (xread wait_ms) at once
  // WAL frames per shard at which the background checkpointer copies the log into the file
  // (shard/checkpointer.h); 0: SQLite's own checkpoint inside the commit (1000 pages).
  // Unset: 16000, or 0 under --sync full (see CheckpointPages()).
  std::optional<int64_t> checkpoint_pages;
  std::optional<uint32_t> keep_versions;  // history depth to record (nullopt: as recorded)
};

// The checkpoint trigger in effect. Under --sync full every commit already waits for the disk,
// and a checkpoint running beside the commits competes for it: 20k pipelined writes ran 15 %
// slower with the background checkpointer (10.6k vs 12.6k ops/s, three runs each), so that mode
// keeps SQLite's checkpoint inside the commit unless --checkpoint-pages says otherwise.
inline int64_t CheckpointPages(const Config& c) {
  return c.checkpoint_pages.value_or(c.sync == SyncMode::kFull ? 0 : 16000);
}

// Parses argv. Returns the config to run with, or an exit code: 0 after --help/--version
// (printed to stdout), kExitUsage after a bad flag (one line on stderr).
struct ParsedConfig {
  std::optional<Config> config;
  int exit_code = 0;
};
ParsedConfig ParseConfig(int argc, const char* const* argv);

}  // namespace litestash
