"""Streams (contract v2 section 2) through real frames: every op, every boundary of xrange's
`more`, paging through thousands of entries, exact bytes, retention, committed offsets, errors,
blocking reads (woken by this process, by another engine process, timing out empty, answered at
shutdown), two engines appending to one stream, and the layout upgrade of a layout-1 data dir.
"""

from __future__ import annotations

import shutil
import struct
import threading
import time
from pathlib import Path

from engine_proc import Raw, check_error, frame, pack, raw_map, raw_array_items, raw_request, \
    shard_of

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "layout1"


def xadd(eng, stream, value, **kw):
    r = eng.ok("xadd", stream=stream, value=value, **kw)
    assert set(r) == {"id", "ok", "entry_id", "ts"}, r
    return r


def ids(resp):
    return [e[0] for e in resp["entries"]]


# --------------------------------------------------------------------------- hello


def test_hello_speaks_protocol_2_with_streams(engine):
    r = engine.ok("hello")
    assert r["protocol"] == 2
    assert r["keep_versions"] == 0
    assert {"streams", "blocking_reads"} <= set(r["features"])


# --------------------------------------------------------------------------- xadd / xget


def test_ids_start_at_1_are_contiguous_and_ts_grows(engine):
    last_ts = 0
    for i in range(1, 21):
        r = xadd(engine, "s", {"n": i})
        assert r["entry_id"] == i
        assert r["ts"] > last_ts
        last_ts = r["ts"]
    # Each stream numbers its own entries; a key of the same name is another namespace.
    assert xadd(engine, "other", 1)["entry_id"] == 1
    engine.ok("set", key="s", value="a key")
    assert engine.ok("get", key="s")["value"] == "a key"
    assert xadd(engine, "s", 21)["entry_id"] == 21


def test_values_come_back_byte_for_byte(engine):
    values = [b"\xca\x3f\xc0\x00\x00", b"\xd9\x03abc", b"\xc0", b"\xd4\x01\xaa",
              b"\xc7\x02\xfb\x01\x02", b"\xde\x00\x01\xa1k\x01", b"\xc6\x00\x00\x00\x02hi"]
    for v in values:
        rid = engine.new_id()
        engine.send_frame(raw_request(("id", rid), ("op", "xadd"), ("stream", "raw"),
                                      ("value", Raw(v))))
        assert engine.recv(rid)["ok"] is True
    rid = engine.send({"op": "xrange", "stream": "raw"})
    msg, body = engine.recv_raw(rid)
    entries = raw_array_items(raw_map(body)["entries"])
    assert len(entries) == len(values)
    for raw_entry, v in zip(entries, values):
        assert raw_array_items(raw_entry)[2] == v
    rid = engine.send({"op": "xget", "stream": "raw", "ids": [1, 99, 3]})
    msg, body = engine.recv_raw(rid)
    assert msg["found"] == [True, False, True]
    got = raw_array_items(raw_map(body)["values"])
    assert got == [values[0], b"\xc0", values[2]]
    assert msg["ts"][1] is None and msg["ts"][0] < msg["ts"][2]


def test_xget_of_missing_stream_is_empty_not_an_error(engine):
    r = engine.ok("xget", stream="nope", ids=[1, 2])
    assert r["found"] == [False, False] and r["values"] == [None, None] and r["ts"] == [None, None]


# --------------------------------------------------------------------------- xrange / xread


def test_xrange_bounds_and_every_boundary_of_more(engine):
    for i in range(1, 11):
        xadd(engine, "r", i)

    def rng(**kw):
        r = engine.ok("xrange", stream="r", **kw)
        return ids(r), r["more"]

    assert rng() == (list(range(1, 11)), False)
    assert rng(limit=3) == ([1, 2, 3], True)
    assert rng(limit=10) == (list(range(1, 11)), False)   # exactly `limit` entries: no more
    assert rng(after=7, limit=3) == ([8, 9, 10], False)
    assert rng(after=6, limit=3) == ([7, 8, 9], True)
    assert rng(after=2, before=6) == ([3, 4, 5], False)
    assert rng(after=2, before=6, limit=2) == ([3, 4], True)
    assert rng(after=2, before=6, limit=3) == ([3, 4, 5], False)
    assert rng(after=5, before=6) == ([], False)            # after >= before - 1: empty
    assert rng(after=9, before=3) == ([], False)
    assert rng(after=10) == ([], False)
    assert rng(after=100) == ([], False)
    # Only `before`: the entries just below it, still ascending; more = older ones exist.
    assert rng(before=7, limit=3) == ([4, 5, 6], True)
    assert rng(before=4, limit=3) == ([1, 2, 3], False)
    assert rng(before=1) == ([], False)
    # Entries carry [id, ts, value].
    e = engine.ok("xrange", stream="r", after=4, limit=1)["entries"][0]
    assert e[0] == 5 and isinstance(e[1], int) and e[2] == 5
    missing = engine.ok("xrange", stream="missing")
    assert set(missing) == {"id", "ok", "entries", "more"}
    assert missing["entries"] == [] and missing["more"] is False


def test_paging_through_thousands_of_entries(engine):
    n = 5000
    batch = b"".join(frame(pack({"id": 100000 + i, "op": "xadd", "stream": "big", "value": i}))
                     for i in range(n))
    engine.send_raw(batch)
    for i in range(n):
        assert engine.recv(100000 + i)["entry_id"] == i + 1
    seen, after, pages = [], 0, 0
    while True:
        r = engine.ok("xrange", stream="big", after=after, limit=777)
        seen += [e[2] for e in r["entries"]]
        pages += 1
        if not r["more"]:
            break
        after = r["entries"][-1][0]
    assert seen == list(range(n)) and pages == 7
    # Backwards with `before`, klite's GET n BEFORE id.
    back, before = [], 2**64 - 1
    while True:
        r = engine.ok("xrange", stream="big", before=before, limit=1000)
        back = [e[2] for e in r["entries"]] + back
        if not r["more"]:
            break
        before = r["entries"][0][0]
    assert back == list(range(n))
    r = engine.ok("xread", stream="big", after=4990, limit=100)
    assert ids(r) == list(range(4991, 5001)) and r["more"] is False


def test_xread_answers_at_once_when_entries_exist(engine):
    xadd(engine, "x", "a")
    t0 = time.monotonic()
    r = engine.ok("xread", stream="x", after=0, wait_ms=5000)
    assert ids(r) == [1] and time.monotonic() - t0 < 1.0


# --------------------------------------------------------------------------- retention


def test_maxlen_is_stored_and_kept_at_every_append(engine):
    for i in range(10):
        xadd(engine, "m", i, maxlen=3)
    info = engine.ok("xinfo", stream="m")
    assert (info["first_id"], info["last_id"], info["length"], info["maxlen"]) == (8, 10, 3, 3)
    xadd(engine, "m", 10)  # no maxlen given: the stored one still applies
    assert ids(engine.ok("xrange", stream="m")) == [9, 10, 11]
    xadd(engine, "m", 11, maxlen=5)  # the last value given wins
    xadd(engine, "m", 12)
    assert ids(engine.ok("xrange", stream="m")) == [9, 10, 11, 12, 13]
    assert engine.ok("xinfo", stream="m")["maxlen"] == 5


def test_age_retention_at_append_and_in_the_background(engine):
    xadd(engine, "aged", 1, max_age_ms=300)
    xadd(engine, "aged", 2)
    assert engine.ok("xinfo", stream="aged")["max_age_ms"] == 300
    time.sleep(0.45)
    xadd(engine, "aged", 3)  # the two older ones go at this append
    assert ids(engine.ok("xrange", stream="aged")) == [3]
    # Nothing appended: the sweeper (every 500 ms) removes it once it is 300 ms old.
    deadline = time.monotonic() + 5
    while engine.ok("xinfo", stream="aged")["length"] and time.monotonic() < deadline:
        time.sleep(0.1)
    info = engine.ok("xinfo", stream="aged")
    assert info["exists"] and info["length"] == 0 and info["last_id"] == 3
    assert info["first_ts"] is None and info["last_ts"] is None
    assert xadd(engine, "aged", 4)["entry_id"] == 4


def test_xtrim_once_from_the_head_and_ids_never_reused(engine):
    for i in range(10):
        xadd(engine, "t", i)
    assert engine.ok("xtrim", stream="t", min_id=4)["removed"] == 3
    assert engine.ok("xtrim", stream="t", maxlen=5)["removed"] == 2
    assert ids(engine.ok("xrange", stream="t")) == [6, 7, 8, 9, 10]
    assert engine.ok("xinfo", stream="t")["maxlen"] is None          # xtrim stores nothing
    assert engine.ok("xtrim", stream="t", max_age_ms=0)["removed"] == 5
    info = engine.ok("xinfo", stream="t")
    assert info["exists"] and info["length"] == 0 and info["first_id"] == 11
    assert xadd(engine, "t", "next")["entry_id"] == 11
    assert engine.ok("xtrim", stream="missing", maxlen=0)["removed"] == 0


def test_xdrop_removes_everything_and_ids_start_again(engine):
    xadd(engine, "d", 1)
    xadd(engine, "d", 2)
    engine.ok("xcommit", stream="d", group="g", entry_id=2)
    assert engine.ok("xdrop", stream="d")["dropped"] is True
    assert engine.ok("xdrop", stream="d")["dropped"] is False
    info = engine.ok("xinfo", stream="d")
    assert info == {"id": info["id"], "ok": True, "exists": False, "length": 0, "first_id": None,
                    "last_id": None, "first_ts": None, "last_ts": None, "maxlen": None,
                    "max_age_ms": None, "groups": {}}
    assert engine.ok("xoffset", stream="d", group="g")["entry_id"] is None
    assert xadd(engine, "d", 3)["entry_id"] == 1


def test_clear_removes_keys_only(engine):
    xadd(engine, "kept", 1)
    engine.ok("set", key="k", value=1)
    engine.ok("clear")
    assert engine.ok("count")["count"] == 0
    assert ids(engine.ok("xrange", stream="kept")) == [1]


# --------------------------------------------------------------------------- xinfo / xstreams


def test_xinfo_shape(engine):
    a = xadd(engine, "i", "a", maxlen=100, max_age_ms=60000)
    b = xadd(engine, "i", "b")
    engine.ok("xcommit", stream="i", group="workers", entry_id=1)
    engine.ok("xcommit", stream="i", group="audit", entry_id=2)
    info = engine.ok("xinfo", stream="i")
    assert info == {"id": info["id"], "ok": True, "exists": True, "length": 2, "first_id": 1,
                    "last_id": 2, "first_ts": a["ts"], "last_ts": b["ts"], "maxlen": 100,
                    "max_age_ms": 60000, "groups": {"workers": 1, "audit": 2}}


def test_xstreams_lists_names_across_shards_in_byte_order(engine):
    names = [f"st:{i:03d}" for i in range(40)] + ["other", "st:é", "st:Z"]
    assert len({shard_of(n) for n in names}) > 8
    for n in names:
        xadd(engine, n, 1)
    r = engine.ok("xstreams")
    assert r["streams"] == sorted(names, key=lambda s: s.encode()) and r["more"] is False
    page = engine.ok("xstreams", prefix="st:", limit=10)
    assert page["streams"] == [f"st:{i:03d}" for i in range(10)] and page["more"] is True
    rest = engine.ok("xstreams", prefix="st:", after="st:039", limit=10)
    assert rest["streams"] == ["st:Z", "st:é"] and rest["more"] is False
    engine.ok("xdrop", stream="other")
    assert "other" not in engine.ok("xstreams")["streams"]


# --------------------------------------------------------------------------- offsets


def test_committed_offsets_and_lag(engine):
    for i in range(5):
        xadd(engine, "o", i)
    assert engine.ok("xoffset", stream="o", group="g")["entry_id"] is None
    assert set(engine.ok("xcommit", stream="o", group="g", entry_id=3)) == {"id", "ok"}
    assert engine.ok("xoffset", stream="o", group="g")["entry_id"] == 3
    engine.ok("xcommit", stream="o", group="g", entry_id=1)  # a replay: backwards is fine
    assert engine.ok("xoffset", stream="o", group="g")["entry_id"] == 1
    info = engine.ok("xinfo", stream="o")
    assert info["last_id"] - info["groups"]["g"] == 4        # lag is a subtraction
    engine.ok("xcommit", stream="o", group="g", entry_id=0)   # nothing processed yet


def test_offsets_refused_past_the_end_or_without_a_stream(engine):
    xadd(engine, "p", 1)
    r = engine.call("xcommit", stream="p", group="g", entry_id=2)
    check_error(r, "bad_request", r["id"])
    r = engine.call("xcommit", stream="never", group="g", entry_id=0)
    check_error(r, "bad_request", r["id"])
    assert engine.ok("xoffset", stream="p", group="g")["entry_id"] is None
    assert engine.ok("xstreams")["streams"] == ["p"]  # nothing created


# --------------------------------------------------------------------------- errors


def test_bad_input_is_refused_with_the_documented_codes(engine, expect_error):
    cases = [
        ({"op": "xadd", "stream": "", "value": 1}, "invalid_key"),
        ({"op": "xadd", "stream": 5, "value": 1}, "type_error"),
        ({"op": "xadd", "stream": "s"}, "bad_request"),
        ({"op": "xadd", "stream": "s", "value": 1, "maxlen": 0}, "bad_request"),
        ({"op": "xadd", "stream": "s", "value": 1, "max_age_ms": 0}, "bad_request"),
        ({"op": "xadd", "stream": "s", "value": 1, "maxlen": -1}, "type_error"),
        ({"op": "xadd", "stream": "s", "value": 1, "key": "k"}, "bad_request"),
        ({"op": "xadd", "stream": "s", "value": 1, "shard": 99}, "wrong_shard"),
        ({"op": "xget", "stream": "s", "ids": [1, "2"]}, "type_error"),
        ({"op": "xget", "stream": "s", "ids": 1}, "type_error"),
        ({"op": "xget", "stream": "s", "ids": list(range(10001))}, "bad_request"),
        ({"op": "xrange", "stream": "s", "limit": 0}, "bad_request"),
        ({"op": "xrange", "stream": "s", "limit": 10001}, "bad_request"),
        ({"op": "xrange", "stream": "s", "after": 1.5}, "type_error"),
        ({"op": "xread", "stream": "s"}, "bad_request"),
        ({"op": "xread", "stream": "s", "after": 0, "wait_ms": 60001}, "bad_request"),
        ({"op": "xtrim", "stream": "s"}, "bad_request"),
        ({"op": "xcommit", "stream": "s", "group": "", "entry_id": 0}, "invalid_key"),
        ({"op": "xcommit", "stream": "s", "entry_id": 0}, "bad_request"),
        ({"op": "xoffset", "stream": "s", "group": b"bin"}, "type_error"),
        ({"op": "xstreams", "limit": 0}, "bad_request"),
        ({"op": "xstreams", "shard": 1}, "bad_request"),
        ({"op": "xinfo", "stream": "s" * 1025}, "invalid_key"),
    ]
    for i, (req, code) in enumerate(cases):
        rid = 5000 + i
        expect_error(engine, pack({"id": rid, **req}), code, rid)
    # Nothing of a refused request was applied.
    assert engine.ok("xstreams")["streams"] == []


def test_value_too_large_and_shard_routing(start_engine):
    eng = start_engine(extra=["--max-value-bytes", "16"])
    r = eng.call("xadd", stream="s", value="x" * 20)
    check_error(r, "value_too_large", r["id"])
    assert eng.ok("xadd", stream="s", value="x", shard=shard_of("s"))["entry_id"] == 1


# --------------------------------------------------------------------------- blocking reads


def test_blocking_read_times_out_empty(engine):
    t0 = time.monotonic()
    r = engine.ok("xread", stream="w", after=0, wait_ms=300)
    took = time.monotonic() - t0
    assert r["entries"] == [] and r["more"] is False
    assert 0.28 <= took < 3.0, took


def test_blocking_read_woken_by_an_append_of_this_engine_and_others_keep_answering(engine):
    waiting = engine.send({"op": "xread", "stream": "w", "after": 0, "wait_ms": 10000})
    time.sleep(0.2)
    # Meanwhile every other request is answered.
    assert engine.ok("ping") and engine.ok("set", key="k", value=1)["version"] > 0
    assert engine.ok("xinfo", stream="w")["exists"] is False
    t0 = time.monotonic()
    xadd(engine, "w", "hello")
    r = engine.recv(waiting, timeout=5)
    assert r["ok"] and ids(r) == [1] and r["entries"][0][2] == "hello"
    assert time.monotonic() - t0 < 0.5


def test_many_readers_fan_out_and_after_is_respected(engine):
    xadd(engine, "f", 0)
    readers = [engine.send({"op": "xread", "stream": "f", "after": 1, "wait_ms": 10000})
               for _ in range(20)]
    other = engine.send({"op": "xread", "stream": "g", "after": 0, "wait_ms": 10000})
    time.sleep(0.2)
    xadd(engine, "f", 1)
    for rid in readers:
        r = engine.recv(rid, timeout=5)
        assert ids(r) == [2]
    xadd(engine, "g", "x")
    assert ids(engine.recv(other, timeout=5)) == [1]


def test_blocking_read_woken_by_another_engine_process(start_engine, data_dir):
    a = start_engine()
    b = start_engine(data_dir)
    a.ok("hello")
    b.ok("hello")
    waiting = a.send({"op": "xread", "stream": "cross", "after": 0, "wait_ms": 10000})
    time.sleep(0.3)
    t0 = time.monotonic()
    assert b.ok("xadd", stream="cross", value="from b")["entry_id"] == 1
    r = a.recv(waiting, timeout=5)
    assert ids(r) == [1] and r["entries"][0][2] == "from b"
    assert time.monotonic() - t0 < 1.0


def test_waiting_reads_are_answered_at_shutdown(engine):
    xadd(engine, "sd", 1)
    waiting = [engine.send({"op": "xread", "stream": "sd", "after": 1, "wait_ms": 60000}),
               engine.send({"op": "xread", "stream": "empty", "after": 0, "wait_ms": 60000})]
    time.sleep(0.2)
    t0 = time.monotonic()
    engine.close_stdin()
    for rid in waiting:
        r = engine.recv(rid, timeout=5)
        assert r["ok"] is True and r["entries"] == []
    assert engine.wait() == 0
    assert time.monotonic() - t0 < 3


def test_waiting_reads_do_not_count_against_the_inflight_limit(start_engine):
    eng = start_engine(extra=["--max-inflight", "4"])
    waiting = [eng.send({"op": "xread", "stream": "lim", "after": 0, "wait_ms": 30000})
               for _ in range(10)]
    time.sleep(0.3)
    # With 10 reads parked and room for 4 frames, the append that wakes them still gets in.
    assert eng.ok("xadd", stream="lim", value=1)["entry_id"] == 1
    for rid in waiting:
        assert ids(eng.recv(rid, timeout=5)) == [1]


def test_waiting_reads_beyond_the_bound_answer_at_once(start_engine):
    eng = start_engine(extra=["--max-waiting-reads", "2"])
    parked = [eng.send({"op": "xread", "stream": "b", "after": 0, "wait_ms": 30000})
              for _ in range(2)]
    time.sleep(0.2)
    t0 = time.monotonic()
    r = eng.ok("xread", stream="b", after=0, wait_ms=30000)
    assert r["entries"] == [] and time.monotonic() - t0 < 1.0
    xadd(eng, "b", 1)
    for rid in parked:
        assert ids(eng.recv(rid, timeout=5)) == [1]


# --------------------------------------------------------------------------- processes, layout


def test_two_engines_appending_to_one_stream_get_distinct_contiguous_ids(start_engine, data_dir):
    a = start_engine()
    b = start_engine(data_dir)
    got = {}

    def run(eng, tag):
        rids = [eng.send({"op": "xadd", "stream": "shared", "value": f"{tag}{i}"})
                for i in range(500)]
        got[tag] = [eng.recv(r, timeout=30)["entry_id"] for r in rids]

    threads = [threading.Thread(target=run, args=(e, t)) for e, t in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_ids = got["a"] + got["b"]
    assert sorted(all_ids) == list(range(1, 1001))
    assert got["a"] == sorted(got["a"]) and got["b"] == sorted(got["b"])  # each in send order
    values = [e[2] for e in a.ok("xrange", stream="shared", limit=10000)["entries"]]
    assert sorted(values) == sorted([f"a{i}" for i in range(500)] + [f"b{i}" for i in range(500)])
    assert [v for v in values if v[0] == "a"] == [f"a{i}" for i in range(500)]


def test_a_stream_lacking_entries_its_row_promises_gets_a_storage_error(start_engine, data_dir):
    """xrange and xread write how many entries follow before reading them (the ids of a stream
    are contiguous from first to last): a read that finds fewer rows than that in a file missing
    one (damaged, or edited by hand) gets a clear error instead of a malformed answer, and the
    engine keeps serving."""
    import sqlite3
    eng = start_engine(data_dir, shards=1)
    for i in range(10):
        xadd(eng, "holey", i)
    assert eng.stop() == 0
    con = sqlite3.connect(data_dir / "shard-00.db")
    con.execute("DELETE FROM stream_entries WHERE entry_id = 5")
    con.commit()
    con.close()
    eng = start_engine(data_dir, shards=1)
    for op, fields in (("xrange", {}), ("xrange", {"after": 2, "before": 9}), ("xread", {"after": 0})):
        resp = eng.call(op, stream="holey", **fields)
        check_error(resp, "storage_error")
        assert "holey" in resp["error"]["message"], resp
    # Ranges clear of the hole still read, in both directions.
    assert ids(eng.ok("xrange", stream="holey", after=5)) == [6, 7, 8, 9, 10]
    assert ids(eng.ok("xrange", stream="holey", after=0, limit=4)) == [1, 2, 3, 4]
    assert ids(eng.ok("xrange", stream="holey", before=5, limit=2)) == [3, 4]
    eng.ok("set", key="still", value=1)
    assert eng.ok("get", key="still")["value"] == 1


def test_a_layout_1_data_dir_is_upgraded_in_place(start_engine, tmp_path):
    data = tmp_path / "old"
    shutil.copytree(FIXTURE, data)
    eng = start_engine(data, shards=4)
    assert eng.ok("count")["count"] == 42  # 40 fx:i, fx:ttl, fx:nil (fx:gone expired)
    r = eng.ok("get", key="fx:7")
    assert r["value"] == [7, "v7", 1.75]
    assert xadd(eng, "new", 1)["entry_id"] == 1
    assert eng.stop() == 0
    again = start_engine(data, shards=4)
    assert ids(again.ok("xrange", stream="new")) == [1]


def _layout_and_integrity(data: Path) -> set[tuple[str, str]]:
    import sqlite3
    seen = set()
    for f in sorted(data.glob("shard-*.db")):
        con = sqlite3.connect(f"file:{f}?mode=ro", uri=True)
        try:
            layout = con.execute("SELECT value FROM meta WHERE name = 'layout_version'").fetchone()
            seen.add((str(layout[0]), con.execute("PRAGMA integrity_check").fetchone()[0]))
        finally:
            con.close()
    return seen


def test_several_engines_upgrade_a_layout_1_dir_at_once(start_engine, tmp_path):
    data = tmp_path / "old"
    shutil.copytree(FIXTURE, data)
    engines = [start_engine(data, shards=4) for _ in range(4)]  # spawned together
    for eng in engines:
        assert eng.ok("count")["count"] == 42
        assert eng.ok("get", key="fx:7")["value"] == [7, "v7", 1.75]
    for i, eng in enumerate(engines):
        eng.ok("set", key=f"after:{i}", value=i)
    for i, eng in enumerate(engines):
        for j in range(4):
            assert engines[j].ok("get", key=f"after:{i}")["value"] == i
    for eng in engines:
        assert eng.stop() == 0
    assert _layout_and_integrity(data) == {("3", "ok")}


def test_a_kill_mid_upgrade_leaves_a_dir_that_upgrades_at_the_next_start(start_engine, tmp_path):
    # SIGKILL at a spread of instants from spawn (before, during and after the layout steps),
    # each on a fresh copy of the fixture; the next engine must find every key and layout 3.
    for delay_ms in (0, 2, 5, 10, 20, 40, 80):
        data = tmp_path / f"old-{delay_ms}"
        shutil.copytree(FIXTURE, data)
        victim = start_engine(data, shards=4, expect_exit=(0, -9))
        time.sleep(delay_ms / 1000)
        victim.kill()
        victim.wait()
        eng = start_engine(data, shards=4)
        assert eng.ok("count")["count"] == 42, delay_ms
        assert eng.ok("get", key="fx:7")["value"] == [7, "v7", 1.75]
        assert eng.stop() == 0
        assert _layout_and_integrity(data) == {("3", "ok")}, delay_ms
