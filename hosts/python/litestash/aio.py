"""asyncio litestash client: many requests in flight over one engine.

    async with AsyncLiteStash(data_dir="/tmp/stash") as db:
        await asyncio.gather(*(db.set("k%d" % i, i) for i in range(1000)))

Each request gets a fresh id and a future; one reader task reads response frames and resolves the
future with the matching id (answers to different keys may come back in any order). If the engine
exits, every pending and later request fails with EngineExited. Same methods as `LiteStash`.
A blocking `xread` is just one more request in flight: other requests go on while it waits, and
so are `compact` and `backup` (bounded by `long_timeout` or their own `timeout=`, not `timeout`).
"""
import asyncio
import collections
import itertools
import struct
from typing import Any, AsyncIterator, Dict, FrozenSet, Iterable, List, Optional, Set, Tuple, Union

from . import protocol
from .consumer import AsyncConsumer
from .errors import EngineExited, FrameTooLarge, LiteStashError, ProtocolError, Timeout
from .process import STDERR_TAIL_LINES
from .protocol import (Appended, BackupResult, Cmd, Commands, CompactResult, Entry, KeyVersion,
                       StreamInfo, Ttl, Versions, answer_timeout)
from .txn import AsyncTransaction

READ_CHUNK = 1 << 16    # bytes per read of the engine's stdout
DRAIN_ABOVE = 1 << 16   # queued request bytes beyond which a caller waits for the pipe


class AsyncLiteStash:
    def __init__(self, data_dir=None, shards: int = protocol.DEFAULT_SHARDS, engine: Optional[str] = None,
                 *, timeout: Optional[float] = None, long_timeout: Optional[float] = None,
                 max_inflight: int = 1024, env: Optional[dict] = None, **flags):
        """Nothing starts until `await db.start()` (or `async with`). Arguments as for
        `LiteStash`; a request that times out is given up (the engine goes on)."""
        if data_dir is None and not flags.get("memory"):
            raise ValueError("data_dir is required unless memory=True")
        self.shards = shards
        self.timeout = timeout
        self.long_timeout = long_timeout
        self.argv = protocol.engine_argv(engine, data_dir, shards, flags)
        self.env = env
        self.info: Dict[str, Any] = {}
        self.max_frame_bytes: Optional[int] = None
        self.exit_status: Optional[int] = None
        self._cmds = Commands(shards)
        self._ids = itertools.count(1)
        self._pending: Dict[int, asyncio.Future] = {}
        self._waiting: Set[int] = set()  # ids of blocking xreads in flight (answered at close)
        self.peak_inflight = 0          # most requests ever awaiting an answer at once
        self._slots = asyncio.Semaphore(max_inflight)
        self._write_lock = asyncio.Lock()
        self._out: List[bytes] = []     # frames queued in this event-loop turn, written together
        self._flush_scheduled = False
        self._stderr = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._dead: Optional[LiteStashError] = None
        self._closing = False
        self._proc = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None  # the loop start() ran in
        self._reader = None
        self._stderr_task = None

    @classmethod
    async def open(cls, *args, **kwargs) -> "AsyncLiteStash":
        db = cls(*args, **kwargs)
        await db.start()
        return db

    async def start(self) -> "AsyncLiteStash":
        self._loop = asyncio.get_running_loop()
        self._proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self.env, limit=1 << 20)
        self._reader = asyncio.create_task(self._read_loop())
        self._stderr_task = asyncio.create_task(self._drain_stderr())
        try:
            self.info = await self._call(self._cmds.hello())
            protocol.check_hello(self.info, self.shards)
        except BaseException:
            await self._kill()
            raise
        self.max_frame_bytes = self.info.get("max_frame_bytes")
        return self

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def protocol_version(self) -> int:
        """The protocol version the engine answered in `hello` (1 or 2)."""
        return self.info["protocol"]

    @property
    def keep_versions(self) -> int:
        """The data dir's history depth from `hello` (0: none; 0xffffffff: all)."""
        return self.info.get("keep_versions", 0)

    @property
    def features(self) -> FrozenSet[str]:
        """The engine's `hello` features ("streams", "blocking_reads", ...)."""
        return frozenset(self.info.get("features") or ())

    # --- plumbing ---------------------------------------------------------------------------
    async def _drain_stderr(self):
        try:
            while True:
                line = await self._proc.stderr.readline()
                if not line:
                    return
                self._stderr.append(line.decode("utf-8", "replace").rstrip("\n"))
        except (asyncio.CancelledError, OSError, ValueError):
            return

    def stderr_tail(self) -> str:
        return "\n".join(self._stderr)

    async def _read_loop(self):
        # Reads what the pipe has (many answers per read when requests are pipelined) and
        # dispatches every complete frame in it.
        stdout = self._proc.stdout
        buf = bytearray()
        try:
            while True:
                chunk = await stdout.read(READ_CHUNK)
                if not chunk:
                    await self._engine_gone("exited mid-frame" if buf else "exited")
                    return
                buf += chunk
                pos = 0
                while len(buf) - pos >= 4:
                    size = struct.unpack_from(">I", buf, pos)[0]
                    if len(buf) - pos - 4 < size:
                        break
                    self._dispatch(bytes(buf[pos + 4:pos + 4 + size]))
                    pos += 4 + size
                if pos:
                    del buf[:pos]
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a protocol violation: nothing further can be trusted
            self._fail_all(ProtocolError("reader failed: %r" % (e,)))

    def _dispatch(self, body: bytes) -> None:
        try:
            resp = protocol.decode(body)
            protocol.check_response(resp, None)
        except Exception as e:
            self._fail_all(ProtocolError("undecodable response: %r" % (e,)))
            return
        rid = resp.get("id")
        fut = self._pending.pop(rid, None) if rid is not None else None
        if fut is None and rid is None and len(self._pending) == 1:
            # An id-less error (bad_frame / frame_too_large) with exactly one request in flight.
            _, fut = self._pending.popitem()
        if fut is None:
            if rid is None:
                self._fail_all(ProtocolError("id-less answer with %d requests in flight: %r"
                                             % (len(self._pending), resp)))
            return  # an answer for a request that was given up (timeout/cancel)
        if not fut.done():
            fut.set_result((resp, body))

    def _fail_all(self, exc: LiteStashError) -> None:
        if self._dead is None:
            self._dead = exc
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(exc.clone())

    async def _engine_gone(self, what: str) -> None:
        try:
            status = await asyncio.wait_for(self._proc.wait(), 5)
        except asyncio.TimeoutError:
            status = None
        self.exit_status = status
        if self._stderr_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 1)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
        if self._closing and status == 0 and not self._pending:
            self._dead = LiteStashError("client is closed", code="closed")
            return
        self._fail_all(EngineExited("engine %s (exit status %s)" % (what, status), exit_status=status,
                                    stderr_tail=self.stderr_tail()))

    async def _call(self, cmd: Cmd, timeout: Optional[float] = None) -> Any:
        """`timeout` overrides the client's bound for a long command (see `answer_timeout`)."""
        if self._dead is not None:
            raise self._dead.clone()
        if self._closing:
            raise LiteStashError("client is closed", code="closed")
        if self._proc is None:
            raise LiteStashError("client not started (use `async with` or await start())", code="closed")
        async with self._slots:
            if self._dead is not None:
                raise self._dead.clone()
            req_id = next(self._ids)
            body = protocol.encode_request(req_id, cmd.op, cmd.fields)
            if self.max_frame_bytes is not None and len(body) > self.max_frame_bytes:
                raise FrameTooLarge("request of %d bytes exceeds max_frame_bytes %d (not sent)"
                                    % (len(body), self.max_frame_bytes))
            fut = self._loop.create_future()
            self._pending[req_id] = fut
            if cmd.wait:
                self._waiting.add(req_id)
            if len(self._pending) > self.peak_inflight:
                self.peak_inflight = len(self._pending)
            try:
                # write() queues without blocking; wait for the pipe only when the transport's
                # buffer is past its high-water mark (one drainer at a time).
                stdin = self._proc.stdin
                self._queue_frame(protocol.frame(body))
                if stdin.transport.get_write_buffer_size() > DRAIN_ABOVE:
                    async with self._write_lock:
                        await stdin.drain()
            except (BrokenPipeError, ConnectionResetError) as e:
                self._pending.pop(req_id, None)
                if self._dead is None:
                    await self._engine_gone("went away while a request was being written")
                raise (self._dead.clone() if self._dead else EngineExited(str(e))) from None
            timeout = answer_timeout(cmd, self.timeout, self.long_timeout, timeout)
            try:
                if timeout is None:
                    resp, raw = await fut
                else:
                    resp, raw = await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                self._pending.pop(req_id, None)
                raise Timeout("no answer to %s (id %d) within %ss" % (cmd.op, req_id, timeout)) from None
            finally:
                self._pending.pop(req_id, None)
                self._waiting.discard(req_id)
        return protocol.result_of(cmd, resp, raw, req_id)

    def _queue_frame(self, data: bytes) -> None:
        # Requests made in the same event-loop turn (many tasks awaiting calls) leave in one
        # write at the end of the turn: fewer syscalls here, fuller reads for the engine.
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush_frames)

    def _flush_frames(self) -> None:
        self._flush_scheduled = False
        if self._out and self._proc is not None:
            data = b"".join(self._out)
            self._out.clear()
            self._proc.stdin.write(data)

    async def close(self, timeout: float = 30.0) -> None:
        """Wait for in-flight requests, close stdin, wait; EngineExited unless exit status 0.
        Blocking xreads still waiting are not waited for: the engine answers them at once (with
        what exists) when its stdin closes."""
        if self._proc is None or self._closing:
            return
        while True:
            busy = [f for rid, f in self._pending.items() if rid not in self._waiting]
            if not busy:
                break
            await asyncio.gather(*busy, return_exceptions=True)
        self._closing = True
        self._flush_frames()
        async with self._write_lock:
            try:
                self._proc.stdin.close()
            except (BrokenPipeError, ConnectionResetError, OSError):
                pass
        try:
            status = await asyncio.wait_for(self._proc.wait(), timeout)
        except asyncio.TimeoutError:
            await self._kill()
            raise Timeout("engine did not exit within %ss after stdin closed (killed)" % timeout)
        self.exit_status = status
        already_reported = isinstance(self._dead, EngineExited)
        await self._finish_tasks()
        if status != 0 and not already_reported:
            raise EngineExited("engine exited with status %s on close" % status, exit_status=status,
                               stderr_tail=self.stderr_tail())

    async def _finish_tasks(self):
        # Retrieve the stdin pipe's close result, so a write that met a dead engine
        # (BrokenPipeError) is not logged as "Future exception was never retrieved".
        stdin = self._proc.stdin if self._proc is not None else None
        if stdin is not None:
            try:
                stdin.close()
                await asyncio.wait_for(stdin.wait_closed(), 1)
            except Exception:
                pass
        for task in (self._reader, self._stderr_task):
            if task is None:
                continue
            try:
                await asyncio.wait_for(task, 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                task.cancel()
            except Exception:
                pass

    async def _kill(self):
        self._closing = True
        if self._proc is not None and self._proc.returncode is None:
            try:
                self._proc.kill()
            except ProcessLookupError:
                pass
            await self._proc.wait()
        await self._finish_tasks()

    async def __aenter__(self) -> "AsyncLiteStash":
        if self._proc is None:
            await self.start()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            await self.close()
        else:
            try:
                await self.close()
            except LiteStashError:
                pass
            except BaseException:
                await self._kill()
                raise

    # --- operations (same meaning as LiteStash) ----------------------------------------------
    async def hello(self) -> dict:
        return await self._call(self._cmds.hello())

    async def ping(self) -> bool:
        return await self._call(self._cmds.ping())

    async def set(self, key: str, value: Any, ttl_ms: Optional[int] = None, *,
                  if_version: Optional[int] = None) -> int:
        return await self._call(self._cmds.set(key, value, ttl_ms, if_version))

    async def set_raw(self, key: str, packed: bytes, ttl_ms: Optional[int] = None, *,
                      if_version: Optional[int] = None) -> int:
        return await self._call(self._cmds.set_raw(key, packed, ttl_ms, if_version))

    async def get(self, key: str, default: Any = None, *, version: Optional[int] = None) -> Any:
        return await self._call(self._cmds.get(key, default, version))

    async def get_with_version(self, key: str, *,
                               version: Optional[int] = None) -> Optional[Tuple[Any, int]]:
        return await self._call(self._cmds.get_with_version(key, version))

    async def get_raw(self, key: str, *, version: Optional[int] = None) -> Optional[bytes]:
        return await self._call(self._cmds.get_raw(key, version))

    async def delete(self, key: str, *, if_version: Optional[int] = None) -> bool:
        return await self._call(self._cmds.delete(key, if_version))

    async def versions(self, key: str, limit: Optional[int] = None,
                       before: Optional[int] = None) -> Versions:
        return await self._call(self._cmds.versions(key, limit, before))

    async def versions_iter(self, key: str, before: Optional[int] = None,
                            batch: int = 1000) -> AsyncIterator[KeyVersion]:
        while True:
            page = await self.versions(key, batch, before)
            for kv in page.pairs():
                yield kv
            if not page.more or not page.versions:
                return
            before = page.versions[-1]

    async def exists(self, key: str) -> bool:
        return await self._call(self._cmds.exists(key))

    async def mset(self, entries, ttl_ms: Optional[int] = None) -> int:
        return await self._call(self._cmds.mset(entries, ttl_ms))

    async def mset_raw(self, entries, ttl_ms: Optional[int] = None) -> int:
        return await self._call(self._cmds.mset_raw(entries, ttl_ms))

    async def mget(self, keys: Iterable[str], default: Any = None) -> List[Any]:
        return await self._call(self._cmds.mget(keys, default))

    async def mget_raw(self, keys: Iterable[str]) -> List[Optional[bytes]]:
        return await self._call(self._cmds.mget_raw(keys))

    async def mdelete(self, keys: Iterable[str]) -> int:
        return await self._call(self._cmds.mdelete(keys))

    async def scan(self, prefix: Optional[str] = None, after: Optional[str] = None,
                   limit: Optional[int] = None) -> Tuple[List[str], bool]:
        return await self._call(self._cmds.scan(prefix, after, limit))

    async def scan_iter(self, prefix: Optional[str] = None, batch: int = 1000) -> AsyncIterator[str]:
        after = None
        while True:
            keys, more = await self.scan(prefix, after, batch)
            for k in keys:
                yield k
            if not more or not keys:
                return
            after = keys[-1]

    def __aiter__(self) -> AsyncIterator[str]:
        return self.scan_iter()

    async def count(self) -> int:
        return await self._call(self._cmds.count())

    async def clear(self) -> None:
        await self._call(self._cmds.clear())

    async def expire(self, key: str, ttl_ms: int) -> bool:
        return await self._call(self._cmds.expire(key, ttl_ms))

    async def ttl(self, key: str) -> Ttl:
        return await self._call(self._cmds.ttl(key))

    async def persist(self, key: str) -> bool:
        return await self._call(self._cmds.persist(key))

    async def stats(self) -> dict:
        return await self._call(self._cmds.stats())

    async def sync(self) -> None:
        await self._call(self._cmds.sync())

    # --- transactions and housekeeping (protocol 2; same meaning as LiteStash) ---------------
    async def txn(self, ops: Iterable[dict],
                  checks: Optional[Iterable[Tuple[str, int]]] = None) -> List[Any]:
        return await self._call(self._cmds.txn(ops, checks))

    def transaction(self) -> AsyncTransaction:
        """A builder committed when its `async with` block ends without an exception (see
        `litestash.txn`)."""
        return AsyncTransaction(self)

    async def compact(self, keep_versions: Optional[int] = None, *,
                      timeout: Optional[float] = None) -> CompactResult:
        """See LiteStash.compact. Other requests of this client go on meanwhile; a timeout
        gives up waiting (the engine still finishes the compaction)."""
        return await self._call(self._cmds.compact(keep_versions), timeout)

    async def backup(self, dir, *, timeout: Optional[float] = None) -> BackupResult:
        """See LiteStash.backup. Other requests of this client go on meanwhile."""
        return await self._call(self._cmds.backup(dir), timeout)

    # --- streams (protocol 2; same meaning as LiteStash) --------------------------------------
    async def xadd(self, stream: str, value: Any, maxlen: Optional[int] = None,
                   max_age_ms: Optional[int] = None) -> Appended:
        return await self._call(self._cmds.xadd(stream, value, maxlen, max_age_ms))

    async def xadd_raw(self, stream: str, packed: bytes, maxlen: Optional[int] = None,
                       max_age_ms: Optional[int] = None) -> Appended:
        return await self._call(self._cmds.xadd_raw(stream, packed, maxlen, max_age_ms))

    async def xget(self, stream: str, ids: Iterable[int], default: Any = None) -> List[Any]:
        return await self._call(self._cmds.xget(stream, ids, default))

    async def xget_raw(self, stream: str, ids: Iterable[int]) -> List[Optional[bytes]]:
        return await self._call(self._cmds.xget_raw(stream, ids))

    async def xget_entries(self, stream: str, ids: Iterable[int],
                           raw: bool = False) -> List[Optional[Entry]]:
        return await self._call(self._cmds.xget_entries(stream, ids, raw))

    async def xrange(self, stream: str, after: Optional[int] = None, before: Optional[int] = None,
                     limit: Optional[int] = None) -> Tuple[List[Entry], bool]:
        return await self._call(self._cmds.xrange(stream, after, before, limit))

    async def xrange_raw(self, stream: str, after: Optional[int] = None,
                         before: Optional[int] = None,
                         limit: Optional[int] = None) -> Tuple[List[Entry], bool]:
        return await self._call(self._cmds.xrange(stream, after, before, limit, raw=True))

    async def xrange_iter(self, stream: str, after: int = 0, before: Optional[int] = None,
                          batch: int = 1000, raw: bool = False) -> AsyncIterator[Entry]:
        while True:
            entries, more = await self._call(self._cmds.xrange(stream, after, before, batch, raw=raw))
            for e in entries:
                yield e
            if not more or not entries:
                return
            after = entries[-1].id

    async def xread(self, stream: str, after: int, limit: Optional[int] = None,
                    wait_ms: Optional[int] = None, raw: bool = False) -> Tuple[List[Entry], bool]:
        """See LiteStash.xread. While it waits, other requests of this client go on."""
        return await self._call(self._cmds.xread(stream, after, limit, wait_ms, raw))

    async def xread_raw(self, stream: str, after: int, limit: Optional[int] = None,
                        wait_ms: Optional[int] = None) -> Tuple[List[Entry], bool]:
        return await self._call(self._cmds.xread(stream, after, limit, wait_ms, raw=True))

    async def xinfo(self, stream: str) -> StreamInfo:
        return await self._call(self._cmds.xinfo(stream))

    async def xtrim(self, stream: str, maxlen: Optional[int] = None, min_id: Optional[int] = None,
                    max_age_ms: Optional[int] = None) -> int:
        return await self._call(self._cmds.xtrim(stream, maxlen, min_id, max_age_ms))

    async def xdrop(self, stream: str) -> bool:
        return await self._call(self._cmds.xdrop(stream))

    async def xstreams(self, prefix: Optional[str] = None, after: Optional[str] = None,
                       limit: Optional[int] = None) -> Tuple[List[str], bool]:
        return await self._call(self._cmds.xstreams(prefix, after, limit))

    async def xstreams_iter(self, prefix: Optional[str] = None,
                            batch: int = 1000) -> AsyncIterator[str]:
        after = None
        while True:
            names, more = await self.xstreams(prefix, after, batch)
            for n in names:
                yield n
            if not more or not names:
                return
            after = names[-1]

    async def xcommit(self, stream: str, group: str, entry_id: int) -> None:
        await self._call(self._cmds.xcommit(stream, group, entry_id))

    async def xoffset(self, stream: str, group: str) -> Optional[int]:
        return await self._call(self._cmds.xoffset(stream, group))

    def consumer(self, stream: str, group: str, *, batch: int = 100, wait_ms: int = 1000,
                 start: Union[str, int] = "committed", on_trimmed: str = "earliest",
                 raw: bool = False, auto_commit: bool = True,
                 stop_when_idle: bool = False) -> AsyncConsumer:
        """See LiteStash.consumer: `async for` entries, `batches()`, `async with`."""
        return AsyncConsumer(self, stream, group, batch=batch, wait_ms=wait_ms, start=start,
                             on_trimmed=on_trimmed, raw=raw, auto_commit=auto_commit,
                             stop_when_idle=stop_when_idle)
