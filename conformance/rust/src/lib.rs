//! `litestash`: the Rust host of litestash-engine (conformance client).
//!
//! ```no_run
//! use litestash::{Client, Options};
//! let mut c = Client::start(&Options::new("./data"))?;
//! c.set("vec:1", &vec![0.1f64, 0.5, 0.9])?;
//! let v: Option<Vec<f64>> = c.get("vec:1")?;
//! # Ok::<(), litestash::Error>(())
//! ```
//!
//! * [`client`]: the synchronous client (spawns the engine, frames, ids, typed errors).
//! * [`msgpack`]: dynamic [`Value`], strict decoder, compact encoder, byte-exact slicing.
//! * [`blake2b`]: BLAKE2b-512 (via the `blake2b_simd` crate) and shard routing.
//! * [`vectors`]: readers for `conformance/vectors` (via their MessagePack twins).

pub mod blake2b;
pub mod client;
pub mod error;
pub mod msgpack;
pub mod vectors;

pub use client::{default_engine, Client, Hello, Options, Req, Response, Route, Scan, Stats, Ttl};
pub use error::{Error, ErrorCode, Result};
pub use msgpack::Value;
