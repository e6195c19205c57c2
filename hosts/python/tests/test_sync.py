"""The synchronous client against the real engine: every op, raw access, mapping sugar, restart."""
import msgpack
import pytest

from litestash import LiteStash, Packed, Ttl, shard_for


def test_context_manager_roundtrip_and_clean_exit(engine, data_dir):
    with LiteStash(data_dir=data_dir, engine=engine) as db:
        v = db.set("user:1", {"name": "Ada", "langs": ["en", "fr"], "age": 36})
        assert isinstance(v, int) and v > 1_600_000_000_000_000   # µs since the epoch
        assert db.get("user:1") == {"name": "Ada", "langs": ["en", "fr"], "age": 36}
        proc = db.process
    assert proc.exit_status == 0 and not proc.alive()


def test_hello_info(db):
    assert db.info["protocol"] == 2 and db.info["hash"] == "blake2b-512" and db.info["shards"] == 16
    assert db.hello()["engine"] == "litestash-engine"
    assert db.ping() is True


def test_get_missing_default_and_nil(db):
    assert db.get("nope") is None
    assert db.get("nope", default=42) == 42
    assert db.get_with_version("nope") is None
    db.set("nil", None)
    assert db.get("nil", default=42) is None
    value, version = db.get_with_version("nil")
    assert value is None and version > 0
    assert db.get_raw("nil") == b"\xc0"


def test_versions_increase_and_overwrite(db):
    v1 = db.set("k", 1)
    v2 = db.set("k", 2)
    assert v2 > v1
    assert db.get_with_version("k") == (2, v2)


def test_types_roundtrip(db):
    values = {"int": -5, "big": 2**64 - 1, "float": 0.1, "str": "h\u00e9llo \U0001F600", "bin": b"\x00\xff",
              "list": [1, [2, [3]]], "map": {"a": {"b": None}}, "bool": True, "empty": ""}
    for k, v in values.items():
        db.set(k, v)
    for k, v in values.items():
        got = db.get(k)
        assert got == v and type(got) is type(v), k


def test_raw_bytes_survive(db):
    samples = {"u8": b"\xcc\x05", "f32": b"\xca\x3f\xc0\x00\x00", "str8": b"\xd9\x03abc",
               "ext": b"\xc7\x03\x07\xaa\xbb\xcc", "map16": b"\xde\x00\x01\xa1x\x01"}
    for k, raw in samples.items():
        db.set_raw(k, raw)
    for k, raw in samples.items():
        assert db.get_raw(k) == raw
    assert db.get("u8") == 5 and db.get("f32") == 1.5 and db.get("str8") == "abc"
    assert db.mget_raw(["f32", "missing", "u8"]) == [samples["f32"], None, samples["u8"]]
    db.mset_raw({"m1": b"\xcc\x01", "m2": b"\xca\x00\x00\x00\x00"})
    assert db.mget_raw(["m1", "m2"]) == [b"\xcc\x01", b"\xca\x00\x00\x00\x00"]


@pytest.mark.parametrize("bad", [b"", b"\x01\x02", b"\xcc", b"\xc1"])
def test_set_raw_rejects_non_single_object(db, bad):
    with pytest.raises(ValueError):
        db.set_raw("k", bad)
    assert db.ping()


def test_delete_exists(db):
    db.set("d", 1)
    assert db.exists("d") is True
    assert db.delete("d") is True
    assert db.delete("d") is False
    assert db.exists("d") is False


def test_mset_mget_mdelete(db):
    assert db.mset({"a": 1, "b": "two", "c": [3]}) == 3
    assert db.mset([("d", 4.5), ("e", None)]) == 2
    assert db.mget(["a", "zz", "c", "e", "d"]) == [1, None, [3], None, 4.5]
    assert db.mget(["zz"], default="x") == ["x"]
    assert db.mget([]) == []
    assert db.mdelete(["a", "b", "zz"]) == 2
    assert db.count() == 3


def test_scan_pages_and_iter(db):
    keys = ["p:%04d" % i for i in range(2500)]
    for i in range(0, 2500, 500):
        db.mset({k: i for k in keys[i:i + 500]})
    db.set("q:other", 1)
    page, more = db.scan(prefix="p:", limit=10)
    assert page == keys[:10] and more
    page, more = db.scan(prefix="p:", after="p:2490")
    assert page == keys[2491:] and not more
    assert list(db.scan_iter(prefix="p:", batch=700)) == keys
    assert list(db) == keys + ["q:other"]
    assert len(db) == 2501


def test_scan_orders_by_utf8_bytes(db):
    ks = ["s:\U0001F600", "s:\u00e9", "s:~", "s:a", "s:Z"]
    db.mset({k: 1 for k in ks})
    assert db.scan(prefix="s:")[0] == sorted(ks, key=lambda k: k.encode())


def test_ttl_expire_persist(db):
    db.set("t", 1, ttl_ms=600_000)
    t = db.ttl("t")
    assert isinstance(t, Ttl) and t.found and 0 < t.ttl_ms <= 600_000
    assert db.persist("t") is True
    assert db.ttl("t") == Ttl(True, None)
    assert db.persist("t") is False
    assert db.expire("t", 300_000) is True
    assert 0 < db.ttl("t").ttl_ms <= 300_000
    db.set("t", 2)                                # plain set clears the expiry
    assert db.ttl("t") == Ttl(True, None)
    assert db.ttl("missing") == Ttl(False, None)
    assert db.expire("missing", 1000) is False


def test_short_ttl_expires(db):
    import time
    db.set("short", 1, ttl_ms=50)
    db.mset({"short2": 2}, ttl_ms=50)
    time.sleep(0.3)
    assert db.get("short") is None and not db.exists("short")
    assert db.mget(["short", "short2"]) == [None, None]
    assert db.ttl("short") == Ttl(False, None)
    assert "short2" not in list(db) and db.count() == 0


def test_stats_count_clear_sync(db):
    db.mset({"k%d" % i: i for i in range(50)})
    db.set("exp", 1, ttl_ms=600_000)
    st = db.stats()
    assert len(st["shards"]) == 16
    assert sum(s["keys"] for s in st["shards"]) == 51
    per = [0] * 16
    for i in range(50):
        per[shard_for("k%d" % i, 16)] += 1
    per[shard_for("exp", 16)] += 1
    assert [s["keys"] for s in sorted(st["shards"], key=lambda s: s["shard"])] == per
    # Each shard that got a key had a commit write at least one page.
    assert all(s["pages_written"] >= 1 for s in st["shards"] if s["keys"])
    assert sum(s["expiring"] for s in st["shards"]) == 1
    db.sync()
    assert db.count() == 51
    db.clear()
    assert db.count() == 0 and db.get("k1") is None


def test_mapping_sugar(db):
    db["x"] = {"y": 1}
    assert db["x"] == {"y": 1} and "x" in db
    del db["x"]
    assert "x" not in db
    with pytest.raises(KeyError):
        db["x"]
    with pytest.raises(KeyError):
        del db["x"]


def test_data_survives_restart(engine, data_dir):
    with LiteStash(data_dir=data_dir, engine=engine) as db:
        db.mset({"r%d" % i: {"i": i} for i in range(100)})
        db.set_raw("f32", b"\xca\x3f\xc0\x00\x00")
    with LiteStash(data_dir=data_dir, engine=engine) as db:
        assert db.count() == 101
        assert db.get("r42") == {"i": 42}
        assert db.get_raw("f32") == b"\xca\x3f\xc0\x00\x00"


def test_memory_mode(engine):
    with LiteStash(memory=True, engine=engine) as db:
        db.set("m", [1, 2])
        assert db.get("m") == [1, 2]


def test_routing_is_sent_with_every_keyed_request(db):
    # The engine refuses a wrong shard, so a client that routes wrongly could not do this:
    keys = ["route:%d:\u00e9\U0001F600" % i for i in range(300)]
    for k in keys:
        db.set(k, k)
    assert db.mget(keys) == keys
    assert all(db.exists(k) for k in keys[:50])


def test_packed_value_in_mset(db):
    db.mset([("a", Packed(b"\xcc\x07")), ("b", 7)])
    assert db.mget_raw(["a", "b"]) == [b"\xcc\x07", msgpack.packb(7)]


def test_engines_sharing_a_data_dir(engine, data_dir):
    """Several engines started at once on an empty dir come up; each sees the others' commits."""
    import threading
    clients, errors = [], []

    def start():
        try:
            clients.append(LiteStash(data_dir=data_dir, engine=engine, timeout=30))
        except Exception as e:       # collected and asserted below
            errors.append(e)
    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert not errors and len(clients) == 4
        for i, c in enumerate(clients):
            c.set("from:%d" % i, i)
        for c in clients:
            assert c.mget(["from:%d" % i for i in range(4)]) == [0, 1, 2, 3]
            assert c.count() == 4
    finally:
        for c in clients:
            c.close()
