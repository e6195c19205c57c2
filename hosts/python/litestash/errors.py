"""Typed exceptions for litestash.

Every error the engine reports becomes an instance of a LiteStashError subclass chosen by its
`error.code`; the code and message are kept on `.code` / `.message`. Codes this module does not
know (the contract lets engines add some) raise the base class with the code preserved.
Host-side failures have their own codes: `engine_not_found`, `engine_exited`, `protocol`,
`handshake`, `timeout`, `offset_trimmed` (the stream consumer's `on_trimmed="error"`).

Fields of the engine's error map beyond `code` and `message` (a `conflict` carries `version`
and `key`) are kept in `.details`; `Conflict` also has them as attributes.
"""
import copy


class LiteStashError(Exception):
    """Base class; `.code` holds the engine's (or host's) error code."""

    code = "unknown"

    def __init__(self, message="", code=None, request_id=None, details=None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.request_id = request_id
        self.details = dict(details) if details else {}

    def __str__(self):
        return "%s: %s" % (self.code, self.message)

    def clone(self):
        """A fresh copy (no traceback) for re-raising one failure to many callers."""
        return copy.copy(self)


class BadFrame(LiteStashError):
    code = "bad_frame"


class FrameTooLarge(LiteStashError):
    code = "frame_too_large"


class BadRequest(LiteStashError):
    code = "bad_request"


class TypeError_(LiteStashError, TypeError):
    """A field had the wrong MessagePack type (`type_error`); also a builtin TypeError."""
    code = "type_error"


class UnknownOp(LiteStashError):
    code = "unknown_op"


class InvalidKey(LiteStashError, ValueError):
    """Key empty, longer than max_key_bytes or not valid UTF-8 (`invalid_key`)."""
    code = "invalid_key"


class ValueTooLarge(LiteStashError, ValueError):
    code = "value_too_large"


class WrongShard(LiteStashError):
    code = "wrong_shard"


class Conflict(LiteStashError):
    """A conditional write or a transaction's check failed (`conflict`); nothing was written.

    Raised by `set`/`delete` with `if_version` and by a transaction whose check failed.
    `.version` is the key's current version as the engine reported it (0: the key is absent or
    expired), `.key` the key whose condition or check failed (the contract requires it for
    transactions; this engine sends it for conditional writes too). Either is None when the
    engine's error map does not carry it. Retry by re-reading the key's version.
    """
    code = "conflict"

    @property
    def version(self):
        return self.details.get("version")

    @property
    def key(self):
        return self.details.get("key")


class StorageError(LiteStashError):
    code = "storage_error"


class ShuttingDown(LiteStashError):
    code = "shutting_down"


class InternalError(LiteStashError):
    code = "internal"


class EngineNotFound(LiteStashError, FileNotFoundError):
    """No engine binary: the message says where the host looked (explicit path,
    $LITESTASH_ENGINE, `litestash-engine` on $PATH, the interpreter's scripts dirs). Also a
    builtin FileNotFoundError."""
    code = "engine_not_found"


class EngineExited(LiteStashError):
    """The engine process went away (or exited non-zero on close).

    `.exit_status` is the process's exit code (negative: killed by that signal; None: unknown),
    `.stderr_tail` the last lines it logged.
    """
    code = "engine_exited"

    def __init__(self, message, exit_status=None, stderr_tail=""):
        if stderr_tail:
            message = "%s\n--- engine stderr (tail) ---\n%s" % (message, stderr_tail)
        super().__init__(message)
        self.exit_status = exit_status
        self.stderr_tail = stderr_tail


class ProtocolError(LiteStashError):
    """The engine sent something this host cannot make sense of."""
    code = "protocol"


class HandshakeError(LiteStashError):
    """`hello` disagreed with what this host speaks (protocol, hash, shard count)."""
    code = "handshake"


class Timeout(LiteStashError, TimeoutError):
    code = "timeout"


class OffsetTrimmed(LiteStashError):
    """A stream consumer with `on_trimmed="error"` found that entries after its position were
    removed by retention before it read them (Kafka's offset out of range). Nothing of the read
    was delivered and the consumer's position did not move: `seek()` it, or reopen it with
    `start="earliest"`, to go on.

    `.stream`, `.group`; `.position` (the id the consumer had read up to), `.first_id` (the oldest
    entry still there) and `.missing` (how many entries were lost: first_id - position - 1).
    """
    code = "offset_trimmed"

    def __init__(self, stream, group, position, first_id):
        self.stream, self.group = stream, group
        self.position, self.first_id = position, first_id
        self.missing = first_id - position - 1
        super().__init__("stream %r, group %r: entries %d..%d were removed by retention before "
                         "they were read (position %d, first entry now %d)"
                         % (stream, group, position + 1, first_id - 1, position, first_id))


BY_CODE = {cls.code: cls for cls in (
    BadFrame, FrameTooLarge, BadRequest, TypeError_, UnknownOp, InvalidKey, ValueTooLarge,
    WrongShard, Conflict, StorageError, ShuttingDown, InternalError)}


def from_response(resp):
    """Build the exception for a failure response map `{"id", "ok": false, "error": {...}}`."""
    err = resp.get("error") if isinstance(resp, dict) else None
    if not isinstance(err, dict):
        return ProtocolError("failure response without an error map: %r" % (resp,))
    code = err.get("code")
    message = err.get("message", "")
    if not isinstance(code, str):
        return ProtocolError("error code is not a str: %r" % (resp,))
    details = {k: v for k, v in err.items() if k not in ("code", "message")}
    cls = BY_CODE.get(code)
    if cls is None:
        return LiteStashError(message, code=code, request_id=resp.get("id"), details=details)
    return cls(message, request_id=resp.get("id"), details=details)
