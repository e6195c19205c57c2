// DecodeRequest: turns one frame body into a validated Request, or the error to answer.
//
// Validation follows the precedence documented in docs/protocol.md ("Error precedence"): the
// MessagePack shape first, then `id`, trailing bytes, duplicate fields, `op`, unknown and
// missing fields, then field types, key rules, value sizes and ranges (the lowest-ranked
// problem wins; ties go to the field listed first in the op's schema), then the op's own
// validator (OpSchema::validate). Every field is checked against its spec in the op's schema
// (protocol/op_schema.h): there is no per-field code here, so a field an op declares can never
// be read and dropped. Nested ops (a txn's `ops`) are decoded through the schema the catalog
// derives for them, with the same checks. Nothing is dispatched unless every check passed, so a
// refused request has no effect. Routing checks (`shard`) need the digest and are left to the
// engine.
//
// Pure function: no I/O, no shared state, thread-safe. Allocation is bounded by the frame size
// (see MsgpackCursor): no container is sized from a count the host declared.
#pragma once

#include <optional>
#include <string>

#include "common/status.h"
#include "protocol/limits.h"
#include "protocol/op_catalog.h"
#include "protocol/request.h"

namespace litestash {

struct DecodeError {
  std::optional<uint64_t> id;  // echoed in the error answer when it could be read
  Status status;
};

// On success returns the request (owning `frame`); on failure returns the error to answer.
// `error` must not be null.
RequestPtr DecodeRequest(std::string frame, const OpCatalog& ops, const Limits& limits,
                         DecodeError* error);

}  // namespace litestash
