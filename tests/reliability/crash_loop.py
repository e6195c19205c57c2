#!/usr/bin/python3
"""Crash loop: SIGKILL the engine under pipelined mixed load, restart, check against a model.

One data dir is used for every cycle. It is created with `--keep-versions 4` (history kept:
the 4 newest superseded versions of each key, tombstones included) and every engine runs with
that flag. A cycle:
  1. start the engine and check what it serves against the model (see below);
  2. a writer thread pipelines a random mix of requests over a fixed key set: `set` (sometimes
     with `ttl_ms`), conditional `set`/`delete` (`if_version`), `mset` batches of 8 entries that
     span several shards (sometimes with `ttl_ms`), `mdelete` over several shards, `txn`s (see
     below), a rare `clear`, `delete`, `expire`, `persist`, `xadd` and `get`; a reader thread
     records every answer. The writer keeps at most WINDOW requests unanswered, so the engine
     always has work queued and the answers it sends are recent;
  3. after a random 30..400 ms the engine is frozen (SIGSTOP) and, once its answers are all
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

Transactions. Each `txn` has 4..7 key ops (`set`, some with `ttl_ms`, or `delete`) on keys of at
least 4 shards, and now and then one or two `xadd`s to a stream, in random order. Its `checks`
are none, or 1..3 checks that must pass (`[key, v]` where the model knows the key's current
version v: 0 for a key the model knows absent, the version observed at the last restart, or
the version an answer already gave for the key's latest write), or those plus one check that
must fail (a wrong version). A txn with a failing check must be answered `conflict` naming
that key and, when the model knows it, the key's current version: it is not an error of the
run, and the model records that it wrote nothing. Conditional `set`/`delete` are made the same
way (`if_version` right or wrong). An acknowledged txn's `results` must hold, per op, the
set's version (above every earlier version of the key), the delete's `deleted` and the xadd's
entry id that the model predicts.

The model. Every write carries a value that is unique in the run (raw MessagePack bytes in
varied encodings: str8 headers for short strings, float32, ext, bin16/32, nested arrays), so the
value a key holds identifies the write that put it there. Per key the model keeps the state
the previous check observed (value bytes or absent, whether a TTL is set, version, history)
and the ops sent to that key since, in send order (an `mset`, `mdelete`, `txn` or `clear`
contributes one op to each key or stream it writes). After a restart the observed state of every
key must equal the state after some prefix of its ops whose length is at least (index of the
last acknowledged op + 1) and at most all sent ops: ops are applied in send order and nothing
acknowledged is lost. TTLs are >= 1 hour so nothing expires during the run; `ttl` must report
an expiry exactly when the state says so. Versions: acknowledged writes of a key (`set`,
conditional `set`, a txn's `set`) must carry strictly increasing versions, and the version
served after a restart must equal the version of the write that is served when that write's
version is known, and must not go back.

History. After a restart `versions` of every key (newest first, with tombstone flags) must be
what the chosen prefix of its ops gives: the history observed at the previous check, then one
entry per write (a version) and one per delete of a live key (a tombstone, also from `mdelete`,
a txn's delete and `clear`), of which the current version (when the key is live) and the
KEEP_VERSIONS newest others remain. Each entry's version must be the one the write's answer
gave, when known, and above every version observed at the previous check; `get` with `version`
must return, for each retained write, exactly that write's value, and nothing for a tombstone.
A key's candidate prefixes are the ones whose value, TTL flag *and* history fit.

Write groups. An `mset`, `mdelete`, `clear` or `txn` is all or nothing across shards. For each
one, every op it contributed is classified per key as applied (every candidate prefix of the
key includes it), missing (none does) or undetermined; applied and missing in one group is a
*half-applied* group: they are counted (the result line reports the count, which must be 0)
and fail the run. Acknowledged groups must be wholly present (the per-key rule above).

Across keys, per shard: a shard commits its queue in send order, so the writes found applied on
a shard must be a prefix of the writes sent to it, where a group's part on the shard counts as
one write of the shard: there must be one prefix length of the shard's writes that gives every
key of the shard a state it can be in (check_shard_prefixes). Then the shards are tied together
by the groups: there must be one prefix per shard such that every group spanning shards lies
inside all of its shards' prefixes or outside all of them (check_group_cut: the least such cut
is found by raising prefixes while some group is inside one shard's prefix and not another's).
The result also counts, from the engine's own warn log, the group parts its start-up recovery
replayed from an intent (a kill after a group's commit point, before some participant's
commit): informational, it shows the recovery path was exercised.
Acknowledged answers are also checked: `delete.deleted`, `mdelete.deleted`, `mset.count`,
`expire.updated`, `persist.updated` must match the model, and a `get` must return the exact bytes
of the latest earlier write of that key in the stream (pipelined read-your-writes).
Any answer with ok=false, other than the expected conflicts, fails the run. The model carries
over from cycle to cycle.

Streams. The load also appends (`xadd`, and inside txns) to a few streams, each a unique value.
A stream's state is its list of entries; the same prefix rule applies to it (its appends are
shard ops of its shard like any write): after a restart its entries must be exactly the values
of a prefix of its appends, at least up to the last acknowledged one, with ids 1..n contiguous
(nothing is trimmed), each acknowledged append at the entry id its answer gave, and ids keep
increasing across restarts (every new append continues after the entries found).

Run as a script:   /usr/bin/python3 tests/reliability/crash_loop.py --cycles 200 --seed 7
Prints the cycles run and what was verified; exit status 1 on any violation.
The pytest wrapper is test_crash_loop.py (200 cycles by default).
"""

from __future__ import annotations

import argparse
import bisect
import collections
import random
import re
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

from engine_proc import (EngineExited, EngineProcess, Raw, array_header, frame,  # noqa: E402
                         pack, raw_array_items, raw_map, raw_request, shard_of, unpack)

SHARDS = 16
N_KEYS = 200
N_STREAMS = 6
KEEP_VERSIONS = 4   # --keep-versions of the data dir; None in a Model: history not checked
WINDOW = 1000       # requests written and not answered yet before the writer waits
LOAD_MS = (30, 400)  # load before the first freeze of a cycle, uniform in this range (ms)
STREAM_MARK = "@"   # model entities "@<name>" are streams; their state is their entries

# Op kinds, as a request affects one key or stream
SET_KINDS = frozenset({"set", "mset", "tset", "cset"})           # a value and a new version
DEL_KINDS = frozenset({"delete", "mdel", "tdel", "cdel", "clear"})  # tombstone if it was live
XADD_KINDS = frozenset({"xadd", "txadd"})
GROUP_OP_KINDS = frozenset({"mset", "mdel", "tset", "tdel", "txadd", "clear"})
VERSIONED_KINDS = ("set", "tset", "cset")                       # answers carry the version
GROUP_KINDS = ("txn", "mset", "mdelete", "clear")              # request kinds written as groups


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
    # `versions` as observed, newest first: (version, tombstone, value bytes or None)
    history: tuple = ()

    def copy(self) -> "KeyState":
        return KeyState(self.value, self.ttl, self.version, self.history)


@dataclass
class Op:
    """One write as it affects one key (an `mset`, `mdelete`, `clear` or `txn` contributes one
    Op per key it writes), or one append to a stream (`xadd`, a txn's xadd)."""
    kind: str                       # set|mset|tset|cset|delete|mdel|tdel|cdel|clear|expire|
    req_id: int                     # persist|xadd|txadd
    value: bytes | None = None      # set kinds / xadd kinds
    ttl: bool = False               # set kinds: carries ttl_ms
    expect: dict = field(default_factory=dict)   # answer fields implied by the model
    version: int | None = None      # the version its acknowledgement carried (set kinds)
    index: int | None = None        # txn ops: the position of its result in `results`


def apply(state: KeyState, op: Op) -> KeyState:
    """The state of a key after `op`, per the contract (a set/mset without ttl_ms clears it)."""
    if op.kind in SET_KINDS:
        return KeyState(op.value, op.ttl, None)
    if op.kind in DEL_KINDS:
        return KeyState(None, False, None)
    if op.kind == "expire":            # only a present key gets an expiry
        return KeyState(state.value, True, state.version) if state.value is not None \
            else state.copy()
    if op.kind == "persist":
        return KeyState(state.value, False, state.version)
    if op.kind in XADD_KINDS:          # a stream's entries: the append is the last one
        return KeyState((state.value or b"") + stream_state([op.value]), False, None)
    raise ValueError(op.kind)


def history_event(state: KeyState, op: Op):
    """The history entry `op` adds to its key (3.6), given the key's state before it:
    (version or None when unknown, tombstone, value), or None when it adds none."""
    if op.kind in SET_KINDS:
        return (op.version, False, op.value)
    if op.kind in DEL_KINDS and state.value is not None:
        return (None, True, None)
    return None


def expected_history(base: tuple, events: list, live: bool, depth: int) -> list:
    """The `versions` a key must answer, newest first, after `events` (oldest first) followed
    the history `base` observed at the last check (newest first): the current version when the
    key is live, then the `depth` newest kept versions, tombstones included. Entries are
    (version or None, tombstone, value, new: whether it comes from `events`)."""
    evs = [(v, t, val, False) for v, t, val in reversed(base)]
    evs += [(v, t, val, True) for v, t, val in events]
    keep = depth + 1 if live else depth
    return evs[max(0, len(evs) - keep):][::-1] if keep else []


def history_mismatch(expected: list, observed: tuple, floor: int | None) -> str | None:
    """Why the observed history differs from the expected one, or None when it fits."""
    if len(expected) != len(observed):
        return f"{len(observed)} versions where {len(expected)} are due"
    for j, ((ev, et, evalue, new), (ov, ot, ovalue)) in enumerate(zip(expected, observed)):
        what = "tombstone" if et else "version"
        if et != ot:
            return f"entry {j} is {'a tombstone' if ot else 'a version'}, a {what} is due"
        if ev is not None and ev != ov:
            return f"entry {j} is version {ov}, the acknowledged write had {ev}"
        if not et and evalue != ovalue:
            return f"entry {j} (version {ov}) holds {_short(ovalue)}, not {_short(evalue)}"
        if new and floor is not None and ov <= floor:
            return (f"entry {j} (version {ov}) is new since the last check but not above its "
                    f"highest version {floor}")
    return None


def version_floor(state: KeyState) -> int | None:
    """The highest version a key showed at a check (served or in its history), or None."""
    found = [v for v, _, _ in state.history]
    if state.version is not None:
        found.append(state.version)
    return max(found, default=None)


class Model:
    def __init__(self, keys: list[str], depth: int | None = KEEP_VERSIONS):
        self.keys = keys                                   # keys and "@stream" entities
        self.plain_keys = [k for k in keys if not is_stream(k)]
        self.streams = [k for k in keys if is_stream(k)]
        self.depth = depth            # history depth; None: history is not checked
        self.entries_verified = 0     # stream entries found at their acknowledged ids
        self.base = {k: KeyState() for k in keys}         # state observed by the last check
        self.ops: dict[str, list[Op]] = {k: [] for k in keys}
        self.tip = {k: KeyState() for k in keys}          # state after every sent op
        # where the key's current version (after every sent op) can be learnt:
        # ("v", version; 0 = absent) | ("ans", req id, txn result index or None) | None
        self.tip_ver: dict[str, tuple | None] = {k: ("v", 0) for k in keys}
        self.requests: dict[int, tuple] = {}              # req id -> (op name, details)
        self.group_of: dict[int, str] = {}                # req id -> kind, for write groups
        self.acked: set[int] = set()                      # req ids answered ok this cycle
        self.writes_verified = 0                          # acknowledged writes checked
        self.writes_sent = 0
        self.unacked_applied = 0      # key ops found applied although never acknowledged
        self.unacked_lost = 0         # key ops sent, unacknowledged, found not applied
        self.groups_split = 0         # write groups found applied in part (must stay 0)
        self.gets_verified = 0        # acknowledged gets compared with the model
        self.restarts_checked = 0     # restarts whose served state was checked
        self.shards_checked = 0       # (restart, shard) pairs whose writes were prefix-checked
        self.shard_ops_unacked = 0    # shard ops sent, unacknowledged, at those checks
        self.n = collections.Counter()  # named counts: txn_sent, mset_acked, ... (see run)

    def new_cycle(self) -> None:
        for k in self.keys:
            self.ops[k] = []
            self.tip[k] = self.base[k].copy()
            base = self.base[k]
            self.tip_ver[k] = ("v", base.version if base.value is not None
                               and base.version is not None else 0)
            if base.value is not None and base.version is None:
                self.tip_ver[k] = None
        self.requests = {}
        self.group_of = {}
        self.acked = set()

    def record(self, key: str, op: Op) -> None:
        self.ops[key].append(op)
        self.tip[key] = apply(self.tip[key], op)


# --------------------------------------------------------------------------- load

class ValueMaker:
    """Unique raw MessagePack values in varied encodings (the tag `u` makes each one unique).
    `small` leaves out the bin32 values of up to 64 KiB (used for stream entries, which are all
    read back at every restart)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.u = 0

    def __call__(self, small: bool = False) -> bytes:
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
        if kind == 4 and rng.random() < 0.2 and not small:   # bin32, up to 64 KiB
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
    its id is appended to `written` once the write of its chunk has returned. While WINDOW
    written requests are unanswered (per `reader`) it waits.
    Only a broken pipe after `killed` was set (the engine was SIGKILLed on purpose) may stop
    it quietly; any other exception, including a broken pipe before the kill, is kept in
    `error` and fails the run (a bug in request generation must not silently stop the load)."""

    def __init__(self, eng: EngineProcess, model: Model, rng: random.Random,
                 values: ValueMaker, next_id: int, reader: "Reader | None" = None):
        super().__init__(daemon=True)
        self.eng, self.model, self.rng, self.values = eng, model, rng, values
        self.reader = reader
        self.next_id = next_id
        self.halt = threading.Event()
        self.killed = threading.Event()
        self.written: list[int] = []
        self.error: BaseException | None = None
        self.chunks = 0

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _ttl(self, p: float = 0.3):
        return self.rng.randrange(TTL_MIN_MS, TTL_MAX_MS) if self.rng.random() < p else None

    # ---- what the model knows of a key's current version

    def _known(self, key: str) -> int | None:
        """The key's version after every request sent so far (0: absent), or None when that is
        not known yet (its latest write is an `mset`, or its answer has not arrived)."""
        src = self.model.tip_ver[key]
        if src is None:
            return None
        if src[0] == "v":
            return src[1]
        _, rid, idx = src
        body = self.reader.answers.get(rid) if self.reader is not None else None
        if body is None:
            return None
        msg = unpack(body)
        if msg.get("ok") is not True:
            return None
        if idx is None:
            v = msg.get("version")
        else:
            res = msg.get("results")
            v = res[idx] if isinstance(res, list) and len(res) > idx else None
        if not isinstance(v, int) or isinstance(v, bool):
            return None
        self.model.tip_ver[key] = ("v", v)
        return v

    def _bad_check(self, key: str) -> tuple[int, int | None]:
        """A version that is certainly not the key's current one, and the current version the
        `conflict` answer must report (None: unknown, but the key is live, so above 0)."""
        known = self._known(key)
        if known is None:
            if self.model.tip[key].value is None:
                raise AssertionError(f"model: {key!r} has an unknown version but is absent")
            return 0, None
        if known == 0:
            return 1 + self.rng.randrange(1 << 40), 0
        return self.rng.choice([known - 1, known + 1, 0]), known

    def _spread(self, n: int, min_shards: int) -> list[str]:
        """n distinct keys covering at least `min_shards` shards."""
        while True:
            keys = self.rng.sample(self.model.plain_keys, n)
            if len({route(k) for k in keys}) >= min_shards:
                return keys

    # ---- requests

    def _txn(self, rid: int) -> bytes:
        rng, m = self.rng, self.model
        keys = self._spread(rng.randrange(4, 8), 4)
        plan = [("set" if rng.random() < 0.7 else "delete", k) for k in keys]
        if rng.random() < 0.35:
            stream = rng.choice(m.streams)
            plan += [("xadd", stream)] * (2 if rng.random() < 0.15 else 1)
        rng.shuffle(plan)
        checks: list[list] = []
        refused = None
        mode = rng.random()
        if mode >= 0.35:                       # checks that pass
            want = rng.randrange(1, 4)
            for k in dict.fromkeys(keys + rng.sample(m.plain_keys, 4)):
                v = self._known(k)
                if v is not None:
                    checks.append([k, v])
                    m.n["checks_versioned" if v else "checks_absent"] += 1
                    if len(checks) == want:
                        break
        if mode >= 0.8:                        # ... plus one that fails
            checked = {c[0] for c in checks}
            bad_key = rng.choice([k for k in m.plain_keys if k not in checked])
            bad, current = self._bad_check(bad_key)
            checks.insert(rng.randrange(len(checks) + 1), [bad_key, bad])
            refused = (bad_key, current, bad)
        bodies, recs = [], []
        for i, (kind, ent) in enumerate(plan):
            if kind == "set":
                value, ttl = self.values(), self._ttl(0.2)
                pairs = [("op", "set"), ("key", ent), ("value", Raw(value))]
                if ttl:
                    pairs.append(("ttl_ms", ttl))
                recs.append((ent, "tset", value, ttl is not None, i))
            elif kind == "delete":
                pairs = [("op", "delete"), ("key", ent)]
                recs.append((ent, "tdel", None, False, i))
            else:
                value = self.values(small=True)
                pairs = [("op", "xadd"), ("stream", ent[1:]), ("value", Raw(value))]
                recs.append((ent, "txadd", value, False, i))
            bodies.append(raw_request(*pairs))
        fields = [("id", rid), ("op", "txn")]
        if checks or rng.random() < 0.5:       # `checks: []` is valid too
            fields.append(("checks", checks))
        fields.append(("ops", Raw(array_header(len(bodies)) + b"".join(bodies))))
        m.n["txn_sent"] += 1
        if refused is not None:
            m.requests[rid] = ("refused", "txn", *refused)
            m.n["txn_refused_sent"] += 1
            return raw_request(*fields)
        for ent, kind, value, ttl, i in recs:
            if kind == "tset":
                m.record(ent, Op("tset", rid, value, ttl, index=i))
                m.tip_ver[ent] = ("ans", rid, i)
            elif kind == "tdel":
                m.record(ent, Op("tdel", rid, expect={"result": m.tip[ent].value is not None},
                                 index=i))
                m.tip_ver[ent] = ("v", 0)
            else:
                entry_id = stream_len(m.tip[ent].value) + 1
                m.record(ent, Op("txadd", rid, value, expect={"result": entry_id}, index=i))
        m.requests[rid] = ("txn", len(recs))
        m.group_of[rid] = "txn"
        m.writes_sent += 1
        return raw_request(*fields)

    def _conditional(self, rid: int, key: str, op: str) -> bytes:
        """`set` or `delete` with `if_version`: right (applies) or wrong (`conflict`)."""
        rng, m = self.rng, self.model
        known = self._known(key)
        m.n["cas_sent"] += 1
        value, ttl = self.values(), self._ttl(0.2)
        if known is not None and rng.random() < 0.75:
            if_version = known
            if op == "set":
                m.record(key, Op("cset", rid, value, ttl is not None))
                m.tip_ver[key] = ("ans", rid, None)
            else:
                m.record(key, Op("cdel", rid, expect={"deleted": m.tip[key].value is not None}))
                m.tip_ver[key] = ("v", 0)
            m.requests[rid] = ("c" + op, key)
            m.writes_sent += 1
        else:
            if_version, current = self._bad_check(key)
            m.requests[rid] = ("refused", op, key, current, if_version)
            m.n["cas_refused_sent"] += 1
        fields = [("id", rid), ("op", op), ("key", key)]
        if op == "set":
            fields.append(("value", Raw(value)))
            if ttl:
                fields.append(("ttl_ms", ttl))
        fields.append(("if_version", if_version))
        return raw_request(*fields)

    def make(self) -> bytes:
        rng, m = self.rng, self.model
        rid = self._id()
        r = rng.random()
        key = rng.choice(m.plain_keys)
        if r < 0.0004:                 # clear: a group over every shard
            for k in m.plain_keys:
                m.record(k, Op("clear", rid))
                m.tip_ver[k] = ("v", 0)
            m.requests[rid] = ("clear",)
            m.group_of[rid] = "clear"
            m.writes_sent += 1
            m.n["clear_sent"] += 1
            return raw_request(("id", rid), ("op", "clear"))
        if r >= 0.93:                  # an append to one of the streams
            stream = rng.choice(m.streams)
            value = self.values(small=True)
            entry_id = stream_len(m.tip[stream].value) + 1   # ids are contiguous from 1
            m.record(stream, Op("xadd", rid, value, expect={"entry_id": entry_id}))
            m.requests[rid] = ("xadd", stream)
            m.writes_sent += 1
            return raw_request(("id", rid), ("op", "xadd"), ("stream", stream[1:]),
                               ("value", Raw(value)))
        if r < 0.26:
            value, ttl = self.values(), self._ttl()
            fields = [("id", rid), ("op", "set"), ("key", key), ("value", Raw(value))]
            if ttl:
                fields.append(("ttl_ms", ttl))
            m.record(key, Op("set", rid, value, ttl is not None))
            m.tip_ver[key] = ("ans", rid, None)
            m.requests[rid] = ("set", key)
            m.writes_sent += 1
            return raw_request(*fields)
        if r < 0.31:
            return self._conditional(rid, key, "set" if rng.random() < 0.6 else "delete")
        if r < 0.41:                   # mset of 8 entries over several shards
            keys = self._spread(8, 3)
            ttl = self._ttl()
            entries = [(k, self.values()) for k in keys]
            body = array_header(len(entries)) + b"".join(
                array_header(2) + pack(k) + v for k, v in entries)
            fields = [("id", rid), ("op", "mset"), ("entries", Raw(body))]
            if ttl:
                fields.append(("ttl_ms", ttl))
            for k, v in entries:
                m.record(k, Op("mset", rid, v, ttl is not None))
                m.tip_ver[k] = None            # mset answers carry no versions
            m.requests[rid] = ("mset", len(entries))
            m.group_of[rid] = "mset"
            m.writes_sent += 1
            m.n["mset_sent"] += 1
            return raw_request(*fields)
        if r < 0.53:
            return self._txn(rid)
        if r < 0.56:                   # mdelete over several shards
            keys = self._spread(rng.randrange(2, 7), 2)
            live = sum(1 for k in keys if m.tip[k].value is not None)
            for k in keys:
                m.record(k, Op("mdel", rid))
                m.tip_ver[k] = ("v", 0)
            m.requests[rid] = ("mdelete", live)
            m.group_of[rid] = "mdelete"
            m.writes_sent += 1
            m.n["mdelete_sent"] += 1
            return raw_request(("id", rid), ("op", "mdelete"), ("keys", keys))
        if r < 0.66:
            pre = m.tip[key]
            m.record(key, Op("delete", rid, expect={"deleted": pre.value is not None}))
            m.tip_ver[key] = ("v", 0)
            m.requests[rid] = ("delete", key)
            m.writes_sent += 1
            return raw_request(("id", rid), ("op", "delete"), ("key", key))
        if r < 0.74:
            pre = m.tip[key]
            m.record(key, Op("expire", rid, expect={"updated": pre.value is not None}))
            m.requests[rid] = ("expire", key)
            m.writes_sent += 1
            return raw_request(("id", rid), ("op", "expire"), ("key", key),
                               ("ttl_ms", rng.randrange(TTL_MIN_MS, TTL_MAX_MS)))
        if r < 0.81:
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
                if (self.reader is not None
                        and len(self.written) - len(self.reader.answers) > WINDOW):
                    time.sleep(0.002)
                    continue
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


def _result(msg: dict, op: Op, name: str):
    """An answer field of `op`: for a txn op its item of `results`, else the field `name`."""
    if op.index is None:
        return msg.get(name)
    res = msg.get("results")
    return res[op.index] if isinstance(res, list) and len(res) > op.index else "<missing>"


def _check_conflict(model: Model, rid: int, what: tuple, msg: dict) -> None:
    """A request with a failing check (txn) or a wrong `if_version` must be refused with
    `conflict`, naming the key and its current version."""
    _, op, key, current, bad = what
    err = msg.get("error") if msg.get("ok") is False else None
    if not isinstance(err, dict) or err.get("code") != "conflict":
        fail(f"{op} id {rid} with the check [{key!r}, {bad}] that cannot hold answered "
             f"{msg!r}; the model expects a conflict")
    got = err.get("version")
    if err.get("key") != key or not isinstance(got, int) or isinstance(got, bool) \
            or got == bad or (current is not None and got != current) \
            or (current is None and got <= 0):
        fail(f"{op} id {rid}: conflict {err!r} should name key {key!r} at version "
             f"{current if current is not None else '> 0'} (the check said {bad})")
    model.n[f"{op}_conflicts" if op == "txn" else "cas_conflicts"] += 1


def check_answers(model: Model, answers: dict[int, bytes]) -> dict[str, int]:
    """Check every answer against the model; return, per key, the number of ops that must be
    applied (index of the last acknowledged op + 1)."""
    decoded: dict[int, dict] = {}
    for rid, body in answers.items():
        if rid not in model.requests:
            fail(f"answer for an id that was never sent: {unpack(body)!r}")
        msg = decoded[rid] = unpack(body)
        what = model.requests[rid]
        if what[0] == "refused":
            _check_conflict(model, rid, what, msg)
            continue
        if msg.get("ok") is not True:
            fail(f"answer with ok=false: {msg!r} for request {what!r}")
        model.acked.add(rid)
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
        elif what[0] == "mset" and msg.get("count") != what[1]:
            fail(f"mset id {rid} of {what[1]} entries answered {msg!r}")
        elif what[0] == "mdelete" and msg.get("deleted") != what[1]:
            fail(f"mdelete id {rid} answered {msg!r}; {what[1]} of its keys were live")
        elif what[0] == "txn":
            res = msg.get("results")
            if not isinstance(res, list) or len(res) != what[1]:
                fail(f"txn id {rid} of {what[1]} ops answered {msg!r}")
        if what[0] in GROUP_KINDS:
            model.n[f"{what[0]}_acked"] += 1
    must: dict[str, int] = {}
    for key, ops in model.ops.items():
        must[key] = 0
        last_version = version_floor(model.base[key])
        for i, op in enumerate(ops):
            msg = decoded.get(op.req_id)
            if msg is None:
                continue
            must[key] = i + 1
            for name, want in op.expect.items():
                got = _result(msg, op, name)
                if got != want or isinstance(got, bool) != isinstance(want, bool):
                    fail(f"{op.kind} {key!r} (id {op.req_id}) answered {msg!r}, "
                         f"model expects {name}={want!r}")
            if op.kind in VERSIONED_KINDS:
                v = _result(msg, op, "version")
                if not isinstance(v, int) or isinstance(v, bool) \
                        or (last_version is not None and v <= last_version):
                    fail(f"{op.kind} {key!r} (id {op.req_id}) version {v!r} not above the "
                         f"earlier version {last_version!r} of the key")
                last_version = v
                op.version = v
            model.writes_verified += 1 if op.kind not in GROUP_OP_KINDS else 0
    # an acknowledged group counts once as a verified write
    model.writes_verified += sum(1 for rid in model.acked if rid in model.group_of)
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


def observe(eng: EngineProcess, keys: list[str], history: bool = True) -> dict[str, KeyState]:
    """Pipelined get + ttl (+ versions) for every key, plus a count that must agree; then `get`
    with `version` for every retained entry of every key's history; every stream's entries
    (observe_stream). The history must be newest first, strictly decreasing, and start with
    the served version when the key is live."""
    out = {k: observe_stream(eng, k) for k in keys if is_stream(k)}
    keys = [k for k in keys if not is_stream(k)]
    ids = []
    chunk = bytearray()
    for k in keys:
        g, t, v = eng.new_id(), eng.new_id(), eng.new_id()
        ids.append((k, g, t, v))
        chunk += frame(raw_request(("id", g), ("op", "get"), ("key", k)))
        chunk += frame(raw_request(("id", t), ("op", "ttl"), ("key", k)))
        if history:
            chunk += frame(raw_request(("id", v), ("op", "versions"), ("key", k)))
    cid = eng.new_id()
    chunk += frame(raw_request(("id", cid), ("op", "count")))
    eng.send_raw(bytes(chunk))
    hist: dict[str, list[list]] = {}
    for k, g, t, v in ids:
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
        if not history:
            continue
        vmsg = eng.recv(v, timeout=30)
        vs, dels = vmsg.get("versions"), vmsg.get("deleted")
        if vmsg.get("ok") is not True or not isinstance(vs, list) or not isinstance(dels, list) \
                or len(vs) != len(dels) or vmsg.get("more") is not False:
            fail(f"versions of {k!r}: {vmsg!r}")
        if any(a <= b for a, b in zip(vs, vs[1:])):
            fail(f"versions of {k!r} are not strictly newest first: {vs}")
        if gmsg["found"] and (not vs or vs[0] != gmsg["version"] or dels[0] is not False):
            fail(f"versions of {k!r} {vmsg!r} do not start with its served version "
                 f"{gmsg['version']}")
        hist[k] = [[ver, dead, None] for ver, dead in zip(vs, dels)]
        if gmsg["found"]:
            hist[k][0][2] = out[k].value
    if history:      # every other retained entry: its value, or nothing for a tombstone
        reqs = []
        chunk = bytearray()
        for k, entries in hist.items():
            for j in range(1 if out[k].value is not None else 0, len(entries)):
                rid = eng.new_id()
                reqs.append((k, j, rid))
                chunk += frame(raw_request(("id", rid), ("op", "get"), ("key", k),
                                           ("version", entries[j][0])))
        eng.send_raw(bytes(chunk))
        for k, j, rid in reqs:
            msg, body = eng.recv_raw(rid, timeout=30)
            ver, dead, _ = hist[k][j]
            if msg.get("ok") is not True or msg.get("found") is not (not dead) or \
                    (not dead and msg.get("version") != ver):
                fail(f"get {k!r} version {ver} ({'tombstone' if dead else 'retained'}): "
                     f"{msg!r}")
            if not dead:
                hist[k][j][2] = raw_map(body)["value"]
        for k, entries in hist.items():
            out[k].history = tuple(tuple(e) for e in entries)
    cmsg = eng.recv(cid, timeout=30)
    present = sum(1 for k, s in out.items() if s.value is not None and not is_stream(k))
    if cmsg.get("count") != present:
        fail(f"count {cmsg!r} but {present} of the keys are present")
    return out


def check_restart(model: Model, observed: dict[str, KeyState], must: dict[str, int],
                  cycle: int) -> None:
    """Match what the restarted engine serves (value, TTL flag, history) with a prefix of every
    key's ops; check write groups for atomicity (check_groups), each shard for its commit
    order (check_shard_prefixes) and the shards together (check_group_cut); then make the
    observed state the new base."""
    chosen: dict[str, list[int]] = {}
    for key in model.keys:
        ops, obs, base = model.ops[key], observed[key], model.base[key]
        state = base.copy()
        states, events = [state], []
        for op in ops:
            events.append(history_event(state, op))
            state = apply(state, op)
            states.append(state)
        cands = [p for p in range(must[key], len(ops) + 1)
                 if states[p].value == obs.value and states[p].ttl == obs.ttl]
        if not cands:
            fail(f"cycle {cycle}: key {key!r} serves value={_short(obs.value)} ttl={obs.ttl}, "
                 f"which is no state after {must[key]}..{len(ops)} of its {len(ops)} ops "
                 f"(the first {must[key]} are acknowledged); base="
                 f"{_short(base.value)} ttl={base.ttl}; ops="
                 f"{[(o.kind, o.req_id, _short(o.value), o.ttl) for o in ops][-12:]}")
        if model.depth is not None and not is_stream(key):
            floor = version_floor(base)
            why = {}
            fits = []
            for p in cands:
                exp = expected_history(base.history, [e for e in events[:p] if e],
                                       states[p].value is not None, model.depth)
                problem = history_mismatch(exp, obs.history, floor)
                if problem is None:
                    fits.append(p)
                else:
                    why[p] = problem
            if not fits:
                fail(f"cycle {cycle}: key {key!r}: its history (versions) fits no state it can "
                     f"be in: {'; '.join(f'after {p} ops: {w}' for p, w in why.items())}; "
                     f"served {[(v, t) for v, t, _ in obs.history]}, at the last check "
                     f"{[(v, t) for v, t, _ in base.history]}; ops="
                     f"{[(o.kind, o.req_id, o.version) for o in ops][-12:]}")
            cands = fits
            model.n["history_keys_checked"] += 1
            model.n["history_entries_checked"] += len(obs.history)
        chosen[key] = cands
        if is_stream(key):  # its acknowledged appends sit at the ids they were answered
            model.entries_verified += must[key]
        model.unacked_applied += max(0, min(cands) - must[key])
        model.unacked_lost += len(ops) - max(cands)
        # versions: the write that put the served value there decides the version
        if obs.value is not None and not is_stream(key):
            p = cands[0]
            writer_idx = max((i for i in range(p) if ops[i].kind in SET_KINDS), default=None)
            if writer_idx is None:
                if obs.version != base.version:
                    fail(f"cycle {cycle}: {key!r} version changed from "
                         f"{base.version} to {obs.version} without a write")
            else:
                known = ops[writer_idx].version
                if known is not None and obs.version != known:
                    fail(f"cycle {cycle}: {key!r} serves version {obs.version}, the "
                         f"acknowledged {ops[writer_idx].kind} (id {ops[writer_idx].req_id}) "
                         f"had {known}")
                floor = version_floor(base)
                if floor is not None and obs.version <= floor:
                    fail(f"cycle {cycle}: {key!r} version went back: {obs.version} <= {floor}")
    check_groups(model, chosen, cycle)
    shards = check_shard_prefixes(model, chosen, must, cycle)
    check_group_cut(model, shards, cycle)
    model.restarts_checked += 1
    for key in model.keys:
        model.base[key] = observed[key]


def check_groups(model: Model, chosen: dict[str, list[int]], cycle: int) -> None:
    """Each write group (`mset`, `mdelete`, `clear`, `txn`) of the cycle is all or nothing
    across shards: classify each of its ops, per key, as applied (every candidate prefix of the
    key includes it), missing (none does) or undetermined. Applied and missing in one group is
    a half-applied group: counted, then the run fails. Counts each group's outcome."""
    entries: dict[int, list[tuple[str, int]]] = {}
    for key in model.keys:
        for i, op in enumerate(model.ops[key]):
            if op.req_id in model.group_of:
                entries.setdefault(op.req_id, []).append((key, i))
    split = []
    for rid, ents in sorted(entries.items()):
        statuses = []
        for key, i in ents:
            c = chosen[key]
            statuses.append((key, route(key), "applied" if min(c) > i
                             else "missing" if max(c) <= i else "?"))
        kinds = {s for _, _, s in statuses}
        kind = model.group_of[rid]
        if "applied" in kinds and "missing" in kinds:
            split.append((rid, kind, statuses))
        elif rid in model.acked:
            model.n[f"{kind}_acked_present"] += 1      # wholly present (must[] saw to it)
        elif "applied" in kinds:
            model.n[f"{kind}_unacked_present"] += 1
        elif "missing" in kinds:
            model.n[f"{kind}_unacked_absent"] += 1
        else:
            model.n[f"{kind}_undetermined"] += 1
    if split:
        model.groups_split += len(split)
        fail(f"cycle {cycle}: {len(split)} half-applied write group(s) (all or nothing across "
             f"shards): " + "; ".join(
                 f"{kind} id {rid} {'acknowledged' if rid in model.acked else 'unacknowledged'}:"
                 f" " + ", ".join(f"{k!r}@shard {s} {st}" for k, s, st in sts)
                 for rid, kind, sts in split[:3]))


def check_shard_prefixes(model: Model, chosen: dict[str, list[int]], must: dict[str, int],
                         cycle: int) -> dict[int, tuple[dict[int, int], list[int]]]:
    """Each shard commits its queue in send order, so the writes found applied on a shard,
    across all its keys, must be a prefix of what was sent to that shard.

    A shard's *shard ops* are, in send order (request ids grow with sending), every write to
    one of its keys or streams, where the ops of one group (`mset`, `mdelete`, `clear`, `txn`)
    on the shard form a single shard op (they commit together). For a prefix length P of that
    list, n_k(P) is how many of key k's own ops lie in the first P shard ops. `chosen[k]` lists
    the prefix lengths of k's ops whose resulting state equals what k serves (check_restart).
    The rule: some P exists, at least one past the last acknowledged shard op, with n_k(P) in
    chosen[k] for every key k of the shard. (Per key this is the rule check_restart already
    applies; the shard ties the keys' prefixes together: a later write to shard S can only be
    applied if every earlier write to S is.)
    Returns, per shard, (position of each request id among its shard ops, the prefix lengths
    P that fit, ascending) for check_group_cut."""
    by_shard: dict[int, dict[int, list[str]]] = {}      # shard -> req id -> its keys there
    position: dict[tuple[str, int], int] = {}           # (key, op index) -> req id
    for key in model.keys:
        for i, op in enumerate(model.ops[key]):
            by_shard.setdefault(route(key), {}).setdefault(op.req_id, []).append(key)
            position[(key, i)] = op.req_id
    out = {}
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
        out[shard] = (pos, fits)
    return out


def check_group_cut(model: Model, shards: dict[int, tuple[dict[int, int], list[int]]],
                    cycle: int) -> None:
    """The shards' prefixes must fit together: one prefix length P_s per shard, each one that
    check_shard_prefixes found to fit, such that every group spanning shards lies inside all of
    its shards' prefixes or outside all of them (all or nothing across shards). Starting from
    each shard's smallest fitting P, a group inside one shard's prefix raises every other
    shard's P to the smallest fit that includes the group, until nothing changes. That least
    solution exists exactly when some solution does; if a shard has no fit large enough, the
    served state is no consistent cut and the run fails."""
    where: dict[int, dict[int, int]] = {}
    for shard, (pos, _) in shards.items():
        for rid, p in pos.items():
            if rid in model.group_of:
                where.setdefault(rid, {})[shard] = p
    groups = {rid: w for rid, w in where.items() if len(w) > 1}
    lo = {s: fits[0] for s, (_, fits) in shards.items()}
    changed = True
    while changed:
        changed = False
        for rid, w in groups.items():
            inside = [s for s, p in w.items() if lo[s] > p]
            if not inside:
                continue
            for s, p in w.items():
                if lo[s] > p:
                    continue
                fits = shards[s][1]
                j = bisect.bisect_right(fits, p)
                if j == len(fits):
                    model.groups_split += 1
                    fail(f"cycle {cycle}: no consistent cut across shards: "
                         f"{model.group_of[rid]} id {rid} must be applied (shard(s) {inside} "
                         f"include it), but shard {s} cannot include it: its keys allow at "
                         f"most {fits[-1]} of its writes and the group is write {p + 1} there")
                lo[s] = fits[j]
                changed = True
    model.n["group_cuts_checked"] += len(groups)


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

def start(data_dir: Path, depth: int | None = KEEP_VERSIONS, extra=()) -> EngineProcess:
    flags = ["--keep-versions", str(depth)] if depth is not None else []
    eng = EngineProcess(["--shards", str(SHARDS), "--log-level", "warn", *flags, *extra],
                        data_dir)
    hello = eng.call("hello", timeout=30)
    if hello.get("ok") is not True:
        fail(f"hello failed: {hello!r}")
    if depth is not None and hello.get("keep_versions") != depth:
        fail(f"hello reports keep_versions {hello.get('keep_versions')!r}, not {depth}")
    return eng


def _sabotage(model: Model, must: dict[str, int], how: str) -> bool:
    """Make the model wrong on purpose (self-test of the checker): in a key whose last
    acknowledged op is a set, change the value ("value") or the TTL flag ("ttl") that op wrote;
    ("version") change the version the answer of a key's last acknowledged set gave; ("txn")
    the same for a set inside an acknowledged txn; or ("stream") change the value of a
    stream's last acknowledged append. False when the load phase left no such op (a random
    load can end every key on another kind of op): run() then tries the next load phase."""
    if how == "stream":
        for stream in model.streams:
            ops = model.ops[stream]
            if must[stream] > 0:
                op = ops[must[stream] - 1]
                op.value = op.value[:-1] + bytes([op.value[-1] ^ 1])
                return True
        return False
    kind = {"txn": "tset"}.get(how, "set")
    hit = 0
    for key in model.plain_keys:     # every such key: one of them surely shows it
        ops = model.ops[key]
        if must[key] == 0 or ops[must[key] - 1].kind != kind:
            continue
        op = ops[must[key] - 1]
        if how == "value":
            op.value = op.value[:-1] + bytes([op.value[-1] ^ 1])
        elif how == "ttl":
            op.ttl = not op.ttl
        else:
            op.version += 1
        hit += 1
    return hit > 0


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
    (SIGSTOP) after a random LOAD_MS (30..400 ms) of load; if every request whose write had
    completed before the freeze is already answered, it is resumed and frozen again 10..100 ms
    later (up to MAX_FREEZES times). The kill lands on the frozen engine. Returns (ids written
    before the freeze, number of freezes)."""
    time.sleep(rng.uniform(*LOAD_MS) / 1000)
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


_REPLAY_LOG = (re.compile(r"finished (\d+) transaction part\(s\) left by stopped engines"),
               re.compile(r"finished transaction [0-9a-f]+ left by a stopped engine"))


def _replays_logged(stderr: str) -> int:
    """Group parts the engine says (warn log) it replayed from an intent at start-up: a kill
    landed after a group's commit point and before some participant's commit. Informational
    (the engine's log, not the contract)."""
    return sum(int(m.group(1)) for m in _REPLAY_LOG[0].finditer(stderr)) \
        + len(_REPLAY_LOG[1].findall(stderr))


def _group_figures(model: Model, kind: str) -> dict:
    n = model.n
    return {"sent": n[f"{kind}_sent"], "acked": n[f"{kind}_acked"],
            "acked_present": n[f"{kind}_acked_present"],
            "unacked_present": n[f"{kind}_unacked_present"],
            "unacked_absent": n[f"{kind}_unacked_absent"],
            "undetermined": n[f"{kind}_undetermined"],
            # acknowledged and found whole, or unacknowledged and found wholly in or out
            "verified": n[f"{kind}_acked_present"] + n[f"{kind}_unacked_present"]
            + n[f"{kind}_unacked_absent"]}


def run(cycles: int, seed: int, data_dir: Path | None = None, *, sabotage: str | None = None,
        verbose: bool = True, max_attempts: int | None = None,
        keep_versions: int | None = KEEP_VERSIONS) -> dict:
    """Run the crash loop: `cycles` kill cycles, each with requests in flight at the kill.
    A load phase whose kill turns out (once every answer is read) to have caught nothing in
    flight is not counted as a cycle and is run again, at most `max_attempts` load phases in
    all (default 2 * cycles + 5). `sabotage` (see _sabotage) corrupts the model after the first
    load phase that leaves something to corrupt (cycles count from there) to prove the checker
    fails; the run must then raise ReliabilityError.
    `keep_versions` is the data dir's history depth (None: the flag is not given and history
    is not checked)."""
    rng = random.Random(seed)
    keys = [f"ck:{i}" if i % 5 else f"клю:{i}" for i in range(N_KEYS)]
    keys += [f"{STREAM_MARK}ev:{i}" for i in range(N_STREAMS)]   # streams, named like keys
    model = Model(keys, keep_versions)
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
    sabotaged = False           # a self-test run counts its cycles once the sabotage landed
    attempts = 0                # load phases
    in_flight_counts: list[int] = []
    freezes_total = 0
    must: dict[str, int] | None = None
    try:
        while True:
            eng = start(data_dir, keep_versions)
            writer = None
            try:
                if must is not None:
                    check_restart(model, observe(eng, keys, keep_versions is not None), must,
                                  attempts)
                    replayed = _replays_logged(eng.stderr_text())
                    model.n["parts_replayed"] += replayed
                    model.n["restarts_replaying"] += replayed > 0
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
                    reader = Reader(eng)
                    writer = Writer(eng, model, rng, values, next_id, reader)
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
                    if sabotage and not sabotaged:
                        sabotaged = _sabotage(model, must, sabotage)
                    acked += len(reader.answers)
                    # exact now: a SIGKILLed engine answers nothing more
                    in_flight = sum(1 for rid in written if rid not in reader.answers)
                    counted = in_flight > 0 and (sabotage is None or sabotaged)
                    if counted:
                        cycles_run += 1
                        in_flight_counts.append(in_flight)
                    if verbose:
                        print(f"cycle {cycles_run}/{cycles} (load phase {attempts}): sent "
                              f"{len(model.requests)} requests, {len(reader.answers)} answered "
                              f"before SIGKILL, {in_flight} written and unanswered when it "
                              f"landed ({freezes} freeze(s))"
                              + ("" if counted else "; not counted, run again"), flush=True)
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
        n = model.n
        txn, mset = _group_figures(model, "txn"), _group_figures(model, "mset")
        mdel, clr = _group_figures(model, "mdelete"), _group_figures(model, "clear")
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
                  "unacked_lost": model.unacked_lost,
                  "half_applied": model.groups_split,
                  "group_cuts_checked": n["group_cuts_checked"],
                  "txn": {**txn, "refused_sent": n["txn_refused_sent"],
                          "conflicts": n["txn_conflicts"]},
                  "mset": mset, "mdelete": mdel, "clear": clr,
                  "checks_versioned": n["checks_versioned"], "checks_absent": n["checks_absent"],
                  "cas_sent": n["cas_sent"], "cas_refused_sent": n["cas_refused_sent"],
                  "cas_conflicts": n["cas_conflicts"],
                  "history_keys_checked": n["history_keys_checked"],
                  "history_entries_checked": n["history_entries_checked"],
                  "parts_replayed": n["parts_replayed"],
                  "restarts_replaying": n["restarts_replaying"],
                  "seconds": round(time.monotonic() - t0, 1)}
        if verbose:
            print(f"crash loop: {cycles_run} cycles run ({attempts} load phases, "
                  f"{freezes_total} freezes), {sum(in_flight_counts)} requests in flight at "
                  f"the kills (at least {result['in_flight_min']} per cycle); "
                  f"{model.writes_verified} acknowledged writes and {model.gets_verified} gets "
                  f"verified ({model.writes_sent} writes sent, {acked} answers), "
                  f"{model.entries_verified} acknowledged stream entries found at their ids; "
                  f"HALF-APPLIED GROUPS {model.groups_split}; "
                  f"txns verified {txn['verified'] + n['txn_conflicts']} of {txn['sent']} sent "
                  f"({txn['acked_present']} acknowledged found whole, {n['txn_conflicts']} "
                  f"refused with conflict as predicted of {n['txn_refused_sent']} sent with a "
                  f"failing check, unacknowledged {txn['unacked_present']} wholly applied / "
                  f"{txn['unacked_absent']} wholly absent / {txn['undetermined']} "
                  f"undetermined; {n['checks_versioned']} checks on a version and "
                  f"{n['checks_absent']} on absence that had to pass); msets verified "
                  f"{mset['verified']} of {mset['sent']} sent ({mset['acked_present']} "
                  f"acknowledged, unacknowledged {mset['unacked_present']} wholly applied / "
                  f"{mset['unacked_absent']} wholly absent / {mset['undetermined']} "
                  f"undetermined); mdeletes verified {mdel['verified']} of {mdel['sent']}, "
                  f"clears {clr['verified']} of {clr['sent']}; {n['group_cuts_checked']} "
                  f"cross-shard groups in consistent cuts; {n['parts_replayed']} group parts "
                  f"replayed by start-up recovery (engine log) at {n['restarts_replaying']} "
                  f"restarts; if_version writes {n['cas_sent']} "
                  f"({n['cas_conflicts']} conflicts as predicted); histories of "
                  f"{n['history_keys_checked']} keys checked ({n['history_entries_checked']} "
                  f"entries); unacknowledged key ops found applied {model.unacked_applied}, "
                  f"not applied {model.unacked_lost}; {model.shards_checked} shard prefix "
                  f"checks over {model.shard_ops_unacked} unacknowledged shard ops; "
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
    ap.add_argument("--keep-versions", type=int, default=KEEP_VERSIONS,
                    help=f"history depth of the data dir (default {KEEP_VERSIONS})")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    try:
        run(args.cycles, seed, args.data_dir, keep_versions=args.keep_versions)
    except ReliabilityError as exc:
        print(f"FAILED (seed {seed}): {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
