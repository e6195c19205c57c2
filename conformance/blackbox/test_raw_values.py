"""Values are stored and returned byte for byte (no re-encoding).

Requests are built by hand so each value uses an unusual but valid MessagePack encoding
(non-minimal ints, float32, `str 8` for a short string, bin, fixext/ext8/ext16, nested
containers with wide headers, nil, ...). The `value` bytes are sliced out of the raw response
body with a MessagePack skipper (engine_proc.raw_map) and compared with what was sent, for
`get` and for `mget`, and for values written by `set` and by `mset`.
"""

from __future__ import annotations

import os
import struct

import pytest

from engine_proc import Raw, array_header, pack, raw_array_items, raw_map, raw_request

VALUES = [
    ("uint8 non-minimal", b"\xcc\x05"),
    ("uint16 non-minimal", b"\xcd\x00\x05"),
    ("uint64 non-minimal", b"\xcf" + (1).to_bytes(8, "big")),
    ("int16 non-minimal", b"\xd1\xff\xff"),
    ("int8 positive", b"\xd0\x01"),
    ("negfixint", b"\xff"),
    ("float32", b"\xca" + struct.pack(">f", 1.5)),
    ("float32 nan payload", b"\xca\x7f\xc0\x00\x01"),
    ("float64 negative zero", b"\xcb\x80" + b"\x00" * 7),
    ("str8 short", b"\xd9\x03abc"),
    ("str16 short", b"\xda\x00\x02hi"),
    ("str32 empty", b"\xdb\x00\x00\x00\x00"),
    ("fixstr empty", b"\xa0"),
    ("bin8", b"\xc4\x03\x00\x01\x02"),
    ("bin32 one byte", b"\xc6\x00\x00\x00\x01\xff"),
    ("fixext1", b"\xd4\x05\x07"),
    ("fixext2", b"\xd5\x06\x01\x02"),
    ("fixext8", b"\xd7\x7f" + bytes(range(8))),
    ("fixext16", b"\xd8\x10" + bytes(range(16))),
    ("ext8", b"\xc7\x03\x09abc"),
    ("ext8 empty", b"\xc7\x00\x01"),
    ("ext16", b"\xc8\x00\x02\x80\x01\x02"),
    ("timestamp32 ext -1", b"\xd6\xff\x00\x00\x00\x01"),
    ("nested map", b"\x82\xa1a\x92\xcd\x00\x01\xca\x3f\xc0\x00\x00\xa1b\x81\xd9\x01x\xc0"),
    ("map16 one entry", b"\xde\x00\x01\xa1k\x01"),
    ("array32 two items", b"\xdd\x00\x00\x00\x02\xc0\xc3"),
    ("array16 empty", b"\xdc\x00\x00"),
    ("map with non-str keys", b"\x82\x01\x02\xc4\x01\x00\xc0"),
    ("map with repeated keys", b"\x82\xa1a\x01\xa1a\x02"),
    ("nil", b"\xc0"),
    ("false", b"\xc2"),
    ("true", b"\xc3"),
]


def set_raw(engine, rid: int, key: str, value: bytes) -> dict:
    engine.send_frame(raw_request(("id", rid), ("op", "set"), ("key", key),
                                  ("value", Raw(value))))
    resp = engine.recv(rid)
    assert resp["ok"] is True, f"set of {value.hex()} refused: {resp!r}"
    return resp


def get_raw_value(engine, key: str) -> bytes:
    rid = engine.send({"op": "get", "key": key})
    msg, body = engine.recv_raw(rid)
    assert msg["ok"] is True and msg["found"] is True, msg
    return raw_map(body)["value"]


def mget_raw_values(engine, keys: list[str]) -> tuple[list[bool], list[bytes]]:
    rid = engine.send({"op": "mget", "keys": keys})
    msg, body = engine.recv_raw(rid)
    assert msg["ok"] is True, msg
    return msg["found"], raw_array_items(raw_map(body)["values"])


@pytest.mark.parametrize("name,value", VALUES, ids=[v[0] for v in VALUES])
def test_skipper_self_check(name, value):
    """The suite's own slicer must round-trip each sample inside a map (guards the oracle)."""
    body = b"\x82" + pack("id") + b"\x01" + pack("value") + value
    assert raw_map(body)["value"] == value


def test_set_get_mget_exact_bytes(engine):
    keys = []
    for i, (name, value) in enumerate(VALUES):
        key = f"raw:{name}"
        keys.append(key)
        set_raw(engine, 100 + i, key, value)
    for key, (name, value) in zip(keys, VALUES):
        got = get_raw_value(engine, key)
        assert got == value, f"{name}: sent {value.hex()} got back {got.hex()} via get"
    found, values = mget_raw_values(engine, keys + ["raw:absent"])
    assert found == [True] * len(VALUES) + [False]
    assert len(values) == len(VALUES) + 1, f"mget returned {len(values)} values"
    for raw, (name, value) in zip(values, VALUES):
        assert raw == value, f"{name}: sent {value.hex()} got back {raw.hex()} via mget"
    assert values[-1] == b"\xc0"


def test_mset_exact_bytes(engine):
    entries = array_header(len(VALUES))
    keys = []
    for name, value in VALUES:
        key = f"mraw:{name}"
        keys.append(key)
        entries += array_header(2) + pack(key) + value
    engine.send_frame(raw_request(("id", 1), ("op", "mset"), ("entries", Raw(entries))))
    resp = engine.recv(1)
    assert resp == {"id": 1, "ok": True, "count": len(VALUES)}
    for key, (name, value) in zip(keys, VALUES):
        got = get_raw_value(engine, key)
        assert got == value, f"{name}: sent {value.hex()} got back {got.hex()} via get"
    found, values = mget_raw_values(engine, keys)
    assert found == [True] * len(VALUES) and len(values) == len(VALUES), (found, len(values))
    for raw, (name, value) in zip(values, VALUES):
        assert raw == value, f"{name}: sent {value.hex()} got back {raw.hex()} via mget"


def test_large_value_exact_bytes(engine):
    payload = os.urandom(1024 * 1024)
    value = b"\xc6" + struct.pack(">I", len(payload)) + payload        # bin32
    set_raw(engine, 1, "big", value)
    assert get_raw_value(engine, "big") == value
    _, values = mget_raw_values(engine, ["big"])
    assert values == [value]
