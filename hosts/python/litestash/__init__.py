"""litestash: Python host for litestash-engine (a sharded SQLite key-value engine run as a sidecar).

    from litestash import LiteStash
    with LiteStash(data_dir="/tmp/stash") as db:
        db.set("user:1", {"name": "Ada"})
        assert db.get("user:1") == {"name": "Ada"}

Streams (protocol 2): `xadd`, `xget`, `xrange`, `xread` (blocking with `wait_ms`), `xinfo`,
`xtrim`, `xdrop`, `xstreams`, `xcommit`, `xoffset`, and `db.consumer(stream, group)`, a Kafka-style
at-least-once consumer (`litestash.consumer`).

History, CAS and transactions (protocol 2): `versions`/`versions_iter` and `get(key,
version=v)`; `set`/`delete` with `if_version=` (a failed condition raises `Conflict` with
`.version`, `.key`); `txn(ops, checks)` and the builder `db.transaction()` (`litestash.txn`);
`compact` and `backup`.

`AsyncLiteStash` is the asyncio twin with many requests in flight. Errors are `LiteStashError`
subclasses carrying the engine's error code in `.code`. The engine binary is the `engine=`
argument, else $LITESTASH_ENGINE, else `litestash-engine` on $PATH, else in this interpreter's
scripts dir (where the `litestash-engine` wheel puts it; `EngineNotFound` otherwise).
"""
from .aio import AsyncLiteStash
from .client import LiteStash
from .consumer import AsyncConsumer, Consumer
from .errors import (BadFrame, BadRequest, Conflict, EngineExited, EngineNotFound, FrameTooLarge,
                     HandshakeError, InternalError, InvalidKey, LiteStashError, OffsetTrimmed,
                     ProtocolError, ShuttingDown, StorageError, Timeout, TypeError_, UnknownOp,
                     ValueTooLarge, WrongShard)
from .protocol import (KEEP_ALL_VERSIONS, Appended, BackupResult, CompactResult, Entry,
                       KeyVersion, Packed, StreamInfo, Ttl, Versions, key_digest, shard_for)
from .txn import AsyncTransaction, Transaction

__all__ = [
    "LiteStash", "AsyncLiteStash", "Packed", "Ttl", "key_digest", "shard_for",
    "Entry", "Appended", "StreamInfo", "Consumer", "AsyncConsumer", "KEEP_ALL_VERSIONS",
    "OffsetTrimmed", "Versions", "KeyVersion", "CompactResult", "BackupResult", "Transaction",
    "AsyncTransaction",
    "LiteStashError", "BadFrame", "FrameTooLarge", "BadRequest", "TypeError_", "UnknownOp",
    "InvalidKey", "ValueTooLarge", "WrongShard", "Conflict", "StorageError", "ShuttingDown",
    "InternalError", "EngineNotFound", "EngineExited", "ProtocolError", "HandshakeError",
    "Timeout",
]
