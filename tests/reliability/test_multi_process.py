"""pytest wrapper for multi_process.py (4 engines writing the same keys on one data dir).

- `test_multi_process`: 5 s of load by default, 30 s with LITESTASH_LONG=1 (or
  LITESTASH_MULTI_SECONDS); the seed is random unless LITESTASH_SEED is set.
- `test_final_check_can_fail`: dropping the newest acknowledgement from the expectations
  must make the final check fail.
- `test_shard_order_check`: the per-shard version checks on hand-made acknowledgements.
"""

from __future__ import annotations

import os
import random

import pytest

import multi_process as mp
from reliability_common import ReliabilityError, long_mode


def _seed() -> int:
    return int(os.environ.get("LITESTASH_SEED") or random.randrange(1 << 30))


def test_multi_process(tmp_path):
    seconds = float(os.environ.get("LITESTASH_MULTI_SECONDS") or (30 if long_mode() else 5))
    result = mp.run(seconds, _seed(), data_dir=tmp_path / "data")
    assert result["acknowledged_writes"] > 0 and result["keys_written"] == 200
    # the read checks ran on something: gets were sent and some found a value
    assert result["reads_checked"] > 0 and result["reads_found"] > 0, result


def test_final_check_can_fail(tmp_path):
    with pytest.raises(ReliabilityError, match="acknowledged set with the highest version"):
        mp.run(1.0, _seed(), data_dir=tmp_path / "data", verbose=False, sabotage=True)


def test_shard_order_check():
    k = "mp:1"
    ok = [mp.Ack(k, "a", 10, 0, sent=0.0, acked=1.0), mp.Ack(k, "b", 11, 1, sent=2.0, acked=3.0)]
    mp.check_shard_order(ok)
    with pytest.raises(ReliabilityError, match="acknowledged twice"):
        mp.check_shard_order(ok + [mp.Ack(k, "c", 11, 2, sent=4.0, acked=5.0)])
    with pytest.raises(ReliabilityError, match="lower version"):
        # sent after version 11 was acknowledged, yet it got version 9
        mp.check_shard_order(ok + [mp.Ack(k, "c", 9, 2, sent=4.0, acked=5.0)])
