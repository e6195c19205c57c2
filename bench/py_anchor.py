"""Anchor (c): python-diskcache next to the litestash Python host, same process, same data.

Run with /usr/bin/python3 (it has msgpack and diskcache):
    py_anchor.py --engine build/litestash-engine --n 20000 [--value-size 100] [--batch 100]

Contract:
- diskcache: `FanoutCache(directory=<fresh tmp>, shards=16)`; `set` of n keys "key:<i>" with a
  `value_size`-byte bytes value, then n `get`s uniform over those keys.
- host: the real `litestash.LiteStash(data_dir=<fresh tmp>, engine=...)` from
  hosts/python (reported as `impl`), doing the
  same n single `set`s and n `get`s, then n/batch `mget`s of `batch` uniform keys.
- Each op is timed alone (perf_counter_ns); prints one JSON object on stdout:
  {"diskcache": {"set": R, "get": R}, "host": {"impl": ..., "set": R, "get": R, "mget": R},
   "ok": bool, "error"?: str} with R = {n, keys, seconds, ops_per_s, keys_per_s, p50_us,
   p99_us, p999_us, misses}. Exit status 0 when every part ran, 3 otherwise.
"""
import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def summarize(lat_ns, seconds, batch=1, misses=0):
    lat = sorted(lat_ns)
    n = len(lat)

    def pct(q):
        if not lat:
            return None
        rank = min(n, max(1, int(q * n + 0.999999)))
        return lat[rank - 1] / 1000.0

    ops = n / seconds if seconds > 0 else None
    return {"n": n, "keys": n * batch, "seconds": seconds, "ops_per_s": ops,
            "keys_per_s": ops * batch if ops else None, "p50_us": pct(0.50), "p99_us": pct(0.99),
            "p999_us": pct(0.999), "misses": misses}


def timed_loop(fn, args_iter, batch=1, miss=None):
    lat = []
    misses = 0
    perf = time.perf_counter_ns
    start = perf()
    for args in args_iter:
        t0 = perf()
        out = fn(*args)
        lat.append(perf() - t0)
        if miss is not None:
            misses += miss(out)
    return summarize(lat, (perf() - start) / 1e9, batch, misses)


def timed_concurrent_sets(make_async, data_dir, keys, value, tasks):
    """Single `set` requests from `tasks` asyncio tasks sharing one AsyncLiteStash (how an
    asyncio application issues them); latency is each await."""
    import asyncio

    async def main():
        db = await make_async(data_dir).start()
        lat = []
        perf = time.perf_counter_ns
        todo = iter(keys)

        async def worker():
            for k in todo:
                t0 = perf()
                await db.set(k, value)
                lat.append(perf() - t0)
        try:
            start = perf()
            await asyncio.gather(*(worker() for _ in range(tasks)))
            seconds = (perf() - start) / 1e9
        finally:
            await db.close()
        return summarize(lat, seconds)
    return asyncio.run(main())


def load_async_host(engine, shards):
    """The real asyncio Python host class (hosts/python)."""
    sys.path.insert(0, os.path.join(REPO, "hosts", "python"))
    from litestash.aio import AsyncLiteStash  # noqa: WPS433

    def make(data_dir):
        return AsyncLiteStash(data_dir=data_dir, engine=engine, shards=shards, log_level="warn")
    return make


def load_host():
    """The real Python host class (hosts/python). Returns (factory, impl name)."""
    sys.path.insert(0, os.path.join(REPO, "hosts", "python"))
    from litestash import LiteStash  # noqa: WPS433 (imported here so --help works without it)

    def make(data_dir, engine, shards):
        return LiteStash(data_dir=data_dir, engine=engine, shards=shards, log_level="warn")
    return make, "hosts/python litestash.LiteStash"


def run(args):
    value = os.urandom(args.value_size)
    keys = ["key:%d" % i for i in range(args.n)]
    rng = random.Random(7)
    get_keys = [(keys[rng.randrange(args.n)],) for _ in range(args.n)]
    mget_batches = [([keys[rng.randrange(args.n)] for _ in range(args.batch)],)
                    for _ in range(max(1, args.n // args.batch))]
    out = {"n": args.n, "value_size": args.value_size, "batch": args.batch, "shards": args.shards}
    tmp = tempfile.mkdtemp(prefix="litestash-bench-py-", dir=args.tmp_dir)
    try:
        import diskcache
        out["diskcache_version"] = diskcache.__version__
        cache = diskcache.FanoutCache(directory=os.path.join(tmp, "diskcache"), shards=16)
        try:
            dc = {}
            dc["set"] = timed_loop(cache.set, ((k, value) for k in keys))
            dc["get"] = timed_loop(cache.get, get_keys, miss=lambda v: v is None)
            out["diskcache"] = dc
            sys.stderr.write("[python] diskcache set %.0f ops/s, get %.0f ops/s\n"
                             % (dc["set"]["ops_per_s"], dc["get"]["ops_per_s"]))
        finally:
            cache.close()

        make, impl = load_host()
        host = {"impl": impl}
        db = make(os.path.join(tmp, "engine-data"), args.engine, args.shards)
        try:
            host["set"] = timed_loop(db.set, ((k, value) for k in keys))
            host["set_async%d" % args.tasks] = timed_concurrent_sets(
                load_async_host(args.engine, args.shards), os.path.join(tmp, "engine-data-async"),
                keys, value, args.tasks)
            host["get"] = timed_loop(db.get, get_keys, miss=lambda v: v is None)
            host["mget"] = timed_loop(db.mget, mget_batches, batch=args.batch,
                                      miss=lambda vs: sum(1 for v in vs if v is None))
        finally:
            db.close()
        out["host"] = host
        sys.stderr.write("[python] host set %.0f ops/s (asyncio x%d: %.0f), get %.0f ops/s, mget-%d "
                         "%.0f keys/s (%s)\n"
                         % (host["set"]["ops_per_s"], args.tasks,
                            host["set_async%d" % args.tasks]["ops_per_s"], host["get"]["ops_per_s"],
                            args.batch, host["mget"]["keys_per_s"], impl))
        out["ok"] = True
    except Exception as e:
        out["ok"] = False
        out["error"] = "%s: %s" % (type(e).__name__, e)
        out["traceback"] = traceback.format_exc()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engine", default=os.environ.get("LITESTASH_ENGINE",
                                                      os.path.join(REPO, "build", "litestash-engine")))
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--value-size", type=int, default=100)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--shards", type=int, default=16)
    p.add_argument("--tasks", type=int, default=64, help="asyncio tasks issuing single sets")
    p.add_argument("--tmp-dir", default=None)
    args = p.parse_args()
    out = run(args)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0 if out.get("ok") else 3


if __name__ == "__main__":
    sys.exit(main())
