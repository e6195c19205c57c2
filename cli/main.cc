// litestash-cli: the REPL, one-shot commands, export/import, backup, compact, check and stats
// for litestash-engine. See cli/README.md; the exit codes are in cli/executor.h.
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cli/check.h"
#include "cli/cli_options.h"
#include "cli/dump.h"
#include "cli/engine_client.h"
#include "cli/executor.h"
#include "cli/repl.h"

using namespace litestash::cli;

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto options = ParseCommandLine(args, isatty(STDIN_FILENO) == 1);
  if (!options.ok()) {
    std::cerr << "litestash-cli: " << options.status().message() << " (see --help)\n";
    return kExitUsage;
  }
  CliOptions& o = *options;
  if (o.mode == Mode::kHelp || o.mode == Mode::kVersion) {
    std::cout << o.help;
    return kExitOk;
  }
  if (o.mode == Mode::kCheck) return CheckDataDir(o.data_dir, o.shards, std::cout);

  std::error_code ec;
  std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  EngineSpec spec{LocateEngine(o.engine, self), o.engine_args};
  auto client = EngineClient::Start(spec);
  if (!client.ok()) {
    std::cerr << "litestash-cli: " << client.status().message() << "\n";
    return kExitEngine;
  }
  EngineClient& c = **client;
  int rc = kExitOk;
  switch (o.mode) {
    case Mode::kRepl:
      rc = RunRepl(c);
      break;
    case Mode::kLines:
      rc = RunLines(c, std::cin);
      break;
    case Mode::kExport:
      rc = ExportData(c, o.format, o.file);
      break;
    case Mode::kImport:
      rc = ImportData(c, o.file, o.batch);
      break;
    case Mode::kCommand: {
      // A first Ctrl-C ends a one-shot command (a `tail`) cleanly, letting the engine finish.
      EngineClient::CatchSigint(/*once=*/true);
      bool table = o.command.word == "stats" && !o.json;
      rc = Execute(c, o.command, o.human || table ? ValueStyle::kDisplay : ValueStyle::kJson,
                   std::cout, std::cerr);
      break;
    }
    default:
      break;
  }
  std::cout.flush();
  c.Close();
  return rc;
}
