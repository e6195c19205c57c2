// export and import: a data dir's keys and streams to a file and back, through the engine (so
// they work while other engines serve the data dir, and on --memory engines too).
//
// Export walks every live key in byte order (scan pages of 1000) and, per page, pipelines one
// mget plus a ttl per key (and, when the data dir keeps history, a versions per key and a get
// per retained older version); then every stream (xstreams, xinfo, xrange pages of 10000).
// The formats are in dump_format.h: jsonl (JSON per line, exact bytes added as hex where JSON
// is lossy) and raw (frames holding the exact bytes, with key history). Neither holds version
// numbers or entry timestamps: they are the engine's clock and cannot be imported. So an
// export, imported into a fresh data dir and exported again, gives the same file, except
// expires_at_ms, which moves by the time the import took.
//
// Import reads either format. Keys without an expiry or history go in mset batches; others as
// sets (and deletes, for tombstones) in order, replaying the history oldest first so a data
// dir with --keep-versions gets it back. A stream gets its entries back under their old ids
// (ids below first_id are filled by placeholder appends, in txns of 10000, and trimmed), its
// retention and its groups' committed offsets. Everything is pipelined (up to 64 requests in
// flight); import stops at the first error answer.
#pragma once

#include <string>

#include "cli/engine_client.h"

namespace litestash::cli {

// Both return an exit code of executor.h and print problems on stderr.
int ExportData(EngineClient& client, const std::string& format, const std::string& file);
int ImportData(EngineClient& client, const std::string& file, uint32_t batch);

}  // namespace litestash::cli
