// Keyed ops: the handlers of ops routed by one key (set, get, delete, exists, expire, ttl,
// persist) and KeyedTask, which runs one such request on its shard's thread.
//
// A handler runs inside the shard's batch transaction and writes the success answer into the
// encoder; KeyedTask sends it once the batch has committed, or sends the error instead. Adding
// a keyed op = one row in protocol/op_table.cc + one handler + one entry in KeyedHandlerFor.
#pragma once

#include <memory>

#include "common/blake2b.h"
#include "engine/pending_writes.h"
#include "protocol/request.h"
#include "protocol/response_encoder.h"
#include "protocol/session.h"
#include "shard/shard_store.h"
#include "shard/shard_worker.h"

namespace litestash {

using SharedRequest = std::shared_ptr<const Request>;

using KeyedHandler = Status (*)(const Request& req, const Digest& digest, ShardStore& store,
                                const Clock& clock, ResponseEncoder* out);

// The handler of a keyed op, or nullptr if `op` is not routed by key.
KeyedHandler KeyedHandlerFor(OpCode op);

// The success answers of the keyed reads, shared by their handlers and the reader thread's
// read path (engine/read_path.h). `stored` null: the key is absent.
void EncodeGetAnswer(const Request& req, const StoredValue* stored, ResponseEncoder* out);
void EncodeExistsAnswer(const Request& req, const KeyExpiry& expiry, ResponseEncoder* out);
void EncodeTtlAnswer(const Request& req, const KeyExpiry& expiry, const Clock& clock,
                     ResponseEncoder* out);

// Unix ms at which a key written now with `ttl_ms` expires (saturating, never overflows).
int64_t ExpiresAt(const Clock& clock, uint64_t ttl_ms);

class KeyedTask : public ShardTask {
 public:
  // `pending` (may be null) is told when a writing task is done.
  KeyedTask(SharedRequest request, const Digest& digest, uint32_t shard, KeyedHandler handler,
            FrameSink* out, PendingWrites* pending)
      : request_(std::move(request)),
        digest_(digest),
        shard_(shard),
        handler_(handler),
        out_(out),
        pending_(pending) {}

  bool writes() const override { return request_->schema().writes; }
  Status Run(ShardStore& store, const Clock& clock) override;
  size_t answer_bytes() const override { return answer_.size(); }
  void Done(const Status& status) override;

 private:
  SharedRequest request_;
  Digest digest_;
  uint32_t shard_;
  KeyedHandler handler_;
  FrameSink* out_;
  PendingWrites* pending_;
  ResponseEncoder answer_;  // built by Run on the shard thread
};

}  // namespace litestash
