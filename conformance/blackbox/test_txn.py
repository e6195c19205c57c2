"""Transactions and all-or-nothing multi-shard writes (contract v2 sections 5-6) through real
frames: `txn` results, checks refusing everything with `conflict`, nested ops validated like
top-level ones, the limits, isolation within one engine (no read sees part of a txn or of an
mset), two engines moving amounts between accounts with the total conserved, and the
bookkeeping tables empty once writes are done.
"""

from __future__ import annotations

import sqlite3
import threading
import time

from engine_proc import check_error, pack, shard_of


def sets(prefix, n, value):
    return [{"op": "set", "key": f"{prefix}{i}", "value": value} for i in range(n)]


def spans(keys, shards=16):
    return len({shard_of(k, shards) for k in keys})


def test_txn_applies_every_op_and_answers_each_result(engine):
    ops = sets("t", 8, "v") + [{"op": "delete", "key": "absent"},
                               {"op": "xadd", "stream": "log", "value": {"n": 1}},
                               {"op": "xadd", "stream": "log", "value": {"n": 2}},
                               {"op": "set", "key": "ttl", "value": 1, "ttl_ms": 60000}]
    assert spans([f"t{i}" for i in range(8)]) >= 4
    r = engine.ok("txn", ops=ops)
    res = r["results"]
    assert len(res) == len(ops)
    for i in range(8):
        got = engine.ok("get", key=f"t{i}")
        assert got["value"] == "v" and got["version"] == res[i]
    assert res[8] is False and res[9] == 1 and res[10] == 2
    assert engine.ok("ttl", key="ttl")["ttl_ms"] > 50000
    assert [e[2] for e in engine.ok("xrange", stream="log")["entries"]] == [{"n": 1}, {"n": 2}]
    assert engine.ok("txn", ops=[{"op": "delete", "key": "t0"}])["results"] == [True]


def test_a_failed_check_refuses_everything(engine):
    a = engine.ok("set", key="acct:a", value=100)["version"]
    b = engine.ok("set", key="acct:b", value=50)["version"]
    ops = [{"op": "set", "key": "acct:a", "value": 70}, {"op": "set", "key": "acct:b", "value": 80},
           {"op": "xadd", "stream": "moves", "value": 30}] + sets("side", 6, 1)
    r = engine.call("txn", checks=[["acct:a", a], ["acct:b", b + 1]], ops=ops)
    check_error(r, "conflict", r["id"])
    assert r["error"]["key"] == "acct:b" and r["error"]["version"] == b
    assert engine.ok("get", key="acct:a")["value"] == 100
    assert engine.ok("xinfo", stream="moves")["exists"] is False
    assert engine.ok("mget", keys=[f"side{i}" for i in range(6)])["found"] == [False] * 6
    # absent keys check as 0; checks may name the keys the ops write
    r = engine.ok("txn", checks=[["acct:a", a], ["acct:b", b], ["new", 0]], ops=ops)
    assert engine.ok("get", key="acct:b")["version"] == r["results"][1]
    assert engine.ok("xinfo", stream="moves")["length"] == 1


def test_nested_ops_are_validated_like_top_level_ops(engine, expect_error):
    cases = [
        ({"ops": []}, "bad_request"),
        ({"ops": [{"op": "set", "key": "k", "value": 1}] * 10001}, "bad_request"),
        ({}, "bad_request"),
        ({"ops": "set"}, "type_error"),
        ({"ops": [{"op": "get", "key": "k"}]}, "bad_request"),
        ({"ops": [{"op": "nope", "key": "k"}]}, "unknown_op"),
        ({"ops": [{"key": "k", "value": 1}]}, "bad_request"),
        ({"ops": [{"op": "set", "key": "k"}]}, "bad_request"),
        ({"ops": [{"op": "set", "key": "", "value": 1}]}, "invalid_key"),
        ({"ops": [{"op": "set", "key": 7, "value": 1}]}, "type_error"),
        ({"ops": [{"op": "set", "key": "k", "value": 1, "if_version": 1}]}, "bad_request"),
        ({"ops": [{"op": "set", "key": "k", "value": 1, "shard": 0}]}, "bad_request"),
        ({"ops": [{"op": "set", "key": "k", "value": 1, "ttl_ms": 0}]}, "bad_request"),
        ({"ops": [{"op": "xadd", "stream": "s", "value": 1, "maxlen": 5}]}, "bad_request"),
        ({"ops": [{"op": "delete", "key": "k", "value": 1}]}, "bad_request"),
        ({"ops": [{"op": "set", "key": "k", "value": 1}, {"op": "delete", "key": "k"}]},
         "bad_request"),
        ({"ops": [{"op": "set", "key": "k", "value": 1}, {"op": "set", "key": "k", "value": 2}]},
         "bad_request"),
        ({"ops": [{"op": "set", "key": "k", "value": 1}], "checks": [["k"]]}, "bad_request"),
        ({"ops": [{"op": "set", "key": "k", "value": 1}], "checks": [["k", -1]]}, "type_error"),
        ({"ops": [{"op": "set", "key": "k", "value": 1}], "checks": [["", 1]]}, "invalid_key"),
        ({"ops": [{"op": "set", "key": "k", "value": 1}], "checks": {"k": 1}}, "type_error"),
        ({"ops": [{"op": "set", "key": "k", "value": 1}], "key": "k"}, "bad_request"),
    ]
    for i, (req, code) in enumerate(cases):
        expect_error(engine, pack({"id": 900 + i, "op": "txn", **req}), code, 900 + i)
    assert engine.ok("count")["count"] == 0
    assert engine.ok("xstreams")["streams"] == []


def test_nested_value_too_large(start_engine):
    eng = start_engine(extra=["--max-value-bytes", "16"])
    r = eng.call("txn", ops=[{"op": "set", "key": "a", "value": 1},
                             {"op": "set", "key": "b", "value": "x" * 40}])
    check_error(r, "value_too_large", r["id"])
    assert eng.ok("count")["count"] == 0


def test_the_op_limit_is_10000(engine):
    r = engine.ok("txn", ops=sets("big", 10000, 0))
    assert len(r["results"]) == 10000
    assert engine.ok("count")["count"] == 10000


def test_no_read_of_this_engine_sees_part_of_a_txn_or_an_mset(engine):
    keys = [f"iso{i}" for i in range(8)]
    assert spans(keys) >= 4
    ids = []
    for n in range(200):
        rid = engine.new_id()
        if n % 2:
            engine.send({"id": rid, "op": "txn",
                         "ops": [{"op": "set", "key": k, "value": n} for k in keys]})
        else:
            engine.send({"id": rid, "op": "mset", "entries": [[k, n] for k in keys]})
        ids.append(("w", rid))
        rid = engine.new_id()
        engine.send({"id": rid, "op": "mget", "keys": keys})
        ids.append(("r", rid))
    for kind, rid in ids:
        a = engine.recv(rid)
        assert a["ok"], a
        if kind == "r":
            assert len(set(a["values"])) == 1, a["values"]


def test_mset_mdelete_clear_across_shards(engine):
    entries = [[f"m{i}", i] for i in range(64)]
    assert engine.ok("mset", entries=entries)["count"] == 64
    assert engine.ok("mdelete", keys=[f"m{i}" for i in range(10)] + ["m0"])["deleted"] == 10
    assert engine.ok("count")["count"] == 54
    engine.ok("clear")
    assert engine.ok("count")["count"] == 0


def test_bookkeeping_is_empty_once_the_writes_are_done(engine, data_dir):
    for n in range(30):
        engine.ok("txn", ops=sets("b", 8, n))
        engine.ok("mset", entries=[[f"c{i}", n] for i in range(8)])
    engine.ok("sync")
    deadline = time.time() + 5
    while True:
        pending = intents = 0
        for i in range(16):
            con = sqlite3.connect(f"file:{data_dir}/shard-{i:02d}.db?mode=ro", uri=True)
            pending += con.execute("SELECT count(*) FROM txn_pending").fetchone()[0]
            intents += con.execute("SELECT count(*) FROM txn_intents").fetchone()[0]
            con.close()
        if (pending, intents) == (0, 0) or time.time() > deadline:
            break
        time.sleep(0.1)
    assert (pending, intents) == (0, 0)
    assert (data_dir / "litestash.owners").exists()


def test_two_engines_moving_amounts_conserve_the_total(start_engine, data_dir):
    accounts = [f"acct{i}" for i in range(8)]
    engines = [start_engine(), start_engine()]
    engines[0].ok("mset", entries=[[a, 1000] for a in accounts])
    commits = [0, 0]
    conflicts = [0, 0]
    stop = time.time() + 4

    def worker(n):
        eng = engines[n]
        i = n
        while time.time() < stop:
            src, dst = accounts[i % 8], accounts[(i * 3 + 1 + n) % 8]
            i += 1
            if src == dst:
                continue
            a, b = eng.ok("get", key=src), eng.ok("get", key=dst)
            amount = 1 + i % 7
            r = eng.call("txn", checks=[[src, a["version"]], [dst, b["version"]]],
                         ops=[{"op": "set", "key": src, "value": a["value"] - amount},
                              {"op": "set", "key": dst, "value": b["value"] + amount}])
            if r["ok"]:
                commits[n] += 1
            else:
                assert r["error"]["code"] == "conflict", r
                conflicts[n] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    values = engines[1].ok("mget", keys=accounts)["values"]
    assert sum(values) == 8000, values
    assert sum(commits) > 20, (commits, conflicts)
