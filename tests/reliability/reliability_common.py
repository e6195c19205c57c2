"""Shared helpers for the process-level reliability suites in tests/reliability/.

Importing this module puts conformance/blackbox on `sys.path`, so the suites reuse
`engine_proc` (engine spawning, framing, raw MessagePack slicing) instead of writing their own.

Contents:
- `long_mode()`: true when env LITESTASH_LONG=1 selects the long variants.
- `rss_kib(pid)`: a process's resident set size (VmRSS from /proc/<pid>/status), in KiB.
- `integrity_check(data_dir)`: `PRAGMA integrity_check` on every shard file, run on a copy of
  the files (db + -wal + -shm) so the engine's own crash recovery still runs on the originals.
  The copy goes to /dev/shm when it exists (the crash loop copies ~64 MiB of WAL per cycle).
- `shard_files(data_dir)`: the shard-NN.db files of a data dir.
- `ReliabilityError`: raised by the script-style checkers (crash loop, multi process).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BLACKBOX = REPO / "conformance" / "blackbox"
if str(BLACKBOX) not in sys.path:
    sys.path.insert(0, str(BLACKBOX))


class ReliabilityError(AssertionError):
    """A reliability property did not hold (the message says which and where)."""


def long_mode() -> bool:
    return os.environ.get("LITESTASH_LONG", "") not in ("", "0")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ReliabilityError(f"no VmRSS for pid {pid}")


def shard_files(data_dir: Path | str) -> list[Path]:
    return sorted(Path(data_dir).glob("shard-*.db"))


def integrity_check(data_dir: Path | str, expected_shards: int | None = None) -> int:
    """Run `PRAGMA integrity_check` on a copy of every shard file (with its -wal / -shm, so the
    copy sees exactly what a restarted engine would). Raises ReliabilityError unless every file
    answers "ok". Returns the number of shard files checked. Must run while no engine has the
    files open (after SIGKILL or a clean stop)."""
    files = shard_files(data_dir)
    if expected_shards is not None and len(files) != expected_shards:
        raise ReliabilityError(f"expected {expected_shards} shard files in {data_dir}, "
                               f"found {[f.name for f in files]}")
    scratch = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="litestash-integrity-", dir=scratch) as tmp:
        for db in files:
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(db) + suffix)
                if src.exists():
                    shutil.copyfile(src, Path(tmp) / (db.name + suffix))
            conn = sqlite3.connect(str(Path(tmp) / db.name))
            try:
                rows = conn.execute("PRAGMA integrity_check").fetchall()
            finally:
                conn.close()
            if rows != [("ok",)]:
                raise ReliabilityError(f"integrity_check of {db.name}: {rows[:10]!r}")
    return len(files)
