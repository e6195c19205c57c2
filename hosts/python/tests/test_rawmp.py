"""The byte walker used for raw access agrees with msgpack on object boundaries. (No engine.)"""
import msgpack
import pytest

from litestash import rawmp

SAMPLES = [
    b"\x00", b"\x7f", b"\xff", b"\xc0", b"\xc2", b"\xc3", b"\xcc\x05", b"\xcd\x01\x00",
    b"\xce\x00\x00\x00\x07", b"\xcf" + b"\xff" * 8, b"\xd0\x80", b"\xd3" + b"\x80" + b"\x00" * 7,
    b"\xca\x3f\xc0\x00\x00", b"\xcb" + b"\x00" * 8, b"\xa3abc", b"\xd9\x03abc", b"\xda\x00\x00",
    b"\xc4\x03\x00\x01\xff", b"\xc5\x00\x01\x00", b"\xd4\x05\x01", b"\xd6\xff\x00\x00\x00\x00",
    b"\xc7\x03\x07\xaa\xbb\xcc", b"\xde\x00\x01\xa1x\x01", b"\xdd\x00\x00\x00\x02\x01\x02",
    msgpack.packb({"a": [1, [2, [3, {"b": None}]]], "c": {"d": {"e": True}}}),
    msgpack.packb([b"x" * 300, "y" * 70000, list(range(20)), {str(i): i for i in range(20)}]),
]


@pytest.mark.parametrize("data", SAMPLES, ids=lambda d: d[:6].hex())
def test_skip_matches_object_length(data):
    assert rawmp.skip(data + b"\xc0\xc0", 0) == len(data)
    assert rawmp.is_single_object(data)
    assert not rawmp.is_single_object(data + b"\x01")


@pytest.mark.parametrize("data", [b"", b"\xc1", b"\xcc", b"\xa3ab", b"\x92\x01", b"\xc4\x05\x00"])
def test_malformed(data):
    assert not rawmp.is_single_object(data)


def test_map_and_array_spans():
    body = b"\x83" + msgpack.packb("id") + b"\x07" + msgpack.packb("value") + b"\xca\x3f\xc0\x00\x00" \
        + msgpack.packb("values") + b"\x92\xcc\x05\xc0"
    spans = rawmp.map_spans(body)
    s, e = spans["value"]
    assert body[s:e] == b"\xca\x3f\xc0\x00\x00"
    items = rawmp.array_spans(body, *spans["values"])
    assert [body[a:b] for a, b in items] == [b"\xcc\x05", b"\xc0"]
    assert rawmp.is_nil(body, *items[1])


def test_depth_limit():
    deep = b"\x91" * 600 + b"\xc0"
    with pytest.raises(rawmp.RawError):
        rawmp.skip(deep)
