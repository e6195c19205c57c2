"""The Python matrix host (write/verify), the data set it works on (dataset.json, streams.json,
history.json), and the matrix driver on the python->python pair."""
import json
import os
import subprocess
import sys

import msgpack

import litestash_matrix
from conftest import HOST_DIR, MATRIX_DIR, VECTORS
from litestash import LiteStash, shard_for
from litestash.rawmp import is_single_object

HOST = [sys.executable, os.path.join(HOST_DIR, "litestash_matrix.py")]
DRIVER = os.path.join(MATRIX_DIR, "run_matrix.py")
GEN_STREAMS = os.path.join(HOST_DIR, "gen_streams.py")
GEN_HISTORY = os.path.join(VECTORS, "gen_history.py")


def sh(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def load(name):
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        return json.load(f)


def test_write_then_verify(engine, data_dir):
    w = sh(HOST + ["write", data_dir])
    assert w.returncode == 0, w.stderr
    v = sh(HOST + ["verify", data_dir])
    assert v.returncode == 0, v.stderr
    n_keys = len(load("dataset.json")["entries"])
    streams = load("streams.json")["streams"]
    assert v.stdout.splitlines() == [
        "verify OK %d keys" % n_keys,
        "verify OK %d streams %d entries" % (len(streams), sum(s["length"] for s in streams)),
        history_line()]


def history_line():
    doc = load("history.json")
    return "verify OK %d histories %d txns" % (
        len(doc["keys"]), sum(1 for st in doc["steps"] if st["op"] == "txn"))


def test_verify_catches_stream_changes(engine, data_dir):
    """A re-encoded entry, an extra entry, a moved offset and an extra stream are all reported."""
    assert sh(HOST + ["write", data_dir]).returncode == 0
    with LiteStash(data_dir=data_dir, engine=engine) as db:
        db.xadd("st:one", [4, "four"])                # maxlen 1: entry 3 goes, 4 arrives
        db.xcommit("st:orders", "billing", 6)
        db.xadd("st:intruder", 1)
    v = sh(HOST + ["verify", data_dir])
    assert v.returncode != 0
    for needle in ("st:one", "last_id", "billing", "st:intruder"):
        assert needle in v.stderr, needle
    assert "verify OK" not in v.stdout


def test_verify_catches_reencoded_stream_value(engine, data_dir, tmp_path):
    """Same decoded values, other bytes (float32 written as float64): verify names the entry."""
    doc = load("streams.json")
    for st in doc["streams"]:
        for e in st["entries"]:
            if e["kind"] == "float32":
                e["value_hex"] = "cb3ff8000000000000"  # 1.5 as float64
    changed = tmp_path / "streams64.json"
    changed.write_text(json.dumps(doc), encoding="utf-8")
    assert sh(HOST + ["write", data_dir, "--streams", str(changed)]).returncode == 0
    v = sh(HOST + ["verify", data_dir])
    assert v.returncode != 0 and "ds:map:user" in v.stderr and "raw bytes cb3ff8" in v.stderr


def test_verify_catches_reencoded_value(engine, data_dir):
    assert sh(HOST + ["write", data_dir]).returncode == 0
    with LiteStash(data_dir=data_dir, engine=engine) as db:
        db.set("ds:f32", 1.5)                      # float64 now, same decoded number
    v = sh(HOST + ["verify", data_dir])
    assert v.returncode != 0 and "ds:f32" in v.stderr and "raw bytes" in v.stderr


def test_verify_catches_extra_and_missing_keys(engine, data_dir):
    assert sh(HOST + ["write", data_dir]).returncode == 0
    with LiteStash(data_dir=data_dir, engine=engine) as db:
        db.set("intruder", 1)
        db.delete("ds:nil")
    v = sh(HOST + ["verify", data_dir])
    assert v.returncode != 0 and "intruder" in v.stderr and "ds:nil" in v.stderr


def test_driver_python_pair(engine):
    p = sh([sys.executable, DRIVER, "--hosts", "python"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip().splitlines()[-1] == "1 passed, 0 failed"


def test_driver_reports_missing_host(engine):
    ghost = ["--host", "ghost=conformance/ghost/matrix.sh", "--hosts", "python,ghost"]
    p = sh([sys.executable, DRIVER] + ghost)
    assert p.returncode != 0 and "ghost" in p.stdout
    p = sh([sys.executable, DRIVER, "--allow-missing"] + ghost)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip().splitlines()[-1] == "1 passed, 0 failed"


def test_dataset_is_self_consistent():
    entries = load("dataset.json")["entries"]
    assert 18 <= len(entries) <= 30
    kinds = {e["kind"] for e in entries}
    assert kinds >= {"map", "float_vector", "nested_array", "binary", "unicode", "int", "float32",
                     "bool", "nil"}
    for e in entries:
        raw = bytes.fromhex(e["value_hex"])
        assert is_single_object(raw)
        decoded = msgpack.unpackb(raw, raw=False)
        assert litestash_matrix.matches(decoded, e["json"]) == [], e["key"]
    f32 = [e for e in entries if e["kind"] == "float32"]
    assert f32 and f32[0]["value_hex"].startswith("ca")
    assert any(e["value_hex"] == "cf" + "ff" * 8 for e in entries)   # uint64 max


def test_streams_vectors_are_self_consistent():
    doc = load("streams.json")
    assert doc["format"] == "litestash-streams/1"
    streams = doc["streams"]
    names = [st["stream"] for st in streams]
    assert len(set(names)) == len(names) >= 3
    assert any(not n.isascii() for n in names)
    assert set(names) & {e["key"] for e in load("dataset.json")["entries"]}  # shared name with a key
    with open(os.path.join(VECTORS, "streams.msgpack"), "rb") as f:
        assert msgpack.unpackb(f.read(), raw=False, strict_map_key=False) == doc
    kinds = set()
    for st in streams:
        ids = [e["id"] for e in st["entries"]]
        assert ids == list(range(1, len(ids) + 1))
        assert st["last_id"] == len(ids)
        keep = st["maxlen"] if st["maxlen"] is not None else len(ids)
        assert st["length"] == min(keep, len(ids)) == st["last_id"] - st["first_id"] + 1
        assert all(0 <= v <= st["last_id"] for v in st["groups"].values())
        assert litestash_matrix.NO_GROUP not in st["groups"]
        assert st["max_age_ms"] is None or st["max_age_ms"] >= 24 * 3600 * 1000
        for e in st["entries"]:
            raw = bytes.fromhex(e["value_hex"])
            assert is_single_object(raw)
            assert litestash_matrix.matches(msgpack.unpackb(raw, raw=False), e["json"]) == []
            kinds.add(e["kind"])
    assert {"map", "float32", "binary", "unicode", "nil", "int"} <= kinds
    assert any(st["first_id"] > 1 for st in streams)                       # retention trimmed
    assert any(v < st["first_id"] - 1 for st in streams for v in st["groups"].values())


def test_streams_vectors_are_fresh():
    p = sh([sys.executable, GEN_STREAMS, "--check"])
    assert p.returncode == 0, p.stderr


def test_driver_requires_the_streams_line(engine, tmp_path):
    """A reader that checks keys only (prints just `verify OK N keys`) fails its pairs."""
    n_keys = len(load("dataset.json")["entries"])
    streams = load("streams.json")["streams"]
    fake = tmp_path / "keys_only.py"
    fake.write_text("import sys\nif sys.argv[1] == 'verify':\n    print('verify OK %d keys')\n" % n_keys)
    p = sh([sys.executable, DRIVER, "--hosts", "python",
            "--host", "keysonly=%s %s" % (sys.executable, fake)])
    assert p.returncode != 0
    want = "verify OK %d streams %d entries" % (len(streams), sum(s["length"] for s in streams))
    assert ("python -> keysonly FAIL (verify by keysonly did not print '%s' and '%s')"
            % (want, history_line())) in p.stdout
    assert p.stdout.strip().splitlines()[-1] == "1 passed, 3 failed"


def test_driver_requires_the_history_line(engine, tmp_path):
    """A reader that prints the keys and streams lines but not the history line fails."""
    n_keys = len(load("dataset.json")["entries"])
    streams = load("streams.json")["streams"]
    fake = tmp_path / "no_history.py"
    fake.write_text("import sys\nif sys.argv[1] == 'verify':\n    print('verify OK %d keys')\n"
                    "    print('verify OK %d streams %d entries')\n"
                    % (n_keys, len(streams), sum(s["length"] for s in streams)))
    p = sh([sys.executable, DRIVER, "--hosts", "python",
            "--host", "nohist=%s %s" % (sys.executable, fake)])
    assert p.returncode != 0
    assert ("python -> nohist FAIL (verify by nohist did not print '%s')" % history_line()
            in p.stdout)


def test_history_vectors_are_self_consistent():
    doc = load("history.json")
    assert doc["format"] == "litestash-history/1" and doc["keep_versions"] == 10
    with open(os.path.join(VECTORS, "history.msgpack"), "rb") as f:
        assert msgpack.unpackb(f.read(), raw=False, strict_map_key=False) == doc
    kinds, values = set(), []
    for k in doc["keys"]:
        assert k["live"] == bool(k["versions"] and not k["versions"][0]["deleted"])
        assert len(k["versions"]) <= doc["keep_versions"] + 1
        for w in k["versions"]:
            if not w["deleted"]:
                raw = bytes.fromhex(w["value_hex"])
                assert is_single_object(raw)
                assert litestash_matrix.matches(msgpack.unpackb(raw, raw=False), w["json"]) == []
                kinds.add(w["kind"])
    assert {"int", "str", "binary", "float32", "map"} <= kinds
    assert any(w["deleted"] for k in doc["keys"] for w in k["versions"])           # tombstones
    assert any(k["live"] and any(w["deleted"] for w in k["versions"]) for k in doc["keys"])
    assert any(len(k["versions"]) == doc["keep_versions"] + 1 for k in doc["keys"])  # trimmed
    assert any(not k["versions"] for k in doc["keys"])             # the failed txn's new key
    txns = [st for st in doc["steps"] if st["op"] == "txn"]
    assert [st["expect"] for st in txns].count("conflict") == 1
    for st in txns:
        assert len(st["shards"]) >= 3
        assert len({shard_for(o["key"], 16) for o in st["ops"] if "key" in o} |
                   {shard_for(c["key"], 16) for c in st["checks"]}) >= 3
        assert any(o["op"] == "xadd" for o in st["ops"])
    singles = [st for st in doc["steps"] if st["op"] != "txn"]
    assert {st["if_version"] for st in singles} >= {None, "current", "absent", "stale"}
    assert any(st["expect"] == "conflict" for st in singles)


def test_history_vectors_are_fresh():
    p = sh([sys.executable, GEN_HISTORY, "--check"])
    assert p.returncode == 0, p.stderr


def test_verify_catches_history_changes(engine, data_dir):
    """An extra version, a lost tombstone, the failed txn's key present, a stream entry
    appended: each is named."""
    assert sh(HOST + ["write", data_dir]).returncode == 0
    with LiteStash(data_dir=data_dir, engine=engine) as db:
        db.set("h:counter", -5)            # same value, one version more
        db.set("h:hold", 1)                # live again (was deleted by a txn)
        db.set("h:acct:new", "must not exist")
        db.xadd("h:events", "must not be appended")
    v = sh(HOST + ["verify", data_dir])
    assert v.returncode != 0
    for needle in ("'h:counter'", "'h:hold'", "'h:acct:new'", "'stale-transfer'", "'h:events'"):
        assert needle in v.stderr, needle
    assert "histories" not in v.stdout


def test_verify_checks_the_recorded_depth(engine, data_dir):
    assert sh(HOST + ["write", data_dir]).returncode == 0
    with LiteStash(data_dir=data_dir, engine=engine, keep_versions=3):
        pass                                   # records depth 3 in the data dir
    v = sh(HOST + ["verify", data_dir])
    assert v.returncode != 0 and "keep_versions = 3" in v.stderr
