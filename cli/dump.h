// export and import: a data dir's keys to a file and back, through the engine (so they work
// while other engines serve the data dir, and on --memory engines too).
//
// Export walks every live key in byte order (scan pages of 1000) and, per page, pipelines one
// mget plus a ttl per key (and, when the data dir keeps history, a versions per key and a get
// per retained older version). Formats:
//   jsonl  one JSON object per line and key: {"key": K, "value": V} plus "expires_at_ms" (Unix
//          ms) when the key expires, and "mp" (the value's exact MessagePack as hex) whenever
//          the JSON form alone would not give back the same bytes (bin, ext, float32, a str 8
//          header that a fixstr could hold, ...). No history.
//   raw    frames as on the wire (4-byte big-endian length + one MessagePack map): first
//          {"format": "litestash-export", "version": 1, "keys": N}, then per key {"key": K,
//          "value": <the exact stored bytes>, "expires_at_ms"?: uint, "history"?: [[deleted,
//          value-or-nil], ...] oldest first}.
// Neither holds version numbers: they are the engine's clock readings and cannot be imported.
// So an export of a data dir, imported into a fresh one and exported again, gives the same
// file, except expires_at_ms which moves by the time the import took.
//
// Import reads either format (raw when the file starts with a frame, else jsonl). Keys without
// an expiry or history go in mset batches; others as sets (and deletes, for tombstones) in
// order, replaying the history oldest first so a data dir with --keep-versions gets it back.
// Everything is pipelined (up to 64 requests in flight). Stops at the first error answer.
#pragma once

#include <string>

#include "cli/engine_client.h"

namespace litestash::cli {

// Both return an exit code of executor.h and print problems on stderr.
int ExportData(EngineClient& client, const std::string& format, const std::string& file);
int ImportData(EngineClient& client, const std::string& file, uint32_t batch);

}  // namespace litestash::cli
