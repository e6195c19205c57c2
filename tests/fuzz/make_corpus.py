#!/usr/bin/python3
"""Writes the seed corpora of the libFuzzer targets in tests/fuzz/.

    /usr/bin/python3 tests/fuzz/make_corpus.py [OUT_DIR]     (default: tests/fuzz/corpus)

Creates OUT_DIR/request_decoder_fuzz/ and OUT_DIR/frame_reader_fuzz/, replacing the files this
script owns (every *.bin in them). Seeds are small (< 2 KiB) so libFuzzer's default max_len
stays near 4 KiB; they cover:
- request_decoder_fuzz (input = one frame body, also fed to a Session as a raw stream): a valid
  request for every op of contract v1 with its optional fields, and hostile variants - invalid
  UTF-8 / empty / overlong / non-str keys, wrong field types, duplicate and unknown fields,
  trailing bytes, reserved byte 0xc1, nesting at and beyond the 512 limit, declared
  array/map/str/bin/ext sizes far beyond the bytes present, range errors - plus a few whole
  streams (several frames, zero length, oversized header, truncated frame).
- frame_reader_fuzz (input = 1 config byte + stream; bits 0-1 of the config pick the frame
  limit 64 KiB / 1 / 10 / 300, bits 2-7 seed the split points): frames split anywhere, oversize
  headers (skipped bodies), zero lengths, a body of exactly the limit, truncated headers/bodies.
Deterministic: the same files every run (needs Debian's python3-msgpack).
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import msgpack


def pack(obj) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def raw_map(*pairs: tuple[bytes, bytes]) -> bytes:
    """A map from already-encoded (key, value) byte pairs (for malformed or odd encodings)."""
    n = len(pairs)
    head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
    return head + b"".join(k + v for k, v in pairs)


def s(text: str) -> bytes:
    return pack(text)


def request_seeds() -> dict[str, bytes]:
    seeds: dict[str, bytes] = {}
    # --- one valid request per op, with optional fields
    valid = {
        "hello": {"id": 1, "op": "hello"},
        "ping": {"id": 2, "op": "ping"},
        "set": {"id": 3, "op": "set", "key": "user:1", "value": {"name": "ada", "n": [1, 2.5, None]}},
        "set_ttl_shard": {"id": 4, "op": "set", "key": "k", "value": b"\x00\x01", "ttl_ms": 1000,
                          "shard": 7},
        "get": {"id": 5, "op": "get", "key": "k"},
        "get_shard": {"id": 6, "op": "get", "key": "клю́ч", "shard": 3},
        "delete": {"id": 7, "op": "delete", "key": "k"},
        "exists": {"id": 8, "op": "exists", "key": "k"},
        "mset": {"id": 9, "op": "mset", "entries": [["a", 1], ["b", "two"], ["c", [3]]]},
        "mset_ttl": {"id": 10, "op": "mset", "entries": [["a", None]], "ttl_ms": 5},
        "mget": {"id": 11, "op": "mget", "keys": ["a", "b", "c"]},
        "mdelete": {"id": 12, "op": "mdelete", "keys": ["a"]},
        "scan": {"id": 13, "op": "scan"},
        "scan_all_fields": {"id": 14, "op": "scan", "prefix": "user:", "after": "user:1",
                            "limit": 10000},
        "count": {"id": 15, "op": "count"},
        "clear": {"id": 16, "op": "clear"},
        "expire": {"id": 17, "op": "expire", "key": "k", "ttl_ms": 1},
        "ttl": {"id": 18, "op": "ttl", "key": "k"},
        "persist": {"id": 19, "op": "persist", "key": "k"},
        "stats": {"id": 20, "op": "stats"},
        "sync": {"id": 21, "op": "sync"},
        "id_max": {"id": 2**64 - 1, "op": "ping"},
        "value_ext_float": {"id": 22, "op": "set", "key": "e",
                            "value": [msgpack.ExtType(5, b"abcd"), 1.5, -7, True]},
        # streams (contract v2 section 2)
        "xadd": {"id": 60, "op": "xadd", "stream": "orders", "value": {"n": 1}},
        "xadd_retention": {"id": 61, "op": "xadd", "stream": "log", "value": b"\x01",
                           "maxlen": 100, "max_age_ms": 60000, "shard": 5},
        "xget": {"id": 62, "op": "xget", "stream": "orders", "ids": [1, 2, 2**63]},
        "xrange": {"id": 63, "op": "xrange", "stream": "orders", "after": 3, "before": 9,
                   "limit": 10000},
        "xrange_before": {"id": 64, "op": "xrange", "stream": "s", "before": 7, "limit": 1},
        "xread": {"id": 65, "op": "xread", "stream": "s", "after": 0, "wait_ms": 60000},
        "xinfo": {"id": 66, "op": "xinfo", "stream": "s"},
        "xtrim": {"id": 67, "op": "xtrim", "stream": "s", "maxlen": 0, "min_id": 5,
                  "max_age_ms": 0},
        "xdrop": {"id": 68, "op": "xdrop", "stream": "s"},
        "xstreams": {"id": 69, "op": "xstreams", "prefix": "o", "after": "or", "limit": 1},
        "xcommit": {"id": 70, "op": "xcommit", "stream": "s", "group": "g", "entry_id": 3},
        "xoffset": {"id": 71, "op": "xoffset", "stream": "s", "group": "g"},
        # versions, compare-and-set, transactions, maintenance (contract v2 sections 3-7)
        "set_if_version": {"id": 80, "op": "set", "key": "c", "value": 2, "if_version": 0},
        "delete_if_version": {"id": 81, "op": "delete", "key": "c", "if_version": 2**63},
        "get_version": {"id": 82, "op": "get", "key": "c", "version": 1796000000000000},
        "versions": {"id": 83, "op": "versions", "key": "c", "limit": 10000, "before": 7},
        "txn": {"id": 84, "op": "txn", "checks": [["a", 0], ["b", 17]],
                "ops": [{"op": "set", "key": "a", "value": 1, "ttl_ms": 5},
                        {"op": "delete", "key": "b"},
                        {"op": "xadd", "stream": "s", "value": [1, 2]}]},
        "compact": {"id": 85, "op": "compact", "keep_versions": 0},
        "backup": {"id": 86, "op": "backup", "dir": "/nonexistent/litestash-fuzz-backup"},
    }
    for name, req in valid.items():
        seeds[f"ok_{name}"] = pack(req)
    # Field order differs from the usual one; value bytes are a raw, unusual encoding (str8 "a").
    seeds["ok_set_odd_order"] = raw_map((s("value"), b"\xd9\x01a"), (s("key"), s("k")),
                                        (s("op"), s("set")), (s("id"), b"\xcf" + bytes(7) + b"\x01"))

    # --- key rules and field types
    seeds["key_invalid_utf8"] = raw_map((s("id"), pack(30)), (s("op"), s("get")),
                                        (s("key"), b"\xa3\xff\xfe\xfd"))
    seeds["key_surrogate"] = raw_map((s("id"), pack(31)), (s("op"), s("get")),
                                     (s("key"), b"\xa3\xed\xa0\x80"))
    seeds["key_overlong"] = raw_map((s("id"), pack(32)), (s("op"), s("get")),
                                    (s("key"), b"\xa2\xc0\xaf"))
    seeds["key_empty"] = pack({"id": 33, "op": "get", "key": ""})
    seeds["key_too_long"] = pack({"id": 34, "op": "get", "key": "x" * 1025})
    seeds["key_bin"] = pack({"id": 35, "op": "get", "key": b"bin-key"})
    seeds["keys_mixed_bad"] = raw_map((s("id"), pack(36)), (s("op"), s("mget")),
                                      (s("keys"), b"\x94\xa1a\xa0\x01\xa2\xc3\x28"))
    seeds["entries_bad_pair"] = pack({"id": 37, "op": "mset", "entries": [["a", 1, 2], ["b"]]})
    seeds["op_not_str"] = pack({"id": 38, "op": 5})
    seeds["op_unknown"] = pack({"id": 39, "op": "frobnicate"})
    seeds["id_negative"] = pack({"id": -1, "op": "ping"})
    seeds["id_missing"] = pack({"op": "ping"})
    seeds["ttl_zero"] = pack({"id": 40, "op": "expire", "key": "k", "ttl_ms": 0})
    seeds["limit_too_big"] = pack({"id": 41, "op": "scan", "limit": 10001})
    seeds["prefix_invalid_utf8"] = raw_map((s("id"), pack(42)), (s("op"), s("scan")),
                                           (s("prefix"), b"\xa1\x80"))
    seeds["field_not_str"] = raw_map((s("id"), pack(43)), (s("op"), s("ping")), (b"\x07", b"\xc0"))
    seeds["field_unknown"] = pack({"id": 44, "op": "ping", "extra": 1})
    seeds["field_not_for_op"] = pack({"id": 45, "op": "ping", "key": "k"})
    seeds["field_duplicate"] = raw_map((s("id"), pack(46)), (s("op"), s("get")),
                                       (s("key"), s("a")), (s("key"), s("b")))
    seeds["value_missing"] = pack({"id": 47, "op": "set", "key": "k"})
    # stream fields: ranges, types, the xtrim rule, names breaking the key rules
    seeds["xadd_maxlen_zero"] = pack({"id": 72, "op": "xadd", "stream": "s", "value": 1, "maxlen": 0})
    seeds["xread_wait_too_long"] = pack({"id": 73, "op": "xread", "stream": "s", "after": 0,
                                         "wait_ms": 60001})
    seeds["xread_no_after"] = pack({"id": 74, "op": "xread", "stream": "s"})
    seeds["xtrim_nothing"] = pack({"id": 75, "op": "xtrim", "stream": "s"})
    seeds["xget_ids_mixed"] = raw_map((s("id"), pack(76)), (s("op"), s("xget")),
                                      (s("stream"), s("s")), (s("ids"), b"\x93\x01\xa1x\xff"))
    seeds["xcommit_group_empty"] = pack({"id": 77, "op": "xcommit", "stream": "s", "group": "",
                                         "entry_id": 1})
    # txn: nested ops validated like top-level ones; limits; a key written twice
    seeds["txn_nested_bad_key"] = pack({"id": 87, "op": "txn",
                                        "ops": [{"op": "set", "key": "", "value": 1}]})
    seeds["txn_nested_unknown"] = pack({"id": 88, "op": "txn", "ops": [{"op": "get", "key": "a"}]})
    seeds["txn_twice"] = pack({"id": 89, "op": "txn", "ops": [{"op": "set", "key": "a", "value": 1},
                                                              {"op": "delete", "key": "a"}]})
    seeds["txn_empty"] = pack({"id": 90, "op": "txn", "ops": []})
    seeds["txn_check_short"] = pack({"id": 91, "op": "txn", "checks": [["a"]],
                                     "ops": [{"op": "delete", "key": "a"}]})
    seeds["txn_ops_not_maps"] = raw_map((s("id"), pack(92)), (s("op"), s("txn")),
                                        (s("ops"), b"\x92\x01\xc0"))
    seeds["stream_invalid_utf8"] = raw_map((s("id"), pack(78)), (s("op"), s("xinfo")),
                                           (s("stream"), b"\xa2\xc3\x28"))
    seeds["xrange_limit_zero"] = pack({"id": 79, "op": "xrange", "stream": "s", "limit": 0})

    # --- MessagePack shape
    seeds["empty_map"] = b"\x80"
    seeds["not_a_map"] = pack([1, "ping"])
    seeds["trailing_bytes"] = pack({"id": 48, "op": "ping"}) + b"\xc0"
    seeds["reserved_c1"] = raw_map((s("id"), pack(49)), (s("op"), s("set")), (s("key"), s("k")),
                                   (s("value"), b"\xc1"))
    seeds["truncated_map"] = pack({"id": 50, "op": "set", "key": "k", "value": "abc"})[:-2]
    depth_ok = b"\x91" * 512 + b"\xc0"   # value 512 arrays deep (513 with the request map)
    depth_bad = b"\x91" * 600 + b"\xc0"
    seeds["nesting_513"] = raw_map((s("id"), pack(59)), (s("op"), s("set")), (s("key"), s("k")),
                                   (s("value"), b"\x91" * 513 + b"\xc0"))
    seeds["nesting_512"] = raw_map((s("id"), pack(51)), (s("op"), s("set")), (s("key"), s("k")),
                                   (s("value"), depth_ok))
    seeds["nesting_600"] = raw_map((s("id"), pack(52)), (s("op"), s("set")), (s("key"), s("k")),
                                   (s("value"), depth_bad))
    seeds["nesting_maps"] = raw_map((s("id"), pack(53)), (s("op"), s("set")), (s("key"), s("k")),
                                    (s("value"), b"\x81\xa1k" * 200 + b"\x01"))
    huge = {
        "array32": b"\xdd\xff\xff\xff\xff",
        "map32": b"\xdf\xff\xff\xff\xff",
        "str32": b"\xdb\xff\xff\xff\xff" + b"ab",
        "bin32": b"\xc6\xff\xff\xff\xff" + b"ab",
        "ext32": b"\xc9\xff\xff\xff\xff\x01" + b"ab",
        "array16": b"\xdc\xff\xff" + b"\xc0" * 8,
    }
    for name, value in huge.items():
        seeds[f"huge_{name}_value"] = raw_map((s("id"), pack(54)), (s("op"), s("set")),
                                              (s("key"), s("k")), (s("value"), value))
    seeds["huge_keys_array"] = raw_map((s("id"), pack(55)), (s("op"), s("mget")),
                                       (s("keys"), b"\xdd\x7f\xff\xff\xff\xa1a"))
    seeds["huge_entries_array"] = raw_map((s("id"), pack(56)), (s("op"), s("mset")),
                                          (s("entries"), b"\xdd\x00\x01\x00\x00\x92\xa1a\x01"))
    seeds["huge_top_map"] = b"\xdf\xff\xff\xff\xff" + s("id") + pack(57)
    seeds["huge_key_str"] = raw_map((s("id"), pack(58)), (s("op"), s("get")),
                                    (s("key"), b"\xdb\x00\x10\x00\x00k"))

    # --- whole streams (as the Session sees stdin)
    ping, get = pack({"id": 60, "op": "ping"}), pack({"id": 61, "op": "get", "key": "k"})
    seeds["stream_two_frames"] = frame(ping) + frame(get)
    seeds["stream_zero_length"] = frame(ping) + b"\x00\x00\x00\x00" + frame(get)
    seeds["stream_oversized"] = b"\x00\x01\x00\x01" + b"\x00" * 40 + frame(ping)
    seeds["stream_huge_header"] = b"\xff\xff\xff\xff" + frame(ping)
    seeds["stream_truncated"] = frame(ping) + frame(get)[:-3]
    seeds["stream_bad_then_good"] = frame(b"\xc1") + frame(pack({"id": 62})) + frame(ping)
    return seeds


def frame_reader_seeds() -> dict[str, bytes]:
    body = pack({"id": 1, "op": "ping"})
    seeds: dict[str, bytes] = {}
    # config byte: limit index in bits 0-1 (0: 64 KiB, 1: 1, 2: 10, 3: 300), split seed above.
    seeds["one_frame"] = bytes([0x00]) + frame(body)
    seeds["three_frames_split"] = bytes([0x04 * 7]) + frame(body) * 3
    seeds["many_tiny_frames"] = bytes([0x04 * 9]) + frame(b"\xc0") * 40
    seeds["zero_length"] = bytes([0x00]) + b"\x00\x00\x00\x00" + frame(body)
    seeds["zero_lengths_only"] = bytes([0x04]) + b"\x00" * 32
    seeds["exact_limit_1"] = bytes([0x01]) + frame(b"x") + frame(b"yy") + frame(b"z")
    seeds["exact_limit_10"] = bytes([0x02]) + frame(b"0123456789") + frame(b"0123456789A")
    seeds["exact_limit_300"] = bytes([0x03 | 0x04 * 3]) + frame(b"a" * 300) + frame(b"b" * 301)
    seeds["oversize_skipped"] = bytes([0x02 | 0x04 * 5]) + frame(b"q" * 50) + frame(b"ok")
    seeds["oversize_64k_header"] = bytes([0x00]) + b"\x00\x01\x00\x01" + b"\x00" * 100
    seeds["oversize_max_header"] = bytes([0x00]) + b"\xff\xff\xff\xff" + b"abc"
    seeds["truncated_header"] = bytes([0x00]) + frame(body) + b"\x00\x00"
    seeds["truncated_body"] = bytes([0x04 * 2]) + frame(body) + frame(body)[:-1]
    seeds["header_only"] = bytes([0x00]) + b"\x00\x00\x00\x05"
    seeds["mixed"] = bytes([0x02 | 0x04 * 11]) + (b"\x00\x00\x00\x00" + frame(b"abc")
                                                   + frame(b"z" * 20) + frame(b"0123456789"))
    return seeds


def write(dir_: Path, seeds: dict[str, bytes]) -> None:
    dir_.mkdir(parents=True, exist_ok=True)
    for old in dir_.glob("*.bin"):
        old.unlink()
    for name, data in seeds.items():
        assert len(data) < 2048, name
        (dir_ / f"{name}.bin").write_bytes(data)


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "corpus"
    req, fr = request_seeds(), frame_reader_seeds()
    write(out / "request_decoder_fuzz", req)
    write(out / "frame_reader_fuzz", fr)
    print(f"wrote {len(req)} request_decoder_fuzz and {len(fr)} frame_reader_fuzz seeds to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
