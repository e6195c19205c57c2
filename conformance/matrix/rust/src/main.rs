//! Cross-language matrix role of the Rust host (run through `conformance/matrix/rust/matrix.sh`),
//! built on the `litestash` crate (hosts/rust).
//!
//!   matrix write DATA_DIR    store every dataset.json entry; natively (rmp-serde encoding of
//!                            the entry's dynamic `Value`) when that gives exactly `value_hex`,
//!                            else the raw bytes. Then append every streams.json stream in
//!                            order (same rule, its retention on every xadd, each entry id
//!                            checked) and commit its groups' offsets
//!   matrix verify DATA_DIR   read every key back: raw bytes must equal `value_hex`, and the
//!                            value decoded both by the host's own decoder and through serde
//!                            (`get::<Value>`) must equal the `json` description. Then check
//!                            every stream (xstreams, xinfo, xrange, xget, xoffset: ids, ts,
//!                            exact bytes, decoded values, retention, offsets; src/streams.rs).
//!                            Then history.json (src/history.rs): the recorded depth, every
//!                            key's versions, `get` at each version, the txns' effects
//!
//! `write` starts the engine with history.json's `keep_versions` (the data dir records it)
//! and, after the streams, runs history.json's steps (conditional sets/deletes, transactions).
//!
//! Prints `write OK N keys ...`, `write OK S streams M entries appended ...` and
//! `write OK K history steps ...`, or `verify OK N keys`, `verify OK S streams M entries`
//! (M: live entries) and `verify OK H histories T txns`, and exits 0; or
//! lists every mismatch and exits 1 (2 for usage or setup errors). Engine: env
//! LITESTASH_ENGINE, else litestash-engine on PATH.

use std::process::ExitCode;

use litestash::msgpack::{self, hex, unhex, Value};
use litestash::{Client, Options};
use litestash_matrix::history::{self, History};
use litestash_matrix::streams::{self, StreamVec};
use litestash_matrix::vectors;

struct Entry {
    key: String,
    bytes: Vec<u8>,
    hex: String,
    expected: Value,
}

fn entries() -> Result<Vec<Entry>, String> {
    let doc = vectors::load("dataset")?;
    let list = doc
        .get("entries")
        .and_then(Value::as_array)
        .ok_or("dataset: no entries")?;
    list.iter()
        .map(|e| {
            let key = e
                .get("key")
                .and_then(Value::as_str)
                .ok_or("entry without key")?
                .to_owned();
            let h = e
                .get("value_hex")
                .and_then(Value::as_str)
                .ok_or("entry without value_hex")?;
            let json = e.get("json").ok_or("entry without json")?;
            Ok(Entry {
                bytes: unhex(h).ok_or("bad value_hex")?,
                hex: h.to_owned(),
                expected: vectors::expected(json).map_err(|m| format!("{key}: {m}"))?,
                key,
            })
        })
        .collect()
}

fn write(c: &mut Client, entries: &[Entry], streams: &[StreamVec], h: &History) -> Vec<String> {
    let mut native = 0;
    let mut failures = Vec::new();
    for e in entries {
        let same = rmp_serde::to_vec_named(&e.expected)
            .map(|b| b == e.bytes)
            .unwrap_or(false);
        let r = if same {
            native += 1;
            c.set(&e.key, &e.expected)
        } else {
            c.set_raw(&e.key, &e.bytes, None)
        };
        if let Err(err) = r {
            failures.push(format!("{:?}: {err}", e.key));
        }
    }
    let (written, stream_failures) = streams::write(c, streams);
    failures.extend(stream_failures);
    let (conflicts, history_failures) = history::write(c, h);
    failures.extend(history_failures);
    if let Err(err) = c.sync() {
        failures.push(format!("sync: {err}"));
    }
    if failures.is_empty() {
        println!(
            "write OK {} keys ({native} native, {} raw)",
            entries.len(),
            entries.len() - native
        );
        println!(
            "write OK {} streams {} entries appended ({} native, {} raw)",
            streams.len(),
            written.appended,
            written.native,
            written.appended - written.native
        );
        println!(
            "write OK {} history steps ({conflicts} conflicts as expected), {} txns",
            h.steps.len(),
            h.txns()
        );
    }
    failures
}

fn verify(c: &mut Client, entries: &[Entry], streams: &[StreamVec], h: &History) -> Vec<String> {
    let mut failures = Vec::new();
    for e in entries {
        match c.get_raw(&e.key) {
            Ok(Some(raw)) if raw == e.bytes => {
                match msgpack::decode(&raw) {
                    Ok(v) if v == e.expected => {}
                    Ok(v) => failures.push(format!(
                        "{:?}: decoded {v:?}, expected {:?}",
                        e.key, e.expected
                    )),
                    Err(err) => failures.push(format!("{:?}: cannot decode: {err}", e.key)),
                }
                match c.get::<Value>(&e.key) {
                    Ok(Some(v)) if v == e.expected => {}
                    other => failures.push(format!("{:?}: serde get gave {other:?}", e.key)),
                }
            }
            Ok(Some(raw)) => failures.push(format!(
                "{:?}: bytes {}, expected {}",
                e.key,
                hex(&raw),
                e.hex
            )),
            Ok(None) => failures.push(format!("{:?}: not found", e.key)),
            Err(err) => failures.push(format!("{:?}: {err}", e.key)),
        }
    }
    failures.extend(streams::verify(c, streams, &h.stream_names()));
    failures.extend(history::verify(c, h));
    if failures.is_empty() {
        println!("verify OK {} keys", entries.len());
        println!(
            "verify OK {} streams {} entries",
            streams.len(),
            streams.iter().map(|s| s.length).sum::<u64>()
        );
        println!("verify OK {} histories {} txns", h.histories(), h.txns());
    }
    failures
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, dir) = match args.as_slice() {
        [m, d] if m == "write" || m == "verify" => (m.clone(), d.clone()),
        _ => {
            eprintln!("usage: matrix write|verify DATA_DIR");
            return ExitCode::from(2);
        }
    };
    let loaded = entries().and_then(|e| Ok((e, streams::load()?, history::load()?)));
    let (entries, streams, hist) = match loaded {
        Ok(e) => e,
        Err(m) => {
            eprintln!("rust matrix: {m}");
            return ExitCode::from(2);
        }
    };
    let mut opts = Options::new(&dir);
    if mode == "write" {
        // The writer sets the history depth; the data dir records it for the reader.
        opts = opts.keep_versions(hist.keep_versions);
    }
    opts.log_level = Some("warn".into());
    let mut c = match Client::start(&opts) {
        Ok(c) => c,
        Err(err) => {
            eprintln!("rust matrix: cannot start the engine: {err}");
            return ExitCode::from(2);
        }
    };
    let failures = if mode == "write" {
        write(&mut c, &entries, &streams, &hist)
    } else {
        verify(&mut c, &entries, &streams, &hist)
    };
    match c.close() {
        Ok(s) if s.success() => {}
        Ok(s) => eprintln!("rust matrix: engine exit status {s}"),
        Err(err) => eprintln!("rust matrix: closing the engine: {err}"),
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for f in &failures {
            eprintln!("{mode} FAILED {f}");
        }
        eprintln!(
            "{mode} FAILED: {} problems over {} keys and {} streams",
            failures.len(),
            entries.len(),
            streams.len()
        );
        ExitCode::from(1)
    }
}
