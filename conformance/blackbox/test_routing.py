"""Routing: the contract's hash vectors and the `shard` field.

The suite computes BLAKE2b-512 with hashlib, checks it against the contract's test vectors,
and then checks the engine agrees by sending the right `shard` (answer ok) and every wrong one
(answer wrong_shard, nothing applied).
"""

from __future__ import annotations

import pytest

from engine_proc import Raw, check_error, digest, pack, raw_request, shard_of

VECTORS = [("user:1001", "24c580f64b17c1ce", 14), ("a", "333fcb4ee1aa7c11", 1),
           ("vec:1", "fdd91d8eb996d7ac", 12)]


@pytest.mark.parametrize("key,prefix_hex,shard", VECTORS)
def test_hash_vectors_local(key, prefix_hex, shard):
    d = digest(key)
    assert len(d) == 64
    assert d[:8].hex() == prefix_hex
    assert shard_of(key, 16) == shard


def test_hash_vectors_engine(engine):
    for key, _, shard in VECTORS:
        assert engine.ok("set", key=key, value=shard, shard=shard)["version"] > 0
        g = engine.ok("get", key=key, shard=shard)
        assert g["found"] is True and g["value"] == shard
        for wrong in range(16):
            if wrong == shard:
                continue
            rid = engine.send({"op": "set", "key": key, "value": "wrong", "shard": wrong})
            check_error(engine.recv(rid), "wrong_shard", rid)
            assert engine.ok("ping")
        assert engine.ok("get", key=key)["value"] == shard, "a wrong_shard set was applied"
    # each key lives on its routed shard (the three vectors route to three distinct shards)
    shards = engine.ok("stats")["shards"]
    assert [i for i, s in enumerate(shards) if s["keys"]] == sorted(v[2] for v in VECTORS)
    assert sum(s["keys"] for s in shards) == 3


def test_shard_accepted_on_every_single_key_op(engine):
    key = "user:1001"
    s = 14
    engine.ok("set", key=key, value=1, shard=s, ttl_ms=60_000)
    assert engine.ok("get", key=key, shard=s)["found"] is True
    assert engine.ok("exists", key=key, shard=s)["exists"] is True
    assert engine.ok("ttl", key=key, shard=s)["found"] is True
    assert engine.ok("persist", key=key, shard=s)["updated"] is True
    assert engine.ok("expire", key=key, ttl_ms=60_000, shard=s)["updated"] is True
    assert engine.ok("delete", key=key, shard=s)["deleted"] is True
    for op, extra in [("get", {}), ("exists", {}), ("ttl", {}), ("persist", {}),
                      ("expire", {"ttl_ms": 5}), ("delete", {}), ("set", {"value": 1})]:
        rid = engine.send({"op": op, "key": key, "shard": 3, **extra})
        check_error(engine.recv(rid), "wrong_shard", rid)
        assert engine.ok("ping")
    assert engine.ok("count")["count"] == 0


def test_key_routing_ignores_str_header_width(engine):
    """A key sent with a `str 8` header routes by its UTF-8 bytes like a fixstr key."""
    key = "vec:1"
    body = raw_request(("id", 1), ("op", "set"), ("key", Raw(b"\xd9\x05" + key.encode())),
                       ("value", 9), ("shard", 12))
    engine.send_frame(body)
    assert engine.recv(1)["ok"] is True
    assert engine.ok("get", key=key, shard=12)["value"] == 9
    body = raw_request(("id", 2), ("op", "get"), ("key", Raw(b"\xda\x00\x05" + key.encode())))
    engine.send_frame(body)
    assert engine.recv(2)["value"] == 9
    assert engine.ok("scan")["keys"] == [key]
    assert pack(key) != b"\xd9\x05" + key.encode()
