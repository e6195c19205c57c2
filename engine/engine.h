// Engine: the lifecycle of one engine process.
//
//   start-up   create the data dir (0700; files 0600 via umask), open every shard on its own
//              thread in parallel, verify the layout; any failure is one clear line on stderr
//              and a documented exit code;
//   serving    the calling thread reads stdin (pausing while the InflightLimiter is full) and
//              feeds a protocol Session whose requests go to the Dispatcher; shard threads run
//              them; the OutputWriter thread writes the answers;
//   shutdown   on stdin EOF, SIGTERM or SIGINT: stop reading, let every shard finish and
//              answer what it accepted, commit, checkpoint, close, flush stdout.
// Threads: the caller (reader), one per shard, one writer. SIGTERM/SIGINT are blocked in all of
// them and taken synchronously by the reader through a signalfd.
#pragma once

#include "engine/config.h"

namespace litestash {

// Runs the engine to completion and returns the process exit code (engine/exit_codes.h).
int RunEngine(const Config& config);

}  // namespace litestash
