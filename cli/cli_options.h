// The command line of litestash-cli:
//
//   litestash-cli [--engine PATH] [--data-dir DIR] [engine flags] [--human|--json]
//                 [COMMAND ARGS...]
//
// One-shot commands print JSON; --human prints them as the REPL does, and --json makes
// `stats` JSON too (it is a table by default).
//
// Engine flags (--shards, --sync, --keep-versions, --memory, --log-level, --max-*-bytes,
// --max-inflight*, --cache-mib, --read-cache-mib, --mmap-mib, --busy-poll-us, --shard-spin-us,
// --checkpoint-pages, --max-waiting-reads) are
// checked only for having a value and are forwarded to the engine as given; --data-dir too.
// Without --log-level the engine gets `--log-level warn`, so its info lines stay off the
// screen. Options come before COMMAND; everything after it belongs to the command.
//
// COMMAND is one of the REPL's commands (get, set, xadd, ...: parsed here with ParseCommand,
// so a malformed one is a usage error before any engine starts), or `repl`, `export
// [--format jsonl|raw] [FILE]`, `import [--batch N] [FILE]`, `check`. No command: the REPL
// when stdin is a terminal, else commands read line by line from stdin.
//
// ParseCommandLine() never exits or prints: --help gives `help` text, errors a status.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/status.h"

namespace litestash::cli {

enum class Mode { kRepl, kLines, kCommand, kExport, kImport, kCheck, kHelp, kVersion };

struct CliOptions {
  Mode mode = Mode::kRepl;
  std::string engine;                    // --engine (empty: LocateEngine decides)
  std::string data_dir = "./data";       // where check and the engine look
  std::vector<std::string> engine_args;  // forwarded to the engine, in order
  bool human = false;                    // --human: one-shot output as the REPL prints it
  bool json = false;                     // --json: stats as JSON too (default: a table)
  Command command;                       // kCommand
  std::string format = "jsonl";          // export: jsonl | raw
  std::string file;                      // export / import: "" or "-" = stdout / stdin
  uint32_t batch = 500;                  // import: entries per mset
  std::optional<uint32_t> shards;        // --shards, also for check
  std::string help;                      // kHelp
};

// `args` excludes argv[0]; `stdin_is_tty` picks the REPL or line mode when no command is given.
Result<CliOptions> ParseCommandLine(const std::vector<std::string>& args, bool stdin_is_tty);

}  // namespace litestash::cli
