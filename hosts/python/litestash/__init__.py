"""litestash: Python host for litestash-engine (a sharded SQLite key-value engine run as a sidecar).

    from litestash import LiteStash
    with LiteStash(data_dir="/tmp/stash") as db:
        db.set("user:1", {"name": "Ada"})
        assert db.get("user:1") == {"name": "Ada"}

`AsyncLiteStash` is the asyncio twin with many requests in flight. Errors are `LiteStashError`
subclasses carrying the engine's error code in `.code`. The engine binary is the `engine=`
argument, else $LITESTASH_ENGINE, else `litestash-engine` on $PATH (`EngineNotFound` otherwise).
"""
from .aio import AsyncLiteStash
from .client import LiteStash
from .errors import (BadFrame, BadRequest, Conflict, EngineExited, EngineNotFound, FrameTooLarge,
                     HandshakeError, InternalError, InvalidKey, LiteStashError, ProtocolError,
                     ShuttingDown, StorageError, Timeout, TypeError_, UnknownOp, ValueTooLarge,
                     WrongShard)
from .protocol import Packed, Ttl, key_digest, shard_for

__all__ = [
    "LiteStash", "AsyncLiteStash", "Packed", "Ttl", "key_digest", "shard_for",
    "LiteStashError", "BadFrame", "FrameTooLarge", "BadRequest", "TypeError_", "UnknownOp",
    "InvalidKey", "ValueTooLarge", "WrongShard", "Conflict", "StorageError", "ShuttingDown",
    "InternalError", "EngineNotFound", "EngineExited", "ProtocolError", "HandshakeError",
    "Timeout",
]
