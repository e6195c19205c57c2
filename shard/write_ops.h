// ApplyWriteOp: one logical write (shard/txn_intent.h's WriteOp: set, delete, stream append,
// clear) applied to a shard — the one path for the parts of multi-shard writes (txn, mset,
// mdelete, clear spanning shards) and for their replay from an intent, so a replay with the same
// clock on the same state stamps the same versions and entry ids.
//
// Runs inside the caller's write transaction on the store's thread. Failure: SQLite errors.
#pragma once

#include "shard/shard_store.h"
#include "shard/txn_intent.h"

namespace litestash {

// What an op did: the set's version, whether the delete removed a live key, the append's entry.
struct WriteResult {
  uint64_t version = 0;
  bool deleted = false;
  uint64_t entry_id = 0;
};

Result<WriteResult> ApplyWriteOp(ShardStore& store, const WriteOp& op, const Clock& clock);

}  // namespace litestash
