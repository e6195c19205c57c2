"""pytest fixtures for the litestash-engine black-box conformance suite.

- `data_dir`: a fresh, not yet existing data directory under pytest's tmp_path (the engine
  must create it).
- `start_engine`: factory `start_engine(data_dir=None, shards=16, log_level="warn",
  extra=(), keep_raw=False, expect_exit=0)` returning a running `EngineProcess`. When the
  test ends, every engine it started that still runs gets its stdin closed and must exit on
  its own within 10 s (it is killed only if it does not), and every engine's exit status must
  be `expect_exit` (also settable later with `eng.expect_exit(...)`); otherwise the test
  fails at teardown with the engine's stderr tail. Engines the test signalled or killed
  itself (`eng.signal()`, `eng.kill()`) are exempt. A sanitizer build's leak report (LSan
  runs only at a normal exit) makes the exit status non-zero, so leaks fail the test.
- `engine`: one engine on `data_dir` with `--shards 16 --log-level warn`.
- `expect_error`: sends a raw request body, checks the error answer (code and id), then
  checks that a following `ping` still succeeds. `check_error` is the plain assertion.

Run the suite from the repository root:
    /usr/bin/python3 -m pytest -q conformance/blackbox
The engine binary is taken from env LITESTASH_ENGINE, else <repo>/build/litestash-engine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
pytest.register_assert_rewrite("engine_proc")

from engine_proc import EngineProcess, check_error, cleanup_all, engine_path  # noqa: E402


def pytest_report_header(config):
    return f"litestash engine binary: {engine_path()}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def start_engine(data_dir: Path):
    started: list[EngineProcess] = []

    def start(dir_: Path | str | None = None, *, shards: int | None = 16,
              log_level: str = "warn", extra=(), keep_raw: bool = False,
              expect_exit: int | tuple[int, ...] = 0) -> EngineProcess:
        if not os.path.exists(engine_path()):
            pytest.fail(f"engine binary missing: {engine_path()} "
                        "(build it, or point LITESTASH_ENGINE at it)")
        args = []
        if shards is not None:
            args += ["--shards", str(shards)]
        if log_level is not None:
            args += ["--log-level", log_level]
        args += list(extra)
        eng = EngineProcess(args, dir_ if dir_ is not None else data_dir, keep_raw=keep_raw,
                            expect_exit=expect_exit)
        started.append(eng)
        return eng

    yield start
    problems = cleanup_all(started)
    if problems:
        pytest.fail("engine(s) did not end cleanly at teardown:\n\n" + "\n\n".join(problems),
                    pytrace=False)


@pytest.fixture
def engine(start_engine) -> EngineProcess:
    return start_engine()


@pytest.fixture
def expect_error():
    """`expect_error(engine, body, code, req_id)`: send a raw body, check the answer carries
    error `code` with id `req_id` (None for id-nil answers), then check a ping succeeds."""

    def run(eng: EngineProcess, body: bytes, code: str, req_id) -> dict:
        eng.send_frame(body)
        resp = eng.recv(req_id)
        check_error(resp, code, req_id)
        ping = eng.call("ping")
        assert ping.get("ok") is True, f"ping after {code} failed: {ping!r}"
        return resp

    return run
