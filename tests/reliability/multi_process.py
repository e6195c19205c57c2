#!/usr/bin/python3
"""Several engine processes on one data dir, all writing the same keys at once.

Four engines are started at the same moment on an empty data dir (they must all come up and
agree on one layout). Each is driven by its own thread, which pipelines batches of requests
over a shared key set (200 keys by default): mostly `set`s with values unique in the run, plus
`get`s. Checks:
- no answer may have ok=false (in particular no `storage_error`, nothing "busy" or "locked");
- every acknowledgement records (key, value, version, shard, send time, ack time);
- a `get` returns a version at least as high as every write of that key acknowledged (to any
  thread) before the get was sent: each engine's reads see what the others have committed;
  and the (version, value) it returns must be one that some acknowledged set produced;
- per shard, versions are unique across all processes and follow real time: a set sent after
  another set of the same shard was acknowledged carries a higher version;
- per engine and key, versions grow in send order;
- at the end every engine is stopped cleanly (exit 0), one engine is started again and for
  every key the stored value and version are those of the acknowledged set with the highest
  version; nothing else was written.

Run as a script:   /usr/bin/python3 tests/reliability/multi_process.py --seconds 30
Prints the acknowledged writes; exit status 1 on any violation. The pytest wrapper is
test_multi_process.py (5 s by default, 30 s with LITESTASH_LONG=1).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reliability_common import ReliabilityError, integrity_check  # noqa: E402

from engine_proc import EngineProcess, cleanup_all, frame, pack, shard_of  # noqa: E402

SHARDS = 16


@dataclass
class Ack:
    key: str
    value: str
    version: int
    engine: int
    sent: float      # monotonic time taken before the request was written
    acked: float     # monotonic time taken after its answer was read


class Shared:
    """State shared by the driver threads (guarded by `lock`)."""

    def __init__(self, keys: list[str]):
        self.keys = keys
        self.lock = threading.Lock()
        self.max_acked: dict[str, int] = {}          # key -> highest acknowledged version
        self.acks: list[Ack] = []
        self.reads: list[tuple[str, int, str, int]] = []   # key, version, value, engine
        self.problems: list[str] = []
        self.gets = 0


def drive(idx: int, eng: EngineProcess, shared: Shared, deadline: float, seed: int,
          batch: int) -> None:
    rng = random.Random(seed * 1000 + idx)
    n = 0
    last_version: dict[str, int] = {}
    try:
        while time.monotonic() < deadline and not shared.problems:
            reqs = []
            with shared.lock:
                floors = dict(shared.max_acked)
            for _ in range(batch):
                key = rng.choice(shared.keys)
                rid = eng.new_id()
                if rng.random() < 0.8:
                    n += 1
                    value = f"e{idx}:{n}:{key}"
                    reqs.append((rid, "set", key, value, None))
                else:
                    reqs.append((rid, "get", key, None, floors.get(key)))
            sent = time.monotonic()
            eng.send_raw(b"".join(
                frame(pack({"id": rid, "op": op, "key": key, "value": value}
                           if op == "set" else {"id": rid, "op": op, "key": key}))
                for rid, op, key, value, _ in reqs))
            answers = [eng.recv(rid, timeout=60) for rid, *_ in reqs]
            acked = time.monotonic()
            new_acks, new_reads = [], []
            for (rid, op, key, value, floor), ans in zip(reqs, answers):
                if ans.get("ok") is not True:
                    shared.problems.append(f"engine {idx}: {op} {key!r} answered {ans!r}")
                    return
                if op == "set":
                    v = ans.get("version")
                    if not isinstance(v, int) or v <= last_version.get(key, 0):
                        shared.problems.append(
                            f"engine {idx}: set {key!r} version {v!r} not above this "
                            f"engine's earlier {last_version.get(key)!r}")
                        return
                    last_version[key] = v
                    new_acks.append(Ack(key, value, v, idx, sent, acked))
                else:
                    if not ans.get("found"):
                        if floor is not None:
                            shared.problems.append(
                                f"engine {idx}: get {key!r} found nothing although version "
                                f"{floor} was acknowledged before it was sent")
                            return
                        continue
                    if floor is not None and ans["version"] < floor:
                        shared.problems.append(
                            f"engine {idx}: get {key!r} returned version {ans['version']} "
                            f"older than {floor}, acknowledged before the get was sent")
                        return
                    new_reads.append((key, ans["version"], ans["value"], idx))
            with shared.lock:
                shared.acks.extend(new_acks)
                shared.reads.extend(new_reads)
                shared.gets += sum(1 for r in reqs if r[1] == "get")
                for a in new_acks:
                    if a.version > shared.max_acked.get(a.key, 0):
                        shared.max_acked[a.key] = a.version
    except Exception as exc:     # noqa: BLE001 - reported as a failure of the run
        shared.problems.append(f"engine {idx}: {type(exc).__name__}: {exc}; "
                               f"stderr: {eng.stderr_text()[-1000:]}")


def check_shard_order(acks: list[Ack]) -> None:
    """Per shard: versions unique, and a set sent after another was acknowledged is higher."""
    by_shard: dict[int, list[Ack]] = {}
    for a in acks:
        by_shard.setdefault(shard_of(a.key, SHARDS), []).append(a)
    for shard, items in by_shard.items():
        items.sort(key=lambda a: a.version)
        for x, y in zip(items, items[1:]):
            if x.version == y.version:
                raise ReliabilityError(f"shard {shard}: version {x.version} acknowledged twice: "
                                       f"{x} and {y}")
        latest_sent: Ack | None = None         # among lower versions, the one sent last
        for a in items:
            if latest_sent is not None and latest_sent.sent > a.acked:
                raise ReliabilityError(
                    f"shard {shard}: {latest_sent} was sent after {a} was acknowledged but "
                    f"carries the lower version")
            if latest_sent is None or a.sent > latest_sent.sent:
                latest_sent = a


def run(seconds: float, seed: int, n_engines: int = 4, n_keys: int = 200,
        data_dir: Path | None = None, batch: int = 32, verbose: bool = True,
        sabotage: bool = False) -> dict:
    """Run the test; raises ReliabilityError on a violation. `sabotage=True` drops the newest
    acknowledgement before the final check, to prove the check can fail."""
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="litestash-multi-")
        data_dir = Path(tmp.name) / "data"
    keys = [f"mp:{i}" for i in range(n_keys)]
    shared = Shared(keys)
    engines: list[EngineProcess] = []
    t0 = time.monotonic()
    finished = False
    try:
        for _ in range(n_engines):     # started back to back on an empty data dir
            engines.append(EngineProcess(["--shards", str(SHARDS), "--log-level", "warn"],
                                         data_dir))
        for i, eng in enumerate(engines):
            hello = eng.call("hello", timeout=60)
            if hello.get("ok") is not True or hello.get("shards") != SHARDS:
                raise ReliabilityError(f"engine {i} hello: {hello!r}; "
                                       f"stderr: {eng.stderr_text()[-2000:]}")
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=drive, args=(i, eng, shared, deadline, seed, batch),
                                    daemon=True) for i, eng in enumerate(engines)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 120)
            if t.is_alive():
                raise ReliabilityError("a driver thread hung")
        if shared.problems:
            raise ReliabilityError("; ".join(shared.problems[:5]))
        for i, eng in enumerate(engines):
            code = eng.stop(timeout=60)
            if code != 0:
                raise ReliabilityError(f"engine {i} exited {code} on clean stop; "
                                       f"stderr: {eng.stderr_text()[-2000:]}")
        check_shard_order(shared.acks)
        by_version = {(a.key, a.version): a for a in shared.acks}
        for key, version, value, idx in shared.reads:
            a = by_version.get((key, version))
            if a is None or a.value != value:
                raise ReliabilityError(f"engine {idx} read {key!r} = {value!r} at version "
                                       f"{version}; acknowledged write there: {a}")
        newest: dict[str, Ack] = {}
        for a in shared.acks:
            if a.key not in newest or a.version > newest[a.key].version:
                newest[a.key] = a
        if sabotage and newest:
            k = max(newest, key=lambda k: newest[k].version)
            newest[k] = max((a for a in shared.acks if a.key == k and a is not newest[k]),
                            key=lambda a: a.version, default=Ack(k, "?", 0, -1, 0, 0))
        final = EngineProcess(["--shards", str(SHARDS), "--log-level", "warn"], data_dir)
        engines.append(final)
        ids = [(k, final.new_id()) for k in keys]
        final.send_raw(b"".join(frame(pack({"id": rid, "op": "get", "key": k}))
                                for k, rid in ids))
        for k, rid in ids:
            ans = final.recv(rid, timeout=60)
            want = newest.get(k)
            if ans.get("ok") is not True:
                raise ReliabilityError(f"final get {k!r}: {ans!r}")
            if want is None:
                if ans.get("found"):
                    raise ReliabilityError(f"{k!r} was never acknowledged but holds {ans!r}")
            elif (ans.get("found"), ans.get("value"), ans.get("version")) != \
                    (True, want.value, want.version):
                raise ReliabilityError(f"{k!r} holds {ans!r}; the acknowledged set with the "
                                       f"highest version is {want}")
        reads_found = len(shared.reads)
        code = final.stop(timeout=60)
        if code != 0:
            raise ReliabilityError(f"final engine exited {code}")
        integrity_check(data_dir, SHARDS)
        result = {"engines": n_engines, "acknowledged_writes": len(shared.acks),
                  "reads_checked": shared.gets, "reads_found": reads_found,
                  "keys_written": len(newest),
                  "seconds": round(time.monotonic() - t0, 1)}
        if verbose:
            per = [sum(1 for a in shared.acks if a.engine == i) for i in range(n_engines)]
            print(f"multi process: {n_engines} engines, {len(shared.acks)} acknowledged writes "
                  f"(per engine {per}), {shared.gets} gets checked, {len(newest)} keys, "
                  f"{result['seconds']} s, seed {seed}", flush=True)
        finished = True
        return result
    finally:
        # every engine was stopped and its exit status checked above; if the run failed
        # half-way, the engines still running must at least exit cleanly on stdin EOF
        problems = cleanup_all(engines)
        if tmp is not None:
            tmp.cleanup()
        if problems and finished:
            raise ReliabilityError("; ".join(problems))
        for problem in problems:             # the run already failed: report, do not mask
            print(f"also: {problem}", file=sys.stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--engines", type=int, default=4)
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    try:
        run(args.seconds, seed, args.engines, args.keys)
    except ReliabilityError as exc:
        print(f"FAILED (seed {seed}): {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
