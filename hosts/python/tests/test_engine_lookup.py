"""How the engine binary is found (engine= argument, then $LITESTASH_ENGINE, then
`litestash-engine` on $PATH, then the interpreter's scripts dirs), what the error says when there
is none, and the default `--log-level warn`."""
import os

import pytest

from litestash import EngineNotFound, LiteStash, protocol
from litestash.protocol import engine_argv, find_engine


@pytest.fixture
def bin_dir(engine, tmp_path):
    """A directory holding `litestash-engine` (a symlink to the real one), for $PATH."""
    d = tmp_path / "bin"
    d.mkdir()
    os.symlink(engine, d / "litestash-engine")
    return str(d)


def test_explicit_path_wins(engine, monkeypatch):
    monkeypatch.setenv("LITESTASH_ENGINE", "/nonexistent/env-engine")
    assert find_engine(engine) == engine
    with pytest.raises(EngineNotFound) as ei:
        find_engine("/nonexistent/explicit-engine")
    assert "not found" in str(ei.value) and "/nonexistent/explicit-engine" in str(ei.value)
    assert isinstance(ei.value, FileNotFoundError) and ei.value.code == "engine_not_found"


def test_env_before_path_and_a_wrong_env_is_reported(engine, bin_dir, monkeypatch):
    monkeypatch.setenv("PATH", bin_dir)
    monkeypatch.setenv("LITESTASH_ENGINE", engine)
    assert find_engine() == engine
    monkeypatch.setenv("LITESTASH_ENGINE", "/nonexistent/env-engine")
    with pytest.raises(EngineNotFound) as ei:
        find_engine()
    assert "LITESTASH_ENGINE" in str(ei.value) and "/nonexistent/env-engine" in str(ei.value)


def test_path_last_then_nowhere(bin_dir, data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("LITESTASH_ENGINE", raising=False)
    monkeypatch.setenv("PATH", bin_dir)
    assert find_engine() == os.path.join(bin_dir, "litestash-engine")
    assert find_engine("litestash-engine") == os.path.join(bin_dir, "litestash-engine")
    with LiteStash(data_dir=data_dir) as db:
        assert db.ping() is True
    empty = str(tmp_path / "empty")
    os.mkdir(empty)
    monkeypatch.setenv("PATH", empty)
    monkeypatch.setattr(protocol, "scripts_dirs", lambda: [empty])
    with pytest.raises(EngineNotFound) as ei:
        LiteStash(data_dir=data_dir)
    msg = str(ei.value)
    assert "engine=" in msg and "LITESTASH_ENGINE is not set" in msg and empty in msg


def test_scripts_dir_after_path(bin_dir, data_dir, tmp_path, monkeypatch):
    """An engine pip installed into this environment's bin/ (the litestash-engine wheel) is
    found without that bin/ on $PATH, as when a venv's python runs without activation."""
    monkeypatch.delenv("LITESTASH_ENGINE", raising=False)
    empty = str(tmp_path / "empty")
    os.mkdir(empty)
    monkeypatch.setenv("PATH", empty)
    monkeypatch.setattr(protocol, "scripts_dirs", lambda: [empty, bin_dir])
    assert find_engine() == os.path.join(bin_dir, "litestash-engine")
    with LiteStash(data_dir=data_dir) as db:
        assert db.ping() is True


def test_scripts_dirs_start_with_this_interpreters():
    import sysconfig
    assert protocol.scripts_dirs()[0] == sysconfig.get_path("scripts")


def _log_level(argv):
    return argv[argv.index("--log-level") + 1] if "--log-level" in argv else None


def test_engine_logs_at_warn_unless_told_otherwise(engine, data_dir):
    assert _log_level(engine_argv(engine, data_dir, 16, {})) == "warn"
    assert _log_level(engine_argv(engine, data_dir, 16, {"log_level": "debug"})) == "debug"
    assert _log_level(engine_argv(engine, data_dir, 16, {"log_level": None})) is None
    with LiteStash(data_dir=data_dir, engine=engine) as db:
        assert _log_level(db.argv) == "warn"
        with open("/proc/%d/cmdline" % db.pid, "rb") as f:
            assert b"\0--log-level\0warn\0" in f.read()
        assert "[info]" not in db.process.stderr_tail(wait=0.2)
