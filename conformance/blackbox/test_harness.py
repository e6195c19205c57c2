"""Self-tests of the suite's own harness (engine_proc.py), so its checks are known to fail when
they should:

- `pending()` / `drain()` / `read_frame()` see answers the reader thread has already queued,
  not only the ones `recv` set aside while looking for another id;
- teardown (`EngineProcess.cleanup`, used by conftest's `start_engine`) closes stdin, waits,
  and reports an engine that exits with an unexpected status (as a sanitizer build does after
  a leak report) or has to be killed, with the engine's stderr tail; it accepts a status the
  test declared with `expect_exit`, and leaves engines the test signalled to the test.

The teardown cases run small shell scripts standing in for the engine, so each outcome is
certain; the real engine is used for the frame-bookkeeping cases.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from engine_proc import EngineProcess, cleanup_all, frame, pack, unpack


def _wait_queued(eng: EngineProcess, n: int, timeout: float = 10.0) -> None:
    """Wait until the reader thread has queued at least `n` frames (without taking them)."""
    deadline = time.monotonic() + timeout
    while eng._frames.qsize() < n:
        assert time.monotonic() < deadline, f"the engine did not answer {n} frames"
        time.sleep(0.01)


def test_pending_sees_answers_already_queued(engine):
    engine.send_raw(frame(pack({"id": 1, "op": "ping"})) + frame(pack({"id": 2, "op": "ping"})))
    assert engine.recv(1) == {"id": 1, "ok": True}
    _wait_queued(engine, 1)               # id 2's answer is queued, not set aside by recv
    left = engine.pending()
    assert list(left) == [2], f"pending() missed a queued answer: {left!r}"
    assert left[2][0][0] == {"id": 2, "ok": True}
    assert engine.pending() == left, "pending() must not claim what it reports"
    assert engine.recv(2) == {"id": 2, "ok": True}
    assert engine.pending() == {}


def test_read_frame_and_drain_return_unclaimed_answers(engine):
    engine.send_raw(b"".join(frame(pack({"id": i, "op": "ping"})) for i in (1, 2, 3)))
    assert engine.recv(3) == {"id": 3, "ok": True}     # sets 1 and 2 aside (answered in order)
    assert unpack(engine.read_frame()) == {"id": 1, "ok": True}
    engine.send_raw(frame(pack({"id": 4, "op": "ping"})))
    _wait_queued(engine, 1)
    assert engine.pending().keys() == {2, 4}
    assert engine.stop() == 0
    assert [unpack(b)["id"] for b in engine.drain()] == [2, 4], "drain() lost unclaimed answers"
    assert engine.drain() == []


def _fake_engine(tmp_path: Path, name: str, script: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


LEAKY = ('cat >/dev/null\n'
         'echo "==1==ERROR: LeakSanitizer: detected memory leaks" >&2\n'
         'exit 23\n')


def test_cleanup_reports_bad_exit_status_with_stderr(tmp_path):
    eng = EngineProcess([], None, binary=_fake_engine(tmp_path, "leaky", LEAKY))
    problem = eng.cleanup(check=False)
    assert problem is not None and "exited with status 23" in problem, problem
    assert "LeakSanitizer: detected memory leaks" in problem, problem
    assert eng.proc.returncode == 23, "cleanup killed an engine that was exiting on its own"


def test_cleanup_raises_by_default(tmp_path):
    eng = EngineProcess([], None, binary=_fake_engine(tmp_path, "leaky", LEAKY))
    try:
        eng.cleanup()
    except AssertionError as exc:
        assert "status 23" in str(exc)
    else:
        raise AssertionError("cleanup() accepted exit status 23")


def test_cleanup_accepts_declared_exit_status(tmp_path):
    leaky = _fake_engine(tmp_path, "leaky", LEAKY)
    assert EngineProcess([], None, binary=leaky, expect_exit=23).cleanup() is None
    eng = EngineProcess([], None, binary=leaky)
    eng.expect_exit(2, 23)
    assert eng.cleanup() is None
    clean = _fake_engine(tmp_path, "clean", "cat >/dev/null\nexit 0\n")
    eng = EngineProcess([], None, binary=clean, expect_exit=23)
    assert "exited with status 0" in (eng.cleanup(check=False) or ""), \
        "an engine declared to fail exited 0 unnoticed"


def test_cleanup_kills_and_reports_an_engine_that_does_not_exit(tmp_path):
    stuck = _fake_engine(tmp_path, "stuck", "cat >/dev/null\necho stuck >&2\nexec sleep 60\n")
    eng = EngineProcess([], None, binary=stuck)
    t0 = time.monotonic()
    problem = eng.cleanup(check=False, timeout=1.0)
    assert time.monotonic() - t0 < 15
    assert problem is not None and "killed" in problem and "stuck" in problem, problem
    assert eng.proc.returncode == -signal.SIGKILL


def test_cleanup_leaves_signalled_engines_to_the_test(tmp_path):
    leaky = _fake_engine(tmp_path, "leaky", LEAKY)
    eng = EngineProcess([], None, binary=leaky)
    eng.kill()
    eng.wait()
    assert eng.cleanup() is None
    # cleanup_all cleans every engine and returns each problem
    engines = [EngineProcess([], None, binary=leaky) for _ in range(3)]
    engines[1].expect_exit(23)
    problems = cleanup_all(engines)
    assert len(problems) == 2 and all("status 23" in p for p in problems), problems
    assert all(e.proc.returncode == 23 for e in engines)
