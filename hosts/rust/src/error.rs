//! Typed errors of the Rust host.

use std::fmt;
use std::process::ExitStatus;
use std::time::Duration;

/// The engine's error codes (contract section 2). Codes added later arrive as `Other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    BadFrame,
    FrameTooLarge,
    BadRequest,
    TypeError,
    UnknownOp,
    InvalidKey,
    ValueTooLarge,
    WrongShard,
    Conflict,
    StorageError,
    ShuttingDown,
    Internal,
    Other(String),
}

impl ErrorCode {
    pub fn from_wire(code: &str) -> ErrorCode {
        use ErrorCode::*;
        match code {
            "bad_frame" => BadFrame,
            "frame_too_large" => FrameTooLarge,
            "bad_request" => BadRequest,
            "type_error" => TypeError,
            "unknown_op" => UnknownOp,
            "invalid_key" => InvalidKey,
            "value_too_large" => ValueTooLarge,
            "wrong_shard" => WrongShard,
            "conflict" => Conflict,
            "storage_error" => StorageError,
            "shutting_down" => ShuttingDown,
            "internal" => Internal,
            other => Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        use ErrorCode::*;
        match self {
            BadFrame => "bad_frame",
            FrameTooLarge => "frame_too_large",
            BadRequest => "bad_request",
            TypeError => "type_error",
            UnknownOp => "unknown_op",
            InvalidKey => "invalid_key",
            ValueTooLarge => "value_too_large",
            WrongShard => "wrong_shard",
            Conflict => "conflict",
            StorageError => "storage_error",
            ShuttingDown => "shutting_down",
            Internal => "internal",
            Other(s) => s,
        }
    }
}

/// Everything a client call can fail with.
#[derive(Debug)]
pub enum Error {
    /// The engine refused the request (`ok: false`). `version` and `key` are the extra fields
    /// of the error map, when the engine sends them: a `conflict` (contract v2 sections 4 and
    /// 5) carries the key's current `version` (0 when absent) and, for a transaction, the `key`
    /// whose check failed. Both are `None` for every other error (and when absent or of another
    /// type). Match with `..`: more fields may be added.
    #[non_exhaustive]
    Engine {
        code: ErrorCode,
        message: String,
        version: Option<u64>,
        key: Option<String>,
    },
    /// Spawning the engine or talking to it failed.
    Io(std::io::Error),
    /// A value could not be encoded (serde error, or `set_raw` bytes that are not exactly one
    /// MessagePack object). Nothing was sent.
    Encode(String),
    /// A response or a stored value could not be decoded into the requested type.
    Decode(String),
    /// The engine answered something the protocol does not allow, or is incompatible (hello).
    Protocol(String),
    /// The engine process ended; its exit status.
    EngineExited(ExitStatus),
    /// No engine binary was found; the message says where the host looked (explicit path,
    /// env `LITESTASH_ENGINE`, `litestash-engine` on `PATH`).
    EngineNotFound(String),
    /// The engine did not answer within [`Options::timeout`](crate::Options::timeout) (it is
    /// left running; a late answer is discarded), or did not exit within it on close (it was
    /// killed).
    Timeout(Duration),
    /// A [`Consumer`](crate::Consumer) with [`OnTrimmed::Error`](crate::OnTrimmed::Error) found
    /// that entries after its position were removed (trimming, retention) before the group
    /// read them: `position` is the group's position (its committed offset, or the last entry
    /// it read), `first_id` the oldest entry left. Nothing was yielded or committed; see
    /// [`Consumer::seek`](crate::Consumer::seek).
    Trimmed {
        stream: String,
        group: String,
        position: u64,
        first_id: u64,
    },
}

impl Error {
    /// The engine error code, when this is an engine error.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Error::Engine { code, .. } => Some(code),
            _ => None,
        }
    }

    /// An engine error with only a code and a message (no extra fields).
    pub fn engine(code: ErrorCode, message: impl Into<String>) -> Error {
        Error::Engine {
            code,
            message: message.into(),
            version: None,
            key: None,
        }
    }

    /// `true` for an engine `conflict` (a failed `if_version` or transaction check).
    pub fn is_conflict(&self) -> bool {
        self.code() == Some(&ErrorCode::Conflict)
    }

    /// The `version` of the engine's error map (for `conflict`: the key's current version, 0
    /// when absent), when it sent one.
    pub fn version(&self) -> Option<u64> {
        match self {
            Error::Engine { version, .. } => *version,
            _ => None,
        }
    }

    /// The `key` of the engine's error map (for a transaction's `conflict`: the key whose check
    /// failed), when it sent one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Error::Engine { key, .. } => key.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Engine {
                code,
                message,
                version,
                key,
            } => {
                write!(f, "engine error {}: {message}", code.as_str())?;
                if let Some(k) = key {
                    write!(f, " (key {k:?})")?;
                }
                if let Some(v) = version {
                    write!(f, " (current version {v})")?;
                }
                Ok(())
            }
            Error::Io(e) => write!(f, "engine i/o: {e}"),
            Error::Encode(m) => write!(f, "encode: {m}"),
            Error::Decode(m) => write!(f, "decode: {m}"),
            Error::Protocol(m) => write!(f, "protocol: {m}"),
            Error::EngineExited(s) => write!(f, "engine exited: {s}"),
            Error::EngineNotFound(m) => f.write_str(m),
            Error::Timeout(d) => write!(f, "timed out after {d:?} waiting for the engine"),
            Error::Trimmed {
                stream,
                group,
                position,
                first_id,
            } => write!(
                f,
                "stream {stream:?}, group {group:?}: the entries after {position} were trimmed \
                 before the group read them (oldest entry left: {first_id})"
            ),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e)
    }
}

pub type Result<T> = std::result::Result<T, Error>;
