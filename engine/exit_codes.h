// The engine's process exit codes (documented in docs/protocol.md, "Exit codes"), and the one
// place where a start-up failure's Status picks its code.
#pragma once

#include "common/status.h"

namespace litestash {

inline constexpr int kExitOk = 0;             // clean shutdown: EOF at a frame boundary, signal
inline constexpr int kExitInternal = 1;       // unexpected internal failure
inline constexpr int kExitTruncated = 2;      // stdin ended inside a frame
inline constexpr int kExitUsage = 64;         // bad flag or flag value
inline constexpr int kExitDataMismatch = 65;  // other shard count/layout, corrupt or foreign file
inline constexpr int kExitCannotOpen = 73;    // data dir or shard file cannot be created/opened
inline constexpr int kExitOutputFailed = 74;  // writing to stdout failed (host went away)

// The exit code for a data dir that could not be opened with `status`.
inline int ExitCodeForOpenFailure(const Status& status) {
  switch (status.code()) {
    case StatusCode::kCorruption:
    case StatusCode::kMismatch:
    case StatusCode::kTooNew:
      return kExitDataMismatch;
    case StatusCode::kInternal:
      return kExitInternal;
    default:
      return kExitCannotOpen;  // I/O errors, permissions, a lock held past the busy timeout
  }
}

}  // namespace litestash
