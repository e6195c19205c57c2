"""pytest wrapper for crash_loop.py (SIGKILL under pipelined mixed load, restart, model check).

- `test_crash_loop`: 10 cycles by default, 200 with LITESTASH_LONG=1 (or LITESTASH_CRASH_CYCLES
  to pick a number); the seed is random unless LITESTASH_SEED is set, and is printed.
- `test_checker_detects_wrong_model`: the same loop with a model made wrong on purpose (a
  value or a TTL flag of an acknowledged set) must fail, proving the checker can fail.
- `test_checker_detects_split_mset` / `..._lost_ack` / `..._shard_order_violation`: the
  restart check on hand-made observations: an mset applied in part within one shard, a lost
  acknowledged write, and a later write to a shard applied while an earlier write to another
  key of that shard is not.
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
    cycles = int(os.environ.get("LITESTASH_CRASH_CYCLES") or (200 if long_mode() else 10))
    seed = _seed()
    print(f"crash loop seed {seed}")
    result = cl.run(cycles, seed, tmp_path / "data")
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


@pytest.mark.parametrize("how", ["value", "ttl", "stream"])
def test_checker_detects_wrong_model(tmp_path, how):
    with pytest.raises(ReliabilityError, match="no state after"):
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


def test_checker_detects_split_mset():
    a, b = _two_keys_same_shard()
    model = cl.Model([a, b])
    model.new_cycle()
    model.record(a, cl.Op("mset", 7, b"\xa1A", False))
    model.record(b, cl.Op("mset", 7, b"\xa1B", False))
    must = {a: 0, b: 0}            # the mset was not acknowledged
    whole = {a: cl.KeyState(b"\xa1A", False, 5), b: cl.KeyState(b"\xa1B", False, 5)}
    cl.check_restart(model, whole, must, 1)                 # all applied: fine
    model.new_cycle()
    model.record(a, cl.Op("mset", 8, b"\xa1C", False))
    model.record(b, cl.Op("mset", 8, b"\xa1D", False))
    split = {a: cl.KeyState(b"\xa1C", False, 6), b: cl.KeyState(b"\xa1B", False, 5)}
    with pytest.raises(ReliabilityError, match="applied only in part"):
        cl.check_restart(model, split, {a: 0, b: 0}, 2)


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
        model = cl.Model([a, b, c])
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
    """A writer that fails (here: request generation raises after 200 requests) must fail the
    run, not silently stop the load."""
    real_make = cl.Writer.make
    calls = [0]

    def broken_make(self):
        calls[0] += 1
        if calls[0] > 200:
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
    with pytest.raises(ReliabilityError, match="no request was in flight"):
        cl.run(1, _seed(), tmp_path / "data", verbose=False)


def test_checker_detects_lost_ack():
    model = cl.Model(["x"])
    model.new_cycle()
    model.record("x", cl.Op("set", 1, b"\xa11", False))
    model.record("x", cl.Op("set", 2, b"\xa12", False))
    with pytest.raises(ReliabilityError, match="no state after"):
        # the second set was acknowledged, but the engine serves the first one
        cl.check_restart(model, {"x": cl.KeyState(b"\xa11", False, 1)}, {"x": 2}, 1)
