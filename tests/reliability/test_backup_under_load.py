"""pytest wrapper for backup_under_load.py: backups taken while 2 engines run txn transfers
must each open as one consistent point (total conserved exactly, no transfer held on one
account only, every transfer acknowledged before the request held, the stream agreeing).

- `test_backup_under_load`: 6 s of load with 3 backups by default, 30 s with LITESTASH_LONG=1
  (or LITESTASH_BACKUP_SECONDS); the seed is random unless LITESTASH_SEED is set.
- `test_backup_check_can_fail[early|split]`: a backup request timed 0.5 s late, and a transfer
  forgotten on one of its accounts, must make the check fail.
"""

from __future__ import annotations

import os
import random

import pytest

import backup_under_load as bl
from reliability_common import ReliabilityError, long_mode


def _seed() -> int:
    return int(os.environ.get("LITESTASH_SEED") or random.randrange(1 << 30))


def test_backup_under_load(tmp_path):
    seconds = float(os.environ.get("LITESTASH_BACKUP_SECONDS") or (30 if long_mode() else 6))
    seed = _seed()
    print(f"backup under load seed {seed}")
    result = bl.run(seconds, seed, work_dir=tmp_path)
    assert result["commits"] > 0 and len(result["backups"]) == 3, result
    assert {b["by"] for b in result["backups"]} >= {"the idle engine", "transfer engine 0"}
    for b in result["backups"]:
        assert b["acked_before"] > 0 and b["held"] >= b["acked_before"], result
    # later backups hold more
    held = [b["held"] for b in result["backups"]]
    assert held == sorted(held), result


@pytest.mark.parametrize("how,match", [("early", "acknowledged before the backup request"),
                                       ("split", "part of a transaction")])
def test_backup_check_can_fail(tmp_path, how, match):
    with pytest.raises(ReliabilityError, match=match):
        bl.run(3.0, _seed(), work_dir=tmp_path, verbose=False, sabotage=how)
