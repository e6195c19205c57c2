"""Process lifecycle: clean EOF, SIGTERM/SIGINT under pipelined writes, a truncated final
frame (exit 2), SIGKILL under pipelined writes (no acknowledged write lost), stdout
carrying nothing but frames even at verbose log levels, and a host that closes stdout: with
stdin (the session's end, exit 0) or without (exit 74).

The signal tests run a writer thread that keeps pipelining `set` requests until the engine
stops reading (its stdin write fails), while the main thread reads answers. Each checks that
the signal did arrive while writes were in flight: some requests whose bytes were completely
written before the signal was sent were not answered (they were still in the engine's stdin
pipe or inside the engine). The writer may only stop on a broken pipe after the signal; any
other error (or a broken pipe before the signal) fails the test.
"""

from __future__ import annotations

import os
import random
import signal
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from engine_proc import EngineExited, EngineProcess, engine_path, frame, pack, unpack


class PipelinedWriter(threading.Thread):
    """Writes `make_req(i)` for i = 0, 1, ... in chunks until stopped or stdin breaks.
    Every request is recorded in `sent` (id -> request) before its bytes are written, and its
    id is appended to `written` once the write of its chunk has returned.
    Set `signalled` just before signalling the engine: a broken pipe after that is the
    expected end (`pipe_error`); any other exception, or a broken pipe before the signal, is
    kept in `error` and fails `run_until_signal`."""

    def __init__(self, eng: EngineProcess, make_req, chunk: int = 64, limit: int = 400_000):
        super().__init__(daemon=True)
        self.eng, self.make_req, self.chunk, self.limit = eng, make_req, chunk, limit
        self.sent: dict[int, dict] = {}
        self.written: list[int] = []
        self.halt = threading.Event()
        self.signalled = threading.Event()
        self.pipe_error: BaseException | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        i = 0
        try:
            while not self.halt.is_set() and i < self.limit:
                reqs = [self.make_req(i + j) for j in range(self.chunk)]
                for r in reqs:
                    self.sent[r["id"]] = r
                self.eng.send_raw(b"".join(frame(pack(r)) for r in reqs))
                self.written.extend(r["id"] for r in reqs)
                i += self.chunk
        except (BrokenPipeError, ConnectionResetError) as exc:
            if self.signalled.is_set():
                self.pipe_error = exc       # the engine stopped reading / exited: expected
            else:
                self.error = exc
        except BaseException as exc:        # noqa: BLE001 - reported by run_until_signal
            self.error = exc


def run_until_signal(eng: EngineProcess, writer: PipelinedWriter, sig: int,
                     min_acks: int, rng: random.Random, timeout: float = 60.0,
                     attempts: int = 100):
    """Read answers while `writer` pipelines; after `min_acks` answers and a random extra
    delay, deliver `sig` at an instant when writes are in flight; keep reading until stdout
    closes. Returns (answers by id, exit code, in flight).

    To know what is in flight when the signal lands, the engine is frozen (SIGSTOP) first.
    `in flight` is the list of requests whose write had completed before the freeze and whose
    answer the engine had not written by then (read after the frozen engine's stdout is
    drained): they were in its stdin pipe or inside it. If there are none (the engine had
    caught up with the writer), it is resumed and frozen again a little later, up to
    `attempts` times. Then `sig` is sent to the frozen engine, which is resumed, so the
    signal takes effect at the instant of the freeze. Fails if the writer stopped for any
    reason but a broken pipe after the signal."""
    answers: dict[int, dict] = {}

    def take(body: bytes) -> None:
        msg = unpack(body)
        rid = msg.get("id")
        assert rid in writer.sent, f"answer for an id never sent: {msg!r}"
        assert rid not in answers, f"id {rid} answered twice"
        answers[rid] = msg

    def settle() -> None:
        """While the engine is frozen: take every answer it has written."""
        quiet_since = time.monotonic()
        while True:
            try:
                take(eng.read_frame(timeout=0.02))
                quiet_since = time.monotonic()
                continue
            except TimeoutError:
                pass
            if eng.unread_stdout_bytes() == 0 and time.monotonic() - quiet_since >= 0.05:
                return

    writer.start()
    deadline = time.monotonic() + timeout
    while len(answers) < min_acks:
        assert time.monotonic() < deadline, f"only {len(answers)} answers before the deadline"
        assert writer.error is None, f"the writer failed: {writer.error!r}"
        try:
            take(eng.read_frame(timeout=max(0.1, deadline - time.monotonic())))
        except TimeoutError:
            continue
    in_flight: list[int] = []
    for _ in range(attempts):
        wait_until = time.monotonic() + rng.uniform(0.0, 0.3)
        while time.monotonic() < wait_until:
            try:
                take(eng.read_frame(timeout=0.01))
            except TimeoutError:
                pass
        assert writer.error is None, f"the writer failed before the signal: {writer.error!r}"
        assert writer.is_alive(), "the writer stopped before the signal"
        written = len(writer.written)        # writes completed before the freeze
        eng.pause()
        settle()
        in_flight = [rid for rid in writer.written[:written] if rid not in answers]
        if in_flight:
            writer.signalled.set()
            eng.signal(sig)
            eng.resume()
            break
        eng.resume()
    else:
        raise AssertionError(f"no write was in flight at any of {attempts} freezes")
    while True:
        assert time.monotonic() < deadline + 30, "engine did not finish after the signal"
        try:
            take(eng.read_frame(timeout=max(0.1, deadline + 30 - time.monotonic())))
        except TimeoutError:
            continue
        except EngineExited:
            break
    code = eng.wait(30)
    writer.halt.set()
    writer.join(30)
    assert not writer.is_alive()
    if writer.error is not None:
        raise AssertionError(f"the writer failed: {writer.error!r}") from writer.error
    if sig == signal.SIGKILL:     # nothing is answered after a SIGKILL: exact
        assert all(rid not in answers for rid in in_flight), "answers after SIGKILL"
    return answers, code, in_flight


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
    answers, code, in_flight = run_until_signal(eng, writer, sig, min_acks=300, rng=rng)
    assert code == 0, f"exit {code}; stderr: {eng.stderr_text()[-2000:]}"
    assert eng.trailing_stdout == b"", "stdout ended inside a frame"
    assert in_flight, "the signal did not arrive with writes in flight"
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
    eng = start_engine(expect_exit=2)
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
        answers, code, in_flight = run_until_signal(eng, writer, signal.SIGKILL,
                                                    min_acks=rng.randrange(50, 3000), rng=rng)
        assert code == -signal.SIGKILL
        assert in_flight, f"seed {seed}: no write was in flight when SIGKILL landed"
        for a in answers.values():
            assert a["ok"] is True, a
        last_ack: dict[str, int] = {}
        for rid in answers:
            key = writer.sent[rid]["key"]
            last_ack[key] = max(last_ack.get(key, 0), rid)

        again = start_engine(d)
        keys = [f"kill:{k}" for k in range(nkeys)]
        g = again.ok("mget", keys=keys)
        assert len(g["found"]) == len(g["values"]) == nkeys, g
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


def spawn_raw(data_dir) -> tuple[subprocess.Popen, tempfile.TemporaryFile]:
    """An engine on plain pipes, for tests that close its stdout (EngineProcess reads it)."""
    err = tempfile.TemporaryFile()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITESTASH_")}
    proc = subprocess.Popen([engine_path(), "--data-dir", str(data_dir), "--log-level", "info"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env)
    return proc, err


def read_answer(proc: subprocess.Popen) -> dict:
    (n,) = struct.unpack(">I", proc.stdout.read(4))
    return unpack(proc.stdout.read(n))


def stderr_of(err) -> str:
    err.seek(0)
    return err.read().decode(errors="replace")


def test_host_closing_both_pipes_ends_the_session(start_engine, data_dir):
    """What an Erlang Port.close does: both pipes close at once while a blocking read is
    parked. The engine answers nobody, commits everything, logs no error and exits 0."""
    proc, err = spawn_raw(data_dir)
    try:
        sets = [{"id": i, "op": "set", "key": f"bye:{i}", "value": i} for i in range(1, 201)]
        parked = {"id": 1000, "op": "xread", "stream": "never", "after": 0, "wait_ms": 60000}
        proc.stdin.write(b"".join(frame(pack(r)) for r in sets + [parked]))
        proc.stdin.write(frame(pack({"id": 1001, "op": "ping"})))
        proc.stdin.flush()
        answers = {read_answer(proc)["id"] for _ in range(201)}
        assert answers == set(range(1, 201)) | {1001}     # the xread is parked
        more = [{"id": i, "op": "set", "key": f"bye:{i}", "value": i} for i in range(201, 251)]
        proc.stdin.write(b"".join(frame(pack(r)) for r in more))
        proc.stdin.flush()
        proc.stdout.close()
        proc.stdin.close()
        code = proc.wait(30)
        text = stderr_of(err)
        assert code == 0, f"exit {code}; stderr: {text[-2000:]}"
        assert "[error]" not in text, text[-2000:]
        assert "the host closed stdout and stdin" in text, text[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    again = start_engine()
    assert again.ok("count")["count"] == 250
    assert again.ok("get", key="bye:250")["value"] == 250


def test_host_closing_only_stdout_exits_74(data_dir):
    """A host that stops taking answers but keeps stdin open went away mid-session: the
    engine logs the failed write as an error and, at stdin's end, exits 74."""
    proc, err = spawn_raw(data_dir)
    try:
        proc.stdin.write(frame(pack({"id": 1, "op": "ping"})))
        proc.stdin.flush()
        assert read_answer(proc)["id"] == 1
        proc.stdout.close()
        proc.stdin.write(frame(pack({"id": 2, "op": "set", "key": "k", "value": 1})))
        proc.stdin.flush()
        time.sleep(0.5)                 # well past the engine's grace for stdin to close too
        proc.stdin.close()
        code = proc.wait(30)
        text = stderr_of(err)
        assert code == 74, f"exit {code}; stderr: {text[-2000:]}"
        assert "writing responses to stdout failed: Broken pipe" in text, text[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
