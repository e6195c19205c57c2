"""Tests of the benchmark tooling against the real engine, real SQLite and (when installed) Redis.

    /usr/bin/python3 -m pytest -q bench/tests

Binaries: $LITESTASH_BENCH (default build/bench/litestash-bench) and $LITESTASH_ENGINE (default
build/litestash-engine). What is checked: flag errors and a dead engine are reported as such,
answers and misses are counted right (a get on an empty store must count every key missing; a get
of absent=1 keys misses every key on every target), pages written are counted from the engine's
stats and the anchor's connections (none for reads), a get at=first reads a key's first version
back from history, the raw SQLite anchor lays out and routes keys exactly like the engine, stream phases count the
entries they get back on the engine and on Redis, the wake-up subcommand times every round it
runs, and `report.py --smoke` produces every figure file. Nothing here asserts a timing.
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
    rc, _, err = run_bench("engine", "--phase", "x:op=xrange,batch=20000")
    assert rc == 64 and "batch" in err
    rc, _, err = run_bench("engine", "--phase", "x:op=xadd,streams=0")
    assert rc == 64 and "streams" in err
    rc, _, err = run_bench("wakeup", "--mode", "sideways")
    assert rc == 64 and "--mode" in err
    rc, _, err = run_bench("wakeup", "--mode", "redis")
    assert rc == 64 and "--port" in err
    rc, _, err = run_bench("engine", "--phase", "x:op=set,absent=1")
    assert rc == 64 and "absent" in err
    rc, _, err = run_bench("engine", "--phase", "x:op=set,at=first")
    assert rc == 64 and "at=first" in err
    rc, _, err = run_bench("engine", "--phase", "x:op=get,at=last")
    assert rc == 64 and "at wants" in err


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
    # Pages written come from the engine's stats: every set writes at least its leaf (a commit
    # of several keys may share one); reads write none.
    assert p["load"]["pages_written"] >= p["load"]["answered"] / p["load"]["engine_avg_batch"]
    assert p["load"]["pages_per_key"] == pytest.approx(p["load"]["pages_written"] / 500)
    assert p["cold"]["pages_written"] == p["warm"]["pages_written"] == p["many"]["pages_written"] == 0
    assert p["del"]["pages_written"] > 0
    assert doc["peak_rss_kb"] > 0 and doc["exit"]["cpu_s"] > 0
    assert 0 < doc["rss_anon_kb"] <= doc["peak_rss_kb"] and doc["rss_file_kb"] >= 0
    assert doc["hello"]["shards"] == 16
    assert os.listdir(tmp_path) == []


def test_engine_absent_keys_txn_and_history(tmp_path):
    rc, doc, err = run_bench(
        "engine", "--engine", ENGINE, "--keys", "300", "--tmp-dir", str(tmp_path),
        "--engine-arg", "--keep-versions", "--engine-arg", "3",
        "--phase", "load:op=set,dist=seq,n=300,depth=64",
        "--phase", "again:op=set,dist=seq,n=100,depth=16",               # keys 0..99: first version in history
        "--phase", "old:op=get,at=first,dist=hot,hot=100,n=200,depth=32",
        "--phase", "first:op=get,at=first,dist=seq,from=100,n=50,depth=8",  # never overwritten: current version
        "--phase", "vers:op=versions,dist=hot,hot=100,n=100,depth=16",
        "--phase", "absent:op=get,absent=1,n=200,depth=64",
        "--phase", "absent1:op=get,absent=1,n=20,depth=1",
        "--phase", "absentm:op=mget,absent=1,batch=10,n=5,depth=2",
        "--phase", "absentv:op=versions,absent=1,n=10,depth=4",
        "--phase", "txn:op=txn,batch=8,n=40,depth=16")
    assert rc == 0, err
    assert doc["ok"] and doc["hello"]["keep_versions"] == 3
    p = doc["phases"]
    for name, n in (("old", 200), ("first", 50), ("vers", 100), ("absent", 200), ("absent1", 20), ("absentm", 5),
                    ("absentv", 10), ("txn", 40)):
        assert p[name]["answered"] == n and p[name]["errors"] == 0, (name, p[name])
    assert p["old"]["misses"] == 0 and p["old"]["at"] == "first" and p["first"]["misses"] == 0
    assert p["vers"]["misses"] == 0 and p["txn"]["misses"] == 0 and p["txn"]["keys_per_s"] > 0
    assert p["absent"]["misses"] == 200 and p["absent"]["absent_keys"] is True
    assert p["absent1"]["misses"] == 20 and p["absentm"]["misses"] == 50 and p["absentv"]["misses"] == 10
    assert "absent_keys" not in p["old"]
    # Without history an overwritten key's first version is gone: some of those gets miss; and
    # without an earlier seq set phase over every key there is no first version to ask for.
    rc, doc, err = run_bench("engine", "--engine", ENGINE, "--keys", "100", "--tmp-dir", str(tmp_path),
                             "--phase", "load:op=set,dist=seq,n=100,depth=64",
                             "--phase", "again:op=set,dist=seq,n=100,depth=64",
                             "--phase", "old:op=get,at=first,n=50,depth=16")
    assert rc == 0, err
    assert doc["phases"]["old"]["misses"] == 50
    rc, doc, _ = run_bench("engine", "--engine", ENGINE, "--keys", "100", "--tmp-dir", str(tmp_path),
                           "--phase", "half:op=set,dist=seq,n=50,depth=8", "--phase", "old:op=get,at=first,n=5")
    assert rc == 3 and doc["ok"] is False and "needs an earlier seq set phase" in doc["error"]
    assert doc["phases"]["old"]["broken"] is True
    assert os.listdir(tmp_path) == []


def test_engine_stream_phases_count_entries(tmp_path):
    rc, doc, err = run_bench(
        "engine", "--engine", ENGINE, "--keys", "400", "--tmp-dir", str(tmp_path),
        "--phase", "cold:op=xrange,stream=one,batch=50,n=5,depth=2",         # no stream yet: empty answers
        "--phase", "one:op=xadd,stream=one,n=400,depth=64",
        "--phase", "many:op=xadd,stream=multi,streams=16,n=160,depth=32",
        "--phase", "read:op=xrange,stream=one,batch=100,n=40,depth=16",      # starts 0..300: always 100 back
        "--phase", "seq:op=xrange,stream=one,dist=seq,n=8,depth=1",          # default batch 100
        "--phase", "short:op=xrange,stream=multi,streams=16,batch=20,n=10,depth=4")  # 10 entries per stream
    assert rc == 0, err
    assert doc["ok"] and doc["exit"]["clean"]
    p = doc["phases"]
    for name, n in (("cold", 5), ("one", 400), ("many", 160), ("read", 40), ("seq", 8), ("short", 10)):
        assert p[name]["answered"] == n and p[name]["errors"] == 0, name
    assert p["one"]["op"] == "xadd" and p["one"]["streams"] == 1 and p["many"]["streams"] == 16
    assert p["one"]["misses"] == 0 and p["many"]["misses"] == 0
    assert p["cold"]["entries"] == 0 and p["cold"]["misses"] == 5 * 50
    assert p["read"]["entries"] == 40 * 100 and p["read"]["misses"] == 0 and p["read"]["batch"] == 100
    assert p["read"]["entries_per_s"] == pytest.approx(p["read"]["ops_per_s"] * 100, rel=1e-4)
    assert p["read"]["keys_per_s"] == p["read"]["entries_per_s"]
    assert p["seq"]["entries"] == 8 * 100 and p["seq"]["batch"] == 100
    # The 16-stream phase put 10 entries in each stream: a 20-entry read gets back at most 10.
    assert p["short"]["entries"] <= 10 * 10 and p["short"]["misses"] == 10 * 20 - p["short"]["entries"]
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not redis_server.available(), reason="redis-server not installed")
def test_redis_stream_phases_count_entries(tmp_path):
    with redis_server.RedisServer(str(tmp_path)) as rs:
        rc, doc, err = run_bench("redis", "--port", str(rs.port), "--keys", "300",
                                 "--phase", "one:op=xadd,stream=one,n=300,depth=64",
                                 "--phase", "many:op=xadd,stream=multi,streams=16,n=64,depth=8",
                                 "--phase", "read:op=xrange,stream=one,batch=100,n=30,depth=16",
                                 "--phase", "first:op=xrange,stream=one,dist=seq,batch=300,n=2,depth=1")
        assert rc == 0, err
        # An xrange over a stream this run did not fill cannot map positions to Redis ids.
        rc2, doc2, _ = run_bench("redis", "--port", str(rs.port), "--keys", "300",
                                 "--phase", "read:op=xrange,stream=one,n=3,depth=1")
        rc3, wake, err3 = run_bench("wakeup", "--mode", "redis", "--port", str(rs.port), "--n", "5", "--warmup", "1")
    p = doc["phases"]
    assert [p[k]["answered"] for k in ("one", "many", "read", "first")] == [300, 64, 30, 2]
    assert all(p[k]["errors"] == 0 and p[k]["misses"] == 0 for k in p)
    assert p["read"]["entries"] == 30 * 100 and p["first"]["entries"] == 2 * 300
    assert rc2 == 3 and doc2["ok"] is False and "earlier xadd phase" in doc2["error"]
    assert rc3 == 0, err3
    r = wake["results"]["redis"]
    assert wake["ok"] and r["n"] == 5 and r["errors"] == 0 and 0 < r["p50_ms"] <= r["p99_ms"] <= r["max_ms"]


def test_wakeup_times_every_round_in_both_modes(tmp_path):
    rc, doc, err = run_bench("wakeup", "--engine", ENGINE, "--mode", "both", "--n", "6", "--warmup", "1",
                             "--tmp-dir", str(tmp_path))
    assert rc == 0, err
    assert doc["ok"] and set(doc["results"]) == {"same", "other"}
    for mode, r in doc["results"].items():
        assert r["n"] == 6 and r["errors"] == 0 and r["not_parked"] == 0, (mode, r)
        assert 0 < r["min_ms"] <= r["p50_ms"] <= r["p99_ms"] <= r["max_ms"], (mode, r)
        assert r["xadd_answer_p50_ms"] > 0
    assert os.listdir(tmp_path) == []


def test_wakeup_reports_an_engine_that_dies(tmp_path):
    rc, doc, _ = run_bench("wakeup", "--engine", "/bin/false", "--mode", "same", "--n", "2",
                           "--tmp-dir", str(tmp_path))
    assert rc == 3 and doc["ok"] is False and doc["error"].startswith("same:")
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
                             "--phase", "read:op=get,dist=uniform,n=300",
                             "--phase", "absent:op=get,dist=uniform,absent=1,n=200")
    assert rc == 0, err
    assert anc["phases"]["read"]["misses"] == 0 and anc["phases"]["load"]["commit_every"] == 3
    assert anc["phases"]["absent"]["misses"] == 200
    # Counted as the engine counts them: a commit every 3 keys writes at least 100 pages.
    assert anc["phases"]["load"]["pages_written"] >= 100
    assert anc["phases"]["read"]["pages_written"] == 0
    assert eng["phases"]["load"]["pages_written"] > 0
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
                                 "--phase", "gone:op=mget,dist=seq,batch=50,n=1,depth=1",
                                 "--phase", "absent:op=get,absent=1,n=100,depth=64",
                                 "--phase", "txn:op=txn,batch=8,n=20,depth=16")
        # Redis keeps no versions: such a phase is refused, not run.
        rc2, doc2, _ = run_bench("redis", "--port", str(rs.port), "--keys", "10", "--phase", "v:op=versions,n=1")
        assert rs.peak_rss_kb() > 0
    assert rc == 0, err
    p = doc["phases"]
    assert [p[k]["answered"] for k in ("cold", "load", "warm", "many", "del", "gone", "absent", "txn")] == \
        [100, 400, 300, 5, 50, 1, 100, 20]
    assert p["cold"]["misses"] == 100 and p["warm"]["misses"] == 0 and p["many"]["misses"] == 0
    assert p["del"]["misses"] == 0 and p["gone"]["misses"] == 50 and p["absent"]["misses"] == 100
    assert p["txn"]["misses"] == 0 and p["txn"]["keys_per_s"] == pytest.approx(p["txn"]["ops_per_s"] * 8, rel=1e-4)
    assert all(p[k]["errors"] == 0 for k in p)
    assert rc2 == 3 and doc2["ok"] is False and "no versions" in doc2["error"]


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
                        "get_uniform_d256_vs_sqlite", "get_absent_vs_sqlite", "get_absent_vs_redis",
                        "get_hot_vs_redis", "get_d1_vs_redis_d1", "py_set_async_vs_diskcache", "py_set_vs_diskcache",
                        "py_mget_vs_diskcache_get", "spawn_to_hello", "peak_rss", "private_rss", "sync_full_d64_vs_d1",
                        "sync_full_vs_sqlite_k1", "txn_vs_mset", "txn_vs_redis", "set_history_vs_none",
                        "get_old_version_vs_current", "versions_vs_get", "xadd_one_stream_vs_redis",
                        "xadd_16_streams_vs_redis", "xrange_vs_redis", "xread_wake_same_p99", "xread_wake_other_p99",
                        "set_p99", "mixed_vs_sqlite"}
    # Every Redis-side figure lives under a run named redis* (redis, redis_streams, redis_wakeup).
    with_anchor = [t for t in ids.values() if t["anchor_figure"] and
                   (redis_server.available() or not t["anchor_figure"].startswith("redis"))]
    assert all(t["ratio"] and t["ratio"] > 0 for t in with_anchor), [t["id"] for t in with_anchor if not t["ratio"]]
    assert ids["spawn_to_hello"]["value"] > 0
    for t in ids.values():
        assert t["goal"] and t["goal_met"] in (None, True, False), t
    for tid, goal in (("xadd_one_stream_vs_redis", "≥ 0.5×"), ("xadd_16_streams_vs_redis", "≥ 0.5×"),
                      ("xrange_vs_redis", "≥ 1.0×"), ("xread_wake_same_p99", "≤ 1 ms"),
                      ("xread_wake_other_p99", "≤ 50 ms"), ("get_uniform_vs_sqlite", "≥ 1.0×"),
                      ("get_uniform_d256_vs_sqlite", "≥ 1.0×"), ("get_absent_vs_sqlite", "≥ 1.0×"),
                      ("txn_vs_mset", "≥ 0.5×"), ("set_history_vs_none", "≥ 0.7×"),
                      ("get_hot_vs_redis", "≥ 1.5×"), ("set_vs_sqlite_one_txn", "≥ 0.75×"),
                      ("mixed_vs_sqlite", "≥ 1.0×")):
        assert ids[tid]["goal"] == goal, ids[tid]
    for tid in ("get_absent_vs_redis", "txn_vs_redis", "get_old_version_vs_current", "versions_vs_get"):
        assert ids[tid]["goal"] == "higher is better" and ids[tid]["goal_met"] is None, ids[tid]  # report-only
    assert ids["get_absent_vs_sqlite"]["figure"] == "engine.get_absent_d64.ops_per_s"
    assert ids["mixed_vs_sqlite"]["anchor_figure"] == "sqlite.mixed_uniform.ops_per_s"
    assert ids["set_p99"]["figure"] == "engine.set_seq_d64.p99_us" and ids["set_p99"]["value"] > 0
    assert ids["get_absent_vs_sqlite"]["anchor_figure"] == "sqlite.get_absent.ops_per_s"
    assert ids["get_uniform_d256_vs_sqlite"]["figure"] == "engine.get_uniform_d256.ops_per_s"
    assert ids["txn_vs_mset"]["figure"] == "engine.txn8_uniform_d64.keys_per_s"
    assert ids["txn_vs_mset"]["anchor_figure"] == "engine.mset8_uniform_d64.keys_per_s"
    assert ids["set_history_vs_none"]["figure"] == "engine_versions.set_uniform_d64.ops_per_s"
    assert ids["set_history_vs_none"]["anchor_figure"] == "engine.set_uniform_d64.ops_per_s"
    assert ids["xread_wake_same_p99"]["value"] > 0 and ids["xread_wake_other_p99"]["value"] > 0
    assert ids["xread_wake_other_p99"]["goal_met"] is not None
    f = doc["figures"]
    assert f["engine.set_seq_d64.ops_per_s"] > 0 and f["sqlite.get_uniform.ops_per_s"] > 0
    reads = doc["config"]["reads"]
    # Absent keys: every get misses, on every target; nothing else misses.
    assert f["engine.get_absent_d64.misses"] == reads and f["sqlite.get_absent.misses"] == reads
    assert f["engine.get_absent_d1.misses"] == doc["config"]["depth_ops"]
    assert f["engine.get_uniform_d256.ops_per_s"] > 0 and f["engine.get_uniform_d256.misses"] == 0
    assert f["engine.txn8_uniform_d64.keys_per_s"] > 0 and f["engine.txn8_uniform_d64.errors"] == 0
    assert f["engine.mset8_uniform_d64.keys_per_s"] > 0
    # History run: the first versions come back from history; the sweep includes depth 1.
    assert doc["runs"]["engine_versions"]["hello"]["keep_versions"] == 10
    for ph in ("set_uniform_d64", "get_current_d64", "get_old_version_d64", "versions_d64"):
        assert f["engine_versions.%s.ops_per_s" % ph] > 0 and f["engine_versions.%s.misses" % ph] == 0, ph
    assert f["engine.set_uniform_d1.ops_per_s"] > 0 and f["engine.set_uniform_d1024.ops_per_s"] > 0
    assert not any("found although" in n or "not found" in n for n in doc["notes"]), doc["notes"]
    assert f["python.host.mget.keys_per_s"] > 0 and f["engine.peak_rss_mb"] > 0
    assert f["engine_streams.xadd_1stream_d64.ops_per_s"] > 0 and f["engine_streams.xadd_16streams_d64.ops_per_s"] > 0
    assert f["engine_streams.xrange100_uniform_d16.entries_per_s"] > 0
    assert f["engine_streams.xrange100_uniform_d16.misses"] == 0  # every read got its 100 entries
    for mode in ("same", "other"):
        assert f["wakeup.%s.n" % mode] == doc["config"]["wake_rounds"] and f["wakeup.%s.errors" % mode] == 0
        assert 0 < f["wakeup.%s.p50_ms" % mode] <= f["wakeup.%s.p99_ms" % mode]
    if redis_server.available():
        assert f["redis.get_absent_d64.misses"] == reads and f["redis.txn8_uniform_d64.keys_per_s"] > 0
        assert f["redis_streams.xadd_1stream_d64.ops_per_s"] > 0
        assert f["redis_streams.xrange100_uniform_d16.misses"] == 0
        assert f["redis_wakeup.xread_block.p99_ms"] > 0
    md = (out / "smoke.md").read_text()
    assert "## Targets" in md and "smoke.png" in md
    assert "| goal |" in md and "Streams:" in md and "Absent keys:" in md and "--keep-versions 10" in md
    for row in ("| engine_streams | xadd_1stream_d64 |", "| engine_streams | xrange100_uniform_d16 |",
                "| wakeup | xread_wake_same |", "| wakeup | xread_wake_other |", "| engine | get_absent_d64 |",
                "| engine | get_uniform_d256 |", "| engine | txn8_uniform_d64 |", "| sqlite | get_absent |",
                "| engine_versions | get_old_version_d64 |", "| engine_versions | versions_d64 |",
                "| GET of absent keys, depth 64 vs raw SQLite GET of absent keys |"):
        assert row in md, row
    assert (out / "smoke.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    leftovers = [p for p in os.listdir(tmp_path) if p != "results"]
    assert leftovers == [], leftovers
