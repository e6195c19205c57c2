"""Shared fixtures: the real engine binary, fresh temp data dirs, clients that always clean up.

The package is imported from this source tree (hosts/python is put first on sys.path here, so an
installed copy never shadows the code under test). The engine is found as the library finds it:
$LITESTASH_ENGINE, else `litestash-engine` on $PATH. Tests that need it fail (not skip) with a
clear message when it is missing, so a green run always means the engine was tested.
"""
import os
import sys

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
PY_DIR = os.path.dirname(TESTS_DIR)                       # hosts/python
ROOT = os.path.normpath(os.path.join(PY_DIR, "..", ".."))
VECTORS = os.path.join(ROOT, "conformance", "vectors")
sys.path.insert(0, PY_DIR)
sys.path.insert(1, TESTS_DIR)                             # run_scenario

from litestash import EngineNotFound, LiteStash  # noqa: E402
from litestash.protocol import find_engine  # noqa: E402


@pytest.fixture(scope="session")
def engine():
    try:
        return find_engine()
    except EngineNotFound as e:
        pytest.fail("%s (build it or set LITESTASH_ENGINE)" % e)


@pytest.fixture
def data_dir(tmp_path):
    return str(tmp_path / "data")


@pytest.fixture
def db(engine, data_dir):
    client = LiteStash(data_dir=data_dir, engine=engine, timeout=30)
    try:
        yield client
    finally:
        if not client._closed:
            try:
                client.close()
            finally:
                client.process.kill()
