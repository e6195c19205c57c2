#!/usr/bin/python3
"""Generate conformance/vectors/streams.json and its twin streams.msgpack: the stream part of the
cross-language data set (format: conformance/vectors/README.md, "streams.json").

Reuses the hand-written MessagePack encoder of conformance/vectors/gen_vectors.py (standard
library only), so unusual encodings (float32, str 8 header, uint64 for a small number) are spelled
out byte for byte and the .msgpack twin is encoded exactly as the other vector files are.

Run:  /usr/bin/python3 conformance/matrix/python/gen_streams.py           (deterministic; rewrites)
      /usr/bin/python3 conformance/matrix/python/gen_streams.py --check   (exit 1 if stale)
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.normpath(os.path.join(HERE, "..", "..", "vectors"))
sys.path.insert(0, VECTORS)

import gen_vectors as gv  # noqa: E402

FORMAT = "litestash-streams/1"
THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000   # 2 592 000 000: above 2^31, never trims in a test run


def build_streams():
    streams = []

    def stream(name, entries, maxlen=None, max_age_ms=None, groups=None):
        """entries: (kind, value) or (kind, None, raw_bytes, json_desc)."""
        out = []
        for i, e in enumerate(entries, 1):
            if len(e) == 2:
                kind, value = e
                vb, desc = gv.pack(value), gv.J(value)
            else:
                kind, _, vb, desc = e
            out.append({"id": i, "kind": kind, "value_hex": vb.hex(), "json": desc})
        last_id = len(out)
        length = min(last_id, maxlen) if maxlen is not None else last_id
        groups = dict(sorted((groups or {}).items(), key=lambda kv: kv[0].encode()))
        assert all(0 <= v <= last_id for v in groups.values())
        streams.append({"stream": name, "maxlen": maxlen, "max_age_ms": max_age_ms,
                        "first_id": last_id - length + 1, "last_id": last_id, "length": length,
                        "groups": groups, "entries": out})

    # Retention by count trims the head: ids 1, 2 are gone, 3..6 stay. Group "audit" committed
    # below first_id - 1 (entry 2 was trimmed before it read it: the consumer case of
    # on_trimmed), "billing" mid-stream.
    stream("st:orders", [
        ("map", gv.smap({"order": n, "sku": sku, "qty": q, "total": t}))
        for n, sku, q, t in ((1001, "A-1", 1, 9.5), (1002, "B-22", 3, 28.5),
                             (1003, "C-333", 2, 0.25), (1004, "A-1", 10, 95.0),
                             (1005, "Z-9", 1, 1234.5678), (1006, "B-22", 0, 0.0))
    ], maxlen=4, groups={"audit": 1, "billing": 5})

    # Unicode stream name; str values incl. a str 8 header where a fixstr would do; age
    # retention above 2^31 ms (never trims here); one group at the end, one at 0.
    stream("st:events:\u00fcn\u00efc\u00f8d\u00e9:\u65e5\u672c:\U0001F600", [
        ("unicode", "na\u00efve caf\u00e9 \u2615 \U0001D11E \u65e5\u672c"),
        ("str", None, gv.str8("abc").data, {"str": "abc"}),
        ("nil", None),
        ("bool", False),
        ("str", ""),
    ], max_age_ms=THIRTY_DAYS_MS, groups={"g": 5, "zero": 0})

    # Same name as a dataset.json key: streams and keys are separate namespaces. Values whose
    # native encoding differs from the stored bytes (float32, uint64 for 1) must come back
    # byte-exact. Both retention limits set, neither trims. No groups.
    stream("ds:map:user", [
        ("float32", None, gv.f32(1.5).data, {"f32": 1.5}),
        ("int", None, gv.u64(1).data, {"int": 1}),
        ("binary", bytes(range(0, 256, 17)) + b"\x00\xff"),
        ("float_vector", [0.1, -0.2, 1.0, 3.141592653589793]),
        ("nested_array", [[1, 2], [3, [4, [5]]], []]),
        ("int", 0xFFFFFFFFFFFFFFFF),
        ("int", -0x8000000000000000),
        ("map", {}),
    ], maxlen=100, max_age_ms=THIRTY_DAYS_MS)

    # maxlen 1: only the last of three entries stays; a group name with a non-ASCII letter.
    stream("st:one", [
        ("array", [1, "one"]),
        ("array", [2, "two"]),
        ("array", [3, "three", None, True, -1.5]),
    ], maxlen=1, groups={"gr\u00fcppe": 3})

    return {"format": FORMAT, "streams": streams}


def main(argv):
    return gv.emit(VECTORS, [("streams", build_streams())], "--check" in argv, "gen_streams.py")

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
