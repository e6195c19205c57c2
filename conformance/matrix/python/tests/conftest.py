"""Fixtures for the tests of the Python matrix host (litestash_matrix.py) and of the matrix driver
(conformance/matrix/run_matrix.py). The Python host library is imported from <repo>/hosts/python;
the engine is $LITESTASH_ENGINE, else `litestash-engine` on $PATH (missing: the tests fail)."""
import os
import sys

import pytest

HOST_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # conformance/matrix/python
MATRIX_DIR = os.path.dirname(HOST_DIR)                                   # conformance/matrix
ROOT = os.path.normpath(os.path.join(MATRIX_DIR, "..", ".."))
VECTORS = os.path.join(ROOT, "conformance", "vectors")
sys.path.insert(0, os.path.join(ROOT, "hosts", "python"))
sys.path.insert(1, HOST_DIR)

from litestash import EngineNotFound  # noqa: E402
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
