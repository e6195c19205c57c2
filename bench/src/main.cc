// litestash-bench: load generator for litestash-engine and its anchors.
//
//   litestash-bench engine [--engine PATH] [--shards N] [--sync off|normal|full]
//                          [--log-level L] [--engine-arg ARG]... [--keys N] [--value-size B]
//                          [--tmp-dir DIR] [--keep] [--stall-timeout S] --phase SPEC...
//   litestash-bench spawn  [--engine PATH] [--shards N] [--sync S] [--spawns N]
//   litestash-bench sqlite [--shards N] [--keys N] [--value-size B] [--commit K] --phase SPEC...
//   litestash-bench redis  --port P [--host H] [--target-pid PID] [--keys N] [--value-size B]
//                          --phase SPEC...
//   litestash-bench wakeup [--engine PATH] [--shards N] [--sync S] [--mode same,other|both|redis]
//                          [--n ROUNDS] [--warmup N] [--port P] (blocked xread woken by an xadd;
//                          see wakeup_bench.h)
//
// Each subcommand prints exactly one JSON object on stdout (or --out FILE) and progress lines on
// stderr. Phase SPEC syntax is in workload.h, e.g. "set_d64:op=set,dist=seq,n=1000000,depth=64".
// Exit status: 0 ok, 1 could not start (bad flags: 64), 3 the target crashed or misbehaved.
#include <errno.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine_bench.h"
#include "json_writer.h"
#include "redis_client.h"
#include "sqlite_anchor.h"
#include "wakeup_bench.h"
#include "workload.h"

using namespace litestash::bench;

namespace {

constexpr int kUsage = 64;

const char* kHelp =
    "usage: litestash-bench engine|spawn|sqlite|redis|wakeup [flags] --phase NAME:op=..,n=..,depth=..\n"
    "  common: --keys N (1000000) --value-size B (100) --shards N (16) --out FILE --tmp-dir DIR\n"
    "  engine: --engine PATH (build/litestash-engine; env LITESTASH_ENGINE) --sync S (normal)\n"
    "          --log-level L (warn) --engine-arg ARG --keep --stall-timeout S (120)\n"
    "  spawn:  --spawns N (5)\n"
    "  sqlite: --commit K (4; per-phase commit= overrides, 0 = one transaction) --keep\n"
    "  redis:  --port P --host H (127.0.0.1) --target-pid PID (server, for its CPU time)\n"
    "  wakeup: --mode same|other|both|redis (comma list; both = same,other) --n ROUNDS (100)\n"
    "          --warmup N (5); redis mode needs --port\n"
    "  phase fields: op=set|get|mixed|mget|mset|txn|delete|versions|xadd|xrange n=REQUESTS\n"
    "                depth=1..1024 dist=seq|uniform|hot hot=N batch=B from=I commit=K\n"
    "                sync=normal|full fresh=1 stream=PREFIX streams=N (stream ops: PREFIX:0..N-1)\n"
    "                absent=1 (keys never written) at=first (engine get of the first seq set's version)\n";

struct Args {
  std::string mode;
  std::string out;
  std::string tmp_dir;
  std::string engine;
  std::string sync = "normal";
  std::string log_level = "warn";
  std::vector<std::string> engine_args;
  std::string host = "127.0.0.1";
  int port = 0;
  int target_pid = 0;
  int shards = 16;
  int spawns = 5;
  std::vector<std::string> wake_modes;
  int wake_rounds = 100;
  int wake_warmup = 5;
  uint64_t keys = 1000000;
  size_t value_size = 100;
  int64_t commit = 4;
  bool keep = false;
  double stall_timeout = 120;
  std::vector<PhaseSpec> phases;
};

uint64_t ToUint(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || v[0] == '-') throw std::invalid_argument(flag + " wants an unsigned integer");
  return x;
}

Args Parse(int argc, char** argv) {
  if (argc < 2) throw std::invalid_argument("missing subcommand");
  Args a;
  a.mode = argv[1];
  if (a.mode == "--help" || a.mode == "-h") { std::fputs(kHelp, stdout); std::exit(0); }
  if (a.mode != "engine" && a.mode != "spawn" && a.mode != "sqlite" && a.mode != "redis" && a.mode != "wakeup") {
    throw std::invalid_argument("unknown subcommand '" + a.mode + "'");
  }
  const char* env_engine = std::getenv("LITESTASH_ENGINE");
  a.engine = env_engine && *env_engine ? env_engine : "build/litestash-engine";
  for (int i = 2; i < argc; ++i) {
    std::string f = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(f + " needs a value");
      return argv[++i];
    };
    if (f == "--help" || f == "-h") { std::fputs(kHelp, stdout); std::exit(0); }
    else if (f == "--out") a.out = val();
    else if (f == "--tmp-dir") a.tmp_dir = val();
    else if (f == "--engine") a.engine = val();
    else if (f == "--sync") a.sync = val();
    else if (f == "--log-level") a.log_level = val();
    else if (f == "--engine-arg") a.engine_args.push_back(val());
    else if (f == "--host") a.host = val();
    else if (f == "--port") a.port = static_cast<int>(ToUint(f, val()));
    else if (f == "--target-pid") a.target_pid = static_cast<int>(ToUint(f, val()));
    else if (f == "--shards") a.shards = static_cast<int>(ToUint(f, val()));
    else if (f == "--spawns") a.spawns = static_cast<int>(ToUint(f, val()));
    else if (f == "--keys") a.keys = ToUint(f, val());
    else if (f == "--value-size") a.value_size = ToUint(f, val());
    else if (f == "--commit") a.commit = static_cast<int64_t>(ToUint(f, val()));
    else if (f == "--keep") a.keep = true;
    else if (f == "--stall-timeout") a.stall_timeout = static_cast<double>(ToUint(f, val()));
    else if (f == "--phase") a.phases.push_back(ParsePhaseSpec(val()));
    else if (f == "--n") a.wake_rounds = static_cast<int>(ToUint(f, val()));
    else if (f == "--warmup") a.wake_warmup = static_cast<int>(ToUint(f, val()));
    else if (f == "--mode") {
      std::string list = val();
      for (size_t b = 0; b <= list.size();) {
        size_t e = list.find(',', b);
        if (e == std::string::npos) e = list.size();
        std::string m = list.substr(b, e - b);
        if (m == "both") { a.wake_modes.push_back("same"); a.wake_modes.push_back("other"); }
        else if (m == "same" || m == "other" || m == "redis") a.wake_modes.push_back(m);
        else throw std::invalid_argument("--mode wants same, other, both or redis, got '" + m + "'");
        b = e + 1;
      }
    }
    else throw std::invalid_argument("unknown flag " + f);
  }
  if (a.shards < 1 || a.shards > 1024) throw std::invalid_argument("--shards must be 1..1024");
  if (a.keys < 1) throw std::invalid_argument("--keys must be at least 1");
  if (a.mode == "redis" && a.port == 0) throw std::invalid_argument("redis needs --port");
  if (a.mode == "wakeup") {
    if (a.wake_modes.empty()) a.wake_modes = {"same", "other"};
    if (a.wake_rounds < 1) throw std::invalid_argument("--n must be at least 1");
    for (const auto& m : a.wake_modes) {
      if (m == "redis" && a.port == 0) throw std::invalid_argument("wakeup --mode redis needs --port");
    }
  }
  if (a.mode != "spawn" && a.mode != "wakeup" && a.phases.empty()) throw std::invalid_argument("give at least one --phase");
  return a;
}

int Run(const Args& a, JsonWriter& w) {
  EngineOptions eo;
  eo.binary = a.engine;
  eo.shards = a.shards;
  eo.sync = a.sync;
  eo.log_level = a.log_level;
  eo.extra_args = a.engine_args;
  if (a.mode == "engine") {
    EngineBenchConfig c;
    c.engine = eo;
    c.keys = a.keys;
    c.value_size = a.value_size;
    c.phases = a.phases;
    c.tmp_root = a.tmp_dir;
    c.keep = a.keep;
    c.stall_timeout_s = a.stall_timeout;
    return RunEngineBench(c, w);
  }
  if (a.mode == "spawn") return RunSpawnBench(eo, a.spawns, a.tmp_dir, w);
  if (a.mode == "wakeup") {
    WakeupConfig c;
    c.engine = eo;
    c.modes = a.wake_modes;
    c.rounds = a.wake_rounds;
    c.warmup = a.wake_warmup;
    c.value_size = a.value_size;
    c.tmp_root = a.tmp_dir;
    c.host = a.host;
    c.port = a.port;
    return RunWakeupBench(c, w);
  }
  if (a.mode == "sqlite") {
    SqliteAnchorConfig c;
    c.shards = a.shards;
    c.keys = a.keys;
    c.value_size = a.value_size;
    c.default_commit_every = a.commit;
    c.phases = a.phases;
    c.tmp_root = a.tmp_dir;
    c.keep = a.keep;
    return RunSqliteAnchor(c, w);
  }
  RedisBenchConfig c;
  c.host = a.host;
  c.port = a.port;
  c.keys = a.keys;
  c.value_size = a.value_size;
  c.phases = a.phases;
  c.stall_timeout_s = a.stall_timeout;
  c.server_pid = a.target_pid;
  return RunRedisBench(c, w);
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);  // a dead engine must show up as a write error, not kill us
  Args args;
  try {
    args = Parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "litestash-bench: %s\n%s", e.what(), kHelp);
    return kUsage;
  }
  JsonWriter w;
  int rc = 0;
  try {
    rc = Run(args, w);
  } catch (const std::exception& e) {
    w = JsonWriter();
    w.BeginObject();
    w.Field("mode", args.mode);
    w.Field("ok", false);
    w.Field("error", e.what());
    w.EndObject();
    rc = 1;
  }
  std::string doc = w.str() + "\n";
  if (args.out.empty()) {
    std::fwrite(doc.data(), 1, doc.size(), stdout);
  } else {
    std::ofstream(args.out) << doc;
  }
  return rc;
}
