//! History of a key (protocol 2, `docs/protocol.md` sections 3.6 and 4 `versions`): with a
//! history depth (`keep_versions`, set by [`Options::keep_versions`](crate::Options) /
//! `--keep-versions`) the engine keeps the N most recent superseded versions of each key, and a
//! `delete` of a live key records a *tombstone*, a version of its own.
//!
//! * [`Client::versions`]: one page of a key's versions, newest first (tombstones flagged);
//!   [`Client::versions_iter`] / [`Client::versions_all`] follow the pages.
//! * [`Client::get_at`] / [`Client::get_raw_at`]: the value of one exact retained version.
//!
//! ```no_run
//! use litestash::{Client, Options, KEEP_ALL_VERSIONS};
//! let mut c = Client::start(&Options::new("./data").keep_versions(KEEP_ALL_VERSIONS))?;
//! let v1 = c.set("cfg", "blue")?;
//! c.set("cfg", "green")?;
//! assert_eq!(c.get_at::<String>("cfg", v1)?.as_deref(), Some("blue"));
//! for kv in c.versions_iter("cfg", None) {
//!     let kv = kv?;
//!     println!("{} {}", kv.version, if kv.deleted { "deleted" } else { "" });
//! }
//! # Ok::<(), litestash::Error>(())
//! ```
//!
//! With depth 0 (the default) only the current version exists. An expired key has no history.

use std::collections::VecDeque;

use serde::de::DeserializeOwned;

use crate::client::{deserialize, Client};
use crate::error::{Error, Result};

/// The engine's page size of `versions` when no `limit` is given.
pub const DEFAULT_VERSIONS_LIMIT: u64 = 100;

/// One version of a key, as listed by [`Client::versions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyVersion {
    /// The version: µs since the epoch, from the key's shard's clock (strictly increasing
    /// within the shard).
    pub version: u64,
    /// `true` for a tombstone: the key was deleted at this version (there is no value).
    pub deleted: bool,
}

/// Requests of the history ops, for [`Client::pipeline`]; each is routed by its key.
pub mod req {
    use crate::client::Req;

    /// `get` of one exact version of `key`.
    pub fn get_at(key: &str, version: u64) -> Req {
        Req::new("get").key(key).uint("version", version)
    }
    /// One `versions` page: at most `limit` (1..=10000, default 100) versions older than
    /// `before` (exclusive; `None`: from the newest).
    pub fn versions(key: &str, before: Option<u64>, limit: Option<u64>) -> Req {
        Req::new("versions")
            .key(key)
            .opt_uint("limit", limit)
            .opt_uint("before", before)
    }
}

impl Client {
    /// The value of `key` at exactly `version`, deserialized: `Some` when that version is the
    /// key's current live version or a retained superseded one; `None` when it is not retained
    /// (never was, trimmed by the depth or `compact`), is a tombstone, or the key has expired.
    pub fn get_at<T: DeserializeOwned>(&mut self, key: &str, version: u64) -> Result<Option<T>> {
        match self.get_raw_at(key, version)? {
            Some(raw) => deserialize(&raw).map(Some),
            None => Ok(None),
        }
    }

    /// [`Client::get_at`] with the value's bytes exactly as stored.
    pub fn get_raw_at(&mut self, key: &str, version: u64) -> Result<Option<Vec<u8>>> {
        match self.get_req(&req::get_at(key, version))? {
            None => Ok(None),
            Some((raw, v)) if v == version => Ok(Some(raw)),
            Some((_, v)) => Err(Error::Protocol(format!(
                "get of version {version} answered version {v}"
            ))),
        }
    }

    /// One page of `key`'s versions, newest first: its current version first when the key is
    /// live, then its retained history, tombstones included ([`KeyVersion::deleted`]); only
    /// versions older than `before` (exclusive) when given; at most `limit` (1..=10000,
    /// default 100). The `bool` (`more`) says whether older versions exist past the page: pass
    /// the page's last version as `before` for the next one ([`Client::versions_iter`] does).
    /// A key that is absent with no history, or expired, gives an empty page.
    pub fn versions(
        &mut self,
        key: &str,
        before: Option<u64>,
        limit: Option<u64>,
    ) -> Result<(Vec<KeyVersion>, bool)> {
        let r = self.send(&req::versions(key, before, limit))?;
        let versions: Vec<u64> = r.field("versions")?;
        let deleted: Vec<bool> = r.field("deleted")?;
        if versions.len() != deleted.len() {
            return Err(Error::Protocol(format!(
                "versions: {} versions but {} deleted flags",
                versions.len(),
                deleted.len()
            )));
        }
        if versions.windows(2).any(|w| w[0] <= w[1]) {
            return Err(Error::Protocol(format!(
                "versions not newest first: {versions:?}"
            )));
        }
        let page = versions
            .into_iter()
            .zip(deleted)
            .map(|(version, deleted)| KeyVersion { version, deleted })
            .collect();
        Ok((page, r.field("more")?))
    }

    /// Every version of `key`, newest first, one `versions` page of `page` (default 100) at a
    /// time, as an iterator (an error ends it). Versions written while it runs are not listed
    /// (each page continues below the previous one).
    pub fn versions_iter(&mut self, key: &str, page: Option<u64>) -> Versions<'_> {
        Versions {
            client: self,
            key: key.to_owned(),
            page,
            before: None,
            buffer: VecDeque::new(),
            done: false,
        }
    }

    /// Every version of `key`, newest first, following pages ([`Client::versions_iter`]).
    pub fn versions_all(&mut self, key: &str, page: Option<u64>) -> Result<Vec<KeyVersion>> {
        self.versions_iter(key, page).collect()
    }
}

/// Every version of one key, newest first, page by page ([`Client::versions_iter`]).
pub struct Versions<'c> {
    client: &'c mut Client,
    key: String,
    page: Option<u64>,
    before: Option<u64>,
    buffer: VecDeque<KeyVersion>,
    done: bool,
}

impl Iterator for Versions<'_> {
    type Item = Result<KeyVersion>;

    fn next(&mut self) -> Option<Result<KeyVersion>> {
        if let Some(v) = self.buffer.pop_front() {
            return Some(Ok(v));
        }
        if self.done {
            return None;
        }
        match self.client.versions(&self.key, self.before, self.page) {
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
            Ok((versions, more)) => {
                if let (Some(b), Some(first)) = (self.before, versions.first()) {
                    if first.version >= b {
                        self.done = true;
                        return Some(Err(Error::Protocol(format!(
                            "versions before {b} answered {}",
                            first.version
                        ))));
                    }
                }
                self.done = !more || versions.is_empty();
                if let Some(last) = versions.last() {
                    self.before = Some(last.version);
                }
                self.buffer.extend(versions);
                self.buffer.pop_front().map(Ok)
            }
        }
    }
}
