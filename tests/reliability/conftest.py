"""pytest setup for tests/reliability: makes conformance/blackbox's `engine_proc` and this
directory's `reliability_common` importable, and prints which engine binary and mode run.

Short (default) run, from the repository root:
    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/reliability
Long run: LITESTASH_LONG=1 with the same command (see README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "conformance" / "blackbox"))
pytest.register_assert_rewrite("engine_proc")

from engine_proc import engine_path  # noqa: E402
from reliability_common import long_mode  # noqa: E402


def pytest_report_header(config):
    return (f"litestash engine binary: {engine_path()}; "
            f"reliability mode: {'long' if long_mode() else 'short'}")
