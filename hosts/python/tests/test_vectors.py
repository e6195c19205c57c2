"""The committed vectors are fresh and self-consistent, and our routing matches all 1000 hashes.
(No engine needed. dataset.json's own consistency is checked with the matrix host, in
conformance/matrix/python/tests.)"""
import json
import os
import subprocess
import sys

import msgpack
import pytest

from conftest import VECTORS
from litestash import key_digest, shard_for
from litestash.rawmp import is_single_object


def load(name):
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        return json.load(f)


def test_generated_files_are_up_to_date():
    p = subprocess.run([sys.executable, os.path.join(VECTORS, "gen_vectors.py"), "--check"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("name", ["hash_vectors", "scenario", "dataset"])
def test_msgpack_twin_equals_json(name):
    with open(os.path.join(VECTORS, name + ".msgpack"), "rb") as f:
        twin = msgpack.unpackb(f.read(), raw=False, strict_map_key=False)
    assert twin == load(name + ".json")


def test_hash_vectors_all_1000():
    doc = load("hash_vectors.json")
    assert doc["hash"] == "blake2b-512" and doc["shard_counts"] == [1, 7, 16, 64]
    vs = doc["vectors"]
    assert len(vs) == 1000 and len({v["key"] for v in vs}) == 1000
    for v in vs:
        kb = v["key"].encode("utf-8")
        assert kb.hex() == v["key_utf8_hex"]
        assert key_digest(v["key"]).hex() == v["blake2b512_hex"], v["key"]
        for n, want in v["shard"].items():
            assert shard_for(v["key"], int(n)) == want, (v["key"], n)


def test_hash_vectors_cover_the_edges():
    keys = [v["key"] for v in load("hash_vectors.json")["vectors"]]
    lens = [len(k.encode()) for k in keys]
    assert lens.count(1) >= 90
    assert sum(1 for k in keys if len(k.encode()) == 1024) >= 4
    assert any(len(k.encode()) == 1024 and ord(max(k)) > 0xFFFF for k in keys)  # 4-byte code points
    assert any(" " in k and ":" in k for k in keys)
    assert sum(1 for k in keys if any(ord(c) > 0xFFFF for c in k)) >= 50


def test_contract_vectors():
    by_key = {v["key"]: v for v in load("hash_vectors.json")["vectors"]}
    for key, prefix, shard in (("user:1001", "24c580f64b17c1ce", 14), ("a", "333fcb4ee1aa7c11", 1),
                               ("vec:1", "fdd91d8eb996d7ac", 12)):
        assert by_key[key]["blake2b512_hex"].startswith(prefix)
        assert by_key[key]["shard"]["16"] == shard
        assert shard_for(key, 16) == shard


def test_scenario_shape():
    sc = load("scenario.json")
    assert sc["engine_args"] == ["--shards", "16"]
    ops = set()
    for step in sc["steps"]:
        e = step["expect"]
        assert isinstance(e["ok"], bool) and "id" in e and step["describe"]
        assert e["ok"] or isinstance(e["code"], str)
        body = bytes.fromhex(step["request"])
        if e["ok"]:
            assert is_single_object(body)
            ops.add(msgpack.unpackb(body, raw=False)["op"])
    assert ops >= {"hello", "ping", "set", "get", "delete", "exists", "mset", "mget", "mdelete",
                   "scan", "count", "clear", "expire", "ttl", "persist", "stats", "sync"}
    codes = {s["expect"].get("code") for s in sc["steps"]}
    assert codes >= {"bad_frame", "bad_request", "type_error", "unknown_op", "invalid_key", "wrong_shard"}
