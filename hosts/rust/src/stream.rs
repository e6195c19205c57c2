//! Streams (protocol 2, `docs/protocol.md` section 4 "Streams"): append-only logs of entries,
//! each with an entry id (1, 2, 3, ... per stream), a `ts` (µs since the epoch, from the
//! shard's version clock) and a value kept byte for byte.
//!
//! Every op is a method of [`Client`]: [`xadd`](Client::xadd) / [`xadd_raw`](Client::xadd_raw),
//! [`xget`](Client::xget) / [`xget_raw`](Client::xget_raw), [`xrange`](Client::xrange) /
//! [`xrange_raw`](Client::xrange_raw), [`xread`](Client::xread) /
//! [`xread_raw`](Client::xread_raw) (blocking reads with `wait_ms`), [`xinfo`](Client::xinfo),
//! [`xtrim`](Client::xtrim), [`xdrop`](Client::xdrop), [`xstreams`](Client::xstreams) (and
//! [`xstreams_iter`](Client::xstreams_iter), [`xstreams_all`](Client::xstreams_all)),
//! [`xcommit`](Client::xcommit), [`xoffset`](Client::xoffset). Stream names route like keys: each
//! request but `xstreams` carries the `shard` computed by the host.
//!
//! [`Consumer`] is the Kafka-style consumer loop on top of them: it resumes from a group's
//! committed offset, reads batches with blocking reads and commits each batch once it has been
//! consumed (at-least-once delivery).
//!
//! ```no_run
//! use litestash::{Client, ConsumerOptions, Options, Retention};
//! let mut c = Client::start(&Options::new("./data"))?;
//! c.xadd("orders", &("A-1", 3), Retention { maxlen: Some(10_000), ..Default::default() })?;
//! let mut orders = c.consumer("orders", "billing", ConsumerOptions::default())?;
//! for entry in &mut orders {          // ends once the stream stays idle for `wait_ms`
//!     let entry = entry?;
//!     let (sku, qty): (String, u32) = entry.decode()?;
//!     println!("{} {sku} x{qty}", entry.id);
//! }                                   // every batch handed out was committed
//! # Ok::<(), litestash::Error>(())
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::client::{check_one_object, deserialize, serialize, Client, Response};
use crate::error::{Error, Result};
use crate::msgpack;

/// The engine's page size of `xrange` / `xread` when no `limit` is given.
pub const DEFAULT_RANGE_LIMIT: u64 = 100;
/// The largest `limit` of `xrange`, `xread` and `xstreams`.
pub const MAX_LIMIT: u64 = 10_000;
/// The longest `wait_ms` of a blocking `xread`.
pub const MAX_WAIT_MS: u64 = 60_000;
/// The most ids one `xget` takes.
pub const MAX_XGET_IDS: usize = 10_000;

/// Retention given to `xadd`: stored as the stream's retention (each field separately; the last
/// value given for a field wins) and kept at every append (and, for age, in the background).
/// `None` leaves that part of the stored retention as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Keep at most this many newest entries (≥ 1).
    pub maxlen: Option<u64>,
    /// Remove entries whose `ts` is more than this many ms before now (≥ 1).
    pub max_age_ms: Option<u64>,
}

impl Retention {
    /// No retention fields: the stored retention stays as it is.
    pub const NONE: Retention = Retention {
        maxlen: None,
        max_age_ms: None,
    };
}

/// What `xadd` answers: the new entry's id and its `ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub entry_id: u64,
    /// µs since the epoch (a version of the stream's shard).
    pub ts: u64,
}

/// The bounds of one `xrange` page (klite's `GET n AFTER id` / `GET n BEFORE id`):
/// - `after` (and optionally `before`): the first `limit` entries with `after < id < before`;
/// - only `before`: the `limit` entries just below `before`, in ascending order;
/// - neither: the first `limit` entries.
///
/// `limit` is 1..=10000, default 100.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    /// Exclusive lower bound.
    pub after: Option<u64>,
    /// Exclusive upper bound.
    pub before: Option<u64>,
    pub limit: Option<u64>,
}

/// One stream entry. `Entry` alone (`Entry<Vec<u8>>`) holds the value's MessagePack bytes
/// exactly as stored; `Entry<T>` a value deserialized with rmp-serde.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<T = Vec<u8>> {
    /// The entry id (not the request id).
    pub id: u64,
    /// µs since the epoch.
    pub ts: u64,
    pub value: T,
}

impl Entry<Vec<u8>> {
    /// The value deserialized into `T` ([`Error::Decode`] when it does not fit).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        deserialize(&self.value)
    }
    /// This entry with its value deserialized into `T`.
    pub fn into_typed<T: DeserializeOwned>(self) -> Result<Entry<T>> {
        Ok(Entry {
            id: self.id,
            ts: self.ts,
            value: deserialize(&self.value)?,
        })
    }
}

/// The answer to `xinfo`. A stream that does not exist has `exists: false`, `length: 0`, every
/// `Option` `None` and no groups. An existing stream always has `first_id` and `last_id`
/// (`first_id == last_id + 1` when it is empty); `first_ts` / `last_ts` are `None` when it is
/// empty; `maxlen` / `max_age_ms` are the stored retention.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StreamInfo {
    pub exists: bool,
    pub length: u64,
    pub first_id: Option<u64>,
    pub last_id: Option<u64>,
    pub first_ts: Option<u64>,
    pub last_ts: Option<u64>,
    pub maxlen: Option<u64>,
    pub max_age_ms: Option<u64>,
    /// Every consumer group's committed entry id.
    pub groups: BTreeMap<String, u64>,
}

impl StreamInfo {
    /// A group's lag: `last_id − committed` (`None` when the group never committed).
    pub fn lag(&self, group: &str) -> Option<u64> {
        let c = *self.groups.get(group)?;
        Some(self.last_id.unwrap_or(0).saturating_sub(c))
    }
}

/// The limits of one `xtrim` (at least one is required; together they remove their union):
/// entries beyond the newest `maxlen` (0: all), entries with id < `min_id`, entries whose `ts`
/// is more than `max_age_ms` before now (0: all). Nothing is stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trim {
    pub maxlen: Option<u64>,
    pub min_id: Option<u64>,
    pub max_age_ms: Option<u64>,
}

fn protocol(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Protocol(format!("{what}: {e}"))
}

fn raw_field<'r>(r: &'r Response, name: &str) -> Result<&'r [u8]> {
    r.raw(name)
        .ok_or_else(|| Error::Protocol(format!("response lacks `{name}`")))
}

fn uint(raw: &[u8], what: &str) -> Result<u64> {
    msgpack::decode(raw)
        .ok()
        .and_then(|v| v.as_u64())
        .ok_or_else(|| protocol(what, format!("not a uint: {}", msgpack::hex(raw))))
}

/// `entries` (array of `[entry_id, ts, value]`, values kept as bytes) and `more`.
fn entries_of(r: &Response) -> Result<(Vec<Entry>, bool)> {
    let items =
        msgpack::split_array(raw_field(r, "entries")?).map_err(|e| protocol("entries", e))?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let parts = msgpack::split_array(item).map_err(|e| protocol("entry", e))?;
        let [id, ts, value] = parts[..] else {
            return Err(protocol(
                "entry",
                format!("{} elements, expected [entry_id, ts, value]", parts.len()),
            ));
        };
        out.push(Entry {
            id: uint(id, "entry id")?,
            ts: uint(ts, "entry ts")?,
            value: value.to_vec(),
        });
    }
    Ok((out, r.field("more")?))
}

fn typed<T: DeserializeOwned>(entries: Vec<Entry>) -> Result<Vec<Entry<T>>> {
    entries.into_iter().map(Entry::into_typed).collect()
}

fn uint_array(ids: &[u64]) -> Vec<u8> {
    let mut b = Vec::with_capacity(1 + 9 * ids.len());
    msgpack::write_array_len(&mut b, ids.len());
    for id in ids {
        msgpack::write_int(&mut b, *id as i128);
    }
    b
}

/// Requests for the stream ops, for [`Client::pipeline`] (e.g. many appends in flight).
/// Each is routed by its stream name.
pub mod req {
    use super::{uint_array, Range, Retention, Trim};
    use crate::client::Req;

    /// `xadd` of a value's exact MessagePack bytes (not checked here; see
    /// [`Client::xadd_raw`](crate::Client::xadd_raw)).
    pub fn xadd_raw(stream: &str, value: &[u8], retention: Retention) -> Req {
        Req::new("xadd")
            .stream(stream)
            .raw_field("value", value.to_vec())
            .opt_uint("maxlen", retention.maxlen)
            .opt_uint("max_age_ms", retention.max_age_ms)
    }
    pub fn xget(stream: &str, ids: &[u64]) -> Req {
        Req::new("xget")
            .stream(stream)
            .raw_field("ids", uint_array(ids))
    }
    pub fn xrange(stream: &str, range: Range) -> Req {
        Req::new("xrange")
            .stream(stream)
            .opt_uint("after", range.after)
            .opt_uint("before", range.before)
            .opt_uint("limit", range.limit)
    }
    /// `wait_ms` 0 is not sent (the engine's default, no wait).
    pub fn xread(stream: &str, after: u64, limit: Option<u64>, wait_ms: u64) -> Req {
        Req::new("xread")
            .stream(stream)
            .uint("after", after)
            .opt_uint("limit", limit)
            .opt_uint("wait_ms", (wait_ms > 0).then_some(wait_ms))
    }
    pub fn xinfo(stream: &str) -> Req {
        Req::new("xinfo").stream(stream)
    }
    pub fn xtrim(stream: &str, trim: Trim) -> Req {
        Req::new("xtrim")
            .stream(stream)
            .opt_uint("maxlen", trim.maxlen)
            .opt_uint("min_id", trim.min_id)
            .opt_uint("max_age_ms", trim.max_age_ms)
    }
    pub fn xdrop(stream: &str) -> Req {
        Req::new("xdrop").stream(stream)
    }
    pub fn xstreams(prefix: Option<&str>, after: Option<&str>, limit: Option<u64>) -> Req {
        Req::new("xstreams")
            .opt_str("prefix", prefix)
            .opt_str("after", after)
            .opt_uint("limit", limit)
    }
    pub fn xcommit(stream: &str, group: &str, entry_id: u64) -> Req {
        Req::new("xcommit")
            .stream(stream)
            .str("group", group)
            .uint("entry_id", entry_id)
    }
    pub fn xoffset(stream: &str, group: &str) -> Req {
        Req::new("xoffset").stream(stream).str("group", group)
    }
}

impl Client {
    /// Appends `value` (serialized with rmp-serde, structs as maps) to `stream`, created on
    /// its first append; `retention` fields that are `Some` are stored as the stream's
    /// retention. Answered after the commit.
    pub fn xadd<T: Serialize + ?Sized>(
        &mut self,
        stream: &str,
        value: &T,
        retention: Retention,
    ) -> Result<Appended> {
        let raw = serialize(value)?;
        self.xadd_raw(stream, &raw, retention)
    }

    /// Appends `bytes` (exactly one MessagePack object, else [`Error::Encode`] and nothing is
    /// sent), stored and returned unchanged.
    pub fn xadd_raw(
        &mut self,
        stream: &str,
        bytes: &[u8],
        retention: Retention,
    ) -> Result<Appended> {
        check_one_object(bytes)?;
        let r = self.send(&req::xadd_raw(stream, bytes, retention))?;
        Ok(Appended {
            entry_id: r.field("entry_id")?,
            ts: r.field("ts")?,
        })
    }

    /// Reads entries by id (at most 10000; an id may repeat): one item per id, in order,
    /// `None` where there is no such entry (never appended, trimmed, or no such stream).
    pub fn xget<T: DeserializeOwned>(
        &mut self,
        stream: &str,
        ids: &[u64],
    ) -> Result<Vec<Option<Entry<T>>>> {
        self.xget_raw(stream, ids)?
            .into_iter()
            .map(|e| e.map(Entry::into_typed).transpose())
            .collect()
    }

    /// [`Client::xget`] with each value's bytes exactly as stored.
    pub fn xget_raw(&mut self, stream: &str, ids: &[u64]) -> Result<Vec<Option<Entry>>> {
        let r = self.send(&req::xget(stream, ids))?;
        let found: Vec<bool> = r.field("found")?;
        let ts: Vec<Option<u64>> = r.field("ts")?;
        let values =
            msgpack::split_array(raw_field(&r, "values")?).map_err(|e| protocol("values", e))?;
        if found.len() != ids.len() || ts.len() != ids.len() || values.len() != ids.len() {
            return Err(Error::Protocol(
                "xget answer length differs from the request".into(),
            ));
        }
        ids.iter()
            .zip(found)
            .zip(ts)
            .zip(values)
            .map(|(((id, found), ts), value)| match (found, ts) {
                (false, _) => Ok(None),
                (true, Some(ts)) => Ok(Some(Entry {
                    id: *id,
                    ts,
                    value: value.to_vec(),
                })),
                (true, None) => Err(Error::Protocol(format!(
                    "xget: entry {id} found without ts"
                ))),
            })
            .collect()
    }

    /// One page of entries in ascending id order (see [`Range`]) and `more`: whether further
    /// entries lie in the range past the page (with only `before`: whether older ones exist).
    /// A stream that does not exist gives an empty page.
    pub fn xrange<T: DeserializeOwned>(
        &mut self,
        stream: &str,
        range: Range,
    ) -> Result<(Vec<Entry<T>>, bool)> {
        let (entries, more) = self.xrange_raw(stream, range)?;
        Ok((typed(entries)?, more))
    }

    /// [`Client::xrange`] with each value's bytes exactly as stored.
    pub fn xrange_raw(&mut self, stream: &str, range: Range) -> Result<(Vec<Entry>, bool)> {
        entries_of(&self.send(&req::xrange(stream, range))?)
    }

    /// Every entry of `stream` with id > `after`, following pages of `page` entries (default
    /// 100), values as stored.
    pub fn xrange_all(
        &mut self,
        stream: &str,
        after: u64,
        page: Option<u64>,
    ) -> Result<Vec<Entry>> {
        let mut all: Vec<Entry> = Vec::new();
        loop {
            let range = Range {
                after: Some(all.last().map_or(after, |e| e.id)),
                before: None,
                limit: page,
            };
            let (entries, more) = self.xrange_raw(stream, range)?;
            let empty = entries.is_empty();
            all.extend(entries);
            if !more || empty {
                return Ok(all);
            }
        }
    }

    /// The entries after `after` (0: from the start), at most `limit` (default 100), and
    /// `more`. Answered at once when such entries exist or `wait_ms` is 0; otherwise the
    /// engine waits up to `wait_ms` (≤ 60000) for an append to the stream, by this or another
    /// engine process on the data dir, and answers an empty page (`more` false) when none came.
    /// This call waits for the answer up to `wait_ms` plus [`Options::timeout`](crate::Options)
    /// (the usual margin), so a long wait is not mistaken for a hung engine.
    pub fn xread<T: DeserializeOwned>(
        &mut self,
        stream: &str,
        after: u64,
        limit: Option<u64>,
        wait_ms: u64,
    ) -> Result<(Vec<Entry<T>>, bool)> {
        let (entries, more) = self.xread_raw(stream, after, limit, wait_ms)?;
        Ok((typed(entries)?, more))
    }

    /// [`Client::xread`] with each value's bytes exactly as stored.
    pub fn xread_raw(
        &mut self,
        stream: &str,
        after: u64,
        limit: Option<u64>,
        wait_ms: u64,
    ) -> Result<(Vec<Entry>, bool)> {
        let req = req::xread(stream, after, limit, wait_ms);
        let r = if wait_ms > 0 {
            self.send_waiting(&req, Duration::from_millis(wait_ms))?
        } else {
            self.send(&req)?
        };
        entries_of(&r)
    }

    /// The stream's length, id range, first/last `ts`, stored retention and committed offsets.
    pub fn xinfo(&mut self, stream: &str) -> Result<StreamInfo> {
        let r = self.send(&req::xinfo(stream))?;
        deserialize(r.body()).map_err(|e| protocol("xinfo", e))
    }

    /// Removes entries from the head once (nothing is stored; see [`Trim`]); returns how many.
    /// All limits `None` is refused by the engine (`bad_request`).
    pub fn xtrim(&mut self, stream: &str, trim: Trim) -> Result<u64> {
        self.send(&req::xtrim(stream, trim))?.field("removed")
    }

    /// Removes the stream, its entries and its committed offsets; `false` when it did not
    /// exist. Appending again starts at entry id 1.
    pub fn xdrop(&mut self, stream: &str) -> Result<bool> {
        self.send(&req::xdrop(stream))?.field("dropped")
    }

    /// One page of stream names, ascending by UTF-8 bytes: those starting with `prefix`,
    /// greater than `after`, at most `limit` (default 1000); and whether more match.
    pub fn xstreams(
        &mut self,
        prefix: Option<&str>,
        after: Option<&str>,
        limit: Option<u64>,
    ) -> Result<(Vec<String>, bool)> {
        let r = self.send(&req::xstreams(prefix, after, limit))?;
        Ok((r.field("streams")?, r.field("more")?))
    }

    /// Every stream name with `prefix`, one `xstreams` page of `page` names at a time, as an
    /// iterator (an error ends it).
    pub fn xstreams_iter(&mut self, prefix: Option<&str>, page: Option<u64>) -> StreamNames<'_> {
        StreamNames {
            client: self,
            prefix: prefix.map(str::to_owned),
            page,
            after: None,
            buffer: VecDeque::new(),
            done: false,
        }
    }

    /// Every stream name with `prefix`, following pages.
    pub fn xstreams_all(&mut self, prefix: Option<&str>, page: Option<u64>) -> Result<Vec<String>> {
        self.xstreams_iter(prefix, page).collect()
    }

    /// Records `entry_id` as the last entry `group` has processed (it may move backwards, and
    /// may be 0). A stream that does not exist, or an id past its `last_id`, is `bad_request`.
    pub fn xcommit(&mut self, stream: &str, group: &str, entry_id: u64) -> Result<()> {
        self.send(&req::xcommit(stream, group, entry_id))
            .map(|_| ())
    }

    /// The group's committed entry id; `None` when it never committed (or the stream does not
    /// exist).
    pub fn xoffset(&mut self, stream: &str, group: &str) -> Result<Option<u64>> {
        self.send(&req::xoffset(stream, group))?.field("entry_id")
    }

    /// A [`Consumer`] of `stream` for `group` on this client (see [`Consumer::new`]).
    pub fn consumer(
        &mut self,
        stream: &str,
        group: &str,
        opts: ConsumerOptions,
    ) -> Result<Consumer<'_>> {
        Consumer::new(self, stream, group, opts)
    }
}

/// Every stream name with a prefix, page by page ([`Client::xstreams_iter`]).
pub struct StreamNames<'c> {
    client: &'c mut Client,
    prefix: Option<String>,
    page: Option<u64>,
    after: Option<String>,
    buffer: VecDeque<String>,
    done: bool,
}

impl Iterator for StreamNames<'_> {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Result<String>> {
        if let Some(n) = self.buffer.pop_front() {
            return Some(Ok(n));
        }
        if self.done {
            return None;
        }
        match self
            .client
            .xstreams(self.prefix.as_deref(), self.after.as_deref(), self.page)
        {
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
            Ok((names, more)) => {
                self.done = !more || names.is_empty();
                if let Some(last) = names.last() {
                    self.after = Some(last.clone());
                }
                self.buffer.extend(names);
                self.buffer.pop_front().map(Ok)
            }
        }
    }
}

/// What a [`Consumer`] does when entries after its position were removed (trimming,
/// retention) before the group read them: its committed offset is below the stream's
/// `first_id − 1`, or it fell that far behind while reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnTrimmed {
    /// Go on from the oldest entry left (Kafka's `auto.offset.reset=earliest`); the lost
    /// entries are counted in [`Consumer::skipped`].
    #[default]
    Earliest,
    /// Fail with [`Error::Trimmed`] (nothing is yielded or committed); the application
    /// decides, e.g. with [`Consumer::seek`].
    Error,
}

/// How a [`Consumer`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerOptions {
    /// Entries per read (1..=10000); default 100.
    pub batch: u64,
    /// How long one read waits for new entries (0..=60000 ms); default 1000. The iterator ends
    /// after a read that waited this long for nothing.
    pub wait_ms: u64,
    pub on_trimmed: OnTrimmed,
}

impl Default for ConsumerOptions {
    fn default() -> ConsumerOptions {
        ConsumerOptions {
            batch: 100,
            wait_ms: 1000,
            on_trimmed: OnTrimmed::Earliest,
        }
    }
}

/// The Kafka consumer loop for one group of one stream, at-least-once:
///
/// - it starts after the group's committed offset (`xoffset`; from the first entry when the
///   group never committed) and always continues after the last entry it handed out (never
///   from "now");
/// - it reads batches of [`ConsumerOptions::batch`] entries with blocking `xread`s of
///   [`ConsumerOptions::wait_ms`];
/// - it commits a batch (its last entry id, `xcommit`) once the batch has been consumed: when
///   the next entry is asked for after it ([`Iterator::next`], [`Consumer::next_batch`]), or on
///   [`Consumer::commit`]. An entry handed out is therefore committed only after the
///   application has come back for more, and a crash in between replays the batch.
///
/// As an iterator it yields `Result<Entry>` (values as stored; [`Entry::decode`]) and ends
/// (`None`) when a read waited `wait_ms` for nothing, after committing; iterate again (e.g.
/// `loop { for e in &mut consumer { ... } }`) to go on. Dropping a consumer commits nothing:
/// the entries handed out since the last commit will be read again by the group.
pub struct Consumer<'c> {
    client: &'c mut Client,
    stream: String,
    group: String,
    opts: ConsumerOptions,
    /// Id of the last entry handed out, or the start position.
    position: u64,
    /// Whether `position` is a real position of the group (a committed offset, an entry read,
    /// a seek) rather than "never committed": only then is a gap after it a loss.
    anchored: bool,
    /// What this consumer knows the group has committed.
    committed: Option<u64>,
    /// Read but not yet handed out.
    buffer: VecDeque<Entry>,
    skipped: u64,
}

impl<'c> Consumer<'c> {
    /// A consumer of `stream` for `group` (both str, key rules), positioned after the group's
    /// committed offset. With [`OnTrimmed::Error`] it fails at once with [`Error::Trimmed`]
    /// when entries after that offset have already been removed.
    pub fn new(
        client: &'c mut Client,
        stream: &str,
        group: &str,
        opts: ConsumerOptions,
    ) -> Result<Consumer<'c>> {
        let committed = client.xoffset(stream, group)?;
        let c = Consumer {
            client,
            stream: stream.to_owned(),
            group: group.to_owned(),
            opts,
            position: committed.unwrap_or(0),
            anchored: committed.is_some(),
            committed,
            buffer: VecDeque::new(),
            skipped: 0,
        };
        if let (Some(pos), OnTrimmed::Error) = (committed, opts.on_trimmed) {
            let info = c.client.xinfo(stream)?;
            if let Some(first) = info.first_id.filter(|f| *f > pos + 1) {
                return Err(c.trimmed(first));
            }
        }
        Ok(c)
    }

    fn trimmed(&self, first_id: u64) -> Error {
        Error::Trimmed {
            stream: self.stream.clone(),
            group: self.group.clone(),
            position: self.position,
            first_id,
        }
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }
    pub fn group(&self) -> &str {
        &self.group
    }
    /// The id of the last entry handed out (or the start position).
    pub fn position(&self) -> u64 {
        self.position
    }
    /// The group's committed offset as this consumer last saw or wrote it.
    pub fn committed(&self) -> Option<u64> {
        self.committed
    }
    /// Entries lost to trimming that [`OnTrimmed::Earliest`] went past.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
    /// The client, for other requests between batches.
    pub fn client(&mut self) -> &mut Client {
        self.client
    }

    /// Moves the position: the next entry handed out is the first with id > `after`. Entries
    /// read but not handed out are dropped; the next commit records `after` (a replay when it
    /// is lower than the committed offset).
    pub fn seek(&mut self, after: u64) {
        self.position = after;
        self.anchored = true;
        self.buffer.clear();
    }

    /// Commits the position (the last entry handed out) unless the group already has it.
    pub fn commit(&mut self) -> Result<()> {
        if self.committed == Some(self.position) || (self.committed.is_none() && self.position == 0)
        {
            return Ok(());
        }
        self.client
            .xcommit(&self.stream, &self.group, self.position)?;
        self.committed = Some(self.position);
        Ok(())
    }

    /// Reads the next batch into the buffer (blocking up to `wait_ms`); returns its length.
    fn fetch(&mut self) -> Result<usize> {
        let (entries, _more) = self.client.xread_raw(
            &self.stream,
            self.position,
            Some(self.opts.batch),
            self.opts.wait_ms,
        )?;
        if let Some(first) = entries.first() {
            let expected = self.position + 1;
            if first.id > expected && self.anchored {
                match self.opts.on_trimmed {
                    OnTrimmed::Error => return Err(self.trimmed(first.id)),
                    OnTrimmed::Earliest => self.skipped += first.id - expected,
                }
            }
            if first.id <= self.position {
                return Err(Error::Protocol(format!(
                    "xread after {} answered entry {}",
                    self.position, first.id
                )));
            }
        }
        let n = entries.len();
        self.anchored |= n > 0;
        self.buffer.extend(entries);
        Ok(n)
    }

    /// The batch API: commits the batch handed out before (it has been consumed), then reads
    /// and hands out the next one, up to `batch` entries, waiting up to `wait_ms` (an empty
    /// batch when nothing came). Entries buffered by the iterator come first.
    pub fn next_batch(&mut self) -> Result<Vec<Entry>> {
        if self.buffer.is_empty() {
            self.commit()?;
            self.fetch()?;
        }
        let batch: Vec<Entry> = self.buffer.drain(..).collect();
        if let Some(last) = batch.last() {
            self.position = last.id;
        }
        Ok(batch)
    }
}

impl Iterator for Consumer<'_> {
    type Item = Result<Entry>;

    /// The next entry; before reading a new batch, the one handed out is committed. `None`
    /// when a read waited `wait_ms` for nothing (everything handed out is committed by then).
    fn next(&mut self) -> Option<Result<Entry>> {
        if self.buffer.is_empty() {
            if let Err(e) = self.commit() {
                return Some(Err(e));
            }
            match self.fetch() {
                Err(e) => return Some(Err(e)),
                Ok(0) => return None,
                Ok(_) => {}
            }
        }
        let e = self.buffer.pop_front()?;
        self.position = e.id;
        Some(Ok(e))
    }
}
