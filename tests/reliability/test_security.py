"""Security checks: file modes, no host-supplied paths, and back-pressure under a request flood.

- File modes: with the test process's umask at 022 (so a careless engine would make 0755 /
  0644), the data dir the engine creates must be 0700 and every file in it (shard files,
  -wal, -shm) 0600, while the engine runs and after it stopped.
- No paths from the host: no op of the documented op tables (shared contract and
  docs/protocol.md, section 4) takes or returns a path-like field, `hello` reports none, a
  request carrying `path` / `file` / `dir` / … on any op is `bad_request`, ops that would touch
  files (`open`, `attach`, `restore`, …) are `unknown_op`, and keys that look like paths are
  plain keys: nothing appears outside the data dir and no extra file appears inside it.
  The one exception is `backup` (contract v2 section 7), whose `dir` names where the copy goes:
  it writes only into a new or empty directory, never into or over anything that exists (a
  file, a non-empty directory), and leaves those untouched.
- Flood: 200 000 `set`s (1 000 000 with LITESTASH_LONG=1) written as fast as possible with
  `--max-inflight 64` while the test reads *no* answers at first. The engine must push back
  (the writer blocks long before all requests are written) and stay small (RSS below
  200 MiB); then, once the answers are read, every request is answered exactly once, all ok,
  and `count` plus `mget` of every key prove that every acknowledged write is present.
"""

from __future__ import annotations

import os
import re
import stat
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from engine_proc import EngineProcess, check_error, cleanup_all, frame, pack, unpack
from reliability_common import REPO, long_mode, rss_kib

RSS_LIMIT_KIB = 200 << 10
PATHY = {"path", "file", "filename", "dir", "directory", "data_dir", "db", "database",
         "folder", "filepath", "url", "uri", "location", "dest", "destination", "source", "src"}
V1_OPS = ["hello", "ping", "set", "get", "delete", "exists", "mset", "mget", "mdelete",
          "scan", "count", "clear", "expire", "ttl", "persist", "stats", "sync"]
STREAM_OPS = ["xadd", "xget", "xrange", "xread", "xinfo", "xtrim", "xdrop", "xstreams", "xcommit",
              "xoffset"]
V2_OPS = ["versions", "txn", "compact"]
ALL_OPS = V1_OPS + STREAM_OPS + V2_OPS
VALID = {"set": {"key": "k", "value": 1}, "get": {"key": "k"}, "delete": {"key": "k"},
         "exists": {"key": "k"}, "mset": {"entries": [["k", 1]]}, "mget": {"keys": ["k"]},
         "mdelete": {"keys": ["k"]}, "expire": {"key": "k", "ttl_ms": 10_000_000},
         "ttl": {"key": "k"}, "persist": {"key": "k"},
         "xadd": {"stream": "s", "value": 1}, "xget": {"stream": "s", "ids": [1]},
         "xrange": {"stream": "s"}, "xread": {"stream": "s", "after": 0},
         "xinfo": {"stream": "s"}, "xtrim": {"stream": "s", "maxlen": 1},
         "xdrop": {"stream": "s"}, "xcommit": {"stream": "s", "group": "g", "entry_id": 0},
         "xoffset": {"stream": "s", "group": "g"}, "versions": {"key": "k"},
         "txn": {"ops": [{"op": "set", "key": "k", "value": 1}]}, "compact": {}}


def start(path: Path, *extra: str) -> EngineProcess:
    return EngineProcess(["--shards", "16", "--log-level", "warn", *extra], path)


@pytest.fixture
def engines():
    """Engines a test started; at teardown each must exit cleanly on stdin EOF."""
    started: list[EngineProcess] = []
    yield started
    problems = cleanup_all(started)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


# --------------------------------------------------------------------------- file modes

def _modes(data_dir: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in data_dir.iterdir()}


def test_data_dir_0700_and_files_0600_despite_umask_022(tmp_path, engines):
    data_dir = tmp_path / "data"
    old = os.umask(0o022)
    try:
        eng = start(data_dir)
        engines.append(eng)
        # writes on every shard, so -wal and -shm files exist for all of them
        eng.ok("mset", entries=[[f"m{i}", i] for i in range(200)])
        eng.ok("sync")
    finally:
        os.umask(old)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700, oct(data_dir.stat().st_mode)
    running = _modes(data_dir)
    assert any(n.endswith("-wal") for n in running) and any(n.endswith("-shm")
                                                            for n in running), running
    assert len([n for n in running if re.fullmatch(r"shard-\d\d\.db", n)]) == 16, running
    bad = {n: oct(m) for n, m in running.items() if m != 0o600}
    assert not bad, f"files not 0600 while the engine runs: {bad}"
    assert eng.stop() == 0
    after = _modes(data_dir)
    bad = {n: oct(m) for n, m in after.items() if m != 0o600}
    assert not bad, f"files not 0600 after a clean stop: {bad}"
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


# --------------------------------------------------------------------------- no paths

def _op_table(text: str) -> dict[str, tuple[set[str], set[str]]]:
    """op -> (request field names, answer field names) from a markdown op table whose rows
    look like "| `op` | `field`, ... | `field`, ... | ...". Only the section-4 style rows
    (first cell a single backticked op name from ALL_OPS) are used."""
    out = {}
    for line in text.splitlines():
        mt = re.match(r"\|\s*`(\w+)`\s*\|([^|]*)\|([^|]*)\|", line)
        if mt and mt.group(1) in ALL_OPS:
            out[mt.group(1)] = (set(re.findall(r"`(\w+)`", mt.group(2))),
                                set(re.findall(r"`(\w+)`", mt.group(3))))
    return out


@pytest.mark.parametrize("doc,ops", [("docs/protocol.md", ALL_OPS),
                                     ("../shared/contract/protocol-v1.md", V1_OPS)])
def test_documented_ops_take_no_path(doc, ops):
    path = (REPO / doc).resolve()
    if not path.exists():
        pytest.skip(f"{path} not present")
    table = _op_table(path.read_text())
    assert set(table) == set(ops), f"op table of {doc} not found: {sorted(table)}"
    assert "key" in table["set"][0] and "entries" in table["mset"][0]   # parser sanity
    for op, (req, ans) in table.items():
        assert not (req | ans) & PATHY, f"{doc}: op {op} has a path-like field {req | ans}"


def test_hello_reports_no_path(tmp_path, engines):
    eng = start(tmp_path / "data")
    engines.append(eng)
    hello = eng.ok("hello")
    assert set(hello) == {"id", "ok", "protocol", "engine", "version", "shards", "hash",
                          "max_frame_bytes", "max_key_bytes", "max_value_bytes", "keep_versions",
                          "features"}
    assert not {f.lower() for f in hello["features"]} & PATHY, hello["features"]
    assert str(tmp_path) not in repr(hello), "hello reveals the data dir path"


def test_path_fields_and_file_ops_refused(tmp_path, engines):
    data_dir = tmp_path / "data"
    eng = start(data_dir)
    engines.append(eng)
    checked = 0
    for op in ALL_OPS:
        for name in ("path", "file", "dir", "data_dir", "filename"):
            rid = eng.new_id()
            eng.send({"id": rid, "op": op, **VALID.get(op, {}), name: "/etc/passwd"})
            check_error(eng.recv(rid), "bad_request", rid)
            checked += 1
    for op in ("open", "attach", "detach", "restore", "load", "dump", "vacuum",
               "vacuum_into", "checkpoint", "exec", "sql", "query", "pragma", "config",
               "shutdown", "import", "export"):
        rid = eng.new_id()
        eng.send({"id": rid, "op": op, "path": str(tmp_path / "x")})
        check_error(eng.recv(rid), "unknown_op", rid)
        checked += 1
    assert eng.ok("count")["count"] == 0
    assert sorted(os.listdir(tmp_path)) == ["data"], os.listdir(tmp_path)
    print(f"{checked} path-carrying requests refused")


def test_backup_writes_only_into_a_new_or_empty_dir(tmp_path, engines):
    data_dir = tmp_path / "data"
    eng = start(data_dir)
    engines.append(eng)
    eng.ok("set", key="k", value=1)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    afile = tmp_path / "afile"
    afile.write_text("also mine")
    for target in (victim, afile, data_dir, tmp_path):
        before = sorted(os.listdir(tmp_path))
        rid = eng.new_id()
        eng.send({"id": rid, "op": "backup", "dir": str(target)})
        check_error(eng.recv(rid), "bad_request", rid)
        assert sorted(os.listdir(tmp_path)) == before
    assert (victim / "keep.txt").read_text() == "mine"
    assert afile.read_text() == "also mine"
    assert sorted(os.listdir(victim)) == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    r = eng.ok("backup", dir=str(empty))
    assert r["shards"] == 16 and r["bytes"] > 0
    assert sorted(os.listdir(empty)) == [f"shard-{i:02d}.db" for i in range(16)]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in empty.iterdir()}
    assert all(m == 0o600 for m in modes.values()), modes


def test_path_like_keys_are_plain_keys(tmp_path, engines):
    data_dir = tmp_path / "data"
    eng = start(data_dir)
    engines.append(eng)
    eng.ok("hello")                   # start-up done: the shard files exist
    before = sorted(os.listdir(data_dir))
    keys = ["../escape", "../../../../tmp/escape", str(tmp_path / "abs"), "shard-00.db",
            "shard-99.db", ".", "..", "/", "a/../../b", "x\0/etc/passwd", "C:\\windows\\x",
            "file:///etc/passwd", ":memory:", "data/../shard-01.db-wal"]
    for i, k in enumerate(keys):
        eng.ok("set", key=k, value=i)
    for i, k in enumerate(keys):
        got = eng.ok("get", key=k)
        assert got["found"] is True and got["value"] == i, (k, got)
    assert eng.ok("count")["count"] == len(keys)
    assert eng.stop() == 0
    assert sorted(os.listdir(tmp_path)) == ["data"], os.listdir(tmp_path)
    after = sorted(n for n in os.listdir(data_dir))
    assert set(after) <= set(before) | {f"shard-{i:02d}.db" for i in range(16)}, after
    assert not (tmp_path / "abs").exists() and not Path("/tmp/escape").exists()


# --------------------------------------------------------------------------- flood

class GatedEngine(EngineProcess):
    """An EngineProcess whose stdout reader starts only when `gate` is set, so the test can
    leave the engine's answers unread."""

    def __init__(self, *args, **kwargs):
        self.gate = threading.Event()
        super().__init__(*args, **kwargs)

    def _read_loop(self) -> None:
        self.gate.wait()
        super()._read_loop()


def test_flood_with_tiny_max_inflight(tmp_path):
    total = 1_000_000 if long_mode() else 200_000
    chunk = 2000
    eng = GatedEngine(["--shards", "16", "--log-level", "warn", "--max-inflight", "64"],
                      tmp_path / "data")
    try:
        written = [0]                 # requests whose bytes are fully written
        errors: list[BaseException] = []

        def writer() -> None:
            try:
                for start_i in range(0, total, chunk):
                    n = min(chunk, total - start_i)
                    eng.send_raw(b"".join(
                        frame(pack({"id": i, "op": "set", "key": f"f:{i}", "value": i}))
                        for i in range(start_i, start_i + n)))
                    written[0] += n
            except BaseException as exc:     # noqa: BLE001 - reported below
                errors.append(exc)

        t0 = time.monotonic()
        w = threading.Thread(target=writer, daemon=True)
        w.start()
        # wait until the writer is stuck: no progress for 1.5 s
        last, since = -1, time.monotonic()
        while time.monotonic() - since < 1.5 and w.is_alive():
            time.sleep(0.1)
            if written[0] != last:
                last, since = written[0], time.monotonic()
        stalled_at = written[0]
        rss_stalled = rss_kib(eng.proc.pid)
        assert w.is_alive(), (f"all {total} requests were written with no answer read: the "
                              "engine did not push back")
        assert stalled_at < total // 4, f"writer stalled only after {stalled_at} requests"
        assert rss_stalled < RSS_LIMIT_KIB, f"RSS {rss_stalled} KiB while stalled"

        eng.gate.set()
        seen: Counter = Counter()
        bad = []
        rss_peak = rss_stalled
        for n in range(total):
            msg = unpack(eng.read_frame(timeout=120))
            seen[msg.get("id")] += 1
            if msg.get("ok") is not True or not isinstance(msg.get("version"), int):
                bad.append(msg)
            if n % 50_000 == 0:
                rss_peak = max(rss_peak, rss_kib(eng.proc.pid))
        w.join(timeout=60)
        assert not errors, errors
        assert not bad, f"{len(bad)} failed answers, first {bad[:3]!r}"
        assert len(seen) == total and set(seen) == set(range(total)), \
            f"{total - len(set(seen) & set(range(total)))} requests unanswered"
        dup = [i for i, c in seen.items() if c != 1]
        assert not dup, f"answered more than once: {dup[:10]}"
        flood_s = time.monotonic() - t0

        assert eng.ok("count", timeout=60)["count"] == total
        for s in range(0, total, 10_000):
            keys = [f"f:{i}" for i in range(s, min(total, s + 10_000))]
            got = eng.ok("mget", keys=keys)
            assert got["found"] == [True] * len(keys), f"missing keys in {keys[0]}..{keys[-1]}"
            assert got["values"] == list(range(s, s + len(keys)))
        rss_peak = max(rss_peak, rss_kib(eng.proc.pid))
        assert rss_peak < RSS_LIMIT_KIB, f"RSS peaked at {rss_peak} KiB"
        assert eng.stop(timeout=60) == 0
        print(f"flood: {total} sets, writer stalled after {stalled_at} requests with no answer "
              f"read (RSS {rss_stalled} KiB), all answered once and present, peak RSS "
              f"{rss_peak} KiB, {flood_s:.1f} s")
    finally:
        eng.gate.set()
        problem = eng.cleanup(check=False)
    assert problem is None, problem
