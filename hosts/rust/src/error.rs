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
    /// The engine refused the request (`ok: false`).
    Engine { code: ErrorCode, message: String },
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
}

impl Error {
    /// The engine error code, when this is an engine error.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Error::Engine { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Engine { code, message } => {
                write!(f, "engine error {}: {message}", code.as_str())
            }
            Error::Io(e) => write!(f, "engine i/o: {e}"),
            Error::Encode(m) => write!(f, "encode: {m}"),
            Error::Decode(m) => write!(f, "decode: {m}"),
            Error::Protocol(m) => write!(f, "protocol: {m}"),
            Error::EngineExited(s) => write!(f, "engine exited: {s}"),
            Error::EngineNotFound(m) => f.write_str(m),
            Error::Timeout(d) => write!(f, "timed out after {d:?} waiting for the engine"),
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
