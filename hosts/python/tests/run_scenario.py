#!/usr/bin/python3
"""Run conformance/vectors/scenario.json against a fresh engine, byte-exactly.

Every step's `request` hex is sent as one frame body as is (never re-encoded) and the answer is
checked against `expect` as described in conformance/vectors/README.md; `value_hex` /
`values_hex` are compared on the response's raw bytes.

    /usr/bin/python3 hosts/python/tests/run_scenario.py [--engine PATH] [--scenario FILE] [-v]

(Part of the Python host's tests, see test_scenario.py; it imports the host from this source tree.)

Exit status 0 when every step passed and the engine exited 0 after stdin was closed.
"""
import argparse
import json
import os
import sys
import tempfile
from typing import Any, List, NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.dirname(HERE))  # hosts/python: the package under test

from litestash import rawmp  # noqa: E402
from litestash.errors import EngineExited, Timeout  # noqa: E402
from litestash.process import EngineProcess  # noqa: E402
from litestash.protocol import decode, find_engine  # noqa: E402

DEFAULT_SCENARIO = os.path.join(ROOT, "conformance", "vectors", "scenario.json")


class StepResult(NamedTuple):
    index: int
    describe: str
    request_hex: str
    response_hex: str
    problems: List[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def json_equal(got: Any, want: Any) -> bool:
    """Equality of a decoded MessagePack value and a plain JSON value, strict on types
    (True is not 1, 1 is not 1.0)."""
    if want is None:
        return got is None
    if isinstance(want, bool):
        return isinstance(got, bool) and got == want
    if isinstance(want, int):
        return isinstance(got, int) and not isinstance(got, bool) and got == want
    if isinstance(want, float):
        return isinstance(got, float) and got == want
    if isinstance(want, str):
        return isinstance(got, str) and got == want
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(
            json_equal(g, w) for g, w in zip(got, want))
    if isinstance(want, dict):
        return isinstance(got, dict) and got.keys() == want.keys() and all(
            json_equal(got[k], w) for k, w in want.items())
    raise TypeError("unexpected JSON value %r" % (want,))


def has_type(v: Any, t: str) -> bool:
    return {
        "uint": lambda: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "str": lambda: isinstance(v, str),
        "bool": lambda: isinstance(v, bool),
        "array": lambda: isinstance(v, list),
        "map": lambda: isinstance(v, dict),
        "nil": lambda: v is None,
    }[t]()


def check(expect: dict, body: bytes) -> List[str]:
    """Problems found comparing one response body with one `expect` object."""
    p = []
    try:
        resp = decode(body)
    except Exception as e:
        return ["response is not valid MessagePack: %r" % (e,)]
    if not isinstance(resp, dict):
        return ["response is not a map: %r" % (resp,)]
    if not json_equal(resp.get("ok"), expect["ok"]):
        p.append("ok: want %r, got %r" % (expect["ok"], resp.get("ok")))
    if "id" not in resp:
        p.append("response has no id field")
    elif not json_equal(resp["id"], expect["id"]):
        p.append("id: want %r, got %r" % (expect["id"], resp["id"]))
    if not expect["ok"]:
        err = resp.get("error")
        if not isinstance(err, dict):
            p.append("no error map in %r" % (resp,))
        else:
            if err.get("code") != expect.get("code"):
                p.append("error.code: want %r, got %r (message %r)"
                         % (expect.get("code"), err.get("code"), err.get("message")))
            if not isinstance(err.get("message"), str):
                p.append("error.message is not a str: %r" % (err.get("message"),))
        return p
    if resp.get("ok") is not True:
        p.append("failure instead of success: %r" % (resp.get("error"),))
        return p
    for name, want in expect.get("fields", {}).items():
        if name not in resp:
            p.append("field %r missing (want %r)" % (name, want))
        elif not json_equal(resp[name], want):
            p.append("field %r: want %r, got %r" % (name, want, resp[name]))
    for name, t in expect.get("types", {}).items():
        if name not in resp:
            p.append("field %r missing (want %s)" % (name, t))
        elif not has_type(resp[name], t):
            p.append("field %r: want type %s, got %r" % (name, t, resp[name]))
    for name in expect.get("absent", []):
        if name in resp:
            p.append("field %r must be absent, got %r" % (name, resp[name]))
    for name, n in expect.get("len", {}).items():
        if not isinstance(resp.get(name), list) or len(resp[name]) != n:
            p.append("field %r: want an array of %d, got %r" % (name, n, resp.get(name)))
    for name, items in expect.get("contains", {}).items():
        got = resp.get(name)
        missing = [x for x in items if not (isinstance(got, list) and any(json_equal(g, x) for g in got))]
        if missing:
            p.append("field %r lacks %r (got %r)" % (name, missing, got))
    try:
        spans = rawmp.map_spans(body)
    except rawmp.RawError as e:
        return p + ["cannot walk response bytes: %s" % e]
    if "value_hex" in expect:
        if "value" not in spans:
            p.append("field 'value' missing (want bytes %s)" % expect["value_hex"])
        else:
            s, e = spans["value"]
            if body[s:e].hex() != expect["value_hex"]:
                p.append("value bytes: want %s, got %s" % (expect["value_hex"], body[s:e].hex()))
    if "values_hex" in expect:
        if "values" not in spans:
            p.append("field 'values' missing")
        else:
            s, e = spans["values"]
            items = rawmp.array_spans(body, s, e)
            want = expect["values_hex"]
            if len(items) != len(want):
                p.append("values: want %d entries, got %d" % (len(want), len(items)))
            for i, ((vs, ve), w) in enumerate(zip(items, want)):
                got = body[vs:ve]
                if w is None and not rawmp.is_nil(body, vs, ve):
                    p.append("values[%d]: want nil, got %s" % (i, got.hex()))
                elif w is not None and got.hex() != w:
                    p.append("values[%d] bytes: want %s, got %s" % (i, w, got.hex()))
    for field, name in (("shard_keys", "keys"), ("shard_expiring", "expiring")):
        if field not in expect:
            continue
        shards = resp.get("shards")
        if not isinstance(shards, list) or len(shards) != len(expect[field]):
            p.append("stats shards: want %d maps, got %r" % (len(expect[field]), shards))
            continue
        by_index = {}
        for pos, m in enumerate(shards):
            if isinstance(m, dict):
                by_index[m.get("shard", pos)] = m
        for i, want in enumerate(expect[field]):
            got = by_index.get(i, {}).get(name)
            if not json_equal(got, want):
                p.append("stats shard %d %s: want %d, got %r" % (i, name, want, got))
    return p


def run_scenario(scenario_path: str = DEFAULT_SCENARIO, engine: str = None, data_dir: str = None,
                 timeout: float = 20.0):
    """Run every step; return (list of StepResult, engine exit status or None)."""
    with open(scenario_path, encoding="utf-8") as f:
        sc = json.load(f)
    own_dir = None
    if data_dir is None:
        own_dir = tempfile.TemporaryDirectory(prefix="litestash-scenario-")
        data_dir = own_dir.name
    argv = [find_engine(engine), "--data-dir", data_dir] + list(sc["engine_args"])
    proc = EngineProcess(argv)
    results: List[StepResult] = []
    status = None
    try:
        for i, step in enumerate(sc["steps"]):
            req = bytes.fromhex(step["request"])
            try:
                proc.send(req)
                body = proc.recv(timeout)
            except (EngineExited, Timeout) as e:
                results.append(StepResult(i, step["describe"], step["request"], "", [str(e)]))
                break
            results.append(StepResult(i, step["describe"], step["request"], body.hex(),
                                      check(step["expect"], body)))
        if proc.alive():
            status = proc.close(timeout)
        else:
            status = proc.proc.poll()
    finally:
        proc.kill()
        if own_dir is not None:
            own_dir.cleanup()
    return results, status


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", help="engine binary (default: $LITESTASH_ENGINE, "
                                     "else litestash-engine on $PATH)")
    ap.add_argument("--scenario", default=DEFAULT_SCENARIO)
    ap.add_argument("-v", "--verbose", action="store_true", help="print every step")
    args = ap.parse_args(argv)
    results, status = run_scenario(args.scenario, args.engine)
    failed = [r for r in results if not r.ok]
    for r in results:
        if args.verbose or not r.ok:
            print("%s step %d: %s" % ("ok  " if r.ok else "FAIL", r.index, r.describe))
        if not r.ok:
            print("     request  %s\n     response %s" % (r.request_hex, r.response_hex))
            for prob in r.problems:
                print("     - " + prob)
    with open(args.scenario, encoding="utf-8") as f:
        total = len(json.load(f)["steps"])
    not_run = total - len(results)
    print("%d passed, %d failed, %d not run; engine exit status %s"
          % (len(results) - len(failed), len(failed), not_run, status))
    return 0 if not failed and not not_run and status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
