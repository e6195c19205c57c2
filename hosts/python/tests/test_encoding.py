"""Request encoding (protocol.encode_request) gives exactly msgpack's bytes for the same map,
also after a value that cannot be packed and from several threads at once. (No engine.)"""
import threading

import msgpack
import pytest

from litestash import protocol
from litestash.protocol import Packed


def expected(req_id, op, fields):
    return msgpack.packb(dict([("id", req_id), ("op", op)] + list(fields)), use_bin_type=True)


FIELDS = [
    [],
    [("key", "k"), ("shard", 3), ("value", b"\x00\xff" * 40)],
    [("key", "é" * 40), ("ttl_ms", 2 ** 63), ("if_version", 0)],
    [("n", -1), ("f", 1.5), ("t", True), ("nil", None)],
    [("keys", ["a", "b", "c"]), ("map", {"x": [1, {"y": b"z"}]})],
    [("entries", [["a", 1], ["b", [2, 3]]])],
    # longer than what the shared Packer takes: packed by a fresh one
    [("key", "ü" * 70000), ("value", b"\x01" * 300000), ("n", 1)],
]


@pytest.mark.parametrize("fields", FIELDS, ids=range(len(FIELDS)))
def test_encode_request_matches_msgpack(fields):
    assert protocol.encode_request(7, "set", fields) == expected(7, "set", fields)
    assert protocol.encode_request(2 ** 40, "set", fields) == expected(2 ** 40, "set", fields)


def test_packed_values_are_embedded_verbatim():
    raw = b"\xcc\x05"  # a uint8 5, which msgpack itself would pack as a fixint
    body = protocol.encode_request(1, "set", [("value", Packed(raw)), ("list", [Packed(raw), 6])])
    assert body == (b"\x84" + msgpack.packb("id") + b"\x01" + msgpack.packb("op") + msgpack.packb("set")
                    + msgpack.packb("value") + raw + msgpack.packb("list") + b"\x92" + raw + b"\x06")


@pytest.mark.parametrize("bad", [2 ** 64, -2 ** 63 - 1, object(), [1, object()], {"a": object()}])
def test_a_failed_pack_leaves_nothing_behind(bad):
    with pytest.raises((OverflowError, TypeError, ValueError)):
        protocol.encode_request(1, "set", [("key", "k"), ("value", bad)])
    fields = [("key", "k"), ("value", b"v"), ("n", 5)]
    assert protocol.encode_request(2, "set", fields) == expected(2, "set", fields)
    assert protocol.pack_value("after") == msgpack.packb("after")


class SlowItems(dict):
    """A dict whose items() runs Python code, so another thread may run in the middle."""

    def items(self):
        for k in list(dict.keys(self)):
            yield k, self[k]


def test_threads_encoding_at_once_get_their_own_bytes():
    errors = []

    def work(t):
        for i in range(3000):
            fields = [("key", "t%d-%d" % (t, i)), ("value", b"%d" % i * (i % 50)), ("n", i * t),
                      ("m", SlowItems(a=i, b="x" * (i % 40)))]
            want = expected(i, "set", [(k, dict(v) if isinstance(v, dict) else v) for k, v in fields])
            if protocol.encode_request(i, "set", fields) != want:
                errors.append((t, i))
                return

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


def test_made_up_op_names_do_not_grow_the_name_cache():
    for i in range(1000):
        assert protocol.encode_request(1, "op%d" % i, []) == expected(1, "op%d" % i, [])
    assert len(protocol._packed_name) <= 256


def test_frame_prefixes_the_length():
    assert protocol.frame(b"abc") == b"\x00\x00\x00\x03abc"
    assert protocol.frame(b"x" * 70000)[:4] == (70000).to_bytes(4, "big")
