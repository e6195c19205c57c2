"""Regression tests for back-pressure and start-up refusals, with a host that stops reading.

Each test here failed against an earlier build:
- answers waiting for a host that does not read were not counted against
  --max-inflight-bytes, so large answers piled up in memory;
- SIGTERM was not noticed while reading was paused for back-pressure (the engine hung);
- a data dir started with a larger --shards got new shard files before the refusal.

Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/reliability/test_backpressure.py
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import threading
import time

import msgpack

from engine_proc import engine_path
from reliability_common import rss_kib


def frame(obj) -> bytes:
    body = msgpack.packb(obj, use_bin_type=True)
    return struct.pack(">I", len(body)) + body


def read_frame(stream):
    header = stream.read(4)
    if len(header) < 4:
        return None
    (n,) = struct.unpack(">I", header)
    return msgpack.unpackb(stream.read(n), raw=False)


def spawn(data_dir, *flags):
    return subprocess.Popen([engine_path(), "--data-dir", str(data_dir), "--log-level", "warn",
                             *flags], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


class Flooder(threading.Thread):
    """Writes `count` copies of one request (ids 1000..) and records how many got through."""

    def __init__(self, proc, request: dict, count: int):
        super().__init__(daemon=True)
        self.proc, self.request, self.count, self.sent = proc, request, count, 0

    def run(self):
        try:
            for i in range(self.count):
                self.proc.stdin.write(frame({**self.request, "id": 1000 + i}))
                self.proc.stdin.flush()
                self.sent += 1
        except (BrokenPipeError, OSError, ValueError):
            pass


def test_unread_answers_are_bounded_by_max_inflight_bytes(tmp_path):
    value = b"v" * (64 * 1024)
    count = 20_000  # 20k gets of a 64 KiB value = 1.3 GB of answers if nothing holds them back
    proc = spawn(tmp_path / "data", "--max-inflight-bytes", str(1 << 20),
                 "--max-inflight", "1000000")
    try:
        proc.stdin.write(frame({"id": 1, "op": "set", "key": "big", "value": value}))
        proc.stdin.flush()
        assert read_frame(proc.stdout)["ok"] is True
        base = rss_kib(proc.pid)
        flood = Flooder(proc, {"op": "get", "key": "big"}, count)
        flood.start()
        time.sleep(3)
        grown_mib = (rss_kib(proc.pid) - base) / 1024
        # The engine stops reading: the pipe (64 KiB) and one read (256 KiB) hold the rest.
        assert flood.is_alive() and flood.sent < count, "the engine kept reading"
        assert grown_mib < 64, f"engine grew {grown_mib:.0f} MiB holding unread answers"
        # Reading again lets answers through, each whole and correct.
        for _ in range(200):
            got = read_frame(proc.stdout)
            assert got is not None and got["ok"] is True and got["value"] == value
    finally:
        proc.kill()
        proc.wait(30)


def test_sigterm_is_taken_while_reading_is_paused(tmp_path):
    proc = spawn(tmp_path / "data", "--max-inflight", "64")
    try:
        flood = Flooder(proc, {"op": "set", "key": "k", "value": "x" * 100}, 200_000)
        flood.start()
        time.sleep(1.5)  # nobody reads: the engine pauses with 64 in flight and the pipes full
        assert flood.is_alive() and flood.sent < 200_000
        proc.send_signal(signal.SIGTERM)
        # Committed work, answers undeliverable: it must give up after its drain deadline (10 s)
        # with exit 74 rather than hang.
        code = proc.wait(30)
        assert code == 74, f"exit {code}; stderr: {proc.stderr.read().decode()!r}"
        assert b"not reading" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_refused_start_creates_no_shard_files(tmp_path):
    data = tmp_path / "data"
    first = spawn(data, "--shards", "4")
    first.stdin.close()
    assert first.wait(30) == 0
    before = sorted(os.listdir(data))
    bigger = spawn(data, "--shards", "8")
    bigger.stdin.close()
    assert bigger.wait(30) == 65
    assert sorted(os.listdir(data)) == before, "the refused start created files"
    assert b"4 shards" in bigger.stderr.read()
