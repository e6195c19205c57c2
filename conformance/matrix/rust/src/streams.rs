//! The stream part of the matrix data set (`conformance/vectors/streams.json`, format
//! `litestash-streams/1`, see the vectors README): loading it, writing it (`xadd` in order,
//! retention on every append, `xcommit` of the groups) and verifying it (`xstreams`, `xinfo`,
//! `xrange`, `xget`, `xoffset`: ids, ts, exact bytes, decoded values, retention, offsets).

use std::collections::{BTreeMap, HashMap};

use litestash::msgpack::{self, hex, unhex, Value};
use litestash::{Client, Range, Retention};

use crate::vectors;

/// The stream format this reader understands.
pub const FORMAT: &str = "litestash-streams/1";

/// A group in no stream of the file: its `xoffset` must be nil.
pub const NO_GROUP: &str = "nobody";

/// One entry of a stream, as appended.
#[derive(Debug, Clone)]
pub struct StreamEntry {
    pub id: u64,
    pub bytes: Vec<u8>,
    pub hex: String,
    pub expected: Value,
}

/// One stream of the file and the state expected after writing it.
#[derive(Debug, Clone)]
pub struct StreamVec {
    pub stream: String,
    pub maxlen: Option<u64>,
    pub max_age_ms: Option<u64>,
    pub first_id: u64,
    pub last_id: u64,
    pub length: u64,
    pub groups: BTreeMap<String, u64>,
    pub entries: Vec<StreamEntry>,
}

impl StreamVec {
    pub fn retention(&self) -> Retention {
        Retention {
            maxlen: self.maxlen,
            max_age_ms: self.max_age_ms,
        }
    }
    /// The entries still live after writing (ids `first_id..=last_id`).
    pub fn live(&self) -> impl Iterator<Item = &StreamEntry> {
        self.entries.iter().filter(move |e| e.id >= self.first_id)
    }
}

fn field<'v>(v: &'v Value, name: &str, what: &str) -> Result<&'v Value, String> {
    v.get(name).ok_or_else(|| format!("{what}: no `{name}`"))
}

fn uint(v: &Value, name: &str, what: &str) -> Result<u64, String> {
    field(v, name, what)?
        .as_u64()
        .ok_or_else(|| format!("{what}: `{name}` is not a uint"))
}

fn opt_uint(v: &Value, name: &str, what: &str) -> Result<Option<u64>, String> {
    match field(v, name, what)? {
        Value::Nil => Ok(None),
        x => x
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{what}: `{name}` is neither a uint nor null")),
    }
}

/// Loads `streams` (through its MessagePack twin) and checks its format.
pub fn load() -> Result<Vec<StreamVec>, String> {
    let doc = vectors::load("streams")?;
    match doc.get("format").and_then(Value::as_str) {
        Some(FORMAT) => {}
        other => {
            return Err(format!(
                "streams: format {other:?}, this host reads {FORMAT:?}"
            ))
        }
    }
    let list = doc
        .get("streams")
        .and_then(Value::as_array)
        .ok_or("streams: no `streams` array")?;
    list.iter().map(parse_stream).collect()
}

fn parse_stream(s: &Value) -> Result<StreamVec, String> {
    let name = field(s, "stream", "stream")?
        .as_str()
        .ok_or("stream: `stream` is not a str")?
        .to_owned();
    let what = format!("stream {name:?}");
    let groups = match field(s, "groups", &what)? {
        Value::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| match (k.as_str(), v.as_u64()) {
                (Some(k), Some(v)) => Ok((k.to_owned(), v)),
                _ => Err(format!("{what}: bad group {k:?} => {v:?}")),
            })
            .collect::<Result<_, String>>()?,
        _ => return Err(format!("{what}: `groups` is not a map")),
    };
    let entries = field(s, "entries", &what)?
        .as_array()
        .ok_or_else(|| format!("{what}: `entries` is not an array"))?
        .iter()
        .map(|e| {
            let id = uint(e, "id", &what)?;
            let h = field(e, "value_hex", &what)?
                .as_str()
                .ok_or_else(|| format!("{what}: entry {id}: value_hex is not a str"))?;
            Ok(StreamEntry {
                id,
                bytes: unhex(h).ok_or_else(|| format!("{what}: entry {id}: bad value_hex"))?,
                hex: h.to_owned(),
                expected: vectors::expected(field(e, "json", &what)?)
                    .map_err(|m| format!("{what}: entry {id}: {m}"))?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(StreamVec {
        maxlen: opt_uint(s, "maxlen", &what)?,
        max_age_ms: opt_uint(s, "max_age_ms", &what)?,
        first_id: uint(s, "first_id", &what)?,
        last_id: uint(s, "last_id", &what)?,
        length: uint(s, "length", &what)?,
        groups,
        entries,
        stream: name,
    })
}

/// What [`write`] did.
#[derive(Debug, Default)]
pub struct Written {
    pub appended: usize,
    pub native: usize,
}

/// Appends every entry of every stream in order — natively (rmp-serde encoding of the
/// entry's dynamic `Value`) when that gives exactly `value_hex`, else the raw bytes — with the
/// stream's retention on every `xadd`, checks each answered `entry_id`, then commits the
/// groups. Returns the counts and the failures.
pub fn write(c: &mut Client, streams: &[StreamVec]) -> (Written, Vec<String>) {
    let mut done = Written::default();
    let mut failures = Vec::new();
    for s in streams {
        for e in &s.entries {
            let native = rmp_serde::to_vec_named(&e.expected)
                .map(|b| b == e.bytes)
                .unwrap_or(false);
            let r = if native {
                c.xadd(&s.stream, &e.expected, s.retention())
            } else {
                c.xadd_raw(&s.stream, &e.bytes, s.retention())
            };
            match r {
                Ok(a) if a.entry_id == e.id => {
                    done.appended += 1;
                    done.native += native as usize;
                }
                Ok(a) => failures.push(format!(
                    "stream {:?}: xadd answered entry_id {}, want {} (was the data dir not fresh?)",
                    s.stream, a.entry_id, e.id
                )),
                Err(err) => failures.push(format!("stream {:?}: xadd {}: {err}", s.stream, e.id)),
            }
        }
        for (group, id) in &s.groups {
            if let Err(err) = c.xcommit(&s.stream, group, *id) {
                failures.push(format!(
                    "stream {:?}: xcommit {group:?} {id}: {err}",
                    s.stream
                ));
            }
        }
    }
    (done, failures)
}

/// Checks every stream as the vectors README's "verify" says; returns the problems, each
/// naming its stream.
/// `other_names`: streams of other files (history.json's) that `xstreams` lists too.
pub fn verify(c: &mut Client, streams: &[StreamVec], other_names: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut want: Vec<&str> = streams.iter().map(|s| s.stream.as_str()).collect();
    want.extend(other_names.iter().map(String::as_str));
    want.sort(); // str order is UTF-8 byte order, the engine's
    match c
        .xstreams_iter(None, Some(2))
        .collect::<litestash::Result<Vec<String>>>()
    {
        Ok(got) if got == want => {}
        Ok(got) => problems.push(format!("xstreams: {got:?}, want {want:?}")),
        Err(err) => problems.push(format!("xstreams: {err}")),
    }
    for s in streams {
        problems.extend(
            verify_stream(c, s)
                .into_iter()
                .map(|p| format!("stream {:?}: {p}", s.stream)),
        );
    }
    problems
}

fn verify_stream(c: &mut Client, s: &StreamVec) -> Vec<String> {
    let mut p = Vec::new();
    let info = match c.xinfo(&s.stream) {
        Ok(i) => i,
        Err(err) => return vec![format!("xinfo: {err}")],
    };
    if !info.exists {
        p.push("xinfo exists = false".into());
    }
    let checks = [
        ("length", Some(info.length), Some(s.length)),
        ("first_id", info.first_id, Some(s.first_id)),
        ("last_id", info.last_id, Some(s.last_id)),
        ("maxlen", info.maxlen, s.maxlen),
        ("max_age_ms", info.max_age_ms, s.max_age_ms),
    ];
    for (name, got, want) in checks {
        if got != want {
            p.push(format!("xinfo {name} = {got:?}, want {want:?}"));
        }
    }
    if info.groups != s.groups {
        p.push(format!(
            "xinfo groups = {:?}, want {:?}",
            info.groups, s.groups
        ));
    }

    // xrange from the start in pages of 3 (`after` = last id seen) until `more` is false.
    let live: Vec<&StreamEntry> = s.live().collect();
    let mut got = Vec::new();
    let mut after = 0;
    loop {
        let range = Range {
            after: Some(after),
            before: None,
            limit: Some(3),
        };
        match c.xrange_raw(&s.stream, range) {
            Ok((page, more)) => {
                let empty = page.is_empty();
                if let Some(last) = page.last() {
                    after = last.id;
                }
                got.extend(page);
                if !more {
                    break;
                }
                if empty {
                    p.push("xrange: an empty page with more = true".into());
                    break;
                }
            }
            Err(err) => {
                p.push(format!("xrange after {after}: {err}"));
                break;
            }
        }
    }
    let got_ids: Vec<u64> = got.iter().map(|e| e.id).collect();
    let want_ids: Vec<u64> = live.iter().map(|e| e.id).collect();
    if got_ids != want_ids {
        p.push(format!("xrange ids {got_ids:?}, want {want_ids:?}"));
    }
    let mut ts_by_id = HashMap::new();
    let mut prev_ts = 0;
    for (g, w) in got.iter().zip(&live) {
        if g.value != w.bytes {
            p.push(format!(
                "entry {}: raw bytes {}, want {}",
                w.id,
                hex(&g.value),
                w.hex
            ));
        }
        match msgpack::decode(&g.value) {
            Ok(v) if v == w.expected => {}
            Ok(v) => p.push(format!(
                "entry {}: decoded {v:?}, want {:?}",
                w.id, w.expected
            )),
            Err(err) => p.push(format!("entry {}: cannot decode: {err}", w.id)),
        }
        match g.decode::<Value>() {
            Ok(v) if v == w.expected => {}
            other => p.push(format!("entry {}: serde decode gave {other:?}", w.id)),
        }
        if g.ts <= prev_ts {
            p.push(format!(
                "entry {}: ts {} does not increase (previous {prev_ts})",
                w.id, g.ts
            ));
        }
        prev_ts = g.ts;
        ts_by_id.insert(g.id, g.ts);
    }
    // Typed through serde on the same path an application takes.
    let all = Range {
        limit: Some(litestash::stream::MAX_LIMIT),
        ..Range::default()
    };
    match c.xrange::<Value>(&s.stream, all) {
        Ok((typed, _)) => {
            for (t, w) in typed.iter().zip(&live) {
                if t.value != w.expected || ts_by_id.get(&t.id) != Some(&t.ts) {
                    p.push(format!("entry {}: typed xrange gave {t:?}", w.id));
                }
            }
        }
        Err(err) => p.push(format!("typed xrange: {err}")),
    }
    if let (Some(first), Some(last)) = (got.first(), got.last()) {
        if info.first_ts != Some(first.ts) || info.last_ts != Some(last.ts) {
            p.push(format!(
                "xinfo first_ts/last_ts {:?}/{:?}, entries' ts {}/{}",
                info.first_ts, info.last_ts, first.ts, last.ts
            ));
        }
    }

    // xget of 1..=last_id: trimmed ids absent, live ids byte-exact with the xrange ts.
    let ids: Vec<u64> = (1..=s.last_id).collect();
    let by_id: HashMap<u64, &StreamEntry> = s.entries.iter().map(|e| (e.id, e)).collect();
    match c.xget_raw(&s.stream, &ids) {
        Ok(found) => {
            for (id, g) in ids.iter().zip(found) {
                match (g, *id < s.first_id) {
                    (None, true) => {}
                    (Some(_), true) => {
                        p.push(format!("xget {id}: found, but it should have been trimmed"))
                    }
                    (None, false) => p.push(format!("xget {id}: not found")),
                    (Some(g), false) => {
                        let want = by_id.get(id).map(|e| e.bytes.as_slice());
                        if Some(g.value.as_slice()) != want {
                            p.push(format!("xget {id}: raw bytes {}", hex(&g.value)));
                        }
                        if ts_by_id.get(id) != Some(&g.ts) {
                            p.push(format!(
                                "xget {id}: ts {}, xrange said {:?}",
                                g.ts,
                                ts_by_id.get(id)
                            ));
                        }
                    }
                }
            }
        }
        Err(err) => p.push(format!("xget: {err}")),
    }

    // Committed offsets.
    for (group, id) in &s.groups {
        match c.xoffset(&s.stream, group) {
            Ok(Some(got)) if got == *id => {}
            other => p.push(format!("xoffset {group:?} = {other:?}, want {id}")),
        }
    }
    match c.xoffset(&s.stream, NO_GROUP) {
        Ok(None) => {}
        other => p.push(format!("xoffset {NO_GROUP:?} = {other:?}, want nil")),
    }
    p
}
