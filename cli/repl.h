// The interactive shell (RunRepl) and its non-interactive twin (RunLines).
//
// RunRepl reads lines with libedit: line editing, a history file ($LITESTASH_HISTORY, else
// ~/.litestash_history, written after every command), and tab completion of the command
// words (case kept as typed). Each line is one command of command.h, printed in the display
// style; an error answer or a mistyped command prints `(error) ...` and the shell goes on.
// TXN switches the prompt to `txn>` and collects SET/DEL/ADD lines until END (sends one txn)
// or DISCARD. Ctrl-C stops a TAIL (or drops the line being typed); Ctrl-D or QUIT leaves.
//
// RunLines does the same for lines read from `in` (no prompt, no history), pipelining
// consecutive keyed commands (see Pipelinable) with their answers printed in line order; it
// returns kExitErrorAnswer if any command failed, kExitEngine if the engine went away.
#pragma once

#include <istream>

#include "cli/engine_client.h"

namespace litestash::cli {

int RunRepl(EngineClient& client);
int RunLines(EngineClient& client, std::istream& in);

}  // namespace litestash::cli
