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

/// An engine `conflict` as its own type ([`Error::conflict`], [`Error::into_conflict`]): a
/// conditional `set`/`delete` (`if_version`) or a transaction check did not hold, and nothing
/// was written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Conflict {
    /// The key's current version when the engine looked: 0 when it is absent (or expired).
    /// Retry a compare-and-set against this version.
    pub version: u64,
    /// The key whose condition failed: the written key of a `set`/`delete`, the key of the
    /// failed check of a transaction (the first failed check in shard order when several
    /// fail). This engine always sends it; `None` only from an engine that does not.
    pub key: Option<String>,
    /// The engine's text, for people (do not parse it).
    pub message: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conflict: {}", self.message)?;
        if let Some(k) = &self.key {
            write!(f, " (key {k:?})")?;
        }
        write!(f, " (current version {})", self.version)
    }
}

/// Everything a client call can fail with.
#[derive(Debug)]
pub enum Error {
    /// The engine refused the request (`ok: false`). `version` and `key` are the extra fields
    /// of the error map, when the engine sends them: a `conflict` (contract v2 sections 4 and
    /// 5: a failed `if_version` or transaction check) carries the key's current `version` (0
    /// when absent) and the `key` (the written key, or the key whose transaction check failed).
    /// Both are `None` for every other error. A `conflict` answer without a uint `version` is
    /// not accepted: it becomes [`Error::Protocol`]. Match with `..`: more fields may be added.
    ///
    /// A conflict stays an `Engine` error with `code: ErrorCode::Conflict` (so matches written
    /// for earlier versions keep working); [`Error::conflict`] and [`Error::into_conflict`] give
    /// it as its own type, [`Conflict`].
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

    /// This error as a [`Conflict`] (a copy of its fields) when it is an engine `conflict`,
    /// else `None`. (A conflict from the engine always has a `version`; one built by hand
    /// without it reads as version 0.)
    ///
    /// ```no_run
    /// # fn f(c: &mut litestash::Client) -> litestash::Result<()> {
    /// if let Err(e) = c.set_if_version("n", &1, 0) {
    ///     match e.conflict() {
    ///         Some(conflict) => println!("n is already at version {}", conflict.version),
    ///         None => return Err(e),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn conflict(&self) -> Option<Conflict> {
        match self {
            Error::Engine {
                code: ErrorCode::Conflict,
                message,
                version,
                key,
            } => Some(Conflict {
                version: version.unwrap_or(0),
                key: key.clone(),
                message: message.clone(),
            }),
            _ => None,
        }
    }

    /// `Ok(conflict)` when this is an engine `conflict`, else the error itself, so a
    /// compare-and-set loop can retry on a conflict and pass anything else on with `?`:
    ///
    /// ```no_run
    /// # fn f(c: &mut litestash::Client) -> litestash::Result<()> {
    /// loop {
    ///     // Absent: version 0, which `if_version` reads as "only while still absent".
    ///     let (n, version) = c.get_with_version::<u64>("counter")?.unwrap_or((0, 0));
    ///     match c.set_if_version("counter", &(n + 1), version) {
    ///         Ok(_) => break,
    ///         Err(e) => {
    ///             let conflict = e.into_conflict()?; // any other error: give up
    ///             assert_ne!(conflict.version, version); // someone else wrote: read again
    ///         }
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn into_conflict(self) -> std::result::Result<Conflict, Error> {
        match self.conflict() {
            Some(c) => Ok(c),
            None => Err(self),
        }
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
