"""Wire pieces shared by the sync and asyncio clients: routing, request encoding, the engine
command line, and one `Cmd` builder per operation (request fields + how to read the answer).

A frame is a 4-byte big-endian length then one MessagePack map. Requests are encoded here field
by field so pre-encoded values (`set_raw`, `mset_raw`, the values inside a `txn`'s ops) can be
embedded byte for byte.

Nothing here checks a request's fields beyond what encoding needs: the engine validates every
request and answers with its own error code, which the clients raise as typed exceptions.
"""
import dataclasses
import hashlib
import os
import shutil
import site
import struct
import sysconfig
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple

import msgpack

from . import rawmp
from .errors import EngineNotFound, HandshakeError, ProtocolError, from_response

PROTOCOL = 2                # the newest protocol this host speaks
PROTOCOLS = (1, 2)          # accepted in `hello` (2 is a superset of 1; streams need 2)
KEEP_ALL_VERSIONS = 0xFFFFFFFF   # hello's `keep_versions` meaning "all"
HASH = "blake2b-512"
DEFAULT_SHARDS = 16


# --- routing -----------------------------------------------------------------------------------

def key_digest(key: str) -> bytes:
    """BLAKE2b-512 (unkeyed, 64 bytes) of the key's UTF-8 bytes."""
    return hashlib.blake2b(key.encode("utf-8"), digest_size=64).digest()


def shard_for(key: str, shards: int) -> int:
    """First 8 digest bytes as a big-endian uint64, modulo the shard count."""
    return int.from_bytes(key_digest(key)[:8], "big") % shards


# --- engine command line -------------------------------------------------------------------------

ENGINE_NAME = "litestash-engine"
DEFAULT_LOG_LEVEL = "warn"


def _resolve(path: str) -> Optional[str]:
    """`path` if it names an executable file; a bare name is looked up on $PATH."""
    if os.sep not in path:
        return shutil.which(path)
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def scripts_dirs() -> List[str]:
    """Where pip puts the programs of this interpreter's environment: its scripts dir (a venv's
    bin/, also when the venv is not activated) and the user scheme's (~/.local/bin). The
    `litestash-engine` wheel installs the engine there."""
    dirs = [sysconfig.get_path("scripts")]
    if site.ENABLE_USER_SITE:
        try:
            dirs.append(sysconfig.get_path("scripts", "%s_user" % os.name))
        except KeyError:
            pass
    return [d for i, d in enumerate(dirs) if d and d not in dirs[:i]]


def find_engine(engine: Optional[str] = None) -> str:
    """The engine binary: the explicit `engine` if given, else $LITESTASH_ENGINE if set, else
    `litestash-engine` on $PATH, else in this interpreter's scripts dirs (`scripts_dirs()`,
    where `pip install litestash-engine` puts it). Raises EngineNotFound saying where it
    looked."""
    if engine:
        engine = os.fspath(engine)
        found = _resolve(engine)
        if found is None:
            where = "an executable file" if os.sep in engine else "a command on $PATH"
            raise EngineNotFound("litestash-engine not found: engine=%r is not %s"
                                 % (engine, where))
        return found
    env = os.environ.get("LITESTASH_ENGINE")
    if env:
        found = _resolve(env)
        if found is None:
            where = "an executable file" if os.sep in env else "a command on $PATH"
            raise EngineNotFound("litestash-engine not found: $LITESTASH_ENGINE=%r is not %s"
                                 % (env, where))
        return found
    found = shutil.which(ENGINE_NAME)
    if found is not None:
        return found
    dirs = scripts_dirs()
    for d in dirs:
        found = _resolve(os.path.join(d, ENGINE_NAME))
        if found is not None:
            return found
    raise EngineNotFound("litestash-engine not found: no engine= given, $LITESTASH_ENGINE is "
                         "not set, and no %s on $PATH (%s) nor in %s"
                         % (ENGINE_NAME, os.environ.get("PATH", ""), os.pathsep.join(dirs)))


def engine_argv(engine: Optional[str], data_dir: Optional[str], shards: int, flags: dict) -> List[str]:
    """Build argv. Flags: memory=True -> --memory; max_value_bytes=5 -> --max-value-bytes 5;
    False/None values are left out. The engine logs at `--log-level warn` unless `log_level` is
    given (log_level=None leaves the engine's own default, or $LITESTASH_LOG_LEVEL).
    keep_versions=KEEP_ALL_VERSIONS (what `hello` reports for "all") is passed as
    `--keep-versions all`, the only spelling the flag takes for it."""
    argv = [find_engine(engine)]
    if "log_level" not in flags:
        flags = dict(flags, log_level=DEFAULT_LOG_LEVEL)
    if data_dir is not None:
        argv += ["--data-dir", os.fspath(data_dir)]
    argv += ["--shards", str(shards)]
    for name, value in flags.items():
        opt = "--" + name.replace("_", "-")
        if name == "keep_versions" and value == KEEP_ALL_VERSIONS and not isinstance(value, bool):
            value = "all"
        if value is True:
            argv.append(opt)
        elif value is False or value is None:
            continue
        else:
            argv += [opt, str(value)]
    return argv


# --- encoding ----------------------------------------------------------------------------------

class Packed:
    """A value already encoded as exactly one MessagePack object; embedded verbatim."""
    __slots__ = ("data",)

    def __init__(self, data: bytes):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("packed value must be bytes, not %s" % type(data).__name__)
        data = bytes(data)
        if not rawmp.is_single_object(data):
            raise ValueError("packed value is not exactly one well-formed MessagePack object")
        self.data = data

    @classmethod
    def trusted(cls, data: bytes) -> "Packed":
        """Wrap bytes this module encoded itself (skips the well-formedness walk)."""
        obj = cls.__new__(cls)
        obj.data = data
        return obj


# One Packer for numbers and short str/bytes, shared by every thread: packing them runs no
# Python code (no callback, no subclass method), so no other thread can run inside a call, and
# a failed call (an int out of range) leaves the Packer empty. A Packer starts with a 1 MiB
# buffer and never shrinks it, so longer values get a fresh one (packb), as does anything else.
# Reusing one saves that set-up, a third of what packing a short value costs.
_pack_shared = msgpack.Packer(use_bin_type=True).pack
_NUMBERS = frozenset((int, float, bool, type(None)))
_SHARED_MAX_LEN = 1 << 16   # str/bytes up to this length (4x in UTF-8: still within 1 MiB)


def _packb(value: Any) -> bytes:
    t = type(value)
    if t in _NUMBERS or ((t is bytes or t is str) and len(value) <= _SHARED_MAX_LEN):
        return _pack_shared(value)
    return msgpack.packb(value, use_bin_type=True)


def pack_value(value: Any) -> bytes:
    if isinstance(value, Packed):
        return value.data
    return _packb(value)


def _pack_field(value: Any) -> bytes:
    if isinstance(value, Packed):
        return value.data
    if isinstance(value, list) and any(isinstance(v, (Packed, list)) for v in value):
        return rawmp.array_header(len(value)) + b"".join(_pack_field(v) for v in value)
    return _packb(value)


class _PackedNames(dict):
    """Field and op names (a handful of short str), each packed once on first use (up to 256
    of them: names made up by a caller are packed each time)."""

    def __missing__(self, name: str) -> bytes:
        packed = msgpack.packb(name)
        if len(self) < 256:
            self[name] = packed
        return packed


_packed_name = _PackedNames()
_ID = msgpack.packb("id")
_OP = msgpack.packb("op")


def encode_request(req_id: int, op: str, fields: List[Tuple[str, Any]]) -> bytes:
    """The body of one request frame: {"id", "op", *fields} in that order."""
    parts = [rawmp.map_header(2 + len(fields)), _ID, _pack_shared(req_id), _OP, _packed_name[op]]
    for name, value in fields:
        parts.append(_packed_name[name])
        parts.append(_pack_field(value))
    return b"".join(parts)


_frame_length = struct.Struct(">I").pack


def frame(body: bytes) -> bytes:
    return _frame_length(len(body)) + body


def decode(body: bytes) -> Any:
    """Decode a response body (ext types and invalid UTF-8 survive decoding)."""
    return msgpack.unpackb(body, raw=False, strict_map_key=False, unicode_errors="surrogateescape")


def decode_value(data: bytes) -> Any:
    return decode(data)


# --- one builder per op --------------------------------------------------------------------------

class Ttl(NamedTuple):
    """Answer of `ttl`: whether the key exists, and its remaining ms (None: never expires)."""
    found: bool
    ttl_ms: Optional[int]


class Cmd(NamedTuple):
    op: str
    fields: List[Tuple[str, Any]]
    convert: Callable[[dict, bytes], Any]   # (decoded response, raw body) -> result
    wait: float = 0.0   # seconds the engine may legitimately hold the answer (xread wait_ms)
    long: bool = False  # answered when its work is done, however long (compact, backup)


def answer_timeout(cmd: Cmd, timeout: Optional[float], long_timeout: Optional[float],
                   override: Optional[float] = None) -> Optional[float]:
    """Seconds a client waits for `cmd`'s answer (None: no bound). Shared by both clients.

    An ordinary request: the client's `timeout`, plus the `wait_ms` of a blocking `xread`.
    A long request (`compact`, `backup`: the engine answers when the whole data dir is done):
    `override` (the call's own `timeout=`) if given, else the client's `long_timeout`; the
    ordinary `timeout` never applies to them, since their duration grows with the data.
    """
    if cmd.long:
        return override if override is not None else long_timeout
    if timeout is not None and cmd.wait:
        return timeout + cmd.wait
    return timeout


class Entry(NamedTuple):
    """One stream entry: its entry `id` (1, 2, ... per stream), `ts` (µs since the epoch, a
    version of the stream's shard) and `value` (decoded, or the exact MessagePack bytes for the
    `_raw` methods)."""
    id: int
    ts: int
    value: Any


class Appended(NamedTuple):
    """Answer of `xadd`: the new entry's id and ts."""
    entry_id: int
    ts: int


@dataclasses.dataclass(frozen=True)
class StreamInfo:
    """Answer of `xinfo`. For a stream that does not exist: exists False, length 0, every other
    field None and no groups. For an empty (trimmed) stream: first_id == last_id + 1."""
    exists: bool
    length: int
    first_id: Optional[int]
    last_id: Optional[int]
    first_ts: Optional[int]
    last_ts: Optional[int]
    maxlen: Optional[int]
    max_age_ms: Optional[int]
    groups: Dict[str, int]

    def lag(self, group: str) -> Optional[int]:
        """Entries after `group`'s committed offset (last_id - committed); None when the group
        never committed on this stream."""
        if group not in self.groups:
            return None
        return max(0, (self.last_id or 0) - self.groups[group])


class KeyVersion(NamedTuple):
    """One version of a key as `versions` lists it: `deleted` is True for a tombstone (the
    version a `delete` recorded while history was kept)."""
    version: int
    deleted: bool


class Versions(NamedTuple):
    """Answer of `versions`: one page of a key's versions, newest first (its current version
    first when the key is live, then its retained history). `deleted[i]` tells whether
    `versions[i]` is a tombstone; `more` is True when older versions exist beyond the page (ask
    again with `before=versions[-1]`). An absent key without history, or an expired key, gives
    empty lists."""
    versions: List[int]
    deleted: List[bool]
    more: bool

    def pairs(self) -> List[KeyVersion]:
        """The page as KeyVersion(version, deleted) pairs, newest first."""
        return [KeyVersion(v, d) for v, d in zip(self.versions, self.deleted)]


@dataclasses.dataclass(frozen=True)
class CompactResult:
    """Answer of `compact`, summed over all shards. `expired_removed`: expired keys deleted;
    `versions_removed`: superseded versions and tombstones trimmed beyond the depth;
    `entries_removed`: stream entries past their age retention; `bytes_reclaimed`: how much the
    shard files shrank. `steps` (bounded steps run) and `max_step_us` (the longest, i.e. the
    most any request waited behind compact) are this engine's additions to the contract: None
    from an engine that does not send them."""
    expired_removed: int
    versions_removed: int
    entries_removed: int
    bytes_reclaimed: int
    steps: Optional[int] = None
    max_step_us: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class BackupResult:
    """Answer of `backup`: `dir` (the copy, as sent to the engine: a relative str or path-like
    joined to this process's current directory), `shards` (shard files copied) and `bytes` (the
    copy's size). `dir` is a data dir an engine opens as it is (same shard count)."""
    dir: Any
    shards: int
    bytes: int


def _ok(resp, body):
    return None


def _field(name):
    return lambda resp, body: resp[name]


_VERSION = _field("version")


def _raw_value(resp, body):
    if not resp.get("found"):
        return None
    s, e = rawmp.map_spans(body)["value"]
    return bytes(body[s:e])


def _entries(resp, body):
    return [Entry(e[0], e[1], e[2]) for e in resp["entries"]], resp["more"]


def _raw_entries(resp, body):
    """Entries with each value as the exact bytes of the answer (ids and ts decoded)."""
    s, e = rawmp.map_spans(body)["entries"]
    out = []
    for (es, ee), dec in zip(rawmp.array_spans(body, s, e), resp["entries"]):
        vs, ve = rawmp.array_spans(body, es, ee)[2]
        out.append(Entry(dec[0], dec[1], bytes(body[vs:ve])))
    return out, resp["more"]


def _xinfo(resp, body):
    return StreamInfo(exists=bool(resp["exists"]), length=resp["length"], first_id=resp["first_id"],
                      last_id=resp["last_id"], first_ts=resp["first_ts"], last_ts=resp["last_ts"],
                      maxlen=resp["maxlen"], max_age_ms=resp["max_age_ms"],
                      groups=dict(resp["groups"]))


def _versions(resp, body):
    versions, deleted = list(resp["versions"]), [bool(d) for d in resp["deleted"]]
    if len(versions) != len(deleted):
        raise ValueError("%d versions but %d deleted flags" % (len(versions), len(deleted)))
    return Versions(versions, deleted, bool(resp["more"]))


def _compact(resp, body):
    return CompactResult(expired_removed=resp["expired_removed"],
                         versions_removed=resp["versions_removed"],
                         entries_removed=resp["entries_removed"],
                         bytes_reclaimed=resp["bytes_reclaimed"],
                         steps=resp.get("steps"), max_step_us=resp.get("max_step_us"))


def _uint(x):
    if not isinstance(x, int) or isinstance(x, bool):
        raise ValueError("expected a uint, got %r" % (x,))
    return x


def _bool(x):
    if not isinstance(x, bool):
        raise ValueError("expected a bool, got %r" % (x,))
    return x


# What each kind of `txn` op answers in `results`: a set's new version, a delete's `deleted`,
# an xadd's entry id. An op of another kind is refused by the engine before anything runs.
TXN_RESULTS = {"set": _uint, "delete": _bool, "xadd": _uint}


def txn_op(op: Any) -> "Packed":
    """One `txn` op, encoded: a mapping's fields in order, its `value` encoded like a top-level
    value (a `Packed` verbatim, anything else with msgpack). A `Packed` op is embedded as it is;
    anything else is encoded with msgpack, for the engine to refuse with its own error."""
    if isinstance(op, Packed):
        return op
    if not isinstance(op, Mapping):
        return Packed.trusted(msgpack.packb(op, use_bin_type=True))
    parts = [rawmp.map_header(len(op))]
    for name, value in op.items():
        parts.append(msgpack.packb(name, use_bin_type=True))
        parts.append(pack_value(value) if name == "value" else _pack_field(value))
    return Packed.trusted(b"".join(parts))


def _txn_results(kinds: List[Any]):
    """Results checked and typed by the kind of each op (`kinds`: each op's "op" field)."""
    def convert(resp, body):
        results = resp["results"]
        if len(results) != len(kinds):
            raise ValueError("%d results for %d ops" % (len(results), len(kinds)))
        return [TXN_RESULTS[k](r) if isinstance(k, str) and k in TXN_RESULTS else r
                for k, r in zip(kinds, results)]
    return convert


def _raw_values(resp, body):
    spans = rawmp.map_spans(body)
    s, e = spans["values"]
    out = []
    for found, (vs, ve) in zip(resp["found"], rawmp.array_spans(body, s, e)):
        out.append(bytes(body[vs:ve]) if found else None)
    return out


class Commands:
    """Builds a `Cmd` for every op. `shards` is the engine's shard count used for routing."""

    def __init__(self, shards: int, route: bool = True):
        self.shards = shards
        self.route = route

    def _key(self, key) -> List[Tuple[str, Any]]:
        fields = [("key", key)]
        # Route what can be routed; anything else is sent as is and the engine rejects it
        # with its own code (type_error for a non-str, invalid_key for empty/too long).
        if self.route and isinstance(key, str) and key:
            try:
                fields.append(("shard", shard_for(key, self.shards)))
            except UnicodeEncodeError:
                pass
        return fields

    @staticmethod
    def _ttl(fields, ttl_ms):
        if ttl_ms is not None:
            fields.append(("ttl_ms", ttl_ms))
        return fields

    def hello(self):
        return Cmd("hello", [], lambda r, b: {k: v for k, v in r.items() if k not in ("id", "ok")})

    def ping(self):
        return Cmd("ping", [], lambda r, b: True)

    def set(self, key, value, ttl_ms=None, if_version=None):
        f = self._key(key)
        f.insert(1, ("value", value if isinstance(value, Packed) else Packed.trusted(pack_value(value))))
        if ttl_ms is not None:
            f.append(("ttl_ms", ttl_ms))
        if if_version is not None:
            f.append(("if_version", if_version))
        return Cmd("set", f, _VERSION)

    def set_raw(self, key, packed: bytes, ttl_ms=None, if_version=None):
        return self.set(key, Packed(packed), ttl_ms, if_version)

    def get(self, key, default=None, version=None):
        return Cmd("get", self._opt(self._key(key), version=version),
                   lambda r, b: r["value"] if r.get("found") else default)

    def get_with_version(self, key, version=None):
        return Cmd("get", self._opt(self._key(key), version=version),
                   lambda r, b: (r["value"], r["version"]) if r.get("found") else None)

    def get_raw(self, key, version=None):
        return Cmd("get", self._opt(self._key(key), version=version), _raw_value)

    def delete(self, key, if_version=None):
        return Cmd("delete", self._opt(self._key(key), if_version=if_version), _field("deleted"))

    def versions(self, key, limit=None, before=None):
        return Cmd("versions", self._opt(self._key(key), limit=limit, before=before), _versions)

    def exists(self, key):
        return Cmd("exists", self._key(key), _field("exists"))

    @staticmethod
    def _pairs(entries):
        items = entries.items() if hasattr(entries, "items") else entries
        out = []
        for pair in items:
            k, v = pair
            out.append([k, v if isinstance(v, Packed) else Packed.trusted(pack_value(v))])
        return out

    def mset(self, entries, ttl_ms=None):
        return Cmd("mset", self._ttl([("entries", self._pairs(entries))], ttl_ms), _field("count"))

    def mset_raw(self, entries, ttl_ms=None):
        items = entries.items() if hasattr(entries, "items") else entries
        return self.mset([(k, Packed(v)) for k, v in items], ttl_ms)

    def mget(self, keys, default=None):
        keys = list(keys)
        return Cmd("mget", [("keys", keys)],
                   lambda r, b: [v if f else default for f, v in zip(r["found"], r["values"])])

    def mget_raw(self, keys):
        return Cmd("mget", [("keys", list(keys))], _raw_values)

    def mdelete(self, keys):
        return Cmd("mdelete", [("keys", list(keys))], _field("deleted"))

    def scan(self, prefix=None, after=None, limit=None):
        f = []
        if prefix is not None:
            f.append(("prefix", prefix))
        if after is not None:
            f.append(("after", after))
        if limit is not None:
            f.append(("limit", limit))
        return Cmd("scan", f, lambda r, b: (r["keys"], r["more"]))

    def count(self):
        return Cmd("count", [], _field("count"))

    def clear(self):
        return Cmd("clear", [], _ok)

    def expire(self, key, ttl_ms):
        return Cmd("expire", self._key(key) + [("ttl_ms", ttl_ms)], _field("updated"))

    def ttl(self, key):
        return Cmd("ttl", self._key(key), lambda r, b: Ttl(bool(r["found"]), r.get("ttl_ms")))

    def persist(self, key):
        return Cmd("persist", self._key(key), _field("updated"))

    def stats(self):
        return Cmd("stats", [], lambda r, b: {k: v for k, v in r.items() if k not in ("id", "ok")})

    def sync(self):
        return Cmd("sync", [], _ok)

    # --- transactions, housekeeping (protocol 2) ----------------------------------------------
    def txn(self, ops, checks=None):
        """`ops`: mappings as on the wire ({"op": "set", "key", "value", "ttl_ms"?}, {"op":
        "delete", "key"}, {"op": "xadd", "stream", "value"}); values are encoded here. `checks`:
        [key, version] pairs, sent when not None. Nothing else is checked (the engine is)."""
        ops = list(ops)
        kinds = [op.get("op") if isinstance(op, Mapping) else None for op in ops]
        fields = [] if checks is None else [("checks", list(checks))]   # (key, version) pairs
        fields.append(("ops", [txn_op(op) for op in ops]))
        return Cmd("txn", fields, _txn_results(kinds))

    def compact(self, keep_versions=None):
        return Cmd("compact", self._opt([], keep_versions=keep_versions), _compact, long=True)

    def backup(self, dir):
        if isinstance(dir, os.PathLike):
            dir = os.fspath(dir)
        if isinstance(dir, str) and dir and not os.path.isabs(dir):
            dir = os.path.join(os.getcwd(), dir)   # as this process sees it (the engine's cwd may differ)
        return Cmd("backup", [("dir", dir)],
                   lambda r, b: BackupResult(dir=dir, shards=r["shards"], bytes=r["bytes"]), long=True)

    # --- streams (protocol 2); routed by stream name exactly like keys ------------------------
    def _stream(self, stream) -> List[Tuple[str, Any]]:
        fields = [("stream", stream)]
        if self.route and isinstance(stream, str) and stream:
            try:
                fields.append(("shard", shard_for(stream, self.shards)))
            except UnicodeEncodeError:
                pass
        return fields

    @staticmethod
    def _opt(fields, **named):
        for name, value in named.items():
            if value is not None:
                fields.append((name, value))
        return fields

    def xadd(self, stream, value, maxlen=None, max_age_ms=None):
        f = self._stream(stream)
        f.insert(1, ("value", value if isinstance(value, Packed) else Packed.trusted(pack_value(value))))
        return Cmd("xadd", self._opt(f, maxlen=maxlen, max_age_ms=max_age_ms),
                   lambda r, b: Appended(r["entry_id"], r["ts"]))

    def xadd_raw(self, stream, packed: bytes, maxlen=None, max_age_ms=None):
        return self.xadd(stream, Packed(packed), maxlen, max_age_ms)

    def _xget(self, stream, ids, convert):
        f = self._stream(stream)
        f.insert(1, ("ids", list(ids)))
        return Cmd("xget", f, convert)

    def xget(self, stream, ids, default=None):
        return self._xget(stream, ids, lambda r, b: [v if f else default
                                                     for f, v in zip(r["found"], r["values"])])

    def xget_raw(self, stream, ids):
        return self._xget(stream, ids, _raw_values)

    def xget_entries(self, stream, ids, raw=False):
        ids = list(ids)

        def convert(r, b):
            values = _raw_values(r, b) if raw else r["values"]
            return [Entry(i, t, v) if f else None
                    for i, f, v, t in zip(ids, r["found"], values, r["ts"])]
        return self._xget(stream, ids, convert)

    def xrange(self, stream, after=None, before=None, limit=None, raw=False):
        f = self._stream(stream)
        f[1:1] = [(n, v) for n, v in (("after", after), ("before", before), ("limit", limit))
                  if v is not None]
        return Cmd("xrange", f, _raw_entries if raw else _entries)

    def xread(self, stream, after, limit=None, wait_ms=None, raw=False):
        f = self._stream(stream)
        f[1:1] = [(n, v) for n, v in (("after", after), ("limit", limit), ("wait_ms", wait_ms))
                  if v is not None]
        wait = wait_ms / 1000.0 if isinstance(wait_ms, (int, float)) and wait_ms > 0 else 0.0
        return Cmd("xread", f, _raw_entries if raw else _entries, wait)

    def xinfo(self, stream):
        return Cmd("xinfo", self._stream(stream), _xinfo)

    def xtrim(self, stream, maxlen=None, min_id=None, max_age_ms=None):
        f = self._stream(stream)
        f[1:1] = [(n, v) for n, v in (("maxlen", maxlen), ("min_id", min_id),
                                      ("max_age_ms", max_age_ms)) if v is not None]
        return Cmd("xtrim", f, _field("removed"))

    def xdrop(self, stream):
        return Cmd("xdrop", self._stream(stream), _field("dropped"))

    def xstreams(self, prefix=None, after=None, limit=None):
        f = self._opt([], prefix=prefix, after=after, limit=limit)
        return Cmd("xstreams", f, lambda r, b: (r["streams"], r["more"]))

    def xcommit(self, stream, group, entry_id):
        f = self._stream(stream)
        f[1:1] = [("group", group), ("entry_id", entry_id)]
        return Cmd("xcommit", f, _ok)

    def xoffset(self, stream, group):
        f = self._stream(stream)
        f.insert(1, ("group", group))
        return Cmd("xoffset", f, lambda r, b: r["entry_id"])


def check_hello(info: dict, shards: int) -> None:
    proto = info.get("protocol")
    if not isinstance(proto, int) or isinstance(proto, bool) or proto not in PROTOCOLS:
        raise HandshakeError("engine speaks protocol %r, this host speaks %s"
                             % (proto, " or ".join(map(str, PROTOCOLS))))
    if info.get("hash") != HASH:
        raise HandshakeError("engine routes with %r, this host with %s" % (info.get("hash"), HASH))
    if info.get("shards") != shards:
        raise HandshakeError("engine has %r shards, this host asked for %d" % (info.get("shards"), shards))


def check_response(resp: Any, req_id: Optional[int]) -> None:
    if not isinstance(resp, dict) or not isinstance(resp.get("ok"), bool):
        raise ProtocolError("response is not a map with a bool `ok`: %r" % (resp,))
    if req_id is not None and resp.get("id") is not None and resp.get("id") != req_id:
        raise ProtocolError("response id %r does not match request id %r" % (resp.get("id"), req_id))


def result_of(cmd: "Cmd", resp: dict, raw: bytes, req_id: int) -> Any:
    """The command's result from its matched answer, or the typed error it carries.
    Shared by the sync and asyncio clients."""
    if not resp["ok"]:
        raise from_response(resp)
    if resp.get("id") != req_id:
        raise ProtocolError("success response id %r for request %d" % (resp.get("id"), req_id))
    try:
        return cmd.convert(resp, raw)
    except (KeyError, TypeError, ValueError) as e:
        raise ProtocolError("malformed %s answer %r: %s" % (cmd.op, resp, e)) from None
