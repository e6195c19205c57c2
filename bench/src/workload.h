// Workload description shared by every target the load generator drives (engine, Redis, raw
// SQLite): phase specs parsed from the command line, key naming, key distributions, the op mix
// and the value payload.
//
// Contract:
// - Key i (0 <= i < key_count) is named "key:<i>" everywhere, so every target holds the same
//   key set after a preload.
// - A phase spec is "NAME:field=value,field=value,..."; fields: op (set|get|mixed|mget|mset|
//   txn|delete|versions|xadd|xrange), n (requests), depth (1..1024 requests in flight), dist
//   (seq|uniform|hot), hot (hot set size, keys 0..hot-1), batch (keys per mget/mset/txn request;
//   entries per xrange call, default 100, at most 10000), from (first key of a seq phase),
//   stream (stream name prefix, default "stream"), streams (stream ops: how many streams,
//   default 1), commit (raw SQLite only: commit each shard every K writes, 0 = one
//   transaction), sync (raw SQLite only: normal|full), fresh (raw SQLite only: 1 = new empty
//   files first), absent (get, mget and versions only: 1 = keys no phase ever writes; every key
//   index drawn is shifted by key_count, so the keys are "key:<key_count>".."key:<2*key_count-1>"
//   and each one must miss), at (engine get only: "first" = send as the get's `version` the
//   version the key got from the run's first seq set phase; on a --keep-versions engine an
//   overwritten key's old version is read from its history).
// - txn: one `txn` of `batch` sets, each key named once (Redis: MULTI, the SETs, EXEC).
//   versions: the engine's `versions` op on one key (engine only).
// - Streams are named "<stream>:<i>" (0 <= i < streams) on every target. xadd appends one value
//   per request to the streams in turn (round-robin, request k to stream k mod streams). xrange
//   reads `batch` consecutive entries of one stream (stream 0, or a uniform pick among
//   `streams`) starting after position p: p uniform in [0, key_count - batch] (dist=uniform) or
//   0, batch, 2*batch, ... wrapping (dist=seq), where key_count is the number of entries the
//   stream is known to hold (the run's --keys). On the engine that is `after` = p (ids start at
//   1); on Redis the exclusive start is the id of the p-th entry added (or "-" for p = 0).
// - OpStream yields the same sequence of ops for the same spec and seed on every target.
//   "mixed" is 90% get / 10% set decided per request. seq wraps around key_count.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace litestash::bench {

enum class OpKind { kSet, kGet, kMixed, kMget, kMset, kDelete, kXadd, kXrange, kTxn, kVersions };
enum class Dist { kSeq, kUniform, kHot };

const char* OpKindName(OpKind k);
const char* DistName(Dist d);

struct PhaseSpec {
  std::string name;
  OpKind op = OpKind::kGet;
  uint64_t requests = 1000;
  int depth = 64;
  Dist dist = Dist::kUniform;
  uint64_t hot_keys = 10000;
  uint32_t batch = 1;  // keys per request (mget/mset), entries per call (xrange); 1 otherwise
  uint64_t seq_from = 0;
  std::string stream = "stream";  // stream ops: name prefix
  uint32_t streams = 1;           // stream ops: number of streams
  int64_t commit_every = -1;  // raw SQLite only; -1 = use the tool's --commit default
  std::string sync;           // raw SQLite only; "" = leave as is
  bool fresh = false;         // raw SQLite only
  bool absent = false;        // keys never written (indices shifted by key_count)
  std::string at;             // engine get only: "" or "first" (version of the first seq set)
};

// Parses "NAME:op=get,n=1000,...". Throws std::invalid_argument with a readable message.
PhaseSpec ParsePhaseSpec(std::string_view text);

// "key:<i>" written into `out` (cleared first).
void KeyName(uint64_t index, std::string& out);
std::string KeyName(uint64_t index);

// `size` pseudo-random bytes (deterministic), and the same bytes as one MessagePack bin object.
std::string MakeRawValue(size_t size);
std::string MakeMsgpackBinValue(const std::string& raw);

// "<prefix>:<i>" written into `out` (cleared first): the name of stream i of a phase.
void StreamName(const std::string& prefix, uint64_t index, std::string& out);

inline bool IsStreamOp(OpKind k) { return k == OpKind::kXadd || k == OpKind::kXrange; }

// One request of a phase: its kind (never kMixed: resolved to kGet/kSet) and its key indices;
// for stream ops, `stream` is the stream's index and `keys` holds the xrange start position.
struct Op {
  OpKind kind = OpKind::kGet;
  std::vector<uint64_t> keys;
  uint64_t stream = 0;
};

class OpStream {
 public:
  OpStream(const PhaseSpec& spec, uint64_t key_count, uint64_t seed);
  // Fills `op` with the next request of the phase.
  void Next(Op& op);

 private:
  uint64_t NextKey();

  PhaseSpec spec_;
  uint64_t key_count_;
  uint64_t seq_next_;
  std::mt19937_64 rng_;
  std::uniform_int_distribution<uint64_t> uniform_;
  std::uniform_int_distribution<uint64_t> hot_;
  std::uniform_int_distribution<int> percent_{0, 99};
  std::uniform_int_distribution<uint64_t> range_start_;  // xrange: [0, key_count - batch]
  std::uniform_int_distribution<uint64_t> stream_pick_;  // xrange: [0, streams - 1]
  uint64_t requests_made_ = 0;
};

}  // namespace litestash::bench
