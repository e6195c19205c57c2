"""Turns the raw tool outputs of report.py into the result document, its Markdown and its chart.

Contract:
- `assemble(steps, config, machine, seconds)` returns the JSON document: {"schema": 1, "config",
  "machine", "figures" (flat {"<run>.<phase>.<metric>": number}), "targets" (list of rows with
  id, title, value, anchor_value, ratio, unit, better, goal, goal_met), "notes", "failures",
  "durations_s", "runs" (raw JSON per tool), "ok"}. Figure names are stable for a given --depth.
  A goal is either a least ratio (litestash / anchor ≥ x) or a largest value (value ≤ x, in the
  row's unit); goal_met is None when the figures it needs are missing or the row has no goal.
- `markdown(doc, png_name)` and `targets_text(doc)` render the target table (ratio =
  litestash / anchor; for RSS and ms lower is better; the goal column gives the target, or which
  way is better when there is none).
- `chart(doc, path)` draws the PNG with matplotlib's Agg backend; returns None or an error text
  (the run does not fail for want of a chart).
"""
import math

PHASE_RUNS = ("engine", "engine_full", "engine_versions", "sqlite", "redis", "engine_streams", "redis_streams")
PHASE_METRICS = ("ops_per_s", "keys_per_s", "entries_per_s", "p50_us", "p99_us", "p999_us", "max_us", "seconds",
                 "target_cpu_us_per_op", "client_cpu_us_per_op", "engine_avg_batch", "pages_per_key", "errors",
                 "misses", "commit_every")
PY_METRICS = ("ops_per_s", "keys_per_s", "p50_us", "p99_us", "p999_us", "misses")
# Blocking-read wake-up (`litestash-bench wakeup`): run -> figure prefix; results per mode.
WAKE_RUNS = {"wakeup": "wakeup", "redis_wakeup": "redis_wakeup"}
WAKE_PHASE = {"same": "same", "other": "other", "redis": "xread_block"}
WAKE_METRICS = ("p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms", "xadd_answer_p50_ms",
                "xadd_answer_p99_ms", "n", "errors")

# Goals: ("ratio", x) = litestash / anchor at least x; ("max", x) = the litestash value at most x.
# (id, title, litestash figure, anchor figure or None, unit, better, goal or None)
TARGETS = [
    ("set_vs_sqlite_batch", "Pipelined SET, depth {d} vs raw SQLite committing every K writes (K = engine batch)",
     "engine.set_seq_d{d}.ops_per_s", "sqlite.set_seq_engine_batch.ops_per_s", "ops/s", "higher", ("ratio", 1.0)),
    ("set_vs_sqlite_one_txn", "Pipelined SET, depth {d} vs raw SQLite in one big transaction",
     "engine.set_seq_d{d}.ops_per_s", "sqlite.set_seq_one_txn.ops_per_s", "ops/s", "higher", ("ratio", 0.75)),
    ("set_p99", "Pipelined SET, depth {d}, p99 latency (checkpoints off the commit path)",
     "engine.set_seq_d{d}.p99_us", None, "us", "lower", ("max", 5000.0)),
    ("mixed_vs_sqlite", "Mixed 90 % GET / 10 % SET, depth {d} vs raw SQLite, same mix, committing every K writes",
     "engine.mixed_uniform_d{d}.ops_per_s", "sqlite.mixed_uniform.ops_per_s", "ops/s", "higher", ("ratio", 1.0)),
    ("set_vs_redis", "Pipelined SET, depth {d} vs Redis SET pipelined {d}",
     "engine.set_seq_d{d}.ops_per_s", "redis.set_seq_d{d}.ops_per_s", "ops/s", "higher", None),
    ("get_uniform_vs_sqlite", "Pipelined GET depth {d}, uniform over {keys} keys vs raw SQLite GET",
     "engine.get_uniform_d{d}.ops_per_s", "sqlite.get_uniform.ops_per_s", "ops/s", "higher", ("ratio", 1.0)),
    ("get_uniform_d256_vs_sqlite", "Pipelined GET depth {wd}, uniform over {keys} keys vs raw SQLite GET",
     "engine.get_uniform_d{wd}.ops_per_s", "sqlite.get_uniform.ops_per_s", "ops/s", "higher", ("ratio", 1.0)),
    # Absent keys: "key:<keys>".."key:<2*keys-1>", never written; every answer must be a miss.
    ("get_absent_vs_sqlite", "GET of absent keys, depth {d} vs raw SQLite GET of absent keys",
     "engine.get_absent_d{d}.ops_per_s", "sqlite.get_absent.ops_per_s", "ops/s", "higher", ("ratio", 1.0)),
    ("get_absent_vs_redis", "GET of absent keys, depth {d} vs Redis pipelined GET of absent keys",
     "engine.get_absent_d{d}.ops_per_s", "redis.get_absent_d{d}.ops_per_s", "ops/s", "higher", None),
    ("get_hot_vs_redis", "GET of a 10k-key hot set, depth {d} vs Redis pipelined GET (same keys)",
     "engine.get_hot10k_d{d}.ops_per_s", "redis.get_hot10k_d{d}.ops_per_s", "ops/s", "higher", ("ratio", 1.5)),
    ("get_d1_vs_redis_d1", "Depth-1 GET vs Redis single-client unpipelined GET",
     "engine.get_uniform_d1.ops_per_s", "redis.get_uniform_d1.ops_per_s", "ops/s", "higher", ("ratio", 2.0)),
    ("py_set_async_vs_diskcache", "Python host single sets from 64 asyncio tasks vs diskcache FanoutCache(shards=16) set",
     "python.host.set_async64.ops_per_s", "python.diskcache.set.ops_per_s", "ops/s", "higher", ("ratio", 3.0)),
    ("py_set_vs_diskcache", "Python host single set, one at a time (sync client) vs diskcache set",
     "python.host.set.ops_per_s", "python.diskcache.set.ops_per_s", "ops/s", "higher", None),
    ("py_mget_vs_diskcache_get", "Python host mget-100, keys/s vs diskcache get, keys/s",
     "python.host.mget.keys_per_s", "python.diskcache.get.ops_per_s", "keys/s", "higher", ("ratio", 2.0)),
    ("spawn_to_hello", "Spawn to first hello answer, median over new data dirs",
     "spawn.fresh_median_ms", None, "ms", "lower", ("max", 15.0)),
    ("peak_rss", "Engine peak RSS (VmHWM, counts the data files' mapped pages) after {keys} keys vs redis-server peak RSS",
     "engine.peak_rss_mb", "redis.peak_rss_mb", "MB", "lower", None),
    ("private_rss", "Engine private memory (RssAnon, at the end) after {keys} keys vs redis-server peak RSS",
     "engine.private_rss_mb", "redis.peak_rss_mb", "MB", "lower", ("max", 64.0)),
    ("sync_full_d64_vs_d1", "--sync full: {d} writes in flight vs depth 1 (one commit per write)",
     "engine_full.set_seq_d{d}.ops_per_s", "engine_full.set_seq_d1.ops_per_s", "ops/s", "higher", ("ratio", 10.0)),
    ("sync_full_vs_sqlite_k1", "--sync full depth {d} vs raw SQLite synchronous=FULL, one commit per write",
     "engine_full.set_seq_d{d}.ops_per_s", "sqlite.set_seq_full_k1.ops_per_s", "ops/s", "higher", None),
    # Transactions: one txn of {tb} sets per request, keys/s, beside the mset of as many keys.
    ("txn_vs_mset", "txn of {tb} sets, depth {d}, keys/s vs the engine's mset of {tb} keys, keys/s",
     "engine.txn{tb}_uniform_d{d}.keys_per_s", "engine.mset{tb}_uniform_d{d}.keys_per_s", "keys/s", "higher",
     ("ratio", 0.5)),
    ("txn_vs_redis", "txn of {tb} sets, depth {d}, keys/s vs Redis MULTI, {tb} SETs, EXEC pipelined {d}, keys/s",
     "engine.txn{tb}_uniform_d{d}.keys_per_s", "redis.txn{tb}_uniform_d{d}.keys_per_s", "keys/s", "higher", None),
    # History (engine_versions run, --keep-versions {kv}).
    ("set_history_vs_none", "Uniform SET overwrites, depth {d}, --keep-versions {kv} vs the same without history",
     "engine_versions.set_uniform_d{d}.ops_per_s", "engine.set_uniform_d{d}.ops_per_s", "ops/s", "higher",
     ("ratio", 0.7)),
    ("get_old_version_vs_current", "GET at a key's superseded first version, depth {d} vs GET of the same keys' current value",
     "engine_versions.get_old_version_d{d}.ops_per_s", "engine_versions.get_current_d{d}.ops_per_s", "ops/s",
     "higher", None),
    ("versions_vs_get", "versions of a key with history, depth {d} vs GET of the same keys' current value",
     "engine_versions.versions_d{d}.ops_per_s", "engine_versions.get_current_d{d}.ops_per_s", "ops/s", "higher",
     None),
    # Streams (issue #9): own engine process and own Redis server, see report.py stream_phases().
    ("xadd_one_stream_vs_redis", "XADD depth {d}, 100-byte values, one stream vs Redis XADD * pipelined {d}",
     "engine_streams.xadd_1stream_d{d}.ops_per_s", "redis_streams.xadd_1stream_d{d}.ops_per_s", "ops/s", "higher",
     ("ratio", 0.5)),
    ("xadd_16_streams_vs_redis", "XADD depth {d}, 16 streams round-robin vs Redis XADD * to 16 streams, pipelined {d}",
     "engine_streams.xadd_16streams_d{d}.ops_per_s", "redis_streams.xadd_16streams_d{d}.ops_per_s", "ops/s",
     "higher", ("ratio", 0.5)),
    ("xrange_vs_redis", "XRANGE 100 entries per call, depth 16, random starts in {keys} entries vs Redis XRANGE COUNT 100",
     "engine_streams.xrange100_uniform_d16.entries_per_s", "redis_streams.xrange100_uniform_d16.entries_per_s",
     "entries/s", "higher", ("ratio", 1.0)),
    ("xread_wake_same_p99", "Blocked xread woken by an xadd through the same engine, p99 (anchor: Redis XREAD BLOCK)",
     "wakeup.same.p99_ms", "redis_wakeup.xread_block.p99_ms", "ms", "lower", ("max", 1.0)),
    ("xread_wake_other_p99", "Blocked xread woken by an xadd through another engine process on the data dir, p99",
     "wakeup.other.p99_ms", None, "ms", "lower", ("max", 50.0)),
]

ANCHOR_OF = {"sqlite": "raw SQLite", "redis": "Redis", "python": "diskcache", "engine_full": "engine depth 1",
             "spawn": "-", "redis_streams": "Redis streams", "redis_wakeup": "Redis XREAD BLOCK", "wakeup": "-",
             "engine_versions": "engine without history"}


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def flatten(runs):
    fig = {}
    for run in PHASE_RUNS:
        for phase, r in (runs.get(run) or {}).get("phases", {}).items():
            for m in PHASE_METRICS:
                if _num(r.get(m)):
                    fig["%s.%s.%s" % (run, phase, m)] = r[m]
    e = runs.get("engine") or {}
    if _num(e.get("peak_rss_kb")) and e["peak_rss_kb"] > 0:
        fig["engine.peak_rss_mb"] = e["peak_rss_kb"] / 1024.0
    if _num(e.get("rss_anon_kb")) and e["rss_anon_kb"] > 0:
        fig["engine.private_rss_mb"] = e["rss_anon_kb"] / 1024.0
        fig["engine.mapped_file_rss_mb"] = e.get("rss_file_kb", 0) / 1024.0
    if _num(e.get("data_dir_bytes")):
        fig["engine.data_dir_mb"] = e["data_dir_bytes"] / 1048576.0
    if _num((e.get("exit") or {}).get("cpu_s")):
        fig["engine.cpu_s"] = e["exit"]["cpu_s"]
        fig["engine.shutdown_s"] = e["exit"]["shutdown_s"]
    if _num(e.get("spawn_to_hello_ms")):
        fig["engine.first_spawn_to_hello_ms"] = e["spawn_to_hello_ms"]
    s = runs.get("spawn") or {}
    for m in ("fresh_median_ms", "reopen_median_ms", "shutdown_median_ms"):
        if _num(s.get(m)) and s[m] >= 0:
            fig["spawn." + m] = s[m]
    r = runs.get("redis") or {}
    if _num(r.get("peak_rss_kb")):
        fig["redis.peak_rss_mb"] = r["peak_rss_kb"] / 1024.0
    for test, v in (runs.get("redis_benchmark") or {}).items():
        if isinstance(v, dict):
            for m, x in v.items():
                if _num(x):
                    fig["redis_benchmark.%s.%s" % (test, m)] = x
    p = runs.get("python") or {}
    for side in ("diskcache", "host"):
        for op, res in (p.get(side) or {}).items():
            if isinstance(res, dict):
                for m in PY_METRICS:
                    if _num(res.get(m)):
                        fig["python.%s.%s.%s" % (side, op, m)] = res[m]
    for run, prefix in WAKE_RUNS.items():
        for mode, res in ((runs.get(run) or {}).get("results") or {}).items():
            if isinstance(res, dict):
                for m in WAKE_METRICS:
                    if _num(res.get(m)):
                        fig["%s.%s.%s" % (prefix, WAKE_PHASE.get(mode, mode), m)] = res[m]
    return fig


def goal_text(goal, unit, better):
    if not goal:
        return "%s is better" % better
    kind, x = goal
    ratio = "%.2f" % x if x < 10 and round(x, 1) != x else ("%.1f" % x if x < 10 else "%g" % x)
    return ("≥ %s×" % ratio) if kind == "ratio" else ("≤ %g %s" % (x, unit))


def goal_met(goal, value, ratio):
    if not goal:
        return None
    kind, x = goal
    if kind == "ratio":
        return None if ratio is None else ratio >= x
    return value <= x if _num(value) else None


def targets(fig, config):
    rows = []
    fmt = {"d": config["depth"], "keys": "{:,}".format(config["keys"]), "wd": config.get("wide_depth", 256),
           "tb": config.get("txn_batch", 8), "kv": config.get("keep_versions", 10)}
    for tid, title, mine, anchor, unit, better, goal in TARGETS:
        mine, anchor = mine.format(**fmt), anchor.format(**fmt) if anchor else None
        v, a = fig.get(mine), fig.get(anchor) if anchor else None
        ratio = (v / a) if (_num(v) and _num(a) and a > 0) else None
        rows.append({"id": tid, "title": title.format(**fmt), "figure": mine, "anchor_figure": anchor,
                     "value": v, "anchor_value": a, "unit": unit, "better": better, "ratio": ratio,
                     "goal": goal_text(goal, unit, better), "goal_met": goal_met(goal, v, ratio)})
    return rows


def sanity_notes(runs):
    notes = []
    for run in PHASE_RUNS:
        for phase, r in (runs.get(run) or {}).get("phases", {}).items():
            if r.get("errors"):
                notes.append("%s.%s: %d error answers (first: %s)" % (run, phase, r["errors"], r.get("first_error")))
            if r.get("absent_keys"):
                found = (r.get("answered") or 0) * (r.get("batch") or 1) - (r.get("errors") or 0) - (r.get("misses") or 0)
                if found > 0:
                    notes.append("%s.%s: %d keys found although none of them was ever written" % (run, phase, found))
            elif r.get("misses") and r.get("op") == "xrange":
                notes.append("%s.%s: %d entries missing from xrange answers although the stream holds every "
                             "entry read" % (run, phase, r["misses"]))
            elif r.get("misses") and r.get("at"):
                notes.append("%s.%s: %d gets at the key's first version found nothing although the history "
                             "should hold it" % (run, phase, r["misses"]))
            elif r.get("misses") and r.get("op") == "versions":
                notes.append("%s.%s: %d versions answers empty although every key read was written before"
                             % (run, phase, r["misses"]))
            elif r.get("misses"):
                notes.append("%s.%s: %d keys not found although every key read was written before"
                             % (run, phase, r["misses"]))
    py = runs.get("python") or {}
    for side in ("diskcache", "host"):
        for op, res in (py.get(side) or {}).items():
            if isinstance(res, dict) and res.get("misses"):
                notes.append("python.%s.%s: %d misses" % (side, op, res["misses"]))
    for run in WAKE_RUNS:
        for mode, res in ((runs.get(run) or {}).get("results") or {}).items():
            if isinstance(res, dict) and res.get("errors"):
                notes.append("%s.%s: %d bad wake-up rounds (first: %s)" % (run, mode, res["errors"],
                                                                          res.get("first_error")))
    return notes


def assemble(steps, config, machine, seconds):
    fig = flatten(steps.runs)
    eng = steps.runs.get("engine") or {}
    machine = dict(machine)
    hello = eng.get("hello") or {}
    machine["engine_version"] = hello.get("version")
    machine["sqlite_version"] = (steps.runs.get("sqlite") or {}).get("sqlite_version")
    rv = (steps.runs.get("redis") or {}).get("server_version") or ""
    machine["redis_version"] = ("Redis " + rv.split("v=")[1].split()[0]) if "v=" in rv else (rv or None)
    machine["python_host"] = ((steps.runs.get("python") or {}).get("host") or {}).get("impl")
    return {"schema": 1, "config": config, "machine": machine, "seconds": round(seconds, 1),
            "ok": not steps.failures and bool(fig), "figures": fig, "targets": targets(fig, config),
            "notes": steps.notes + sanity_notes(steps.runs), "failures": steps.failures,
            "durations_s": steps.durations, "runs": steps.runs}


def _fmt(v, unit=""):
    if not _num(v):
        return "n/a"
    if unit in ("ms", "MB") or abs(v) < 100:
        return "%.3g" % v if abs(v) < 10 else "%.1f" % v
    return "{:,.0f}".format(v)


def _ratio(r):
    return "n/a" if r is None else ("%.2f×" % r if r < 10 else "%.1f×" % r)


def _header(doc):
    c, m = doc["config"], doc["machine"]
    return ["%s · %s CPUs (%s) · engine %s · SQLite %s · %s · git %s" % (
               m.get("date"), m.get("cpus"), m.get("cpu_model"), m.get("engine_version"),
               m.get("sqlite_version"), m.get("redis_version") or "Redis not run", m.get("git_rev") or "n/a"), "",
           "Load average at start / end: %s / %s." % (m.get("loadavg_start"), m.get("loadavg_end")), "",
           "Config: %s keys, %d-byte values, %d shards, --sync %s, depth %d; %s requests per measured "
           "write phase, %s per pipelined read phase (%s at depth 1); Python ops %s. Whole run: %.0f s." % (
               "{:,}".format(c["keys"]), c["value_size"], c["shards"], c["sync"], c["depth"],
               "{:,}".format(c["ops"]), "{:,}".format(c.get("reads", c["ops"])), "{:,}".format(c["depth_ops"]),
               "{:,}".format(c["python_ops"]), doc["seconds"]), ""] + _more_lines(c) + _streams_line(c)


def _more_lines(c):
    """Absent keys, the depth-256 GET, txn and history phases (absent from configs of older runs)."""
    if c.get("txn_batch") is None:
        return []
    text = ("Absent keys: uniform gets of key:%d..key:%d, which no phase writes (every one must miss), at depth %d "
            "and 1; pipelined uniform GET also at depth %d. txn: %s requests of %d sets each, right after an mset "
            "phase of as many keys." % (c["keys"], 2 * c["keys"] - 1, c["depth"], c["wide_depth"],
                                        "{:,}".format(c["txn_ops"]), c["txn_batch"]))
    if "versions" not in (c.get("skipped") or []):
        text += (" History: a second engine with --keep-versions %d, the same preload and %s uniform overwrites, then "
                 "keys 0..%d written once more in order; %s gets of those keys at their current value, as many at "
                 "their first (superseded) version, as many `versions`." % (
                     c["keep_versions"], "{:,}".format(c["ops"]), c["versions_keys"] - 1, "{:,}".format(c["ops"])))
    return [text, ""]


def _streams_line(c):
    if c.get("stream_entries") is None or "streams" in (c.get("skipped") or []):
        return []
    return ["Streams: one stream of %s entries written by the pipelined xadd phase (depth %d), %s xadds over 16 "
            "streams, %s xrange calls of 100 entries at depth %d from uniform random starts; %s wake-up rounds "
            "per mode (blocked xread, wait_ms 60000, then one xadd; settle pause 1-3 ms)." % (
                "{:,}".format(c["stream_entries"]), c["depth"], "{:,}".format(c["xadd_16_ops"]),
                "{:,}".format(c["xrange_calls"]), c["xrange_depth"], "{:,}".format(c["wake_rounds"])), ""]


def _target_table(doc):
    out = ["| target | litestash | anchor | ratio | goal |", "| --- | ---: | ---: | ---: | --- |"]
    for t in doc["targets"]:
        out.append("| %s | %s %s | %s | %s | %s |" % (
            t["title"], _fmt(t["value"], t["unit"]), t["unit"], _fmt(t["anchor_value"], t["unit"]),
            _ratio(t["ratio"]), _goal_cell(t)))
    return out


def _goal_cell(t):
    goal = t.get("goal") or t.get("better", "")
    met = t.get("goal_met")
    return goal if met is None else "%s (%s)" % (goal, "met" if met else "missed")


def docs_section(doc, stem):
    """The block report.py --update-docs puts between the markers of docs/performance.md."""
    out = ["Run of %s (%s scale); full tables in [bench/results/%s.md](../bench/results/%s.md), raw figures in "
           "`bench/results/%s.json`." % (doc["machine"].get("date"), doc["config"]["scale"], stem, stem, stem), ""]
    out += _header(doc) + _target_table(doc)
    out += ["", "![benchmark chart](../bench/results/%s.png)" % stem]
    if doc["notes"] or doc["failures"]:
        out += ["", "Notes:", ""] + ["- " + n for n in doc["notes"]] + ["- FAILED: " + x for x in doc["failures"]]
    return "\n".join(out) + "\n"


def markdown(doc, png_name):
    c = doc["config"]
    out = ["# litestash-engine benchmark (%s scale)" % c["scale"], ""] + _header(doc)
    out += ["## Targets", ""] + _target_table(doc)
    out += ["", "![chart](%s)" % png_name, "", "## Every phase", "",
            "Target CPU is the engine's (or Redis's, or in-process SQLite's) CPU time per request; client CPU is "
            "the load generator's own, both threads (10 ms /proc tick resolution for the target).", "",
            "| run | phase | ops/s | keys (entries)/s | p50 µs | p99 µs | p99.9 µs | target CPU µs/op | client CPU µs/op | notes |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for run in PHASE_RUNS:
        for phase, r in (doc["runs"].get(run) or {}).get("phases", {}).items():
            notes = []
            if r.get("commit_every") is not None:
                notes.append("commit every %s" % (r["commit_every"] or "phase (one txn)"))
            if _num(r.get("engine_avg_batch")):
                notes.append("engine batch %.1f" % r["engine_avg_batch"])
            if _num(r.get("pages_per_key")) and r["pages_per_key"] > 0:
                notes.append("%.2f pages written per key" % r["pages_per_key"])
            if r.get("absent_keys"):
                notes.append("keys never written (all must miss)")
            if r.get("at"):
                notes.append("get at the key's %s version" % r["at"])
            if run == "engine_versions":
                notes.append("--keep-versions %s" % doc["config"].get("keep_versions", "?"))
            if r.get("op") == "txn":
                notes.append("txn of %s sets" % r.get("batch"))
            if r.get("op") in ("xadd", "xrange"):
                notes.append("%s, %s stream%s%s" % (r["op"], r.get("streams"), "" if r.get("streams") == 1 else "s",
                                                     ", %s entries per call" % r.get("batch") if r["op"] == "xrange"
                                                     else ""))
            if r.get("errors") or (r.get("misses") and not r.get("absent_keys")):
                notes.append("errors %s misses %s" % (r.get("errors"), r.get("misses")))
            if r.get("broken"):
                notes.append("BROKEN: %s" % r.get("broken_reason"))
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                run, phase, _fmt(r.get("ops_per_s")), _fmt(r.get("keys_per_s")), _fmt(r.get("p50_us")),
                _fmt(r.get("p99_us")), _fmt(r.get("p999_us")), _fmt(r.get("target_cpu_us_per_op")),
                _fmt(r.get("client_cpu_us_per_op")), "; ".join(notes)))
    py = doc["runs"].get("python") or {}
    for side in ("host", "diskcache"):
        for op, r in (py.get(side) or {}).items():
            if isinstance(r, dict):
                out.append("| python %s | %s | %s | %s | %s | %s | %s | | | |" % (
                    side, op, _fmt(r.get("ops_per_s")), _fmt(r.get("keys_per_s")), _fmt(r.get("p50_us")),
                    _fmt(r.get("p99_us")), _fmt(r.get("p999_us"))))
    for run in WAKE_RUNS:
        for mode, r in ((doc["runs"].get(run) or {}).get("results") or {}).items():
            if not isinstance(r, dict):
                continue
            us = lambda k: r[k] * 1000 if _num(r.get(k)) else None  # noqa: E731
            notes = ["xread woken by an xadd %s; %s rounds" % (
                {"same": "through the same engine", "other": "through another engine process",
                 "redis": "(Redis XREAD BLOCK / XADD, two connections)"}.get(mode, mode), r.get("n"))]
            if _num(r.get("xadd_answer_p50_ms")):
                notes.append("xadd answered p50 %s µs" % _fmt(us("xadd_answer_p50_ms")))
            if r.get("errors"):
                notes.append("errors %s" % r["errors"])
            out.append("| %s | %s | | | %s | %s | %s | | | %s |" % (
                run, "xread_wake_" + mode, _fmt(us("p50_ms")), _fmt(us("p99_ms")), _fmt(us("p999_ms")),
                "; ".join(notes)))
    f = doc["figures"]
    out += ["", "## Resources", "",
            "- engine peak RSS (VmHWM): %s MB; at the end %s MB private (RssAnon) and %s MB of mapped data-file pages (RssFile); data dir after shutdown: %s MB; engine CPU for the whole run: %s s"
            % (_fmt(f.get("engine.peak_rss_mb"), "MB"), _fmt(f.get("engine.private_rss_mb"), "MB"),
               _fmt(f.get("engine.mapped_file_rss_mb"), "MB"), _fmt(f.get("engine.data_dir_mb"), "MB"),
               _fmt(f.get("engine.cpu_s"), "ms")),
            "- spawn to hello: %s ms median on new data dirs, %s ms reopening one; shutdown %s ms"
            % (_fmt(f.get("spawn.fresh_median_ms"), "ms"), _fmt(f.get("spawn.reopen_median_ms"), "ms"),
               _fmt(f.get("spawn.shutdown_median_ms"), "ms"))]
    rb = doc["runs"].get("redis_benchmark")
    if rb:
        out.append("- redis-benchmark cross-check (`%s`): SET %s ops/s, GET %s ops/s" % (
            rb.get("argv"), _fmt((rb.get("set") or {}).get("rps")), _fmt((rb.get("get") or {}).get("rps"))))
    if doc["notes"] or doc["failures"]:
        out += ["", "## Notes", ""] + ["- " + n for n in doc["notes"]] + ["- FAILED: " + x for x in doc["failures"]]
    return "\n".join(out) + "\n"


def targets_text(doc):
    lines = ["", "%-70s %14s %14s %9s  %s" % ("target", "litestash", "anchor", "ratio", "goal")]
    for t in doc["targets"]:
        lines.append("%-70s %14s %14s %9s  %s" % (t["title"][:70], _fmt(t["value"], t["unit"]),
                                                  _fmt(t["anchor_value"], t["unit"]), _ratio(t["ratio"]),
                                                  _goal_cell(t)))
    return "\n".join(lines) + "\n"


def _spread(positions, gap, lo=0.0, hi=1.0):
    """Moves sorted positions (axes fractions) apart to at least `gap`, kept within [lo, hi] where
    they fit; returns the new positions in the same order."""
    out = list(positions)
    for i in range(1, len(out)):
        out[i] = max(out[i], out[i - 1] + gap)
    if out and out[-1] > hi:
        out[-1] = hi
        for i in range(len(out) - 2, -1, -1):
            out[i] = min(out[i], out[i + 1] - gap)
    if out and out[0] < lo:  # more labels than fit: start at lo and let the top run over
        out[0] = lo
        for i in range(1, len(out)):
            out[i] = max(out[i], out[i - 1] + gap)
    return out


def chart(doc, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:  # matplotlib missing or broken: results stay valid without the chart
        return str(e)
    rows = [t for t in doc["targets"] if t["ratio"] is not None]
    height = max(6.5, 0.3 * len(rows) + 1.8)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(16, height), gridspec_kw={"width_ratios": [3, 2]})
    if rows:
        labels = [t["id"] for t in rows][::-1]
        ratios = [t["ratio"] for t in rows][::-1]
        good = [((r >= 1) == (t["better"] == "higher")) if t.get("goal_met") is None else t["goal_met"]
                for r, t in zip(ratios, rows[::-1])]
        ax1.barh(labels, ratios, color=["#3a7d44" if g else "#b5473a" for g in good])
        ax1.axvline(1.0, color="black", linewidth=1)
        ax1.set_xscale("log")
        # Room for the ratio printed after each bar, and for bars shorter than 1 on the left.
        ax1.set_xlim(min(min(ratios), 1.0) / 1.5, max(max(ratios), 1.0) * 2.2)
        ax1.set_ylim(-0.7, len(rows) - 0.3)
        for i, r in enumerate(ratios):
            ax1.text(r, i, " %s" % _ratio(r), va="center", fontsize=8)
        ax1.tick_params(axis="y", labelsize=8)
        ax1.set_xlabel("litestash / anchor (log; green = goal met, or litestash better where no goal)")
    ax1.set_title("Targets (%s scale, %s keys)" % (doc["config"]["scale"], "{:,}".format(doc["config"]["keys"])))
    _depth_chart(ax2, doc)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def _depth_chart(ax, doc):
    """SET throughput against pipeline depth. The anchors are horizontal lines, each labelled with its
    name and figure at the plot's right edge; labels too close together are moved apart and joined to
    their line by a short leader, so none overlaps another or the data."""
    f, d = doc["figures"], doc["config"]["depth"]
    sweep = sorted((int(k.split(".")[1].split("_d")[1]), v) for k, v in f.items()
                   if k.startswith("engine.set_uniform_d") and k.endswith(".ops_per_s"))
    k_every = (((doc["runs"].get("sqlite") or {}).get("phases") or {}).get("set_seq_engine_batch") or {}).get(
        "commit_every")
    anchors = []
    for key, label, style in (
            ("sqlite.set_seq_engine_batch.ops_per_s",
             "raw SQLite, commit every %s" % (k_every if k_every else "K"), "--"),
            ("sqlite.set_seq_one_txn.ops_per_s", "raw SQLite, one transaction", ":"),
            ("redis.set_seq_d%d.ops_per_s" % d, "Redis SET, pipelined %d" % d, "-.")):
        if _num(f.get(key)) and f[key] > 0:
            anchors.append((f[key], label, style))
    hist = f.get("engine_versions.set_uniform_d%d.ops_per_s" % d)
    values = [v for _, v in sweep] + [a[0] for a in anchors] + ([hist] if _num(hist) and hist > 0 else [])
    if not values:
        ax.set_title("SET throughput vs pipeline depth (no figures)")
        return
    lo, hi = min(values) / 1.6, max(values) * 1.6
    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    if sweep:
        ax.plot([s[0] for s in sweep], [s[1] for s in sweep], marker="o", color="#1f77b4",
                label="engine SET, uniform overwrites")
        for x, y in sweep:
            # Below and right of the point: clear of a curve that rises with depth.
            ax.annotate(_fmt(y), (x, y), textcoords="offset points", xytext=(5, -11), ha="left", fontsize=7,
                        color="#1f77b4")
    if _num(hist) and hist > 0:
        ax.plot([d], [hist], marker="D", linestyle="none", color="#d98c1f",
                label="engine SET with --keep-versions %s" % doc["config"].get("keep_versions", "?"))
        # Left of its marker: the sweep's own figure for this depth sits below and right.
        ax.annotate(_fmt(hist), (d, hist), textcoords="offset points", xytext=(-7, 0), ha="right", va="center",
                    fontsize=7, color="#d98c1f")
    span = math.log(hi) - math.log(lo)
    order = sorted(anchors, key=lambda a: a[0])
    ys = [(math.log(a[0]) - math.log(lo)) / span for a in order]
    label_ys = _spread(ys, gap=0.085, lo=0.03, hi=0.97)
    for (v, label, style), y, ly in zip(order, ys, label_ys):
        ax.axhline(v, linestyle=style, color="gray", linewidth=1.2)
        ax.annotate("%s\n%s ops/s" % (label, _fmt(v)), xy=(1.0, v), xycoords=ax.get_yaxis_transform(),
                    xytext=(1.03, ly), textcoords="axes fraction", va="center", ha="left", fontsize=8,
                    annotation_clip=False,
                    arrowprops=dict(arrowstyle="-", color="gray", linewidth=0.8, shrinkA=0, shrinkB=0)
                    if abs(ly - y) > 0.01 else None)
    ax.set_xscale("log", base=2)
    xs = sorted({s[0] for s in sweep} | ({d} if _num(hist) else set()))
    if xs:
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.set_xlim(xs[0] / 1.6, xs[-1] * 2.4)  # room for the last point's figure
    ax.set_xlabel("requests in flight")
    ax.set_ylabel("ops/s")
    ax.set_title("SET throughput vs pipeline depth (anchors: gray lines)")
    ax.grid(True, which="major", axis="y", color="#dddddd", linewidth=0.6)
    if sweep or _num(hist):
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8, frameon=False)
