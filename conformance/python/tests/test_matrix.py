"""The Python matrix host (write/verify) and the matrix driver on the python->python pair."""
import os
import subprocess
import sys

from conftest import PY_DIR
from litestash import LiteStash

HOST = [sys.executable, os.path.join(PY_DIR, "litestash_matrix.py")]
DRIVER = os.path.join(PY_DIR, "..", "matrix", "run_matrix.py")


def sh(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


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
