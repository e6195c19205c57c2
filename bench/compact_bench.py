#!/usr/bin/python3
"""Benchmark of `compact` (issue "Versions ..."): KEYS keys written VERSIONS times each with
--keep-versions VERSIONS (by the load generator, pipelined at depth 64), then `compact` with
`keep_versions: 0` (drop all history, assemblage_kv's merge) while the same engine serves
uniform `get`s, one at a time (depth 1), during the compact. Prints one JSON
object: fill time, compact duration, bytes reclaimed (answer and file sizes before/after),
versions removed, steps, the longest step, and get latency percentiles during the compact.

usage: bench/compact_bench.py [--keys N] [--versions V] [--engine PATH] [--bench-bin PATH]
"""
import argparse, json, os, random, shutil, subprocess, sys, tempfile, time

import msgpack
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "conformance", "blackbox"))
from engine_proc import EngineProcess  # noqa: E402


def dir_bytes(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--versions", type=int, default=10)
    ap.add_argument("--engine", default=os.path.join(here, "..", "build", "litestash-engine"))
    ap.add_argument("--bench-bin", default=os.path.join(here, "..", "build", "bench",
                                                        "litestash-bench"))
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="litestash-compact-bench-")
    try:
        n = a.keys * a.versions
        t0 = time.monotonic()
        subprocess.run([a.bench_bin, "engine", "--engine", a.engine, "--keys", str(a.keys),
                        "--tmp-dir", work, "--keep", "--engine-arg", "--keep-versions",
                        "--engine-arg", str(a.versions), "--out", os.path.join(work, "fill.json"),
                        "--phase", f"fill:op=set,dist=seq,n={n},depth=64"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        fill_s = time.monotonic() - t0
        data = json.load(open(os.path.join(work, "fill.json")))["kept_dir"]
        data = os.path.join(data, "data") if os.path.isdir(os.path.join(data, "data")) else data
        before = dir_bytes(data)
        eng = EngineProcess(["--keep-versions", str(a.versions), "--log-level", "warn"], data,
                            binary=a.engine)
        eng.call("hello", timeout=120)
        lat, answer = [], {}
        cid = eng.send({"op": "compact", "keep_versions": 0})
        t1 = time.monotonic()
        rng = random.Random(1)
        while not answer:  # one get at a time until compact answers (one reader: this loop)
            rid = eng.send({"op": "get", "key": f"key:{rng.randrange(a.keys)}"})
            s = time.perf_counter()
            while True:
                msg = msgpack.unpackb(eng.read_frame(timeout=3600), raw=False)
                if msg.get("id") == cid:
                    answer = msg
                    continue
                if msg.get("id") == rid:
                    break
            lat.append((time.perf_counter() - s) * 1e6)
        compact_s = time.monotonic() - t1
        eng.stop()
        after = dir_bytes(data)
        lat.sort()
        pct = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))]) if lat else None
        print(json.dumps({
            "keys": a.keys, "versions": a.versions, "fill_s": round(fill_s, 1),
            "compact_s": round(compact_s, 2), "answer": answer,
            "dir_bytes_before": before, "dir_bytes_after": after,
            "gets_during_compact": len(lat), "get_p50_us": pct(0.50), "get_p99_us": pct(0.99),
            "get_max_us": round(lat[-1]) if lat else None}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
