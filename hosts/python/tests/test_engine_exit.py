"""A vanished or failing engine surfaces as EngineExited (with its exit status), never a hang,
and the engine's own exit codes for clean shutdown / truncated input are what the docs say."""
import asyncio
import os
import signal
import struct
import time

import msgpack
import pytest

from litestash import AsyncLiteStash, EngineExited, LiteStash
from litestash.process import EngineProcess


def test_sync_engine_killed(engine, data_dir):
    db = LiteStash(data_dir=data_dir, engine=engine, timeout=30)
    db.set("a", 1)
    os.kill(db.pid, signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(EngineExited) as ei:
        for _ in range(3):            # the first write may still fit in the pipe buffer
            db.get("a")
    assert time.monotonic() - t0 < 10
    assert ei.value.exit_status == -signal.SIGKILL and ei.value.code == "engine_exited"
    with pytest.raises(EngineExited):      # and it stays dead
        db.ping()
    db.close()                              # closing a dead client does not hang


def test_async_engine_killed_with_requests_in_flight(engine, data_dir):
    async def main():
        db = await AsyncLiteStash.open(data_dir=data_dir, engine=engine)
        try:
            await db.mset({"k%d" % i: "v" * 1000 for i in range(200)})
            tasks = [asyncio.ensure_future(db.get("k%d" % (i % 200))) for i in range(2000)]
            await asyncio.sleep(0)
            os.kill(db.pid, signal.SIGKILL)
            res = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 15)
            errors = [r for r in res if isinstance(r, Exception)]
            assert errors, "no request saw the engine die"
            assert all(isinstance(e, EngineExited) for e in errors), set(type(e) for e in errors)
            with pytest.raises(EngineExited):
                await db.ping()
        finally:
            await db._kill()
    asyncio.run(main())


def test_sigterm_while_idle_exits_zero(engine, data_dir):
    proc = EngineProcess([engine, "--data-dir", data_dir])
    try:
        proc.send(msgpack.packb({"id": 1, "op": "set", "key": "a", "value": 1}))
        assert msgpack.unpackb(proc.recv(10))["ok"] is True
        proc.terminate()
        assert proc.wait(10) == 0
    finally:
        proc.kill()
    with LiteStash(data_dir=data_dir, engine=engine) as db:
        assert db.get("a") == 1                 # acknowledged write survived


def test_stdin_closed_mid_frame_exits_2(engine, data_dir):
    proc = EngineProcess([engine, "--data-dir", data_dir])
    try:
        proc.send(msgpack.packb({"id": 1, "op": "set", "key": "a", "value": 1}))
        assert msgpack.unpackb(proc.recv(10))["ok"] is True
        proc.send_bytes(struct.pack(">I", 100) + b"\x82\xa2id")   # 5 of 100 body bytes
        assert proc.close(10) == 2
    finally:
        proc.kill()


def test_close_reports_nonzero_exit(engine, data_dir):
    db = LiteStash(data_dir=data_dir, engine=engine)
    db.process.send_bytes(struct.pack(">I", 50) + b"\x80")       # leave a frame unfinished
    with pytest.raises(EngineExited) as ei:
        db.close()
    assert ei.value.exit_status == 2


def test_engine_binary_missing(data_dir, tmp_path):
    with pytest.raises(FileNotFoundError):
        LiteStash(data_dir=data_dir, engine=str(tmp_path / "no-such-engine"))
