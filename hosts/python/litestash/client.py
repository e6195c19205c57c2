"""Synchronous litestash client: spawns one engine and sends one request at a time.

    with LiteStash(data_dir="/tmp/stash") as db:
        db.set("user:1", {"name": "Ada"})
        db.get("user:1")            # {'name': 'Ada'}

The client routes every keyed request itself (BLAKE2b-512, first 8 bytes big-endian mod shards)
and sends `shard`, checks `hello` on start, raises typed `LiteStashError`s, and on `close()`
closes the engine's stdin, waits and checks the exit status is 0.

Protocol 2 adds history (`versions`, `get(..., version=)`), compare-and-set (`if_version=` on
`set`/`delete`, failing with `Conflict`), transactions (`txn`, `transaction()`), `compact` and
`backup`.
"""
import itertools
import threading
from typing import Any, FrozenSet, Iterable, Iterator, List, Optional, Tuple, Union

from . import protocol
from .consumer import Consumer
from .errors import EngineExited, FrameTooLarge, LiteStashError
from .process import EngineProcess
from .protocol import (Appended, BackupResult, Cmd, Commands, CompactResult, Entry, KeyVersion,
                       StreamInfo, Ttl, Versions, answer_timeout)
from .txn import Transaction


class LiteStash:
    """A litestash engine owned by this object. Thread-safe (requests are serialized)."""

    def __init__(self, data_dir=None, shards: int = protocol.DEFAULT_SHARDS, engine: Optional[str] = None,
                 *, timeout: Optional[float] = None, long_timeout: Optional[float] = None,
                 env: Optional[dict] = None, **flags):
        """Start `engine` (default: $LITESTASH_ENGINE, then `litestash-engine` on $PATH, then
        in this interpreter's scripts dir) on `data_dir`; EngineNotFound when there is none.

        Extra keyword flags become engine flags: memory=True -> --memory,
        max_value_bytes=1024 -> --max-value-bytes 1024, keep_versions="all" (or
        KEEP_ALL_VERSIONS) -> --keep-versions all; the engine logs at log_level="warn" unless told
        otherwise. `timeout` (seconds) bounds each answer; a blocking `xread` is given its
        `wait_ms` on top of it. `compact` and `backup`, whose answers take as long as the data
        dir needs, are bounded by `long_timeout` instead (default None: no bound), or by their
        own `timeout=` argument. A request that times out kills the engine (see `Timeout`).

        Requests are serialized: one thread's request waits for another's answer, so a blocking
        `xread` holds the client for up to its `wait_ms`.
        """
        if data_dir is None and not flags.get("memory"):
            raise ValueError("data_dir is required unless memory=True")
        self.shards = shards
        self.timeout = timeout
        self.long_timeout = long_timeout
        self.argv = protocol.engine_argv(engine, data_dir, shards, flags)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._cmds = Commands(shards)
        self._closed = False
        self._dead: Optional[EngineExited] = None
        self._engine = EngineProcess(self.argv, env=env)
        try:
            self.info = self._call(self._cmds.hello())
            protocol.check_hello(self.info, shards)
        except BaseException:
            self._engine.kill()
            self._engine.wait(timeout=5)
            self._closed = True
            raise
        self.max_frame_bytes = self.info.get("max_frame_bytes")

    # --- plumbing ---------------------------------------------------------------------------
    def _call(self, cmd: Cmd, timeout: Optional[float] = None) -> Any:
        """Send `cmd`, wait for its answer, return its result or raise its typed error.
        `timeout` overrides the client's bound for a long command (see `answer_timeout`)."""
        with self._lock:
            if self._dead is not None:
                raise self._dead.clone()
            if self._closed:
                raise LiteStashError("client is closed", code="closed")
            req_id = next(self._ids)
            body = protocol.encode_request(req_id, cmd.op, cmd.fields)
            limit = getattr(self, "max_frame_bytes", None)
            if limit is not None and len(body) > limit:
                raise FrameTooLarge("request of %d bytes exceeds max_frame_bytes %d (not sent)"
                                    % (len(body), limit))
            try:
                self._engine.send(body)
                raw = self._engine.recv(answer_timeout(cmd, self.timeout, self.long_timeout, timeout))
            except EngineExited as e:
                self._dead = e
                raise
            resp = protocol.decode(raw)
            protocol.check_response(resp, req_id)
        return protocol.result_of(cmd, resp, raw, req_id)

    @property
    def pid(self) -> int:
        return self._engine.pid

    @property
    def protocol_version(self) -> int:
        """The protocol version the engine answered in `hello` (1 or 2)."""
        return self.info["protocol"]

    @property
    def keep_versions(self) -> int:
        """The data dir's history depth from `hello` (0: none; 0xffffffff: all; 0 for a
        protocol-1 engine, which has no history)."""
        return self.info.get("keep_versions", 0)

    @property
    def features(self) -> FrozenSet[str]:
        """The engine's `hello` features ("streams", "blocking_reads", ...): test membership."""
        return frozenset(self.info.get("features") or ())

    @property
    def process(self) -> EngineProcess:
        return self._engine

    def close(self, timeout: float = 30.0) -> None:
        """Close stdin, wait for the engine, raise EngineExited unless it exited with 0."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            status = self._engine.close(timeout)
        if status != 0 and self._dead is None:  # a death already reported is not raised twice
            raise EngineExited("engine exited with status %s on close" % status, exit_status=status,
                               stderr_tail=self._engine.stderr_tail())

    def __enter__(self) -> "LiteStash":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            try:
                self.close()
            except LiteStashError:
                pass  # the original exception is the interesting one

    def __del__(self):
        eng = getattr(self, "_engine", None)
        if eng is not None and not getattr(self, "_closed", True):
            eng.kill()

    # --- operations -------------------------------------------------------------------------
    def hello(self) -> dict:
        return self._call(self._cmds.hello())

    def ping(self) -> bool:
        return self._call(self._cmds.ping())

    def set(self, key: str, value: Any, ttl_ms: Optional[int] = None, *,
            if_version: Optional[int] = None) -> int:
        """Store `value` (encoded with msgpack); returns the new version (µs since epoch).

        With `if_version` (compare-and-set) the write applies only when the key's current
        version equals it (0: only when the key is absent or expired); otherwise nothing is
        written and `Conflict` is raised with `.version` (the key's current version, 0 when
        absent) and `.key`."""
        return self._call(self._cmds.set(key, value, ttl_ms, if_version))

    def set_raw(self, key: str, packed: bytes, ttl_ms: Optional[int] = None, *,
                if_version: Optional[int] = None) -> int:
        """Store `packed`, which must be exactly one MessagePack object, byte for byte
        (`if_version` as for `set`)."""
        return self._call(self._cmds.set_raw(key, packed, ttl_ms, if_version))

    def get(self, key: str, default: Any = None, *, version: Optional[int] = None) -> Any:
        """The decoded value, or `default` when the key is absent (a stored nil is None).
        With `version`: the value of that exact version, when it is the current one or a
        retained one (see `versions`); `default` when it is not retained, is a tombstone, or
        the key is expired."""
        return self._call(self._cmds.get(key, default, version))

    def get_with_version(self, key: str, *, version: Optional[int] = None) -> Optional[Tuple[Any, int]]:
        """(value, version), or None when the key is absent (with `version`: as for `get`)."""
        return self._call(self._cmds.get_with_version(key, version))

    def get_raw(self, key: str, *, version: Optional[int] = None) -> Optional[bytes]:
        """The value's MessagePack bytes exactly as stored, or None when absent (with
        `version`: as for `get`)."""
        return self._call(self._cmds.get_raw(key, version))

    def delete(self, key: str, *, if_version: Optional[int] = None) -> bool:
        """Remove the key; True when a live key was removed. With `if_version` it applies only
        when the key's current version equals it, else `Conflict` (as for `set`);
        `if_version=0` holds for an absent key (answering False) and conflicts with a live one."""
        return self._call(self._cmds.delete(key, if_version))

    def versions(self, key: str, limit: Optional[int] = None,
                 before: Optional[int] = None) -> Versions:
        """One page of the key's versions, newest first: Versions(versions, deleted, more).
        `limit` 1..10000 (engine default 100); `before` (exclusive) pages backwards: pass the
        last version of the previous page. History is kept only with `keep_versions` (`hello`,
        the engine's --keep-versions); without it a live key lists just its current version."""
        return self._call(self._cmds.versions(key, limit, before))

    def versions_iter(self, key: str, before: Optional[int] = None,
                      batch: int = 1000) -> Iterator[KeyVersion]:
        """Every version of the key (below `before`), newest first, as KeyVersion(version,
        deleted), page by page. `get(key, version=kv.version)` reads one."""
        while True:
            page = self.versions(key, batch, before)
            yield from page.pairs()
            if not page.more or not page.versions:
                return
            before = page.versions[-1]

    def exists(self, key: str) -> bool:
        return self._call(self._cmds.exists(key))

    def mset(self, entries, ttl_ms: Optional[int] = None) -> int:
        """`entries`: a dict or (key, value) pairs. Returns the count written."""
        return self._call(self._cmds.mset(entries, ttl_ms))

    def mset_raw(self, entries, ttl_ms: Optional[int] = None) -> int:
        """Like mset with each value given as its MessagePack bytes."""
        return self._call(self._cmds.mset_raw(entries, ttl_ms))

    def mget(self, keys: Iterable[str], default: Any = None) -> List[Any]:
        """Values in request order, `default` where absent."""
        return self._call(self._cmds.mget(keys, default))

    def mget_raw(self, keys: Iterable[str]) -> List[Optional[bytes]]:
        return self._call(self._cmds.mget_raw(keys))

    def mdelete(self, keys: Iterable[str]) -> int:
        return self._call(self._cmds.mdelete(keys))

    def scan(self, prefix: Optional[str] = None, after: Optional[str] = None,
             limit: Optional[int] = None) -> Tuple[List[str], bool]:
        """One page: (keys ascending by UTF-8 bytes, more)."""
        return self._call(self._cmds.scan(prefix, after, limit))

    def scan_iter(self, prefix: Optional[str] = None, batch: int = 1000) -> Iterator[str]:
        """Every live key (with `prefix`), page by page."""
        after = None
        while True:
            keys, more = self.scan(prefix, after, batch)
            yield from keys
            if not more or not keys:
                return
            after = keys[-1]

    def count(self) -> int:
        return self._call(self._cmds.count())

    def clear(self) -> None:
        self._call(self._cmds.clear())

    def expire(self, key: str, ttl_ms: int) -> bool:
        return self._call(self._cmds.expire(key, ttl_ms))

    def ttl(self, key: str) -> Ttl:
        """Ttl(found, ttl_ms); ttl_ms is None when the key never expires (or is absent)."""
        return self._call(self._cmds.ttl(key))

    def persist(self, key: str) -> bool:
        return self._call(self._cmds.persist(key))

    def stats(self) -> dict:
        return self._call(self._cmds.stats())

    def sync(self) -> None:
        self._call(self._cmds.sync())

    # --- transactions and housekeeping (protocol 2) ------------------------------------------
    def txn(self, ops: Iterable[dict], checks: Optional[Iterable[Tuple[str, int]]] = None) -> List[Any]:
        """Run one transaction, all or nothing across shards: every `checks` pair (key,
        version; 0 = absent or expired) must hold, then every op applies.

        `ops` are maps as in the protocol: {"op": "set", "key", "value", "ttl_ms"?},
        {"op": "delete", "key"}, {"op": "xadd", "stream", "value"} (values encoded with msgpack,
        a `Packed` verbatim). Returns one result per op, in order: a set's new version (int), a
        delete's deleted (bool), an xadd's entry id (int). A failed check raises `Conflict`
        (`.key`, `.version`: that key's current version) and writes nothing. The request is sent
        as given, even with no ops: the engine's errors (BadRequest for 0 or > 10000 ops, a key
        written twice, a field it does not take; InvalidKey, ...) are raised as they come."""
        return self._call(self._cmds.txn(ops, checks))

    def transaction(self) -> Transaction:
        """A transaction builder, committed when its `with` block ends without an exception:

            with db.transaction() as tx:
                tx.check("acct:a", va)
                tx.set("acct:a", 70); tx.delete("hold:a"); tx.xadd("transfers", {...})
            tx.results      # [version, True, entry id]

        See `litestash.txn.Transaction`."""
        return Transaction(self)

    def compact(self, keep_versions: Optional[int] = None, *,
                timeout: Optional[float] = None) -> CompactResult:
        """Online housekeeping of every shard (expired keys, history beyond the depth, stream
        entries past their age, free pages). `keep_versions` overrides the recorded depth for
        this run only (0 drops all history). Answered when every shard is done: the wait is
        bounded by `timeout` if given, else the client's `long_timeout` (default: none). This
        client is serialized, so other threads' requests wait for it; the engine itself goes
        on answering other clients (no request waits behind it longer than one step)."""
        return self._call(self._cmds.compact(keep_versions), timeout)

    def backup(self, dir, *, timeout: Optional[float] = None) -> BackupResult:
        """An online, consistent copy of the data dir into `dir` (a path that must not exist or
        be an empty directory, else BadRequest and it is left untouched; a relative path is
        taken from this process's current directory). The copy opens as a data dir with the
        same shard count. Waits as `compact` does (`timeout`, else `long_timeout`)."""
        return self._call(self._cmds.backup(dir), timeout)

    # --- streams (protocol 2) ---------------------------------------------------------------
    def xadd(self, stream: str, value: Any, maxlen: Optional[int] = None,
             max_age_ms: Optional[int] = None) -> Appended:
        """Append `value` (encoded with msgpack) to `stream`; returns (entry_id, ts). `maxlen` /
        `max_age_ms` (≥ 1) are stored as the stream's retention, each the last value given."""
        return self._call(self._cmds.xadd(stream, value, maxlen, max_age_ms))

    def xadd_raw(self, stream: str, packed: bytes, maxlen: Optional[int] = None,
                 max_age_ms: Optional[int] = None) -> Appended:
        """Append `packed`, exactly one MessagePack object, byte for byte."""
        return self._call(self._cmds.xadd_raw(stream, packed, maxlen, max_age_ms))

    def xget(self, stream: str, ids: Iterable[int], default: Any = None) -> List[Any]:
        """Decoded values of entries `ids`, in request order, `default` where absent."""
        return self._call(self._cmds.xget(stream, ids, default))

    def xget_raw(self, stream: str, ids: Iterable[int]) -> List[Optional[bytes]]:
        """Exact MessagePack bytes of entries `ids`, None where absent."""
        return self._call(self._cmds.xget_raw(stream, ids))

    def xget_entries(self, stream: str, ids: Iterable[int], raw: bool = False) -> List[Optional[Entry]]:
        """Entry(id, ts, value) per requested id (None where absent); raw=True: value as bytes."""
        return self._call(self._cmds.xget_entries(stream, ids, raw))

    def xrange(self, stream: str, after: Optional[int] = None, before: Optional[int] = None,
               limit: Optional[int] = None) -> Tuple[List[Entry], bool]:
        """One page (entries ascending, more): entries with after < id < before (exclusive
        bounds); with only `before`, the `limit` (default 100) entries just below it."""
        return self._call(self._cmds.xrange(stream, after, before, limit))

    def xrange_raw(self, stream: str, after: Optional[int] = None, before: Optional[int] = None,
                   limit: Optional[int] = None) -> Tuple[List[Entry], bool]:
        """Like xrange with each value as its exact MessagePack bytes."""
        return self._call(self._cmds.xrange(stream, after, before, limit, raw=True))

    def xrange_iter(self, stream: str, after: int = 0, before: Optional[int] = None,
                    batch: int = 1000, raw: bool = False) -> Iterator[Entry]:
        """Every entry with after < id < before, page by page (forward)."""
        while True:
            entries, more = self._call(self._cmds.xrange(stream, after, before, batch, raw=raw))
            yield from entries
            if not more or not entries:
                return
            after = entries[-1].id

    def xread(self, stream: str, after: int, limit: Optional[int] = None,
              wait_ms: Optional[int] = None, raw: bool = False) -> Tuple[List[Entry], bool]:
        """Entries after `after` (0: from the start), like xrange. When there is none yet and
        `wait_ms` > 0, the engine answers when one is appended or after wait_ms (then empty).
        The client waits `timeout` + wait_ms for the answer."""
        return self._call(self._cmds.xread(stream, after, limit, wait_ms, raw))

    def xread_raw(self, stream: str, after: int, limit: Optional[int] = None,
                  wait_ms: Optional[int] = None) -> Tuple[List[Entry], bool]:
        return self._call(self._cmds.xread(stream, after, limit, wait_ms, raw=True))

    def xinfo(self, stream: str) -> StreamInfo:
        """StreamInfo(exists, length, first_id, last_id, first_ts, last_ts, maxlen, max_age_ms,
        groups={group: committed id})."""
        return self._call(self._cmds.xinfo(stream))

    def xtrim(self, stream: str, maxlen: Optional[int] = None, min_id: Optional[int] = None,
              max_age_ms: Optional[int] = None) -> int:
        """Remove head entries once (beyond the newest maxlen, id < min_id, older than
        max_age_ms; at least one); returns how many were removed."""
        return self._call(self._cmds.xtrim(stream, maxlen, min_id, max_age_ms))

    def xdrop(self, stream: str) -> bool:
        """Delete the stream, its entries and offsets; False when it did not exist."""
        return self._call(self._cmds.xdrop(stream))

    def xstreams(self, prefix: Optional[str] = None, after: Optional[str] = None,
                 limit: Optional[int] = None) -> Tuple[List[str], bool]:
        """One page of stream names (ascending by UTF-8 bytes, more)."""
        return self._call(self._cmds.xstreams(prefix, after, limit))

    def xstreams_iter(self, prefix: Optional[str] = None, batch: int = 1000) -> Iterator[str]:
        """Every stream name (with `prefix`), page by page."""
        after = None
        while True:
            names, more = self.xstreams(prefix, after, batch)
            yield from names
            if not more or not names:
                return
            after = names[-1]

    def xcommit(self, stream: str, group: str, entry_id: int) -> None:
        """Record `group`'s committed offset (may move backwards; BadRequest past last_id or
        on a stream that does not exist)."""
        self._call(self._cmds.xcommit(stream, group, entry_id))

    def xoffset(self, stream: str, group: str) -> Optional[int]:
        """`group`'s committed entry id, or None when it never committed."""
        return self._call(self._cmds.xoffset(stream, group))

    def consumer(self, stream: str, group: str, *, batch: int = 100, wait_ms: int = 1000,
                 start: Union[str, int] = "committed", on_trimmed: str = "earliest",
                 raw: bool = False, auto_commit: bool = True,
                 stop_when_idle: bool = False) -> Consumer:
        """A Kafka-style consumer of `stream` for `group` (see `litestash.consumer`): iterate it
        for entries or `.batches()`; at-least-once, committing each batch once the next is asked
        for or on close; resumes after the last id it saw. start: "committed" | "earliest" |
        "latest" | an entry id. on_trimmed: "earliest" (skip, counted in `.skipped`) | "error"
        (raise OffsetTrimmed) when retention removed entries before they were read."""
        return Consumer(self, stream, group, batch=batch, wait_ms=wait_ms, start=start,
                        on_trimmed=on_trimmed, raw=raw, auto_commit=auto_commit,
                        stop_when_idle=stop_when_idle)

    # --- mapping sugar ----------------------------------------------------------------------
    _MISSING = object()

    def __getitem__(self, key: str) -> Any:
        v = self.get(key, self._MISSING)
        if v is self._MISSING:
            raise KeyError(key)
        return v

    def __setitem__(self, key: str, value: Any) -> None:
        self.set(key, value)

    def __delitem__(self, key: str) -> None:
        if not self.delete(key):
            raise KeyError(key)

    def __contains__(self, key: str) -> bool:
        return self.exists(key)

    def __iter__(self) -> Iterator[str]:
        return self.scan_iter()

    def __len__(self) -> int:
        return self.count()
