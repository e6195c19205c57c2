"""Storage: persistence across restarts, the on-disk 5-column layout (read with Python's
sqlite3), refusal of a data dir made with another shard count, startup exit codes, and
several engines serving one data dir at once.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing

from engine_proc import (EngineProcess, Raw, digest, frame, pack, raw_map, raw_request,
                         shard_of)

STASH_COLUMNS = [  # (name, declared type, notnull, pk)
    ("key_hash", "BLOB", 1, 1),    # SQLite reports a WITHOUT ROWID primary key as NOT NULL
    ("key", "TEXT", 1, 0),
    ("value", "BLOB", 1, 0),
    ("timestamp", "INTEGER", 1, 0),
    ("microsecond", "INTEGER", 1, 0),
]


def set_raw(eng: EngineProcess, key: str, value: bytes, **extra) -> int:
    """Set `key` to hand-encoded `value`; return the version."""
    rid = eng.new_id()
    pairs = [("id", rid), ("op", "set"), ("key", key), ("value", Raw(value))]
    pairs += list(extra.items())
    eng.send_frame(raw_request(*pairs))
    resp = eng.recv(rid)
    assert resp["ok"] is True, resp
    return resp["version"]


def test_persistence_across_restart(start_engine, data_dir):
    eng = start_engine()
    written = {}
    for i in range(120):
        key = f"p:{i}"
        value = {"i": i, "s": "x" * i} if i % 2 else [i, None, True]
        written[key] = (value, eng.ok("set", key=key, value=value)["version"])
    f32 = b"\xca\x40\x49\x0f\xdb"
    f32_version = set_raw(eng, "float32", f32)
    eng.ok("set", key="ttl:long", value=1, ttl_ms=600_000)
    eng.ok("set", key="ttl:short", value=1, ttl_ms=100)
    eng.ok("set", key="gone", value=1)
    eng.ok("delete", key="gone")
    time.sleep(0.3)
    assert eng.stop() == 0

    eng = start_engine()
    for key, (value, version) in written.items():
        g = eng.ok("get", key=key)
        assert (g["found"], g["value"], g["version"]) == (True, value, version), key
    rid = eng.send({"op": "get", "key": "float32"})
    msg, body = eng.recv_raw(rid)
    assert raw_map(body)["value"] == f32 and msg["version"] == f32_version
    t = eng.ok("ttl", key="ttl:long")
    assert t["found"] is True and 0 < t["ttl_ms"] <= 600_000
    assert eng.ok("exists", key="ttl:short")["exists"] is False
    assert eng.ok("exists", key="gone")["exists"] is False
    assert eng.ok("count")["count"] == 122
    # versions keep increasing after a restart
    assert eng.ok("set", key="p:0", value=0)["version"] > max(v for _, v in written.values())
    assert eng.stop() == 0


def _open(path):
    return closing(sqlite3.connect(str(path)))


def test_on_disk_layout(start_engine, data_dir):
    eng = start_engine()
    samples = [b"\xcc\x05", b"\xca\x3f\xc0\x00\x00", b"\xd9\x03abc", b"\xc7\x03\x09abc",
               b"\xc0", b"\x81\xa1k\x92\x01\xc3", b"\xc4\x02\x00\xff"]
    expected = {}                                   # key -> (value bytes, version)
    for i in range(96):
        key = f"disk:{i}" if i % 5 else f"disk:ü{i}"
        value = samples[i % len(samples)]
        expected[key] = (value, set_raw(eng, key, value))
    # an overwritten key keeps only its latest row
    expected["disk:1"] = (b"\xd9\x03new", set_raw(eng, "disk:1", b"\xd9\x03new"))
    set_raw(eng, "ttl:key", b"\x01", ttl_ms=600_000)
    expected["ttl:key"] = (b"\x01", eng.ok("get", key="ttl:key")["version"])
    set_before = int(time.time() * 1000)
    eng.ok("sync")

    # while the engine runs, another reader sees committed rows (WAL)
    k = "disk:3"
    with _open(data_dir / f"shard-{shard_of(k):02d}.db") as con:
        row = con.execute("SELECT value FROM stash WHERE key = ?", (k,)).fetchone()
        assert row is not None and bytes(row[0]) == expected[k][0]
    assert eng.stop() == 0

    names = sorted(p.name for p in data_dir.glob("shard-*.db"))
    assert names == [f"shard-{i:02d}.db" for i in range(16)]
    seen = {}
    for i in range(16):
        with _open(data_dir / f"shard-{i:02d}.db") as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
            cols = [(c[1], c[2].upper(), c[3], c[5])
                    for c in con.execute("PRAGMA table_info(stash)").fetchall()]
            assert cols == STASH_COLUMNS, f"shard {i}: stash columns {cols}"
            sql = con.execute("SELECT sql FROM sqlite_master WHERE type='table' AND "
                              "name='stash'").fetchone()[0]
            assert "WITHOUT ROWID" in sql.upper(), sql
            meta = dict(con.execute("SELECT name, value FROM meta").fetchall())
            assert int(meta["shard_index"]) == i, meta
            assert int(meta["shard_count"]) == 16, meta
            assert int(meta["layout_version"]) == 3, meta  # 2: stream tables, 3: history, txn
            for key_hash, key, value, ts, us in con.execute(
                    "SELECT key_hash, key, value, timestamp, microsecond FROM stash"):
                assert isinstance(key, str)
                assert key not in seen, f"{key} stored in shard {seen.get(key)} and {i}"
                seen[key] = i
                assert bytes(key_hash) == digest(key), key
                assert shard_of(key) == i, f"{key} stored in shard {i}, routes to " \
                    f"{shard_of(key)}"
                assert isinstance(value, bytes) and value == expected[key][0], key
                assert 0 <= us < 1_000_000
                assert ts * 1_000_000 + us == expected[key][1], key
            ex = con.execute("SELECT key_hash, expires_at FROM expiry").fetchall()
            for key_hash, expires_at in ex:
                assert bytes(key_hash) == digest("ttl:key")
                assert set_before + 500_000 < expires_at <= set_before + 600_000 + 5_000
            assert len(ex) == (1 if shard_of("ttl:key") == i else 0)
    assert set(seen) == set(expected)


def test_shard_count_mismatch_refused(start_engine, data_dir):
    eng = start_engine()
    eng.ok("set", key="keep", value=1)
    assert eng.stop() == 0
    for shards in (8, 32):
        other = start_engine(shards=shards, keep_raw=True, expect_exit=65)
        try:
            other.send_frame(pack({"id": 1, "op": "ping"}))
        except (BrokenPipeError, OSError):
            pass
        code = other.wait(15)
        assert code == 65, f"--shards {shards} on a 16-shard dir: exit {code}"
        err = other.stderr_text()
        assert "shard" in err.lower() and ("16" in err or str(shards) in err), \
            f"stderr does not explain the refusal: {err!r}"
        assert bytes(other.raw_stdout) == b"", "nothing may be served"
    again = start_engine()
    assert again.ok("get", key="keep")["value"] == 1, "the refused start damaged the data"
    assert again.stop() == 0


def test_corrupt_or_foreign_shard_file_refused(start_engine, data_dir, tmp_path):
    eng = start_engine()
    assert eng.stop() == 0
    (data_dir / "shard-03.db").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (data_dir / f"shard-03.db{suffix}").unlink(missing_ok=True)
    bad = start_engine(keep_raw=True, expect_exit=65)
    assert bad.wait(15) == 65
    assert bad.stderr_text().strip(), "no message on stderr"
    assert bytes(bad.raw_stdout) == b""

    # a shard file that records another layout version (meta table of docs/protocol.md)
    other = tmp_path / "other-layout"
    eng = start_engine(other)
    assert eng.stop() == 0
    with _open(other / "shard-05.db") as con:
        con.execute("UPDATE meta SET value = 99 WHERE name = 'layout_version'")
        con.commit()
    bad = start_engine(other, keep_raw=True, expect_exit=65)
    assert bad.wait(15) == 65
    assert "layout" in bad.stderr_text().lower(), bad.stderr_text()
    assert bytes(bad.raw_stdout) == b""


def test_startup_exit_codes(start_engine, tmp_path):
    for args in (["--shards", "0"], ["--shards", "abc"], ["--no-such-flag"],
                 ["--log-level", "loud"], ["--shards", "1025"]):
        eng = start_engine(shards=None, extra=args, keep_raw=True, expect_exit=64)
        assert eng.wait(15) == 64, f"{args}: expected usage exit 64"
        assert bytes(eng.raw_stdout) == b""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    eng = start_engine(blocker / "data", keep_raw=True, expect_exit=73)
    assert eng.wait(15) == 73
    assert bytes(eng.raw_stdout) == b""


def test_new_data_dir_shard_creation_failure_stops_engine(start_engine, tmp_path):
    """On a new data dir the engine answers hello while its shards are being created; if one
    cannot be created it stops with the start-up exit code and says which."""
    d = tmp_path / "data"
    d.mkdir()
    (d / "shard-05.db").mkdir()          # a directory where the shard file must go
    eng = start_engine(d, keep_raw=True, expect_exit=73)
    assert eng.wait(20) == 73
    assert "shard-05" in eng.stderr_text()


def _wait_hello(eng: EngineProcess) -> None:
    r = eng.call("hello", timeout=20)
    assert r["ok"] is True and r["shards"] == 16, r


def test_two_engines_one_data_dir(start_engine, data_dir):
    a = start_engine()
    b = start_engine()
    _wait_hello(a)
    _wait_hello(b)
    a.ok("set", key="x", value="from-a")
    g = b.ok("get", key="x")
    assert g["found"] is True and g["value"] == "from-a"
    b.ok("set", key="y", value="from-b", ttl_ms=600_000)
    assert a.ok("get", key="y")["value"] == "from-b"
    assert a.ok("ttl", key="y")["ttl_ms"] is not None
    b.ok("set", key="x", value="b-overwrote")
    assert a.ok("get", key="x")["value"] == "b-overwrote"
    a.ok("delete", key="x")
    assert b.ok("exists", key="x")["exists"] is False

    # both write pipelined batches at the same time; nothing acknowledged is lost
    batches = {}
    for name, eng in (("a", a), ("b", b)):
        reqs = [{"id": 10_000 + i, "op": "set", "key": f"{name}:{i}", "value": i}
                for i in range(400)]
        batches[name] = reqs
    a.send_raw(b"".join(frame(pack(r)) for r in batches["a"]))
    b.send_raw(b"".join(frame(pack(r)) for r in batches["b"]))
    for name, eng in (("a", a), ("b", b)):
        for r in batches[name]:
            resp = eng.recv(r["id"], timeout=60)
            assert resp["ok"] is True, resp
    for eng in (a, b):
        assert eng.ok("count")["count"] == 801
        g = eng.ok("mget", keys=["a:399", "b:399", "a:0", "b:0"])
        assert g["values"] == [399, 399, 0, 0]
    assert a.stop() == 0
    assert b.stop() == 0


def test_read_cache_exact_across_engines(start_engine, data_dir):
    """Engine a caches what it reads; every write engine b acknowledged is seen by a's next read
    (values, absent keys, expiry), and a's own cache is actually in use."""
    a = start_engine()
    b = start_engine()
    _wait_hello(a)
    _wait_hello(b)
    assert a.ok("get", key="absent")["found"] is False
    assert a.ok("get", key="absent")["found"] is False      # cached "absent"
    b.ok("set", key="absent", value="now-here")
    assert a.ok("get", key="absent")["value"] == "now-here"
    for i in range(50):
        b.ok("set", key="hot", value=i)
        for _ in range(3):                                     # first read fills, then hits
            assert a.ok("get", key="hot")["value"] == i
            assert a.ok("exists", key="hot")["exists"] is True
    b.ok("expire", key="hot", ttl_ms=60_000)
    ttl = a.ok("ttl", key="hot")["ttl_ms"]
    assert ttl is not None and 0 < ttl <= 60_000
    b.ok("persist", key="hot")
    assert a.ok("ttl", key="hot")["ttl_ms"] is None
    b.ok("delete", key="hot")
    assert a.ok("get", key="hot")["found"] is False
    assert a.ok("stats")["read_cache_hits"] > 100
    # a's own writes invalidate its cache as well (pipelined read-your-writes)
    a.send_raw(b"".join(frame(pack(r)) for r in [
        {"id": 1, "op": "get", "key": "mine"},
        {"id": 2, "op": "set", "key": "mine", "value": "v1"},
        {"id": 3, "op": "get", "key": "mine"},
        {"id": 4, "op": "set", "key": "mine", "value": "v2"},
        {"id": 5, "op": "get", "key": "mine"},
    ]))
    got = {i: a.recv(i, timeout=30) for i in range(1, 6)}
    assert got[1]["found"] is False
    assert got[3]["value"] == "v1" and got[5]["value"] == "v2"
    assert a.stop() == 0
    assert b.stop() == 0


def test_engines_started_together_on_empty_dir(start_engine, tmp_path):
    for round_ in range(4):
        d = tmp_path / f"race{round_}" / "data"
        engines = [start_engine(d) for _ in range(3)]   # spawned back to back, no waiting
        for eng in engines:
            _wait_hello(eng)
        for n, eng in enumerate(engines):
            eng.ok("set", key=f"from:{n}", value=n)
        for eng in engines:
            g = eng.ok("mget", keys=[f"from:{n}" for n in range(3)])
            assert g["found"] == [True, True, True] and g["values"] == [0, 1, 2]
        for eng in engines:
            assert eng.stop() == 0
        assert sorted(p.name for p in d.glob("shard-*.db")) == \
            [f"shard-{i:02d}.db" for i in range(16)]
