//! The long housekeeping ops of protocol 2 (`docs/protocol.md` section 4 `compact`, `backup`):
//! [`Client::compact`] and [`Client::backup`]. Both run online (other requests keep being
//! answered) and go through every shard, so they wait for their answer up to
//! [`Options::long_timeout`](crate::Options::long_timeout) (10 min by default, and never less
//! than [`Options::timeout`](crate::Options::timeout)) instead of the usual timeout.
//!
//! ```no_run
//! use litestash::{Client, Options};
//! let mut c = Client::start(&Options::new("./data"))?;
//! let done = c.compact(None)?;                    // the data dir's recorded history depth
//! println!("{} bytes given back in {} steps", done.bytes_reclaimed, done.steps);
//! let copy = c.backup("/var/backups/stash-2026-11-30")?;
//! println!("{} shards, {} bytes", copy.shards, copy.bytes);
//! let restored = Client::start(&Options::new("/var/backups/stash-2026-11-30"))?; // opens as is
//! # Ok::<(), litestash::Error>(())
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::client::{deserialize, Client};
use crate::error::{Error, Result};

/// What [`Client::compact`] did, summed over the shards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Compacted {
    /// Expired keys deleted.
    pub expired_removed: u64,
    /// Superseded versions and tombstones beyond the history depth deleted.
    pub versions_removed: u64,
    /// Stream entries beyond their age retention deleted.
    pub entries_removed: u64,
    /// How much the shard files shrank, in bytes (pages × page size, before minus after).
    pub bytes_reclaimed: u64,
    /// Bounded steps run (each one task on its shard's queue, alone in its transaction); 0
    /// from an engine that does not report it.
    #[serde(default)]
    pub steps: u64,
    /// The longest step in µs: the longest any request waited behind `compact`; 0 from an
    /// engine that does not report it.
    #[serde(default)]
    pub max_step_us: u64,
}

/// What [`Client::backup`] copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Backup {
    /// Shard files copied (the data dir's shard count).
    pub shards: u64,
    /// The size of the copy in bytes.
    pub bytes: u64,
}

/// Requests of the long ops, for [`Client::send_with_timeout`] or [`Client::pipeline`].
pub mod req {
    use crate::client::Req;

    /// `compact`, with `keep_versions` for this run only when `Some`.
    pub fn compact(keep_versions: Option<u64>) -> Req {
        Req::new("compact").opt_uint("keep_versions", keep_versions)
    }
    /// `backup` into `dir` (sent as given: the engine resolves a relative path against its
    /// own working directory).
    pub fn backup(dir: &str) -> Req {
        Req::new("backup").str("dir", dir)
    }
}

impl Client {
    /// Online housekeeping of every shard, one shard at a time in bounded steps (no request
    /// waits behind it for longer than one step): deletes expired keys, trims history beyond
    /// the depth, deletes stream entries past their age retention and gives free pages back to
    /// the file system. `keep_versions` overrides the recorded history depth for this run only
    /// (`Some(0)` drops all history; `None` uses the data dir's depth, see
    /// [`Options::keep_versions`](crate::Options::keep_versions)).
    ///
    /// Waits up to the long timeout ([`Client::long_timeout`]).
    pub fn compact(&mut self, keep_versions: Option<u64>) -> Result<Compacted> {
        let r = self.send_long(&req::compact(keep_versions))?;
        deserialize(r.body()).map_err(|e| Error::Protocol(format!("compact: {e}")))
    }

    /// An online, consistent copy of the data dir into `dir`: a data dir that an engine opens
    /// as it is ([`Options::new`](crate::Options::new)`(dir)`, with the same shard count),
    /// holding every write acknowledged before this call and no part of an unfinished
    /// transaction. `dir` must not exist or be an empty directory (missing parents are
    /// created); an existing non-empty `dir` is `bad_request` and is left untouched. A failure
    /// while copying is `storage_error` and leaves nothing behind. With
    /// [`Options::memory`](crate::Options::memory) the in-memory shards are copied to disk.
    ///
    /// A relative `dir` is resolved against this process's current directory and sent
    /// absolute (the engine may run elsewhere); a path that is not UTF-8 is [`Error::Encode`]
    /// (nothing is sent). Waits up to the long timeout ([`Client::long_timeout`]).
    pub fn backup(&mut self, dir: impl AsRef<Path>) -> Result<Backup> {
        let dir = dir.as_ref();
        let abs = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir()?.join(dir)
        };
        let s = abs
            .to_str()
            .ok_or_else(|| Error::Encode(format!("backup dir {abs:?} is not valid UTF-8")))?;
        let r = self.send_long(&req::backup(s))?;
        deserialize(r.body()).map_err(|e| Error::Protocol(format!("backup: {e}")))
    }
}
