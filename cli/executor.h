// Execute(): runs one parsed Command against the engine and prints its outcome. Shared by the
// REPL and the one-shot commands.
//
// kScanAll / kStreamsAll page through scan / xstreams (1000 names a request) and print every
// name. kTail prints the last 10 entries of a stream and then follows it with blocking xreads
// (30 s each) until EngineClient::Interrupt() (Ctrl-C); in kJson style each entry is one line
// {"entry_id", "ts", "value"}. Results go to `out`, error answers to `out` (kDisplay: the REPL
// shows them inline) or `err` (kJson).
//
// Returns an exit code: kExitOk, kExitErrorAnswer when the engine answered an error,
// kExitEngine when the engine went away.
#pragma once

#include <ostream>

#include "cli/command.h"
#include "cli/engine_client.h"
#include "cli/value_text.h"

namespace litestash::cli {

// litestash-cli's exit codes (cli/README.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitErrorAnswer = 1;  // the engine answered an error
inline constexpr int kExitUsage = 2;        // bad command line or command
inline constexpr int kExitEngine = 3;       // the engine could not start or died
inline constexpr int kExitCheckFailed = 4;  // `check` found a problem
inline constexpr int kExitIO = 5;           // a file could not be read or written

int Execute(EngineClient& client, const Command& command, ValueStyle style, std::ostream& out,
            std::ostream& err);

// Prints the answer (or transport failure) of a kRequest command sent earlier, as Execute does.
int PrintOutcome(const Command& command, const Result<Answer>& answer, ValueStyle style,
                 std::ostream& out, std::ostream& err);

// True for a kRequest whose op may be sent before the answers to earlier lines are read
// without changing what any line sees: keyed ops are ordered per key by the engine (protocol
// 5.1) and all-shard reads queue behind everything sent before them. backup, compact, sync,
// xread and xstreams are not (they wait for everything answered, or may block).
bool Pipelinable(const Command& command);

}  // namespace litestash::cli
