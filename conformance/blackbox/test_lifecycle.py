"""Process lifecycle: clean EOF, SIGTERM/SIGINT under pipelined writes, a truncated final
frame (exit 2), SIGKILL under pipelined writes (no acknowledged write lost), and stdout
carrying nothing but frames even at verbose log levels.

The signal tests run a writer thread that keeps pipelining `set` requests until the engine
stops reading (its stdin write fails), while the main thread reads answers; so the signal
always arrives while writes are in flight.
"""

from __future__ import annotations

import random
import signal
import struct
import threading
import time

import pytest

from engine_proc import EngineExited, EngineProcess, frame, pack, unpack


class PipelinedWriter(threading.Thread):
    """Writes `make_req(i)` for i = 0, 1, ... in chunks until stopped or stdin breaks.
    Every request is recorded in `sent` (id -> request) before its bytes are written."""

    def __init__(self, eng: EngineProcess, make_req, chunk: int = 64, limit: int = 400_000):
        super().__init__(daemon=True)
        self.eng, self.make_req, self.chunk, self.limit = eng, make_req, chunk, limit
        self.sent: dict[int, dict] = {}
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        i = 0
        try:
            while not self.halt.is_set() and i < self.limit:
                reqs = [self.make_req(i + j) for j in range(self.chunk)]
                for r in reqs:
                    self.sent[r["id"]] = r
                self.eng.send_raw(b"".join(frame(pack(r)) for r in reqs))
                i += self.chunk
        except (BrokenPipeError, ConnectionResetError, OSError, ValueError) as exc:
            self.error = exc       # the engine stopped reading / exited: expected


def run_until_signal(eng: EngineProcess, writer: PipelinedWriter, sig: int,
                     min_acks: int, rng: random.Random, timeout: float = 60.0):
    """Read answers while `writer` pipelines; after `min_acks` answers and a random extra
    delay, send `sig`; keep reading until stdout closes. Returns (answers by id, exit code)."""
    answers: dict[int, dict] = {}
    writer.start()
    signal_at = None
    deadline = time.monotonic() + timeout
    while True:
        if signal_at is None and len(answers) >= min_acks:
            signal_at = time.monotonic() + rng.uniform(0.0, 0.3)
        if signal_at is not None and time.monotonic() >= signal_at:
            eng.signal(sig)
            signal_at = float("inf")
        assert time.monotonic() < deadline, "engine did not finish after the signal"
        try:
            body = eng.read_frame(timeout=0.05 if signal_at not in (None, float("inf"))
                                  else max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            continue
        except EngineExited:
            break
        msg = unpack(body)
        rid = msg.get("id")
        assert rid in writer.sent, f"answer for an id never sent: {msg!r}"
        assert rid not in answers, f"id {rid} answered twice"
        answers[rid] = msg
    code = eng.wait(30)
    writer.halt.set()
    writer.join(30)
    assert not writer.is_alive()
    return answers, code


def scan_keys(eng: EngineProcess, prefix: str) -> list[str]:
    keys, after = [], None
    while True:
        req = {"prefix": prefix, "limit": 10000}
        if after is not None:
            req["after"] = after
        r = eng.ok("scan", **req)
        keys += r["keys"]
        if not r["more"]:
            return keys
        after = r["keys"][-1]


def test_clean_eof_answers_everything(start_engine):
    eng = start_engine()
    reqs = [{"id": i, "op": "set", "key": f"eof:{i}", "value": i} for i in range(1, 801)]
    eng.send_raw(b"".join(frame(pack(r)) for r in reqs))
    eng.close_stdin()                       # immediately, at a frame boundary
    answers = [unpack(b) for b in eng.drain(60)]
    assert eng.wait() == 0
    assert sorted(a["id"] for a in answers) == list(range(1, 801))
    assert all(a["ok"] is True for a in answers)
    assert eng.trailing_stdout == b""
    again = start_engine()
    assert again.ok("count")["count"] == 800
    assert again.ok("get", key="eof:800")["value"] == 800


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_idle_signal_exits_cleanly(start_engine, sig):
    eng = start_engine()
    eng.ok("set", key="k", value=1)
    eng.signal(sig)
    assert eng.wait(15) == 0
    assert eng.drain() == []
    again = start_engine()
    assert again.ok("get", key="k")["value"] == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_under_pipelined_writes(start_engine, sig):
    rng = random.Random(int(sig) * 7919)
    eng = start_engine()
    writer = PipelinedWriter(eng, lambda i: {"id": i + 1, "op": "set", "key": f"sig:{i + 1}",
                                              "value": i + 1})
    answers, code = run_until_signal(eng, writer, sig, min_acks=300, rng=rng)
    assert code == 0, f"exit {code}; stderr: {eng.stderr_text()[-2000:]}"
    assert eng.trailing_stdout == b"", "stdout ended inside a frame"
    assert len(writer.sent) > len(answers), "the signal did not arrive with writes in flight"
    ok_ids = {rid for rid, a in answers.items() if a["ok"] is True}
    refused = {rid: a for rid, a in answers.items() if a["ok"] is not True}
    for rid, a in refused.items():
        assert a["error"]["code"] == "shutting_down", f"unexpected answer {a!r}"
    assert len(ok_ids) >= 300

    again = start_engine()
    applied = {int(k.split(":")[1]) for k in scan_keys(again, "sig:")}
    lost = ok_ids - applied
    assert not lost, f"{len(lost)} acknowledged writes lost, e.g. {sorted(lost)[:5]}"
    unanswered = applied - set(answers)
    assert not unanswered, (f"{len(unanswered)} writes applied but never answered, "
                            f"e.g. {sorted(unanswered)[:5]}")
    wrongly = applied & set(refused)
    assert not wrongly, f"writes answered shutting_down were applied: {sorted(wrongly)[:5]}"
    sample = max(ok_ids)
    assert again.ok("get", key=f"sig:{sample}")["value"] == sample


@pytest.mark.parametrize("tail", [struct.pack(">I", 100) + b"0123456789", b"\x00\x00"],
                         ids=["short-body", "short-header"])
def test_truncated_final_frame_exits_2(start_engine, tail):
    eng = start_engine()
    reqs = [{"id": i, "op": "set", "key": f"tr:{i}", "value": i} for i in range(1, 301)]
    reqs += [{"id": 301, "op": "get", "key": "tr:1"}, {"id": 302, "op": "ping"}]
    eng.send_raw(b"".join(frame(pack(r)) for r in reqs) + tail)
    eng.close_stdin()
    answers = {a["id"]: a for a in map(unpack, eng.drain(60))}
    code = eng.wait()
    assert code == 2, f"exit {code}; stderr: {eng.stderr_text()[-2000:]}"
    assert sorted(answers) == list(range(1, 303))
    assert all(a["ok"] is True for a in answers.values())
    assert answers[301]["value"] == 1
    again = start_engine()
    assert again.ok("count")["count"] == 300


def test_sigkill_loses_no_acknowledged_write(start_engine, tmp_path):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    nkeys = 200
    for round_ in range(5):
        d = tmp_path / f"kill{round_}"
        eng = start_engine(d)

        def make(i):
            return {"id": i + 1, "op": "set", "key": f"kill:{i % nkeys}",
                    "value": f"{i + 1}:{'x' * (i % 32)}"}

        writer = PipelinedWriter(eng, make)
        answers, code = run_until_signal(eng, writer, signal.SIGKILL,
                                         min_acks=rng.randrange(50, 3000), rng=rng)
        assert code == -signal.SIGKILL
        for a in answers.values():
            assert a["ok"] is True, a
        last_ack: dict[str, int] = {}
        for rid in answers:
            key = writer.sent[rid]["key"]
            last_ack[key] = max(last_ack.get(key, 0), rid)

        again = start_engine(d)
        keys = [f"kill:{k}" for k in range(nkeys)]
        g = again.ok("mget", keys=keys)
        for key, found, value in zip(keys, g["found"], g["values"]):
            if key not in last_ack:
                if found:                # an unacknowledged write may survive, if it was sent
                    rid = int(value.split(":")[0])
                    assert rid in writer.sent and writer.sent[rid]["key"] == key
                continue
            assert found, f"seed {seed}: {key} lost (last ack id {last_ack[key]})"
            rid = int(value.split(":")[0])
            assert rid in writer.sent and writer.sent[rid]["key"] == key, (seed, key, value)
            assert writer.sent[rid]["value"] == value
            assert rid >= last_ack[key], (f"seed {seed}: {key} holds write {rid}, older than "
                                          f"acknowledged write {last_ack[key]}")
        assert again.stop() == 0


@pytest.mark.parametrize("level", ["debug", "trace"])
def test_stdout_carries_only_frames(start_engine, level):
    eng = start_engine(log_level=level, keep_raw=True)
    bodies = [pack({"id": 1, "op": "hello"}), pack({"id": 2, "op": "set", "key": "a",
                                                    "value": 1}),
              pack({"id": 3, "op": "get", "key": "a"}), pack({"id": 4, "op": "nope"}),
              pack({"id": 5, "op": "get", "key": ""}), b"\xc1",
              pack({"id": 6, "op": "scan"}), pack({"id": 7, "op": "stats"}),
              pack({"id": 8, "op": "sync"}), pack({"id": 9, "op": "mset",
                                                   "entries": [["b", 2], ["c", 3]]})]
    eng.send_raw(b"".join(frame(b) for b in bodies) + b"\x00\x00\x00\x00")
    for i in range(1, 10):
        eng.recv(i)
    assert eng.stop() == 0
    raw = bytes(eng.raw_stdout)
    pos, count = 0, 0
    while pos < len(raw):
        assert pos + 4 <= len(raw), "stdout ends with a partial length header"
        n = struct.unpack(">I", raw[pos:pos + 4])[0]
        body = raw[pos + 4:pos + 4 + n]
        assert len(body) == n, "stdout ends inside a frame"
        msg = unpack(body)   # raises on trailing bytes or invalid MessagePack
        assert isinstance(msg, dict) and "ok" in msg and "id" in msg, msg
        pos += 4 + n
        count += 1
    assert count == len(bodies) + 1
