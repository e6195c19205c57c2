"""pytest wrapper for multi_process.py (several engines on one data dir).

- `test_multi_process`: 4 engines writing the same keys; 5 s of load by default, 30 s with
  LITESTASH_LONG=1 (or LITESTASH_MULTI_SECONDS); the seed is random unless LITESTASH_SEED is
  set.
- `test_counters[2|4]`: 2 and 4 engines increment 3 shared counters with read + `set`
  `if_version`, retrying on conflict: every counter's increments form one chain and its final
  value is the number of acknowledged increments (no lost update). Same durations.
- `test_transfers[2|4]`: 2 and 4 engines move amounts between 12 accounts with `txn`s that
  check both versions read, 3 txns pipelined per round: per account the committed transfers
  form one chain (no check passed against a replaced value), the total is conserved, no
  balance goes negative, the transfers' stream agrees with every account's order.
  `test_transfers_one_at_a_time[2|4]`: the same with one txn per round and engine (no
  pipelining inside an engine). Commits and conflicts are printed (`-s`).
- `test_final_check_can_fail`, `test_counter_check_can_fail`, `test_transfer_check_can_fail`:
  dropping an acknowledged write from the expectations must make the final checks fail.
- `test_shard_order_check`, `test_counter_chain_check`, `test_transfer_chain_check`: the
  checks on hand-made acknowledgements.
"""

from __future__ import annotations

import os
import random

import pytest

import multi_process as mp
from reliability_common import ReliabilityError, long_mode


def _seed() -> int:
    return int(os.environ.get("LITESTASH_SEED") or random.randrange(1 << 30))


def _seconds() -> float:
    return float(os.environ.get("LITESTASH_MULTI_SECONDS") or (30 if long_mode() else 5))


def test_multi_process(tmp_path):
    result = mp.run(_seconds(), _seed(), data_dir=tmp_path / "data")
    assert result["acknowledged_writes"] > 0 and result["keys_written"] == 200
    # the read checks ran on something: gets were sent and some found a value
    assert result["reads_checked"] > 0 and result["reads_found"] > 0, result


@pytest.mark.parametrize("engines", [2, 4])
def test_counters(tmp_path, engines):
    seed = _seed()
    print(f"counters seed {seed}")
    result = mp.run_counters(_seconds(), seed, n_engines=engines, data_dir=tmp_path / "data")
    assert result["increments"] > 0 and all(result["per_engine"]), result
    assert result["conflicts"] > 0, result          # the engines did contend
    assert sum(result["final"].values()) == result["increments"], result


def _check_transfers(result: dict) -> None:
    assert result["commits"] > 0 and all(result["per_engine"]), result
    assert result["conflicts"] > 0, result          # the engines did contend
    assert result["total"] == mp.INITIAL_BALANCE * result["accounts"], result
    assert result["min_balance"] >= 0 and result["logged"] > 0, result


@pytest.mark.parametrize("engines", [2, 4])
def test_transfers(tmp_path, engines):
    seed = _seed()
    print(f"transfers seed {seed}")
    _check_transfers(mp.run_transfers(_seconds(), seed, n_engines=engines, batch=3,
                                      data_dir=tmp_path / "data"))


@pytest.mark.parametrize("engines", [2, 4])
def test_transfers_one_at_a_time(tmp_path, engines):
    seed = _seed()
    print(f"transfers seed {seed}")
    _check_transfers(mp.run_transfers(_seconds(), seed, n_engines=engines, batch=1,
                                      data_dir=tmp_path / "data"))


def test_final_check_can_fail(tmp_path):
    with pytest.raises(ReliabilityError, match="acknowledged set with the highest version"):
        mp.run(1.0, _seed(), data_dir=tmp_path / "data", verbose=False, sabotage=True)


def test_counter_check_can_fail(tmp_path):
    with pytest.raises(ReliabilityError, match="lost or phantom update"):
        mp.run_counters(1.0, _seed(), n_engines=2, data_dir=tmp_path / "data", verbose=False,
                        sabotage=True)


def test_transfer_check_can_fail(tmp_path):
    with pytest.raises(ReliabilityError, match="two committed transfers passed a check"):
        mp.run_transfers(1.0, _seed(), n_engines=2, batch=1, data_dir=tmp_path / "data",
                         verbose=False, sabotage=True)


def test_shard_order_check():
    k = "mp:1"
    ok = [mp.Ack(k, "a", 10, 0, sent=0.0, acked=1.0), mp.Ack(k, "b", 11, 1, sent=2.0, acked=3.0)]
    mp.check_shard_order(ok)
    with pytest.raises(ReliabilityError, match="acknowledged twice"):
        mp.check_shard_order(ok + [mp.Ack(k, "c", 11, 2, sent=4.0, acked=5.0)])
    with pytest.raises(ReliabilityError, match="lower version"):
        # sent after version 11 was acknowledged, yet it got version 9
        mp.check_shard_order(ok + [mp.Ack(k, "c", 9, 2, sent=4.0, acked=5.0)])


def test_counter_chain_check():
    c = "ctr:0"
    chain = [mp.Inc(c, 0, 10, 1, 0), mp.Inc(c, 10, 12, 2, 1), mp.Inc(c, 12, 15, 3, 0)]
    assert mp.check_counter_chains(chain, [c, "ctr:1"]) == {c: (3, 15), "ctr:1": (0, 0)}
    bad = {
        # two increments passed their check on version 10: a lost update
        "lost update": chain[:2] + [mp.Inc(c, 10, 15, 2, 0)],
        "gap": [chain[0], chain[2]],
        "wrong value": chain[:2] + [mp.Inc(c, 12, 15, 4, 0)],
        "first not on absent": chain[1:],
    }
    for why, incs in bad.items():
        with pytest.raises(ReliabilityError, match="lost or phantom"):
            mp.check_counter_chains(incs, [c])
            pytest.fail(f"not detected: {why}")


def test_transfer_chain_check():
    shared = mp.TransferShared(["a", "b"])
    shared.initial = {"a": 1, "b": 2}
    t1 = mp.Transfer("t1", "a", "b", 30, (100, 1), (100, 2), 5, 6, 0, 0.0, 1.0)
    t2 = mp.Transfer("t2", "b", "a", 10, (130, 6), (70, 5), 9, 8, 1, 2.0, 3.0)
    chains = mp.transfer_chains(shared, [t1, t2])
    assert [(v, b) for v, b, _ in chains["a"]] == [(1, 100), (5, 70), (8, 80)]
    assert [(v, b) for v, b, _ in chains["b"]] == [(2, 100), (6, 130), (9, 120)]
    # t3 passed its check on a's version 5 as well, although t2 had replaced it
    t3 = mp.Transfer("t3", "a", "b", 5, (70, 5), (120, 9), 11, 12, 0, 4.0, 5.0)
    with pytest.raises(ReliabilityError, match="two committed transfers passed a check"):
        mp.transfer_chains(shared, [t1, t2, t3])
    # overdraft: moving more than the balance read
    t4 = mp.Transfer("t4", "a", "b", 90, (80, 8), (120, 9), 11, 12, 0, 4.0, 5.0)
    with pytest.raises(ReliabilityError, match="negative"):
        mp.transfer_chains(shared, [t1, t2, t4])
