"""Stream consumers: the Kafka consumer loop on top of `xread` + `xcommit`.

    with db.consumer("orders", "billing", batch=100, wait_ms=1000) as c:
        for entry in c:                    # Entry(id, ts, value), blocking reads in between
            handle(entry)

    async with adb.consumer("orders", "billing") as c:
        async for batch in c.batches():
            await handle_all(batch)

Delivery is **at-least-once**. A consumer reads after its *position* (the id of the last entry it
handed out) and commits the group's offset only once the caller has taken a whole batch: when it
asks for the next batch (the next entry after a batch's last one, `poll()`, `next()` on
`batches()`) or closes the consumer. An entry handed out but not committed is delivered again by
the next consumer of the group (after a crash, or an exception out of a `with` block, which
closes without committing).

Reads always continue after the last id seen, never from "the end of the stream at the time of
the read" (the classic Redis `XREAD ... $` bug), so entries appended while a batch is being
processed, or while no read is waiting, are never skipped.

Where to start (`start=`):
    "committed" (default)  after the group's committed offset (`xoffset`); a group that never
                           committed starts at the earliest entry still in the stream
    "earliest"             at the earliest entry still in the stream, ignoring any commit
    "latest"               only entries appended after the consumer starts
    an int N               after entry id N (as if N had been committed)

Retention (`on_trimmed=`, Kafka's auto.offset.reset): when entries after the position were
removed by the stream's retention (or `xtrim`) before the consumer read them - its committed
offset is below the stream's `first_id` - then
    "earliest" (default)   go on from the earliest entry still there; the lost entries are
                           counted in `.skipped` and listed in `.skips` as (first, last) id ranges
    "error"                raise `OffsetTrimmed` (nothing delivered, position unchanged); call
                           `seek()` to go on
This is checked when the consumer starts (one `xinfo`, which also gives the committed offset) and on every read (ids are contiguous and never
reused, so a gap between the position and the first id read means trimmed entries).
"""
from typing import Any, Callable, List, Optional, Tuple, Union

from .errors import OffsetTrimmed
from .protocol import Entry

START_MODES = ("committed", "earliest", "latest")
ON_TRIMMED = ("earliest", "error")


class _ConsumerBase:
    """State and rules shared by `Consumer` and `AsyncConsumer` (no I/O here)."""

    def __init__(self, db, stream: str, group: str, *, batch: int = 100, wait_ms: int = 1000,
                 start: Union[str, int] = "committed", on_trimmed: str = "earliest",
                 raw: bool = False, auto_commit: bool = True, stop_when_idle: bool = False):
        if start not in START_MODES and (not isinstance(start, int) or isinstance(start, bool)
                                         or start < 0):
            raise ValueError("start must be one of %s or an entry id >= 0, not %r"
                             % (", ".join(START_MODES), start))
        if on_trimmed not in ON_TRIMMED:
            raise ValueError("on_trimmed must be one of %s, not %r" % (", ".join(ON_TRIMMED), on_trimmed))
        if not isinstance(batch, int) or not 1 <= batch <= 10000:
            raise ValueError("batch must be 1..10000, not %r" % (batch,))
        if not isinstance(wait_ms, int) or not 0 <= wait_ms <= 60000:
            raise ValueError("wait_ms must be 0..60000, not %r" % (wait_ms,))
        self.db = db
        self.stream = stream
        self.group = group
        self.batch = batch
        self.wait_ms = wait_ms
        self.start = start
        self.on_trimmed = on_trimmed
        self.raw = raw
        self.auto_commit = auto_commit
        self.stop_when_idle = stop_when_idle
        self.position: Optional[int] = None   # last entry id handed out (reads go on after it)
        self.committed: Optional[int] = None  # the group's offset as last read or written here
        self.skipped = 0                      # entries lost to retention before being read
        self.skips: List[Tuple[int, int]] = []  # (first id, last id) of each lost range
        self.closed = False
        self._dirty = False                   # entries handed out since the last commit

    def __repr__(self):
        return ("<%s stream=%r group=%r position=%r committed=%r skipped=%d>"
                % (type(self).__name__, self.stream, self.group, self.position, self.committed,
                   self.skipped))

    # --- pure rules -----------------------------------------------------------------------
    def _position_from(self, committed: Optional[int], info) -> int:
        """Initial position for `self.start`, given the group's offset and the stream's xinfo;
        applies `on_trimmed` when the position is below the stream's first entry."""
        first = info.first_id if info.exists else None
        if self.start == "latest":
            return info.last_id if info.exists else 0
        if self.start == "earliest" or (self.start == "committed" and committed is None):
            return first - 1 if first is not None else 0
        pos = committed if self.start == "committed" else self.start
        if first is not None and pos < first - 1:
            pos = self._trimmed(pos, first)
        return pos

    def _trimmed(self, pos: int, first_id: int) -> int:
        """Entries pos+1 .. first_id-1 are gone: raise or skip them (returns the new position)."""
        if self.on_trimmed == "error":
            raise OffsetTrimmed(self.stream, self.group, pos, first_id)
        self.skipped += first_id - pos - 1
        self.skips.append((pos + 1, first_id - 1))
        return first_id - 1

    def _accept(self, entries: List[Entry]) -> List[Entry]:
        """Check a read for a gap after the position (trimmed entries)."""
        if entries and entries[0].id > self.position + 1:
            self.position = self._trimmed(self.position, entries[0].id)
        return entries

    def _check_open(self):
        if self.closed:
            raise ValueError("consumer is closed")

    def seek(self, position: int) -> None:
        """Continue after entry id `position` (0: from the start). Moving back replays entries;
        the next commit records the new position (a commit may move backwards)."""
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise ValueError("position must be an entry id >= 0, not %r" % (position,))
        self.position = position


class Consumer(_ConsumerBase):
    """A consumer on a `LiteStash` (see the module docstring; made by `LiteStash.consumer`).

    Iterate it for entries (forever, or until an empty read with `stop_when_idle=True`), or use
    `batches()` / `poll()` for lists. Use it from one thread. A blocking read occupies its
    `LiteStash` (requests are serialized) for up to `wait_ms`: producers in the same process
    should use their own `LiteStash` on the same data dir (another engine process's append wakes
    the read within a few ms) or the asyncio client.
    """

    def _ensure_started(self) -> None:
        if self.position is not None:
            return
        info = self.db.xinfo(self.stream)        # its `groups` holds every committed offset
        self.committed = info.groups.get(self.group)
        self.position = self._position_from(self.committed, info)

    def _read(self, wait_ms: Optional[int]) -> List[Entry]:
        self._check_open()
        self._ensure_started()
        if self.auto_commit and self._dirty:
            self.commit()
        entries, _ = self.db.xread(self.stream, self.position, self.batch,
                                   self.wait_ms if wait_ms is None else wait_ms, raw=self.raw)
        return self._accept(entries)

    def poll(self, wait_ms: Optional[int] = None) -> List[Entry]:
        """Commit what was handed out (auto_commit), then read the next batch after the position,
        waiting up to `wait_ms` (default: the consumer's) for one to be appended. The entries
        are now the caller's: they count as consumed at the next poll/close."""
        entries = self._read(wait_ms)
        if entries:
            self.position = entries[-1].id
            self._dirty = True
        return entries

    def batches(self):
        """Iterator of non-empty batches; each is committed when the next one is asked for."""
        while not self.closed:
            entries = self.poll()
            if entries:
                yield entries
            elif self.stop_when_idle:
                return

    def __iter__(self):
        """Entries one by one; a batch is committed when the entry after its last is asked for."""
        while not self.closed:
            entries = self._read(None)
            if not entries and self.stop_when_idle:
                return
            for e in entries:
                self.position = e.id
                self._dirty = True
                yield e
                if self.closed:
                    return

    def commit(self) -> Optional[int]:
        """Commit the position now (everything handed out so far). Returns the committed id."""
        self._ensure_started()
        self.db.xcommit(self.stream, self.group, self.position)
        self.committed = self.position
        self._dirty = False
        return self.position

    def lag(self) -> int:
        """Entries in the stream after the position (last_id - position)."""
        self._ensure_started()
        info = self.db.xinfo(self.stream)
        return max(0, (info.last_id or 0) - self.position)

    def close(self, commit: bool = True) -> None:
        """Stop; with auto_commit (and `commit`), commit what was handed out."""
        if self.closed:
            return
        try:
            if commit and self.auto_commit and self._dirty:
                self.commit()
        finally:
            self.closed = True

    def __enter__(self) -> "Consumer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(commit=exc_type is None)


class AsyncConsumer(_ConsumerBase):
    """The asyncio twin of `Consumer` (made by `AsyncLiteStash.consumer`): `async for` entries,
    `batches()`, `await poll()`, `await commit()`, `await close()`, `async with`. Its blocking
    reads do not hold up other requests on the same `AsyncLiteStash`."""

    async def _ensure_started(self) -> None:
        if self.position is not None:
            return
        info = await self.db.xinfo(self.stream)
        self.committed = info.groups.get(self.group)
        self.position = self._position_from(self.committed, info)

    async def _read(self, wait_ms: Optional[int]) -> List[Entry]:
        self._check_open()
        await self._ensure_started()
        if self.auto_commit and self._dirty:
            await self.commit()
        entries, _ = await self.db.xread(self.stream, self.position, self.batch,
                                         self.wait_ms if wait_ms is None else wait_ms, raw=self.raw)
        return self._accept(entries)

    async def poll(self, wait_ms: Optional[int] = None) -> List[Entry]:
        """See `Consumer.poll`."""
        entries = await self._read(wait_ms)
        if entries:
            self.position = entries[-1].id
            self._dirty = True
        return entries

    async def batches(self):
        while not self.closed:
            entries = await self.poll()
            if entries:
                yield entries
            elif self.stop_when_idle:
                return

    def __aiter__(self):
        return self._entries()

    async def _entries(self):
        while not self.closed:
            entries = await self._read(None)
            if not entries and self.stop_when_idle:
                return
            for e in entries:
                self.position = e.id
                self._dirty = True
                yield e
                if self.closed:
                    return

    async def commit(self) -> Optional[int]:
        await self._ensure_started()
        await self.db.xcommit(self.stream, self.group, self.position)
        self.committed = self.position
        self._dirty = False
        return self.position

    async def lag(self) -> int:
        await self._ensure_started()
        info = await self.db.xinfo(self.stream)
        return max(0, (info.last_id or 0) - self.position)

    async def close(self, commit: bool = True) -> None:
        if self.closed:
            return
        try:
            if commit and self.auto_commit and self._dirty:
                await self.commit()
        finally:
            self.closed = True

    async def __aenter__(self) -> "AsyncConsumer":
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close(commit=exc_type is None)
