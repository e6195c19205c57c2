#!/usr/bin/python3
"""Python host for the cross-language matrix (conformance/matrix/run_matrix.py).

    litestash_matrix.py write  DATA_DIR [--dataset FILE]
    litestash_matrix.py verify DATA_DIR [--dataset FILE]

write:  stores every entry of conformance/vectors/dataset.json in a file-backed engine on DATA_DIR
        (16 shards). A value is encoded natively with msgpack when that gives exactly `value_hex`,
        else sent raw (`set_raw`), e.g. the float32 entry.
verify: reads every key back and checks (a) the raw MessagePack bytes equal `value_hex` and
        (b) the decoded Python value equals the neutral `json` description (strict types), and
        that the data dir holds no other keys. Prints `verify OK N keys`; exit 1 on mismatch.
The engine comes from $LITESTASH_ENGINE, else `litestash-engine` on $PATH. The Python host is
imported from <repo>/hosts/python (the source tree; nothing needs to be installed).
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "hosts", "python"))

import msgpack  # noqa: E402

from litestash import LiteStash, LiteStashError  # noqa: E402

DEFAULT_DATASET = os.path.join(ROOT, "conformance", "vectors", "dataset.json")


def to_python(node):
    """Neutral description -> Python value (f32 and f64 both become float)."""
    (tag, v), = node.items()
    if tag == "nil":
        return None
    if tag in ("bool", "int", "str"):
        return v
    if tag in ("f64", "f32"):
        return float(v)
    if tag == "bin_hex":
        return bytes.fromhex(v)
    if tag == "array":
        return [to_python(x) for x in v]
    if tag == "map":
        return {k: to_python(x) for k, x in v.items()}
    raise ValueError("unknown node tag %r" % tag)


def matches(got, node, path="$"):
    """Problems (list of str) comparing a decoded value with a neutral description, strictly."""
    (tag, want), = node.items()
    kinds = {"nil": type(None), "bool": bool, "str": str, "f64": float, "f32": float,
             "bin_hex": bytes, "array": list, "map": dict}
    if tag == "int":
        if not isinstance(got, int) or isinstance(got, bool):
            return ["%s: want int %r, got %r" % (path, want, got)]
        return [] if got == want else ["%s: want %r, got %r" % (path, want, got)]
    if not isinstance(got, kinds[tag]) or (tag != "bool" and isinstance(got, bool)):
        return ["%s: want %s, got %r (%s)" % (path, tag, got, type(got).__name__)]
    if tag == "array":
        if len(got) != len(want):
            return ["%s: want %d elements, got %d" % (path, len(want), len(got))]
        return [p for i, (g, w) in enumerate(zip(got, want)) for p in matches(g, w, "%s[%d]" % (path, i))]
    if tag == "map":
        if set(got) != set(want):
            return ["%s: want keys %s, got %s" % (path, sorted(want), sorted(got))]
        return [p for k in want for p in matches(got[k], want[k], "%s.%s" % (path, k))]
    expected = to_python(node)
    return [] if got == expected else ["%s: want %r, got %r" % (path, expected, got)]


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)["entries"]


def write(data_dir, entries):
    native = raw = 0
    with LiteStash(data_dir=data_dir) as db:
        for e in entries:
            value_bytes = bytes.fromhex(e["value_hex"])
            value = to_python(e["json"])
            if msgpack.packb(value, use_bin_type=True) == value_bytes:
                db.set(e["key"], value)
                native += 1
            else:
                db.set_raw(e["key"], value_bytes)
                raw += 1
        db.sync()
    print("write OK %d keys (%d encoded natively, %d sent raw)" % (len(entries), native, raw))
    return 0


def verify(data_dir, entries):
    problems = []
    with LiteStash(data_dir=data_dir) as db:
        for e in entries:
            key = e["key"]
            got_raw = db.get_raw(key)
            if got_raw is None:
                problems.append("%r: missing" % key)
                continue
            if got_raw.hex() != e["value_hex"]:
                problems.append("%r: raw bytes %s, want %s" % (key, got_raw.hex(), e["value_hex"]))
            found = db.get_with_version(key)
            if found is None:
                problems.append("%r: get says missing after get_raw found it" % key)
                continue
            problems += ["%r: %s" % (key, p) for p in matches(found[0], e["json"])]
        want_keys = sorted((e["key"] for e in entries), key=lambda k: k.encode("utf-8"))
        got_keys = list(db.scan_iter())
        if got_keys != want_keys:
            extra = sorted(set(got_keys) - set(want_keys))
            missing = sorted(set(want_keys) - set(got_keys))
            problems.append("scan: key set differs (extra %r, missing %r, order ok %s)"
                            % (extra, missing, sorted(got_keys, key=lambda k: k.encode()) == got_keys))
    if problems:
        for p in problems:
            print("MISMATCH " + p, file=sys.stderr)
        print("verify FAILED: %d problems over %d keys" % (len(problems), len(entries)), file=sys.stderr)
        return 1
    print("verify OK %d keys" % len(entries))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="litestash Python matrix host")
    ap.add_argument("mode", choices=["write", "verify"])
    ap.add_argument("data_dir")
    ap.add_argument("--dataset", default=DEFAULT_DATASET)
    args = ap.parse_args(argv)
    entries = load(args.dataset)
    try:
        return (write if args.mode == "write" else verify)(args.data_dir, entries)
    except LiteStashError as e:
        print("%s FAILED: %s" % (args.mode, e), file=sys.stderr)
        return 2
    except OSError as e:
        print("%s FAILED: cannot start the engine: %s" % (args.mode, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
