// The engine's process exit codes (documented in docs/protocol.md, "Exit codes").
#pragma once

namespace litestash {

inline constexpr int kExitOk = 0;             // clean shutdown: EOF at a frame boundary, signal
inline constexpr int kExitInternal = 1;       // unexpected internal failure
inline constexpr int kExitTruncated = 2;      // stdin ended inside a frame
inline constexpr int kExitUsage = 64;         // bad flag or flag value
inline constexpr int kExitDataMismatch = 65;  // other shard count/layout, corrupt or foreign file
inline constexpr int kExitCannotOpen = 73;    // data dir or shard file cannot be created/opened
inline constexpr int kExitOutputFailed = 74;  // writing to stdout failed (host went away)

}  // namespace litestash
