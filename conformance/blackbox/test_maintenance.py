"""`compact` and `backup` (contract v2 sections 3 and 7) through real frames: what compact removes
and reclaims, that requests keep being answered between its steps, the one-time VACUUM of a
layout-1 file, and backups that open as data dirs holding every acknowledged write (from files
and from `--memory`), refused targets left untouched.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

from engine_proc import check_error

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "layout1"
COMPACT_FIELDS = {"id", "ok", "expired_removed", "versions_removed", "entries_removed",
                  "bytes_reclaimed", "steps", "max_step_us"}


def rows(data_dir, sql, shards=16):
    total = 0
    for i in range(shards):
        con = sqlite3.connect(f"file:{data_dir}/shard-{i:02d}.db?mode=ro", uri=True)
        total += con.execute(sql).fetchone()[0]
        con.close()
    return total


def db_bytes(data_dir):
    return sum(p.stat().st_size for p in Path(data_dir).glob("shard-*.db"))


def test_compact_on_an_empty_engine(engine):
    r = engine.ok("compact")
    assert set(r) == COMPACT_FIELDS, r
    assert r["expired_removed"] == r["versions_removed"] == r["entries_removed"] == 0
    assert r["steps"] >= 16 * 5 and r["max_step_us"] > 0


def test_compact_removes_expired_keys_history_and_aged_entries(start_engine, data_dir):
    eng = start_engine(extra=["--keep-versions", "2"])
    eng.ok("mset", entries=[[f"e{i}", i] for i in range(300)], ttl_ms=100)
    for n in range(5):
        eng.ok("mset", entries=[[f"h{i}", n] for i in range(50)])
    for n in range(40):
        eng.ok("xadd", stream="aged", value=n, max_age_ms=100)
    time.sleep(0.25)
    r = eng.ok("compact")
    # The background sweeper may have taken some expired rows and aged entries first.
    assert 0 <= r["expired_removed"] <= 300 and 0 <= r["entries_removed"] <= 40
    assert r["versions_removed"] == 0                  # depth 2 was kept at each write
    assert rows(data_dir, "SELECT count(*) FROM expiry") == 0
    assert rows(data_dir, "SELECT count(*) FROM stash WHERE key LIKE 'e%'") == 0
    assert eng.ok("xinfo", stream="aged")["length"] == 0
    assert rows(data_dir, "SELECT count(*) FROM history") == 50 * 2
    r = eng.ok("compact", keep_versions=1)
    assert r["versions_removed"] == 50
    r = eng.ok("compact", keep_versions=0)
    assert r["versions_removed"] == 50
    assert rows(data_dir, "SELECT count(*) FROM history") == 0
    assert eng.ok("get", key="h7")["value"] == 4       # current values untouched


def test_compact_gives_pages_back_and_requests_go_on_between_steps(start_engine, data_dir):
    eng = start_engine()
    blob = "x" * 2000
    for n in range(10):
        eng.ok("mset", entries=[[f"big{n}:{i}", blob] for i in range(500)])
    eng.ok("sync")
    eng.ok("clear")
    eng.ok("sync")
    before = db_bytes(data_dir)
    rid = eng.new_id()
    eng.send({"id": rid, "op": "compact"})
    gets = []
    for i in range(200):
        gid = eng.new_id()
        eng.send({"id": gid, "op": "get", "key": f"big0:{i}"})
        gets.append(gid)
    order = []
    answers = {}
    for want in [rid] + gets:
        answers[want] = eng.recv(want)
    r = answers[rid]
    assert r["ok"] and r["bytes_reclaimed"] > 8_000_000, r
    assert all(answers[g]["ok"] and answers[g]["found"] is False for g in gets)
    after = db_bytes(data_dir)
    assert after < before - 8_000_000, (before, after)
    del order


def test_compact_converts_a_layout_1_file_once(start_engine, tmp_path):
    data = tmp_path / "old"
    shutil.copytree(FIXTURE, data)
    con = sqlite3.connect(str(data / "shard-00.db"))
    assert con.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    con.close()
    eng = start_engine(data, shards=4)
    assert eng.ok("hello")["keep_versions"] == 0
    r = eng.ok("compact")
    assert r["expired_removed"] >= 0
    assert eng.ok("count")["count"] == 42
    assert eng.stop() == 0
    for i in range(4):
        con = sqlite3.connect(str(data / f"shard-{i:02d}.db"))
        assert con.execute("PRAGMA auto_vacuum").fetchone()[0] == 2   # incremental
        assert con.execute("SELECT value FROM meta WHERE name='layout_version'").fetchone()[0] == 3
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()


def test_compact_bad_input(engine, expect_error):
    from engine_proc import pack
    expect_error(engine, pack({"id": 1, "op": "compact", "keep_versions": -1}), "type_error", 1)
    expect_error(engine, pack({"id": 2, "op": "compact", "keep_versions": 1 << 32}), "bad_request",
                 2)
    expect_error(engine, pack({"id": 3, "op": "compact", "key": "k"}), "bad_request", 3)


# --------------------------------------------------------------------------- backup


def test_backup_opens_as_a_data_dir_with_every_acknowledged_write(start_engine, tmp_path):
    eng = start_engine(extra=["--keep-versions", "3"])
    eng.ok("mset", entries=[[f"k{i}", {"n": i}] for i in range(500)])
    eng.ok("set", key="k1", value="newer")
    eng.ok("txn", ops=[{"op": "set", "key": f"t{i}", "value": i} for i in range(8)]
           + [{"op": "xadd", "stream": "log", "value": "entry"}])
    eng.ok("xcommit", stream="log", group="g", entry_id=1)
    target = tmp_path / "backups" / "one"            # parents are created
    r = eng.ok("backup", dir=str(target))
    assert r["shards"] == 16
    files = sorted(p.name for p in target.iterdir())
    assert files == [f"shard-{i:02d}.db" for i in range(16)]
    assert r["bytes"] == sum((target / f).stat().st_size for f in files)
    assert not list(tmp_path.glob("backups/*partial*"))
    eng.ok("set", key="k2", value="after the backup")
    copy = start_engine(target)
    assert copy.ok("count")["count"] == 508
    assert copy.ok("get", key="k1")["value"] == "newer"
    assert copy.ok("get", key="k2")["value"] == {"n": 2}
    assert len(copy.ok("versions", key="k1")["versions"]) == 2
    assert copy.ok("hello")["keep_versions"] == 3
    assert copy.ok("xoffset", stream="log", group="g")["entry_id"] == 1
    assert copy.ok("mget", keys=[f"t{i}" for i in range(8)])["values"] == list(range(8))
    for i in range(16):
        con = sqlite3.connect(str(target / f"shard-{i:02d}.db"))
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()


def test_backup_into_an_existing_empty_dir_and_refusals(engine, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    engine.ok("set", key="a", value=1)
    assert engine.ok("backup", dir=str(empty))["shards"] == 16
    r = engine.call("backup", dir=str(empty))            # now not empty
    check_error(r, "bad_request", r["id"])
    assert "not an empty directory" in r["error"]["message"]
    f = tmp_path / "file"
    f.write_text("x")
    r = engine.call("backup", dir=str(f))
    check_error(r, "bad_request", r["id"])
    for bad, code in (("", "bad_request"), (5, "type_error")):
        r = engine.call("backup", dir=bad)
        check_error(r, code, r["id"])


def test_backup_failure_leaves_nothing_behind(engine, tmp_path):
    # Tests run as root, so permissions cannot make the copy fail; a parent that is a file can.
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    r = engine.call("backup", dir=str(blocker / "inside"))
    check_error(r, "storage_error", r["id"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "data"]
    assert engine.ok("ping")


def test_backup_of_a_memory_engine_is_a_data_dir_on_disk(start_engine, tmp_path):
    mem = start_engine(None, extra=["--memory"], shards=4)
    mem.ok("mset", entries=[[f"m{i}", i] for i in range(100)])
    r = mem.ok("backup", dir=str(tmp_path / "from-memory"))
    assert r["shards"] == 4
    disk = start_engine(tmp_path / "from-memory", shards=4)
    assert disk.ok("count")["count"] == 100
    assert disk.ok("get", key="m42")["value"] == 42
