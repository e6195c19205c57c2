"""Hostile input catalogue: malformed and abusive requests against one long-lived engine.

Every case writes some bytes to the same engine process (one frame, many frames, a frame
dribbled out byte by byte, or a 4 GiB frame body the engine must skip), then checks:
- each expected answer arrives, with the error code and id docs/protocol.md (2.4 error
  precedence, 2.5 codes, 1.3 frame limits) prescribe, or ok where the input is legal but odd;
- a `ping` sent afterwards on the same process succeeds;
- no unexpected answer turns up, the process is still running, and its RSS is below 200 MiB.
If a case kills the engine, the fixture records it and starts a new one so later cases still
run; `test_engine_never_exited` then fails. `test_replay_for_leaks` replays the catalogue
(3 times, 40 with LITESTASH_LONG=1) and checks RSS does not keep growing; the last test
checks RSS and peak RSS (VmHWM).

The engine runs with --max-frame-bytes 1 MiB and --max-value-bytes 64 KiB, so the limits are
reachable with small frames. Cases are a parametrized table with one id per case.
"""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from engine_proc import (EngineProcess, Raw, array_header, check_error, frame, pack,
                         raw_map, raw_request, shard_of)
from reliability_common import long_mode, rss_kib

MAX_FRAME = 1 << 20
MAX_VALUE = 64 << 10
MAX_KEY = 1024
RSS_LIMIT_KIB = 200 << 10
OK = "ok"                       # expected "code" for a successful answer


@dataclass
class Case:
    name: str
    data: bytes | None = None                    # bytes written as they are
    send: Callable[[EngineProcess], None] | None = None   # or a custom sender
    expect: list[tuple[Any, str]] = field(default_factory=list)   # (id, code or OK)
    after: Callable[[EngineProcess], None] | None = None  # extra checks afterwards


_next = [100]


def nid() -> int:
    _next[0] += 1
    return _next[0]


def one(name: str, body: bytes, code: str, rid: Any, after=None) -> Case:
    """A case made of one frame holding `body`, answered with `code` and `rid`."""
    return Case(name, frame(body), expect=[(rid, code)], after=after)


def m(*pairs) -> bytes:
    return raw_request(*pairs)


def value_set(rid: int, value: bytes, key: str = "k") -> bytes:
    """A `set` whose value is the raw MessagePack `value`."""
    return m(("id", rid), ("op", "set"), ("key", key), ("value", Raw(value)))


def key_case(name: str, raw_key: bytes, code: str = "invalid_key", op: str = "get") -> Case:
    rid = nid()
    return one(name, m(("id", rid), ("op", op), ("key", Raw(raw_key))), code, rid)


# --------------------------------------------------------------------------- senders

def send_4gib(eng: EngineProcess) -> None:
    """Header L = 2^32 - 1, then 4 GiB - 1 of zeros, which the engine must skip without
    storing; halfway through its RSS must still be small."""
    eng.send_raw(struct.pack(">I", 0xFFFFFFFF))
    fd = eng.proc.stdin.fileno()
    chunk = memoryview(bytes(1 << 20))
    left, checked = 0xFFFFFFFF, False
    while left:
        left -= os.write(fd, chunk[:min(left, len(chunk))])
        if not checked and left < (1 << 31):
            checked = True
            rss = rss_kib(eng.proc.pid)
            assert rss < RSS_LIMIT_KIB, f"RSS {rss} KiB while skipping a 4 GiB body"


def send_dribbled(data: bytes, pause: float = 0.002) -> Callable[[EngineProcess], None]:
    """Write `data` one byte per write."""
    def send(eng: EngineProcess) -> None:
        for b in data:
            eng.send_raw(bytes([b]))
            time.sleep(pause)
    return send


def check_found(key: str, ttl_positive: bool = False) -> Callable[[EngineProcess], None]:
    def after(eng: EngineProcess) -> None:
        got = eng.ok("get", key=key)
        assert got["found"] is True, got
        if ttl_positive:
            ttl = eng.ok("ttl", key=key)
            assert ttl["found"] is True and isinstance(ttl["ttl_ms"], int) \
                and ttl["ttl_ms"] > 10**12, ttl
    return after


def check_raw_value(key: str, raw: bytes) -> Callable[[EngineProcess], None]:
    def after(eng: EngineProcess) -> None:
        rid = eng.send({"op": "get", "key": key})
        msg, body = eng.recv_raw(rid)
        assert msg.get("found") is True and raw_map(body)["value"] == raw, msg
    return after


def check_scan(prefix: str, keys: list[str]) -> Callable[[EngineProcess], None]:
    def after(eng: EngineProcess) -> None:
        got = eng.ok("scan", prefix=prefix)
        assert got["keys"] == keys and got["more"] is False, got
    return after


# --------------------------------------------------------------------------- the table

def build_cases() -> list[Case]:
    c: list[Case] = []

    # ---- frame level (docs 1.3)
    c.append(Case("frame length 0", b"\0\0\0\0", expect=[(None, "bad_frame")]))
    c.append(Case("frame 1 byte above max", struct.pack(">I", MAX_FRAME + 1)
                  + b"\x00" * (MAX_FRAME + 1), expect=[(None, "frame_too_large")]))
    rid = nid()
    head = m(("id", rid), ("op", "set"), ("key", "k"), ("value", Raw(b"")))
    pad = MAX_FRAME - len(head) - 5
    exact = m(("id", rid), ("op", "set"), ("key", "k"),
              ("value", Raw(b"\xc6" + struct.pack(">I", pad) + b"x" * pad)))
    assert len(exact) == MAX_FRAME
    c.append(one("frame exactly max (value too large)", exact, "value_too_large", rid))
    c.append(Case("frame header 4 GiB body skipped", send=send_4gib,
                  expect=[(None, "frame_too_large")]))
    c.append(Case("1000 zero-length frames", b"\0\0\0\0" * 1000,
                  expect=[(None, "bad_frame")] * 1000))
    rid = nid()
    c.append(Case("ping dribbled byte by byte", send=send_dribbled(frame(pack(
        {"id": rid, "op": "ping"}))), expect=[(rid, OK)]))
    rid = nid()
    c.append(Case("body cut short by the frame length",
                  frame(m(("id", rid), ("op", "get"), ("key", "abcdef"))[:-3]),
                  expect=[(None, "bad_request")]))

    # ---- not valid MessagePack (step 1 -> bad_request, id nil)
    c.append(one("truncated map", b"\x83\xa2id\x01\xa2op", "bad_request", None))
    c.append(one("truncated uint64 id", b"\x82\xa2id\xcf\x00\x00", "bad_request", None))
    c.append(one("truncated float64 value", value_set(nid(), b"\xcb\x40\x09"), "bad_request",
                 None))
    c.append(one("truncated str value", value_set(nid(), b"\xa5ab"), "bad_request", None))
    c.append(one("reserved byte c1 as body", b"\xc1", "bad_request", None))
    c.append(one("reserved byte c1 as value", value_set(nid(), b"\xc1"), "bad_request", None))
    c.append(one("reserved byte c1 as field name", b"\x82\xa2id\x01\xc1\x01", "bad_request",
                 None))
    c.append(one("array nested 100k deep in value",
                 value_set(nid(), b"\x91" * 100_000 + b"\xc0"), "bad_request", None))
    c.append(one("map nested 100k deep in value",
                 value_set(nid(), b"\x81\xa1a" * 100_000 + b"\xc0"), "bad_request", None))
    c.append(one("array nested 513 deep as body", b"\x91" * 513 + b"\xc0", "bad_request",
                 None))
    for name, raw in [("array32", b"\xdd\xff\xff\xff\xff"), ("map32", b"\xdf\xff\xff\xff\xff"),
                      ("str32", b"\xdb\xff\xff\xff\xff"), ("bin32", b"\xc6\xff\xff\xff\xff"),
                      ("ext32", b"\xc9\xff\xff\xff\xff\x01"), ("array16", b"\xdc\xff\xff"),
                      ("bin8", b"\xc4\xff")]:
        c.append(one(f"huge declared {name} value in a tiny frame", value_set(nid(), raw),
                     "bad_request", None))
    c.append(one("huge declared map32 as body", b"\xdf\xff\xff\xff\xff", "bad_request", None))
    c.append(one("huge declared str32 key",
                 m(("id", nid()), ("op", "get"), ("key", Raw(b"\xdb\x7f\xff\xff\xff"))),
                 "bad_request", None))

    # ---- not a map / field names (step 2 -> bad_request, id nil)
    c.append(one("body is an int", b"\x01", "bad_request", None))
    c.append(one("body is an array", pack([1, "ping"]), "bad_request", None))
    c.append(one("body is nil", b"\xc0", "bad_request", None))
    c.append(one("field name int", b"\x82\xa2id\x01\x05\xa4ping", "bad_request", None))
    c.append(one("field name nil", b"\x82\xa2id\x01\xc0\xa4ping", "bad_request", None))
    c.append(one("field name array", b"\x82\xa2id\x01\x91\xa2op\xa4ping", "bad_request", None))
    c.append(one("field name bin", b"\x82\xa2id\x01\xc4\x02op\xa4ping", "bad_request", None))
    c.append(one("empty map", b"\x80", "bad_request", None))

    # ---- id (step 3)
    for name, raw in [("negative int", b"\xff"), ("int64 min", b"\xd3\x80" + b"\0" * 7),
                      ("float64", b"\xcb" + struct.pack(">d", 1.0)),
                      ("float32 NaN", b"\xca\x7f\xc0\x00\x00"), ("str", b"\xa11"),
                      ("bin", b"\xc4\x01\x01"), ("nil", b"\xc0"), ("array", b"\x91\x01"),
                      ("map", b"\x81\xa1a\x01"), ("bool", b"\xc3"), ("ext", b"\xd4\x01\x01")]:
        c.append(one(f"id {name}", m(("id", Raw(raw)), ("op", "ping")), "type_error", None))
    c.append(one("id missing", pack({"op": "ping"}), "bad_request", None))
    c.append(one("id uint64 max echoed", pack({"id": 2**64 - 1, "op": "ping"}), OK,
                 2**64 - 1))
    c.append(one("id 0 echoed", pack({"id": 0, "op": "ping"}), OK, 0))
    c.append(one("id in non-minimal uint64 form",
                 m(("id", Raw(b"\xcf" + (7).to_bytes(8, "big"))), ("op", "ping")), OK, 7))

    # ---- trailing bytes (step 4), duplicates (step 5)
    rid = nid()
    c.append(one("trailing nil", pack({"id": rid, "op": "ping"}) + b"\xc0", "bad_request", rid))
    rid = nid()
    c.append(one("trailing second request", pack({"id": rid, "op": "ping"})
                 + pack({"id": rid + 1000, "op": "ping"}), "bad_request", rid))
    rid = nid()
    c.append(one("trailing 0xc1 garbage", pack({"id": rid, "op": "ping"}) + b"\xc1\xc1",
                 "bad_request", rid))
    rid = nid()
    c.append(one("duplicate op", m(("id", rid), ("op", "ping"), ("op", "ping")),
                 "bad_request", rid))
    rid = nid()
    c.append(one("duplicate id (first echoed)", m(("id", rid), ("op", "ping"), ("id", 5)),
                 "bad_request", rid))
    rid = nid()
    c.append(one("duplicate key on set", m(("id", rid), ("op", "set"), ("key", "a"),
                                           ("value", 1), ("key", "b")), "bad_request", rid))

    # ---- op (step 6) and unknown fields (step 7)
    for name, op, code in [("op int", 1, "type_error"), ("op nil", None, "type_error"),
                           ("op bin", b"get", "type_error"), ("op empty", "", "unknown_op"),
                           ("op unknown", "frobnicate", "unknown_op"),
                           ("op with NUL", "ping\0", "unknown_op"),
                           ("op 100k chars", "x" * 100_000, "unknown_op"),
                           ("op upper case", "GET", "unknown_op")]:
        rid = nid()
        c.append(one(name, pack({"id": rid, "op": op}), code, rid))
    rid = nid()
    c.append(one("op missing", pack({"id": rid, "key": "k"}), "bad_request", rid))
    rid = nid()
    c.append(one("unknown field path on get", pack({"id": rid, "op": "get", "key": "k",
                                                    "path": "/etc/passwd"}), "bad_request", rid))
    rid = nid()
    c.append(one("map with 100k entries", _big_map(rid), "bad_request", rid))

    # ---- wrong type in every field of every op (step 9)
    c += wrong_type_cases()

    # ---- keys (step 10)
    for name, raw in [("overlong NUL c0 80", b"\xa2\xc0\x80"),
                      ("overlong 3-byte e0 80 80", b"\xa3\xe0\x80\x80"),
                      ("overlong slash c0 af", b"\xa2\xc0\xaf"),
                      ("surrogate ed a0 80", b"\xa3\xed\xa0\x80"),
                      ("low surrogate ed bf bf", b"\xa3\xed\xbf\xbf"),
                      ("truncated e2 82", b"\xa2\xe2\x82"),
                      ("truncated at end a e2", b"\xa2a\xe2"),
                      ("byte ff", b"\xa1\xff"), ("byte fe", b"\xa1\xfe"),
                      ("lone continuation 80", b"\xa1\x80"),
                      ("above U+10FFFF f4 90 80 80", b"\xa4\xf4\x90\x80\x80"),
                      ("5-byte form f8 88 80 80 80", b"\xa5\xf8\x88\x80\x80\x80")]:
        c.append(key_case(f"key invalid utf-8 {name}", raw))
    c.append(_set_key_case("key 1025 bytes", "k" * (MAX_KEY + 1)))
    c.append(_set_key_case("key 1025 bytes of 2-byte chars", "é" * 512 + "k"))
    c.append(key_case("key empty", b"\xa0"))
    rid = nid()
    c.append(one("mget with 100k empty keys",
                 m(("id", rid), ("op", "mget"), ("keys", Raw(array_header(100_000)
                                                             + b"\xa0" * 100_000))),
                 "invalid_key", rid))
    rid = nid()
    c.append(one("invalid key hidden after 9999 good ones in mdelete",
                 m(("id", rid), ("op", "mdelete"),
                   ("keys", Raw(array_header(10_000) + pack("a") * 9_999 + b"\xa1\xff"))),
                 "invalid_key", rid))

    # ---- values and ranges (steps 11, 12, 13)
    rid = nid()
    c.append(one("value one byte too large", value_set(rid, b"\xc5" + struct.pack(
        ">H", MAX_VALUE - 2) + b"v" * (MAX_VALUE - 2)), "value_too_large", rid))
    rid = nid()
    c.append(one("ttl_ms 0", pack({"id": rid, "op": "set", "key": "k", "value": 1,
                                   "ttl_ms": 0}), "bad_request", rid))
    rid = nid()
    c.append(one("limit uint64 max", pack({"id": rid, "op": "scan", "limit": 2**64 - 1}),
                 "bad_request", rid))
    rid = nid()
    c.append(one("scan prefix invalid utf-8", m(("id", rid), ("op", "scan"),
                                                ("prefix", Raw(b"\xa2\xc0\x80"))),
                 "bad_request", rid))
    rid = nid()
    c.append(one("shard uint64 max", pack({"id": rid, "op": "get", "key": "k",
                                           "shard": 2**64 - 1}), "wrong_shard", rid))

    # ---- legal but extreme: must succeed
    rid = nid()
    c.append(one("set ttl_ms uint64 max (saturates, key stays)",
                 pack({"id": rid, "op": "set", "key": "ttl-max", "value": 1,
                       "ttl_ms": 2**64 - 1}), OK, rid,
                 after=check_found("ttl-max", ttl_positive=True)))
    rid = nid()
    c.append(one("expire ttl_ms uint64 max", pack({"id": rid, "op": "expire",
                                                   "key": "ttl-max", "ttl_ms": 2**64 - 1}),
                 OK, rid, after=check_found("ttl-max", ttl_positive=True)))
    rid = nid()
    c.append(one("key with NUL and control chars", pack({"id": rid, "op": "set",
                                                         "key": "a\0b\x01\n", "value": None}),
                 OK, rid, after=check_found("a\0b\x01\n")))
    rid = nid()
    c.append(one("mget 100k copies of one key", m(("id", rid), ("op", "mget"), (
        "keys", Raw(array_header(100_000) + pack("ttl-max") * 100_000))), OK, rid))
    rid = nid()
    k = "k"
    c.append(one("shard given and right", pack({"id": rid, "op": "get", "key": k,
                                                "shard": shard_of(k)}), OK, rid))

    rid = nid()
    c.append(one("value nested exactly 512 deep (allowed)",
                 value_set(rid, b"\x91" * 512 + b"\xc0", key="deep512"), OK, rid,
                 after=check_raw_value("deep512", b"\x91" * 512 + b"\xc0")))
    rid = nid()
    top = "\U0010FFFF"
    c.append(one("key of 256 U+10FFFF (1024 bytes)", pack({"id": rid, "op": "set",
                                                           "key": top * 256, "value": 1}),
                 OK, rid, after=check_scan(top, [top * 256])))
    rid = nid()
    c.append(one("mset 10k entries of one key (last wins)",
                 pack({"id": rid, "op": "mset", "entries": [["dup", i] for i in range(10_000)]}),
                 OK, rid, after=check_raw_value("dup", pack(9_999))))

    # ---- floods
    first = _next[0] + 1
    _next[0] += 10_000
    c.append(Case("10k pings in one write",
                  b"".join(frame(pack({"id": i, "op": "ping"}))
                           for i in range(first, first + 10_000)),
                  expect=[(i, OK) for i in range(first, first + 10_000)]))
    first = _next[0] + 1
    _next[0] += 1000
    data, exp = bytearray(), []
    for i in range(first, first + 1000):
        if i % 2:
            data += frame(b"\xc1")
            exp.append((None, "bad_request"))
        else:
            data += frame(pack({"id": i, "op": "get", "key": f"flood{i % 7}"}))
            exp.append((i, OK))
    c.append(Case("1000 frames alternating garbage and gets", bytes(data), expect=exp))
    return c


def _set_key_case(name: str, key: str) -> Case:
    rid = nid()
    return one(name, pack({"id": rid, "op": "set", "key": key, "value": 1}), "invalid_key",
               rid)


def _big_map(rid: int) -> bytes:
    """A request map with id, op and 99 998 made-up fields."""
    out = bytearray(b"\xdf" + struct.pack(">I", 100_000))
    out += pack("id") + pack(rid) + pack("op") + pack("ping")
    for i in range(99_998):
        out += pack(f"f{i}") + b"\x00"
    return bytes(out)


# Fields of every op that has fields, with a valid value; wrong-typed values rotate through
# WRONG (skipping the ones that would be valid for the field).
OP_FIELDS = {
    "set": {"key": "k", "value": 1, "ttl_ms": 5_000_000, "shard": None},
    "get": {"key": "k", "shard": None},
    "delete": {"key": "k", "shard": None},
    "exists": {"key": "k", "shard": None},
    "expire": {"key": "k", "ttl_ms": 5_000_000, "shard": None},
    "ttl": {"key": "k", "shard": None},
    "persist": {"key": "k", "shard": None},
    "mset": {"entries": [["k", 1]], "ttl_ms": 5_000_000},
    "mget": {"keys": ["k"]},
    "mdelete": {"keys": ["k"]},
    "scan": {"prefix": "k", "after": "a", "limit": 10},
}
WRONG = [b"bin", 5, None, 1.5, -3, [], {"a": 1}, True, "str"]
STR_FIELDS = {"key", "prefix", "after"}
UINT_FIELDS = {"ttl_ms", "shard", "limit"}
ARRAY_FIELDS = {"keys", "entries"}


def wrong_type_cases() -> list[Case]:
    out, turn = [], 0
    for op, fields in OP_FIELDS.items():
        for name in fields:
            if name == "value":
                continue        # any type is a valid value
            while True:
                bad = WRONG[turn % len(WRONG)]
                turn += 1
                if name in STR_FIELDS and isinstance(bad, str):
                    continue
                if name in UINT_FIELDS and isinstance(bad, int) and not isinstance(bad, bool) \
                        and bad >= 0:
                    continue
                if name in ARRAY_FIELDS and isinstance(bad, list):
                    continue
                break
            req = {k: (v if v is not None else shard_of("k")) for k, v in fields.items()}
            req[name] = bad
            rid = nid()
            out.append(one(f"{op} {name} as {type(bad).__name__} {bad!r}"[:60],
                           pack({"id": rid, "op": op, **req}), "type_error", rid))
    # items inside the arrays
    for op, req in [("mget", {"keys": ["a", 7]}), ("mdelete", {"keys": [None]}),
                    ("mset", {"entries": [["a", 1], "b"]}), ("mset", {"entries": [[7, 1]]}),
                    ("mset", {"entries": [{"a": 1}]})]:
        rid = nid()
        out.append(one(f"{op} item {req!r}"[:60], pack({"id": rid, "op": op, **req}),
                       "type_error", rid))
    rid = nid()
    out.append(one("mset entry of 3 elements", pack({"id": rid, "op": "mset",
                                                     "entries": [["a", 1, 2]]}),
                   "bad_request", rid))
    return out


CASES = build_cases()


# --------------------------------------------------------------------------- fixture + tests

class Box:
    def __init__(self, factory):
        self.factory = factory
        self.eng: EngineProcess | None = None
        self.deaths: list[str] = []

    def get(self) -> EngineProcess:
        if self.eng is not None and (self.eng.proc.poll() is not None or self.eng.eof):
            self.deaths.append(f"exit {self.eng.proc.poll()}: {self.eng.stderr_text()[-500:]}")
            self.eng.cleanup(check=False)           # reported through `deaths`
            self.eng = None
        if self.eng is None:
            self.eng = EngineProcess(["--shards", "16", "--log-level", "warn",
                                      "--max-frame-bytes", str(MAX_FRAME),
                                      "--max-value-bytes", str(MAX_VALUE)],
                                     self.factory.mktemp("hostile") / "data")
            self.eng._next_id = 10**12      # ping ids never collide with the table's ids
        return self.eng


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """The catalogue's engine. At the end it must exit cleanly (status 0) when its stdin is
    closed, after all the abuse (a sanitizer build reports leaks only then)."""
    b = Box(tmp_path_factory)
    yield b
    if b.eng is not None:
        problem = b.eng.cleanup(check=False)
        if problem:
            pytest.fail(f"the hostile-input engine did not end cleanly: {problem}",
                        pytrace=False)


def test_catalogue_size():
    assert len(CASES) >= 40
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    # run_case checks the expected answers one by one: a case expecting none would check
    # nothing but the ping
    empty = [c.name for c in CASES if not c.expect]
    assert not empty, f"cases that expect no answer: {empty}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile(box, case: Case):
    run_case(box.get(), case)


def run_case(eng: EngineProcess, case: Case) -> None:
    assert not eng.pending(), f"answers left over from an earlier case: {eng.pending()!r}"
    if case.send is not None:
        case.send(eng)
    else:
        eng.send_raw(case.data)
    timeout = 60 if len(case.expect) > 100 else 30
    for rid, code in case.expect:
        resp = eng.recv(rid, timeout=timeout)
        if code == OK:
            assert resp.get("ok") is True and resp.get("id") == rid, resp
        else:
            check_error(resp, code, rid)
    ping = eng.call("ping", timeout=30)
    assert ping.get("ok") is True, f"ping after the case failed: {ping!r}"
    if case.after:
        case.after(eng)
    time.sleep(0.01)
    assert not eng.pending(), f"unexpected extra answers: {eng.pending()!r}"
    assert eng.proc.poll() is None, "engine exited"
    rss = rss_kib(eng.proc.pid)
    assert rss < RSS_LIMIT_KIB, f"engine RSS {rss} KiB after the case"


def test_replay_for_leaks(box):
    """Replay the whole catalogue (but the 4 GiB frame) several times — 3 by default, 40 with
    LITESTASH_LONG=1 — on the same engine: RSS must not keep growing (at most 16 MiB above
    what it was after the first replay)."""
    rounds = 40 if long_mode() else 3
    eng = box.get()
    cases = [c for c in CASES if c.send is not send_4gib]
    base = None
    for r in range(rounds):
        for case in cases:
            run_case(eng, case)
        if r == 0:
            base = rss_kib(eng.proc.pid)
    grown = rss_kib(eng.proc.pid) - base
    print(f"replayed {len(cases)} cases {rounds} times: RSS grew {grown} KiB after round 1")
    assert grown < 16 << 10, f"RSS grew by {grown} KiB over {rounds - 1} replays"


def test_engine_never_exited(box):
    eng = box.get()
    assert not box.deaths, f"the engine exited during the catalogue: {box.deaths}"
    assert eng.call("ping").get("ok") is True
    status = open(f"/proc/{eng.proc.pid}/status").read()
    fields = {ln.split(":")[0]: int(ln.split()[1]) for ln in status.splitlines()
              if ln.startswith(("VmRSS", "VmHWM"))}
    print(f"engine after {len(CASES)} hostile cases: VmRSS {fields['VmRSS']} KiB, "
          f"peak VmHWM {fields['VmHWM']} KiB")
    assert fields["VmRSS"] < RSS_LIMIT_KIB, fields
    assert fields["VmHWM"] < RSS_LIMIT_KIB, fields
