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
//! * [`client`]: the synchronous client (spawns the engine, frames, ids, typed errors), the
//!   key ops, and compare-and-set ([`Client::set_if_version`], [`Client::delete_if_version`],
//!   [`SetOptions`]; a failed condition is a [`Conflict`], see [`Error::conflict`]).
//! * [`stream`]: the stream ops (protocol 2: `xadd`, `xread`, ... as [`Client`] methods) and
//!   the at-least-once [`Consumer`].
//! * [`history`]: a key's retained versions ([`Client::versions`], [`Client::get_at`]).
//! * [`txn`]: all-or-nothing transactions across shards ([`Txn`], [`Client::commit`]).
//! * [`admin`]: the long ops [`Client::compact`] and [`Client::backup`]
//!   ([`Options::long_timeout`]).
//! * [`msgpack`]: dynamic [`Value`], strict decoder, compact encoder, byte-exact slicing.
//! * [`blake2b`]: BLAKE2b-512 (via the `blake2b_simd` crate) and shard routing.

pub mod admin;
pub mod blake2b;
pub mod client;
pub mod error;
pub mod history;
pub mod msgpack;
pub mod stream;
pub mod txn;

pub use admin::{Backup, Compacted};
pub use client::{
    find_engine, Client, Hello, Options, Req, Response, Route, Scan, SetOptions, Stats, Ttl,
    DEFAULT_LOG_LEVEL, DEFAULT_LONG_TIMEOUT, DEFAULT_TIMEOUT, ENGINE_NAME, KEEP_ALL_VERSIONS,
    PROTOCOLS,
};
pub use error::{Conflict, Error, ErrorCode, Result};
pub use history::{KeyVersion, Versions};
pub use msgpack::Value;
pub use stream::{
    Appended, Consumer, ConsumerOptions, Entry, OnTrimmed, Range, Retention, StreamInfo,
    StreamNames, Trim,
};
pub use txn::{Txn, TxnResult};
