//! The history and transaction part of the matrix data set
//! (`conformance/vectors/history.json`, format `litestash-history/1`, see the vectors README):
//! loading it, writing it through the crate's API (`set_with`/`set_raw_with` and
//! `delete_if_version` for the conditional steps, [`Txn`] + [`Client::commit`] for the
//! transactions) and verifying it (`hello`'s `keep_versions`, `versions_all`, `get_raw_at` /
//! `get_at` at every listed version, the current value, the streams the transactions appended
//! to, and each transaction's effects).
//!
//! Versions differ from run to run: the writer remembers the versions it was answered (a
//! delete counts as 0) to resolve a step's `"current"`, `"absent"` and `"stale"` (the version
//! answered before the current one); the reader checks the sequence of (value bytes, tombstone
//! flag) and that the versions strictly decrease, newest first.

use std::collections::HashMap;

use litestash::msgpack::{self, hex, unhex, Value};
use litestash::{Client, Range, SetOptions, Txn, TxnResult};

use crate::vectors;

/// The history format this reader understands.
pub const FORMAT: &str = "litestash-history/1";

/// A value: its exact bytes and the decoded value its `json` describes.
#[derive(Debug, Clone)]
pub struct Val {
    pub bytes: Vec<u8>,
    pub hex: String,
    pub expected: Value,
}

impl Val {
    /// Whether rmp-serde encodes `expected` to exactly `bytes` (then it is written natively).
    pub fn native(&self) -> bool {
        rmp_serde::to_vec_named(&self.expected)
            .map(|b| b == self.bytes)
            .unwrap_or(false)
    }
}

/// One op of a transaction step.
#[derive(Debug, Clone)]
pub enum Op {
    Set {
        key: String,
        val: Val,
    },
    Delete {
        key: String,
        deleted: Option<bool>,
    },
    Xadd {
        stream: String,
        val: Val,
        entry_id: Option<u64>,
    },
}

/// One step, run in file order.
#[derive(Debug, Clone)]
pub enum Step {
    Set {
        key: String,
        val: Val,
        if_version: Option<String>,
        ok: bool,
    },
    Delete {
        key: String,
        if_version: Option<String>,
        ok: bool,
        deleted: bool,
    },
    Txn {
        name: String,
        checks: Vec<(String, String)>,
        ops: Vec<Op>,
        ok: bool,
        conflict_key: Option<String>,
    },
}

/// A key's expected versions, newest first (`None`: a tombstone).
#[derive(Debug, Clone)]
pub struct KeyHistory {
    pub key: String,
    pub live: bool,
    pub versions: Vec<Option<Val>>,
}

/// A stream the transactions appended to, with its entries (id, value).
#[derive(Debug, Clone)]
pub struct HistoryStream {
    pub stream: String,
    pub entries: Vec<(u64, Val)>,
}

#[derive(Debug, Clone)]
pub struct History {
    pub keep_versions: u64,
    pub steps: Vec<Step>,
    pub keys: Vec<KeyHistory>,
    pub streams: Vec<HistoryStream>,
}

impl History {
    /// H: the keys whose history is checked.
    pub fn histories(&self) -> usize {
        self.keys.len()
    }
    /// T: the transactions.
    pub fn txns(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s, Step::Txn { .. }))
            .count()
    }
    /// The streams' names (`xstreams` lists them besides streams.json's).
    pub fn stream_names(&self) -> Vec<String> {
        self.streams.iter().map(|s| s.stream.clone()).collect()
    }
}

fn s<'v>(v: &'v Value, name: &str) -> Result<&'v str, String> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("history: `{name}` missing or not a str in {v:?}"))
}

fn opt_s(v: &Value, name: &str) -> Result<Option<String>, String> {
    match v.get(name) {
        None | Some(Value::Nil) => Ok(None),
        Some(x) => x
            .as_str()
            .map(|x| Some(x.to_owned()))
            .ok_or_else(|| format!("history: `{name}` is neither a str nor null")),
    }
}

fn opt_u(v: &Value, name: &str) -> Option<u64> {
    v.get(name).and_then(Value::as_u64)
}

fn opt_b(v: &Value, name: &str) -> Option<bool> {
    v.get(name).and_then(Value::as_bool)
}

fn arr<'v>(v: &'v Value, name: &str) -> Result<&'v [Value], String> {
    v.get(name)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("history: `{name}` missing or not an array"))
}

fn val(v: &Value) -> Result<Val, String> {
    let h = s(v, "value_hex")?;
    Ok(Val {
        bytes: unhex(h).ok_or("history: bad value_hex")?,
        hex: h.to_owned(),
        expected: vectors::expected(v.get("json").ok_or("history: value without json")?)?,
    })
}

/// Loads `history` (through its MessagePack twin) and checks its format.
pub fn load() -> Result<History, String> {
    let doc = vectors::load("history")?;
    match doc.get("format").and_then(Value::as_str) {
        Some(FORMAT) => {}
        other => {
            return Err(format!(
                "history: format {other:?}, this host reads {FORMAT:?}"
            ))
        }
    }
    let keep_versions = opt_u(&doc, "keep_versions").ok_or("history: no keep_versions")?;
    let mut steps = Vec::new();
    for st in arr(&doc, "steps")? {
        let ok = s(st, "expect")? == "ok";
        steps.push(match s(st, "op")? {
            "set" => Step::Set {
                key: s(st, "key")?.to_owned(),
                val: val(st)?,
                if_version: opt_s(st, "if_version")?,
                ok,
            },
            "delete" => Step::Delete {
                key: s(st, "key")?.to_owned(),
                if_version: opt_s(st, "if_version")?,
                ok,
                deleted: opt_b(st, "deleted").ok_or("history: delete without deleted")?,
            },
            "txn" => Step::Txn {
                name: s(st, "name")?.to_owned(),
                checks: arr(st, "checks")?
                    .iter()
                    .map(|c| Ok((s(c, "key")?.to_owned(), s(c, "version")?.to_owned())))
                    .collect::<Result<_, String>>()?,
                ops: arr(st, "ops")?
                    .iter()
                    .map(|o| {
                        Ok(match s(o, "op")? {
                            "set" => Op::Set {
                                key: s(o, "key")?.to_owned(),
                                val: val(o)?,
                            },
                            "delete" => Op::Delete {
                                key: s(o, "key")?.to_owned(),
                                deleted: opt_b(o, "deleted"),
                            },
                            "xadd" => Op::Xadd {
                                stream: s(o, "stream")?.to_owned(),
                                val: val(o)?,
                                entry_id: opt_u(o, "entry_id"),
                            },
                            other => return Err(format!("history: unknown txn op {other:?}")),
                        })
                    })
                    .collect::<Result<_, String>>()?,
                ok,
                conflict_key: opt_s(st, "conflict_key")?,
            },
            other => return Err(format!("history: unknown step op {other:?}")),
        });
    }
    let keys = arr(&doc, "keys")?
        .iter()
        .map(|k| {
            Ok(KeyHistory {
                key: s(k, "key")?.to_owned(),
                live: opt_b(k, "live").ok_or("history: key without live")?,
                versions: arr(k, "versions")?
                    .iter()
                    .map(|w| match opt_b(w, "deleted") {
                        Some(true) => Ok(None),
                        Some(false) => val(w).map(Some),
                        None => Err("history: version without deleted".to_owned()),
                    })
                    .collect::<Result<_, String>>()?,
            })
        })
        .collect::<Result<_, String>>()?;
    let streams = arr(&doc, "streams")?
        .iter()
        .map(|hs| {
            Ok(HistoryStream {
                stream: s(hs, "stream")?.to_owned(),
                entries: arr(hs, "entries")?
                    .iter()
                    .map(|e| Ok((opt_u(e, "id").ok_or("history: entry without id")?, val(e)?)))
                    .collect::<Result<_, String>>()?,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(History {
        keep_versions,
        steps,
        keys,
        streams,
    })
}

/// Versions answered to the writer, per key, oldest first (0 for a delete).
#[derive(Default)]
struct Answered(HashMap<String, Vec<u64>>);

impl Answered {
    fn current(&self, key: &str) -> u64 {
        self.0.get(key).and_then(|v| v.last()).copied().unwrap_or(0)
    }
    fn resolve(&self, key: &str, want: &str) -> Result<u64, String> {
        match want {
            "absent" => Ok(0),
            "current" => Ok(self.current(key)),
            "stale" => self
                .0
                .get(key)
                .and_then(|v| v.len().checked_sub(2).map(|i| v[i]))
                .ok_or_else(|| format!("no stale version of {key:?}")),
            other => Err(format!("unknown version reference {other:?}")),
        }
    }
    fn record(&mut self, key: &str, v: u64) {
        self.0.entry(key.to_owned()).or_default().push(v);
    }
}

/// Runs every step in order, checking each answer. Returns (conflicts met as expected, the
/// first failure if any).
pub fn write(c: &mut Client, h: &History) -> (usize, Vec<String>) {
    let mut answered = Answered::default();
    let mut conflicts = 0;
    for (i, st) in h.steps.iter().enumerate() {
        match write_step(c, st, &mut answered) {
            Ok(true) => conflicts += 1,
            Ok(false) => {}
            Err(m) => {
                let what = match st {
                    Step::Set { key, .. } => format!("set {key:?}"),
                    Step::Delete { key, .. } => format!("delete {key:?}"),
                    Step::Txn { name, .. } => format!("txn {name:?}"),
                };
                return (
                    conflicts,
                    vec![format!("history step {} ({what}): {m}", i + 1)],
                );
            }
        }
    }
    (conflicts, Vec::new())
}

/// Ok(true) when the step met its expected conflict.
fn write_step(c: &mut Client, st: &Step, answered: &mut Answered) -> Result<bool, String> {
    let if_version = |key: &str, want: &Option<String>| -> Result<Option<u64>, String> {
        want.as_ref().map(|w| answered.resolve(key, w)).transpose()
    };
    let (result, ok, conflict_key) = match st {
        Step::Set {
            key,
            val,
            if_version: iv,
            ok,
        } => {
            let opts = SetOptions {
                ttl_ms: None,
                if_version: if_version(key, iv)?,
            };
            let r = if val.native() {
                c.set_with(key, &val.expected, opts)
            } else {
                c.set_raw_with(key, &val.bytes, opts)
            };
            (
                r.map(|v| vec![TxnResult::Set { version: v }]),
                *ok,
                key.clone(),
            )
        }
        Step::Delete {
            key,
            if_version: iv,
            ok,
            ..
        } => {
            let r = match if_version(key, iv)? {
                Some(v) => c.delete_if_version(key, v),
                None => c.delete(key),
            };
            (
                r.map(|d| vec![TxnResult::Delete { deleted: d }]),
                *ok,
                key.clone(),
            )
        }
        Step::Txn {
            checks,
            ops,
            ok,
            conflict_key,
            ..
        } => {
            let mut txn = Txn::new();
            for (key, want) in checks {
                txn = txn.check(key, answered.resolve(key, want)?);
            }
            for op in ops {
                txn = match op {
                    Op::Set { key, val } if val.native() => txn.set(key, &val.expected),
                    Op::Set { key, val } => txn.set_raw(key, &val.bytes, None),
                    Op::Delete { key, .. } => txn.delete(key),
                    Op::Xadd { stream, val, .. } if val.native() => txn.xadd(stream, &val.expected),
                    Op::Xadd { stream, val, .. } => txn.xadd_raw(stream, &val.bytes),
                };
            }
            (
                c.commit(&txn),
                *ok,
                conflict_key.clone().unwrap_or_default(),
            )
        }
    };
    let results = match result {
        Ok(r) if ok => r,
        Ok(r) => return Err(format!("answered {r:?}, want a conflict")),
        Err(e) => {
            return match e.conflict() {
                Some(cf) if !ok => {
                    let want = answered.current(&conflict_key);
                    if cf.key.as_deref() == Some(conflict_key.as_str()) && cf.version == want {
                        Ok(true)
                    } else {
                        Err(format!(
                            "conflict on key {:?} at version {}, want key {conflict_key:?} at version {want}",
                            cf.key, cf.version
                        ))
                    }
                }
                _ => Err(format!(
                    "{e} (want {})",
                    if ok { "ok" } else { "a conflict" }
                )),
            }
        }
    };
    // One result per written thing: a single set/delete, or the txn's ops.
    let written: Vec<(Option<&str>, Option<bool>, Option<u64>)> = match st {
        Step::Set { key, .. } => vec![(Some(key.as_str()), None, None)],
        Step::Delete { key, deleted, .. } => vec![(Some(key.as_str()), Some(*deleted), None)],
        Step::Txn { ops, .. } => ops
            .iter()
            .map(|o| match o {
                Op::Set { key, .. } => (Some(key.as_str()), None, None),
                Op::Delete { key, deleted, .. } => (Some(key.as_str()), *deleted, None),
                Op::Xadd { entry_id, .. } => (None, None, *entry_id),
            })
            .collect(),
    };
    if results.len() != written.len() {
        return Err(format!(
            "{} results for {} ops",
            results.len(),
            written.len()
        ));
    }
    for (r, (key, deleted, entry_id)) in results.iter().zip(written) {
        match (r, key) {
            (TxnResult::Set { version }, Some(key)) if deleted.is_none() => {
                if *version <= answered.current(key) {
                    return Err(format!("set {key:?}: version {version} does not increase"));
                }
                answered.record(key, *version);
            }
            (TxnResult::Delete { deleted: d }, Some(key)) if Some(*d) == deleted => {
                answered.record(key, 0)
            }
            (TxnResult::Xadd { entry_id: id }, None) if Some(*id) == entry_id => {}
            (r, key) => {
                return Err(format!(
                    "{key:?}: result {r:?}, want deleted {deleted:?} / entry id {entry_id:?}"
                ))
            }
        }
    }
    Ok(false)
}

/// Checks everything as the vectors README says; returns the problems, each naming its key,
/// stream or transaction.
pub fn verify(c: &mut Client, h: &History) -> Vec<String> {
    let mut p = Vec::new();
    if c.hello().keep_versions != h.keep_versions {
        p.push(format!(
            "hello keep_versions = {}, want {} (the data dir records the writer's)",
            c.hello().keep_versions,
            h.keep_versions
        ));
    }
    // key -> [(deleted, bytes)] newest first, as read
    let mut found: HashMap<&str, Vec<(bool, Option<Vec<u8>>)>> = HashMap::new();
    for k in &h.keys {
        let (seen, problems) = verify_key(c, k);
        found.insert(&k.key, seen);
        p.extend(
            problems
                .into_iter()
                .map(|x| format!("history {:?}: {x}", k.key)),
        );
    }
    let mut entries: HashMap<&str, HashMap<u64, Vec<u8>>> = HashMap::new();
    for hs in &h.streams {
        let range = Range {
            after: Some(0),
            before: None,
            limit: Some(1000),
        };
        match c.xrange_raw(&hs.stream, range) {
            Ok((got, false)) => {
                let got_ids: Vec<u64> = got.iter().map(|e| e.id).collect();
                let want_ids: Vec<u64> = hs.entries.iter().map(|e| e.0).collect();
                if got_ids != want_ids {
                    p.push(format!(
                        "history stream {:?}: ids {got_ids:?}, want {want_ids:?}",
                        hs.stream
                    ));
                }
                for (g, (id, w)) in got.iter().zip(&hs.entries) {
                    if g.value != w.bytes {
                        p.push(format!(
                            "history stream {:?} entry {id}: raw bytes {}, want {}",
                            hs.stream,
                            hex(&g.value),
                            w.hex
                        ));
                    }
                }
                entries.insert(
                    &hs.stream,
                    got.into_iter().map(|e| (e.id, e.value)).collect(),
                );
            }
            other => p.push(format!("history stream {:?}: xrange {other:?}", hs.stream)),
        }
    }
    for st in &h.steps {
        let Step::Txn { name, ops, ok, .. } = st else {
            continue;
        };
        for op in ops {
            let problem = match op {
                Op::Set { key, val } => {
                    let present = found.get(key.as_str()).map_or(false, |seen| {
                        seen.iter()
                            .any(|(d, b)| !d && b.as_deref() == Some(val.bytes.as_slice()))
                    });
                    match (present, ok) {
                        (false, true) => Some(format!("set {key:?}: value {} missing", val.hex)),
                        (true, false) => Some(format!(
                            "set {key:?}: value {} present, the txn failed",
                            val.hex
                        )),
                        _ => None,
                    }
                }
                Op::Delete {
                    key,
                    deleted: Some(true),
                } if *ok => {
                    let tomb = found
                        .get(key.as_str())
                        .map_or(false, |seen| seen.iter().any(|(d, _)| *d));
                    (!tomb).then(|| format!("delete {key:?}: no tombstone"))
                }
                Op::Xadd {
                    stream,
                    val,
                    entry_id,
                } => {
                    let stored = entries.get(stream.as_str());
                    if *ok {
                        let got = entry_id.and_then(|id| stored.and_then(|m| m.get(&id)));
                        (got != Some(&val.bytes))
                            .then(|| format!("xadd {stream:?}: entry {entry_id:?} missing"))
                    } else {
                        stored
                            .map_or(false, |m| m.values().any(|b| *b == val.bytes))
                            .then(|| {
                                format!(
                                    "xadd {stream:?}: value {} appended, the txn failed",
                                    val.hex
                                )
                            })
                    }
                }
                _ => None,
            };
            p.extend(problem.map(|x| format!("txn {name:?}: {x}")));
        }
    }
    p
}

type Seen = Vec<(bool, Option<Vec<u8>>)>;

fn verify_key(c: &mut Client, k: &KeyHistory) -> (Seen, Vec<String>) {
    let mut p = Vec::new();
    let got = match c.versions_all(&k.key, Some(4)) {
        Ok(g) => g,
        Err(e) => return (Vec::new(), vec![format!("versions: {e}")]),
    };
    let vs: Vec<u64> = got.iter().map(|kv| kv.version).collect();
    if vs.iter().any(|v| *v == 0) || vs.windows(2).any(|w| w[0] <= w[1]) {
        p.push(format!(
            "versions {vs:?} do not strictly decrease (newest first)"
        ));
    }
    let flags: Vec<bool> = got.iter().map(|kv| kv.deleted).collect();
    let want_flags: Vec<bool> = k.versions.iter().map(Option::is_none).collect();
    if flags != want_flags {
        p.push(format!(
            "versions: tombstone flags {flags:?}, want {want_flags:?}"
        ));
    }
    let mut seen = Vec::new();
    for (n, kv) in got.iter().enumerate() {
        let raw = match c.get_raw_at(&k.key, kv.version) {
            Ok(r) => r,
            Err(e) => {
                p.push(format!("get version #{n} ({}): {e}", kv.version));
                seen.push((kv.deleted, None));
                continue;
            }
        };
        seen.push((kv.deleted, raw.clone()));
        let Some(w) = k.versions.get(n) else {
            continue; // more versions than expected: reported above
        };
        match (w, raw) {
            (None, None) => {}
            (None, Some(r)) => p.push(format!(
                "version #{n} ({}) is a tombstone, but get found {}",
                kv.version,
                hex(&r)
            )),
            (Some(_), None) => p.push(format!("get version #{n} ({}): not found", kv.version)),
            (Some(w), Some(r)) if r != w.bytes => p.push(format!(
                "get version #{n} ({}): raw bytes {}, want {}",
                kv.version,
                hex(&r),
                w.hex
            )),
            (Some(w), Some(r)) => {
                match msgpack::decode(&r) {
                    Ok(v) if v == w.expected => {}
                    other => p.push(format!(
                        "version #{n}: decoded {other:?}, want {:?}",
                        w.expected
                    )),
                }
                match c.get_at::<Value>(&k.key, kv.version) {
                    Ok(Some(v)) if v == w.expected => {}
                    other => p.push(format!("version #{n}: serde get_at gave {other:?}")),
                }
            }
        }
    }
    match (c.get_versioned(&k.key), k.live) {
        (Ok(None), false) => {}
        (Ok(Some((raw, v))), true) => {
            let want = k.versions.first().and_then(|w| w.as_ref());
            if Some(&v) != vs.first() || want.map(|w| &w.bytes) != Some(&raw) {
                p.push(format!(
                    "get: version {v} with {}, want {:?} with {:?}",
                    hex(&raw),
                    vs.first(),
                    want.map(|w| &w.hex)
                ));
            }
        }
        (other, live) => p.push(format!(
            "get: {other:?}, want {}",
            if live { "the newest version" } else { "absent" }
        )),
    }
    (seen, p)
}
