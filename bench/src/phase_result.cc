// Percentile summary and JSON output of one phase (see phase_result.h).
#include "phase_result.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

namespace litestash::bench {

namespace {

double Percentile(const std::vector<uint64_t>& sorted, double q) {
  if (sorted.empty()) return -1;
  // Nearest rank: the smallest sample with at least q of the samples at or below it.
  size_t rank = static_cast<size_t>(q * static_cast<double>(sorted.size()) + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > sorted.size()) rank = sorted.size();
  return static_cast<double>(sorted[rank - 1]) / 1000.0;
}

void MaybeNumber(JsonWriter& w, const char* key, double v) {
  w.Key(key);
  if (v < 0) w.Null(); else w.Value(v);
}

}  // namespace

void PhaseResult::Summarize() {
  std::sort(latency_ns.begin(), latency_ns.end());
  if (seconds > 0 && answered > 0) {
    ops_per_s = static_cast<double>(answered) / seconds;
    keys_per_s = ops_per_s * spec.batch;
    if (spec.op == OpKind::kXrange) keys_per_s = entries_per_s = static_cast<double>(entries) / seconds;
  }
  p50_us = Percentile(latency_ns, 0.50);
  p99_us = Percentile(latency_ns, 0.99);
  p999_us = Percentile(latency_ns, 0.999);
  if (!latency_ns.empty()) {
    max_us = static_cast<double>(latency_ns.back()) / 1000.0;
    long double sum = std::accumulate(latency_ns.begin(), latency_ns.end(), 0.0L);
    mean_us = static_cast<double>(sum / latency_ns.size() / 1000.0L);
  }
}

void PhaseResult::WriteJson(JsonWriter& w) const {
  w.BeginObject();
  w.Field("op", OpKindName(spec.op));
  w.Field("dist", DistName(spec.dist));
  if (spec.dist == Dist::kHot) w.Field("hot_keys", spec.hot_keys);
  w.Field("depth", spec.depth);
  w.Field("batch", spec.batch);
  if (IsStreamOp(spec.op)) {
    w.Field("stream", spec.stream);
    w.Field("streams", spec.streams);
  }
  if (spec.absent) w.Field("absent_keys", true);  // keys never written: every one must miss
  if (!spec.at.empty()) w.Field("at", spec.at);
  w.Field("requests", spec.requests);
  if (spec.commit_every >= 0) w.Field("commit_every", static_cast<uint64_t>(spec.commit_every));
  if (!spec.sync.empty()) w.Field("sync", spec.sync);
  w.Field("answered", answered);
  w.Field("seconds", seconds);
  MaybeNumber(w, "ops_per_s", ops_per_s);
  MaybeNumber(w, "keys_per_s", keys_per_s);
  if (spec.op == OpKind::kXrange) {
    w.Field("entries", entries);
    MaybeNumber(w, "entries_per_s", entries_per_s);
  }
  MaybeNumber(w, "p50_us", p50_us);
  MaybeNumber(w, "p99_us", p99_us);
  MaybeNumber(w, "p999_us", p999_us);
  MaybeNumber(w, "max_us", max_us);
  MaybeNumber(w, "mean_us", mean_us);
  w.Field("latency_samples", static_cast<uint64_t>(latency_ns.size()));
  w.Field("errors", errors);
  w.Field("misses", misses);
  if (!first_error.empty()) w.Field("first_error", first_error);
  MaybeNumber(w, "target_cpu_s", target_cpu_s);
  if (target_cpu_s >= 0 && answered > 0) w.Field("target_cpu_us_per_op", target_cpu_s * 1e6 / answered);
  MaybeNumber(w, "client_cpu_s", client_cpu_s);
  if (client_cpu_s >= 0 && answered > 0) w.Field("client_cpu_us_per_op", client_cpu_s * 1e6 / answered);
  MaybeNumber(w, "engine_avg_batch", engine_avg_batch);
  MaybeNumber(w, "pages_written", pages_written);
  // Per key (an mset of 100 is 100 keys): what a small commit costs in whole pages written.
  if (pages_written >= 0 && answered > 0) {
    w.Field("pages_per_key", pages_written / (static_cast<double>(answered) * spec.batch));
  }
  w.Field("broken", broken);
  if (broken) w.Field("broken_reason", broken_reason);
  w.EndObject();
}

void PhaseResult::Log(const char* target) const {
  std::fprintf(stderr, "[%s] %-22s %10.0f ops/s %10.0f keys/s  p50 %8.1f us  p99 %8.1f us  errors %llu misses %llu%s%s\n",
               target, spec.name.c_str(), ops_per_s, keys_per_s, p50_us, p99_us,
               static_cast<unsigned long long>(errors), static_cast<unsigned long long>(misses),
               broken ? "  BROKEN: " : "", broken ? broken_reason.c_str() : "");
}

}  // namespace litestash::bench
