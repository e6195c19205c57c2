"""Transaction builders: collect checks and ops, then send them as one `txn` request.

    with db.transaction() as tx:
        tx.check("acct:a", va)             # acct:a must still be at version va (0: absent)
        tx.set("acct:a", 70)
        tx.delete("hold:a")
        tx.xadd("transfers", {"from": "a", "amount": 30})
    tx.results                             # [new version, True, entry id]

    async with adb.transaction() as tx:    # the same; `await tx.commit()` to commit early
        ...

The engine applies a transaction all or nothing across shards: every check holds and every op
applies, or nothing is written (a failed check raises `Conflict` with `.key` and `.version`,
that key's current version).

Contract of a builder:
- Leaving the `with` block without an exception commits; leaving it by an exception sends
  nothing (the exception goes on). `commit()` commits at once and returns the results; the end
  of the block then does not commit again.
- A builder commits at most once. After its commit (whether it succeeded or raised) or after a
  block left by an exception, adding to it or committing again raises `LiteStashError` with
  code "closed". Retry a conflicting transaction with a new builder (re-read the versions).
- A transaction with neither checks nor ops is **not sent**: `commit()` returns [] (a block that
  found nothing to do is not an error). One with checks but no ops **is** sent, and the engine
  refuses it (`BadRequest`: a txn needs 1..10000 ops): checks are never silently skipped.
- Values are encoded when added (a later change to a mutable value does not reach the
  transaction); `Packed` values, `set_raw` and `xadd_raw` are embedded byte for byte.
- Nothing else is checked here. The engine validates every field and limit (a key set or
  deleted twice, more than 10000 ops or checks, a bad key or ttl) and `commit()` raises its
  typed error; nothing is written then either.
- `results` (None until committed): one per op in the order added: a set's new version (int), a
  delete's `deleted` (bool), an xadd's entry id (int). Each adding method returns the index of
  its op's result.
"""
from typing import Any, List, Optional

from .errors import LiteStashError
from .protocol import Packed, pack_value


class _TxnBuilder:
    """Checks and ops collected for one `txn` (no I/O here)."""

    def __init__(self, db):
        self.db = db
        self.checks: List[list] = []
        self.ops: List[dict] = []
        self.results: Optional[List[Any]] = None   # set by a successful commit
        self.finished = False                       # committed (or tried to), or discarded

    def __repr__(self):
        state = "finished" if self.finished else "open"
        return "<%s %s: %d checks, %d ops>" % (type(self).__name__, state, len(self.checks),
                                               len(self.ops))

    def _check_open(self) -> None:
        if self.finished:
            raise LiteStashError("transaction already committed or discarded", code="closed")

    def _add(self, op: dict) -> int:
        self._check_open()
        self.ops.append(op)
        return len(self.ops) - 1

    @staticmethod
    def _packed(value: Any) -> Packed:
        return value if isinstance(value, Packed) else Packed.trusted(pack_value(value))

    def check(self, key: str, version: int) -> None:
        """Require `key` to be at `version` when the transaction runs (0: absent or expired)."""
        self._check_open()
        self.checks.append([key, version])

    def set(self, key: str, value: Any, ttl_ms: Optional[int] = None) -> int:
        """Store `value` (encoded now with msgpack); its result is the new version."""
        op = {"op": "set", "key": key, "value": self._packed(value)}
        if ttl_ms is not None:
            op["ttl_ms"] = ttl_ms
        return self._add(op)

    def set_raw(self, key: str, packed: bytes, ttl_ms: Optional[int] = None) -> int:
        """Store `packed` (exactly one MessagePack object) byte for byte."""
        return self.set(key, Packed(packed), ttl_ms)

    def delete(self, key: str) -> int:
        """Delete `key`; its result is True when a live key was removed."""
        return self._add({"op": "delete", "key": key})

    def xadd(self, stream: str, value: Any) -> int:
        """Append `value` to `stream` (several appends to one stream keep their order); its
        result is the entry id."""
        return self._add({"op": "xadd", "stream": stream, "value": self._packed(value)})

    def xadd_raw(self, stream: str, packed: bytes) -> int:
        """Append `packed` (exactly one MessagePack object) byte for byte."""
        return self.xadd(stream, Packed(packed))

    def _start_commit(self) -> bool:
        """Close the builder; False when there is nothing to send (results are then [])."""
        self._check_open()
        self.finished = True
        if not self.ops and not self.checks:
            self.results = []
            return False
        return True


class Transaction(_TxnBuilder):
    """A transaction on a `LiteStash` (made by `LiteStash.transaction()`); see the module."""

    def commit(self) -> List[Any]:
        """Send the transaction; returns `results`. Raises `Conflict` when a check fails and the
        engine's typed error when it refuses the request (nothing is written either way)."""
        if self._start_commit():
            self.results = self.db.txn(self.ops, self.checks or None)
        return self.results

    def __enter__(self) -> "Transaction":
        self._check_open()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.finished:
            return
        if exc_type is None:
            self.commit()
        else:
            self.finished = True   # discarded: nothing was sent


class AsyncTransaction(_TxnBuilder):
    """A transaction on an `AsyncLiteStash` (made by `AsyncLiteStash.transaction()`): adding is
    synchronous, `await commit()`, `async with`; see the module."""

    async def commit(self) -> List[Any]:
        """See `Transaction.commit`."""
        if self._start_commit():
            self.results = await self.db.txn(self.ops, self.checks or None)
        return self.results

    async def __aenter__(self) -> "AsyncTransaction":
        self._check_open()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        if self.finished:
            return
        if exc_type is None:
            await self.commit()
        else:
            self.finished = True
