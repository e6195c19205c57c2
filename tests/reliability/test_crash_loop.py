"""pytest wrapper for crash_loop.py (SIGKILL under pipelined mixed load, restart, model check).

- `test_crash_loop`: 200 cycles by default (at least 200 kill -9 cycles is the requirement),
  1000 with LITESTASH_LONG=1, or LITESTASH_CRASH_CYCLES to pick a number; the seed is random
  unless LITESTASH_SEED is set, and is printed. No write group (txn, mset, mdelete, clear) may
  be found half-applied, and txns, msets, conflicts and histories must have been verified.
- `test_checker_detects_wrong_model`: the same loop with a model made wrong on purpose (a
  value or a TTL flag of an acknowledged set, the version of an acknowledged set or of a set in
  an acknowledged txn, a stream entry) must fail, proving the checker can fail.
- `test_checker_detects_split_mset` / `..._split_txn` / `..._inconsistent_cut` /
  `..._lost_ack` / `..._shard_order_violation` / `..._wrong_history` / `..._conflict_answers`:
  the checks on hand-made observations: an mset applied in part within one shard and across
  shards, a txn whose stream entry is missing, a group that one shard's commit order says is
  applied while another shard shows it is not (no key on its own shows the split), a lost
  acknowledged write, a later write to a shard applied while an earlier write to another key
  of that shard is not, a history that lacks a tombstone or has a wrong version or value, and
  a failing check answered ok or with the wrong key.
- `test_writer_error_fails_the_run`, `test_kill_without_requests_in_flight_fails`: a writer
  that breaks, and one that stops writing, must fail the run.
"""

from __future__ import annotations

import os
import random

import pytest

import crash_loop as cl
from engine_proc import frame, shard_of
from reliability_common import ReliabilityError, long_mode


def _seed() -> int:
    return int(os.environ.get("LITESTASH_SEED") or random.randrange(1 << 30))


def test_crash_loop(tmp_path):
    cycles = int(os.environ.get("LITESTASH_CRASH_CYCLES") or (1000 if long_mode() else 200))
    seed = _seed()
    print(f"crash loop seed {seed}")
    result = cl.run(cycles, seed, tmp_path / "data")
    # all or nothing across shards: not one write group found applied in part
    assert result["half_applied"] == 0, result
    # cycles counted as they complete: each killed with requests in flight, each followed by
    # a restart whose served state was checked against the model
    assert result["cycles"] == cycles, result
    assert result["restarts_checked"] == result["load_phases"] >= cycles, result
    assert result["in_flight_min"] >= 1, result
    assert result["writes_verified"] > 0 and result["gets_verified"] > 0, result
    assert result["entries_verified"] > 0, result
    assert result["shards_checked"] >= result["restarts_checked"], result
    if cycles >= 3:     # unacknowledged writes (not only gets) were in flight at some kill
        assert result["shard_ops_unacked"] > 0, result
        # txns and msets were verified, among them acknowledged ones; failing checks were
        # answered conflict; histories were compared with the model
        for kind in ("txn", "mset"):
            assert result[kind]["acked_present"] > 0, result
            assert result[kind]["verified"] > result[kind]["acked_present"], result
        assert result["txn"]["conflicts"] > 0 and result["cas_conflicts"] > 0, result
        assert result["checks_versioned"] > 0 and result["checks_absent"] > 0, result
        assert result["history_entries_checked"] > result["history_keys_checked"] > 0, result
        assert result["group_cuts_checked"] > 0, result


@pytest.mark.parametrize("how", ["value", "ttl", "stream", "version", "txn"])
def test_checker_detects_wrong_model(tmp_path, how):
    match = {
        "version": "history|serves version",
        "txn": "history|serves version",
        # The wrong value also shows in the key's history when a write in flight at the kill
        # landed after the sabotaged set (which then became a superseded version).
        "value": r"no state after|history \(versions\) fits no state",
    }.get(how, "no state after")
    with pytest.raises(ReliabilityError, match=match):
        cl.run(1, _seed(), tmp_path / "data", sabotage=how, verbose=False)


def _two_keys_same_shard() -> tuple[str, str]:
    seen = {}
    for i in range(1000):
        k = f"ck:{i}"
        s = shard_of(k, cl.SHARDS)
        if s in seen:
            return seen[s], k
        seen[s] = k
    raise AssertionError("no two keys share a shard")


def _key_on_other_shard(*keys: str, prefix: str = "other:") -> str:
    shards = {shard_of(k, cl.SHARDS) for k in keys}
    return next(f"{prefix}{i}" for i in range(1000)
                if shard_of(f"{prefix}{i}", cl.SHARDS) not in shards)


def _group(model, rid: int, kind: str, ops: list) -> None:
    """Record one write group: `ops` is [(key, Op)], all of request `rid`."""
    for key, op in ops:
        model.record(key, op)
    model.group_of[rid] = kind


def test_checker_detects_split_mset():
    """An unacknowledged mset must be all or nothing, within a shard (a, b) and across shards
    (a, c): one entry applied and another one not is a half-applied group."""
    a, b = _two_keys_same_shard()
    c = _key_on_other_shard(a)
    keys = [a, b, c]

    def mset(rid: int, observed: dict) -> None:
        model = cl.Model(keys, depth=None)
        model.new_cycle()
        _group(model, rid, "mset", [(k, cl.Op("mset", rid, b"\xa1" + k[-1:].encode(), False))
                                    for k in keys])
        full = {k: cl.KeyState(b"\xa1" + k[-1:].encode(), False, 5) for k in keys}
        cl.check_restart(model, {k: full[k] if k in observed else cl.KeyState()
                                 for k in keys}, {k: 0 for k in keys}, 1)

    mset(7, {a, b, c})                  # all applied: fine
    mset(7, set())                      # none applied: fine
    with pytest.raises(ReliabilityError, match="half-applied") as err:
        mset(8, {a, c})                 # b lacks its entry, in a's shard
    assert f"{b!r}@shard {shard_of(b, cl.SHARDS)} missing" in str(err.value)
    with pytest.raises(ReliabilityError, match="half-applied"):
        mset(9, {a, b})                 # c, on another shard, lacks its entry


def test_checker_detects_split_txn():
    """A txn whose sets are applied but whose stream entry is missing is half-applied; the
    same txn wholly applied, or wholly absent, passes."""
    a = "ck:1"
    s = "@" + _key_on_other_shard(a, prefix="ev:")
    keys = [a, s]

    def txn(applied: set) -> None:
        model = cl.Model(keys, depth=None)
        model.new_cycle()
        _group(model, 5, "txn", [(a, cl.Op("tset", 5, b"\xa1A", False, index=0)),
                                 (s, cl.Op("txadd", 5, b"\xa1E", index=1))])
        observed = {a: cl.KeyState(b"\xa1A", False, 9) if a in applied else cl.KeyState(),
                    s: cl.KeyState(cl.stream_state([b"\xa1E"])) if s in applied
                    else cl.KeyState()}
        cl.check_restart(model, observed, {a: 0, s: 0}, 1)

    txn({a, s})
    txn(set())
    with pytest.raises(ReliabilityError, match="half-applied"):
        txn({a})
    with pytest.raises(ReliabilityError, match="half-applied"):
        txn({s})


def test_checker_detects_inconsistent_cut():
    """mdelete id 1 of a (absent: the delete changes nothing there) and b (shard B, live), then
    set a2 (a's shard A). Serving a2's value means shard A committed the mdelete's part (it
    came first on A), so b must be deleted too. No key on its own shows the split (a's state is
    the same with or without it), only the cut across shards does."""
    a, a2 = _two_keys_same_shard()
    b = _key_on_other_shard(a)

    def check(a2_applied: bool, b_deleted: bool) -> None:
        model = cl.Model([a, a2, b], depth=None)
        model.base[b] = cl.KeyState(b"\xa1B", False, 5)
        model.new_cycle()
        _group(model, 1, "mdelete", [(a, cl.Op("mdel", 1)), (b, cl.Op("mdel", 1))])
        model.record(a2, cl.Op("set", 2, b"\xa1Z", False))
        observed = {a: cl.KeyState(),
                    a2: cl.KeyState(b"\xa1Z", False, 7) if a2_applied else cl.KeyState(),
                    b: cl.KeyState() if b_deleted else cl.KeyState(b"\xa1B", False, 5)}
        cl.check_restart(model, observed, {a: 0, a2: 0, b: 0}, 1)

    check(False, False)
    check(False, True)
    check(True, True)
    with pytest.raises(ReliabilityError, match="no consistent cut"):
        check(True, False)


def test_checker_detects_wrong_history():
    """History depth 2: set x (acknowledged, version 10), set x (unacknowledged), delete x
    (unacknowledged). The served history must be one of the prefixes' histories."""
    v1, v2 = b"\xa11", b"\xa12"

    def check(observed: cl.KeyState) -> None:
        model = cl.Model(["x"], depth=2)
        model.new_cycle()
        model.record("x", cl.Op("set", 1, v1, False, version=10))
        model.record("x", cl.Op("set", 2, v2, False))
        model.record("x", cl.Op("delete", 3))
        cl.check_restart(model, {"x": observed}, {"x": 1}, 1)

    check(cl.KeyState(v1, False, 10, ((10, False, v1),)))
    check(cl.KeyState(v2, False, 12, ((12, False, v2), (10, False, v1))))
    check(cl.KeyState(None, False, None, ((13, True, None), (12, False, v2))))  # depth 2
    bad = {
        "tombstone lost": cl.KeyState(None, False, None, ((12, False, v2), (10, False, v1))),
        "not trimmed": cl.KeyState(None, False, None,
                                   ((13, True, None), (12, False, v2), (10, False, v1))),
        "acknowledged version changed": cl.KeyState(v2, False, 12,
                                                    ((12, False, v2), (11, False, v1))),
        "old value replaced": cl.KeyState(v2, False, 12, ((12, False, v2), (10, False, v2))),
        "history lost": cl.KeyState(v2, False, 12, ((12, False, v2),)),
    }
    for why, observed in bad.items():
        with pytest.raises(ReliabilityError, match="history"):
            check(observed)
            pytest.fail(f"not detected: {why}")


def test_checker_detects_wrong_conflict_answers():
    """A request with a check that cannot hold must be answered conflict, naming the key and
    its current version; ok=true, another key or another version fail."""
    from engine_proc import pack

    def answers(msg: dict) -> None:
        model = cl.Model(["k"], depth=None)
        model.new_cycle()
        model.requests[3] = ("refused", "txn", "k", 17, 16)
        cl.check_answers(model, {3: pack({"id": 3, **msg})})

    conflict = {"ok": False, "error": {"code": "conflict", "message": "m", "key": "k",
                                       "version": 17}}
    answers(conflict)
    for wrong in ({"ok": True, "results": [5]},
                  {**conflict, "error": {**conflict["error"], "key": "j"}},
                  {**conflict, "error": {**conflict["error"], "version": 16}},
                  {**conflict, "error": {**conflict["error"], "code": "bad_request"}}):
        with pytest.raises(ReliabilityError, match="conflict"):
            answers(wrong)


def test_checker_detects_shard_order_violation():
    """a and b share a shard, c is elsewhere; sent: set a (1), set c (2), set b (3). Serving
    b's value while a is absent breaks the shard's commit order, although each key on its own
    shows a valid prefix of its ops (so the per-key check alone accepts it)."""
    a, b = _two_keys_same_shard()
    c = next(f"other:{i}" for i in range(1000)
             if shard_of(f"other:{i}", cl.SHARDS) != shard_of(a, cl.SHARDS))
    val = {a: cl.KeyState(b"\xa1A", False, 5), b: cl.KeyState(b"\xa1B", False, 6),
           c: cl.KeyState(b"\xa1C", False, 7)}

    def check(applied: set, must=None, delete_a_last: bool = False) -> None:
        model = cl.Model([a, b, c], depth=None)
        model.new_cycle()
        model.record(a, cl.Op("set", 1, val[a].value, False))
        model.record(c, cl.Op("set", 2, val[c].value, False))
        model.record(b, cl.Op("set", 3, val[b].value, False))
        if delete_a_last:
            model.record(a, cl.Op("delete", 4))
        observed = {k: (val[k] if k in applied else cl.KeyState()) for k in (a, b, c)}
        cl.check_restart(model, observed, must or {a: 0, b: 0, c: 0}, 1)

    for ok in (set(), {a}, {a, b}, {c}, {a, c}, {a, b, c}):
        check(ok)
    # with a's delete sent last, "b applied, a absent" is the prefix of all three shard ops
    check({b}, delete_a_last=True)
    for bad in ({b}, {b, c}):
        with pytest.raises(ReliabilityError, match=r"no prefix .*lacks its write id 1"):
            check(bad)
    # b's set acknowledged: a's earlier set must be applied as well
    with pytest.raises(ReliabilityError, match="acknowledged"):
        check({b}, must={a: 0, b: 1, c: 0})


def test_writer_error_fails_the_run(tmp_path, monkeypatch):
    """A writer that fails (here: request generation raises after 20 requests) must fail the
    run, not silently stop the load. (After 20: a short load phase may send only ~150.)"""
    real_make = cl.Writer.make
    calls = [0]

    def broken_make(self):
        calls[0] += 1
        if calls[0] > 20:
            raise ValueError("bug in request generation")
        return real_make(self)

    monkeypatch.setattr(cl.Writer, "make", broken_make)
    with pytest.raises(ReliabilityError, match="writer stopped"):
        cl.run(1, _seed(), tmp_path / "data", verbose=False)


def test_kill_without_requests_in_flight_fails(tmp_path, monkeypatch):
    """A writer that stops writing (here: after its first chunk) leaves nothing in flight to
    kill; the run must fail instead of counting cycles that test nothing."""
    def one_chunk_then_idle(self):
        self.eng.send_raw(b"".join(frame(self.make()) for _ in range(8)))
        self.written.extend(range(self.next_id - 7, self.next_id + 1))
        self.halt.wait()

    monkeypatch.setattr(cl.Writer, "run", one_chunk_then_idle)
    monkeypatch.setattr(cl, "MAX_FREEZES", 3)
    # The first freeze must come after the chunk is answered, even on a loaded machine where
    # the engine's start alone can outlast the usual 30 ms (then the kill would be valid).
    monkeypatch.setattr(cl, "LOAD_MS", (2000, 2000))
    with pytest.raises(ReliabilityError, match="no request was in flight"):
        cl.run(1, _seed(), tmp_path / "data", verbose=False)


def test_checker_detects_lost_ack():
    model = cl.Model(["x"], depth=None)
    model.new_cycle()
    model.record("x", cl.Op("set", 1, b"\xa11", False))
    model.record("x", cl.Op("set", 2, b"\xa12", False))
    with pytest.raises(ReliabilityError, match="no state after"):
        # the second set was acknowledged, but the engine serves the first one
        cl.check_restart(model, {"x": cl.KeyState(b"\xa11", False, 1)}, {"x": 2}, 1)
