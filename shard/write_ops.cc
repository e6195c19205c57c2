#include "shard/write_ops.h"

#include "shard/stream_ops.h"

namespace litestash {

Result<WriteResult> ApplyWriteOp(ShardStore& store, const WriteOp& op, const Clock& clock) {
  WriteResult out;
  switch (op.kind) {
    case WriteOp::kSet: {
      Digest d;
      LITESTASH_RETURN_IF_ERROR(HashOnThisThread(op.name, &d));
      auto version = store.Put(d, op.name, op.value, op.expires_at, clock);
      if (!version.ok()) return version.status();
      out.version = *version;
      return out;
    }
    case WriteOp::kDelete: {
      Digest d;
      LITESTASH_RETURN_IF_ERROR(HashOnThisThread(op.name, &d));
      auto deleted = store.Delete(d, op.name, clock);
      if (!deleted.ok()) return deleted.status();
      out.deleted = *deleted;
      return out;
    }
    case WriteOp::kAppend: {
      auto added = StreamAppend(store, op.name, op.value, RetentionUpdate{}, clock);
      if (!added.ok()) return added.status();
      out.entry_id = added->entry_id;
      out.version = added->ts;
      return out;
    }
    case WriteOp::kClear:
      LITESTASH_RETURN_IF_ERROR(store.Clear(clock));
      return out;
  }
  return Status::Internal("unknown write op");
}

}  // namespace litestash
