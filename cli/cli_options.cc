// ParseCommandLine(): CLI11 for the options, the command language for the command; see
// cli_options.h.
#include "cli/cli_options.h"

#include <CLI/CLI.hpp>
#include <algorithm>

namespace litestash::cli {
namespace {

// Engine flags that take a value; forwarded as `--flag value`.
constexpr const char* kValueFlags[] = {"--shards",
                                       "--sync",
                                       "--keep-versions",
                                       "--log-level",
                                       "--max-frame-bytes",
                                       "--max-key-bytes",
                                       "--max-value-bytes",
                                       "--max-inflight",
                                       "--max-inflight-bytes",
                                       "--cache-mib",
                                       "--read-cache-mib",
                                       "--mmap-mib",
                                       "--busy-poll-us",
                                       "--shard-spin-us",
                                       "--checkpoint-pages",
                                       "--max-waiting-reads"};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

Status Usage(const std::string& m) { return Status::InvalidArgument(m); }

Status ParseExport(std::vector<std::string> rest, CliOptions* o) {
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == "--format" && i + 1 < rest.size()) {
      o->format = rest[++i];
      if (o->format != "jsonl" && o->format != "raw") {
        return Usage("export --format must be jsonl or raw, got '" + o->format + "'");
      }
    } else if (rest[i].starts_with("--format=")) {
      return ParseExport({"--format", rest[i].substr(9)}, o);
    } else if (rest[i].starts_with("-") && rest[i] != "-") {
      return Usage("export: unknown option " + rest[i]);
    } else if (o->file.empty()) {
      o->file = rest[i];
    } else {
      return Usage("usage: export [--format jsonl|raw] [FILE]");
    }
  }
  return Status::Ok();
}

Status ParseImport(const std::vector<std::string>& rest, CliOptions* o) {
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == "--batch" && i + 1 < rest.size()) {
      try {
        o->batch = static_cast<uint32_t>(std::stoul(rest[++i]));
      } catch (...) {
        o->batch = 0;
      }
      if (o->batch == 0 || o->batch > 100000) return Usage("import --batch must be 1..100000");
    } else if (rest[i].starts_with("-") && rest[i] != "-") {
      return Usage("import: unknown option " + rest[i]);
    } else if (o->file.empty()) {
      o->file = rest[i];
    } else {
      return Usage("usage: import [--batch N] [FILE]");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<CliOptions> ParseCommandLine(const std::vector<std::string>& args, bool stdin_is_tty) {
  CliOptions o;
  CLI::App app{"litestash-cli: a shell and script tool for litestash-engine", "litestash-cli"};
  app.prefix_command();
  app.set_version_flag("--version", std::string("litestash-cli 0.1.0"));
  app.add_option("--engine", o.engine,
                 "the engine binary (else $LITESTASH_ENGINE, else "
                 "litestash-engine beside this binary, else on PATH)");
  std::string data_dir;
  app.add_option("--data-dir", data_dir, "the data dir (default ./data)");
  bool memory = false;
  app.add_flag("--memory", memory, "engine keeps every shard in memory");
  app.add_flag("--human", o.human, "one-shot output as the REPL prints it (default: JSON)");
  app.add_flag("--json", o.json, "stats as JSON too (default: a table)");
  std::vector<std::string> values(std::size(kValueFlags));
  for (size_t i = 0; i < std::size(kValueFlags); ++i) {
    app.add_option(kValueFlags[i], values[i], "forwarded to the engine");
  }
  app.footer(
      "Commands: repl, get, set, del, exists, mget, mset, scan, ttl, expire, persist,\n"
      "versions, count, stats, xadd, xget, xrange, xread, xinfo, xtrim, xstreams, xdrop,\n"
      "compact, backup DIR, export [--format jsonl|raw] [FILE], import [FILE], check.\n"
      "Exit codes: 0 ok, 1 error answer, 2 usage, 3 engine failed, 4 check found a problem,\n"
      "5 file I/O error.");
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    o.mode = Mode::kHelp;
    o.help = app.help();
    return o;
  } catch (const CLI::CallForVersion&) {
    o.mode = Mode::kVersion;
    o.help = "litestash-cli 0.1.0\n";
    return o;
  } catch (const CLI::ParseError& e) {
    return Usage(e.what());
  }
  if (!data_dir.empty()) {
    o.data_dir = data_dir;
    o.engine_args.insert(o.engine_args.end(), {"--data-dir", data_dir});
  }
  if (memory) o.engine_args.push_back("--memory");
  bool log_level = false;
  for (size_t i = 0; i < std::size(kValueFlags); ++i) {
    if (app.count(kValueFlags[i]) == 0) continue;
    o.engine_args.insert(o.engine_args.end(), {kValueFlags[i], values[i]});
    if (std::string_view(kValueFlags[i]) == "--log-level") log_level = true;
    if (std::string_view(kValueFlags[i]) == "--shards") {
      try {
        o.shards = static_cast<uint32_t>(std::stoul(values[i]));
      } catch (...) {
        return Usage("--shards needs a number, got '" + values[i] + "'");
      }
    }
  }
  if (!log_level) o.engine_args.insert(o.engine_args.end(), {"--log-level", "warn"});

  std::vector<std::string> rest = app.remaining();
  if (rest.empty()) {
    o.mode = stdin_is_tty ? Mode::kRepl : Mode::kLines;
    return o;
  }
  std::string word = Lower(rest[0]);
  rest.erase(rest.begin());
  if (word == "repl") {
    if (!rest.empty()) return Usage("usage: repl");
    o.mode = Mode::kRepl;
    return o;
  }
  if (word == "export") {
    o.mode = Mode::kExport;
    if (Status st = ParseExport(rest, &o); !st.ok()) return st;
    return o;
  }
  if (word == "import") {
    o.mode = Mode::kImport;
    if (Status st = ParseImport(rest, &o); !st.ok()) return st;
    return o;
  }
  if (word == "check") {
    if (!rest.empty()) return Usage("usage: check (the data dir comes from --data-dir)");
    o.mode = Mode::kCheck;
    return o;
  }
  std::vector<std::string> words{word};
  words.insert(words.end(), rest.begin(), rest.end());
  auto command = ParseCommand(TokensFromArgs(words));
  if (!command.ok()) return command.status();
  if (command->kind != CommandKind::kRequest && command->kind != CommandKind::kScanAll &&
      command->kind != CommandKind::kStreamsAll && command->kind != CommandKind::kTail) {
    return Usage("'" + word + "' works only in the REPL");
  }
  o.mode = Mode::kCommand;
  o.command = std::move(command).value();
  return o;
}

}  // namespace litestash::cli
