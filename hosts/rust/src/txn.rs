//! Transactions (protocol 2, `docs/protocol.md` section 4 `txn`): checks on key versions, then
//! `set`s, `delete`s and stream appends, **all or nothing across shards** (also on a crash).
//!
//! Build a [`Txn`], then [`Client::commit`] it:
//!
//! ```no_run
//! use litestash::{Client, Options, Txn, TxnResult};
//! let mut c = Client::start(&Options::new("./data"))?;
//! let (a, va) = c.get_with_version::<i64>("acct:a")?.unwrap_or((0, 0));
//! let (b, vb) = c.get_with_version::<i64>("acct:b")?.unwrap_or((0, 0));
//! let txn = Txn::new()
//!     .check("acct:a", va) // both unchanged since read (0: still absent) ...
//!     .check("acct:b", vb)
//!     .set("acct:a", &(a - 30)) // ... or nothing below is written
//!     .set("acct:b", &(b + 30))
//!     .xadd("transfers", &("a", "b", 30))
//!     .delete("hold:a");
//! match c.commit(&txn) {
//!     Ok(results) => {
//!         let new_version_of_a = results[0].version();      // Some(..)
//!         let entry = results[2].entry_id();                 // Some(..)
//!         assert_eq!(results[3], TxnResult::Delete { deleted: false });
//!     }
//!     Err(e) => match e.conflict() {
//!         Some(conflict) => println!("{:?} moved to version {}", conflict.key, conflict.version),
//!         None => return Err(e),
//!     },
//! }
//! # Ok::<(), litestash::Error>(())
//! ```
//!
//! Rules the engine enforces (`bad_request` otherwise, nothing written): 1..=10000 ops and at
//! most 10000 checks; a key is set or deleted at most once per transaction (checks may name
//! written keys, and several appends may go to one stream, in op order). Each op is validated
//! like the top-level op of its name (an empty key is `invalid_key`, an oversized value
//! `value_too_large`). Every set gets its own shard's next version.

use std::borrow::Borrow;

use serde::Serialize;

use crate::client::{check_one_object, serialize, Client, Req, Response};
use crate::error::{Error, Result};
use crate::msgpack::{self, Value};

/// The most ops one transaction takes.
pub const MAX_TXN_OPS: usize = 10_000;
/// The most checks one transaction takes.
pub const MAX_TXN_CHECKS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Set,
    Delete,
    Xadd,
}

/// A transaction under construction: checks (`[key, version]`) and ops, in order. The builder
/// methods take and return the `Txn`, so they chain; in a loop write `txn = txn.set(..)`.
///
/// A value that cannot be serialized (or raw bytes that are not exactly one MessagePack object)
/// does not panic: the builder remembers the first such error and [`Client::commit`] (or
/// [`Txn::req`]) returns it as [`Error::Encode`] without sending anything.
#[derive(Debug, Clone, Default)]
pub struct Txn {
    checks: Vec<(String, u64)>,
    /// Each op as its encoded MessagePack map, with its kind (to type its result).
    ops: Vec<(Kind, Vec<u8>)>,
    error: Option<String>,
}

impl Txn {
    /// An empty transaction (it needs at least one op before it can be committed).
    pub fn new() -> Txn {
        Txn::default()
    }

    /// Requires `key` to be at `version` when the transaction runs; 0 means "absent (or
    /// expired)". A failed check writes nothing and fails the commit with a `conflict` carrying
    /// the key and its current version ([`Error::conflict`]). Checks are evaluated under the
    /// write locks of their shards, held until the commit: no write of any engine comes between
    /// a check and the ops.
    pub fn check(mut self, key: &str, version: u64) -> Txn {
        self.checks.push((key.to_owned(), version));
        self
    }

    /// Sets `key` to `value` (serialized with rmp-serde, structs as maps), with no expiry (an
    /// earlier one is removed). Its result is [`TxnResult::Set`] with the new version.
    pub fn set<T: Serialize + ?Sized>(self, key: &str, value: &T) -> Txn {
        self.set_serialized(key, value, None)
    }

    /// [`Txn::set`] with a time to live in milliseconds (≥ 1).
    pub fn set_ex<T: Serialize + ?Sized>(self, key: &str, value: &T, ttl_ms: u64) -> Txn {
        self.set_serialized(key, value, Some(ttl_ms))
    }

    fn set_serialized<T: Serialize + ?Sized>(
        self,
        key: &str,
        value: &T,
        ttl_ms: Option<u64>,
    ) -> Txn {
        match serialize(value) {
            Ok(raw) => self.set_raw(key, &raw, ttl_ms),
            Err(e) => self.fail(e),
        }
    }

    /// Sets `key` to `bytes` (exactly one MessagePack object, stored unchanged), with an
    /// optional time to live in milliseconds.
    pub fn set_raw(mut self, key: &str, bytes: &[u8], ttl_ms: Option<u64>) -> Txn {
        if let Err(e) = check_one_object(bytes) {
            return self.fail(e);
        }
        let mut m = Vec::with_capacity(32 + key.len() + bytes.len());
        msgpack::write_map_len(&mut m, 3 + ttl_ms.is_some() as usize);
        pair_str(&mut m, "op", "set");
        pair_str(&mut m, "key", key);
        msgpack::write_str(&mut m, "value");
        m.extend_from_slice(bytes);
        if let Some(t) = ttl_ms {
            msgpack::write_str(&mut m, "ttl_ms");
            msgpack::write_int(&mut m, t as i128);
        }
        self.ops.push((Kind::Set, m));
        self
    }

    /// Deletes `key` (with history kept, a live key gets a tombstone). Its result is
    /// [`TxnResult::Delete`]: whether a live key was removed.
    pub fn delete(mut self, key: &str) -> Txn {
        let mut m = Vec::with_capacity(24 + key.len());
        msgpack::write_map_len(&mut m, 2);
        pair_str(&mut m, "op", "delete");
        pair_str(&mut m, "key", key);
        self.ops.push((Kind::Delete, m));
        self
    }

    /// Appends `value` (serialized with rmp-serde) to `stream` (created by its first append;
    /// retention is not taken inside a transaction, the stream's stored retention applies). Its
    /// result is [`TxnResult::Xadd`] with the entry id.
    pub fn xadd<T: Serialize + ?Sized>(self, stream: &str, value: &T) -> Txn {
        match serialize(value) {
            Ok(raw) => self.xadd_raw(stream, &raw),
            Err(e) => self.fail(e),
        }
    }

    /// [`Txn::xadd`] of `bytes` (exactly one MessagePack object, stored unchanged).
    pub fn xadd_raw(mut self, stream: &str, bytes: &[u8]) -> Txn {
        if let Err(e) = check_one_object(bytes) {
            return self.fail(e);
        }
        let mut m = Vec::with_capacity(32 + stream.len() + bytes.len());
        msgpack::write_map_len(&mut m, 3);
        pair_str(&mut m, "op", "xadd");
        pair_str(&mut m, "stream", stream);
        msgpack::write_str(&mut m, "value");
        m.extend_from_slice(bytes);
        self.ops.push((Kind::Xadd, m));
        self
    }

    fn fail(mut self, e: Error) -> Txn {
        if self.error.is_none() {
            self.error = Some(match e {
                Error::Encode(m) => format!("txn op {}: {m}", self.ops.len()),
                other => other.to_string(),
            });
        }
        self
    }

    /// The number of ops (each has one result).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// `true` when there is no op yet (the engine refuses an empty transaction).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The checks, in order, as `(key, version)`.
    pub fn checks(&self) -> &[(String, u64)] {
        &self.checks
    }

    /// The `txn` request, for [`Client::pipeline`] (then [`Txn::results`] reads its answer);
    /// [`Error::Encode`] when a value could not be encoded. `checks` is sent only when there is
    /// at least one.
    pub fn req(&self) -> Result<Req> {
        if let Some(e) = &self.error {
            return Err(Error::Encode(e.clone()));
        }
        let mut req = Req::new("txn");
        if !self.checks.is_empty() {
            let mut b = Vec::with_capacity(1 + 24 * self.checks.len());
            msgpack::write_array_len(&mut b, self.checks.len());
            for (key, version) in &self.checks {
                b.push(0x92);
                msgpack::write_str(&mut b, key);
                msgpack::write_int(&mut b, *version as i128);
            }
            req = req.raw_field("checks", b);
        }
        let mut ops = Vec::with_capacity(5 + self.ops.iter().map(|o| o.1.len()).sum::<usize>());
        msgpack::write_array_len(&mut ops, self.ops.len());
        for (_, m) in &self.ops {
            ops.extend_from_slice(m);
        }
        Ok(req.raw_field("ops", ops))
    }

    /// Reads the typed `results` of this transaction's successful answer: one per op, in op
    /// order. [`Error::Protocol`] when their number or types do not match the ops.
    pub fn results(&self, r: &Response) -> Result<Vec<TxnResult>> {
        let raw = r
            .raw("results")
            .ok_or_else(|| Error::Protocol("txn answer lacks `results`".into()))?;
        let items = match msgpack::decode(raw) {
            Ok(Value::Array(items)) => items,
            _ => {
                return Err(Error::Protocol(format!(
                    "txn `results` is not an array: {}",
                    msgpack::hex(raw)
                )))
            }
        };
        if items.len() != self.ops.len() {
            return Err(Error::Protocol(format!(
                "txn of {} ops answered {} results",
                self.ops.len(),
                items.len()
            )));
        }
        self.ops
            .iter()
            .zip(items)
            .enumerate()
            .map(|(i, ((kind, _), v))| {
                let typed = match (kind, &v) {
                    (Kind::Set, v) => v.as_u64().map(|version| TxnResult::Set { version }),
                    (Kind::Delete, Value::Bool(deleted)) => {
                        Some(TxnResult::Delete { deleted: *deleted })
                    }
                    (Kind::Delete, _) => None,
                    (Kind::Xadd, v) => v.as_u64().map(|entry_id| TxnResult::Xadd { entry_id }),
                };
                typed.ok_or_else(|| Error::Protocol(format!("txn result {i} ({kind:?}) is {v:?}")))
            })
            .collect()
    }
}

fn pair_str(out: &mut Vec<u8>, name: &str, value: &str) {
    msgpack::write_str(out, name);
    msgpack::write_str(out, value);
}

/// The result of one op of a committed transaction ([`Client::commit`]), in op order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnResult {
    /// A [`Txn::set`]: the key's new version.
    Set {
        /// The version the set gave the key.
        version: u64,
    },
    /// A [`Txn::delete`]: whether a live key was removed.
    Delete {
        /// `false` when the key was absent or expired.
        deleted: bool,
    },
    /// A [`Txn::xadd`]: the new entry's id.
    Xadd {
        /// The entry id of the appended entry.
        entry_id: u64,
    },
}

impl TxnResult {
    /// The new version, for a set.
    pub fn version(&self) -> Option<u64> {
        match self {
            TxnResult::Set { version } => Some(*version),
            _ => None,
        }
    }
    /// Whether a live key was removed, for a delete.
    pub fn deleted(&self) -> Option<bool> {
        match self {
            TxnResult::Delete { deleted } => Some(*deleted),
            _ => None,
        }
    }
    /// The entry id, for an xadd.
    pub fn entry_id(&self) -> Option<u64> {
        match self {
            TxnResult::Xadd { entry_id } => Some(*entry_id),
            _ => None,
        }
    }
}

impl Client {
    /// Runs the transaction: every check holds and every op applies, or nothing is written.
    /// Returns one [`TxnResult`] per op, in op order. A failed check is a `conflict` whose
    /// [`Conflict`](crate::Conflict) names the key and its current version (0 when absent);
    /// any other refusal (an invalid op, a key written twice, too many ops) is the error the
    /// engine answers, and nothing is written either. Takes `Txn` or `&Txn` (to retry it).
    ///
    /// Waits for the answer like any request ([`Client::timeout`]); a storage error after the
    /// commit point is reported as that error although the transaction will complete
    /// (`docs/protocol.md` 5.3).
    pub fn commit(&mut self, txn: impl Borrow<Txn>) -> Result<Vec<TxnResult>> {
        let txn = txn.borrow();
        let r = self.send(&txn.req()?)?;
        txn.results(&r)
    }
}
