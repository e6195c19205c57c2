#!/usr/bin/python3
"""Generate conformance/vectors/history.json and its twin history.msgpack: the history and
transaction part of the cross-language data set (format: README.md, "history.json").

The steps are simulated here (keep_versions depth, tombstones, conditional writes, txn checks)
to compute what a reader must find afterwards; versions are symbolic in the simulation (only
their order and equality matter: real ones differ from run to run). Reuses gen_vectors.py's
hand-written MessagePack encoder (float32, uint64 for a small number spelled out byte for byte).

Run:  /usr/bin/python3 conformance/vectors/gen_history.py           (deterministic; rewrites)
      /usr/bin/python3 conformance/vectors/gen_history.py --check   (exit 1 if stale)
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gen_vectors as gv  # noqa: E402

FORMAT = "litestash-history/1"
KEEP_VERSIONS = 10
SHARDS = 16


def val(kind, value=None, raw=None, desc=None):
    """A value: kind, exact bytes (`raw`: a gv.Raw) and neutral description."""
    vb = raw.data if raw is not None else gv.pack(value)
    return {"kind": kind, "value_hex": vb.hex(), "json": desc if desc is not None else gv.J(value)}


class Sim:
    """Engine model: per key the current value (None: absent) and the kept history, newest
    first, at most KEEP_VERSIONS entries (a tombstone is {"deleted": True})."""

    def __init__(self):
        self.clock = 0
        self.current = {}      # key -> (version, value dict) or None
        self.history = {}      # key -> [(version, {"deleted": bool, ...})] newest first
        self.answered = {}     # key -> versions the writer saw answered (0 for deletes)
        self.streams = {}      # stream -> [entry]
        self.steps = []
        self.touched = []      # keys in first-touched order

    def _touch(self, key):
        if key not in self.touched:
            self.touched.append(key)
            self.history[key] = []
            self.current[key] = None

    def _version_of(self, key):
        cur = self.current.get(key)
        return cur[0] if cur else 0

    def _resolve(self, key, want):
        """The symbolic version a writer sends for `want` ("current", "absent", "stale")."""
        seen = self.answered.get(key, [])
        if want == "absent":
            return 0
        if want == "current":
            return seen[-1] if seen else 0
        if want == "stale":
            assert len(seen) >= 2 and seen[-2] != 0 and seen[-2] != seen[-1], key
            return seen[-2]
        raise ValueError(want)

    def _tick(self):
        self.clock += 1
        return self.clock

    def _keep(self, key, entry):
        self.history[key].insert(0, entry)
        del self.history[key][KEEP_VERSIONS:]

    def _set(self, key, v):
        cur = self.current[key]
        if cur:
            self._keep(key, (cur[0], dict(cur[1], deleted=False)))
        ver = self._tick()
        self.current[key] = (ver, v)
        self.answered.setdefault(key, []).append(ver)
        return ver

    def _delete(self, key):
        cur = self.current[key]
        self.answered.setdefault(key, []).append(0)
        if not cur:
            return False
        self._keep(key, (cur[0], dict(cur[1], deleted=False)))
        self._keep(key, (self._tick(), {"deleted": True}))
        self.current[key] = None
        return True

    # --- steps ---------------------------------------------------------------------------
    def set(self, key, v, if_version=None):
        self._touch(key)
        ok = if_version is None or self._resolve(key, if_version) == self._version_of(key)
        step = {"op": "set", "key": key, "shard": gv.shard_of(key, SHARDS)}
        step.update(v)
        step.update({"if_version": if_version, "expect": "ok" if ok else "conflict"})
        if ok:
            self._set(key, v)
        self.steps.append(step)

    def delete(self, key, if_version=None):
        self._touch(key)
        ok = if_version is None or self._resolve(key, if_version) == self._version_of(key)
        step = {"op": "delete", "key": key, "shard": gv.shard_of(key, SHARDS),
                "if_version": if_version, "expect": "ok" if ok else "conflict"}
        step["deleted"] = self._delete(key) if ok else False
        self.steps.append(step)

    def txn(self, name, checks, ops):
        """checks: [(key, "current"|"absent"|"stale")]; ops: ("set", key, v) | ("delete", key)
        | ("xadd", stream, v)."""
        keys = [k for k, _ in checks] + [o[1] for o in ops if o[0] != "xadd"]
        for k in keys:
            self._touch(k)
        failed = [k for k, want in checks if self._resolve(k, want) != self._version_of(k)]
        assert len(failed) <= 1, "the conflict key must not depend on shard order"
        shards = sorted({gv.shard_of(k, SHARDS) for k in keys})
        assert len(shards) >= 3, (name, shards)
        step = {"op": "txn", "name": name,
                "checks": [{"key": k, "version": want} for k, want in checks],
                "ops": [], "expect": "conflict" if failed else "ok",
                "conflict_key": failed[0] if failed else None, "shards": shards}
        for o in ops:
            if o[0] == "set":
                op = {"op": "set", "key": o[1]}
                op.update(o[2])
                if not failed:
                    self._set(o[1], o[2])
            elif o[0] == "delete":
                op = {"op": "delete", "key": o[1]}
                op["deleted"] = None if failed else self._delete(o[1])
            else:
                op = {"op": "xadd", "stream": o[1]}
                op.update(o[2])
                entries = self.streams.setdefault(o[1], [])
                if not failed:
                    e = {"id": len(entries) + 1}
                    e.update(o[2])
                    entries.append(e)
                    op["entry_id"] = e["id"]
                else:
                    op["entry_id"] = None
            step["ops"].append(op)
        self.steps.append(step)

    def doc(self):
        keys = []
        for k in self.touched:
            cur = self.current[k]
            versions = ([(cur[0], dict(cur[1], deleted=False))] if cur else []) + self.history[k]
            vs = [v for _, v in versions]
            assert [x for x, _ in versions] == sorted((x for x, _ in versions), reverse=True)
            keys.append({"key": k, "shard": gv.shard_of(k, SHARDS), "live": cur is not None,
                         "versions": [dict({"deleted": v["deleted"]}, **{f: v[f] for f in
                                      ("kind", "value_hex", "json") if f in v}) for v in vs]})
        streams = [{"stream": s, "entries": es} for s, es in self.streams.items()]
        return {"format": FORMAT, "keep_versions": KEEP_VERSIONS, "shards": SHARDS,
                "steps": self.steps, "keys": keys, "streams": streams}


def build_history():
    s = Sim()
    # A counter through compare-and-set: ints of several widths (uint64 header for a small
    # number, sent raw), then a write against a stale version that must be refused.
    s.set("h:counter", val("int", 1), if_version="absent")
    s.set("h:counter", val("int", 2), if_version="current")
    s.set("h:counter", val("int", 300), if_version="current")
    s.set("h:counter", val("int", None, gv.u64(7), {"int": 7}))
    s.set("h:counter", val("int", 999), if_version="stale")            # conflict: nothing kept
    s.set("h:counter", val("int", -5), if_version="current")
    # A document: maps, deleted (conditionally) and rewritten as other types.
    s.set("h:doc", val("map", gv.smap({"title": "draft", "rev": 1})))
    s.set("h:doc", val("map", gv.smap({"title": "review", "rev": 2, "tags": ["a", "b"]})))
    s.delete("h:doc", if_version="stale")                                # conflict
    s.delete("h:doc", if_version="current")                              # tombstone
    s.set("h:doc", val("str", "na\u00efve caf\u00e9 \u2615 \U0001D11E"), if_version="absent")
    s.set("h:doc", val("float32", None, gv.f32(1.5), {"f32": 1.5}))
    s.set("h:doc", val("map", gv.smap({"title": "final", "rev": 3, "score": 0.25,
                                       "nested": {"ok": True, "none": None}})))
    # Binary values; a delete of an absent key records nothing.
    s.set("h:blob", val("binary", bytes(range(0, 256, 15))))
    s.set("h:blob", val("binary", b""))
    s.delete("h:blob")
    s.delete("h:blob")                                                   # deleted: false
    s.set("h:blob", val("binary", b"\x00\xff" * 8))
    # More writes than the depth keeps: the two oldest versions are trimmed.
    for i in range(13):
        s.set("h:many", val("int", i * 1000))
    # Written, then deleted for good.
    s.set("h:gone", val("str", "x"))
    s.set("h:gone", val("str", None, gv.str8("y"), {"str": "y"}))
    s.delete("h:gone")
    s.set("h:hold", val("map", gv.smap({"amount": 30, "from": "a"})))

    # Transactions over several shards, all or nothing.
    acct = lambda n, owner: val("map", gv.smap({"balance": n, "owner": owner}))
    s.txn("open", [("h:acct:a", "absent"), ("h:acct:b", "absent"), ("h:acct:c", "absent")], [
        ("set", "h:acct:a", acct(100, "a")),
        ("set", "h:acct:b", acct(50, "b")),
        ("set", "h:acct:c", val("float32", None, gv.f32(-0.5), {"f32": -0.5})),
        ("xadd", "h:events", val("map", gv.smap({"txn": "open", "accounts": 3}))),
    ])
    s.txn("transfer", [("h:acct:a", "current"), ("h:acct:b", "current"), ("h:hold", "current")], [
        ("set", "h:acct:a", acct(70, "a")),
        ("set", "h:acct:b", acct(80, "b")),
        ("delete", "h:hold"),
        ("xadd", "h:events", val("map", gv.smap({"txn": "transfer", "amount": 30}))),
    ])
    # b moved on since its previous version: refused, nothing written (not even the new key,
    # not the stream entry, not a tombstone of h:counter).
    s.txn("stale-transfer", [("h:acct:a", "current"), ("h:acct:b", "stale")], [
        ("set", "h:acct:a", acct(-1, "stale")),
        ("set", "h:acct:b", acct(-2, "stale")),
        ("set", "h:acct:new", val("str", "must not exist")),
        ("delete", "h:counter"),
        ("xadd", "h:events", val("str", "must not be appended")),
    ])
    # Rewrites a deleted key (checked absent), deletes a live one, appends twice.
    s.txn("rewrite", [("h:gone", "absent"), ("h:acct:c", "current"), ("h:blob", "current")], [
        ("set", "h:gone", val("binary", b"back")),
        ("set", "h:acct:c", val("int", 0)),
        ("delete", "h:blob"),
        ("xadd", "h:events", val("int", None, gv.u64(1), {"int": 1})),
        ("xadd", "h:events", val("binary", b"\x01\x02")),
    ])
    return s.doc()


def main(argv):
    return gv.emit(HERE, [("history", build_history())], "--check" in argv, "gen_history.py")

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
