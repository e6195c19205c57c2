#!/usr/bin/python3
"""Generate the cross-language conformance vectors for litestash-engine.

Writes, next to this file:
  hash_vectors.json / .msgpack  1000 keys with their BLAKE2b-512 digest and shard for 1, 7, 16, 64
  scenario.json     / .msgpack  an ordered list of raw request bodies and the expected answers,
                                run against one fresh engine started with --shards 16
  dataset.json      / .msgpack  ~20 values written by one host language and read by another

The .msgpack files hold exactly the same document as the .json files (for hosts without a JSON
parser). Formats are described in README.md next to this file. Uses only the standard library
(hashlib, struct, json); MessagePack is encoded by hand so unusual encodings can be spelled out.

Run:  /usr/bin/python3 conformance/vectors/gen_vectors.py      (deterministic; rewrites the files)
      /usr/bin/python3 conformance/vectors/gen_vectors.py --check   (exit 1 if files are stale)
"""
import hashlib
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARD_COUNTS = (1, 7, 16, 64)
SCENARIO_SHARDS = 16
MAX_KEY_BYTES = 1024
MAX_FRAME_BYTES = 16 * 1024 * 1024
MAX_VALUE_BYTES = 8 * 1024 * 1024


# ---------------------------------------------------------------------------------------------
# Minimal MessagePack encoder (canonical smallest encodings) plus helpers for unusual ones.
# ---------------------------------------------------------------------------------------------

class Raw:
    """Pre-encoded MessagePack bytes, embedded verbatim by pack()."""

    def __init__(self, data):
        self.data = bytes(data)


def pack(o):
    if isinstance(o, Raw):
        return o.data
    if o is None:
        return b"\xc0"
    if o is True:
        return b"\xc3"
    if o is False:
        return b"\xc2"
    if isinstance(o, int):
        if 0 <= o <= 0x7F:
            return bytes([o])
        if -32 <= o < 0:
            return struct.pack(">b", o)
        if 0 <= o <= 0xFF:
            return b"\xcc" + struct.pack(">B", o)
        if 0 <= o <= 0xFFFF:
            return b"\xcd" + struct.pack(">H", o)
        if 0 <= o <= 0xFFFFFFFF:
            return b"\xce" + struct.pack(">I", o)
        if 0 <= o <= 0xFFFFFFFFFFFFFFFF:
            return b"\xcf" + struct.pack(">Q", o)
        if -0x80 <= o < 0:
            return b"\xd0" + struct.pack(">b", o)
        if -0x8000 <= o < 0:
            return b"\xd1" + struct.pack(">h", o)
        if -0x80000000 <= o < 0:
            return b"\xd2" + struct.pack(">i", o)
        if -0x8000000000000000 <= o < 0:
            return b"\xd3" + struct.pack(">q", o)
        raise ValueError("int out of range: %r" % o)
    if isinstance(o, float):
        return b"\xcb" + struct.pack(">d", o)
    if isinstance(o, str):
        b = o.encode("utf-8")
        return _str_header(len(b)) + b
    if isinstance(o, (bytes, bytearray)):
        n = len(o)
        if n <= 0xFF:
            return b"\xc4" + bytes([n]) + bytes(o)
        if n <= 0xFFFF:
            return b"\xc5" + struct.pack(">H", n) + bytes(o)
        return b"\xc6" + struct.pack(">I", n) + bytes(o)
    if isinstance(o, (list, tuple)):
        n = len(o)
        if n < 16:
            h = bytes([0x90 | n])
        elif n <= 0xFFFF:
            h = b"\xdc" + struct.pack(">H", n)
        else:
            h = b"\xdd" + struct.pack(">I", n)
        return h + b"".join(pack(x) for x in o)
    if isinstance(o, dict):
        n = len(o)
        if n < 16:
            h = bytes([0x80 | n])
        elif n <= 0xFFFF:
            h = b"\xde" + struct.pack(">H", n)
        else:
            h = b"\xdf" + struct.pack(">I", n)
        return h + b"".join(pack(k) + pack(v) for k, v in o.items())
    raise TypeError("cannot pack %r" % type(o))


def _str_header(n):
    if n < 32:
        return bytes([0xA0 | n])
    if n <= 0xFF:
        return b"\xd9" + bytes([n])
    if n <= 0xFFFF:
        return b"\xda" + struct.pack(">H", n)
    return b"\xdb" + struct.pack(">I", n)


def u8(n):
    return Raw(b"\xcc" + bytes([n]))


def u32(n):
    return Raw(b"\xce" + struct.pack(">I", n))


def u64(n):
    return Raw(b"\xcf" + struct.pack(">Q", n))


def f32(x):
    return Raw(b"\xca" + struct.pack(">f", x))


def str8(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return Raw(b"\xd9" + bytes([len(b)]) + b)


def str16(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return Raw(b"\xda" + struct.pack(">H", len(b)) + b)


def rawstr(b):
    """A str with arbitrary (possibly invalid UTF-8) payload bytes, fixstr/str8 header."""
    return Raw(_str_header(len(b)) + b)


def ext(t, data):
    n = len(data)
    fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
    if n in fixed:
        return Raw(bytes([fixed[n]]) + struct.pack(">b", t) + data)
    return Raw(b"\xc7" + bytes([n]) + struct.pack(">b", t) + data)


def map16(d):
    return Raw(b"\xde" + struct.pack(">H", len(d)) + b"".join(pack(k) + pack(v) for k, v in d.items()))


def array32(items):
    return Raw(b"\xdd" + struct.pack(">I", len(items)) + b"".join(pack(x) for x in items))


# ---------------------------------------------------------------------------------------------
# Routing
# ---------------------------------------------------------------------------------------------

def digest(key_bytes):
    return hashlib.blake2b(key_bytes, digest_size=64).digest()


def shard_of(key, count):
    kb = key.encode("utf-8") if isinstance(key, str) else key
    return int.from_bytes(digest(kb)[:8], "big") % count


# ---------------------------------------------------------------------------------------------
# hash_vectors
# ---------------------------------------------------------------------------------------------

def hash_keys():
    keys = []

    def add(k):
        if k not in keys:
            keys.append(k)

    for k in ("user:1001", "a", "vec:1"):          # the contract's own vectors
        add(k)
    for c in range(0x20, 0x7F):                      # every printable 1-byte key, incl. space
        add(chr(c))
    add("k" * 1024)                                  # exactly 1024 bytes
    add("\U0001F600" * 256)                          # 256 x 4-byte code point = 1024 bytes
    add("\u00e9" * 512)                              # 512 x 2-byte = 1024 bytes
    add("\u20ac" * 341 + "a")                        # 341 x 3-byte + 1 = 1024 bytes
    add("tab\tkey")
    add("new\nline")
    add("nul\x00inside")
    add("trailing space ")
    add(" leading space")
    two = "\u00e9\u00f1\u00fc\u00df\u03a9\u0436"      # é ñ ü ß Ω ж
    three = "\u20ac\u65e5\u672c\u30a2\ud55c\u2615"   # € 日 本 ア 한 ☕
    four = "\U0001F600\U0001D11E\U0001F680\U00010348\U0001F004\U0002070E"  # 😀 𝄞 🚀 𐍈 🀄 𠜎
    for i in range(200):
        a, b, c = two[i % 6], three[(i // 6) % 6], four[(i // 36) % 6]
        add("%s%s%s:%d" % (a, b, c, i) if i % 2 else "u:%s:%s:%s:%d" % (c, b, a, i))
    for i in range(100):
        add("tenant %d:user:%d" % (i, i * 7))
    for i in range(50):
        add("a:b:c:%d: :%s" % (i, "x" * (i % 9)))
    for n in range(2, 66):
        add("x" * n)
    i = 0
    while len(keys) < 1000:
        add("user:%d" % i)
        i += 1
    assert len(keys) == 1000
    for k in keys:
        assert 1 <= len(k.encode("utf-8")) <= MAX_KEY_BYTES
    return keys


def build_hash_vectors():
    vectors = []
    for k in hash_keys():
        kb = k.encode("utf-8")
        d = digest(kb)
        vectors.append({
            "key": k,
            "key_utf8_hex": kb.hex(),
            "blake2b512_hex": d.hex(),
            "shard": {str(n): int.from_bytes(d[:8], "big") % n for n in SHARD_COUNTS},
        })
    # The contract's table must hold.
    expect = {"user:1001": ("24c580f64b17c1ce", 14), "a": ("333fcb4ee1aa7c11", 1),
              "vec:1": ("fdd91d8eb996d7ac", 12)}
    for v in vectors:
        if v["key"] in expect:
            pfx, sh = expect[v["key"]]
            assert v["blake2b512_hex"][:16] == pfx and v["shard"]["16"] == sh, v
    return {
        "format": "litestash-hash-vectors/1",
        "hash": "blake2b-512",
        "rule": "shard = uint64_be(digest[0..8]) mod shard_count",
        "shard_counts": list(SHARD_COUNTS),
        "vectors": vectors,
    }


# ---------------------------------------------------------------------------------------------
# scenario
# ---------------------------------------------------------------------------------------------

class Scenario:
    """Builds steps while tracking a model of the live keys, so counts/scans/stats are derived."""

    def __init__(self, shards):
        self.shards = shards
        self.steps = []
        self.next_id = 1
        self.live = {}          # key -> (value bytes, has_ttl)

    def new_id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def raw(self, describe, body, expect):
        if isinstance(body, Raw):
            body = body.data
        self.steps.append({"describe": describe, "request": body.hex(), "expect": expect})

    def req(self, describe, op, fields=None, expect=None, id=None, shard="auto"):
        """Encode {"id","op",fields...,"shard"} canonically; shard auto-added for `key` ops."""
        if id is None:
            id = self.new_id()
        m = {"id": id, "op": op}
        m.update(fields or {})
        if shard == "auto":
            if "key" in m and isinstance(m["key"], str):
                m["shard"] = shard_of(m["key"], self.shards)
        elif shard is not None:
            m["shard"] = shard
        e = {"ok": True, "id": id}
        e.update(expect or {})
        if not e["ok"]:
            e.setdefault("code", "bad_request")
        self.raw(describe, pack(m), e)
        return id

    def err(self, describe, op, fields, code, id="new", shard=None, expect_id="same"):
        if id == "new":
            id = self.new_id()
        m = {"id": id, "op": op} if op is not None else {"id": id}
        m.update(fields)
        if shard is not None:
            m["shard"] = shard
        self.raw(describe, pack(m), {"ok": False, "id": id if expect_id == "same" else expect_id,
                                     "code": code})

    # model-aware helpers ---------------------------------------------------------------------
    def set(self, key, value, describe=None, ttl_ms=None, key_enc=None):
        vb = pack(value)
        fields = {"key": key_enc if key_enc is not None else key, "value": value}
        if ttl_ms is not None:
            fields["ttl_ms"] = ttl_ms
        m_id = self.new_id()
        m = {"id": m_id, "op": "set"}
        m.update(fields)
        m["shard"] = shard_of(key, self.shards)
        self.raw(describe or "set %r = %s" % (key, vb.hex()), pack(m),
                 {"ok": True, "id": m_id, "types": {"version": "uint"}})
        self.live[key] = (vb, ttl_ms is not None)

    def get(self, key, describe=None, key_enc=None):
        fields = {"key": key_enc if key_enc is not None else key}
        if key in self.live:
            exp = {"fields": {"found": True}, "value_hex": self.live[key][0].hex(),
                   "types": {"version": "uint"}}
        else:
            exp = {"fields": {"found": False}, "absent": ["value", "version"]}
        m_id = self.new_id()
        m = {"id": m_id, "op": "get"}
        m.update(fields)
        m["shard"] = shard_of(key, self.shards)
        e = {"ok": True, "id": m_id}
        e.update(exp)
        self.raw(describe or "get %r" % key, pack(m), e)

    def count(self, describe="count of live keys"):
        self.req(describe, "count", {}, {"fields": {"count": len(self.live)}})

    def stats(self, describe="stats: one map per shard, keys per shard match the model"):
        per = [0] * self.shards
        exp = [0] * self.shards
        for k, (_, has_ttl) in self.live.items():
            s = shard_of(k, self.shards)
            per[s] += 1
            if has_ttl:
                exp[s] += 1
        self.req(describe, "stats", {}, {"len": {"shards": self.shards},
                                         "types": {"shards": "array"},
                                         "shard_keys": per, "shard_expiring": exp})

    def sorted_live(self, prefix=""):
        return sorted((k for k in self.live if k.startswith(prefix)), key=lambda k: k.encode())


def build_scenario():
    sc = Scenario(SCENARIO_SHARDS)
    R = sc.req

    # --- handshake ---------------------------------------------------------------------------
    R("hello: protocol 2, blake2b-512, 16 shards, default limits", "hello", {}, {
        "fields": {"protocol": 2, "engine": "litestash-engine", "shards": SCENARIO_SHARDS,
                   "hash": "blake2b-512", "max_frame_bytes": MAX_FRAME_BYTES,
                   "max_key_bytes": MAX_KEY_BYTES, "max_value_bytes": MAX_VALUE_BYTES},
        "types": {"version": "str", "features": "array", "keep_versions": "uint"},
        "contains": {"features": ["ttl", "scan", "mget", "mset", "mdelete", "sync", "stats",
                                  "streams", "blocking_reads"]}})
    R("ping answers ok with no other fields", "ping", {}, {"absent": ["error"]})
    sc.count("count on a fresh engine is 0")
    sc.get("user:1001", "get of a missing key: found false, no value/version")
    R("exists on a missing key", "exists", {"key": "user:1001"}, {"fields": {"exists": False}})

    # --- basic set/get ----------------------------------------------------------------------
    sc.set("user:1001", {"name": "Ada", "age": 36}, "set a map value (contract vector key, shard 14)")
    sc.get("user:1001", "get returns the map bytes exactly")
    R("exists after set", "exists", {"key": "user:1001"}, {"fields": {"exists": True}})
    sc.set("a", "first", "set 'a' (shard 1)")
    sc.set("a", "second", "overwrite 'a'")
    sc.get("a", "get sees the overwrite")
    sc.set("vec:1", [0.25, -1.5, 3.0], "float64 vector value (shard 12)")
    sc.get("vec:1")

    # --- unusual value encodings: stored and returned byte for byte ---------------------------
    unusual = [
        ("enc:uint8", u8(5), "5 as uint8 (0xcc 0x05), not positive fixint"),
        ("enc:uint32", u32(7), "7 as uint32 (0xce)"),
        ("enc:uint64", u64(1), "1 as uint64 (0xcf)"),
        ("enc:uint64max", 0xFFFFFFFFFFFFFFFF, "uint64 max"),
        ("enc:int64min", -0x8000000000000000, "int64 min"),
        ("enc:negfix", -1, "negative fixint 0xff"),
        ("enc:float32", f32(1.5), "float32 1.5 (0xca) stays float32"),
        ("enc:float64", 0.1, "float64 0.1"),
        ("enc:str8", str8("abc"), "str 8 header for a 3-byte string (0xd9 0x03)"),
        ("enc:str16empty", str16(""), "empty string with str 16 header"),
        ("enc:unicode", "h\u00e9llo w\u00f6rld \U0001F600", "unicode string incl. a 4-byte code point"),
        ("enc:bin", b"\x00\x01\xff", "bin 8"),
        ("enc:binempty", b"", "empty bin 8"),
        ("enc:fixext1", ext(5, b"\x01"), "fixext 1, type 5"),
        ("enc:ext8", ext(7, b"\xaa\xbb\xcc"), "ext 8, type 7, 3 bytes"),
        ("enc:timestamp32", ext(-1, b"\x00\x00\x00\x00"), "timestamp ext (type -1) passes through"),
        ("enc:nested", {"a": [1, [2, [3, {"b": None}]]], "c": {"d": {"e": True}}}, "nested maps and arrays"),
        ("enc:nil", None, "nil value: found true with value nil"),
        ("enc:false", False, "false"),
        ("enc:map16", map16({"x": 1}), "1-entry map with map 16 header"),
        ("enc:array32", array32([1, 2]), "2-element array with array 32 header"),
        ("enc:emptymap", {}, "empty map"),
        ("enc:emptyarray", [], "empty array"),
        ("enc:mixedarray", [1, "two", 3.5, None, True, b"\x07", {"k": u8(1)}, f32(-0.5)],
         "array mixing every type, with uint8 and float32 inside"),
    ]
    for key, val, what in unusual:
        sc.set(key, val, "set %s: %s" % (key, what))
        sc.get(key, "get %s returns the exact bytes (%s)" % (key, what))

    # --- unusual request encodings -------------------------------------------------------
    sc.get("enc:str8", "get with the key itself encoded as str 8 finds the fixstr-written key",
           key_enc=str8("enc:str8"))
    sc.get("enc:uint8", "get with the key encoded as str 16", key_enc=str16("enc:uint8"))
    i = sc.new_id()
    body = map16({"shard": shard_of("a", 16), "key": "a", "op": "get", "id": i})
    sc.raw("request map with map 16 header and fields in reverse order", body,
           {"ok": True, "id": i, "fields": {"found": True}, "value_hex": pack("second").hex(),
            "types": {"version": "uint"}})
    body = pack({"id": u64(99), "op": "ping"})
    sc.raw("id encoded as uint64 is echoed as 99", body, {"ok": True, "id": 99})
    sc.raw("id 0 is echoed", pack({"id": 0, "op": "ping"}), {"ok": True, "id": 0})
    sc.raw("id uint64 max is echoed", pack({"id": 0xFFFFFFFFFFFFFFFF, "op": "ping"}),
           {"ok": True, "id": 0xFFFFFFFFFFFFFFFF})
    i = sc.new_id()
    sc.raw("shard given as uint8 (0xcc)", pack({"id": i, "op": "exists", "key": "a",
                                                  "shard": u8(shard_of("a", 16))}),
           {"ok": True, "id": i, "fields": {"exists": True}})
    R("get without the optional shard field", "get", {"key": "user:1001"},
      {"fields": {"found": True}, "value_hex": sc.live["user:1001"][0].hex(),
       "types": {"version": "uint"}}, shard=None)

    # --- keys at the limits --------------------------------------------------------------
    k1024 = "k" * 1024
    sc.set(k1024, "long", "1024-byte ASCII key is accepted")
    sc.get(k1024)
    kemoji = "\U0001F600" * 256
    sc.set(kemoji, "emoji", "1024-byte key of 256 4-byte code points")
    sc.get(kemoji)
    sc.set("x", 1, "1-byte key")
    sc.get("x")
    sc.set("tenant 7:user:49 :: x", {"t": 7}, "key with spaces and colons")
    sc.get("tenant 7:user:49 :: x")
    sc.set("\u65e5\u672c:\u00e9\U0001D11E", "unicode key", "unicode key (3-, 2-, 4-byte code points)")
    sc.get("\u65e5\u672c:\u00e9\U0001D11E")

    # --- delete / exists -----------------------------------------------------------------
    R("delete an existing key", "delete", {"key": "enc:negfix"}, {"fields": {"deleted": True}})
    del sc.live["enc:negfix"]
    R("delete it again: deleted false", "delete", {"key": "enc:negfix"}, {"fields": {"deleted": False}})
    sc.get("enc:negfix", "get after delete: not found")
    R("exists after delete", "exists", {"key": "enc:negfix"}, {"fields": {"exists": False}})
    sc.count("count after the writes above")

    # --- mset / mget / mdelete -----------------------------------------------------------
    entries = [["m:1", 1], ["m:2", "two"], ["m:3", [3]], ["m:\u00fc", f32(2.5)], ["m:nil", None]]
    R("mset 5 entries (mixed shards, float32 and nil values)", "mset", {"entries": entries},
      {"fields": {"count": 5}})
    for k, v in entries:
        sc.live[k] = (pack(v), False)
    ks = ["m:1", "m:missing", "m:3", "m:\u00fc", "m:nil", "m:2", "m:1"]
    R("mget in request order with a missing key and a repeated key", "mget", {"keys": ks},
      {"fields": {"found": [k in sc.live for k in ks]},
       "values_hex": [sc.live[k][0].hex() if k in sc.live else None for k in ks]})
    R("mget of no keys", "mget", {"keys": []}, {"fields": {"found": [], "values": []}})
    R("mset of no entries", "mset", {"entries": []}, {"fields": {"count": 0}})
    sc.get("m:\u00fc", "get of an mset float32 value returns it byte-exact")
    R("mdelete 2 present + 1 missing", "mdelete", {"keys": ["m:1", "m:2", "m:missing"]},
      {"fields": {"deleted": 2}})
    del sc.live["m:1"], sc.live["m:2"]
    R("mdelete of no keys", "mdelete", {"keys": []}, {"fields": {"deleted": 0}})
    R("mget after mdelete", "mget", {"keys": ["m:1", "m:2", "m:3"]},
      {"fields": {"found": [False, False, True]},
       "values_hex": [None, None, sc.live["m:3"][0].hex()]})

    # --- scan ---------------------------------------------------------------------------
    for k in ["scan:b", "scan:\U0001F600", "scan:a", "scan:~", "scan:\u00e9", "scan:c"]:
        sc.set(k, k, "set %r for scan" % k)
    allscan = sc.sorted_live("scan:")
    assert allscan == ["scan:a", "scan:b", "scan:c", "scan:~", "scan:\u00e9", "scan:\U0001F600"]
    R("scan prefix, limit 2: first page, more", "scan", {"prefix": "scan:", "limit": 2},
      {"fields": {"keys": allscan[:2], "more": True}})
    R("scan prefix after 'scan:b': rest in UTF-8 byte order", "scan",
      {"prefix": "scan:", "after": "scan:b"}, {"fields": {"keys": allscan[2:], "more": False}})
    R("scan prefix with limit == number of matches: more false", "scan",
      {"prefix": "scan:", "limit": 6}, {"fields": {"keys": allscan, "more": False}})
    R("scan after 'scan:c' limit 1", "scan", {"prefix": "scan:", "after": "scan:c", "limit": 1},
      {"fields": {"keys": ["scan:~"], "more": True}})
    R("scan with an after key that does not exist", "scan",
      {"prefix": "scan:", "after": "scan:bb"}, {"fields": {"keys": allscan[2:], "more": False}})
    R("scan with no match", "scan", {"prefix": "nomatch:"}, {"fields": {"keys": [], "more": False}})
    R("scan with limit 10000 (max) is accepted", "scan", {"prefix": "scan:", "limit": 10000},
      {"fields": {"keys": allscan, "more": False}})
    R("scan of the whole key space merges all shards in byte order", "scan", {},
      {"fields": {"keys": sc.sorted_live(), "more": False}})
    R("scan of the whole key space after 'm:' (no prefix)", "scan", {"after": "m:"},
      {"fields": {"keys": [k for k in sc.sorted_live() if k.encode() > b"m:"], "more": False}})
    sc.count()

    # --- ttl / expire / persist ------------------------------------------------------------
    sc.set("ttl:1", "expiring", "set with ttl_ms 600000", ttl_ms=600000)
    R("ttl of an expiring key: found, ttl_ms uint", "ttl", {"key": "ttl:1"},
      {"fields": {"found": True}, "types": {"ttl_ms": "uint"}})
    sc.get("ttl:1", "get of an expiring key")
    R("exists of an expiring key", "exists", {"key": "ttl:1"}, {"fields": {"exists": True}})
    sc.stats("stats counts the expiring key")
    R("persist an expiring key: updated true", "persist", {"key": "ttl:1"}, {"fields": {"updated": True}})
    sc.live["ttl:1"] = (sc.live["ttl:1"][0], False)
    R("ttl after persist: ttl_ms nil", "ttl", {"key": "ttl:1"}, {"fields": {"found": True, "ttl_ms": None}})
    R("persist again: updated false (no expiry)", "persist", {"key": "ttl:1"}, {"fields": {"updated": False}})
    R("expire an existing key", "expire", {"key": "ttl:1", "ttl_ms": 600000}, {"fields": {"updated": True}})
    sc.live["ttl:1"] = (sc.live["ttl:1"][0], True)
    R("ttl after expire", "ttl", {"key": "ttl:1"}, {"fields": {"found": True}, "types": {"ttl_ms": "uint"}})
    sc.set("ttl:1", "no longer expiring", "set without ttl_ms clears the expiry")
    R("ttl after plain set: nil", "ttl", {"key": "ttl:1"}, {"fields": {"found": True, "ttl_ms": None}})
    R("expire with ttl_ms encoded as uint32", "expire", {"key": "ttl:1", "ttl_ms": u32(600000)},
      {"fields": {"updated": True}})
    sc.live["ttl:1"] = (sc.live["ttl:1"][0], True)
    R("expire a missing key: updated false", "expire", {"key": "ttl:missing", "ttl_ms": 1000},
      {"fields": {"updated": False}})
    R("ttl of a missing key: found false, ttl_ms nil", "ttl", {"key": "ttl:missing"},
      {"fields": {"found": False, "ttl_ms": None}})
    R("persist a missing key: updated false", "persist", {"key": "ttl:missing"}, {"fields": {"updated": False}})
    R("ttl of a key that never expires", "ttl", {"key": "a"}, {"fields": {"found": True, "ttl_ms": None}})
    R("mset with ttl_ms", "mset", {"entries": [["ttl:m1", 1], ["ttl:m2", 2]], "ttl_ms": 600000},
      {"fields": {"count": 2}})
    sc.live["ttl:m1"] = (pack(1), True)
    sc.live["ttl:m2"] = (pack(2), True)
    R("ttl of an mset-with-ttl key", "ttl", {"key": "ttl:m2"}, {"fields": {"found": True}, "types": {"ttl_ms": "uint"}})
    sc.stats()
    R("sync", "sync", {}, {})

    # --- errors: frame / body level (id unreadable -> id nil) -------------------------------
    sc.raw("empty frame body (L = 0) -> bad_frame, id nil", b"", {"ok": False, "id": None, "code": "bad_frame"})
    sc.raw("reserved byte 0xc1 -> bad_request, id nil", b"\xc1", {"ok": False, "id": None, "code": "bad_request"})
    sc.raw("truncated map -> bad_request, id nil", bytes.fromhex("82a26964"),
           {"ok": False, "id": None, "code": "bad_request"})
    sc.raw("body is an array, not a map -> bad_request, id nil", pack([1, "ping"]),
           {"ok": False, "id": None, "code": "bad_request"})
    sc.raw("map key that is not a str -> bad_request, id nil",
           b"\x83" + pack("id") + pack(5000) + pack("op") + pack("ping") + b"\x01\x02",
           {"ok": False, "id": None, "code": "bad_request"})
    sc.raw("id missing -> bad_request, id nil", pack({"op": "ping"}), {"ok": False, "id": None, "code": "bad_request"})
    sc.raw("id is a str -> type_error, id nil", pack({"id": "7", "op": "ping"}),
           {"ok": False, "id": None, "code": "type_error"})
    sc.raw("id is negative -> type_error, id nil", pack({"id": -1, "op": "ping"}),
           {"ok": False, "id": None, "code": "type_error"})
    sc.raw("id is a float -> type_error, id nil", pack({"id": 1.0, "op": "ping"}),
           {"ok": False, "id": None, "code": "type_error"})
    i = sc.new_id()
    sc.raw("bytes after the one object -> bad_request, id echoed", pack({"id": i, "op": "ping"}) + b"\xc0",
           {"ok": False, "id": i, "code": "bad_request"})
    i = sc.new_id()
    sc.raw("duplicate field name -> bad_request", b"\x84" + pack("id") + pack(i) + pack("op") + pack("get")
           + pack("key") + pack("a") + pack("key") + pack("b"), {"ok": False, "id": i, "code": "bad_request"})

    # --- errors: op ---------------------------------------------------------------------------
    sc.err("op missing -> bad_request", None, {}, "bad_request")
    sc.err("op is an int -> type_error", None, {"op": 3}, "type_error")
    sc.err("unknown op -> unknown_op", "frobnicate", {}, "unknown_op")
    sc.err("op names are case-sensitive: GET -> unknown_op", "GET", {"key": "a"}, "unknown_op")
    sc.err("unknown op wins over an unknown field", "frobnicate", {"bogus": 1}, "unknown_op")

    # --- errors: unknown / missing fields -----------------------------------------------------
    sc.err("unknown field on get -> bad_request", "get", {"key": "a", "value": 1}, "bad_request")
    sc.err("typo'd field 'ttl' on set -> bad_request", "set", {"key": "err:1", "value": 1, "ttl": 5}, "bad_request")
    sc.err("shard on ping (no key) -> bad_request", "ping", {}, "bad_request", shard=0)
    sc.err("shard on mget (keys, not key) -> bad_request", "mget", {"keys": ["a"]}, "bad_request", shard=1)
    sc.err("set without value -> bad_request", "set", {"key": "err:1"}, "bad_request")
    sc.err("get without key -> bad_request", "get", {}, "bad_request")
    sc.err("mget without keys -> bad_request", "mget", {}, "bad_request")
    sc.err("mset without entries -> bad_request", "mset", {}, "bad_request")
    sc.err("expire without ttl_ms -> bad_request", "expire", {"key": "a"}, "bad_request")
    sc.err("unknown field wins over a type error", "get", {"key": 1, "bogus": 1}, "bad_request")
    sc.err("missing value wins over a wrongly typed key", "set", {"key": 1}, "bad_request")

    # --- errors: types ------------------------------------------------------------------------
    sc.err("key is an int -> type_error", "get", {"key": 42}, "type_error")
    sc.err("key is bin -> type_error", "get", {"key": b"a"}, "type_error")
    sc.err("key is nil -> type_error", "set", {"key": None, "value": 1}, "type_error")
    sc.err("ttl_ms negative -> type_error", "set", {"key": "err:1", "value": 1, "ttl_ms": -5}, "type_error")
    sc.err("ttl_ms float -> type_error", "set", {"key": "err:1", "value": 1, "ttl_ms": 1000.0}, "type_error")
    sc.err("ttl_ms str -> type_error", "expire", {"key": "a", "ttl_ms": "1000"}, "type_error")
    sc.err("keys not an array -> type_error", "mget", {"keys": "a"}, "type_error")
    sc.err("keys holding an int -> type_error", "mdelete", {"keys": ["a", 5]}, "type_error")
    sc.err("entries item not an array -> type_error", "mset", {"entries": [{"k": 1}]}, "type_error")
    sc.err("entries item of length 3 -> bad_request", "mset", {"entries": [["err:1", 1, 2]]}, "bad_request")
    sc.err("entries item of length 1 -> bad_request", "mset", {"entries": [["err:1"]]}, "bad_request")
    sc.err("shard is a str -> type_error", "get", {"key": "a"}, "type_error", shard="1")
    sc.err("shard is negative -> type_error", "get", {"key": "a"}, "type_error", shard=-1)
    sc.err("limit is a str -> type_error", "scan", {"limit": "5"}, "type_error")
    sc.err("prefix is an int -> type_error", "scan", {"prefix": 5}, "type_error")

    # --- errors: keys ------------------------------------------------------------------------
    sc.err("empty key -> invalid_key", "set", {"key": "", "value": 1}, "invalid_key")
    sc.err("1025-byte key -> invalid_key", "set", {"key": "k" * 1025, "value": 1}, "invalid_key")
    sc.err("1025-byte key of 2-byte code points -> invalid_key", "get", {"key": "\u00e9" * 512 + "a"}, "invalid_key")
    sc.err("str key with invalid UTF-8 -> invalid_key", "get", {"key": rawstr(b"\xff\xfe\xfd")}, "invalid_key")
    sc.err("str key with a UTF-8 surrogate -> invalid_key", "get", {"key": rawstr(b"a\xed\xa0\x80")}, "invalid_key")
    sc.err("overlong UTF-8 encoding -> invalid_key", "get", {"key": rawstr(b"\xc0\xaf")}, "invalid_key")
    sc.err("an empty key inside keys -> invalid_key", "mget", {"keys": ["a", ""]}, "invalid_key")
    sc.err("mset with one bad key -> invalid_key, nothing applied", "mset",
           {"entries": [["err:good", 1], ["", 2]]}, "invalid_key")
    sc.get("err:good", "the good entry of the refused mset was not written")
    sc.err("invalid key wins over wrong shard", "get", {"key": ""}, "invalid_key", shard=3)
    sc.err("invalid key wins over ttl_ms 0", "set", {"key": "", "value": 1, "ttl_ms": 0}, "invalid_key")

    # --- errors: ttl_ms 0, limit, prefix/after --------------------------------------------
    sc.err("set with ttl_ms 0 -> bad_request", "set", {"key": "a", "value": "clobbered", "ttl_ms": 0}, "bad_request")
    sc.get("a", "the refused set did not change 'a'")
    sc.err("mset with ttl_ms 0 -> bad_request", "mset", {"entries": [["err:2", 1]], "ttl_ms": 0}, "bad_request")
    sc.get("err:2", "the refused mset wrote nothing")
    sc.err("expire with ttl_ms 0 -> bad_request", "expire", {"key": "a", "ttl_ms": 0}, "bad_request")
    sc.err("scan limit 0 -> bad_request", "scan", {"limit": 0}, "bad_request")
    sc.err("scan limit 10001 -> bad_request", "scan", {"limit": 10001}, "bad_request")
    sc.err("scan prefix of 1025 bytes -> bad_request", "scan", {"prefix": "p" * 1025}, "bad_request")
    sc.err("scan after with invalid UTF-8 -> bad_request", "scan", {"after": rawstr(b"\xff")}, "bad_request")
    sc.err("ttl_ms 0 wins over wrong shard", "set", {"key": "a", "value": 1, "ttl_ms": 0}, "bad_request",
           shard=(shard_of("a", 16) + 1) % 16)

    # --- errors: wrong_shard -------------------------------------------------------------
    wrong = (shard_of("a", 16) + 1) % 16
    sc.err("set 'a' with the wrong shard -> wrong_shard, not applied", "set", {"key": "a", "value": "x"},
           "wrong_shard", shard=wrong)
    sc.get("a", "'a' unchanged after wrong_shard")
    sc.err("shard == shard count -> wrong_shard", "get", {"key": "a"}, "wrong_shard", shard=16)
    sc.err("shard far out of range -> wrong_shard", "delete", {"key": "a"}, "wrong_shard", shard=99999)
    sc.err("wrong shard on a key never written", "set", {"key": "ws:new", "value": 1}, "wrong_shard",
           shard=(shard_of("ws:new", 16) + 5) % 16)
    sc.get("ws:new", "the wrong-shard set wrote nothing")
    R("requests keep working after all these errors", "ping", {}, {})
    sc.count("count unchanged by every refused request")
    sc.stats()

    # --- clear ---------------------------------------------------------------------------
    R("clear", "clear", {}, {})
    sc.live.clear()
    sc.count("count after clear is 0")
    R("scan after clear is empty", "scan", {}, {"fields": {"keys": [], "more": False}})
    sc.get("user:1001", "get after clear: not found")
    R("ttl after clear: not found", "ttl", {"key": "ttl:m1"}, {"fields": {"found": False, "ttl_ms": None}})
    sc.stats("stats after clear: every shard empty")
    sc.set("user:1001", {"after": "clear"}, "writing after clear works")
    sc.get("user:1001")
    sc.count()

    # --- streams (contract v2 section 2) ---------------------------------------------------
    st = {"stream": "orders", "shard": shard_of("orders", SCENARIO_SHARDS)}
    R("xadd appends entry 1 (routed like a key, shard sent)", "xadd",
      dict(st, value=Raw(b"\xca\x3f\xc0\x00\x00")), {"fields": {"entry_id": 1},
                                                       "types": {"ts": "uint"}}, shard=None)
    R("xadd entry 2 with retention", "xadd", dict(st, value=Raw(b"\xd9\x02hi"), maxlen=10),
      {"fields": {"entry_id": 2}}, shard=None)
    R("xget returns the exact bytes, nil where absent", "xget", dict(st, ids=[2, 9, 1]),
      {"fields": {"found": [True, False, True]},
       "values_hex": ["d9026869", None, "ca3fc00000"], "len": {"ts": 3}}, shard=None)
    R("xrange of the stream", "xrange", dict(st, after=0, limit=1),
      {"len": {"entries": 1}, "fields": {"more": True}}, shard=None)
    R("xinfo", "xinfo", dict(st), {"fields": {"exists": True, "length": 2, "first_id": 1,
                                              "last_id": 2, "maxlen": 10, "max_age_ms": None},
                                   "types": {"first_ts": "uint", "groups": "map"}}, shard=None)
    R("xcommit", "xcommit", dict(st, group="g", entry_id=2), {}, shard=None)
    R("xoffset", "xoffset", dict(st, group="g"), {"fields": {"entry_id": 2}}, shard=None)
    R("xread after the last entry without waiting is empty", "xread", dict(st, after=2),
      {"fields": {"entries": [], "more": False}}, shard=None)
    R("xcommit past the last entry is refused", "xcommit", dict(st, group="g", entry_id=3),
      {"ok": False, "code": "bad_request"}, shard=None)
    R("xstreams lists the stream", "xstreams", {}, {"fields": {"streams": ["orders"],
                                                               "more": False}})
    R("a stream is not a key", "exists", {"key": "orders"}, {"fields": {"exists": False}})
    R("xdrop", "xdrop", dict(st), {"fields": {"dropped": True}}, shard=None)
    R("final sync", "sync", {}, {})

    return {
        "format": "litestash-scenario/1",
        "engine_args": ["--shards", str(SCENARIO_SHARDS)],
        "shards": SCENARIO_SHARDS,
        "steps": sc.steps,
    }


# ---------------------------------------------------------------------------------------------
# dataset
# ---------------------------------------------------------------------------------------------

def J(v):
    """Neutral description of a Python-built value (no Raw): see README 'dataset.json'."""
    if v is None:
        return {"nil": None}
    if isinstance(v, bool):
        return {"bool": v}
    if isinstance(v, int):
        return {"int": v}
    if isinstance(v, float):
        return {"f64": v}
    if isinstance(v, str):
        return {"str": v}
    if isinstance(v, bytes):
        return {"bin_hex": v.hex()}
    if isinstance(v, list):
        return {"array": [J(x) for x in v]}
    if isinstance(v, dict):
        return {"map": {k: J(x) for k, x in v.items()}}
    raise TypeError(v)


def smap(d):
    """Maps in the data set have their keys sorted by UTF-8 bytes (matches Elixir small maps)."""
    return {k: (smap(v) if isinstance(v, dict) else v) for k, v in sorted(d.items(), key=lambda kv: kv[0].encode())}


def build_dataset():
    entries = []

    def add(key, kind, value, raw=None, json_desc=None):
        vb = raw if raw is not None else pack(value)
        entries.append({"key": key, "kind": kind, "value_hex": vb.hex(),
                        "json": json_desc if json_desc is not None else J(value)})

    add("ds:map:user", "map", smap({"name": "Ada Lovelace", "age": 36, "tags": ["math", "poetry"],
                                    "active": True}))
    add("ds:map:nested", "map", smap({"a": {"b": {"c": [True, None, -1.5]}}, "z": {}}))
    add("ds:map:empty", "map", {})
    add("ds:vec:embedding", "float_vector", [0.1, -0.2, 0.30000000000000004, 1.0, -1.0, 1234.5678,
                                             0.0, 3.141592653589793])
    add("ds:array:nested", "nested_array", [[1, 2], [3, [4, 5, [6]]], [], [[[]]]])
    add("ds:array:empty", "nested_array", [])
    add("ds:array:mixed", "array", [1, "two", 3.5, None, False, smap({"k": "v"}), b"\x01\x02"])
    add("ds:bin", "binary", bytes(range(0, 256, 7)) + b"\x00\xff")
    add("ds:bin:empty", "binary", b"")
    add("ds:\u043a\u043b\u044e\u0447:\u30e6\u30cb\u30b3\u30fc\u30c9:\U0001F600", "unicode",
        "na\u00efve caf\u00e9 \u2615 \U0001D11E \u65e5\u672c")
    add("ds:str:empty", "str", "")
    add("ds:str:long", "str", "lorem ipsum " * 25)       # 300 bytes: str 16
    add("ds:int:neg", "int", -42)
    add("ds:int:zero", "int", 0)
    add("ds:int:u32max", "int", 0xFFFFFFFF)
    add("ds:int:u64max", "int", 0xFFFFFFFFFFFFFFFF)
    add("ds:int:i64min", "int", -0x8000000000000000)
    add("ds:f32", "float32", None, raw=f32(1.5).data, json_desc={"f32": 1.5})
    add("ds:f64", "float64", -2.5)
    add("ds:bool:true", "bool", True)
    add("ds:bool:false", "bool", False)
    add("ds:nil", "nil", None)
    add("ds: key with spaces:and:colons", "str", "spaces and colons")
    return {"format": "litestash-dataset/1", "entries": entries}


# ---------------------------------------------------------------------------------------------

def _check_floats(o):
    """Floats in the JSON must parse simply: a '.', no exponent (see README)."""
    if isinstance(o, float):
        assert "." in repr(o) and "e" not in repr(o), o
    elif isinstance(o, dict):
        for v in o.values():
            _check_floats(v)
    elif isinstance(o, list):
        for v in o:
            _check_floats(v)


def render(doc):
    _check_floats(doc)
    return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8"), pack(doc)


def emit(directory, docs, check, script):
    """Writes each (name, doc) of `docs` as directory/name.json and .msgpack (render()), or
    with `check` only compares them with the files there. Returns the exit status: 1 when a
    checked file is stale or missing (named on stderr, with `script` to run), else 0."""
    stale = []
    for name, doc in docs:
        js, mp = render(doc)
        for ext_, data in ((".json", js), (".msgpack", mp)):
            path = os.path.join(directory, name + ext_)
            if check:
                try:
                    with open(path, "rb") as f:
                        if f.read() != data:
                            stale.append(path)
                except FileNotFoundError:
                    stale.append(path)
            else:
                with open(path, "wb") as f:
                    f.write(data)
                print("wrote %s (%d bytes)" % (os.path.relpath(path), len(data)))
    if check and stale:
        print("stale: " + ", ".join(stale) + " (run %s)" % script, file=sys.stderr)
        return 1
    return 0


def main(argv):
    builders = (("hash_vectors", build_hash_vectors), ("scenario", build_scenario),
                ("dataset", build_dataset))
    return emit(HERE, [(name, builder()) for name, builder in builders], "--check" in argv,
                "gen_vectors.py")

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
