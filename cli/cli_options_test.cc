#include "cli/cli_options.h"

#include <catch2/catch.hpp>

namespace litestash::cli {
namespace {

CliOptions Parse(std::vector<std::string> args, bool tty = true) {
  auto o = ParseCommandLine(args, tty);
  REQUIRE(o.ok());
  return std::move(o).value();
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

TEST_CASE("no command: the REPL on a terminal, lines otherwise") {
  CHECK(Parse({}).mode == Mode::kRepl);
  CHECK(Parse({}, false).mode == Mode::kLines);
  CHECK(Parse({"repl"}, false).mode == Mode::kRepl);
}

TEST_CASE("engine flags are forwarded in order, with a quiet log level by default") {
  auto o = Parse({"--engine", "/x/engine", "--data-dir", "d", "--shards", "4", "--sync", "full",
                  "--keep-versions", "all", "--memory", "count"});
  CHECK(o.engine == "/x/engine");
  CHECK(o.data_dir == "d");
  CHECK(o.shards == 4u);
  CHECK(Joined(o.engine_args) ==
        "--data-dir d --memory --shards 4 --sync full --keep-versions all --log-level warn");
  CHECK(Joined(Parse({"--log-level", "debug", "ping"}).engine_args) == "--log-level debug");
  CHECK(Parse({"ping"}).data_dir == "./data");
}

TEST_CASE("one-shot commands are parsed with the command language") {
  auto o = Parse({"set", "k", "{\"a\": 1}", "--ttl-ms", "500"});
  CHECK(o.mode == Mode::kCommand);
  CHECK(o.command.request.op == "set");
  REQUIRE(o.command.request.fields.size() == 3);
  CHECK(o.command.request.fields[2].first == "ttl_ms");
  CHECK(Parse({"GET", "k"}).command.request.op == "get");
  CHECK(Parse({"xadd", "s", "1"}).command.request.op == "xadd");
  CHECK(Parse({"xrange", "s", "--after", "3"}).command.request.fields.size() == 2);
  CHECK(Parse({"--human", "get", "k"}).human);
  // Options after the command word belong to the command, not to the cli.
  CHECK_FALSE(ParseCommandLine({"get", "k", "--shards", "4"}, true).ok());
}

TEST_CASE("admin commands") {
  auto e = Parse({"export", "--format", "raw", "out.bin"});
  CHECK(e.mode == Mode::kExport);
  CHECK(e.format == "raw");
  CHECK(e.file == "out.bin");
  CHECK(Parse({"export"}).format == "jsonl");
  CHECK(Parse({"export", "--format=raw"}).format == "raw");
  auto i = Parse({"import", "--batch", "10", "-"});
  CHECK(i.mode == Mode::kImport);
  CHECK(i.batch == 10u);
  CHECK(i.file == "-");
  CHECK(Parse({"check"}).mode == Mode::kCheck);
  CHECK(Parse({"backup", "/tmp/b"}).command.request.op == "backup");
  CHECK(Parse({"compact"}).command.request.op == "compact");
}

TEST_CASE("usage errors") {
  for (std::vector<std::string> bad : {std::vector<std::string>{"--shards"},
                                       {"--bogus", "get", "k"},
                                       {"get"},
                                       {"set", "k"},
                                       {"export", "--format", "xml"},
                                       {"export", "a", "b"},
                                       {"import", "--batch", "0"},
                                       {"check", "extra"},
                                       {"repl", "x"},
                                       {"txn"},
                                       {"frobnicate"},
                                       {"--shards", "many", "count"}}) {
    INFO(Joined(bad));
    CHECK_FALSE(ParseCommandLine(bad, true).ok());
  }
}

TEST_CASE("--help and --version") {
  auto h = Parse({"--help"});
  CHECK(h.mode == Mode::kHelp);
  CHECK(h.help.find("--data-dir") != std::string::npos);
  CHECK(h.help.find("Exit codes") != std::string::npos);
  CHECK(Parse({"--version"}).mode == Mode::kVersion);
}

}  // namespace
}  // namespace litestash::cli
