"""Pipelining, read-your-writes and version ordering.

Requests are written to stdin in one go without waiting for answers (a reader thread in
EngineProcess drains stdout meanwhile, as a real host's port would); answers are matched by
id, and every request must be answered exactly once.
"""

from __future__ import annotations

import time

from engine_proc import frame, keys_for_shard, pack, unpack


def collect(engine, ids, timeout=60.0) -> dict:
    """Read frames until every id in `ids` has been answered; fail on duplicates/strangers."""
    want = set(ids)
    got: dict = {}
    deadline = time.monotonic() + timeout
    while len(got) < len(want):
        body = engine.read_frame(max(0.1, deadline - time.monotonic()))
        msg = unpack(body)
        rid = msg.get("id")
        assert rid in want, f"answer with unexpected id: {msg!r}"
        assert rid not in got, f"id {rid} answered twice: {got[rid]!r} / {msg!r}"
        got[rid] = msg
    return got


def test_pipeline_2500_requests(engine):
    reqs = []
    for i in range(500):
        key = f"pipe:{i}"
        reqs += [{"op": "set", "key": key, "value": [i, "v" * (i % 40)]},
                 {"op": "get", "key": key},
                 {"op": "exists", "key": key},
                 {"op": "ping"},
                 {"op": "get", "key": f"absent:{i}"}]
    for n, r in enumerate(reqs):
        r["id"] = 10_000 + n
    blob = b"".join(frame(pack(r)) for r in reqs)
    engine.send_raw(blob)                       # everything in one write, nothing read yet
    got = collect(engine, [r["id"] for r in reqs])
    assert len(got) == 2500
    for r in reqs:
        resp = got[r["id"]]
        assert resp["ok"] is True, (r, resp)
        if r["op"] == "set":
            assert isinstance(resp["version"], int)
        elif r["op"] == "get" and r["key"].startswith("pipe:"):
            i = int(r["key"].split(":")[1])
            assert resp["found"] is True and resp["value"] == [i, "v" * (i % 40)]
            assert resp["version"] == got[r["id"] - 1]["version"]
        elif r["op"] == "get":
            assert resp == {"id": r["id"], "ok": True, "found": False}
        elif r["op"] == "exists":
            assert resp["exists"] is True
        else:
            assert resp == {"id": r["id"], "ok": True}
    assert engine.ok("count")["count"] == 500


def test_pipelined_read_your_writes_same_key(engine):
    """Per key: set v1, get, set v2, get, delete, get, mset v3, mget, expire, ttl, persist,
    ttl, mdelete, exists, set v4 with ttl, get, set v5, ttl — pipelined, keys interleaved
    round-robin so other keys' requests sit between the steps."""
    steps = [
        ({"op": "set", "value": "v1"}, lambda r: r["ok"]),
        ({"op": "get"}, lambda r: r["found"] and r["value"] == "v1"),
        ({"op": "set", "value": "v2"}, lambda r: r["ok"]),
        ({"op": "get"}, lambda r: r["found"] and r["value"] == "v2"),
        ({"op": "delete"}, lambda r: r["deleted"] is True),
        ({"op": "get"}, lambda r: r["found"] is False),
        ({"op": "mset", "value": "v3"}, lambda r: r["count"] == 1),
        ({"op": "mget"}, lambda r: r["found"] == [True] and r["values"] == ["v3"]),
        ({"op": "expire", "ttl_ms": 600_000}, lambda r: r["updated"] is True),
        ({"op": "ttl"}, lambda r: r["found"] and 500_000 < r["ttl_ms"] <= 600_000),
        ({"op": "persist"}, lambda r: r["updated"] is True),
        ({"op": "ttl"}, lambda r: r["found"] and r["ttl_ms"] is None),
        ({"op": "mdelete"}, lambda r: r["deleted"] == 1),
        ({"op": "exists"}, lambda r: r["exists"] is False),
        ({"op": "set", "value": "v4", "ttl_ms": 600_000}, lambda r: r["ok"]),
        ({"op": "get"}, lambda r: r["value"] == "v4"),
        ({"op": "set", "value": "v5"}, lambda r: r["ok"]),
        ({"op": "ttl"}, lambda r: r["found"] and r["ttl_ms"] is None),
    ]
    keys = [f"ryw:{i}" for i in range(60)]
    reqs, checks = [], {}
    rid = 1
    for step, check in steps:
        for key in keys:
            r = {"id": rid, **step}
            if r["op"] == "mset":
                r["entries"] = [[key, r.pop("value")]]
            elif r["op"] in ("mget", "mdelete"):
                r["keys"] = [key]
            else:
                r["key"] = key
            reqs.append(r)
            checks[rid] = (r, check)
            rid += 1
    engine.send_raw(b"".join(frame(pack(r)) for r in reqs))
    got = collect(engine, list(checks))
    for i, (r, check) in checks.items():
        resp = got[i]
        assert resp["ok"] is True and check(resp), f"request {r!r} got {resp!r}"
    for key in keys:
        assert engine.ok("get", key=key)["value"] == "v5"


def test_versions_increase_on_one_shard(engine):
    keys = keys_for_shard(5, 40, prefix="ver:")
    # sequential sets on different keys of one shard
    versions = [engine.ok("set", key=k, value=i)["version"] for i, k in enumerate(keys)]
    assert all(a < b for a, b in zip(versions, versions[1:])), versions
    # pipelined sets on one key: answered in any order, but versions follow request order
    reqs = [{"id": 100 + i, "op": "set", "key": keys[0], "value": i} for i in range(300)]
    engine.send_raw(b"".join(frame(pack(r)) for r in reqs))
    got = collect(engine, [r["id"] for r in reqs])
    same_key = [got[r["id"]]["version"] for r in reqs]
    assert all(a < b for a, b in zip(same_key, same_key[1:]))
    assert same_key[0] > versions[-1]
    g = engine.ok("get", key=keys[0])
    assert (g["value"], g["version"]) == (299, same_key[-1])
    # pipelined sets on many keys of the shard: all versions distinct and above earlier ones
    reqs = [{"id": 1000 + i, "op": "set", "key": keys[i % len(keys)], "value": i}
            for i in range(400)]
    engine.send_raw(b"".join(frame(pack(r)) for r in reqs))
    got = collect(engine, [r["id"] for r in reqs])
    many = [got[r["id"]]["version"] for r in reqs]
    assert len(set(many)) == len(many), "two writes on one shard share a version"
    assert min(many) > same_key[-1]
    # mset on the shard stamps versions above everything before
    engine.ok("mset", entries=[[k, "m"] for k in keys[:5]])
    after = [engine.ok("get", key=k)["version"] for k in keys[:5]]
    assert min(after) > max(many)
    # and a later plain set is above the mset
    assert engine.ok("set", key=keys[7], value=0)["version"] > max(after)
