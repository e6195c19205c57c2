// Status and Result<T>: the one error-carrying type of the engine (common/, protocol/, shard/,
// engine/). Nothing throws across a module boundary: every failure is a Status.
//
// A Status is OK or an internal StatusCode plus a human-readable message that keeps every
// reason (callers prefix context, never cut it). The codes describe what went wrong inside the
// engine (busy, I/O, corruption, a failed condition, a refused request, ...); which error code
// a host sees on the wire is decided in exactly one place, protocol/wire_error.h, and which
// process exit code a start-up failure gives in engine/exit_codes.h.
//
// A kConflict status (a compare-and-set condition that did not hold) also carries the key's
// current version and, for a transaction, the key whose check failed.
//
// Result<T> holds a T or a non-OK Status. Both are plain values: copyable, movable, no thread
// affinity.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace litestash {

enum class StatusCode : uint8_t {
  kOk = 0,
  // A request refused before anything ran (protocol/ decodes and validates).
  kBadFrame,         // a frame that cannot hold a request (zero length)
  kFrameTooLarge,    // a frame longer than the limit
  kInvalidArgument,  // malformed request, missing/unknown field, value out of range
  kWrongType,        // a field of the wrong MessagePack type
  kUnknownOp,        // an op name no command is registered under
  kInvalidKey,       // a key or name breaking the key rules
  kTooLarge,         // a value longer than the limit
  kWrongShard,       // the host's routing disagrees with the engine's
  // Running a request.
  kConflict,      // a condition (if_version, a txn check) did not hold; see conflict()
  kNotFound,      // something looked up does not exist (internal use)
  kBusy,          // a lock could not be taken within the busy timeout
  kIOError,       // the file system failed: full disk, I/O error, no permission, read-only
  kCorruption,    // a file is damaged, is not a database, or is not a litestash shard
  kMismatch,      // a data dir made with another shard count (or a file of another index)
  kTooNew,        // a data dir whose layout is newer than this engine knows
  kShuttingDown,  // work reached a shard after it began to stop
  kInternal,      // a bug or an impossible state
};

// A short English name of a code, for logs and tests (not the wire spelling).
std::string_view StatusCodeName(StatusCode code);

// The extra facts of a kConflict status.
struct ConflictInfo {
  uint64_t version = 0;            // the key's current version (0: absent)
  std::optional<std::string> key;  // the key whose check failed (transactions)
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status WrongType(std::string m) { return {StatusCode::kWrongType, std::move(m)}; }
  static Status InvalidKey(std::string m) { return {StatusCode::kInvalidKey, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status Busy(std::string m) { return {StatusCode::kBusy, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status Mismatch(std::string m) { return {StatusCode::kMismatch, std::move(m)}; }
  static Status TooNew(std::string m) { return {StatusCode::kTooNew, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status Conflict(std::string m, uint64_t current_version,
                         std::optional<std::string> key = std::nullopt) {
    Status s(StatusCode::kConflict, std::move(m));
    s.conflict_ = ConflictInfo{current_version, std::move(key)};
    return s;
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Set only for kConflict.
  const std::optional<ConflictInfo>& conflict() const { return conflict_; }

  // The same status with `context + ": "` in front of the message.
  Status WithContext(std::string_view context) const {
    Status s = *this;
    s.message_ = std::string(context) + ": " + message_;
    return s;
  }
  std::string ToString() const {
    return ok() ? "ok" : std::string(StatusCodeName(code_)) + ": " + message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::optional<ConflictInfo> conflict_;
};

inline std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kBadFrame:
      return "bad frame";
    case StatusCode::kFrameTooLarge:
      return "frame too large";
    case StatusCode::kInvalidArgument:
      return "invalid argument";
    case StatusCode::kWrongType:
      return "wrong type";
    case StatusCode::kUnknownOp:
      return "unknown op";
    case StatusCode::kInvalidKey:
      return "invalid key";
    case StatusCode::kTooLarge:
      return "too large";
    case StatusCode::kWrongShard:
      return "wrong shard";
    case StatusCode::kConflict:
      return "conflict";
    case StatusCode::kNotFound:
      return "not found";
    case StatusCode::kBusy:
      return "busy";
    case StatusCode::kIOError:
      return "I/O error";
    case StatusCode::kCorruption:
      return "corruption";
    case StatusCode::kMismatch:
      return "mismatch";
    case StatusCode::kTooNew:
      return "too new";
    case StatusCode::kShuttingDown:
      return "shutting down";
    case StatusCode::kInternal:
      return "internal";
  }
  return "internal";
}

// Holds either a value or a non-OK Status. Accessing value() of an error is a bug (asserted).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

// Propagates a non-OK Status out of the calling function.
#define LITESTASH_RETURN_IF_ERROR(expr) \
  do {                                  \
    ::litestash::Status _st = (expr);   \
    if (!_st.ok()) return _st;          \
  } while (0)

}  // namespace litestash
