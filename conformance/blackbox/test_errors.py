"""Every error code a host can provoke from outside, with the precedence of docs/protocol.md.

Each case sends one hand-built body and checks: the error code, the echoed id (nil where the
id cannot be read), that the engine still answers a `ping` afterwards, and that nothing of
the refused request was applied (the shared engine below never receives a successful write,
so its key count must stay 0).

Frame-level errors (`bad_frame`, `frame_too_large`) use their own engines. `conflict`,
`storage_error`, `shutting_down` and `internal` cannot be provoked deterministically from
outside and are not covered here.
"""

from __future__ import annotations

import pytest

from engine_proc import (EngineProcess, Raw, array_header, check_error, frame, pack,
                         raw_request, shard_of, unpack)

MAX_KEY = 16
MAX_VALUE = 100


@pytest.fixture(scope="module")
def err_engine(tmp_path_factory):
    """One engine (small key/value limits) shared by every error case of this module;
    restarted if a case killed it. At the end of the module it must exit cleanly on stdin EOF
    (see conftest.start_engine), and an engine that ended during the cases is reported too."""
    box = {}
    problems: list[str] = []

    def get() -> EngineProcess:
        eng = box.get("eng")
        if eng is None or eng.proc.poll() is not None or eng.eof:
            if eng is not None:
                code = eng.proc.poll()
                problem = eng.cleanup(check=False)
                problems.append(f"the shared engine ended during the error cases (exit "
                                f"{code}); {problem or eng.cmd}")
            eng = EngineProcess(["--shards", "16", "--log-level", "warn",
                                 "--max-key-bytes", str(MAX_KEY),
                                 "--max-value-bytes", str(MAX_VALUE)],
                                tmp_path_factory.mktemp("errors") / "data")
            box["eng"] = eng
        return eng

    yield get
    if "eng" in box:
        problem = box["eng"].cleanup(check=False)
        if problem:
            problems.append(problem)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def req(**fields) -> bytes:
    return pack(fields)


BAD_UTF8 = [b"\xa2\xff\xfe", b"\xa2\xc0\x80", b"\xa3\xed\xa0\x80", b"\xa1\xe2", b"\xa1\x80"]
LONG_KEY = "k" * (MAX_KEY + 1)
DEEP = b"\x91" * 600 + b"\xc0"          # an array nested 600 deep (> 512)
BIG_VALUE = b"x" * (MAX_VALUE - 1)      # bin8 encoding: 2 + 99 = 101 bytes > MAX_VALUE
K = "k"
WRONG = (shard_of(K) + 1) % 16

# (case name, request body, expected code, expected id)
CASES = [
    # 1. not valid MessagePack -> bad_request, id nil
    ("reserved byte c1", b"\xc1", "bad_request", None),
    ("truncated map", b"\x83\xa2id\x01\xa2op", "bad_request", None),
    ("truncated str", b"\x82\xa2id\x01\xa2op\xa4pi", "bad_request", None),
    ("str32 size beyond frame", b"\x82\xa2id\x01\xa2op\xdb\x00\x01\x00\x00ping",
     "bad_request", None),
    ("map32 size beyond frame", b"\xdf\xff\xff\xff\xff\xa2id\x01", "bad_request", None),
    ("nesting deeper than 512", raw_request(("id", 2), ("op", "set"), ("key", K),
                                            ("value", Raw(DEEP))), "bad_request", None),
    # 2. not a map / non-str map key -> bad_request, id nil
    ("array body", pack([1, "ping"]), "bad_request", None),
    ("str body", pack("ping"), "bad_request", None),
    ("nil body", b"\xc0", "bad_request", None),
    ("int map key", pack({"id": 3, "op": "ping", 5: 1}), "bad_request", None),
    ("bin map key", pack({"id": 3, b"op": "ping"}), "bad_request", None),
    # 3. id
    ("id missing", req(op="ping"), "bad_request", None),
    ("id str", req(id="7", op="ping"), "type_error", None),
    ("id negative", req(id=-1, op="ping"), "type_error", None),
    ("id float", req(id=1.0, op="ping"), "type_error", None),
    ("id nil", req(id=None, op="ping"), "type_error", None),
    # 4. trailing bytes -> bad_request with the id
    ("trailing nil", req(id=4, op="ping") + b"\xc0", "bad_request", 4),
    ("trailing second map", req(id=5, op="ping") + req(id=6, op="ping"), "bad_request", 5),
    ("trailing beats unknown op", req(id=7, op="nope") + b"\x00", "bad_request", 7),
    # 5. duplicate field
    ("duplicate op", raw_request(("id", 8), ("op", "ping"), ("op", "ping")), "bad_request", 8),
    ("duplicate key", raw_request(("id", 9), ("op", "set"), ("key", K), ("value", 1),
                                  ("key", K)), "bad_request", 9),
    # 6. op
    ("op missing", req(id=10), "bad_request", 10),
    ("op int", req(id=11, op=3), "type_error", 11),
    ("op bin", req(id=12, op=b"ping"), "type_error", 12),
    ("unknown op", req(id=13, op="frobnicate"), "unknown_op", 13),
    ("unknown op case", req(id=14, op="PING"), "unknown_op", 14),
    ("unknown op beats unknown field", req(id=15, op="nope", foo=1), "unknown_op", 15),
    # 7. unknown field
    ("unknown field on ping", req(id=20, op="ping", foo=1), "bad_request", 20),
    ("unknown field on set", req(id=21, op="set", key=K, value=1, extra=True),
     "bad_request", 21),
    ("shard on ping", req(id=22, op="ping", shard=0), "bad_request", 22),
    ("shard on count", req(id=23, op="count", shard=0), "bad_request", 23),
    ("shard on mget", req(id=24, op="mget", keys=[K], shard=shard_of(K)), "bad_request", 24),
    ("key on count", req(id=25, op="count", key=K), "bad_request", 25),
    ("ttl_ms on get", req(id=26, op="get", key=K, ttl_ms=5), "bad_request", 26),
    ("unknown field beats type error", req(id=27, op="set", key=5, value=1, foo=1),
     "bad_request", 27),
    # 8. required field missing
    ("get without key", req(id=30, op="get"), "bad_request", 30),
    ("set without value", req(id=31, op="set", key=K), "bad_request", 31),
    ("set without key", req(id=32, op="set", value=1), "bad_request", 32),
    ("mset without entries", req(id=33, op="mset"), "bad_request", 33),
    ("mget without keys", req(id=34, op="mget"), "bad_request", 34),
    ("expire without ttl_ms", req(id=35, op="expire", key=K), "bad_request", 35),
    ("missing beats type error", req(id=36, op="set", key=5), "bad_request", 36),
    # 9. wrong type
    ("key int", req(id=40, op="get", key=5), "type_error", 40),
    ("key bin", req(id=41, op="set", key=b"k", value=1), "type_error", 41),
    ("key nil", req(id=42, op="delete", key=None), "type_error", 42),
    ("ttl_ms negative", req(id=43, op="set", key=K, value=1, ttl_ms=-5), "type_error", 43),
    ("ttl_ms float", req(id=44, op="set", key=K, value=1, ttl_ms=1.5), "type_error", 44),
    ("ttl_ms str", req(id=45, op="expire", key=K, ttl_ms="10"), "type_error", 45),
    ("limit str", req(id=46, op="scan", limit="10"), "type_error", 46),
    ("prefix int", req(id=47, op="scan", prefix=1), "type_error", 47),
    ("after bin", req(id=48, op="scan", after=b"a"), "type_error", 48),
    ("keys not array", req(id=49, op="mget", keys="k"), "type_error", 49),
    ("keys item int", req(id=50, op="mdelete", keys=["a", 1]), "type_error", 50),
    ("entries not array", req(id=51, op="mset", entries={"a": 1}), "type_error", 51),
    ("entries item not array", req(id=52, op="mset", entries=[["a", 1], "b"]),
     "type_error", 52),
    ("entries item key int", req(id=53, op="mset", entries=[[1, 1]]), "type_error", 53),
    ("entries item length 1", req(id=54, op="mset", entries=[["a", 1], ["b"]]),
     "bad_request", 54),
    ("entries item length 3", req(id=55, op="mset", entries=[["a", 1, 2]]),
     "bad_request", 55),
    ("shard str", req(id=56, op="get", key=K, shard="1"), "type_error", 56),
    ("shard negative", req(id=57, op="get", key=K, shard=-1), "type_error", 57),
    ("type error beats invalid key", req(id=58, op="mget", keys=["", 1]), "type_error", 58),
    # 10. invalid_key
    ("empty key", req(id=60, op="get", key=""), "invalid_key", 60),
    ("key too long", req(id=61, op="set", key=LONG_KEY, value=1), "invalid_key", 61),
    ("multibyte key too long", req(id=62, op="get", key="é" * 9), "invalid_key", 62),
    ("empty key in keys", req(id=63, op="mget", keys=["a", ""]), "invalid_key", 63),
    ("long key in entries", req(id=64, op="mset", entries=[["a", 1], [LONG_KEY, 2]]),
     "invalid_key", 64),
    ("long key in mdelete", req(id=65, op="mdelete", keys=[LONG_KEY]), "invalid_key", 65),
    ("invalid key beats wrong shard", req(id=66, op="get", key="", shard=99),
     "invalid_key", 66),
    ("invalid key beats value too large",
     req(id=67, op="set", key="", value=BIG_VALUE), "invalid_key", 67),
] + [
    (f"invalid utf-8 key {i}", raw_request(("id", 70 + i), ("op", "set"), ("key", Raw(bad)),
                                           ("value", 1)), "invalid_key", 70 + i)
    for i, bad in enumerate(BAD_UTF8)
] + [
    ("invalid utf-8 key in keys", raw_request(("id", 80), ("op", "mget"),
                                              ("keys", Raw(array_header(2) + pack("a")
                                                           + BAD_UTF8[0]))),
     "invalid_key", 80),
    ("invalid utf-8 key in entries",
     raw_request(("id", 81), ("op", "mset"),
                 ("entries", Raw(array_header(1) + array_header(2) + BAD_UTF8[1] + b"\x01"))),
     "invalid_key", 81),
    # 11. value_too_large (encoded size)
    ("value too large", req(id=90, op="set", key=K, value=BIG_VALUE), "value_too_large", 90),
    ("value too large str", req(id=91, op="set", key=K, value="s" * MAX_VALUE),
     "value_too_large", 91),
    ("value too large in entries", req(id=92, op="mset", entries=[["a", 1], ["b", BIG_VALUE]]),
     "value_too_large", 92),
    ("value too large beats ttl 0", req(id=93, op="set", key=K, value=BIG_VALUE, ttl_ms=0),
     "value_too_large", 93),
    # 12. range checks -> bad_request
    ("set ttl_ms 0", req(id=100, op="set", key=K, value=1, ttl_ms=0), "bad_request", 100),
    ("mset ttl_ms 0", req(id=101, op="mset", entries=[["a", 1]], ttl_ms=0), "bad_request", 101),
    ("expire ttl_ms 0", req(id=102, op="expire", key=K, ttl_ms=0), "bad_request", 102),
    ("limit 0", req(id=103, op="scan", limit=0), "bad_request", 103),
    ("limit 10001", req(id=104, op="scan", limit=10001), "bad_request", 104),
    ("limit huge", req(id=105, op="scan", limit=2**64 - 1), "bad_request", 105),
    ("prefix too long", req(id=106, op="scan", prefix=LONG_KEY), "bad_request", 106),
    ("after too long", req(id=107, op="scan", after=LONG_KEY), "bad_request", 107),
    ("prefix invalid utf-8", raw_request(("id", 108), ("op", "scan"),
                                         ("prefix", Raw(BAD_UTF8[0]))), "bad_request", 108),
    ("after invalid utf-8", raw_request(("id", 109), ("op", "scan"),
                                        ("after", Raw(BAD_UTF8[2]))), "bad_request", 109),
    ("ttl 0 beats wrong shard", req(id=110, op="set", key=K, value=1, ttl_ms=0, shard=WRONG),
     "bad_request", 110),
    # 13. wrong_shard
    ("wrong shard get", req(id=120, op="get", key=K, shard=WRONG), "wrong_shard", 120),
    ("wrong shard set", req(id=121, op="set", key=K, value=1, shard=WRONG), "wrong_shard", 121),
    ("shard out of range", req(id=122, op="set", key=K, value=1, shard=16), "wrong_shard", 122),
    ("shard huge", req(id=123, op="delete", key=K, shard=2**64 - 1), "wrong_shard", 123),
    ("wrong shard expire", req(id=124, op="expire", key=K, ttl_ms=5, shard=WRONG),
     "wrong_shard", 124),
]


@pytest.mark.parametrize("body,code,req_id", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_case(err_engine, expect_error, body, code, req_id):
    eng = err_engine()
    expect_error(eng, body, code, req_id)
    assert eng.ok("count")["count"] == 0, "a refused request was applied"
    assert not eng.pending(), f"unexpected extra responses: {eng.pending()!r}"


def test_limits_boundaries_accepted(start_engine):
    """Exactly max_key_bytes and exactly max_value_bytes (encoded) are accepted."""
    eng = start_engine(extra=["--max-key-bytes", str(MAX_KEY), "--max-value-bytes",
                              str(MAX_VALUE)])
    key = "k" * MAX_KEY
    eng.ok("set", key=key, value=b"v" * (MAX_VALUE - 2))      # bin8: 2 + 98 = 100
    assert eng.ok("get", key=key)["value"] == b"v" * (MAX_VALUE - 2)
    eng.ok("set", key="é" * (MAX_KEY // 2), value=1)            # 16 UTF-8 bytes, 8 chars
    eng.ok("mset", entries=[["a", "s" * (MAX_VALUE - 2)]])       # str8: 2 + 98 = 100
    eng.ok("scan", prefix=key, limit=10000)
    eng.ok("scan", after=key, limit=1)


def test_refused_multi_key_requests_apply_nothing(start_engine):
    eng = start_engine(extra=["--max-key-bytes", str(MAX_KEY), "--max-value-bytes",
                              str(MAX_VALUE)])
    eng.ok("set", key="keep", value="old")
    for body, code in [
        (req(id=1000, op="mset", entries=[["keep", "new"], ["x", 1], ["", 2]]), "invalid_key"),
        (req(id=1001, op="mset", entries=[["keep", "new"], ["x", BIG_VALUE]]),
         "value_too_large"),
        (req(id=1002, op="mset", entries=[["keep", "new"], ["x", 1], ["y"]]), "bad_request"),
        (req(id=1003, op="mdelete", keys=["keep", LONG_KEY]), "invalid_key"),
        (req(id=1004, op="mset", entries=[["keep", "new"]], ttl_ms=0), "bad_request"),
    ]:
        eng.send_frame(body)
        check_error(eng.recv(unpack_id(body)), code, unpack_id(body))
        assert eng.ok("ping")
    assert eng.ok("get", key="keep")["value"] == "old"
    assert eng.ok("ttl", key="keep")["ttl_ms"] is None
    assert eng.ok("exists", key="x")["exists"] is False
    assert eng.ok("count")["count"] == 1


def unpack_id(body: bytes):
    return unpack(body)["id"]


# --------------------------------------------------------------------------- frame level

def test_bad_frame_zero_length(engine):
    engine.send_raw(b"\x00\x00\x00\x00")
    check_error(engine.recv(None), "bad_frame", None)
    assert engine.ok("ping")
    # a zero-length frame directly followed by a real one in the same write
    engine.send_raw(b"\x00\x00\x00\x00" + frame(pack({"id": 77, "op": "ping"})))
    check_error(engine.recv(None), "bad_frame", None)
    assert engine.recv(77) == {"id": 77, "ok": True}


def test_frame_too_large_body_is_skipped(start_engine):
    limit = 4096
    eng = start_engine(extra=["--max-frame-bytes", str(limit)])
    assert eng.ok("hello")["max_frame_bytes"] == limit

    # A body that is itself a run of valid frames: if the engine did not skip the announced
    # length it would execute these smuggled sets.
    smuggled = bytearray()
    i = 0
    while len(smuggled) < 2 * limit:
        smuggled += frame(pack({"id": 5000 + i, "op": "set", "key": f"smuggled:{i}",
                                "value": i}))
        i += 1
    eng.send_raw(frame(bytes(smuggled)) + frame(pack({"id": 1, "op": "ping"})))
    check_error(eng.recv(None), "frame_too_large", None)
    assert eng.recv(1) == {"id": 1, "ok": True}
    assert eng.ok("scan", prefix="smuggled:")["keys"] == []
    assert eng.ok("count")["count"] == 0

    # a body far beyond the pipe buffer size is skipped too
    eng.send_raw(frame(b"\x00" * (2 * 1024 * 1024)))
    check_error(eng.recv(None, timeout=30), "frame_too_large", None)
    assert eng.ok("ping")

    # exactly max_frame_bytes is accepted, one more byte is not
    def set_body_of_size(n: int, rid: int) -> tuple[bytes, bytes]:
        base = len(pack({"id": rid, "op": "set", "key": "edge", "value": b"x" * 300}))
        value = b"x" * (n - base + 300)          # bin16 header either way
        body = pack({"id": rid, "op": "set", "key": "edge", "value": value})
        assert len(body) == n
        return body, value

    body, value = set_body_of_size(limit, 2)
    eng.send_frame(body)
    assert eng.recv(2)["ok"] is True
    body, _ = set_body_of_size(limit + 1, 3)
    eng.send_frame(body)
    check_error(eng.recv(None), "frame_too_large", None)
    assert eng.ok("get", key="edge")["value"] == value
    assert eng.ok("ping")
    assert eng.stop() == 0
    assert eng.drain() == [], "no further answers expected"
