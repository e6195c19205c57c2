"""One command for the whole benchmark: litestash-engine beside its anchors.

    /usr/bin/python3 bench/report.py [--keys N] [--quick | --smoke] [--engine PATH]
    (bench/run_bench.sh is the same with the repo root as working directory)

Runs, in order: spawn-to-hello timing, the phased engine run (--sync as configured: preload,
gets of present and absent keys, overwrites, mixed, mget/mset, txn vs mset of 8 keys, the SET
depth sweep, deletes), an engine run with --sync full, an engine run with --keep-versions 10
(the same preload and overwrites with history, then gets of old versions and `versions`), the
stream phases on an engine of their own and the blocking-read wake-up timing (same engine / a
second engine on the data dir), raw SQLite (anchor a), Redis 7 (anchor b, skipped with a note when
not installed) plus a redis-benchmark cross-check, then the same stream phases and XREAD BLOCK
wake-up on a fresh Redis server, and diskcache vs the Python host (anchor c). --skip streams
leaves out every stream step, --skip versions the history run.
Writes <out-dir>/<name>.json (every figure under stable dotted names in "figures", the target
ratios in "targets", each tool's raw JSON in "runs"), <name>.md (tables) and <name>.png (chart).
Default name is "latest" ("smoke" with --smoke).

Scales: full (default; 1M keys, ~5-8 min on 2 cores), --quick (100k keys), --smoke (2k keys, a
few seconds, for the test suite). Exit status: 0 when every step ran; 1 when a step crashed or
produced no figures. Nothing here asserts timings.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import redis_server  # noqa: E402
import render  # noqa: E402

SCALES = {
    # keys: preload size; ops: requests of each measured set/mixed phase; reads: of each pipelined
    # get phase (a get runs ~10x faster than a set: long enough to be more than warm-up); d1: depth-1 phases;
    # full64/full1: writes of the --sync full runs; py: Python ops; spawns: spawn-to-hello repeats.
    # Streams: the one-stream xadd phase writes `keys` entries (the stream xrange reads), the 16-stream
    # one `ops`; xr: xrange calls of 100 entries (20k calls ran under a second and spread +-30 %
    # between runs; 100k: +-3 %, docs/performance.md session 8); wake: wake-up rounds per mode. Absent-key gets run
    # `reads` requests (d1 at depth 1), txn/mset of 8 keys `ops` // 8 requests (`ops` keys), the history
    # run `ops` overwrites and `ops` reads of each kind (see versions_phases()).
    "full": dict(keys=1_000_000, ops=200_000, reads=1_000_000, d1=50_000, full64=20_000, full1=2_000, py=20_000, spawns=7,
                 sweep=True, xr=100_000, wake=1_000),
    "quick": dict(keys=100_000, ops=50_000, reads=200_000, d1=10_000, full64=5_000, full1=200, py=5_000, spawns=5,
                  sweep=True, xr=25_000, wake=300),
    "smoke": dict(keys=2_000, ops=1_000, reads=1_000, d1=200, full64=300, full1=20, py=300, spawns=2, sweep=True,
                  xr=100, wake=20),
}
XRANGE_DEPTH = 16  # xrange calls in flight (each answer ~11 KB: 16 deep is ~180 KB outstanding)
WIDE_DEPTH = 256  # the second pipelined uniform GET phase (get_uniform_d256)
TXN_BATCH = 8  # keys per txn (and per the mset it is compared with)
KEEP_VERSIONS = 10  # history depth of the engine_versions run


def log(msg):
    sys.stderr.write("[report] %s\n" % msg)
    sys.stderr.flush()


class Steps:
    """Runs the tools, keeps their JSON, and remembers what failed or was skipped."""

    def __init__(self):
        self.runs = {}
        self.durations = {}
        self.failures = []
        self.notes = []

    def run(self, name, argv, timeout):
        log("%s: %s" % (name, " ".join(argv)))
        t0 = time.monotonic()
        out, rc = "", None  # rc None: the failure is already recorded
        try:
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=None, timeout=timeout, cwd=REPO)
            out, rc = proc.stdout.decode(errors="replace"), proc.returncode
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace")
            self.failures.append("%s: timed out after %d s" % (name, timeout))
        except OSError as e:
            self.failures.append("%s: cannot run (%s)" % (name, e))
        self.durations[name] = round(time.monotonic() - t0, 2)
        doc = None
        try:
            doc = json.loads(out.strip().splitlines()[-1]) if out.strip() else None
        except (ValueError, IndexError):
            self.failures.append("%s: output is not JSON" % name)
        if doc is not None:
            self.runs[name] = doc
        if rc not in (0, None):
            why = (doc or {}).get("error") or ("killed by signal %d" % -rc if rc < 0 else "exit status %d" % rc)
            self.failures.append("%s: %s" % (name, why))
            if doc and doc.get("log_tail"):
                log("%s engine log tail:\n%s" % (name, doc["log_tail"]))
        log("%s: done in %.1f s%s" % (name, self.durations[name], "" if rc == 0 else " (FAILED)"))
        return doc


def phase_avg_batch(doc, phase):
    try:
        v = doc["phases"][phase]["engine_avg_batch"]
        return v if v and v > 0 else None
    except (KeyError, TypeError):
        return None


def engine_phases(sc, d):
    k, m, m1, r = sc["keys"], sc["ops"], sc["d1"], sc["reads"]
    batches = max(1, m // 100)
    p = ["set_seq_d%d:op=set,dist=seq,n=%d,depth=%d" % (d, k, d),
         "get_uniform_d%d:op=get,dist=uniform,n=%d,depth=%d" % (d, r, d)]
    if d != WIDE_DEPTH:
        p.append("get_uniform_d%d:op=get,dist=uniform,n=%d,depth=%d" % (WIDE_DEPTH, r, WIDE_DEPTH))
    p += [
        # Keys "key:<keys>".."key:<2*keys-1>": never written, every get must miss.
        "get_absent_d%d:op=get,dist=uniform,absent=1,n=%d,depth=%d" % (d, r, d),
        "get_hot10k_d%d:op=get,dist=hot,hot=10000,n=%d,depth=%d" % (d, r, d),
        "get_uniform_d1:op=get,dist=uniform,n=%d,depth=1" % m1,
        "get_absent_d1:op=get,dist=uniform,absent=1,n=%d,depth=1" % m1,
        "set_uniform_d%d:op=set,dist=uniform,n=%d,depth=%d" % (d, m, d),
        "mixed_uniform_d%d:op=mixed,dist=uniform,n=%d,depth=%d" % (d, m, d),
        "mget100_uniform_d8:op=mget,dist=uniform,batch=100,n=%d,depth=8" % batches,
        "mset100_uniform_d8:op=mset,dist=uniform,batch=100,n=%d,depth=8" % batches,
    ] + txn_phases(sc, d, engine=True)
    if sc["sweep"]:
        for sd in (1, 16, 256, 1024):
            if sd != d:
                p.append("set_uniform_d%d:op=set,dist=uniform,n=%d,depth=%d" % (sd, m1 if sd == 1 else m // 2, sd))
    p.append("delete_seq_d%d:op=delete,dist=seq,n=%d,depth=%d" % (d, min(m, k), d))
    return p


def txn_phases(sc, d, engine):
    """txn of TXN_BATCH sets (Redis: MULTI, the SETs, EXEC), `ops` keys in all; on the engine the mset
    of as many keys runs just before it, as the txn's anchor."""
    n = max(1, sc["ops"] // TXN_BATCH)
    txn = "txn%d_uniform_d%d:op=txn,dist=uniform,batch=%d,n=%d,depth=%d" % (TXN_BATCH, d, TXN_BATCH, n, d)
    mset = "mset%d_uniform_d%d:op=mset,dist=uniform,batch=%d,n=%d,depth=%d" % (TXN_BATCH, d, TXN_BATCH, n, d)
    return [mset, txn] if engine else [txn]


def versions_phases(sc, d):
    """The engine_versions run (--keep-versions KEEP_VERSIONS): the same preload and uniform overwrites as
    the main run (the overwrite is compared with the main run's set_uniform phase), then keys 0..h-1
    written once more in order, so each has its first version in history; gets of those keys at their
    current and at their first version, and `versions` of them."""
    k, m = sc["keys"], sc["ops"]
    h = versions_keys(sc)
    return [
        "set_seq_d%d:op=set,dist=seq,n=%d,depth=%d" % (d, k, d),
        "set_uniform_d%d:op=set,dist=uniform,n=%d,depth=%d" % (d, m, d),
        "overwrite_seq_d%d:op=set,dist=seq,n=%d,depth=%d" % (d, h, d),
        "get_current_d%d:op=get,dist=hot,hot=%d,n=%d,depth=%d" % (d, h, m, d),
        "get_old_version_d%d:op=get,at=first,dist=hot,hot=%d,n=%d,depth=%d" % (d, h, m, d),
        "versions_d%d:op=versions,dist=hot,hot=%d,n=%d,depth=%d" % (d, h, m, d),
    ]


def versions_keys(sc):
    return max(1, min(sc["keys"], sc["ops"] // 4))


def stream_phases(sc, d):
    """The same three phases on the engine and on Redis (run with --keys = sc["keys"]): the one-stream
    xadd writes the sc["keys"] entries the xrange phase reads (stream "one:0")."""
    return [
        "xadd_1stream_d%d:op=xadd,stream=one,streams=1,n=%d,depth=%d" % (d, sc["keys"], d),
        "xadd_16streams_d%d:op=xadd,stream=multi,streams=16,n=%d,depth=%d" % (d, sc["ops"], d),
        "xrange100_uniform_d%d:op=xrange,stream=one,batch=100,dist=uniform,n=%d,depth=%d"
        % (XRANGE_DEPTH, sc["xr"], XRANGE_DEPTH),
    ]


def main():
    ap = argparse.ArgumentParser(description="litestash-engine benchmark beside real anchors")
    ap.add_argument("--keys", type=int, help="preload size (default 1000000; quick 100000; smoke 2000)")
    ap.add_argument("--ops", type=int, help="requests per measured get/set phase")
    ap.add_argument("--quick", action="store_true", help="100k keys, shorter phases")
    ap.add_argument("--smoke", action="store_true", help="tiny run for the test suite (a few seconds)")
    ap.add_argument("--engine", default=os.environ.get("LITESTASH_ENGINE", os.path.join(REPO, "build", "litestash-engine")))
    ap.add_argument("--bench-bin", default=os.environ.get("LITESTASH_BENCH",
                                                          os.path.join(REPO, "build", "bench", "litestash-bench")))
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("--sync", default="normal", choices=["off", "normal", "full"])
    ap.add_argument("--depth", type=int, default=64, help="pipeline depth of the main phases")
    ap.add_argument("--commit", type=int, help="raw SQLite commit-every K (default: engine's average batch)")
    ap.add_argument("--skip", action="append", default=[],
                    choices=["redis", "python", "sqlite", "full-sync", "spawn", "streams", "versions"])
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    ap.add_argument("--name", help="output file stem (default latest, or smoke with --smoke)")
    ap.add_argument("--tmp-dir", default=None, help="where temp data dirs go (default $TMPDIR or /tmp)")
    ap.add_argument("--update-docs", action="store_true",
                    help="rewrite the results section of docs/performance.md from this run")
    args = ap.parse_args()

    scale = "smoke" if args.smoke else "quick" if args.quick else "full"
    sc = dict(SCALES[scale])
    if args.keys:
        sc["keys"] = args.keys
    if args.ops:
        sc["ops"] = sc["reads"] = args.ops
    name = args.name or ("smoke" if args.smoke else "latest")
    d = args.depth
    timeout = 120 if args.smoke else 1800
    started = time.monotonic()
    load_start = loadavg()

    for label, path in (("engine", args.engine), ("litestash-bench", args.bench_bin)):
        if not os.access(path, os.X_OK):
            log("%s binary not found at %s (build it: cmake --build build --target %s)"
                % (label, path, "litestash-engine" if label == "engine" else "litestash-bench"))
            return 1

    steps = Steps()
    bench = [args.bench_bin]
    tmp = ["--tmp-dir", args.tmp_dir] if args.tmp_dir else []
    common = ["--keys", str(sc["keys"]), "--value-size", str(args.value_size), "--shards", str(args.shards)] + tmp
    eng = ["--engine", args.engine]

    if "spawn" not in args.skip:
        steps.run("spawn", bench + ["spawn", "--spawns", str(sc["spawns"]), "--shards", str(args.shards),
                                    "--sync", args.sync] + eng + tmp, timeout)
    main_run = steps.run("engine", bench + ["engine", "--sync", args.sync] + eng + common +
                         sum((["--phase", p] for p in engine_phases(sc, d)), []), timeout)
    full_run = None
    if "full-sync" not in args.skip:
        fk = sc["full64"] + sc["full1"]
        full_run = steps.run("engine_full", bench + ["engine", "--sync", "full"] + eng +
                             ["--keys", str(fk), "--value-size", str(args.value_size), "--shards", str(args.shards)] + tmp +
                             ["--phase", "set_seq_d%d:op=set,dist=seq,n=%d,depth=%d" % (d, sc["full64"], d),
                              "--phase", "set_seq_d1:op=set,dist=seq,n=%d,depth=1,from=%d" % (sc["full1"], sc["full64"])],
                             timeout)
    if "versions" not in args.skip:
        steps.run("engine_versions", bench + ["engine", "--sync", args.sync, "--engine-arg", "--keep-versions",
                                              "--engine-arg", str(KEEP_VERSIONS)] + eng + common +
                  sum((["--phase", p] for p in versions_phases(sc, d)), []), timeout)
    streams = "streams" not in args.skip
    if streams:
        steps.run("engine_streams", bench + ["engine", "--sync", args.sync] + eng + common +
                  sum((["--phase", p] for p in stream_phases(sc, d)), []), timeout)
        steps.run("wakeup", bench + ["wakeup", "--mode", "same,other", "--n", str(sc["wake"]), "--shards",
                                     str(args.shards), "--sync", args.sync, "--value-size", str(args.value_size)]
                  + eng + tmp, timeout)

    if "sqlite" not in args.skip:
        k_main, k_src = args.commit, "--commit flag"
        if k_main is None:
            avg = phase_avg_batch(main_run, "set_seq_d%d" % d)
            k_main, k_src = (max(1, round(avg)), "engine stats") if avg else (max(1, d // args.shards), "depth/shards")
        avg_full = phase_avg_batch(full_run, "set_seq_d%d" % d)
        k_full = max(1, round(avg_full)) if avg_full else max(1, d // args.shards)
        steps.notes.append("raw SQLite commits each shard every %d writes (from %s); %d under --sync full"
                           % (k_main, k_src, k_full))
        steps.run("sqlite", bench + ["sqlite"] + common + [
            "--phase", "set_seq_engine_batch:op=set,dist=seq,n=%d,depth=1,commit=%d" % (sc["keys"], k_main),
            "--phase", "get_uniform:op=get,dist=uniform,n=%d,depth=1" % sc["reads"],
            "--phase", "get_absent:op=get,dist=uniform,absent=1,n=%d,depth=1" % sc["reads"],
            # 90 % gets, 10 % sets, committing every K writes like the engine's pipelined SET.
            "--phase", "mixed_uniform:op=mixed,dist=uniform,n=%d,depth=1,commit=%d" % (sc["ops"], k_main),
            "--phase", "set_seq_one_txn:op=set,dist=seq,n=%d,depth=1,commit=0,fresh=1" % sc["keys"],
            "--phase", "set_seq_full_k1:op=set,dist=seq,n=%d,depth=1,commit=1,sync=full,fresh=1" % sc["full1"],
            "--phase", "set_seq_full_engine_batch:op=set,dist=seq,n=%d,depth=1,commit=%d,sync=full,fresh=1"
            % (sc["full64"], k_full)], timeout)

    if "redis" not in args.skip:
        if not redis_server.available():
            steps.notes.append("Redis anchor skipped: redis-server is not installed (apt-get install redis-server)")
        else:
            try:
                with redis_server.RedisServer(args.tmp_dir) as rs:
                    steps.run("redis", bench + ["redis", "--port", str(rs.port), "--target-pid", str(rs.proc.pid)] + common + [
                        "--phase", "set_seq_d%d:op=set,dist=seq,n=%d,depth=%d" % (d, sc["keys"], d),
                        "--phase", "get_uniform_d%d:op=get,dist=uniform,n=%d,depth=%d" % (d, sc["reads"], d),
                        "--phase", "get_absent_d%d:op=get,dist=uniform,absent=1,n=%d,depth=%d" % (d, sc["reads"], d),
                        "--phase", "get_hot10k_d%d:op=get,dist=hot,hot=10000,n=%d,depth=%d" % (d, sc["reads"], d),
                        "--phase", "get_uniform_d1:op=get,dist=uniform,n=%d,depth=1" % sc["d1"],
                        "--phase", "mget100_uniform_d8:op=mget,dist=uniform,batch=100,n=%d,depth=8"
                        % max(1, sc["ops"] // 100)] +
                        sum((["--phase", p] for p in txn_phases(sc, d, engine=False)), []), timeout)
                    if "redis" in steps.runs:
                        steps.runs["redis"]["peak_rss_kb"] = rs.peak_rss_kb()
                        steps.runs["redis"]["server_version"] = rs.version
                    rb = redis_server.redis_benchmark(rs.port, sc["ops"], sc["keys"], d, args.value_size)
                    if rb is not None:
                        steps.runs["redis_benchmark"] = rb
                if streams:  # a fresh server: the key anchor's RSS and AOF stay as they were
                    with redis_server.RedisServer(args.tmp_dir) as rs:
                        steps.run("redis_streams", bench + ["redis", "--port", str(rs.port), "--target-pid",
                                                            str(rs.proc.pid)] + common +
                                  sum((["--phase", p] for p in stream_phases(sc, d)), []), timeout)
                        steps.run("redis_wakeup", bench + ["wakeup", "--mode", "redis", "--port", str(rs.port),
                                                           "--n", str(sc["wake"]), "--value-size",
                                                           str(args.value_size)], timeout)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                steps.failures.append("redis: %s" % e)

    if "python" not in args.skip:
        steps.run("python", ["/usr/bin/python3", os.path.join(HERE, "py_anchor.py"), "--engine", args.engine,
                             "--n", str(sc["py"]), "--value-size", str(args.value_size),
                             "--shards", str(args.shards)] + tmp, timeout)

    config = {"scale": scale, "keys": sc["keys"], "ops": sc["ops"], "reads": sc["reads"], "depth_ops": sc["d1"],
              "full_sync_writes_d64": sc["full64"], "full_sync_writes_d1": sc["full1"], "python_ops": sc["py"],
              "spawns": sc["spawns"], "value_size": args.value_size, "shards": args.shards, "sync": args.sync,
              "depth": d, "engine": os.path.relpath(args.engine, REPO), "skipped": args.skip,
              "stream_entries": sc["keys"], "xadd_16_ops": sc["ops"], "xrange_calls": sc["xr"],
              "xrange_depth": XRANGE_DEPTH, "wake_rounds": sc["wake"], "wide_depth": WIDE_DEPTH,
              "txn_batch": TXN_BATCH, "txn_ops": max(1, sc["ops"] // TXN_BATCH), "keep_versions": KEEP_VERSIONS,
              "versions_keys": versions_keys(sc)}
    machine = machine_info()
    machine["loadavg_start"], machine["loadavg_end"] = load_start, loadavg()
    if max(load_start or [0]) > (machine.get("cpus") or 1) or max(machine["loadavg_end"] or [0]) > (machine.get("cpus") or 1):
        steps.notes.append("the machine was busy with other work (load average %s at start, %s at end, %s CPUs): "
                           "absolute figures are noisy, ratios less so" % (load_start, machine["loadavg_end"],
                                                                         machine.get("cpus")))
    doc = render.assemble(steps, config, machine, time.monotonic() - started)
    os.makedirs(args.out_dir, exist_ok=True)
    base = os.path.join(args.out_dir, name)
    with open(base + ".json", "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    with open(base + ".md", "w") as f:
        f.write(render.markdown(doc, os.path.basename(base) + ".png"))
    chart_error = render.chart(doc, base + ".png")
    if args.update_docs:
        update_docs(render.docs_section(doc, name))
    if chart_error:
        log("chart not written: %s" % chart_error)
    log("wrote %s.{json,md,png} in %.0f s" % (base, time.monotonic() - started))
    sys.stderr.write(render.targets_text(doc))
    for f in steps.failures:
        log("FAILED: %s" % f)
    if steps.failures or not doc["figures"]:
        return 1
    return 0


DOC = os.path.join(REPO, "docs", "performance.md")
BEGIN, END = "<!-- results:begin", "<!-- results:end -->"


def update_docs(section):
    with open(DOC) as f:
        text = f.read()
    b, e = text.find(BEGIN), text.find(END)
    if b < 0 or e < b:
        log("docs/performance.md has no results markers; not updated")
        return
    b = text.index("\n", b) + 1
    with open(DOC, "w") as f:
        f.write(text[:b] + section + text[e:])
    log("updated the results section of docs/performance.md")


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except (OSError, ValueError):
        return None


def machine_info():
    info = {"python": platform.python_version(), "kernel": platform.release(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu_model"] = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), None)
        with open("/proc/meminfo") as f:
            info["mem_total_kb"] = int(f.readline().split()[1])
    except (OSError, ValueError):
        pass
    try:
        info["git_rev"] = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                                         text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        info["git_rev"] = None
    info["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return info


if __name__ == "__main__":
    sys.exit(main())
