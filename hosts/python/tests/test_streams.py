"""Streams (protocol 2) on the synchronous client against the real engine: every op, exact bytes,
paging, retention, offsets, blocking reads, errors mapped to typed exceptions, restart."""
import threading
import time

import msgpack
import pytest

from litestash import (Appended, BadRequest, Entry, InvalidKey, LiteStash, StreamInfo, Timeout,
                       TypeError_, WrongShard, shard_for)
from litestash.protocol import Cmd, PROTOCOLS, check_hello

# Unusual encodings that must come back byte for byte (a native re-encode would change them).
ODD = [
    bytes.fromhex("ca3fc00000"),                 # float32 1.5
    bytes.fromhex("d903616263"),                 # str 8 "abc"
    bytes.fromhex("cf0000000000000001"),         # uint64 1
    bytes.fromhex("de0001a161c0"),               # map 16 {"a": nil}
    bytes.fromhex("d7010011223344556677"),      # fixext 8, type 1
    bytes.fromhex("c0"),                         # nil
    bytes.fromhex("dc0002c3c2"),                 # array 16 [true, false]
]


def test_hello_is_protocol_2_with_streams(db):
    assert db.protocol_version == 2 and db.info["protocol"] == 2
    assert db.keep_versions == 0
    assert {"streams", "blocking_reads"} <= db.features
    assert isinstance(db.features, frozenset)


@pytest.mark.parametrize("proto", [1, 2])
def test_handshake_accepts_protocols_1_and_2(proto):
    assert PROTOCOLS == (1, 2)
    check_hello({"protocol": proto, "hash": "blake2b-512", "shards": 16}, 16)


@pytest.mark.parametrize("proto", [0, 3, "2", 2.0, True, None])
def test_handshake_refuses_other_protocols(proto):
    from litestash import HandshakeError
    with pytest.raises(HandshakeError):
        check_hello({"protocol": proto, "hash": "blake2b-512", "shards": 16}, 16)


def test_xadd_ids_ts_and_xget(db):
    added = [db.xadd("s", {"n": i}) for i in range(5)]
    assert all(isinstance(a, Appended) for a in added)
    assert [a.entry_id for a in added] == [1, 2, 3, 4, 5]
    ts = [a.ts for a in added]
    assert ts == sorted(set(ts)) and ts[0] > 1_600_000_000_000_000          # strictly increasing µs
    entry_id, t = added[0]                                                   # unpacks like a tuple
    assert (entry_id, t) == (1, ts[0])
    assert db.xget("s", [3, 1, 9, 3]) == [{"n": 2}, {"n": 0}, None, {"n": 2}]
    assert db.xget("s", [9], default="-") == ["-"]
    assert db.xget("nope", [1]) == [None]                                    # no stream: empty, no error
    got = db.xget_entries("s", [2, 9])
    assert got == [Entry(2, ts[1], {"n": 1}), None]
    assert db.xget("s", []) == []


def test_raw_values_byte_exact_everywhere(db):
    for b in ODD:
        db.xadd_raw("raw", b)
    ids = list(range(1, len(ODD) + 1))
    assert db.xget_raw("raw", ids + [99]) == ODD + [None]
    assert [e.value for e in db.xget_entries("raw", ids, raw=True)] == ODD
    entries, more = db.xrange_raw("raw")
    assert [e.value for e in entries] == ODD and [e.id for e in entries] == ids and more is False
    entries, _ = db.xread_raw("raw", 0)
    assert [e.value for e in entries] == ODD
    assert [e.value for e in db.xrange_iter("raw", batch=2, raw=True)] == ODD
    decoded, _ = db.xrange("raw")
    assert decoded[0].value == 1.5 and decoded[1].value == "abc" and decoded[2].value == 1
    assert decoded[3].value == {"a": None} and decoded[5].value is None
    assert decoded[4].value == msgpack.ExtType(1, bytes.fromhex("0011223344556677"))
    # a value that is not exactly one MessagePack object is refused before sending
    with pytest.raises(ValueError):
        db.xadd_raw("raw", b"\x92\x01")
    with pytest.raises(ValueError):
        db.xadd_raw("raw", b"\x01\x02")


def test_xrange_paging_forward_and_backward(db):
    for i in range(1, 11):
        db.xadd("p", i)
    page, more = db.xrange("p", limit=4)
    assert [e.id for e in page] == [1, 2, 3, 4] and more is True
    page, more = db.xrange("p", after=4, limit=4)
    assert [e.id for e in page] == [5, 6, 7, 8] and more is True
    page, more = db.xrange("p", after=8, limit=2)                 # exactly `limit` left
    assert [e.id for e in page] == [9, 10] and more is False
    page, more = db.xrange("p", after=2, before=6)
    assert [e.id for e in page] == [3, 4, 5] and more is False
    page, more = db.xrange("p", after=2, before=9, limit=3)
    assert [e.id for e in page] == [3, 4, 5] and more is True
    page, more = db.xrange("p", before=8, limit=3)                 # just below `before`, ascending
    assert [e.id for e in page] == [5, 6, 7] and more is True
    page, more = db.xrange("p", before=3, limit=5)
    assert [e.id for e in page] == [1, 2] and more is False
    assert db.xrange("p", after=5, before=6) == ([], False)        # after >= before - 1: empty
    assert db.xrange("p", after=7, before=3) == ([], False)
    assert db.xrange("p", after=10) == ([], False)
    assert db.xrange("nope") == ([], False)
    # full walks, forward (xrange_iter) and backward (by `before`)
    assert [e.value for e in db.xrange_iter("p", batch=3)] == list(range(1, 11))
    assert [e.id for e in db.xrange_iter("p", after=3, before=8, batch=2)] == [4, 5, 6, 7]
    back, before = [], None
    while True:
        page, more = db.xrange("p", before=before if before else 11, limit=3)
        back = page + back
        if not more:
            break
        before = page[0].id
    assert [e.id for e in back] == list(range(1, 11))
    page, _ = db.xrange("p")                                        # default limit 100
    assert len(page) == 10
    with pytest.raises(BadRequest):
        db.xrange("p", limit=0)
    with pytest.raises(BadRequest):
        db.xrange("p", limit=10001)


def test_xread_and_limits(db):
    for i in range(5):
        db.xadd("r", i)
    entries, more = db.xread("r", 0, limit=2)
    assert [e.id for e in entries] == [1, 2] and more is True
    entries, more = db.xread("r", 2)
    assert [e.value for e in entries] == [2, 3, 4] and more is False
    assert db.xread("r", 5) == ([], False)                           # wait_ms 0: at once
    with pytest.raises(BadRequest):
        db.xread("r", 0, wait_ms=60001)
    with pytest.raises(TypeError_):
        db.xread("r", -1)


def test_retention_maxlen_and_age(db):
    for i in range(10):
        db.xadd("ml", i, maxlen=3)
    info = db.xinfo("ml")
    assert isinstance(info, StreamInfo)
    assert (info.exists, info.length, info.first_id, info.last_id, info.maxlen, info.max_age_ms) \
        == (True, 3, 8, 10, 3, None)
    assert db.xget("ml", [7, 8]) == [None, 7]
    db.xadd("ml", 10, max_age_ms=86_400_000)                         # each field kept separately
    info = db.xinfo("ml")
    assert (info.maxlen, info.max_age_ms, info.first_id, info.last_id) == (3, 86_400_000, 9, 11)
    db.xadd("ml", 11, maxlen=5)                                      # the last value given wins
    assert db.xinfo("ml").maxlen == 5
    # age retention at append: the old entry goes, the new one always stays
    db.xadd("age", "old")
    time.sleep(0.05)
    db.xadd("age", "new", max_age_ms=20)
    page, _ = db.xrange("age")
    assert [(e.id, e.value) for e in page] == [(2, "new")]
    with pytest.raises(BadRequest):
        db.xadd("ml", 1, maxlen=0)
    with pytest.raises(BadRequest):
        db.xadd("ml", 1, max_age_ms=0)


def test_xtrim(db):
    for i in range(10):
        db.xadd("t", i)
    assert db.xtrim("t", maxlen=8) == 2
    assert db.xtrim("t", min_id=5) == 2
    assert db.xinfo("t").first_id == 5
    assert db.xtrim("t", maxlen=4, min_id=8) == 3                    # union: ids 5, 6, 7
    assert db.xtrim("t", max_age_ms=86_400_000) == 0
    assert db.xinfo("t").maxlen is None                              # xtrim stores nothing
    assert db.xtrim("t", max_age_ms=0) == 3                          # 0: all
    info = db.xinfo("t")
    assert (info.exists, info.length, info.first_id, info.last_id, info.first_ts, info.last_ts) \
        == (True, 0, 11, 10, None, None)                             # trimmed to nothing: exists
    assert db.xadd("t", "next").entry_id == 11                       # ids continue
    assert db.xtrim("nope", maxlen=0) == 0
    with pytest.raises(BadRequest):
        db.xtrim("t")                                                # at least one limit


def test_xdrop_and_recreate(db):
    db.xadd("d", 1)
    db.xadd("d", 2)
    db.xcommit("d", "g", 2)
    assert db.xdrop("d") is True
    assert db.xdrop("d") is False
    info = db.xinfo("d")
    assert info == StreamInfo(False, 0, None, None, None, None, None, None, {})
    assert db.xadd("d", "again").entry_id == 1                       # a new stream starts at 1
    assert db.xoffset("d", "g") is None                              # offsets went with it


def test_xstreams_paging_order_and_namespaces(db):
    names = ["b", "a", "a\u0000", "aa", "Z", "\u00e4", "\u00e9", "\u007f", "x:1", "x:2", "x:3"]
    for n in names:
        db.xadd(n, 0)
    db.set("a", "a key")                                             # keys are another namespace
    want = sorted(names, key=lambda s: s.encode())
    assert list(db.xstreams_iter(batch=3)) == want
    assert db.xstreams(prefix="x:") == (["x:1", "x:2", "x:3"], False)
    assert db.xstreams(prefix="x:", after="x:1", limit=1) == (["x:2"], True)
    assert db.xstreams(limit=len(want)) == (want, False)
    assert list(db.xstreams_iter(prefix="x:", batch=1)) == ["x:1", "x:2", "x:3"]
    assert db.get("a") == "a key" and db.xget("a", [1]) == [0]
    db.clear()                                                       # keys only
    assert db.get("a") is None and list(db.xstreams_iter()) == want
    with pytest.raises(BadRequest):
        db.xstreams(limit=0)


def test_offsets(db):
    for i in range(5):
        db.xadd("o", i)
    assert db.xoffset("o", "g") is None
    assert db.xcommit("o", "g", 3) is None
    assert db.xoffset("o", "g") == 3
    db.xcommit("o", "g", 1)                                          # backwards: a replay
    db.xcommit("o", "h", 0)
    db.xcommit("o", "h\u00e9", 5)
    assert db.xoffset("o", "g") == 1
    info = db.xinfo("o")
    assert info.groups == {"g": 1, "h": 0, "h\u00e9": 5}
    assert info.lag("g") == 4 and info.lag("h\u00e9") == 0 and info.lag("zz") is None
    with pytest.raises(BadRequest):
        db.xcommit("o", "g", 6)                                      # past the end
    with pytest.raises(BadRequest):
        db.xcommit("nope", "g", 0)                                   # no such stream
    with pytest.raises(InvalidKey):
        db.xcommit("o", "", 1)
    assert db.xoffset("o", "g") == 1 and db.xinfo("nope").groups == {}


def test_errors_are_typed(db):
    db.xadd("e", 1)
    calls = [lambda s: db.xadd(s, 1), lambda s: db.xget(s, [1]), lambda s: db.xrange(s),
             lambda s: db.xread(s, 0), lambda s: db.xinfo(s), lambda s: db.xtrim(s, maxlen=1),
             lambda s: db.xdrop(s), lambda s: db.xcommit(s, "g", 0), lambda s: db.xoffset(s, "g")]
    for call in calls:
        with pytest.raises(InvalidKey) as ei:
            call("")
        assert ei.value.code == "invalid_key" and isinstance(ei.value, ValueError)
        with pytest.raises(InvalidKey):
            call("x" * 1025)
        with pytest.raises(TypeError_):
            call(b"bytes-name")
    with pytest.raises(TypeError_):
        db.xget("e", ["1"])
    with pytest.raises(BadRequest):
        db.xget("e", list(range(10001)))
    with pytest.raises(TypeError_):
        db.xadd("e", 1, maxlen=-1)
    with pytest.raises(TypeError_):
        db.xtrim("e", min_id=1.5)
    # the host sends `shard`; a wrong one is caught by the engine
    wrong = (shard_for("e", 16) + 1) % 16
    with pytest.raises(WrongShard):
        db._call(Cmd("xinfo", [("stream", "e"), ("shard", wrong)], lambda r, b: r))
    assert db.xinfo("e").length == 1                                  # nothing changed


def test_blocking_read_times_out_empty(db):
    db.xadd("w", 1)
    t0 = time.monotonic()
    assert db.xread("w", 1, wait_ms=300) == ([], False)
    assert 0.25 <= time.monotonic() - t0 < 5
    t0 = time.monotonic()
    assert db.xread("never", 0, wait_ms=200) == ([], False)           # no stream: waits as well
    assert 0.15 <= time.monotonic() - t0 < 5
    entries, _ = db.xread("w", 0, wait_ms=5000)                       # data there: at once
    assert [e.value for e in entries] == [1]


def test_blocking_read_allowed_beyond_the_client_timeout(engine, data_dir):
    with LiteStash(data_dir=data_dir, engine=engine, timeout=0.5) as db:
        t0 = time.monotonic()
        assert db.xread("w", 0, wait_ms=1200) == ([], False)          # 1.2 s > timeout 0.5 s
        assert time.monotonic() - t0 >= 1.1
        assert db.ping() is True                                      # engine still alive


def test_blocking_read_woken_by_another_client(engine, data_dir):
    """A consumer client waits; a producer (another engine process on the same data dir, in
    another thread) appends: the read answers right away, not at wait_ms."""
    with LiteStash(data_dir=data_dir, engine=engine, timeout=30) as reader, \
            LiteStash(data_dir=data_dir, engine=engine, timeout=30) as writer:
        reader.xadd("wake", "first")
        result = {}

        def consume():
            t0 = time.monotonic()
            result["read"] = reader.xread("wake", 1, wait_ms=20000)
            result["took"] = time.monotonic() - t0

        th = threading.Thread(target=consume)
        th.start()
        time.sleep(0.3)
        assert th.is_alive()                                          # still waiting
        appended = writer.xadd("wake", "second")
        th.join(15)
        assert not th.is_alive()
        entries, more = result["read"]
        assert entries == [Entry(2, appended.ts, "second")] and more is False
        assert result["took"] < 10


def test_stream_state_survives_restart(engine, data_dir):
    with LiteStash(data_dir=data_dir, engine=engine) as db:
        for i in range(6):
            db.xadd("keep", i, maxlen=4, max_age_ms=86_400_000)
        db.xadd_raw("keep", ODD[0])
        db.xcommit("keep", "g", 5)
        before = db.xinfo("keep")
        page_before = db.xrange_raw("keep")
    with LiteStash(data_dir=data_dir, engine=engine) as db:
        assert db.xinfo("keep") == before
        assert db.xrange_raw("keep") == page_before
        assert db.xoffset("keep", "g") == 5
        assert db.xadd("keep", "after").entry_id == 8


def test_xread_timeout_is_extended_only_for_waits():
    from litestash.protocol import Commands
    c = Commands(16)
    assert c.xread("s", 0, wait_ms=1500).wait == 1.5
    assert c.xread("s", 0).wait == 0.0 and c.xrange("s").wait == 0.0
    assert c.xread("s", 0, wait_ms=0).wait == 0.0
