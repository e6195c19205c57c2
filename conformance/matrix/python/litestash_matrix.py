#!/usr/bin/python3
"""Python host for the cross-language matrix (conformance/matrix/run_matrix.py).

    litestash_matrix.py write  DATA_DIR [--dataset FILE] [--streams FILE] [--history FILE]
    litestash_matrix.py verify DATA_DIR [--dataset FILE] [--streams FILE] [--history FILE]

write:  stores every entry of conformance/vectors/dataset.json in a file-backed engine on DATA_DIR
        (16 shards). A value is encoded natively with msgpack when that gives exactly `value_hex`,
        else sent raw (`set_raw`), e.g. the float32 entry. Then appends every stream of
        conformance/vectors/streams.json (xadd, same native-or-raw rule, with its maxlen /
        max_age_ms), checks each entry id, and commits its groups' offsets. Then runs the steps
        of conformance/vectors/history.json (the engine was started with its --keep-versions):
        set/delete (with if_version), and transactions through the builder (checks, set,
        delete, xadd), checking each answer (conflicts included).
verify: reads every key back and checks (a) the raw MessagePack bytes equal `value_hex` and
        (b) the decoded Python value equals the neutral `json` description (strict types), and
        that the data dir holds no other keys. Then checks every stream (xstreams, xinfo,
        xrange, xget, xoffset: ids, ts, exact bytes, decoded values, retention, offsets; format
        and rules in conformance/vectors/README.md). Prints `verify OK N keys` and
        `verify OK S streams M entries`; exit 1 on mismatch.
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

from litestash import Conflict, LiteStash, LiteStashError  # noqa: E402

DEFAULT_DATASET = os.path.join(ROOT, "conformance", "vectors", "dataset.json")
DEFAULT_STREAMS = os.path.join(ROOT, "conformance", "vectors", "streams.json")
DEFAULT_HISTORY = os.path.join(ROOT, "conformance", "vectors", "history.json")
NO_GROUP = "nobody"   # a group in no stream of the file: its xoffset must be nil


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


def load_streams(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("format") != "litestash-streams/1":
        raise ValueError("%s: unknown format %r" % (path, doc.get("format")))
    return doc["streams"]


def load_history(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("format") != "litestash-history/1":
        raise ValueError("%s: unknown format %r" % (path, doc.get("format")))
    return doc


def history_counts(doc):
    """(H, T): keys whose history is checked, transactions."""
    return len(doc["keys"]), sum(1 for st in doc["steps"] if st["op"] == "txn")


def native_or_raw(v):
    """(True, value) when msgpack encodes the `json` description to exactly `value_hex`, else
    (False, bytes)."""
    value_bytes = bytes.fromhex(v["value_hex"])
    value = to_python(v["json"])
    if msgpack.packb(value, use_bin_type=True) == value_bytes:
        return True, value
    return False, value_bytes


def utf8_order(names):
    return sorted(names, key=lambda k: k.encode("utf-8"))


def write(data_dir, entries, streams, history):
    native = raw = 0
    with LiteStash(data_dir=data_dir, keep_versions=history["keep_versions"]) as db:
        for e in entries:
            value_bytes = bytes.fromhex(e["value_hex"])
            value = to_python(e["json"])
            if msgpack.packb(value, use_bin_type=True) == value_bytes:
                db.set(e["key"], value)
                native += 1
            else:
                db.set_raw(e["key"], value_bytes)
                raw += 1
        s_native, s_raw, appended = write_streams(db, streams)
        n_steps, n_conflicts = write_history(db, history)
        db.sync()
    print("write OK %d keys (%d encoded natively, %d sent raw)" % (len(entries), native, raw))
    print("write OK %d streams %d entries appended (%d encoded natively, %d sent raw)"
          % (len(streams), appended, s_native, s_raw))
    print("write OK %d history steps (%d conflicts as expected), %d txns"
          % (n_steps, n_conflicts, history_counts(history)[1]))
    return 0


def write_history(db, doc):
    """Run every step of history.json in order through the host API, checking each answer.
    Versions are tracked as answered (a delete counts as 0) to resolve "current", "absent"
    and "stale" (the one answered before the current one). Returns (steps, conflicts)."""
    answered = {}

    def current(key):
        seen = answered.get(key, [])
        return seen[-1] if seen else 0

    def resolve(key, want):
        if want == "absent":
            return 0
        if want == "current":
            return current(key)
        if want == "stale":
            return answered[key][-2]
        raise ValueError("unknown version reference %r" % (want,))

    def fail(where, msg):
        raise LiteStashError("history %s: %s" % (where, msg), code="matrix")

    conflicts = 0
    for i, st in enumerate(doc["steps"]):
        where = "step %d (%s %r)" % (i + 1, st["op"], st.get("key", st.get("name")))
        try:
            if st["op"] == "txn":
                with db.transaction() as tx:
                    for c in st["checks"]:
                        tx.check(c["key"], resolve(c["key"], c["version"]))
                    for op in st["ops"]:
                        if op["op"] == "set":
                            native, v = native_or_raw(op)
                            (tx.set if native else tx.set_raw)(op["key"], v)
                        elif op["op"] == "delete":
                            tx.delete(op["key"])
                        else:
                            native, v = native_or_raw(op)
                            (tx.xadd if native else tx.xadd_raw)(op["stream"], v)
                results = tx.results
            else:
                iv = None if st["if_version"] is None else resolve(st["key"], st["if_version"])
                if st["op"] == "set":
                    native, v = native_or_raw(st)
                    result = (db.set if native else db.set_raw)(st["key"], v, if_version=iv)
                else:
                    result = db.delete(st["key"], if_version=iv)
        except Conflict as e:
            if st["expect"] != "conflict":
                fail(where, "conflict (%s), want ok" % e)
            want_key = st["conflict_key"] if st["op"] == "txn" else st["key"]
            if e.key != want_key or e.version != current(want_key):
                fail(where, "conflict on key %r at version %r, want key %r at version %r"
                     % (e.key, e.version, want_key, current(want_key)))
            conflicts += 1
            continue
        if st["expect"] == "conflict":
            fail(where, "answered ok, want conflict")
        if st["op"] == "set":
            if not isinstance(result, int) or result <= current(st["key"]):
                fail(where, "version %r does not follow %r" % (result, current(st["key"])))
            answered.setdefault(st["key"], []).append(result)
        elif st["op"] == "delete":
            if result is not st["deleted"]:
                fail(where, "deleted %r, want %r" % (result, st["deleted"]))
            answered.setdefault(st["key"], []).append(0)
        else:
            if len(results) != len(st["ops"]):
                fail(where, "%d results for %d ops" % (len(results), len(st["ops"])))
            for op, r in zip(st["ops"], results):
                if op["op"] == "set":
                    if not isinstance(r, int) or isinstance(r, bool) or r <= current(op["key"]):
                        fail(where, "set %r: version %r" % (op["key"], r))
                    answered.setdefault(op["key"], []).append(r)
                elif op["op"] == "delete":
                    if r is not op["deleted"]:
                        fail(where, "delete %r: deleted %r, want %r" % (op["key"], r, op["deleted"]))
                    answered.setdefault(op["key"], []).append(0)
                elif r != op["entry_id"] or isinstance(r, bool):
                    fail(where, "xadd %r: entry id %r, want %r" % (op["stream"], r, op["entry_id"]))
    return len(doc["steps"]), conflicts


def verify_history(db, doc):
    """Problems (list of str) found checking history.json: the recorded depth, every key's
    versions (values, tombstones, order), get at each version, the txn streams, the txns."""
    problems = []
    if db.keep_versions != doc["keep_versions"]:
        problems.append("hello keep_versions = %r, want %r (the data dir records the writer's)"
                        % (db.keep_versions, doc["keep_versions"]))
    found = {}      # key -> [(deleted, bytes or None)], newest first
    for k in doc["keys"]:
        key, want = k["key"], k["versions"]
        p = []
        got = list(db.versions_iter(key, batch=4))       # small pages: paging is checked too
        vs = [kv.version for kv in got]
        if any(not isinstance(v, int) or v <= 0 for v in vs) or \
                any(a <= b for a, b in zip(vs, vs[1:])):
            p.append("versions %r do not strictly decrease (newest first)" % vs)
        if [kv.deleted for kv in got] != [w["deleted"] for w in want]:
            p.append("versions: tombstone flags %r, want %r"
                     % ([kv.deleted for kv in got], [w["deleted"] for w in want]))
        seen = []
        for n, kv in enumerate(got):
            raw = db.get_raw(key, version=kv.version)
            seen.append((kv.deleted, raw))
            if n >= len(want):
                continue        # more versions than expected: reported above
            w = want[n]
            if w["deleted"]:
                if raw is not None:
                    p.append("version #%d (%d) is a tombstone, but get found %s"
                             % (n, kv.version, raw.hex()))
                continue
            if raw is None:
                p.append("get version #%d (%d): not found" % (n, kv.version))
            elif raw.hex() != w["value_hex"]:
                p.append("get version #%d (%d): raw bytes %s, want %s"
                         % (n, kv.version, raw.hex(), w["value_hex"]))
            else:
                p += ["version #%d: %s" % (n, x)
                      for x in matches(db.get(key, version=kv.version), w["json"])]
        found[key] = seen
        cur = db.get_with_version(key)
        if k["live"]:
            if cur is None:
                p.append("get: not found, want the newest version")
            elif vs and (cur[1] != vs[0] or db.get_raw(key).hex() != want[0]["value_hex"]):
                p.append("get: version %r, want %r with bytes %s" % (cur[1], vs[0], want[0]["value_hex"]))
        elif cur is not None:
            p.append("get: found version %r, want absent" % cur[1])
        problems += ["history %r: %s" % (key, x) for x in p]
    entries = {}
    for hs in doc["streams"]:
        name = hs["stream"]
        got = list(db.xrange_iter(name, batch=3, raw=True))
        entries[name] = {e.id: e.value for e in got}
        want_ids = [e["id"] for e in hs["entries"]]
        if [e.id for e in got] != want_ids:
            problems.append("history stream %r: ids %r, want %r" % (name, [e.id for e in got], want_ids))
        for g, w in zip(got, hs["entries"]):
            if g.value.hex() != w["value_hex"]:
                problems.append("history stream %r entry %d: raw bytes %s, want %s"
                                % (name, w["id"], g.value.hex(), w["value_hex"]))
    for st in doc["steps"]:
        if st["op"] != "txn":
            continue
        p = []
        for op in st["ops"]:
            if op["op"] == "set":
                values = [b.hex() for d, b in found.get(op["key"], []) if not d and b is not None]
                if (op["value_hex"] in values) != (st["expect"] == "ok"):
                    p.append("set %r: value %s %s" % (op["key"], op["value_hex"],
                             "missing" if st["expect"] == "ok" else "present, the txn failed"))
            elif op["op"] == "delete" and st["expect"] == "ok" and op["deleted"]:
                if not any(d for d, _ in found.get(op["key"], [])):
                    p.append("delete %r: no tombstone" % op["key"])
            elif op["op"] == "xadd":
                stored = entries.get(op["stream"], {})
                if st["expect"] == "ok" and (stored.get(op["entry_id"]) or b"").hex() != op["value_hex"]:
                    p.append("xadd %r: entry %r missing" % (op["stream"], op["entry_id"]))
                if st["expect"] != "ok" and op["value_hex"] in [b.hex() for b in stored.values()]:
                    p.append("xadd %r: value %s appended, the txn failed" % (op["stream"], op["value_hex"]))
        problems += ["txn %r: %s" % (st["name"], x) for x in p]
    return problems


def write_streams(db, streams):
    """Append every entry in order (native when msgpack gives exactly value_hex, else raw), with
    the stream's retention on every xadd, then commit the groups. Returns (native, raw, total)."""
    native = raw = 0
    for st in streams:
        name = st["stream"]
        for e in st["entries"]:
            value_bytes = bytes.fromhex(e["value_hex"])
            value = to_python(e["json"])
            if msgpack.packb(value, use_bin_type=True) == value_bytes:
                entry_id, _ = db.xadd(name, value, st["maxlen"], st["max_age_ms"])
                native += 1
            else:
                entry_id, _ = db.xadd_raw(name, value_bytes, st["maxlen"], st["max_age_ms"])
                raw += 1
            if entry_id != e["id"]:
                raise LiteStashError("stream %r: xadd answered entry_id %d, want %d (was the "
                                     "data dir not fresh?)" % (name, entry_id, e["id"]), code="matrix")
        for group, entry_id in st["groups"].items():
            db.xcommit(name, group, entry_id)
    return native, raw, native + raw


def verify_streams(db, streams, other_names=()):
    """Problems (list of str) found checking every stream of the file; see the README.
    `other_names`: streams of other files (history.json's) that xstreams lists too."""
    problems = []
    want_names = utf8_order([st["stream"] for st in streams] + list(other_names))
    got_names = list(db.xstreams_iter(batch=2))      # small pages: paging is checked too
    if got_names != want_names:
        problems.append("xstreams: %r, want %r" % (got_names, want_names))
    for st in streams:
        name = st["stream"]
        p = ["stream %r: %s" % (name, x) for x in verify_stream(db, st)]
        problems += p
    return problems


def verify_stream(db, st):
    problems = []
    name, first, last = st["stream"], st["first_id"], st["last_id"]
    live = [e for e in st["entries"] if e["id"] >= first]
    info = db.xinfo(name)
    for field in ("length", "first_id", "last_id", "maxlen", "max_age_ms"):
        got = getattr(info, field)
        if got != st[field] or isinstance(got, bool):
            problems.append("xinfo %s = %r, want %r" % (field, got, st[field]))
    if info.exists is not True:
        problems.append("xinfo exists = %r" % (info.exists,))
    if info.groups != st["groups"]:
        problems.append("xinfo groups = %r, want %r" % (info.groups, st["groups"]))
    # xrange, paged by 3 with `after`; raw bytes and decoded values.
    raw_entries = list(db.xrange_iter(name, batch=3, raw=True))
    got_ids = [e.id for e in raw_entries]
    if got_ids != [e["id"] for e in live]:
        problems.append("xrange ids %r, want %r" % (got_ids, [e["id"] for e in live]))
    decoded = {e.id: e for e in db.xrange_iter(name, batch=3)}
    ts_by_id = {}
    prev_ts = 0
    for got, want in zip(raw_entries, live):
        where = "entry %d" % want["id"]
        if got.value.hex() != want["value_hex"]:
            problems.append("%s: raw bytes %s, want %s" % (where, got.value.hex(), want["value_hex"]))
        dec = decoded.get(got.id)
        if dec is None:
            problems.append("%s: missing from decoded xrange" % where)
        else:
            problems += ["%s: %s" % (where, x) for x in matches(dec.value, want["json"])]
            if dec.ts != got.ts:
                problems.append("%s: ts %r in one xrange, %r in another" % (where, got.ts, dec.ts))
        if not isinstance(got.ts, int) or got.ts <= prev_ts:
            problems.append("%s: ts %r does not increase (previous %r)" % (where, got.ts, prev_ts))
        prev_ts = got.ts if isinstance(got.ts, int) else prev_ts
        ts_by_id[got.id] = got.ts
    if raw_entries:
        if info.first_ts != raw_entries[0].ts or info.last_ts != raw_entries[-1].ts:
            problems.append("xinfo first_ts/last_ts %r/%r, entries' ts %r/%r"
                            % (info.first_ts, info.last_ts, raw_entries[0].ts, raw_entries[-1].ts))
    # xget of 1..last_id: trimmed ids absent, live ids byte-exact with the same ts.
    ids = list(range(1, last + 1))
    got_raw = db.xget_entries(name, ids, raw=True)
    by_id = {e["id"]: e for e in st["entries"]}
    for i, got in zip(ids, got_raw):
        if i < first:
            if got is not None:
                problems.append("xget %d: found, but it should have been trimmed" % i)
        elif got is None:
            problems.append("xget %d: not found" % i)
        else:
            if got.value.hex() != by_id[i]["value_hex"]:
                problems.append("xget %d: raw bytes %s, want %s" % (i, got.value.hex(), by_id[i]["value_hex"]))
            if got.ts != ts_by_id.get(i):
                problems.append("xget %d: ts %r, xrange said %r" % (i, got.ts, ts_by_id.get(i)))
    # offsets
    for group, entry_id in st["groups"].items():
        got = db.xoffset(name, group)
        if got != entry_id:
            problems.append("xoffset %r = %r, want %r" % (group, got, entry_id))
    got = db.xoffset(name, NO_GROUP)
    if got is not None:
        problems.append("xoffset %r = %r, want nil" % (NO_GROUP, got))
    return problems


def verify(data_dir, entries, streams, history):
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
        want_keys = sorted([e["key"] for e in entries] +
                           [k["key"] for k in history["keys"] if k["live"]],
                           key=lambda k: k.encode("utf-8"))
        got_keys = list(db.scan_iter())
        if got_keys != want_keys:
            extra = sorted(set(got_keys) - set(want_keys))
            missing = sorted(set(want_keys) - set(got_keys))
            problems.append("scan: key set differs (extra %r, missing %r, order ok %s)"
                            % (extra, missing, sorted(got_keys, key=lambda k: k.encode()) == got_keys))
        problems += verify_streams(db, streams, [hs["stream"] for hs in history["streams"]])
        problems += verify_history(db, history)
    n_live = sum(st["length"] for st in streams)
    n_hist, n_txns = history_counts(history)
    if problems:
        for p in problems:
            print("MISMATCH " + p, file=sys.stderr)
        print("verify FAILED: %d problems over %d keys, %d streams"
              % (len(problems), len(entries), len(streams)), file=sys.stderr)
        return 1
    print("verify OK %d keys" % len(entries))
    print("verify OK %d streams %d entries" % (len(streams), n_live))
    print("verify OK %d histories %d txns" % (n_hist, n_txns))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="litestash Python matrix host")
    ap.add_argument("mode", choices=["write", "verify"])
    ap.add_argument("data_dir")
    ap.add_argument("--dataset", default=DEFAULT_DATASET)
    ap.add_argument("--streams", default=DEFAULT_STREAMS)
    ap.add_argument("--history", default=DEFAULT_HISTORY)
    args = ap.parse_args(argv)
    entries = load(args.dataset)
    streams = load_streams(args.streams)
    history = load_history(args.history)
    try:
        return (write if args.mode == "write" else verify)(args.data_dir, entries, streams,
                                                           history)
    except LiteStashError as e:
        print("%s FAILED: %s" % (args.mode, e), file=sys.stderr)
        return 2
    except OSError as e:
        print("%s FAILED: cannot start the engine: %s" % (args.mode, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
