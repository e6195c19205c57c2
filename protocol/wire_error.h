// The one place where an internal Status becomes a wire error code (contract v1 section 2,
// v2 section 4): every failure answer a host sees is spelled here.
//
//   kBadFrame -> bad_frame         kFrameTooLarge -> frame_too_large
//   kInvalidArgument -> bad_request   kWrongType -> type_error   kUnknownOp -> unknown_op
//   kInvalidKey -> invalid_key     kTooLarge -> value_too_large   kWrongShard -> wrong_shard
//   kConflict -> conflict          kShuttingDown -> shutting_down
//   kBusy, kIOError, kCorruption, kMismatch, kTooNew -> storage_error (SQLite or the file
//                                  system failed while running an accepted request)
//   kNotFound, kInternal -> internal (never expected on the wire: a bug)
//
// Pure functions, thread-safe.
#pragma once

#include <string_view>

#include "common/status.h"

namespace litestash {

std::string_view WireErrorCode(StatusCode code);

// Every wire error code of the contract, for tests and docs.
inline constexpr std::string_view kWireErrorCodes[] = {
    "bad_frame",   "frame_too_large", "bad_request",   "type_error",   "unknown_op",
    "invalid_key", "value_too_large", "wrong_shard",   "conflict",     "storage_error",
    "shutting_down", "internal"};

}  // namespace litestash
