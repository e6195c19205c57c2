//! `litestash`: the Rust host of litestash-engine. It spawns the engine as a child process and
//! speaks its protocol (4-byte big-endian length-prefixed MessagePack frames over stdin/stdout).
//!
//! ```no_run
//! use litestash::{Client, Options};
//! let mut c = Client::start(&Options::new("./data"))?;
//! c.set("vec:1", &vec![0.1f64, 0.5, 0.9])?;
//! let v: Option<Vec<f64>> = c.get("vec:1")?;
//! # Ok::<(), litestash::Error>(())
//! ```
//!
//! The engine binary is [`Options::engine`] when set, else env `LITESTASH_ENGINE`, else
//! `litestash-engine` on `PATH` ([`find_engine`]). Every wait for an answer is bounded by
//! [`Options::timeout`] (30 s by default; [`Error::Timeout`]).
//!
//! * [`client`]: the synchronous client (spawns the engine, frames, ids, typed errors).
//! * [`stream`]: the stream ops (protocol 2: `xadd`, `xread`, ... as [`Client`] methods) and
//!   the at-least-once [`Consumer`].
//! * [`msgpack`]: dynamic [`Value`], strict decoder, compact encoder, byte-exact slicing.
//! * [`blake2b`]: BLAKE2b-512 (via the `blake2b_simd` crate) and shard routing.

pub mod blake2b;
pub mod client;
pub mod error;
pub mod msgpack;
pub mod stream;

pub use client::{
    find_engine, Client, Hello, Options, Req, Response, Route, Scan, Stats, Ttl, DEFAULT_LOG_LEVEL,
    DEFAULT_TIMEOUT, ENGINE_NAME, KEEP_ALL_VERSIONS, PROTOCOLS,
};
pub use error::{Error, ErrorCode, Result};
pub use msgpack::Value;
pub use stream::{
    Appended, Consumer, ConsumerOptions, Entry, OnTrimmed, Range, Retention, StreamInfo,
    StreamNames, Trim,
};
