// Anchor (a): raw SQLite in process, one thread, doing what the engine does at its core.
//
// Contract:
// - `shards` WAL files shard-NN.db in a fresh temp dir, each with exactly the contract's 5-column
//   `stash` table (WITHOUT ROWID, key_hash BLOB PRIMARY KEY) plus `CREATE INDEX stash_key ON
//   stash(key)`; synchronous=NORMAL unless a phase asks for sync=full. No other pragmas.
// - Keys are routed with BLAKE2b-512 (litestash_common) exactly as the engine routes them; one
//   prepared INSERT OR REPLACE and one prepared SELECT per shard; the version stamped is
//   microseconds since the epoch, split into timestamp/microsecond like the engine.
// - set/mset phases write inside per-shard transactions committed every `commit_every` writes to
//   that shard (0 = one transaction per shard for the whole phase, committed at the end; the
//   commit time is included). get/mget phases run outside explicit transactions.
// - Latency samples are per request (a commit lands in the latency of the write that closes it).
// - fresh=1 in a phase closes the files and starts again on new empty ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "json_writer.h"
#include "workload.h"

namespace litestash::bench {

struct SqliteAnchorConfig {
  int shards = 16;
  uint64_t keys = 1000000;
  size_t value_size = 100;
  int64_t default_commit_every = 4;
  std::vector<PhaseSpec> phases;
  std::string tmp_root;
  bool keep = false;  // leave the files of the last store behind (path written as kept_dir)
};

// Writes one JSON object; returns 0, or 3 when SQLite failed.
int RunSqliteAnchor(const SqliteAnchorConfig& cfg, JsonWriter& w);

}  // namespace litestash::bench
