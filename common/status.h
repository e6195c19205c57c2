// Status and Result<T>: the one error-carrying type used across protocol/, shard/ and engine/.
//
// A Status is either OK or an error code from the wire protocol's closed list (contract v1,
// section 2) plus a human-readable message. Codes map 1:1 to the strings hosts see, so an error
// raised deep in shard/ reaches the host unchanged. Result<T> holds a T or a non-OK Status.
// Both are plain values: copyable, movable, no thread affinity.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace litestash {

enum class ErrorCode {
  kOk = 0,
  kBadFrame,
  kFrameTooLarge,
  kBadRequest,
  kTypeError,
  kUnknownOp,
  kInvalidKey,
  kValueTooLarge,
  kWrongShard,
  kConflict,
  kStorageError,
  kShuttingDown,
  kInternal,
};

// The wire spelling of a code, e.g. "bad_request". kOk spells "ok".
constexpr std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kBadFrame:
      return "bad_frame";
    case ErrorCode::kFrameTooLarge:
      return "frame_too_large";
    case ErrorCode::kBadRequest:
      return "bad_request";
    case ErrorCode::kTypeError:
      return "type_error";
    case ErrorCode::kUnknownOp:
      return "unknown_op";
    case ErrorCode::kInvalidKey:
      return "invalid_key";
    case ErrorCode::kValueTooLarge:
      return "value_too_large";
    case ErrorCode::kWrongShard:
      return "wrong_shard";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kStorageError:
      return "storage_error";
    case ErrorCode::kShuttingDown:
      return "shutting_down";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status BadRequest(std::string m) { return {ErrorCode::kBadRequest, std::move(m)}; }
  static Status TypeError(std::string m) { return {ErrorCode::kTypeError, std::move(m)}; }
  static Status InvalidKey(std::string m) { return {ErrorCode::kInvalidKey, std::move(m)}; }
  static Status Storage(std::string m) { return {ErrorCode::kStorageError, std::move(m)}; }
  static Status Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const {
    return ok() ? "ok" : std::string(ErrorCodeName(code_)) + ": " + message_;
  }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

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
