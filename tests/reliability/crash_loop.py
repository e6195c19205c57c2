#!/usr/bin/python3
"""Crash loop: SIGKILL the engine under pipelined mixed load, restart, check against a model.

One data dir is used for every cycle. A cycle:
  1. start the engine and check what it serves against the model (see below);
  2. a writer thread pipelines a random mix of requests over a fixed key set: `set` (sometimes
     with `ttl_ms`), `mset` batches whose entries span several shards (sometimes with
     `ttl_ms`), `delete`, `expire`, `persist` and `get`; a reader thread records every answer;
  3. after a random 50..800 ms the engine is killed with SIGKILL;
  4. `PRAGMA integrity_check` runs on (a copy of) every shard file.
After the last cycle one more engine is started, checked, and stopped cleanly (exit 0).

The model. Every write carries a value that is unique in the run (raw MessagePack bytes in
varied encodings: str8 headers for short strings, float32, ext, bin16/32, nested arrays), so the
value a key holds identifies the write that put it there. Per key the model keeps the state
the previous check observed (value bytes or absent, whether a TTL is set, version) and the
ops sent to that key since, in send order. After a restart the observed state of every key
must equal the state after some prefix of its ops whose length is at least (index of the last
acknowledged op + 1) and at most all sent ops: ops are applied in send order and nothing
acknowledged is lost. TTLs are >= 1 hour so nothing expires during the run; `ttl` must report an
expiry exactly when the state says so. Versions: acknowledged `set`s of a key must carry
strictly increasing versions, and the version served after a restart must equal the version of
the write that is served when that write was an acknowledged `set`, and must not go back.
For an *unacknowledged* `mset`, the entries that route to the same shard must be all applied
or none (atomic per shard); entries on different shards may be partly applied (documented:
mset is atomic per shard only). Acknowledged answers are also checked: `delete.deleted`,
`expire.updated`, `persist.updated` must match the model, and a `get` must return the exact
bytes of the latest earlier write of that key in the stream (pipelined read-your-writes).
Any answer with ok=false fails the run. The model carries over from cycle to cycle.

Run as a script:   /usr/bin/python3 tests/reliability/crash_loop.py --cycles 200 --seed 7
Prints the cycles run and the writes verified; exit status 1 on any violation.
The pytest wrapper is test_crash_loop.py (10 cycles by default, 100 with LITESTASH_LONG=1).
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reliability_common import ReliabilityError, integrity_check  # noqa: E402

from engine_proc import (EngineExited, EngineProcess, Raw, array_header,  # noqa: E402
                         frame, pack, raw_map, raw_request, shard_of, unpack)

SHARDS = 16
N_KEYS = 200
TTL_MIN_MS = 3_600_000          # >= 1 hour: nothing expires during a run
TTL_MAX_MS = 7_200_000


# --------------------------------------------------------------------------- model

@dataclass
class KeyState:
    value: bytes | None = None      # raw MessagePack bytes, None = absent
    ttl: bool = False               # an expiry is set
    version: int | None = None      # version served by the last check (None = unknown/absent)

    def copy(self) -> "KeyState":
        return KeyState(self.value, self.ttl, self.version)


@dataclass
class Op:
    """One write as it affects one key (an `mset` contributes one Op per entry)."""
    kind: str                       # set | mset | delete | expire | persist
    req_id: int
    value: bytes | None = None      # set / mset
    ttl: bool = False               # set / mset: carries ttl_ms
    expect: dict = field(default_factory=dict)   # answer fields implied by the model
    version: int | None = None      # set: the version its acknowledgement carried


def apply(state: KeyState, op: Op) -> KeyState:
    """The state of a key after `op`, per the contract (a set/mset without ttl_ms clears it)."""
    if op.kind in ("set", "mset"):
        return KeyState(op.value, op.ttl, None)
    if op.kind == "delete":
        return KeyState(None, False, None)
    if op.kind == "expire":            # only a present key gets an expiry
        return KeyState(state.value, True, state.version) if state.value is not None \
            else state.copy()
    if op.kind == "persist":
        return KeyState(state.value, False, state.version)
    raise ValueError(op.kind)


class Model:
    def __init__(self, keys: list[str]):
        self.keys = keys
        self.base = {k: KeyState() for k in keys}         # state observed by the last check
        self.ops: dict[str, list[Op]] = {k: [] for k in keys}
        self.tip = {k: KeyState() for k in keys}          # state after every sent op
        self.requests: dict[int, tuple] = {}              # req id -> (op name, details)
        self.writes_verified = 0                          # acknowledged writes checked
        self.writes_sent = 0
        self.unacked_applied = 0      # key ops found applied although never acknowledged
        self.unacked_lost = 0         # key ops sent, unacknowledged, found not applied
        self.msets_split = 0          # unacknowledged msets applied on some shards only

    def new_cycle(self) -> None:
        for k in self.keys:
            self.ops[k] = []
            self.tip[k] = self.base[k].copy()
        self.requests = {}

    def record(self, key: str, op: Op) -> None:
        self.ops[key].append(op)
        self.tip[key] = apply(self.tip[key], op)


# --------------------------------------------------------------------------- load

class ValueMaker:
    """Unique raw MessagePack values in varied encodings (the tag `u` makes each one unique)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.u = 0

    def __call__(self) -> bytes:
        self.u += 1
        u, rng = self.u, self.rng
        tag = f"v{u}".encode()
        kind = rng.randrange(7)
        if kind == 0:                                   # non-minimal str8 header
            return b"\xd9" + bytes([len(tag)]) + tag
        if kind == 1:                                   # [u, float32, nil, true]
            return b"\x94\xce" + struct.pack(">I", u) + b"\xca" + struct.pack(">f", u / 7) \
                + b"\xc0\xc3"
        if kind == 2:                                   # ext8 with a negative type code
            return b"\xc7" + bytes([len(tag)]) + b"\xfb" + tag
        if kind == 3:                                   # bin16 of a few hundred bytes
            data = tag + rng.randbytes(rng.randrange(256, 2048))
            return b"\xc5" + struct.pack(">H", len(data)) + data
        if kind == 4 and rng.random() < 0.2:            # bin32, up to 64 KiB
            data = tag + rng.randbytes(rng.randrange(8192, 65536))
            return b"\xc6" + struct.pack(">I", len(data)) + data
        if kind == 5:                                   # {"u": u, "s": "é…"}
            s = ("é" * rng.randrange(1, 20)).encode()
            return b"\x82\xa1u\xce" + struct.pack(">I", u) + b"\xa1s" \
                + b"\xd9" + bytes([len(s)]) + s
        return bytes([0xa0 | len(tag)]) + tag           # fixstr


class Writer(threading.Thread):
    """Pipelines random requests in chunks until stopped or stdin breaks. Every request is
    recorded in the model *before* its bytes are written (so "sent" is an upper bound)."""

    def __init__(self, eng: EngineProcess, model: Model, rng: random.Random,
                 values: ValueMaker, next_id: int):
        super().__init__(daemon=True)
        self.eng, self.model, self.rng, self.values = eng, model, rng, values
        self.next_id = next_id
        self.halt = threading.Event()

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _ttl(self):
        return self.rng.randrange(TTL_MIN_MS, TTL_MAX_MS) if self.rng.random() < 0.3 else None

    def make(self) -> bytes:
        rng, m = self.rng, self.model
        rid = self._id()
        r = rng.random()
        key = rng.choice(m.keys)
        if r < 0.38:
            value, ttl = self.values(), self._ttl()
            fields = [("id", rid), ("op", "set"), ("key", key), ("value", Raw(value))]
            if ttl:
                fields.append(("ttl_ms", ttl))
            m.record(key, Op("set", rid, value, ttl is not None))
            m.requests[rid] = ("set", key)
            m.writes_sent += 1
            return raw_request(*fields)
        if r < 0.53:
            keys = rng.sample(m.keys, rng.randrange(2, 9))
            ttl = self._ttl()
            entries = [(k, self.values()) for k in keys]
            body = array_header(len(entries)) + b"".join(
                array_header(2) + pack(k) + v for k, v in entries)
            fields = [("id", rid), ("op", "mset"), ("entries", Raw(body))]
            if ttl:
                fields.append(("ttl_ms", ttl))
            for k, v in entries:
                m.record(k, Op("mset", rid, v, ttl is not None))
            m.requests[rid] = ("mset", [k for k, _ in entries])
            m.writes_sent += 1
            return raw_request(*fields)
        if r < 0.65:
            pre = m.tip[key]
            m.record(key, Op("delete", rid, expect={"deleted": pre.value is not None}))
            m.requests[rid] = ("delete", key)
            m.writes_sent += 1
            return raw_request(("id", rid), ("op", "delete"), ("key", key))
        if r < 0.75:
            pre = m.tip[key]
            m.record(key, Op("expire", rid, expect={"updated": pre.value is not None}))
            m.requests[rid] = ("expire", key)
            m.writes_sent += 1
            return raw_request(("id", rid), ("op", "expire"), ("key", key),
                               ("ttl_ms", rng.randrange(TTL_MIN_MS, TTL_MAX_MS)))
        if r < 0.83:
            pre = m.tip[key]
            m.record(key, Op("persist", rid,
                             expect={"updated": pre.value is not None and pre.ttl}))
            m.requests[rid] = ("persist", key)
            m.writes_sent += 1
            return raw_request(("id", rid), ("op", "persist"), ("key", key))
        m.requests[rid] = ("get", key, m.tip[key].value)
        return raw_request(("id", rid), ("op", "get"), ("key", key))

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                chunk = b"".join(frame(self.make()) for _ in range(self.rng.randrange(8, 64)))
                self.eng.send_raw(chunk)
        except (BrokenPipeError, ConnectionResetError, OSError, ValueError):
            pass        # the engine was killed: expected


class Reader(threading.Thread):
    """Records every answer body by id until the engine's stdout closes."""

    def __init__(self, eng: EngineProcess):
        super().__init__(daemon=True)
        self.eng = eng
        self.answers: dict[int, bytes] = {}
        self.problems: list[str] = []

    def run(self) -> None:
        while True:
            try:
                body = self.eng.read_frame(timeout=60)
            except (EngineExited, TimeoutError):
                return
            msg = unpack(body)
            rid = msg.get("id")
            if rid in self.answers:
                self.problems.append(f"second answer for id {rid}: {msg!r}")
            self.answers[rid] = body


# --------------------------------------------------------------------------- checks

def fail(msg: str) -> None:
    raise ReliabilityError(msg)


def check_answers(model: Model, answers: dict[int, bytes]) -> dict[str, int]:
    """Check every answer against the model; return, per key, the number of ops that must be
    applied (index of the last acknowledged op + 1)."""
    for rid, body in answers.items():
        msg = unpack(body)
        if msg.get("ok") is not True:
            fail(f"answer with ok=false: {msg!r} for request {model.requests.get(rid)!r}")
        if rid not in model.requests:
            fail(f"answer for an id that was never sent: {msg!r}")
        what = model.requests[rid]
        if what[0] == "get":
            expected = what[2]
            raw = raw_map(body)
            if expected is None:
                if msg.get("found") is not False or "value" in raw:
                    fail(f"get {what[1]!r} (id {rid}) found {msg!r}; model: absent")
            elif msg.get("found") is not True or raw.get("value") != expected:
                fail(f"get {what[1]!r} (id {rid}): served {raw.get('value')!r}, "
                     f"model {expected!r}")
    must: dict[str, int] = {}
    for key, ops in model.ops.items():
        must[key] = 0
        last_version = model.base[key].version
        for i, op in enumerate(ops):
            body = answers.get(op.req_id)
            if body is None:
                continue
            msg = unpack(body)
            must[key] = i + 1
            for name, want in op.expect.items():
                if msg.get(name) != want:
                    fail(f"{op.kind} {key!r} (id {op.req_id}) answered {msg!r}, "
                         f"model expects {name}={want!r}")
            if op.kind == "set":
                v = msg.get("version")
                if not isinstance(v, int) or (last_version is not None and v <= last_version):
                    fail(f"set {key!r} (id {op.req_id}) version {v!r} not above the earlier "
                         f"version {last_version!r} of the key")
                last_version = v
                op.version = v
            model.writes_verified += 1 if op.kind != "mset" else 0
    # an acknowledged mset counts once as a verified write
    model.writes_verified += sum(1 for rid, w in model.requests.items()
                                 if w[0] == "mset" and rid in answers)
    return must


def observe(eng: EngineProcess, keys: list[str]) -> dict[str, KeyState]:
    """Pipelined get + ttl for every key; plus a count that must agree."""
    ids = []
    chunk = bytearray()
    for k in keys:
        g, t = eng.new_id(), eng.new_id()
        ids.append((k, g, t))
        chunk += frame(raw_request(("id", g), ("op", "get"), ("key", k)))
        chunk += frame(raw_request(("id", t), ("op", "ttl"), ("key", k)))
    cid = eng.new_id()
    chunk += frame(raw_request(("id", cid), ("op", "count")))
    eng.send_raw(bytes(chunk))
    out = {}
    for k, g, t in ids:
        gmsg, gbody = eng.recv_raw(g, timeout=30)
        tmsg = eng.recv(t, timeout=30)
        if gmsg.get("ok") is not True or tmsg.get("ok") is not True:
            fail(f"check of {k!r} failed: {gmsg!r} / {tmsg!r}")
        if gmsg["found"]:
            raw = raw_map(gbody)
            if tmsg.get("found") is not True:
                fail(f"{k!r}: get found it but ttl says {tmsg!r}")
            out[k] = KeyState(raw["value"], tmsg.get("ttl_ms") is not None, gmsg["version"])
        else:
            if tmsg.get("found") is not False or tmsg.get("ttl_ms") is not None:
                fail(f"{k!r}: get says absent but ttl says {tmsg!r}")
            out[k] = KeyState()
    cmsg = eng.recv(cid, timeout=30)
    present = sum(1 for s in out.values() if s.value is not None)
    if cmsg.get("count") != present:
        fail(f"count {cmsg!r} but {present} of the keys are present")
    return out


def check_restart(model: Model, observed: dict[str, KeyState], must: dict[str, int],
                  cycle: int) -> None:
    """Match what the restarted engine serves with a prefix of every key's ops; check msets
    for per-shard atomicity; then make the observed state the new base."""
    chosen: dict[str, list[int]] = {}
    for key in model.keys:
        ops, obs = model.ops[key], observed[key]
        state = model.base[key].copy()
        states = [state]
        for op in ops:
            state = apply(state, op)
            states.append(state)
        cands = [p for p in range(must[key], len(ops) + 1)
                 if states[p].value == obs.value and states[p].ttl == obs.ttl]
        if not cands:
            fail(f"cycle {cycle}: key {key!r} serves value={_short(obs.value)} ttl={obs.ttl}, "
                 f"which is no state after {must[key]}..{len(ops)} of its {len(ops)} ops "
                 f"(the first {must[key]} are acknowledged); base="
                 f"{_short(model.base[key].value)} ttl={model.base[key].ttl}; ops="
                 f"{[(o.kind, o.req_id, _short(o.value), o.ttl) for o in ops][-12:]}")
        chosen[key] = cands
        model.unacked_applied += max(0, min(cands) - must[key])
        model.unacked_lost += len(ops) - max(cands)
        # versions: the write that put the served value there decides the version
        if obs.value is not None:
            p = cands[0]
            writer_idx = max((i for i in range(p) if ops[i].kind in ("set", "mset")),
                             default=None)
            if writer_idx is None:
                if obs.version != model.base[key].version:
                    fail(f"cycle {cycle}: {key!r} version changed from "
                         f"{model.base[key].version} to {obs.version} without a write")
            else:
                known = ops[writer_idx].version
                if known is not None and obs.version != known:
                    fail(f"cycle {cycle}: {key!r} serves version {obs.version}, the "
                         f"acknowledged set (id {ops[writer_idx].req_id}) had {known}")
                floor = model.base[key].version
                if floor is not None and obs.version <= floor:
                    fail(f"cycle {cycle}: {key!r} version went back: {obs.version} <= {floor}")
    # msets: entries in the same shard are all applied or none
    positions: dict[int, list[tuple[str, int]]] = {}
    for key in model.keys:
        for i, op in enumerate(model.ops[key]):
            if op.kind == "mset":
                positions.setdefault(op.req_id, []).append((key, i))
    for rid, entries in positions.items():
        by_shard: dict[int, list[tuple[str, str]]] = {}
        across = set()
        for key, i in entries:
            cands = chosen[key]
            status = "applied" if min(cands) > i else "missing" if max(cands) <= i else "?"
            by_shard.setdefault(shard_of(key, SHARDS), []).append((key, status))
        for shard, sts in by_shard.items():
            kinds = {s for _, s in sts}
            across |= kinds
            if "applied" in kinds and "missing" in kinds:
                fail(f"cycle {cycle}: mset id {rid} was applied only in part within shard "
                     f"{shard}: {sts}")
        if "applied" in across and "missing" in across:
            model.msets_split += 1
    for key in model.keys:
        model.base[key] = observed[key]


def _short(v: bytes | None) -> str:
    if v is None:
        return "absent"
    return (v[:24].hex() + ("…" if len(v) > 24 else "")) + f"({len(v)}B)"


# --------------------------------------------------------------------------- driver

def start(data_dir: Path, extra=()) -> EngineProcess:
    eng = EngineProcess(["--shards", str(SHARDS), "--log-level", "warn", *extra], data_dir)
    hello = eng.call("hello", timeout=30)
    if hello.get("ok") is not True:
        fail(f"hello failed: {hello!r}")
    return eng


def _sabotage(model: Model, must: dict[str, int], how: str) -> None:
    """Make the model wrong on purpose (self-test of the checker): in a key whose last op is an
    acknowledged set, change the value ("value") or the TTL flag ("ttl") that op wrote."""
    for key in model.keys:
        ops = model.ops[key]
        if ops and must[key] == len(ops) and ops[-1].kind == "set":
            if how == "value":
                ops[-1].value = ops[-1].value[:-1] + bytes([ops[-1].value[-1] ^ 1])
            else:
                ops[-1].ttl = not ops[-1].ttl
            return
    raise ReliabilityError("sabotage found no key whose last op is an acknowledged set")


def run(cycles: int, seed: int, data_dir: Path | None = None, *, sabotage: str | None = None,
        verbose: bool = True) -> dict:
    """Run the crash loop. `sabotage` ("value" or "ttl") corrupts the model after the first
    cycle to prove the checker fails; the run must then raise ReliabilityError."""
    rng = random.Random(seed)
    keys = [f"ck:{i}" if i % 5 else f"клю:{i}" for i in range(N_KEYS)]
    model = Model(keys)
    values = ValueMaker(rng)
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="litestash-crash-")
        data_dir = Path(tmp.name) / "data"
    t0 = time.monotonic()
    next_id = 1_000_000
    acked = 0
    try:
        for cycle in range(cycles + 1):
            eng = start(data_dir)
            try:
                if cycle > 0:
                    check_restart(model, observe(eng, keys), must, cycle)
                if cycle == cycles:
                    code = eng.stop(timeout=30)
                    if code != 0:
                        fail(f"final clean stop exited {code}: {eng.stderr_text()[-2000:]}")
                    break
                model.new_cycle()
                writer = Writer(eng, model, rng, values, next_id)
                reader = Reader(eng)
                reader.start()
                writer.start()
                time.sleep(rng.uniform(0.05, 0.8))
                eng.proc.kill()
                eng.wait(timeout=30)
                writer.halt.set()
                writer.join(timeout=30)
                reader.join(timeout=30)
                next_id = writer.next_id + 1
                if reader.problems:
                    fail(f"cycle {cycle}: {reader.problems[:5]}")
                must = check_answers(model, reader.answers)
                if sabotage and cycle == 0:
                    _sabotage(model, must, sabotage)
                acked += len(reader.answers)
                if verbose:
                    print(f"cycle {cycle + 1}/{cycles}: sent {len(model.requests)} requests, "
                          f"{len(reader.answers)} answered before SIGKILL", flush=True)
            finally:
                eng.cleanup()
            integrity_check(data_dir, SHARDS)
        result = {"cycles": cycles, "requests_answered": acked,
                  "writes_sent": model.writes_sent, "writes_verified": model.writes_verified,
                  "unacked_applied": model.unacked_applied,
                  "unacked_lost": model.unacked_lost, "msets_split": model.msets_split,
                  "seconds": round(time.monotonic() - t0, 1)}
        if verbose:
            print(f"crash loop: {cycles} cycles run, {model.writes_verified} acknowledged "
                  f"writes verified ({model.writes_sent} writes sent, {acked} answers); "
                  f"unacknowledged key ops found applied {model.unacked_applied}, not "
                  f"applied {model.unacked_lost}; unacknowledged msets applied on some shards "
                  f"only {model.msets_split}; "
                  f"{result['seconds']} s, seed {seed}", flush=True)
        return result
    finally:
        if tmp is not None:
            tmp.cleanup()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=10)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="use (and keep) this data dir instead of a temporary one")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    try:
        run(args.cycles, seed, args.data_dir)
    except ReliabilityError as exc:
        print(f"FAILED (seed {seed}): {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
