"""scenario.json run byte-exactly against one fresh engine; one test per step."""
import json
import os

import pytest

import run_scenario
from conftest import VECTORS

with open(os.path.join(VECTORS, "scenario.json"), encoding="utf-8") as _f:
    STEPS = json.load(_f)["steps"]


@pytest.fixture(scope="module")
def outcome(engine):
    return run_scenario.run_scenario(os.path.join(VECTORS, "scenario.json"), engine)


@pytest.mark.parametrize("index", range(len(STEPS)), ids=lambda i: "%03d" % i)
def test_step(outcome, index):
    results, _ = outcome
    if index >= len(results):
        pytest.fail("step not run: the engine stopped at step %d: %s"
                    % (len(results) - 1, results[-1].problems if results else "?"))
    r = results[index]
    assert r.ok, "%s\nrequest  %s\nresponse %s\n%s" % (r.describe, r.request_hex, r.response_hex,
                                                       "\n".join(r.problems))


def test_engine_exits_zero_after_scenario(outcome):
    _, status = outcome
    assert status == 0


def test_checker_detects_mismatch():
    import msgpack
    body = msgpack.packb({"id": 1, "ok": True, "found": True, "value": 5, "version": 9})
    assert run_scenario.check({"ok": True, "id": 1, "value_hex": "cc05"}, body)   # fixint != uint8
    assert not run_scenario.check({"ok": True, "id": 1, "value_hex": "05", "fields": {"found": True},
                                   "types": {"version": "uint"}}, body)
    assert run_scenario.check({"ok": True, "id": 1, "fields": {"found": 1}}, body)  # True is not 1
    assert run_scenario.check({"ok": False, "id": 1, "code": "bad_request"}, body)
