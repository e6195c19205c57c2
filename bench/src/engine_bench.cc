// Phased pipelined engine run and spawn-to-hello timing (see engine_bench.h).
#include "engine_bench.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "engine_codec.h"
#include "phase_result.h"
#include "pipeline_driver.h"

namespace litestash::bench {

namespace {

constexpr uint64_t kControlIdBase = 1ull << 60;  // ids for hello/stats outside the phases

// Writes-per-commit counters, if the engine's `stats` exposes any. The contract only promises
// `shards[].keys`; these names are looked up at the top level and summed over `shards[]`.
struct BatchCounters {
  double writes = -1;
  double commits = -1;
  double direct_avg = -1;  // an engine-computed average, when offered instead
  double pages = -1;       // the shards' pages_written, summed
};

double NumberOf(const msgpack::object* o) {
  if (!o) return -1;
  if (o->type == msgpack::type::POSITIVE_INTEGER) return static_cast<double>(o->via.u64);
  if (o->type == msgpack::type::FLOAT32 || o->type == msgpack::type::FLOAT64) return o->via.f64;
  return -1;
}

double FirstNumber(const msgpack::object& m, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    double v = NumberOf(MapGet(m, n));
    if (v >= 0) return v;
  }
  return -1;
}

const std::initializer_list<const char*> kCommitNames = {"commits", "write_commits", "transactions", "txns",
                                                         "write_txns", "batches", "write_batches"};
const std::initializer_list<const char*> kWriteNames = {"writes", "write_ops", "writes_committed",
                                                        "batched_writes", "ops_written", "ops"};
const std::initializer_list<const char*> kAvgNames = {"avg_batch_size", "avg_batch", "mean_batch_size",
                                                      "batch_avg", "average_batch"};

// The sum over stats' per-shard maps of the first of `names` each has; -1 if no shard has one.
double ShardSum(const msgpack::object* shards, std::initializer_list<const char*> names) {
  if (!shards || shards->type != msgpack::type::ARRAY) return -1;
  double sum = 0;
  bool any = false;
  for (uint32_t i = 0; i < shards->via.array.size; ++i) {
    const double v = FirstNumber(shards->via.array.ptr[i], names);
    if (v >= 0) {
      any = true;
      sum += v;
    }
  }
  return any ? sum : -1;
}

BatchCounters ReadBatchCounters(const msgpack::object& stats) {
  BatchCounters c;
  c.direct_avg = FirstNumber(stats, kAvgNames);
  c.writes = FirstNumber(stats, kWriteNames);
  c.commits = FirstNumber(stats, kCommitNames);
  const msgpack::object* shards = MapGet(stats, "shards");
  if (c.commits < 0) {
    c.commits = ShardSum(shards, kCommitNames);
    if (c.commits >= 0) {
      const double w = ShardSum(shards, kWriteNames);
      c.writes = w > 0 ? w : -1;
    }
  }
  c.pages = ShardSum(shards, {"pages_written"});
  return c;
}

struct StatsSample {
  std::string json;
  BatchCounters counters;
};

StatsSample Stats(EngineProcess& p, uint64_t id) {
  std::string frame;
  AppendSimple(frame, id, "stats");
  std::string body = p.Call(frame);
  auto oh = DecodeBody(body);
  StatsSample s;
  s.json = ObjectToJson(oh.get());
  s.counters = ReadBatchCounters(oh.get());
  return s;
}

uint64_t TreeBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

void WriteEngineOptions(JsonWriter& w, const EngineOptions& e) {
  w.Key("engine_options");
  w.BeginObject();
  w.Field("binary", e.binary);
  w.Field("shards", e.shards);
  w.Field("sync", e.sync);
  w.Field("log_level", e.log_level);
  w.Key("extra_args");
  w.BeginArray();
  for (const auto& a : e.extra_args) w.Value(a);
  w.EndArray();
  w.EndObject();
}

}  // namespace

int RunEngineBench(const EngineBenchConfig& cfg, JsonWriter& w) {
  TempDir tmp(cfg.tmp_root);
  if (cfg.keep) tmp.keep();
  const std::string data_dir = tmp.path() + "/data";
  const std::string value = MakeMsgpackBinValue(MakeRawValue(cfg.value_size));
  int rc = 0;

  const uint64_t t0 = MonotonicNs();
  std::unique_ptr<EngineProcess> owned;
  try {
    owned = std::make_unique<EngineProcess>(cfg.engine, data_dir, tmp.path() + "/engine.log");
  } catch (const std::exception& e) {
    w.BeginObject();
    w.Field("mode", "engine");
    w.Field("ok", false);
    w.Field("error", std::string("cannot start the engine: ") + e.what());
    w.EndObject();
    return 1;
  }
  EngineProcess& proc = *owned;

  w.BeginObject();
  w.Field("mode", "engine");
  WriteEngineOptions(w, cfg.engine);
  w.Field("keys", cfg.keys);
  w.Field("value_size", static_cast<uint64_t>(cfg.value_size));
  w.Field("value_encoded_bytes", static_cast<uint64_t>(value.size()));
  if (cfg.keep) w.Field("kept_dir", tmp.path());

  try {
    std::string frame;
    AppendSimple(frame, kControlIdBase, "hello");
    std::string body = proc.Call(frame);
    w.Field("spawn_to_hello_ms", static_cast<double>(MonotonicNs() - t0) / 1e6);
    auto oh = DecodeBody(body);
    w.Key("hello");
    w.Raw(ObjectToJson(oh.get()));
  } catch (const std::exception& e) {
    w.Field("ok", false);
    w.Field("error", std::string("hello failed: ") + e.what());
    w.Field("log_tail", proc.LogTail());
    w.EndObject();
    return 3;
  }

  StatsSample before;
  try {
    before = Stats(proc, kControlIdBase + 1);
  } catch (const std::exception& e) {
    before.json = "null";
  }

  w.Key("phases");
  w.BeginObject();
  std::string failure;
  uint64_t control_id = kControlIdBase + 2;
  StatsSample last = before;
  VersionLog versions;  // first versions of the keys, for get phases with at=first
  for (size_t i = 0; i < cfg.phases.size(); ++i) {
    const PhaseSpec& spec = cfg.phases[i];
    PhaseResult r;
    std::unique_ptr<EngineProtocol> owned_proto;
    try {
      owned_proto = std::make_unique<EngineProtocol>(spec, cfg.keys, 1000 + i, (static_cast<uint64_t>(i) + 1) << 40,
                                                     value, &versions);
    } catch (const std::exception& e) {
      r.spec = spec;
      r.broken = true;
      r.broken_reason = e.what();
      r.Summarize();
      r.Log("engine");
      w.Key(spec.name);
      r.WriteJson(w);
      failure = "phase " + spec.name + ": " + r.broken_reason;
      break;
    }
    EngineProtocol& proto = *owned_proto;
    const double cpu0 = proc.CpuSeconds();
    RunPipeline(proc.stdin_fd(), proc.stdout_fd(), proto, spec, r, cfg.stall_timeout_s);
    const double cpu1 = proc.CpuSeconds();
    if (cpu0 >= 0 && cpu1 >= 0) r.target_cpu_s = cpu1 - cpu0;
    if (!r.broken) {
      try {
        StatsSample now = Stats(proc, control_id++);
        const BatchCounters &a = last.counters, &b = now.counters;
        if (b.commits > a.commits && a.commits >= 0 && b.writes >= 0 && a.writes >= 0) {
          r.engine_avg_batch = (b.writes - a.writes) / (b.commits - a.commits);
        } else if (b.direct_avg >= 0) {
          r.engine_avg_batch = b.direct_avg;
        }
        if (a.pages >= 0 && b.pages >= a.pages) r.pages_written = b.pages - a.pages;
        last = std::move(now);
      } catch (const std::exception& e) {
        r.broken = true;
        r.broken_reason = std::string("stats after phase failed: ") + e.what();
      }
    }
    r.Summarize();
    r.Log("engine");
    w.Key(spec.name);
    r.WriteJson(w);
    if (r.broken) {
      failure = "phase " + spec.name + ": " + r.broken_reason;
      break;
    }
  }
  w.EndObject();

  w.Key("stats_before");
  w.Raw(before.json.empty() ? "null" : before.json);
  w.Key("stats_after");
  w.Raw(last.json.empty() ? "null" : last.json);
  w.Field("peak_rss_kb", proc.PeakRssKb());
  w.Field("rss_kb", proc.RssKb());
  // What the engine alone holds (RssAnon), apart from the data files' pages it maps (RssFile):
  // those are the kernel's page cache, which reads use with or without the map.
  w.Field("rss_anon_kb", proc.StatusKb("RssAnon"));
  w.Field("rss_file_kb", proc.StatusKb("RssFile"));
  w.Field("cpu_s_before_shutdown", proc.CpuSeconds());
  ExitInfo ex = proc.Shutdown();
  w.Key("exit");
  w.BeginObject();
  w.Field("status", ex.status);
  w.Field("clean", ex.exited && ex.status == 0);
  w.Field("cpu_s", ex.cpu_s);
  w.Field("shutdown_s", ex.shutdown_s);
  w.EndObject();
  w.Field("data_dir_bytes", TreeBytes(data_dir));
  if (!(ex.exited && ex.status == 0) && failure.empty()) {
    failure = "engine exit status " + std::to_string(ex.status) + " after closing stdin";
  }
  w.Field("ok", failure.empty());
  if (!failure.empty()) {
    w.Field("error", failure);
    w.Field("log_tail", proc.LogTail());
    rc = 3;
  }
  w.EndObject();
  return rc;
}

int RunSpawnBench(const EngineOptions& engine, int spawns, const std::string& tmp_root, JsonWriter& w) {
  std::vector<double> fresh_ms, reopen_ms, shutdown_ms;
  std::string failure;
  for (int i = 0; i < spawns && failure.empty(); ++i) {
    TempDir tmp(tmp_root);
    const std::string data_dir = tmp.path() + "/data";
    // First spawn on a data dir that does not exist yet, then once more on the files it left.
    for (int pass = 0; pass < 2 && failure.empty(); ++pass) {
      const uint64_t t0 = MonotonicNs();
      EngineProcess proc(engine, data_dir, tmp.path() + "/engine.log");
      try {
        std::string frame;
        AppendSimple(frame, kControlIdBase, "hello");
        proc.Call(frame, 30);
        double ms = static_cast<double>(MonotonicNs() - t0) / 1e6;
        (pass == 0 ? fresh_ms : reopen_ms).push_back(ms);
      } catch (const std::exception& e) {
        failure = std::string("hello failed: ") + e.what() + "; log: " + proc.LogTail(500);
      }
      ExitInfo ex = proc.Shutdown(30);
      shutdown_ms.push_back(ex.shutdown_s * 1e3);
      if (failure.empty() && !(ex.exited && ex.status == 0)) {
        failure = "engine exit status " + std::to_string(ex.status) + " after closing stdin";
      }
    }
  }
  auto median = [](std::vector<double> v) {
    if (v.empty()) return -1.0;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  };
  auto list = [&](const char* key, const std::vector<double>& v) {
    w.Key(key);
    w.BeginArray();
    for (double x : v) w.Value(x);
    w.EndArray();
  };
  w.BeginObject();
  w.Field("mode", "spawn");
  WriteEngineOptions(w, engine);
  w.Field("spawns", spawns);
  list("fresh_ms", fresh_ms);
  list("reopen_ms", reopen_ms);
  list("shutdown_ms", shutdown_ms);
  w.Field("fresh_median_ms", median(fresh_ms));
  w.Field("reopen_median_ms", median(reopen_ms));
  w.Field("shutdown_median_ms", median(shutdown_ms));
  w.Field("ok", failure.empty());
  if (!failure.empty()) w.Field("error", failure);
  w.EndObject();
  return failure.empty() ? 0 : 3;
}

}  // namespace litestash::bench
