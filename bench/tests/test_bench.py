"""Tests of the benchmark tooling against the real engine, real SQLite and (when installed) Redis.

    /usr/bin/python3 -m pytest -q bench/tests

Binaries: $LITESTASH_BENCH (default build/bench/litestash-bench) and $LITESTASH_ENGINE (default
build/litestash-engine). What is checked: flag errors and a dead engine are reported as such,
answers and misses are counted right (a get on an empty store must count every key missing),
the raw SQLite anchor lays out and routes keys exactly like the engine, and `report.py --smoke`
produces every figure file. Nothing here asserts a timing.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH_DIR)
BENCH = os.environ.get("LITESTASH_BENCH", os.path.join(REPO, "build", "bench", "litestash-bench"))
ENGINE = os.environ.get("LITESTASH_ENGINE", os.path.join(REPO, "build", "litestash-engine"))

sys.path.insert(0, BENCH_DIR)
import redis_server  # noqa: E402


def run_bench(*args, timeout=120):
    proc = subprocess.run([BENCH, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)
    doc = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, doc, proc.stderr


@pytest.fixture(autouse=True)
def binaries():
    assert os.access(BENCH, os.X_OK), "litestash-bench not built at %s" % BENCH
    assert os.access(ENGINE, os.X_OK), "engine not built at %s" % ENGINE


def test_bad_flags_exit_64_without_running_anything():
    rc, doc, err = run_bench("engine", "--phase", "nocolon")
    assert rc == 64 and doc is None and "phase spec" in err
    rc, _, err = run_bench("engine", "--phase", "x:op=get,depth=2000")
    assert rc == 64 and "depth" in err
    rc, _, err = run_bench("teleport")
    assert rc == 64 and "unknown subcommand" in err


def test_missing_engine_is_an_error_not_a_figure(tmp_path):
    rc, doc, _ = run_bench("engine", "--engine", str(tmp_path / "nope"), "--phase", "g:op=get,n=10")
    assert rc == 1
    assert doc["ok"] is False and "not executable" in doc["error"]


def test_engine_that_dies_at_start_is_reported_as_a_crash(tmp_path):
    rc, doc, _ = run_bench("engine", "--engine", "/bin/false", "--tmp-dir", str(tmp_path),
                           "--phase", "g:op=get,n=10")
    assert rc == 3
    assert doc["ok"] is False and "hello failed" in doc["error"]
    assert os.listdir(tmp_path) == []  # its temp dir is cleaned up


def test_engine_phases_count_answers_and_misses(tmp_path):
    rc, doc, err = run_bench(
        "engine", "--engine", ENGINE, "--keys", "500", "--tmp-dir", str(tmp_path),
        "--phase", "cold:op=get,dist=uniform,n=200,depth=16",      # nothing stored yet
        "--phase", "load:op=set,dist=seq,n=500,depth=64",
        "--phase", "warm:op=get,dist=uniform,n=300,depth=64",
        "--phase", "many:op=mget,batch=50,n=10,depth=4",
        "--phase", "mix:op=mixed,n=300,depth=32",
        "--phase", "del:op=delete,dist=seq,n=100,depth=8",
        "--phase", "gone:op=get,dist=seq,n=100,depth=8")          # the 100 deleted keys
    assert rc == 0, err
    assert doc["ok"] and doc["exit"]["clean"]
    p = doc["phases"]
    for name, n in (("cold", 200), ("load", 500), ("warm", 300), ("many", 10), ("mix", 300), ("del", 100),
                    ("gone", 100)):
        assert p[name]["answered"] == n and p[name]["errors"] == 0, name
        assert p[name]["latency_samples"] == n and p[name]["ops_per_s"] > 0
        assert p[name]["p50_us"] <= p[name]["p99_us"] <= p[name]["p999_us"] <= p[name]["max_us"]
    assert p["cold"]["misses"] == 200
    assert p["warm"]["misses"] == 0 and p["many"]["misses"] == 0 and p["del"]["misses"] == 0
    assert p["gone"]["misses"] == 100
    assert p["many"]["keys_per_s"] == pytest.approx(p["many"]["ops_per_s"] * 50, rel=1e-4)
    assert doc["peak_rss_kb"] > 0 and doc["exit"]["cpu_s"] > 0
    assert doc["hello"]["shards"] == 16
    assert os.listdir(tmp_path) == []


def _rows_by_key(dirpath, shards=16):
    """{key: (shard index, row)} over every shard file of a data dir."""
    out = {}
    for i in range(shards):
        con = sqlite3.connect(os.path.join(dirpath, "shard-%02d.db" % i))
        try:
            for row in con.execute("SELECT key, key_hash, value, timestamp, microsecond FROM stash"):
                out[row[0]] = (i, row)
        finally:
            con.close()
    return out


def _stash_layout(path):
    con = sqlite3.connect(path)
    try:
        cols = [r[1:] for r in con.execute("PRAGMA table_info(stash)")]   # name, type, notnull, dflt, pk
        without_rowid = con.execute("SELECT sql FROM sqlite_master WHERE name='stash'").fetchone()[0]
        key_indexed = any(con.execute("PRAGMA index_info(%s)" % r[1]).fetchone()[2] == "key"
                          for r in con.execute("PRAGMA index_list(stash)") if r[3] == "c")
        return cols, "WITHOUT ROWID" in without_rowid.upper(), key_indexed
    finally:
        con.close()


def test_sqlite_anchor_matches_the_engine_layout_and_routing(tmp_path):
    rc, eng, err = run_bench("engine", "--engine", ENGINE, "--keys", "300", "--keep", "--tmp-dir", str(tmp_path),
                             "--phase", "load:op=set,dist=seq,n=300,depth=32")
    assert rc == 0, err
    rc, anc, err = run_bench("sqlite", "--keys", "300", "--keep", "--tmp-dir", str(tmp_path),
                             "--phase", "load:op=set,dist=seq,n=300,commit=3",
                             "--phase", "read:op=get,dist=uniform,n=300")
    assert rc == 0, err
    assert anc["phases"]["read"]["misses"] == 0 and anc["phases"]["load"]["commit_every"] == 3
    eng_dir = os.path.join(eng["kept_dir"], "data")
    try:
        assert _stash_layout(os.path.join(eng_dir, "shard-00.db")) == \
            _stash_layout(os.path.join(anc["kept_dir"], "shard-00.db"))
        cols, without_rowid, key_indexed = _stash_layout(os.path.join(anc["kept_dir"], "shard-07.db"))
        assert [c[0] for c in cols] == ["key_hash", "key", "value", "timestamp", "microsecond"]
        assert without_rowid and key_indexed
        e_rows, a_rows = _rows_by_key(eng_dir), _rows_by_key(anc["kept_dir"])
        assert set(e_rows) == set(a_rows) == {"key:%d" % i for i in range(300)}
        for key in e_rows:
            (es, erow), (as_, arow) = e_rows[key], a_rows[key]
            assert es == as_, key                      # same shard file
            assert erow[1] == arow[1] and erow[2] == arow[2]  # same digest, same value bytes
    finally:
        shutil.rmtree(eng["kept_dir"], ignore_errors=True)
        shutil.rmtree(anc["kept_dir"], ignore_errors=True)


@pytest.mark.skipif(not redis_server.available(), reason="redis-server not installed")
def test_redis_client_counts_answers_and_misses(tmp_path):
    with redis_server.RedisServer(str(tmp_path)) as rs:
        rc, doc, err = run_bench("redis", "--port", str(rs.port), "--target-pid", str(rs.proc.pid), "--keys", "400",
                                 "--phase", "cold:op=get,n=100,depth=8",
                                 "--phase", "load:op=set,dist=seq,n=400,depth=64",
                                 "--phase", "warm:op=get,n=300,depth=64",
                                 "--phase", "many:op=mget,batch=40,n=5,depth=2",
                                 "--phase", "del:op=delete,dist=seq,n=50,depth=1",
                                 "--phase", "gone:op=mget,dist=seq,batch=50,n=1,depth=1")
        assert rs.peak_rss_kb() > 0
    assert rc == 0, err
    p = doc["phases"]
    assert [p[k]["answered"] for k in ("cold", "load", "warm", "many", "del", "gone")] == [100, 400, 300, 5, 50, 1]
    assert p["cold"]["misses"] == 100 and p["warm"]["misses"] == 0 and p["many"]["misses"] == 0
    assert p["del"]["misses"] == 0 and p["gone"]["misses"] == 50
    assert all(p[k]["errors"] == 0 for k in p)


def test_smoke_report_writes_every_output(tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run(["/usr/bin/python3", os.path.join(BENCH_DIR, "report.py"), "--smoke", "--engine", ENGINE,
                           "--bench-bin", BENCH, "--out-dir", str(out), "--tmp-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((out / "smoke.json").read_text())
    assert doc["ok"] and not doc["failures"] and doc["config"]["scale"] == "smoke"
    ids = {t["id"]: t for t in doc["targets"]}
    assert set(ids) == {"set_vs_sqlite_batch", "set_vs_sqlite_one_txn", "set_vs_redis", "get_uniform_vs_sqlite",
                        "get_hot_vs_redis", "get_d1_vs_redis_d1", "py_set_async_vs_diskcache", "py_set_vs_diskcache",
                        "py_mget_vs_diskcache_get", "spawn_to_hello", "peak_rss", "sync_full_d64_vs_d1",
                        "sync_full_vs_sqlite_k1"}
    with_anchor = [t for t in ids.values() if t["anchor_figure"] and
                   (redis_server.available() or not t["anchor_figure"].startswith("redis."))]
    assert all(t["ratio"] and t["ratio"] > 0 for t in with_anchor), [t["id"] for t in with_anchor if not t["ratio"]]
    assert ids["spawn_to_hello"]["value"] > 0
    f = doc["figures"]
    assert f["engine.set_seq_d64.ops_per_s"] > 0 and f["sqlite.get_uniform.ops_per_s"] > 0
    assert f["python.host.mget.keys_per_s"] > 0 and f["engine.peak_rss_mb"] > 0
    md = (out / "smoke.md").read_text()
    assert "## Targets" in md and "smoke.png" in md
    assert (out / "smoke.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    leftovers = [p for p in os.listdir(tmp_path) if p != "results"]
    assert leftovers == [], leftovers
