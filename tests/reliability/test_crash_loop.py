"""pytest wrapper for crash_loop.py (SIGKILL under pipelined mixed load, restart, model check).

- `test_crash_loop`: 10 cycles by default, 200 with LITESTASH_LONG=1 (or LITESTASH_CRASH_CYCLES
  to pick a number); the seed is random unless LITESTASH_SEED is set, and is printed.
- `test_checker_detects_wrong_model`: the same loop with a model made wrong on purpose (a
  value or a TTL flag of an acknowledged set) must fail, proving the checker can fail.
- `test_checker_detects_split_mset` / `..._lost_ack`: the restart check on hand-made
  observations: an mset applied in part within one shard, and a lost acknowledged write.
"""

from __future__ import annotations

import os
import random

import pytest

import crash_loop as cl
from engine_proc import shard_of
from reliability_common import ReliabilityError, long_mode


def _seed() -> int:
    return int(os.environ.get("LITESTASH_SEED") or random.randrange(1 << 30))


def test_crash_loop(tmp_path):
    cycles = int(os.environ.get("LITESTASH_CRASH_CYCLES") or (200 if long_mode() else 10))
    seed = _seed()
    print(f"crash loop seed {seed}")
    result = cl.run(cycles, seed, tmp_path / "data")
    assert result["cycles"] == cycles
    assert result["writes_verified"] > 0


@pytest.mark.parametrize("how", ["value", "ttl"])
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


def test_checker_detects_lost_ack():
    model = cl.Model(["x"])
    model.new_cycle()
    model.record("x", cl.Op("set", 1, b"\xa11", False))
    model.record("x", cl.Op("set", 2, b"\xa12", False))
    with pytest.raises(ReliabilityError, match="no state after"):
        # the second set was acknowledged, but the engine serves the first one
        cl.check_restart(model, {"x": cl.KeyState(b"\xa11", False, 1)}, {"x": 2}, 1)
