"""Engine errors become typed exceptions with the engine's code; the stream stays usable."""
import os
import struct

import msgpack
import pytest

import litestash
from litestash import (BadRequest, EngineExited, FrameTooLarge, InvalidKey, LiteStash, LiteStashError,
                       TypeError_, UnknownOp, ValueTooLarge, WrongShard, shard_for)
from litestash.errors import from_response
from litestash.process import EngineProcess
from litestash.protocol import Cmd


def call(db, op, fields):
    """Send an arbitrary request through the client's own plumbing."""
    return db._call(Cmd(op, fields, lambda r, b: r))


def test_invalid_key(db):
    for bad in ("", "k" * 1025, "\u00e9" * 513):
        with pytest.raises(InvalidKey) as ei:
            db.set(bad, 1)
        assert ei.value.code == "invalid_key" and isinstance(ei.value, ValueError)
    with pytest.raises(InvalidKey):
        db.mget(["ok", ""])
    db.set("k" * 1024, 1)                       # the limit itself is fine
    assert db.get("k" * 1024) == 1


def test_type_error(db):
    with pytest.raises(TypeError_) as ei:
        db.get(42)
    assert ei.value.code == "type_error" and isinstance(ei.value, TypeError)
    with pytest.raises(TypeError_):
        db.get(b"bytes-key")
    with pytest.raises(TypeError_):
        db.set("k", 1, ttl_ms=-1)
    with pytest.raises(TypeError_):
        db.expire("k", 1.5)


def test_bad_request(db):
    with pytest.raises(BadRequest) as ei:
        db.set("k", 1, ttl_ms=0)
    assert ei.value.code == "bad_request"
    assert db.get("k") is None                  # nothing applied
    with pytest.raises(BadRequest):
        db.scan(limit=0)
    with pytest.raises(BadRequest):
        db.scan(limit=10001)
    with pytest.raises(BadRequest):
        call(db, "get", [("key", "a"), ("bogus", 1)])
    with pytest.raises(BadRequest):
        call(db, "set", [("key", "a")])


def test_unknown_op(db):
    with pytest.raises(UnknownOp) as ei:
        call(db, "frobnicate", [])
    assert ei.value.code == "unknown_op"


def test_wrong_shard(db):
    right = shard_for("a", 16)
    with pytest.raises(WrongShard) as ei:
        call(db, "set", [("key", "a"), ("value", 1), ("shard", (right + 1) % 16)])
    assert ei.value.code == "wrong_shard"
    with pytest.raises(WrongShard):
        call(db, "get", [("key", "a"), ("shard", 16)])
    assert db.get("a") is None
    assert call(db, "get", [("key", "a"), ("shard", right)])["found"] is False


def test_value_too_large(engine, data_dir):
    with LiteStash(data_dir=data_dir, engine=engine, max_value_bytes=1000) as db:
        db.set("ok", b"x" * 990)
        with pytest.raises(ValueTooLarge) as ei:
            db.set("big", b"x" * 2000)
        assert ei.value.code == "value_too_large"
        with pytest.raises(ValueTooLarge):
            db.mset({"small": 1, "big": "y" * 5000})
        assert db.get("small") is None and db.get("big") is None
        assert db.info["max_value_bytes"] == 1000


def test_frame_too_large_client_side(engine, data_dir):
    with LiteStash(data_dir=data_dir, engine=engine, max_frame_bytes=4096) as db:
        assert db.info["max_frame_bytes"] == 4096
        with pytest.raises(FrameTooLarge):
            db.set("big", b"x" * 10000)          # refused before sending
        assert db.ping()


def test_frame_too_large_and_bad_frame_engine_side(engine, data_dir):
    proc = EngineProcess([engine, "--data-dir", data_dir, "--max-frame-bytes", "4096"])
    try:
        body = msgpack.packb({"id": 1, "op": "set", "key": "k", "value": b"x" * 10000})
        proc.send(body)
        resp = msgpack.unpackb(proc.recv(10))
        assert resp["id"] is None and resp["error"]["code"] == "frame_too_large"
        proc.send_bytes(struct.pack(">I", 0))
        resp = msgpack.unpackb(proc.recv(10))
        assert resp["id"] is None and resp["error"]["code"] == "bad_frame"
        proc.send(msgpack.packb({"id": 2, "op": "ping"}))
        assert msgpack.unpackb(proc.recv(10)) == {"id": 2, "ok": True}
        assert proc.close(10) == 0
    finally:
        proc.kill()


def test_error_keeps_stream_usable(db):
    for _ in range(3):
        with pytest.raises(LiteStashError):
            db.set("", 1)
    db.set("after", 1)
    assert db.get("after") == 1


def test_unknown_code_maps_to_base_class():
    e = from_response({"id": 3, "ok": False, "error": {"code": "brand_new", "message": "m"}})
    assert type(e) is LiteStashError and e.code == "brand_new" and e.request_id == 3
    e = from_response({"id": 3, "ok": False, "error": {"code": "wrong_shard", "message": "m"}})
    assert isinstance(e, WrongShard) and str(e) == "wrong_shard: m"


def test_every_code_has_a_class():
    for code in ("bad_frame", "frame_too_large", "bad_request", "type_error", "unknown_op", "invalid_key",
                 "value_too_large", "wrong_shard", "conflict", "storage_error", "shutting_down", "internal"):
        cls = litestash.errors.BY_CODE[code]
        assert issubclass(cls, LiteStashError) and cls.code == code


def test_shard_count_mismatch_surfaces_as_engine_exited(engine, data_dir):
    with LiteStash(data_dir=data_dir, engine=engine, shards=16) as db:
        db.set("a", 1)
    with pytest.raises(EngineExited) as ei:
        LiteStash(data_dir=data_dir, engine=engine, shards=8)
    assert ei.value.exit_status == 65


def test_bad_flag_surfaces_as_engine_exited(engine, data_dir):
    with pytest.raises(EngineExited) as ei:
        LiteStash(data_dir=data_dir, engine=engine, no_such_flag=1)
    assert ei.value.exit_status == 64


def test_unusable_data_dir(engine, tmp_path):
    f = tmp_path / "file"
    f.write_text("not a dir")
    with pytest.raises(EngineExited) as ei:
        LiteStash(data_dir=str(f), engine=engine)
    assert ei.value.exit_status == 73
    assert os.path.isfile(f)


def test_conflict_carries_version_and_key():
    e = from_response({"id": 4, "ok": False, "error": {"code": "conflict", "message": "m",
                                                        "version": 1234567, "key": "user:1"}})
    assert isinstance(e, litestash.Conflict) and e.code == "conflict" and e.request_id == 4
    assert e.version == 1234567 and e.key == "user:1"
    assert e.details == {"version": 1234567, "key": "user:1"}
    e = from_response({"id": 5, "ok": False, "error": {"code": "conflict", "message": "m",
                                                        "version": 0}})
    assert e.version == 0 and e.key is None                 # a conditional set: no key
    c = e.clone()
    assert c.version == 0 and c is not e
    e = from_response({"id": 6, "ok": False, "error": {"code": "bad_request", "message": "m"}})
    assert e.details == {} and not hasattr(e, "version")
    e = from_response({"id": 7, "ok": False, "error": {"code": "brand_new", "message": "m", "x": 1}})
    assert e.details == {"x": 1}
