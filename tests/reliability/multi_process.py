#!/usr/bin/python3
"""Several engine processes on one data dir, all writing the same keys at once.

Three runs, each with several engines started at the same moment on an empty data dir (they
must all come up and agree on one layout), each engine driven by its own thread:

`run` (mode "sets"): each thread pipelines batches of requests over a shared key set (200 keys
by default): mostly `set`s with values unique in the run, plus `get`s. Checks:
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

`run_counters` (mode "counters"): each thread, in rounds, reads 2 of 3 shared counters
(pipelined `get`s) and sets each to value + 1 with `if_version` = the version read (0 when
absent), pipelined; a `conflict` (which must name the key and a version other than the one
tried) is retried with a fresh read in a later round. Afterwards every counter's acknowledged
increments must form one chain (check_counter_chains: ordered by version, each conditioned on
the version the one before gave, values 1, 2, 3, ...; two increments conditioned on one version
would be a lost update), and a fresh engine must serve each counter's number of increments at
the last one's version.

`run_transfers` (mode "transfers"): 12 accounts on several shards are opened with 100 each in
one txn; each thread, in rounds, reads the balances of `batch` random (source, destination)
pairs and sends, pipelined, one `txn` per pair that checks both versions read and sets both
balances (source - amount, destination + amount, amount at most the source's balance), and
now and then appends the transfer to the `transfers` stream in the same txn. A conflict must
name one of the two accounts. Afterwards (transfer_chains, check_ledger): per account the
committed transfers form one chain (each checked against the version the one before gave and
read the balance the chain had reached: no check passed against a replaced value, nothing lost
or applied twice, no balance below 0); a fresh engine serves each chain's end; the total is
conserved exactly; the stream holds exactly the logged transfers, in an order that agrees with
every account's chain (serializable). Commits and conflicts are reported. Every answer must
come within STALL_S (20 s): a deadlock between engines otherwise waits for SQLite's 60 s.

Run as a script:   /usr/bin/python3 tests/reliability/multi_process.py --seconds 30
                   /usr/bin/python3 tests/reliability/multi_process.py --mode counters --engines 2
                   /usr/bin/python3 tests/reliability/multi_process.py --mode transfers --batch 1
Prints the figures; exit status 1 on any violation. The pytest wrapper is test_multi_process.py
(5 s per run by default, 30 s with LITESTASH_LONG=1). backup_under_load.py reuses the transfers.
"""

from __future__ import annotations

import argparse
import os
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


class Stall(Exception):
    """An answer did not come within STALL_S."""


def _recv(eng: EngineProcess, rid: int, what: str) -> dict:
    try:
        return eng.recv(rid, timeout=STALL_S)
    except TimeoutError:
        raise Stall(f"{what} (id {rid}) unanswered after {STALL_S:g} s: the engines stalled "
                    f"(a deadlock between engines waits for SQLite's 60 s busy timeout)") \
            from None


# --------------------------------------------------------------------------- counters

@dataclass
class Inc:
    """One acknowledged `set` with `if_version` of a counter: read value, +1, conditional set."""
    counter: str
    if_version: int     # the version the increment was conditioned on (0: absent)
    version: int        # the version its answer gave
    value: int          # the value it wrote
    engine: int


class CounterShared:
    def __init__(self, counters: list[str]):
        self.counters = counters
        self.lock = threading.Lock()
        self.incs: list[Inc] = []
        self.conflicts = 0
        self.problems: list[str] = []


def _conflict_ok(ans: dict, key: str, tried: int) -> bool:
    """A well-formed `conflict` for `key`: its current version, which is not the one tried."""
    err = ans.get("error") if ans.get("ok") is False else None
    return (isinstance(err, dict) and err.get("code") == "conflict" and err.get("key") == key
            and isinstance(err.get("version"), int) and err["version"] != tried)


def drive_counters(idx: int, eng: EngineProcess, shared: CounterShared, deadline: float,
                   seed: int, batch: int) -> None:
    """Rounds of: pipelined `get` of up to `batch` counters, then, pipelined, a `set` of each
    to value + 1 with `if_version` = the version read (0 when absent). A conflict is retried
    with a fresh read in a later round."""
    rng = random.Random(seed * 1000 + idx)
    try:
        while time.monotonic() < deadline and not shared.problems:
            names = rng.sample(shared.counters, min(batch, len(shared.counters)))
            gets = [(c, eng.new_id()) for c in names]
            eng.send_raw(b"".join(frame(pack({"id": rid, "op": "get", "key": c}))
                                  for c, rid in gets))
            reads = {}
            for c, rid in gets:
                ans = _recv(eng, rid, f"get {c!r}")
                if ans.get("ok") is not True:
                    shared.problems.append(f"engine {idx}: get {c!r}: {ans!r}")
                    return
                reads[c] = (ans["value"], ans["version"]) if ans["found"] else (0, 0)
            sets = [(c, eng.new_id()) for c in names]
            eng.send_raw(b"".join(
                frame(pack({"id": rid, "op": "set", "key": c, "value": reads[c][0] + 1,
                            "if_version": reads[c][1]})) for c, rid in sets))
            incs, conflicts = [], 0
            for c, rid in sets:
                ans = _recv(eng, rid, f"set {c!r} if_version {reads[c][1]}")
                if ans.get("ok") is True and isinstance(ans.get("version"), int):
                    incs.append(Inc(c, reads[c][1], ans["version"], reads[c][0] + 1, idx))
                elif _conflict_ok(ans, c, reads[c][1]):
                    conflicts += 1
                else:
                    shared.problems.append(f"engine {idx}: set {c!r} if_version "
                                           f"{reads[c][1]}: {ans!r}")
                    return
            with shared.lock:
                shared.incs.extend(incs)
                shared.conflicts += conflicts
    except Stall as exc:
        shared.problems.append(f"engine {idx}: {exc}")
    except Exception as exc:     # noqa: BLE001 - reported as a failure of the run
        shared.problems.append(f"engine {idx}: {type(exc).__name__}: {exc}; "
                               f"stderr: {eng.stderr_text()[-1000:]}")


def check_counter_chains(incs: list[Inc], counters: list[str]) -> dict[str, tuple[int, int]]:
    """Per counter, the acknowledged increments must form one chain: ordered by version, the
    first was conditioned on 0 (absent) and wrote 1, each next one was conditioned on the
    version of the one before and wrote its value + 1. Two increments conditioned on the same
    version (a lost update), a gap, or a wrong value fail. Returns counter -> (value,
    version) that must be stored."""
    out = {}
    by: dict[str, list[Inc]] = {c: [] for c in counters}
    for inc in incs:
        by[inc.counter].append(inc)
    for c, chain in by.items():
        chain.sort(key=lambda i: i.version)
        prev_version, prev_value = 0, 0
        for n, inc in enumerate(chain):
            if inc.if_version != prev_version or inc.value != prev_value + 1 \
                    or inc.version <= prev_version:
                raise ReliabilityError(
                    f"counter {c!r}: increment {n + 1} of {len(chain)} (engine {inc.engine}, "
                    f"version {inc.version}) was conditioned on version {inc.if_version} and "
                    f"wrote {inc.value}; the increment before it left version {prev_version}, "
                    f"value {prev_value} (a lost or phantom update)")
            prev_version, prev_value = inc.version, inc.value
        out[c] = (prev_value, prev_version)
    return out


def _final_engine(data_dir: Path, engines: list[EngineProcess]) -> EngineProcess:
    eng = EngineProcess(["--shards", str(SHARDS), "--log-level", "warn"], data_dir)
    engines.append(eng)
    hello = eng.call("hello", timeout=60)
    if hello.get("ok") is not True:
        raise ReliabilityError(f"fresh engine hello: {hello!r}")
    return eng


def _start_engines(n: int, data_dir: Path, engines: list[EngineProcess]) -> None:
    for _ in range(n):     # started back to back on an empty data dir
        engines.append(EngineProcess(["--shards", str(SHARDS), "--log-level", "warn"],
                                     data_dir))
    for i, eng in enumerate(engines[-n:]):
        hello = eng.call("hello", timeout=60)
        if hello.get("ok") is not True or hello.get("shards") != SHARDS:
            raise ReliabilityError(f"engine {i} hello: {hello!r}; "
                                   f"stderr: {eng.stderr_text()[-2000:]}")


def _run_threads(target, engines, args, seconds: float, problems: list[str],
                 during=None) -> None:
    """One driver thread per engine; `during()` runs on this thread meanwhile."""
    threads = [threading.Thread(target=target, args=(i, eng, *args), daemon=True)
               for i, eng in enumerate(engines)]
    for t in threads:
        t.start()
    if during is not None:
        try:
            during()
        except BaseException as exc:   # noqa: BLE001 - the drivers stop on a problem
            problems.append(f"main thread: {type(exc).__name__}: {exc}")
    for t in threads:
        t.join(timeout=seconds + 120)
        if t.is_alive():
            raise ReliabilityError(f"a driver thread hung (more than {seconds + 120:.0f} s)")
    if problems:
        raise ReliabilityError("; ".join(problems[:5]))


def _stop_all(engines: list[EngineProcess]) -> None:
    for i, eng in enumerate(engines):
        if eng.proc.poll() is None:
            code = eng.stop(timeout=60)
            if code != 0:
                raise ReliabilityError(f"engine {i} exited {code} on clean stop; "
                                       f"stderr: {eng.stderr_text()[-2000:]}")


def run_counters(seconds: float, seed: int, n_engines: int = 4, n_counters: int = 3,
                 data_dir: Path | None = None, batch: int = 2, verbose: bool = True,
                 sabotage: bool = False) -> dict:
    """`n_engines` engines on one data dir increment `n_counters` shared counters with
    read + `set` `if_version`, retrying on conflict. Afterwards (check_counter_chains) every
    counter's acknowledged increments form one chain, and a fresh engine serves, for each
    counter, the number of acknowledged increments at the last increment's version: no
    update is lost. `sabotage=True` forgets one acknowledged increment, to prove the check
    can fail."""
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="litestash-counters-")
        data_dir = Path(tmp.name) / "data"
    counters = [f"ctr:{i}" for i in range(n_counters)]
    shared = CounterShared(counters)
    engines: list[EngineProcess] = []
    t0 = time.monotonic()
    finished = False
    try:
        _start_engines(n_engines, data_dir, engines)
        deadline = time.monotonic() + seconds
        _run_threads(drive_counters, engines, (shared, deadline, seed, batch), seconds,
                     shared.problems)
        _stop_all(engines)
        incs = list(shared.incs)
        if sabotage and incs:
            incs.remove(max(incs, key=lambda i: i.version))
            incs.remove(incs[len(incs) // 2])
        want = check_counter_chains(incs, counters)
        final = _final_engine(data_dir, engines)
        for c in counters:
            ans = final.call("get", timeout=60, key=c)
            value, version = want[c]
            got = (ans.get("value"), ans.get("version")) if ans.get("found") else (0, 0)
            if ans.get("ok") is not True or got != (value, version):
                raise ReliabilityError(f"counter {c!r} holds {ans!r}; {value} increments were "
                                       f"acknowledged, the last at version {version}")
        _stop_all(engines)
        integrity_check(data_dir, SHARDS)
        per = [sum(1 for i in incs if i.engine == e) for e in range(n_engines)]
        result = {"engines": n_engines, "counters": n_counters, "increments": len(incs),
                  "per_engine": per, "conflicts": shared.conflicts,
                  "final": {c: want[c][0] for c in counters},
                  "seconds": round(time.monotonic() - t0, 1)}
        if verbose:
            print(f"counters: {n_engines} engines, {len(incs)} increments committed (per "
                  f"engine {per}), {shared.conflicts} conflicts retried, final values "
                  f"{result['final']} = increments per counter, no update lost; "
                  f"{result['seconds']} s, seed {seed}", flush=True)
        finished = True
        return result
    finally:
        _finish(engines, tmp, finished)


def _finish(engines, tmp, finished: bool) -> None:
    problems = cleanup_all(engines)
    if tmp is not None:
        tmp.cleanup()
    if problems and finished:
        raise ReliabilityError("; ".join(problems))
    for problem in problems:             # the run already failed: report, do not mask
        print(f"also: {problem}", file=sys.stderr)


# --------------------------------------------------------------------------- transfers

INITIAL_BALANCE = 100
TRANSFER_LOG = "transfers"      # the stream some transfers append to (inside their txn)
# An answer that takes longer than this fails the run as a stall. Every request here needs a
# few ms (a cross-shard write: a few fsyncs); a write that waits for another engine's lock gets
# up to 60 s from SQLite before it fails with storage_error, which is what a deadlock between
# engines looks like from outside (see README.md, "Bugs these suites found").
STALL_S = float(os.environ.get("LITESTASH_STALL_S") or 20.0)


@dataclass
class Transfer:
    """One committed `txn` moving `amount` from `src` to `dst`: the balances and versions read
    before it (its checks), the versions its answer gave, and when it was sent and answered."""
    tid: str
    src: str
    dst: str
    amount: int
    src_read: tuple[int, int]       # (balance, version) read, checked by the txn
    dst_read: tuple[int, int]
    src_version: int                # versions its `results` gave
    dst_version: int
    engine: int
    sent: float                     # monotonic, before the txn was written
    acked: float                    # monotonic, after its answer was read
    entry_id: int | None = None     # its entry in the TRANSFER_LOG stream, when it logged one


class TransferShared:
    def __init__(self, accounts: list[str]):
        self.accounts = accounts
        self.lock = threading.Lock()
        self.initial: dict[str, int] = {}       # account -> version of its opening balance
        self.setup_acked = 0.0
        self.transfers: list[Transfer] = []
        self.conflicts = 0
        self.conflicts_in_batch = 0             # conflicts with a txn of the same batch
        self.skipped = 0                        # pairs not tried: the source read empty
        self.problems: list[str] = []
        self.backups: list[dict] = []           # see backup_under_load.py
        self.backup_plan: list[dict] = []       # {"at": monotonic, "engine": i, "dir": path}


def open_accounts(eng: EngineProcess, shared: TransferShared) -> None:
    """Every account gets INITIAL_BALANCE in one txn (each must be absent: checks 0)."""
    ans = eng.call("txn", timeout=60, checks=[[a, 0] for a in shared.accounts],
                   ops=[{"op": "set", "key": a, "value": INITIAL_BALANCE}
                        for a in shared.accounts])
    if ans.get("ok") is not True:
        raise ReliabilityError(f"opening the accounts: {ans!r}")
    shared.initial = dict(zip(shared.accounts, ans["results"]))
    shared.setup_acked = time.monotonic()


def _backup_due(idx: int, shared: TransferShared, eng: EngineProcess, pending: dict) -> None:
    """Send the backups planned for engine `idx` whose time has come (backup_under_load.py)."""
    now = time.monotonic()
    for plan in shared.backup_plan:
        if plan["engine"] == idx and "sent" not in plan and plan["at"] <= now:
            rid = eng.new_id()
            plan["sent"] = time.monotonic()
            eng.send_raw(frame(pack({"id": rid, "op": "backup", "dir": str(plan["dir"])})))
            pending[rid] = plan


def _backup_answers(eng: EngineProcess, pending: dict, wait: bool) -> None:
    for rid in list(pending):
        if wait or rid in eng.pending():
            plan = pending.pop(rid)
            plan["answer"] = eng.recv(rid, timeout=300)
            plan["answered"] = time.monotonic()


def drive_transfers(idx: int, eng: EngineProcess, shared: TransferShared, deadline: float,
                    seed: int, batch: int, log_share: float) -> None:
    """Rounds of: pipelined `get` of the accounts of `batch` random (source, destination)
    pairs, then, pipelined, one `txn` per pair with checks on both versions read that sets
    both balances (source - amount, destination + amount; amount 1..min(source balance, 30)),
    and with probability `log_share` appends the transfer to the TRANSFER_LOG stream. Pairs
    of one batch may share accounts: the later txn then must conflict (its check is stale)."""
    rng = random.Random(seed * 1000 + idx + 500)
    n = 0
    pending_backups: dict[int, dict] = {}
    try:
        while time.monotonic() < deadline and not shared.problems:
            _backup_due(idx, shared, eng, pending_backups)
            pairs = [tuple(rng.sample(shared.accounts, 2)) for _ in range(batch)]
            names = sorted({a for p in pairs for a in p})
            gets = [(a, eng.new_id()) for a in names]
            eng.send_raw(b"".join(frame(pack({"id": rid, "op": "get", "key": a}))
                                  for a, rid in gets))
            reads = {}
            for a, rid in gets:
                ans = _recv(eng, rid, f"get {a!r}")
                if ans.get("ok") is not True or ans.get("found") is not True:
                    shared.problems.append(f"engine {idx}: get {a!r}: {ans!r}")
                    return
                reads[a] = (ans["value"], ans["version"])
            txns, chunk = [], bytearray()
            for src, dst in pairs:
                if reads[src][0] <= 0:
                    with shared.lock:
                        shared.skipped += 1
                    continue
                n += 1
                amount = rng.randint(1, min(reads[src][0], 30))
                tid = f"e{idx}:{n}"
                ops = [{"op": "set", "key": src, "value": reads[src][0] - amount},
                       {"op": "set", "key": dst, "value": reads[dst][0] + amount}]
                logged = rng.random() < log_share
                if logged:
                    ops.append({"op": "xadd", "stream": TRANSFER_LOG,
                                "value": {"t": tid, "from": src, "to": dst, "amount": amount}})
                rid = eng.new_id()
                txns.append((rid, tid, src, dst, amount, logged))
                chunk += frame(pack({"id": rid, "op": "txn",
                                     "checks": [[src, reads[src][1]], [dst, reads[dst][1]]],
                                     "ops": ops}))
            if not txns:
                continue
            sent = time.monotonic()
            eng.send_raw(bytes(chunk))
            done, conflicts, in_batch = [], 0, 0
            touched: set[str] = set()
            for rid, tid, src, dst, amount, logged in txns:
                ans = _recv(eng, rid, f"txn {tid} ({src} -> {dst}, shards "
                            f"{shard_of(src, SHARDS)} and {shard_of(dst, SHARDS)}, one of "
                            f"{len(txns)} pipelined)")
                acked = time.monotonic()
                if ans.get("ok") is True:
                    res = ans.get("results")
                    if not isinstance(res, list) or len(res) != (3 if logged else 2):
                        shared.problems.append(f"engine {idx}: txn {tid}: {ans!r}")
                        return
                    done.append(Transfer(tid, src, dst, amount, reads[src], reads[dst],
                                         res[0], res[1], idx, sent, acked,
                                         res[2] if logged else None))
                elif any(_conflict_ok(ans, a, reads[a][1]) for a in (src, dst)):
                    conflicts += 1
                    in_batch += bool(touched & {src, dst})
                else:
                    shared.problems.append(f"engine {idx}: txn {tid} {src}->{dst}: {ans!r}")
                    return
                touched |= {src, dst}
            with shared.lock:
                shared.transfers.extend(done)
                shared.conflicts += conflicts
                shared.conflicts_in_batch += in_batch
            _backup_answers(eng, pending_backups, wait=False)
        _backup_answers(eng, pending_backups, wait=True)
    except Stall as exc:
        shared.problems.append(f"engine {idx}: {exc}")
    except Exception as exc:     # noqa: BLE001 - reported as a failure of the run
        shared.problems.append(f"engine {idx}: {type(exc).__name__}: {exc}; "
                               f"stderr: {eng.stderr_text()[-1000:]}")


def transfer_chains(shared: TransferShared, transfers: list[Transfer]) -> dict:
    """Per account, the committed transfers that touch it must form one chain: ordered by the
    version each gave the account, the first was checked against the opening version, each
    next one against the version the one before gave, and each read the balance the chain
    had reached there (so its checks held against what it read, and no transfer was lost or
    applied twice). Balances never go negative. Returns account -> list of (version, balance,
    transfer or None for the opening), in chain order."""
    touching: dict[str, list[tuple[int, Transfer]]] = {a: [] for a in shared.accounts}
    for t in transfers:
        touching[t.src].append((t.src_version, t))
        touching[t.dst].append((t.dst_version, t))
    chains = {}
    for a, items in touching.items():
        items.sort(key=lambda x: x[0])
        version, balance = shared.initial[a], INITIAL_BALANCE
        chain = [(version, balance, None)]
        for v, t in items:
            read = t.src_read if t.src == a else t.dst_read
            if read != (balance, version) or v <= version:
                raise ReliabilityError(
                    f"account {a!r}: transfer {t.tid} ({t.src}->{t.dst}, {t.amount}) read "
                    f"{read} (balance, version) and committed version {v}, but the transfer "
                    f"before it on this account left {(balance, version)}: two committed "
                    f"transfers passed a check on the same version, or one was lost")
            balance += -t.amount if t.src == a else t.amount
            if balance < 0:
                raise ReliabilityError(f"account {a!r} went negative ({balance}) at {t.tid}")
            version = v
            chain.append((version, balance, t))
        chains[a] = chain
    return chains


def check_log_order(chains: dict, entries: list[tuple[int, str]]) -> None:
    """The TRANSFER_LOG entries ([entry id, transfer id]) must be exactly the logged
    transfers, and, per account, the logged transfers must appear in the stream in the order
    of the account's chain (transfers are serializable: the stream's shard and the accounts'
    shards agree on their order)."""
    by_tid = {}
    for chain in chains.values():
        for _, _, t in chain[1:]:
            by_tid[t.tid] = t
    logged = {t.tid: t.entry_id for t in by_tid.values() if t.entry_id is not None}
    found = {tid: eid for eid, tid in entries}
    if found != logged or len(entries) != len(found):
        extra = sorted(set(found) - set(logged))[:5]
        missing = sorted(set(logged) - set(found))[:5]
        raise ReliabilityError(f"stream {TRANSFER_LOG!r}: {len(entries)} entries for "
                               f"{len(logged)} logged transfers; not committed but logged "
                               f"{extra}, committed but missing or moved {missing}")
    for a, chain in chains.items():
        ids = [t.entry_id for _, _, t in chain[1:] if t.entry_id is not None]
        if ids != sorted(ids):
            raise ReliabilityError(f"account {a!r}: its logged transfers are in the stream in "
                                   f"another order ({ids}) than their versions on the account")


def read_ledger(eng: EngineProcess, accounts: list[str]) -> tuple[dict, list]:
    """Balances and versions of every account, and the TRANSFER_LOG entries (id, transfer)."""
    ids = [(a, eng.new_id()) for a in accounts]
    eng.send_raw(b"".join(frame(pack({"id": rid, "op": "get", "key": a})) for a, rid in ids))
    out = {}
    for a, rid in ids:
        ans = eng.recv(rid, timeout=60)
        if ans.get("ok") is not True:
            raise ReliabilityError(f"get {a!r}: {ans!r}")
        out[a] = (ans["value"], ans["version"]) if ans.get("found") else None
    entries, after = [], 0
    while True:
        ans = eng.call("xrange", timeout=60, stream=TRANSFER_LOG, after=after, limit=1000)
        if ans.get("ok") is not True:
            raise ReliabilityError(f"xrange {TRANSFER_LOG!r}: {ans!r}")
        for eid, _, value in ans["entries"]:
            if eid != len(entries) + 1:
                raise ReliabilityError(f"stream {TRANSFER_LOG!r}: entry {eid} where "
                                       f"{len(entries) + 1} was due")
            entries.append((eid, value["t"]))
        if not ans["more"]:
            return out, entries
        after = ans["entries"][-1][0]


def check_ledger(shared: TransferShared, transfers: list[Transfer], data_dir: Path,
                 engines: list[EngineProcess]) -> tuple[dict, dict, list]:
    """After every engine stopped: the transfers' chains (transfer_chains), then a fresh engine
    must serve each account's chain end, the total must be conserved, and the TRANSFER_LOG
    must agree (check_log_order). Returns (chains, ledger, log entries)."""
    chains = transfer_chains(shared, transfers)
    final = _final_engine(data_dir, engines)
    ledger, entries = read_ledger(final, shared.accounts)
    for a, chain in chains.items():
        version, balance, _ = chain[-1]
        if ledger[a] != (balance, version):
            raise ReliabilityError(f"account {a!r} holds {ledger[a]} (balance, version); its "
                                   f"chain of committed transfers ends at {(balance, version)}")
    total = sum(b for b, _ in ledger.values())
    if total != INITIAL_BALANCE * len(shared.accounts):
        raise ReliabilityError(f"total {total}, not {INITIAL_BALANCE * len(shared.accounts)}")
    check_log_order(chains, entries)
    return chains, ledger, entries


def run_transfers(seconds: float, seed: int, n_engines: int = 4, n_accounts: int = 12,
                  data_dir: Path | None = None, batch: int = 3, log_share: float = 0.3,
                  verbose: bool = True, sabotage: bool = False) -> dict:
    """`n_engines` engines on one data dir move amounts between `n_accounts` accounts (spread
    over the shards) with `txn`s that check the versions they read (drive_transfers). Checks:
    every answer is ok or a well-formed conflict naming one of the txn's accounts; per account
    the committed transfers form one chain (transfer_chains: no check passed against a
    replaced value, nothing lost, nothing negative); after a clean stop a fresh engine serves
    each account's chain end (balance and version), the total is conserved exactly, and the
    TRANSFER_LOG stream holds exactly the logged transfers in an order that agrees with every
    account's chain. `sabotage=True` forgets one committed transfer, to prove the checks can
    fail."""
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="litestash-transfers-")
        data_dir = Path(tmp.name) / "data"
    accounts = [f"acct:{i}" for i in range(n_accounts)]
    shared = TransferShared(accounts)
    engines: list[EngineProcess] = []
    t0 = time.monotonic()
    finished = False
    try:
        _start_engines(n_engines, data_dir, engines)
        open_accounts(engines[0], shared)
        deadline = time.monotonic() + seconds
        _run_threads(drive_transfers, engines,
                     (shared, deadline, seed, batch, log_share), seconds, shared.problems)
        _stop_all(engines)
        transfers = list(shared.transfers)
        if sabotage and transfers:
            transfers.remove(transfers[len(transfers) // 2])
        chains, ledger, entries = check_ledger(shared, transfers, data_dir, engines)
        total = sum(b for b, _ in ledger.values())
        _stop_all(engines)
        integrity_check(data_dir, SHARDS)
        per = [sum(1 for t in transfers if t.engine == e) for e in range(n_engines)]
        result = {"engines": n_engines, "accounts": n_accounts,
                  "shards": len({shard_of(a, SHARDS) for a in accounts}),
                  "commits": len(transfers), "per_engine": per,
                  "conflicts": shared.conflicts, "conflicts_in_batch": shared.conflicts_in_batch,
                  "skipped_empty": shared.skipped, "logged": len(entries), "total": total,
                  "min_balance": min(b for b, _ in ledger.values()),
                  "seconds": round(time.monotonic() - t0, 1)}
        if verbose:
            print(f"transfers: {n_engines} engines, {n_accounts} accounts on {result['shards']} "
                  f"shards, {len(transfers)} txns committed (per engine {per}), "
                  f"{shared.conflicts} conflicts ({shared.conflicts_in_batch} with a txn of "
                  f"the same batch), {len(entries)} logged; total {total} conserved, lowest "
                  f"balance {result['min_balance']}; {result['seconds']} s, seed {seed}",
                  flush=True)
        finished = True
        return result
    finally:
        _finish(engines, tmp, finished)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=("sets", "counters", "transfers"), default="sets",
                    help="sets: shared set/get load (default); counters: if_version "
                         "increments; transfers: txn transfers between accounts")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--engines", type=int, default=4)
    ap.add_argument("--keys", type=int, default=None,
                    help="keys (sets, default 200), counters (default 3) or accounts "
                         "(default 12)")
    ap.add_argument("--batch", type=int, default=None,
                    help="pipelined requests per round (counters: 2, transfers: 3)")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    try:
        if args.mode == "sets":
            run(args.seconds, seed, args.engines, args.keys or 200)
        elif args.mode == "counters":
            run_counters(args.seconds, seed, args.engines, args.keys or 3,
                         batch=args.batch or 2)
        else:
            run_transfers(args.seconds, seed, args.engines, args.keys or 12,
                          batch=args.batch or 3)
    except ReliabilityError as exc:
        print(f"FAILED (seed {seed}): {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
