"""Compare-and-set and transactions (protocol 2) on the synchronous client against the real
engine: `if_version` on set/delete, `Conflict` with the current version, `txn` and the
`transaction()` builder (all or nothing across shards, xadd inside, typed results, engine errors
passed through, the empty-transaction rule), and a CAS increment loop run by two engine processes
on one data dir that loses no update."""
import threading

import pytest

from litestash import (BadRequest, Conflict, InvalidKey, LiteStash, LiteStashError, Packed,
                       Transaction, TypeError_, UnknownOp, shard_for)

F32 = bytes.fromhex("ca3fc00000")


def keys_on_distinct_shards(n, shards=16, prefix="acct:"):
    seen, out, i = set(), [], 0
    while len(out) < n:
        k = "%s%d" % (prefix, i)
        if shard_for(k, shards) not in seen:
            seen.add(shard_for(k, shards))
            out.append(k)
        i += 1
    return out


# --- conditional writes ----------------------------------------------------------------------

def test_set_if_version(db):
    v1 = db.set("c", 1, if_version=0)                     # 0: only when absent
    with pytest.raises(Conflict) as ei:
        db.set("c", 2, if_version=0)
    e = ei.value
    assert isinstance(e, Conflict) and e.code == "conflict"
    assert e.version == v1 and e.key == "c"
    with pytest.raises(Conflict) as ei:
        db.set("c", 2, if_version=v1 - 1)
    assert ei.value.version == v1
    assert db.get_with_version("c") == (1, v1)            # the failed writes wrote nothing
    v2 = db.set("c", 2, if_version=v1)
    assert v2 > v1 and db.get("c") == 2
    v3 = db.set_raw("c", F32, if_version=v2, ttl_ms=60_000)
    assert db.get_raw("c") == F32 and db.ttl("c").ttl_ms is not None
    with pytest.raises(Conflict) as ei:
        db.set_raw("c", F32, if_version=v2)
    assert ei.value.version == v3
    with pytest.raises(Conflict) as ei:
        db.set("absent", 1, if_version=v3)
    assert ei.value.version == 0 and ei.value.key == "absent"
    assert db.exists("absent") is False


def test_delete_if_version(db):
    v = db.set("d", "x")
    with pytest.raises(Conflict) as ei:
        db.delete("d", if_version=0)                      # 0 on a live key conflicts
    assert ei.value.version == v and ei.value.key == "d"
    with pytest.raises(Conflict):
        db.delete("d", if_version=v + 1)
    assert db.get("d") == "x"
    assert db.delete("d", if_version=v) is True and db.exists("d") is False
    assert db.delete("d", if_version=0) is False          # holds on an absent key, deletes nothing
    with pytest.raises(Conflict) as ei:
        db.delete("d", if_version=v)
    assert ei.value.version == 0


def test_an_expired_key_counts_as_absent(db):
    import time
    db.set("e", 1, ttl_ms=20)
    time.sleep(0.08)
    assert db.set("e", 2, if_version=0) > 0
    assert db.get("e") == 2


def test_conflict_is_the_engines_error_only_for_cas(db):
    with pytest.raises(TypeError_):
        db.set("k", 1, if_version=-1)
    with pytest.raises(TypeError_):
        db.delete("k", if_version="1")


# --- txn ----------------------------------------------------------------------------------------

def test_txn_applies_everything_with_typed_results(db):
    a, b, c = keys_on_distinct_shards(3)
    va = db.set(a, 100)
    db.set(c, "hold")
    res = db.txn([{"op": "set", "key": a, "value": 70},
                  {"op": "set", "key": b, "value": 130, "ttl_ms": 60_000},
                  {"op": "xadd", "stream": "transfers", "value": {"from": a, "amount": 30}},
                  {"op": "delete", "key": c},
                  {"op": "delete", "key": "never-there"},
                  {"op": "xadd", "stream": "transfers", "value": Packed(F32)}],
                 checks=[(a, va), [b, 0]])
    assert len(res) == 6
    assert all(type(r) is int for r in (res[0], res[1], res[2], res[5]))
    assert res[3] is True and res[4] is False
    assert db.get_with_version(a) == (70, res[0]) and db.get_with_version(b) == (130, res[1])
    assert db.ttl(b).ttl_ms is not None and db.exists(c) is False
    assert (res[2], res[5]) == (1, 2)
    assert db.xget_raw("transfers", [2]) == [F32]
    assert db.xget("transfers", [1]) == [{"from": a, "amount": 30}]


def test_failed_check_writes_nothing(db):
    a, b, c = keys_on_distinct_shards(3, prefix="aon:")
    va = db.set(a, 1)
    vb = db.set(b, 2)
    db.xadd("log", "first")
    with pytest.raises(Conflict) as ei:
        db.txn([{"op": "set", "key": a, "value": "A"}, {"op": "set", "key": c, "value": "C"},
                {"op": "delete", "key": b}, {"op": "xadd", "stream": "log", "value": "x"},
                {"op": "xadd", "stream": "new-stream", "value": "y"}],
               checks=[(a, va), (b, vb + 1)])
    assert ei.value.key == b and ei.value.version == vb
    assert db.get_with_version(a) == (1, va) and db.get_with_version(b) == (2, vb)
    assert db.exists(c) is False
    assert db.xinfo("log").length == 1 and db.xinfo("new-stream").exists is False
    with pytest.raises(Conflict) as ei:                    # a check on an absent key
        db.txn([{"op": "set", "key": a, "value": "A"}], checks=[("ghost", 5)])
    assert ei.value.key == "ghost" and ei.value.version == 0


def test_engine_errors_pass_through(db):
    with pytest.raises(BadRequest):
        db.txn([])                                         # txn() sends what it is given
    with pytest.raises(BadRequest):
        db.txn([{"op": "set", "key": "k", "value": 1}, {"op": "delete", "key": "k"}])
    with pytest.raises(BadRequest):
        db.txn([{"op": "set", "key": "k", "value": 1, "if_version": 0}])
    with pytest.raises(BadRequest):
        db.txn([{"op": "set", "key": "k"}])                # no value
    with pytest.raises(InvalidKey):
        db.txn([{"op": "set", "key": "", "value": 1}])
    with pytest.raises(BadRequest):
        db.txn([{"op": "get", "key": "k"}])                # an op not allowed in a txn
    with pytest.raises(UnknownOp):
        db.txn([{"op": "bogus", "key": "k"}])
    with pytest.raises(BadRequest):
        db.txn([{"op": "set", "key": "k", "value": 1}], checks=[("k",)])
    with pytest.raises(TypeError_):
        db.txn(["not a map"])
    assert db.exists("k") is False


# --- the builder ------------------------------------------------------------------------------

def test_builder_commits_on_exit(db):
    a, b = keys_on_distinct_shards(2, prefix="tx:")
    db.set(b, "old")
    with db.transaction() as tx:
        assert isinstance(tx, Transaction)
        tx.check(a, 0)
        assert tx.set(a, {"n": 1}, ttl_ms=60_000) == 0     # each op returns its result's index
        assert tx.delete(b) == 1
        assert tx.xadd("events", "made " + a) == 2
        assert tx.set_raw("raw:" + a, F32) == 3
        assert tx.xadd_raw("events", F32) == 4
        assert tx.results is None
    v = db.get_with_version(a)[1]
    assert tx.results == [v, True, 1, tx.results[3], 2] and tx.finished
    assert db.get(a) == {"n": 1} and db.exists(b) is False and db.get_raw("raw:" + a) == F32
    with pytest.raises(LiteStashError) as ei:
        tx.set("x", 1)
    assert ei.value.code == "closed"
    with pytest.raises(LiteStashError):
        tx.commit()


def test_builder_explicit_commit_and_values_encoded_when_added(db):
    doc = {"n": 1}
    with db.transaction() as tx:
        tx.set("enc", doc)
        doc["n"] = 2                                       # too late: encoded when added
        results = tx.commit()
        assert results == tx.results and len(results) == 1
    assert db.get("enc") == {"n": 1}                       # committed once, by commit()


def test_builder_does_not_commit_when_the_block_raises(db):
    with pytest.raises(ZeroDivisionError):
        with db.transaction() as tx:
            tx.set("nope", 1)
            tx.xadd("nope-stream", 1)
            1 / 0
    assert tx.finished and tx.results is None
    assert db.exists("nope") is False and db.xinfo("nope-stream").exists is False
    with pytest.raises(LiteStashError):
        tx.commit()


def test_builder_conflict_raises_out_of_the_block(db):
    v = db.set("ctr", 1)
    db.set("ctr", 2)
    with pytest.raises(Conflict) as ei:
        with db.transaction() as tx:
            tx.check("ctr", v)
            tx.set("ctr", 3)
            tx.set("other", 3)
    assert ei.value.key == "ctr" and ei.value.version == db.get_with_version("ctr")[1]
    assert tx.finished and tx.results is None
    assert db.get("ctr") == 2 and db.exists("other") is False


def test_empty_builder_sends_nothing_but_checks_alone_are_sent(db):
    before = next(db._ids)
    with db.transaction() as tx:
        pass
    assert tx.results == [] and tx.finished
    assert db.transaction().commit() == []
    assert next(db._ids) == before + 1                     # no request was sent
    with pytest.raises(BadRequest):                        # a check is never silently skipped
        with db.transaction() as tx:
            tx.check("k", 0)
    with pytest.raises(BadRequest):                        # the engine's limit, not ours
        with db.transaction() as tx:
            tx.set("k", 1)
            tx.delete("k")


# --- CAS across engine processes ----------------------------------------------------------------

def cas_increment(db, key, times):
    """Add 1 to `key` `times` times with compare-and-set; returns the conflicts retried."""
    conflicts = 0
    for _ in range(times):
        while True:
            cur = db.get_with_version(key)
            value, version = cur if cur is not None else (0, 0)
            try:
                db.set(key, value + 1, if_version=version)
                break
            except Conflict as e:
                assert e.key == key and e.version != version
                conflicts += 1
    return conflicts


def test_cas_increments_from_two_engines_lose_nothing(engine, data_dir):
    with LiteStash(data_dir=data_dir, engine=engine, timeout=60) as a, \
            LiteStash(data_dir=data_dir, engine=engine, timeout=60) as b:
        assert a.pid != b.pid
        # One forced interleaving: both read, b writes, a's write must conflict.
        va = a.set("n", 0)
        assert b.get_with_version("n") == (0, va)
        vb = b.set("n", 1, if_version=va)
        with pytest.raises(Conflict) as ei:
            a.set("n", 1, if_version=va)
        assert ei.value.version == vb

        per_client = 150
        conflicts = []
        threads = [threading.Thread(target=lambda c=c: conflicts.append(cas_increment(c, "n", per_client)))
                   for c in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(conflicts) == 2, "an incrementing thread failed"
        assert a.get("n") == b.get("n") == 1 + 2 * per_client


def test_txn_checks_across_two_engines_conserve_a_total(engine, data_dir):
    """Move amounts between accounts from two engine processes with checked transactions."""
    accounts = keys_on_distinct_shards(4, prefix="bal:")
    with LiteStash(data_dir=data_dir, engine=engine, timeout=60) as a, \
            LiteStash(data_dir=data_dir, engine=engine, timeout=60) as b:
        a.mset({k: 100 for k in accounts})
        done = []

        def mover(db, seed):
            moved = 0
            for i in range(60):
                src, dst = accounts[(seed + i) % 4], accounts[(seed + 3 * i + 1) % 4]
                if src == dst:
                    continue
                while True:
                    (sv, sver), (dv, dver) = db.get_with_version(src), db.get_with_version(dst)
                    try:
                        with db.transaction() as tx:
                            tx.check(src, sver)
                            tx.check(dst, dver)
                            tx.set(src, sv - 1)
                            tx.set(dst, dv + 1)
                            tx.xadd("moves", [src, dst])
                        moved += 1
                        break
                    except Conflict:
                        continue
            done.append(moved)

        threads = [threading.Thread(target=mover, args=(c, s)) for c, s in ((a, 0), (b, 1))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(done) == 2
        assert sum(a.mget(accounts)) == 400
        assert a.xinfo("moves").length == sum(done)
