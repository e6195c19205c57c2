"""The Python matrix host (write/verify), the data set it works on, and the matrix driver on the
python->python pair."""
import json
import os
import subprocess
import sys

import msgpack

import litestash_matrix
from conftest import HOST_DIR, MATRIX_DIR, VECTORS
from litestash import LiteStash
from litestash.rawmp import is_single_object

HOST = [sys.executable, os.path.join(HOST_DIR, "litestash_matrix.py")]
DRIVER = os.path.join(MATRIX_DIR, "run_matrix.py")


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
    assert v.stdout.strip().startswith("verify OK ") and v.stdout.strip().endswith(" keys")


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
