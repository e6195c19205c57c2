"""Shared fixtures: the real engine binary, fresh temp data dirs, clients that always clean up.

The engine is $LITESTASH_ENGINE or <repo>/build/litestash-engine. Tests that need it fail (not
skip) with a clear message when it is missing, so a green run always means the engine was tested.
"""
import os
import sys

import pytest

PY_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PY_DIR)

from litestash import LiteStash  # noqa: E402
from litestash.protocol import find_engine  # noqa: E402

VECTORS = os.path.normpath(os.path.join(PY_DIR, "..", "vectors"))


@pytest.fixture(scope="session")
def engine():
    path = find_engine()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("engine binary not found at %s (build it or set LITESTASH_ENGINE)" % path)
    return path


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
