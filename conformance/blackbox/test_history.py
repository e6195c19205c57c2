"""History and compare-and-set (contract v2 sections 3-4) through real frames: the depth
recorded in the data dir and changed by `--keep-versions`, `versions` paging and tombstones,
`get` at a version, expired keys without history, conditional `set`/`delete` answering
`conflict` with the current version, and two engines racing `if_version` increments.
"""

from __future__ import annotations

import sqlite3
import threading

from engine_proc import check_error, pack, shard_of

ALL = 0xFFFFFFFF


def history(eng, key, **kw):
    r = eng.ok("versions", key=key, **kw)
    assert set(r) == {"id", "ok", "versions", "deleted", "more"}, r
    assert len(r["versions"]) == len(r["deleted"])
    return r


def conflict(eng, op, **fields):
    r = eng.call(op, **fields)
    check_error(r, "conflict", r["id"])
    return r["error"]


# --------------------------------------------------------------------------- depth


def test_depth_is_recorded_and_reported(start_engine, data_dir):
    eng = start_engine(extra=["--keep-versions", "5"])
    assert eng.ok("hello")["keep_versions"] == 5
    assert {"versions", "cas", "txn", "compact", "backup"} <= set(eng.ok("hello")["features"])
    assert eng.stop() == 0
    again = start_engine()                      # no flag: the recorded depth
    assert again.ok("hello")["keep_versions"] == 5
    assert again.stop() == 0
    every = start_engine(extra=["--keep-versions", "all"])
    assert every.ok("hello")["keep_versions"] == ALL
    assert every.stop() == 0
    for i in range(16):
        con = sqlite3.connect(f"file:{data_dir}/shard-{i:02d}.db?mode=ro", uri=True)
        assert con.execute("SELECT value FROM meta WHERE name='keep_versions'").fetchone() == (ALL,)
        con.close()


def test_bad_depth_flags_are_refused(start_engine, tmp_path):
    for bad in ("-1", "x", "4294967296", "1e3", ""):
        eng = start_engine(tmp_path / f"d{bad}", extra=["--keep-versions", bad], expect_exit=64)
        assert eng.wait() == 64


def test_without_history_only_the_current_version_is_listed(engine):
    assert engine.ok("hello")["keep_versions"] == 0
    for i in range(3):
        v = engine.ok("set", key="k", value=i)["version"]
    r = history(engine, "k")
    assert r["versions"] == [v] and r["deleted"] == [False] and r["more"] is False
    engine.ok("delete", key="k")
    assert history(engine, "k")["versions"] == []      # no tombstone at depth 0
    assert history(engine, "never")["versions"] == []


def test_depth_n_keeps_the_n_newest_superseded_versions(start_engine):
    eng = start_engine(extra=["--keep-versions", "3"])
    vs = [eng.ok("set", key="k", value={"n": i})["version"] for i in range(6)]
    r = history(eng, "k")
    assert r["versions"] == vs[::-1][:4] and r["deleted"] == [False] * 4
    for i in (5, 4, 3, 2):
        got = eng.ok("get", key="k", version=vs[i])
        assert got == {"id": got["id"], "ok": True, "found": True, "value": {"n": i},
                       "version": vs[i]}
    for i in (0, 1):
        got = eng.ok("get", key="k", version=vs[i])
        assert got == {"id": got["id"], "ok": True, "found": False}
    assert eng.ok("get", key="k", version=vs[5] + 1)["found"] is False
    # paging
    page = history(eng, "k", limit=2)
    assert page["versions"] == [vs[5], vs[4]] and page["more"] is True
    rest = history(eng, "k", limit=2, before=vs[4])
    assert rest["versions"] == [vs[3], vs[2]] and rest["more"] is False
    assert history(eng, "k", before=vs[2])["versions"] == []


def test_tombstones_are_versions_of_their_own(start_engine):
    eng = start_engine(extra=["--keep-versions", "all"])
    v1 = eng.ok("set", key="k", value="a")["version"]
    assert eng.ok("delete", key="k")["deleted"] is True
    assert eng.ok("delete", key="k")["deleted"] is False      # no second tombstone
    r = history(eng, "k")
    assert r["deleted"] == [True, False] and r["versions"][1] == v1
    tomb = r["versions"][0]
    assert tomb > v1
    assert eng.ok("get", key="k", version=tomb)["found"] is False
    assert eng.ok("get", key="k", version=v1)["value"] == "a"
    v3 = eng.ok("set", key="k", value="b")["version"]
    assert history(eng, "k")["versions"] == [v3, tomb, v1]
    # mdelete and clear tombstone the live keys they remove
    eng.ok("mset", entries=[[f"m{i}", i] for i in range(20)])
    assert eng.ok("mdelete", keys=["m0", "m1", "nope"])["deleted"] == 2
    assert history(eng, "m0")["deleted"] == [True, False]
    assert history(eng, "nope")["versions"] == []
    eng.ok("clear")
    assert history(eng, "m5")["deleted"] == [True, False]
    assert history(eng, "k")["deleted"] == [True, False, True, False]


def test_expired_keys_have_no_history(start_engine):
    eng = start_engine(extra=["--keep-versions", "10"])
    v1 = eng.ok("set", key="k", value=1)["version"]
    eng.ok("set", key="k", value=2, ttl_ms=150)
    assert len(history(eng, "k")["versions"]) == 2
    import time
    time.sleep(0.3)
    assert history(eng, "k")["versions"] == []
    assert eng.ok("get", key="k", version=v1)["found"] is False
    v3 = eng.ok("set", key="k", value=3)["version"]
    assert history(eng, "k")["versions"] == [v3]       # the old history went with the key


def test_lowering_the_depth_applies_at_each_keys_next_write_and_compact(start_engine, data_dir):
    eng = start_engine(extra=["--keep-versions", "10"])
    for i in range(8):
        eng.ok("set", key="a", value=i)
        eng.ok("set", key="b", value=i)
    assert eng.stop() == 0
    low = start_engine(extra=["--keep-versions", "2"])
    assert len(history(low, "a")["versions"]) == 8      # untouched until written
    low.ok("set", key="a", value=99)
    assert len(history(low, "a")["versions"]) == 3
    r = low.ok("compact")
    assert r["versions_removed"] >= 5
    assert len(history(low, "b")["versions"]) == 3
    r = low.ok("compact", keep_versions=0)               # drop all history for this run
    assert len(history(low, "b")["versions"]) == 1
    assert low.ok("hello")["keep_versions"] == 2          # the record is unchanged


def test_versions_bad_input(engine, expect_error):
    cases = [
        ({"op": "versions"}, "bad_request"),
        ({"op": "versions", "key": ""}, "invalid_key"),
        ({"op": "versions", "key": "k", "limit": 0}, "bad_request"),
        ({"op": "versions", "key": "k", "limit": 10001}, "bad_request"),
        ({"op": "versions", "key": "k", "before": -1}, "type_error"),
        ({"op": "get", "key": "k", "version": "1"}, "type_error"),
        ({"op": "set", "key": "k", "value": 1, "if_version": -5}, "type_error"),
        ({"op": "delete", "key": "k", "if_version": 1.5}, "type_error"),
        ({"op": "versions", "key": "k", "shard": (shard_of("k") + 1) % 16}, "wrong_shard"),
    ]
    for i, (req, code) in enumerate(cases):
        expect_error(engine, pack({"id": 700 + i, **req}), code, 700 + i)
    assert engine.ok("count")["count"] == 0


# --------------------------------------------------------------------------- compare-and-set


def test_if_version_on_set_and_delete(engine):
    v1 = engine.ok("set", key="c", value=1, if_version=0)["version"]   # absent: 0 holds
    err = conflict(engine, "set", key="c", value=2, if_version=0)
    assert err["version"] == v1 and err["key"] == "c"
    assert "does not hold" in err["message"]
    v2 = engine.ok("set", key="c", value=2, if_version=v1)["version"]
    assert conflict(engine, "set", key="c", value=3, if_version=v1)["version"] == v2
    assert conflict(engine, "delete", key="c", if_version=v1)["version"] == v2
    assert conflict(engine, "delete", key="c", if_version=0)["version"] == v2
    assert engine.ok("get", key="c")["value"] == 2                    # nothing written
    assert engine.ok("delete", key="c", if_version=v2)["deleted"] is True
    assert engine.ok("delete", key="c", if_version=0)["deleted"] is False
    assert conflict(engine, "set", key="c", value=1, if_version=v2)["version"] == 0
    # an expired key counts as absent
    engine.ok("set", key="t", value=1, ttl_ms=50)
    import time
    time.sleep(0.15)
    engine.ok("set", key="t", value=2, if_version=0)


def test_a_refused_write_does_not_fail_its_batch(engine):
    v = engine.ok("set", key="c", value=0)["version"]
    ids = []
    for i in range(50):
        rid = engine.new_id()
        ids.append(rid)
        engine.send({"id": rid, "op": "set", "key": "c", "value": i + 1, "if_version": v})
        rid = engine.new_id()
        ids.append(rid)
        engine.send({"id": rid, "op": "set", "key": f"other{i}", "value": i})
    answers = [engine.recv(rid) for rid in ids]
    cas = answers[0::2]
    assert sum(1 for a in cas if a["ok"]) == 1 and cas[0]["ok"]
    assert all(a["error"]["code"] == "conflict" for a in cas[1:])
    assert all(a["ok"] for a in answers[1::2])
    assert engine.ok("get", key="c")["value"] == 1


def test_two_engines_incrementing_with_if_version_lose_no_update(start_engine, data_dir):
    engines = [start_engine(), start_engine()]
    engines[0].ok("set", key="ctr", value=0)
    wins = [0, 0]
    conflicts = [0, 0]

    def worker(n):
        eng = engines[n]
        while wins[n] < 150:
            cur = eng.ok("get", key="ctr")
            r = eng.call("set", key="ctr", value=cur["value"] + 1, if_version=cur["version"])
            if r["ok"]:
                wins[n] += 1
            else:
                assert r["error"]["code"] == "conflict", r
                conflicts[n] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert engines[1].ok("get", key="ctr")["value"] == sum(wins) == 300
