// CommandRegistry: every op the engine serves, one row each, registered by family.
//
// A row is the op's schema (protocol/op_schema.h: name, routing, read or write, fields with
// types and ranges, `hello` feature) plus its handlers:
//   local        ops answered on the reader thread with no shard (hello, ping);
//   run          keyed ops: runs on the key's shard thread inside the batch transaction;
//   inline_read  optional, reads only: the reader thread answers from its own read
//                connections (engine/read_path.h) when the shards involved have no pending
//                write; returning false hands the request to `run` / `fan_out` instead;
//   fan_out      ops spanning shards: builds the FanOutOp whose parts run on each shard;
//   multi_write  writes over several shards, all or nothing (txn; engine/write_group.h).
// Everything else is derived from the rows: the decoder validates against the schemas (the
// registry's OpCatalog), the Dispatcher routes by `routing` and calls the handlers, `hello`
// lists the features. Adding an op = its row and its handlers in its family's file
// (engine/*_family.cc), nothing else.
//
// Families register in a fixed order (StandardRegistry). A malformed row is a programming
// error: Add() returns it as a Status and StandardRegistry() aborts with the message.
//
// Thread-safety: built once, read-only afterwards; share freely.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "common/blake2b.h"
#include "common/status.h"
#include "engine/digest_memo.h"
#include "engine/fanout_op.h"
#include "protocol/frame_encoder.h"
#include "protocol/op_catalog.h"
#include "protocol/request.h"
#include "shard/shard_store.h"

namespace litestash {

class BackgroundJobs;
class CommandRegistry;
class InflightLimiter;
class ReadPath;
class ShardWorker;
class StreamWaiters;
struct WaitState;

// What `hello` and `stats` report about the process, fixed at start-up.
struct EngineIdentity {
  uint32_t shards = 16;
  Limits limits;
  std::string version;
  uint32_t keep_versions = 0;  // the data dir's history depth when this engine started
};

// What handlers may ask of the engine beyond the request.
struct EngineContext {
  const EngineIdentity& identity;
  const CommandRegistry& registry;
  std::function<EngineStats()> stats;  // engine-wide counters (any thread)
  StreamWaiters* waiters = nullptr;    // parked blocking reads (any thread)
  InflightLimiter* limiter = nullptr;  // a parked read's frame leaves and re-enters the count
  BackgroundJobs* jobs = nullptr;      // long work off the shard threads (backup's copy)
  const std::vector<ShardOptions>* files = nullptr;  // each shard's file (empty: in memory)
};

// A keyed op on its shard thread: the store (inside the batch transaction), the batch's clock,
// the routed key's digest and shard. A handler reports back through the last fields:
struct ShardCall {
  ShardStore& store;
  const Clock& clock;
  const Digest& digest;
  uint32_t shard;
  // Set when this run is a parked read handed back (engine/stream_waiters.h).
  const WaitState* wait = nullptr;
  // A read that found nothing yet may ask to wait (until this Unix ms) for an append; its
  // answer, built as usual, is sent if it cannot park (row must have may_park).
  std::optional<int64_t> park_until;
  // The handler appended to the stream named by the request's routed field (woken waiters).
  bool appended = false;
  // A refusal that is the request's answer but no failure of the batch (a compare-and-set
  // whose condition did not hold): sent instead of `out`; the handler wrote nothing.
  std::optional<Status> refused;
};

// A read on the reader thread. `digest`/`shard` are the routed key's (keyed ops); multi-key
// reads hash their keys with `hasher` and must check Readable() for every shard they touch
// before reading any.
class InlineCall {
 public:
  InlineCall(ReadPath& read_path, const Clock& clock, DigestMemo& hasher,
             const std::vector<ShardWorker*>& workers, const Digest* digest, uint32_t shard)
      : read_path(read_path),
        clock(clock),
        hasher(hasher),
        digest(digest),
        shard(shard),
        workers_(workers) {}

  ReadPath& read_path;
  const Clock& clock;
  DigestMemo& hasher;
  const Digest* digest;
  uint32_t shard;
  std::optional<int64_t> park_until;  // as ShardCall::park_until

  uint32_t shards() const { return static_cast<uint32_t>(workers_.size()); }
  // The shard is open here and has no write of this process queued or uncommitted.
  bool Readable(uint32_t s) const;
  // The shard is open here and no write of this process queued or uncommitted there can touch
  // the key of `digest`: Readable(s), or writes to other keys only while the read path checks
  // the shard's wal-index header at every use of a snapshot (ReadPath::Watched), so a write to
  // this key that committed after the snapshot began renews the snapshot first.
  bool Readable(uint32_t s, const Digest& digest) const;

 private:
  const std::vector<ShardWorker*>& workers_;
};

using LocalHandler = void (*)(const Request& req, const EngineContext& ctx, FrameEncoder* out);
using ShardHandler = Status (*)(const Request& req, ShardCall& call, FrameEncoder* out);
// Returns false to decline (the request is then queued); true with *status OK and the answer
// in `out`, or true with the read's error in *status.
using InlineReadHandler = bool (*)(const Request& req, InlineCall& call, FrameEncoder* out,
                                   Status* status);
using FanOutFactory = std::shared_ptr<FanOutOp> (*)(SharedRequest req, const EngineContext& ctx,
                                                    FrameSink* out);
class MultiWrite;
using MultiWriteFactory = std::shared_ptr<MultiWrite> (*)(SharedRequest req,
                                                          const EngineContext& ctx, FrameSink* out);

struct CommandRow {
  OpSchema schema;
  LocalHandler local = nullptr;
  ShardHandler run = nullptr;
  InlineReadHandler inline_read = nullptr;
  FanOutFactory fan_out = nullptr;
  // A keyed read that may ask to park (xread): the shard file's wal-index header is noted
  // before each run, so no append between the read and the park goes unseen.
  bool may_park = false;
  // Ops that write several shards all or nothing (engine/write_group.h): `multi_write` builds
  // the write (txn, Routing::kMulti); a fan-out write with `all_or_nothing` (mset, mdelete,
  // clear) runs its parts inside a write group whenever it touches more than one shard.
  MultiWriteFactory multi_write = nullptr;
  bool all_or_nothing = false;
};

class CommandRegistry {
 public:
  CommandRegistry() = default;
  CommandRegistry(const CommandRegistry&) = delete;
  CommandRegistry& operator=(const CommandRegistry&) = delete;

  // Registers a row: its schema goes to the catalog; its handlers must match its routing.
  Status Add(CommandRow row);

  const OpCatalog& catalog() const { return catalog_; }
  // The row of a decoded request (nested requests map to the top-level op of their name).
  const CommandRow& RowOf(const Request& req) const { return *rows_[req.schema->id]; }
  // `hello`'s features: each registered row's feature, once, in registration order.
  const std::vector<std::string_view>& features() const { return features_; }

 private:
  OpCatalog catalog_;
  std::deque<CommandRow> storage_;
  std::vector<const CommandRow*> rows_;  // by schema id
  std::vector<std::string_view> features_;
};

// The families, each in its own file; each adds its rows and stops at the first bad one.
Status RegisterAdminFamily(CommandRegistry& registry);     // hello ping scan count clear stats sync
Status RegisterKvFamily(CommandRegistry& registry);        // set get delete exists versions
Status RegisterTtlFamily(CommandRegistry& registry);       // expire ttl persist
Status RegisterMultiKeyFamily(CommandRegistry& registry);  // mset mget mdelete
// xadd xget xrange xread xinfo xtrim xdrop xstreams xcommit xoffset
Status RegisterStreamFamily(CommandRegistry& registry);
Status RegisterTxnFamily(CommandRegistry& registry);          // txn
Status RegisterMaintenanceFamily(CommandRegistry& registry);  // compact backup

// Registers every standard family into `registry` (tests add rows of their own after).
Status RegisterStandardFamilies(CommandRegistry& registry);
// Every family of this engine, registered once (on first use). A bad row is a bug in this
// program: the message goes to stderr and the process aborts.
const CommandRegistry& StandardRegistry();

}  // namespace litestash
