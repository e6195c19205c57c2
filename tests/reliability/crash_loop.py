#!/usr/bin/python3
"""Crash loop: SIGKILL the engine under pipelined mixed load, restart, check against a model.

One data dir is used for every cycle. A cycle:
  1. start the engine and check what it serves against the model (see below);
  2. a writer thread pipelines a random mix of requests over a fixed key set: `set` (sometimes
     with `ttl_ms`), `mset` batches whose entries span several shards (sometimes with
     `ttl_ms`), `delete`, `expire`, `persist` and `get`; a reader thread records every answer;
  3. after a random 50..800 ms the engine is frozen (SIGSTOP) and, once its answers are all
     read, killed with SIGKILL if some request written before the freeze is unanswered (in
     flight); if none is (the engine had caught up with the writer) it is resumed and frozen
     again 10..100 ms later. After the kill the engine's status must be -SIGKILL, the writer
     may only have stopped on a broken pipe after the kill (any other error fails the run),
     and the reader must have reached the end of stdout. Requests written before the freeze
     and never answered are counted exactly then; a load phase with none is not counted as
     a cycle and is run again (bounded);
  4. `PRAGMA integrity_check` runs on (a copy of) every shard file.
After the last cycle one more engine is started, checked, and stopped cleanly (exit 0). The
result counts the cycles as they complete, the restarts checked and what was verified.

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
mset is atomic per shard only). Across keys, per shard: a shard commits its queue in send
order, so the writes found applied on a shard must be a prefix of the writes sent to it (an
mset's entries on the shard counting as one write): there must be one prefix length of the
shard's writes that gives every key of the shard a state it can be in (check_shard_prefixes).
Acknowledged answers are also checked: `delete.deleted`, `expire.updated`, `persist.updated`
must match the model, and a `get` must return the exact bytes of the latest earlier write of
that key in the stream (pipelined read-your-writes).
Any answer with ok=false fails the run. The model carries over from cycle to cycle.

Streams. The load also appends (`xadd`) to a few streams, each a unique value. A stream's
state is its list of entries; the same prefix rule applies to it (its appends are shard ops of
its shard like any write): after a restart its entries must be exactly the values of a prefix
of its appends, at least up to the last acknowledged one, with ids 1..n contiguous (nothing is
trimmed), each acknowledged append at the entry id its answer gave, and ids keep increasing
across restarts (every new append continues after the entries found).

Run as a script:   /usr/bin/python3 tests/reliability/crash_loop.py --cycles 200 --seed 7
Prints the cycles run and the writes verified; exit status 1 on any violation.
The pytest wrapper is test_crash_loop.py (10 cycles by default, 200 with LITESTASH_LONG=1).
"""

from __future__ import annotations

import argparse
import random
import signal
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
                         frame, pack, raw_array_items, raw_map, raw_request, shard_of, unpack)

SHARDS = 16
N_KEYS = 200
N_STREAMS = 6
STREAM_MARK = "@"   # model entities "@<name>" are streams; their state is their entries


def is_stream(entity: str) -> bool:
    return entity.startswith(STREAM_MARK)


def route(entity: str) -> int:
    """The shard of a key, or of a stream (by its name), as the engine routes them."""
    return shard_of(entity[1:] if is_stream(entity) else entity, SHARDS)


def stream_state(values: list[bytes]) -> bytes:
    """A stream's entries as one comparable value: each value's bytes, length-prefixed."""
    return b"".join(struct.pack(">I", len(v)) + v for v in values)


def stream_len(state: bytes | None) -> int:
    n, pos = 0, 0
    while state and pos < len(state):
        pos += 4 + struct.unpack(">I", state[pos:pos + 4])[0]
        n += 1
    return n
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
    """One write as it affects one key (an `mset` contributes one Op per entry), or one
    append to a stream (`xadd`)."""
    kind: str                       # set | mset | delete | expire | persist | xadd
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
    if op.kind == "xadd":              # a stream's entries: the append is the last one
        return KeyState((state.value or b"") + stream_state([op.value]), False, None)
    raise ValueError(op.kind)


class Model:
    def __init__(self, keys: list[str]):
        self.keys = keys                                   # keys and "@stream" entities
        self.plain_keys = [k for k in keys if not is_stream(k)]
        self.streams = [k for k in keys if is_stream(k)]
        self.entries_verified = 0     # stream entries found at their acknowledged ids
        self.base = {k: KeyState() for k in keys}         # state observed by the last check
        self.ops: dict[str, list[Op]] = {k: [] for k in keys}
        self.tip = {k: KeyState() for k in keys}          # state after every sent op
        self.requests: dict[int, tuple] = {}              # req id -> (op name, details)
        self.writes_verified = 0                          # acknowledged writes checked
        self.writes_sent = 0
        self.unacked_applied = 0      # key ops found applied although never acknowledged
        self.unacked_lost = 0         # key ops sent, unacknowledged, found not applied
        self.msets_split = 0          # unacknowledged msets applied on some shards only
        self.gets_verified = 0        # acknowledged gets compared with the model
        self.restarts_checked = 0     # restarts whose served state was checked
        self.shards_checked = 0       # (restart, shard) pairs whose writes were prefix-checked
        self.shard_ops_unacked = 0    # shard ops sent, unacknowledged, at those checks

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
    recorded in the model *before* its bytes are written (so "sent" is an upper bound), and
    its id is appended to `written` once the write of its chunk has returned.
    Only a broken pipe after `killed` was set (the engine was SIGKILLed on purpose) may stop
    it quietly; any other exception, including a broken pipe before the kill, is kept in
    `error` and fails the run (a bug in request generation must not silently stop the load)."""

    def __init__(self, eng: EngineProcess, model: Model, rng: random.Random,
                 values: ValueMaker, next_id: int):
        super().__init__(daemon=True)
        self.eng, self.model, self.rng, self.values = eng, model, rng, values
        self.next_id = next_id
        self.halt = threading.Event()
        self.killed = threading.Event()
        self.written: list[int] = []
        self.error: BaseException | None = None
        self.chunks = 0

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _ttl(self):
        return self.rng.randrange(TTL_MIN_MS, TTL_MAX_MS) if self.rng.random() < 0.3 else None

    def make(self) -> bytes:
        rng, m = self.rng, self.model
        rid = self._id()
        r = rng.random()
        key = rng.choice(m.plain_keys)
        if r >= 0.91:                  # an append to one of the streams
            stream = rng.choice(m.streams)
            value = self.values()
            entry_id = stream_len(m.tip[stream].value) + 1   # ids are contiguous from 1
            m.record(stream, Op("xadd", rid, value, expect={"entry_id": entry_id}))
            m.requests[rid] = ("xadd", stream)
            m.writes_sent += 1
            return raw_request(("id", rid), ("op", "xadd"), ("stream", stream[1:]),
                               ("value", Raw(value)))
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
            keys = rng.sample(m.plain_keys, rng.randrange(2, 9))
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
                first = self.next_id + 1
                chunk = b"".join(frame(self.make()) for _ in range(self.rng.randrange(8, 64)))
                self.eng.send_raw(chunk)
                self.written.extend(range(first, self.next_id + 1))
                self.chunks += 1
        except (BrokenPipeError, ConnectionResetError) as exc:
            if not self.killed.is_set():
                self.error = exc    # the engine stopped reading before it was killed
        except BaseException as exc:  # noqa: BLE001 - fails the run, see check_threads
            self.error = exc


class Reader(threading.Thread):
    """Records every answer body by id until the engine's stdout closes (`eof`). Anything
    else that stops it (a timeout, an undecodable frame) is kept in `error`."""

    def __init__(self, eng: EngineProcess):
        super().__init__(daemon=True)
        self.eng = eng
        self.answers: dict[int, bytes] = {}
        self.problems: list[str] = []
        self.eof = False
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while True:
                try:
                    body = self.eng.read_frame(timeout=60)
                except EngineExited:
                    self.eof = True
                    return
                msg = unpack(body)
                rid = msg.get("id")
                if rid in self.answers:
                    self.problems.append(f"second answer for id {rid}: {msg!r}")
                self.answers[rid] = body
        except BaseException as exc:  # noqa: BLE001 - fails the run, see check_threads
            self.error = exc


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
            model.gets_verified += 1
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


def observe_stream(eng: EngineProcess, stream: str) -> KeyState:
    """A stream's entries, paged with xrange: ids must be 1..n, contiguous (nothing is ever
    trimmed here), and xinfo must agree."""
    values: list[bytes] = []
    after = 0
    while True:
        rid = eng.send({"op": "xrange", "stream": stream[1:], "after": after, "limit": 1000})
        msg, body = eng.recv_raw(rid, timeout=30)
        if msg.get("ok") is not True:
            fail(f"xrange of {stream!r} failed: {msg!r}")
        raw_entries = raw_array_items(raw_map(body)["entries"])
        for k, (entry, raw_entry) in enumerate(zip(msg["entries"], raw_entries)):
            if entry[0] != len(values) + 1:
                fail(f"stream {stream!r}: entry id {entry[0]} where {len(values) + 1} was due "
                     f"(ids must be contiguous from 1)")
            values.append(raw_array_items(raw_entry)[2])
        if len(raw_entries) != len(msg["entries"]):
            fail(f"stream {stream!r}: entries decode differently raw and decoded")
        if not msg["more"]:
            break
        after = msg["entries"][-1][0]
    info = eng.ok("xinfo", stream=stream[1:])
    if values and (info["first_id"], info["last_id"]) != (1, len(values)):
        fail(f"stream {stream!r}: xinfo {info!r} but {len(values)} entries from 1")
    if not values and info["exists"]:
        fail(f"stream {stream!r} exists with no entry though nothing is ever trimmed: {info!r}")
    return KeyState(stream_state(values) if info["exists"] else None, False, None)


def observe(eng: EngineProcess, keys: list[str]) -> dict[str, KeyState]:
    """Pipelined get + ttl for every key, plus a count that must agree; every stream's
    entries (observe_stream)."""
    out = {k: observe_stream(eng, k) for k in keys if is_stream(k)}
    keys = [k for k in keys if not is_stream(k)]
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
    present = sum(1 for k, s in out.items() if s.value is not None and not is_stream(k))
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
        if is_stream(key):  # its acknowledged appends sit at the ids they were answered
            model.entries_verified += must[key]
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
            by_shard.setdefault(route(key), []).append((key, status))
        for shard, sts in by_shard.items():
            kinds = {s for _, s in sts}
            across |= kinds
            if "applied" in kinds and "missing" in kinds:
                fail(f"cycle {cycle}: mset id {rid} was applied only in part within shard "
                     f"{shard}: {sts}")
        if "applied" in across and "missing" in across:
            model.msets_split += 1
    check_shard_prefixes(model, chosen, must, cycle)
    model.restarts_checked += 1
    for key in model.keys:
        model.base[key] = observed[key]


def check_shard_prefixes(model: Model, chosen: dict[str, list[int]], must: dict[str, int],
                         cycle: int) -> None:
    """Each shard commits its queue in send order, so the writes found applied on a shard,
    across all its keys, must be a prefix of what was sent to that shard.

    A shard's *shard ops* are, in send order (request ids grow with sending), every write to
    one of its keys, where the entries of one `mset` that route to the shard form a single
    shard op (they commit together). For a prefix length P of that list, n_k(P) is how many of
    key k's own ops lie in the first P shard ops. `chosen[k]` lists the prefix lengths of k's
    ops whose resulting state equals what k serves (check_restart). The rule: some P exists,
    at least one past the last acknowledged shard op, with n_k(P) in chosen[k] for every key
    k of the shard. (Per key this is the rule check_restart already applies; the shard ties
    the keys' prefixes together: a later write to shard S can only be applied if every
    earlier write to S is.)"""
    by_shard: dict[int, dict[int, list[str]]] = {}      # shard -> req id -> its keys there
    position: dict[tuple[str, int], int] = {}           # (key, op index) -> req id
    for key in model.keys:
        for i, op in enumerate(model.ops[key]):
            by_shard.setdefault(route(key), {}).setdefault(op.req_id, []).append(key)
            position[(key, i)] = op.req_id
    for shard, ops in sorted(by_shard.items()):
        seq = sorted(ops.items())                       # send order
        pos = {rid: p for p, (rid, _) in enumerate(seq)}
        keys = sorted({k for _, ks in seq for k in ks})
        # the last acknowledged op of each key is acknowledged, so everything before it in
        # the shard's order must be applied
        lo = max((pos[position[(k, must[k] - 1)]] + 1 for k in keys if must[k] > 0), default=0)
        if lo < len(seq):
            model.shard_ops_unacked += len(seq) - lo
        allowed = {k: set(chosen[k]) for k in keys}
        count = {k: 0 for k in keys}
        bad = sum(1 for k in keys if 0 not in allowed[k])
        fits = [0] if bad == 0 and lo == 0 else []
        for p, (rid, ks) in enumerate(seq, start=1):
            for k in ks:
                bad -= count[k] not in allowed[k]
                count[k] += 1
                bad += count[k] not in allowed[k]
            if bad == 0 and p >= lo:
                fits.append(p)
        model.shards_checked += 1
        if not fits:
            fail(f"cycle {cycle}: shard {shard}: what its keys serve is no prefix of the "
                 f"{len(seq)} writes sent to it (the first {lo} acknowledged): "
                 f"{_explain_shard(model, shard, seq, pos, chosen, lo)}")


def _explain_shard(model: Model, shard: int, seq, pos, chosen, lo: int) -> str:
    """Name two keys whose served states need incompatible shard prefixes, if there are."""
    need = []                     # (key, lowest P, highest P) each key allows on its own
    for k in sorted({k for _, ks in seq for k in ks}):
        ops = model.ops[k]
        low, high = min(chosen[k]), max(chosen[k])
        p_low = pos[ops[low - 1].req_id] + 1 if low > 0 else 0
        p_high = pos[ops[high].req_id] if high < len(ops) else len(seq)
        need.append((k, p_low, p_high, low, high, len(ops)))
    late = max(need, key=lambda t: t[1])
    early = min(need, key=lambda t: t[2])
    e, _, p_high, _, high, _ = early
    if lo > p_high:
        return (f"key {e!r} lacks its write id {model.ops[e][high].req_id} (shard position "
                f"{p_high}) although a later write to the shard (position {lo - 1}) was "
                f"acknowledged")
    if late[1] > p_high:
        k, p_low, _, low, _, _ = late
        return (f"key {k!r} has its write id {model.ops[k][low - 1].req_id} applied "
                f"(shard position {p_low - 1}), but key {e!r} lacks its write id "
                f"{model.ops[e][high].req_id}, sent to the shard earlier (position {p_high})")
    return "; ".join(f"{k!r}: applied-op counts {sorted(chosen[k])} of {n}"
                     for k, _, _, _, _, n in need[:12])


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
    acknowledged set, change the value ("value") or the TTL flag ("ttl") that op wrote; or
    ("stream") change the value of a stream's last acknowledged append."""
    if how == "stream":
        for stream in model.streams:
            ops = model.ops[stream]
            if must[stream] > 0:
                op = ops[must[stream] - 1]
                op.value = op.value[:-1] + bytes([op.value[-1] ^ 1])
                return
        raise ReliabilityError("sabotage found no stream with an acknowledged append")
    for key in model.keys:
        ops = model.ops[key]
        if ops and must[key] == len(ops) and ops[-1].kind == "set":
            if how == "value":
                ops[-1].value = ops[-1].value[:-1] + bytes([ops[-1].value[-1] ^ 1])
            else:
                ops[-1].ttl = not ops[-1].ttl
            return
    raise ReliabilityError("sabotage found no key whose last op is an acknowledged set")


MAX_FREEZES = 50        # freezes per cycle looking for requests in flight
SETTLE_QUIET = 0.05     # s without new answers (and none unread) before a frozen engine is judged


def _settle(eng: EngineProcess, reader: Reader, timeout: float = 30.0) -> None:
    """While the engine is frozen: wait until the reader has taken every answer it wrote."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while True:
        now = time.monotonic()
        seen = (len(reader.answers), eng.stdout_bytes)
        if seen != last:
            last, since = seen, now
        elif (now - since >= SETTLE_QUIET and eng.unread_stdout_bytes() == 0
              and eng.queued_frames() == 0):
            return
        if now > deadline:
            fail("answers of the frozen engine were not all read within "
                 f"{timeout} s")
        time.sleep(0.005)


def check_threads(cycle: int, writer: Writer, reader: Reader) -> None:
    if writer.is_alive() or reader.is_alive():
        fail(f"cycle {cycle}: writer alive {writer.is_alive()}, reader alive "
             f"{reader.is_alive()} 30 s after the kill")
    if writer.error is not None:
        fail(f"cycle {cycle}: the writer stopped with {writer.error!r} (only a broken pipe "
             f"after the kill is expected)")
    if reader.error is not None or not reader.eof:
        fail(f"cycle {cycle}: the reader stopped before the end of stdout: {reader.error!r}")
    if reader.problems:
        fail(f"cycle {cycle}: {reader.problems[:5]}")


def kill_in_flight(eng: EngineProcess, writer: Writer, reader: Reader, rng: random.Random,
                   cycle: int) -> tuple[list[int], int]:
    """SIGKILL the engine at an instant when requests are in flight. The engine is frozen
    (SIGSTOP) after a random 50..800 ms of load; if every request whose write had completed
    before the freeze is already answered, it is resumed and frozen again 10..100 ms later
    (up to MAX_FREEZES times). The kill lands on the frozen engine. Returns (ids written
    before the freeze, number of freezes)."""
    time.sleep(rng.uniform(0.05, 0.8))
    for freezes in range(1, MAX_FREEZES + 1):
        if writer.error is not None or not writer.is_alive():
            fail(f"cycle {cycle}: the writer stopped before the kill: {writer.error!r}")
        if eng.proc.poll() is not None:
            fail(f"cycle {cycle}: the engine exited on its own ({eng.proc.returncode}): "
                 f"{eng.stderr_text()[-2000:]}")
        written = list(writer.written)       # writes completed before the freeze
        eng.pause()
        _settle(eng, reader)
        if any(rid not in reader.answers for rid in written):
            writer.killed.set()
            eng.kill()
            return written, freezes
        eng.resume()
        time.sleep(rng.uniform(0.01, 0.1))
    fail(f"cycle {cycle}: no request was in flight at any of {MAX_FREEZES} freezes")
    raise AssertionError("unreachable")


def run(cycles: int, seed: int, data_dir: Path | None = None, *, sabotage: str | None = None,
        verbose: bool = True, max_attempts: int | None = None) -> dict:
    """Run the crash loop: `cycles` kill cycles, each with requests in flight at the kill.
    A load phase whose kill turns out (once every answer is read) to have caught nothing in
    flight is not counted as a cycle and is run again, at most `max_attempts` load phases in
    all (default 2 * cycles + 5). `sabotage` ("value" or "ttl") corrupts the model after the
    first load phase to prove the checker fails; the run must then raise ReliabilityError."""
    rng = random.Random(seed)
    keys = [f"ck:{i}" if i % 5 else f"клю:{i}" for i in range(N_KEYS)]
    keys += [f"{STREAM_MARK}ev:{i}" for i in range(N_STREAMS)]   # streams, named like keys
    model = Model(keys)
    values = ValueMaker(rng)
    if max_attempts is None:
        max_attempts = 2 * cycles + 5
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="litestash-crash-")
        data_dir = Path(tmp.name) / "data"
    t0 = time.monotonic()
    next_id = 1_000_000
    acked = 0
    cycles_run = 0              # load phases killed with requests in flight
    attempts = 0                # load phases
    in_flight_counts: list[int] = []
    freezes_total = 0
    must: dict[str, int] | None = None
    try:
        while True:
            eng = start(data_dir)
            writer = None
            try:
                if must is not None:
                    check_restart(model, observe(eng, keys), must, attempts)
                final = cycles_run == cycles
                if final:
                    code = eng.stop(timeout=30)
                    if code != 0:
                        fail(f"final clean stop exited {code}: {eng.stderr_text()[-2000:]}")
                else:
                    if attempts >= max_attempts:
                        fail(f"only {cycles_run} of {attempts} load phases were killed with "
                             f"requests in flight")
                    attempts += 1
                    model.new_cycle()
                    writer = Writer(eng, model, rng, values, next_id)
                    reader = Reader(eng)
                    reader.start()
                    writer.start()
                    written, freezes = kill_in_flight(eng, writer, reader, rng, attempts)
                    freezes_total += freezes
                    code = eng.wait(timeout=30)
                    writer.halt.set()
                    writer.join(timeout=30)
                    reader.join(timeout=30)
                    if code != -signal.SIGKILL:
                        fail(f"cycle {attempts}: exit {code} instead of the SIGKILL: "
                             f"{eng.stderr_text()[-2000:]}")
                    check_threads(attempts, writer, reader)
                    next_id = writer.next_id + 1
                    must = check_answers(model, reader.answers)
                    if sabotage and attempts == 1:
                        _sabotage(model, must, sabotage)
                    acked += len(reader.answers)
                    # exact now: a SIGKILLed engine answers nothing more
                    in_flight = sum(1 for rid in written if rid not in reader.answers)
                    if in_flight:
                        cycles_run += 1
                        in_flight_counts.append(in_flight)
                    if verbose:
                        print(f"cycle {cycles_run}/{cycles} (load phase {attempts}): sent "
                              f"{len(model.requests)} requests, {len(reader.answers)} answered "
                              f"before SIGKILL, {in_flight} written and unanswered when it "
                              f"landed ({freezes} freeze(s))"
                              + ("" if in_flight else "; not counted, run again"), flush=True)
            except BaseException:
                if writer is not None:
                    writer.killed.set()
                    writer.halt.set()
                eng.cleanup(check=False)
                raise
            problem = eng.cleanup(check=False)
            if problem:
                fail(f"after load phase {attempts}: {problem}")
            if final:
                break
            integrity_check(data_dir, SHARDS)
        result = {"cycles": cycles_run, "load_phases": attempts,
                  "restarts_checked": model.restarts_checked,
                  "in_flight_min": min(in_flight_counts, default=0),
                  "in_flight_total": sum(in_flight_counts), "freezes": freezes_total,
                  "requests_answered": acked,
                  "writes_sent": model.writes_sent, "writes_verified": model.writes_verified,
                  "gets_verified": model.gets_verified,
                  "entries_verified": model.entries_verified,
                  "shards_checked": model.shards_checked,
                  "shard_ops_unacked": model.shard_ops_unacked,
                  "unacked_applied": model.unacked_applied,
                  "unacked_lost": model.unacked_lost, "msets_split": model.msets_split,
                  "seconds": round(time.monotonic() - t0, 1)}
        if verbose:
            print(f"crash loop: {cycles_run} cycles run ({attempts} load phases, "
                  f"{freezes_total} freezes), {sum(in_flight_counts)} requests in flight at "
                  f"the kills (at least {result['in_flight_min']} per cycle); "
                  f"{model.writes_verified} acknowledged writes and {model.gets_verified} gets "
                  f"verified ({model.writes_sent} writes sent, {acked} answers), "
                  f"{model.entries_verified} acknowledged stream entries found at their ids; "
                  f"unacknowledged key ops found applied {model.unacked_applied}, not "
                  f"applied {model.unacked_lost}; unacknowledged msets applied on some shards "
                  f"only {model.msets_split}; {model.shards_checked} shard prefix checks over "
                  f"{model.shard_ops_unacked} unacknowledged shard ops; "
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
