"""Every core operation of contract section 4, driven through real frames.

Covers hello, ping, set/get/delete/exists, mset/mget/mdelete, scan (prefix, after, limit,
more, byte ordering, across shards), count, clear, expire/ttl/persist (including expired keys
acting as absent for every operation and set/mset without ttl clearing an expiry), stats and
sync, plus the exact response shapes fixed in docs/protocol.md.
"""

from __future__ import annotations

import time

from engine_proc import shard_of

# Short expiries: long enough that the key is surely still live for the checks made right
# after writing it (even on a loaded machine), short enough to keep the suite fast.
SHORT_TTL = 250          # ms
EXPIRY_WAIT = 0.65       # s, comfortably past SHORT_TTL

EXPECTED_FEATURES = {"ttl", "scan", "mget", "mset", "mdelete", "sync", "stats", "streams",
                     "blocking_reads"}


def test_hello_fields(engine):
    r = engine.ok("hello")
    assert r["protocol"] == 2
    assert r["keep_versions"] == 0
    assert r["engine"] == "litestash-engine"
    assert isinstance(r["version"], str) and r["version"]
    assert r["shards"] == 16
    assert r["hash"] == "blake2b-512"
    assert r["max_frame_bytes"] == 16 * 1024 * 1024
    assert r["max_key_bytes"] == 1024
    assert r["max_value_bytes"] == 8 * 1024 * 1024
    assert isinstance(r["features"], list)
    assert all(isinstance(f, str) for f in r["features"])
    assert EXPECTED_FEATURES <= set(r["features"]), r["features"]


def test_hello_reflects_flags(start_engine):
    eng = start_engine(shards=4, extra=["--max-frame-bytes", "65536", "--max-key-bytes", "64",
                                        "--max-value-bytes", "4096"])
    r = eng.ok("hello")
    assert (r["shards"], r["max_frame_bytes"], r["max_key_bytes"], r["max_value_bytes"]) == \
        (4, 65536, 64, 4096)


def test_ping_shape(engine):
    r = engine.ok("ping")
    assert set(r) == {"id", "ok"}


def test_id_echoed_including_large_uint64(engine):
    for rid in (0, 1, 2**32, 2**64 - 1):
        engine.send({"id": rid, "op": "ping"})
        r = engine.recv(rid)
        assert r == {"id": rid, "ok": True}


def test_set_get_roundtrip(engine):
    s = engine.ok("set", key="user:1", value={"name": "ada", "n": [1, 2, 3]})
    assert set(s) == {"id", "ok", "version"}
    assert isinstance(s["version"], int) and s["version"] > 0
    now_us = int(time.time() * 1_000_000)
    assert abs(now_us - s["version"]) < 60 * 1_000_000, "version is not microseconds since epoch"
    g = engine.ok("get", key="user:1")
    assert set(g) == {"id", "ok", "found", "value", "version"}
    assert g["found"] is True
    assert g["value"] == {"name": "ada", "n": [1, 2, 3]}
    assert g["version"] == s["version"]


def test_get_missing_shape(engine):
    rid = engine.send({"op": "get", "key": "nope"})
    assert engine.recv(rid) == {"id": rid, "ok": True, "found": False}


def test_set_overwrites_and_bumps_version(engine):
    v1 = engine.ok("set", key="k", value=1)["version"]
    v2 = engine.ok("set", key="k", value=2)["version"]
    assert v2 > v1
    g = engine.ok("get", key="k")
    assert (g["value"], g["version"]) == (2, v2)


def test_set_nil_value_is_found(engine):
    engine.ok("set", key="nil", value=None)
    g = engine.ok("get", key="nil")
    assert g["found"] is True and g["value"] is None
    assert engine.ok("exists", key="nil")["exists"] is True


def test_delete_and_exists(engine):
    assert engine.ok("exists", key="d")["exists"] is False
    engine.ok("set", key="d", value="x")
    e = engine.ok("exists", key="d")
    assert set(e) == {"id", "ok", "exists"} and e["exists"] is True
    d = engine.ok("delete", key="d")
    assert set(d) == {"id", "ok", "deleted"} and d["deleted"] is True
    assert engine.ok("delete", key="d")["deleted"] is False
    assert engine.ok("exists", key="d")["exists"] is False
    assert engine.ok("get", key="d")["found"] is False


def test_unicode_key(engine):
    key = "ключ:日本:🙂"
    engine.ok("set", key=key, value="u")
    assert engine.ok("get", key=key)["value"] == "u"
    assert engine.ok("scan", prefix="ключ")["keys"] == [key]


def test_mset_mget_mdelete(engine):
    entries = [[f"m:{i}", i * 10] for i in range(40)]
    r = engine.ok("mset", entries=entries)
    assert set(r) == {"id", "ok", "count"} and r["count"] == 40
    for i in (0, 17, 39):
        assert engine.ok("get", key=f"m:{i}")["value"] == i * 10
    keys = ["m:3", "missing", "m:39", "m:3", "m:0"]
    g = engine.ok("mget", keys=keys)
    assert set(g) == {"id", "ok", "found", "values"}
    assert g["found"] == [True, False, True, True, True]
    assert g["values"] == [30, None, 390, 30, 0]
    d = engine.ok("mdelete", keys=["m:1", "m:2", "missing", "m:3"])
    assert set(d) == {"id", "ok", "deleted"} and d["deleted"] == 3
    g = engine.ok("mget", keys=["m:1", "m:2", "m:3", "m:4"])
    assert g["found"] == [False, False, False, True]
    assert g["values"] == [None, None, None, 40]
    assert engine.ok("count")["count"] == 37


def test_mget_found_nil_value(engine):
    engine.ok("set", key="n", value=None)
    g = engine.ok("mget", keys=["n", "absent"])
    assert g["found"] == [True, False] and g["values"] == [None, None]


def test_empty_multi_key_requests(engine):
    assert engine.ok("mset", entries=[])["count"] == 0
    g = engine.ok("mget", keys=[])
    assert g["found"] == [] and g["values"] == []
    assert engine.ok("mdelete", keys=[])["deleted"] == 0


def _scan_all(engine, **fields):
    """Page through scan with `after`; return (all keys, number of pages)."""
    keys, pages, after = [], 0, None
    while True:
        req = dict(fields)
        if after is not None:
            req["after"] = after
        r = engine.ok("scan", **req)
        pages += 1
        keys += r["keys"]
        if not r["more"]:
            return keys, pages
        assert r["keys"], "more=true with an empty page"
        after = r["keys"][-1]


def test_scan_prefix_after_limit_across_shards(engine):
    scan_keys = [f"scan:{i:03d}" for i in range(100)] + ["scan:é", "scan:Z", "scan:z", "scan:~",
                                                         "scan:", "scan:\u00ff", "scan:日"]
    others = ["other:1", "scam", "sca", "scan", "Scan:1", "zzz"]
    assert len({shard_of(k) for k in scan_keys}) == 16, "keys should cover every shard"
    engine.ok("mset", entries=[[k, 1] for k in scan_keys + others])
    expected = sorted(scan_keys, key=lambda k: k.encode("utf-8"))

    r = engine.ok("scan", prefix="scan:")
    assert set(r) == {"id", "ok", "keys", "more"}
    assert r["keys"] == expected and r["more"] is False

    # pages of 7 with `after` give the same list, `more` true on every page but the last
    got, pages = _scan_all(engine, prefix="scan:", limit=7)
    assert got == expected
    assert pages == -(-len(expected) // 7)

    # limit equal to the number of matches: no further keys, so more=false
    r = engine.ok("scan", prefix="scan:", limit=len(expected))
    assert r["keys"] == expected and r["more"] is False
    r = engine.ok("scan", prefix="scan:", limit=len(expected) - 1)
    assert r["keys"] == expected[:-1] and r["more"] is True

    # after is exclusive and need not exist
    r = engine.ok("scan", prefix="scan:", after="scan:050", limit=3)
    assert r["keys"] == ["scan:051", "scan:052", "scan:053"] and r["more"] is True
    r = engine.ok("scan", prefix="scan:", after="scan:0505", limit=2)
    assert r["keys"] == ["scan:051", "scan:052"]
    r = engine.ok("scan", prefix="scan:", after=expected[-1])
    assert r["keys"] == [] and r["more"] is False

    # no prefix: every key, byte order
    every = sorted(scan_keys + others, key=lambda k: k.encode("utf-8"))
    assert engine.ok("scan")["keys"] == every
    got, _ = _scan_all(engine, limit=10)
    assert got == every
    r = engine.ok("scan", after="scan:~")
    assert r["keys"] == [k for k in every if k.encode() > "scan:~".encode()]

    # prefix with no match
    r = engine.ok("scan", prefix="nomatch")
    assert (r["keys"], r["more"]) == ([], False)


def test_scan_default_limit_is_1000(engine):
    engine.ok("mset", entries=[[f"big:{i:05d}", 0] for i in range(1005)])
    r = engine.ok("scan", prefix="big:")
    assert len(r["keys"]) == 1000 and r["more"] is True
    r = engine.ok("scan", prefix="big:", limit=10000)
    assert len(r["keys"]) == 1005 and r["more"] is False


def test_count_and_clear(engine):
    r = engine.ok("count")
    assert set(r) == {"id", "ok", "count"} and r["count"] == 0
    engine.ok("mset", entries=[[f"c:{i}", i] for i in range(50)])
    assert engine.ok("count")["count"] == 50
    r = engine.ok("clear")
    assert set(r) == {"id", "ok"}
    assert engine.ok("count")["count"] == 0
    assert engine.ok("get", key="c:1")["found"] is False
    assert engine.ok("scan")["keys"] == []
    engine.ok("set", key="after-clear", value=1)
    assert engine.ok("count")["count"] == 1


def test_stats_shards(engine):
    keys = [f"st:{i}" for i in range(200)] + ["ttl:1", "ttl:2"]
    engine.ok("mset", entries=[[k, 1] for k in keys[:-2]])
    engine.ok("mset", entries=[["ttl:1", 1], ["ttl:2", 2]], ttl_ms=600_000)
    r = engine.ok("stats")
    shards = r["shards"]
    assert isinstance(shards, list) and len(shards) == 16
    per_shard = [0] * 16
    expiring = [0] * 16
    for k in keys:
        per_shard[shard_of(k)] += 1
    for k in keys[-2:]:
        expiring[shard_of(k)] += 1
    for i, s in enumerate(shards):
        assert isinstance(s, dict)
        assert s["keys"] == per_shard[i], f"shard {i}: {s!r}"
        assert s.get("shard") == i, s
        assert s.get("expiring") == expiring[i], s
    assert sum(s["keys"] for s in shards) == engine.ok("count")["count"] == 202
    assert "inflight" in r and "requests" in r


def test_stats_pages_written(engine):
    """Each shard's pages_written counts the WAL pages this process's commits wrote: a write
    adds at least one page to its shard, a read adds none."""
    before = [s["pages_written"] for s in engine.ok("stats")["shards"]]
    engine.ok("set", key="pw", value="x" * 100)
    engine.ok("get", key="pw")
    after = [s["pages_written"] for s in engine.ok("stats")["shards"]]
    changed = {i for i in range(16) if after[i] != before[i]}
    assert changed == {shard_of("pw")}
    assert after[shard_of("pw")] - before[shard_of("pw")] >= 1
    engine.ok("get", key="pw")
    engine.ok("xrange", stream="none", after=0)
    assert [s["pages_written"] for s in engine.ok("stats")["shards"]] == after


def test_a_restart_writes_nothing(start_engine):
    """Opening an existing data dir writes no page to any shard (it used to rewrite each shard's
    header page at every start)."""
    first = start_engine()
    first.ok("set", key="k", value=1)
    assert first.stop() == 0
    again = start_engine()
    assert [s["pages_written"] for s in again.ok("stats")["shards"]] == [0] * 16
    assert again.ok("get", key="k")["value"] == 1


def test_sync(engine):
    engine.ok("set", key="s", value=1)
    r = engine.ok("sync")
    assert set(r) == {"id", "ok"}


# --------------------------------------------------------------------------- expiry

def test_ttl_of_plain_and_missing_keys(engine):
    engine.ok("set", key="plain", value=1)
    rid = engine.send({"op": "ttl", "key": "plain"})
    assert engine.recv(rid) == {"id": rid, "ok": True, "found": True, "ttl_ms": None}
    rid = engine.send({"op": "ttl", "key": "absent"})
    assert engine.recv(rid) == {"id": rid, "ok": True, "found": False, "ttl_ms": None}


def test_set_with_ttl_reports_remaining(engine):
    engine.ok("set", key="t", value=1, ttl_ms=60_000)
    t = engine.ok("ttl", key="t")
    assert t["found"] is True
    assert isinstance(t["ttl_ms"], int) and 50_000 < t["ttl_ms"] <= 60_000


def test_expired_key_is_absent_everywhere(engine):
    engine.ok("set", key="live", value="L")
    engine.ok("set", key="exp:a", value="A", ttl_ms=SHORT_TTL)
    engine.ok("mset", entries=[["exp:b", "B"], ["exp:c", "C"]], ttl_ms=SHORT_TTL)
    assert engine.ok("count")["count"] == 4
    time.sleep(EXPIRY_WAIT)
    assert engine.ok("get", key="exp:a")["found"] is False
    assert engine.ok("exists", key="exp:b")["exists"] is False
    g = engine.ok("mget", keys=["exp:a", "live", "exp:c"])
    assert g["found"] == [False, True, False] and g["values"] == [None, "L", None]
    assert engine.ok("scan")["keys"] == ["live"]
    assert engine.ok("scan", prefix="exp:")["keys"] == []
    assert engine.ok("count")["count"] == 1
    t = engine.ok("ttl", key="exp:b")
    assert t["found"] is False and t["ttl_ms"] is None
    assert engine.ok("expire", key="exp:b", ttl_ms=60_000)["updated"] is False
    assert engine.ok("persist", key="exp:c")["updated"] is False
    assert engine.ok("get", key="exp:b")["found"] is False
    assert engine.ok("delete", key="exp:a")["deleted"] is False
    assert engine.ok("mdelete", keys=["exp:b", "exp:c", "live"])["deleted"] == 1
    # an expired key can be written again and is then live, without the old expiry
    engine.ok("set", key="exp:a", value="again")
    assert engine.ok("get", key="exp:a")["value"] == "again"
    assert engine.ok("ttl", key="exp:a")["ttl_ms"] is None


def test_set_without_ttl_clears_expiry(engine):
    engine.ok("set", key="k", value=1, ttl_ms=SHORT_TTL)
    engine.ok("set", key="k", value=2)
    assert engine.ok("ttl", key="k")["ttl_ms"] is None
    engine.ok("mset", entries=[["m", 1]], ttl_ms=SHORT_TTL)
    engine.ok("mset", entries=[["m", 2]])
    assert engine.ok("ttl", key="m")["ttl_ms"] is None
    time.sleep(EXPIRY_WAIT)
    assert engine.ok("get", key="k")["value"] == 2
    assert engine.ok("get", key="m")["value"] == 2


def test_set_with_ttl_replaces_earlier_ttl(engine):
    engine.ok("set", key="k", value=1, ttl_ms=SHORT_TTL)
    engine.ok("set", key="k", value=2, ttl_ms=60_000)
    time.sleep(EXPIRY_WAIT)
    assert engine.ok("get", key="k")["value"] == 2


def test_expire_and_persist(engine):
    v = engine.ok("set", key="e", value="x")["version"]
    r = engine.ok("persist", key="e")
    assert set(r) == {"id", "ok", "updated"} and r["updated"] is False
    r = engine.ok("expire", key="e", ttl_ms=SHORT_TTL)
    assert set(r) == {"id", "ok", "updated"} and r["updated"] is True
    t = engine.ok("ttl", key="e")["ttl_ms"]
    assert isinstance(t, int) and 1 <= t <= SHORT_TTL
    assert engine.ok("get", key="e")["version"] == v, "expire must not change the version"
    time.sleep(EXPIRY_WAIT)
    assert engine.ok("get", key="e")["found"] is False
    assert engine.ok("expire", key="missing", ttl_ms=100)["updated"] is False

    engine.ok("set", key="p", value="y", ttl_ms=SHORT_TTL)
    v = engine.ok("get", key="p")["version"]
    assert engine.ok("persist", key="p")["updated"] is True
    assert engine.ok("ttl", key="p")["ttl_ms"] is None
    assert engine.ok("persist", key="p")["updated"] is False
    time.sleep(EXPIRY_WAIT)
    g = engine.ok("get", key="p")
    assert g["found"] is True and g["version"] == v, "persist must not change the version"
    assert engine.ok("persist", key="missing")["updated"] is False


def test_expire_can_shorten_and_lengthen(engine):
    engine.ok("set", key="a", value=1, ttl_ms=60_000)
    assert engine.ok("expire", key="a", ttl_ms=SHORT_TTL)["updated"] is True
    engine.ok("set", key="b", value=1, ttl_ms=SHORT_TTL)
    assert engine.ok("expire", key="b", ttl_ms=60_000)["updated"] is True
    time.sleep(EXPIRY_WAIT)
    assert engine.ok("exists", key="a")["exists"] is False
    assert engine.ok("exists", key="b")["exists"] is True
