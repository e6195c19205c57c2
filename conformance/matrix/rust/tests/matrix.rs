//! The matrix binary (src/main.rs): write then verify on one data dir (keys, streams, history
//! and transactions), and verify must fail once a stored value, a stream entry, a stream's
//! retention, a committed offset or a key's history is changed; the data set's native encoding.

use std::path::{Path, PathBuf};
use std::process::Command;

use litestash::{Client, Options, Retention, Value};
use litestash_matrix::{history, streams, vectors};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!(
            "litestash-rs-matrix-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Fails with a clear message when there is no engine (env LITESTASH_ENGINE or PATH).
fn engine() -> PathBuf {
    match litestash::find_engine(None) {
        Ok(p) => p,
        Err(e) => panic!("{e} (build it or set LITESTASH_ENGINE)"),
    }
}

fn matrix(mode: &str, dir: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_matrix"))
        .arg(mode)
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn write_then_verify_then_detect_corruption() {
    engine();
    let tmp = TempDir::new("matrix");
    let dir = tmp.path().join("data");
    let (rc, out, err) = matrix("write", &dir);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.starts_with("write OK "), "{out}");
    assert!(out.contains("\nwrite OK 4 streams "), "{out}");
    let (rc, out, err) = matrix("verify", &dir);
    assert_eq!(rc, 0, "{out}{err}");
    let n_keys = vectors::load("dataset")
        .unwrap()
        .get("entries")
        .and_then(Value::as_array)
        .unwrap()
        .len();
    let st = streams::load().unwrap();
    let live: u64 = st.iter().map(|s| s.length).sum();
    let h = history::load().unwrap();
    assert_eq!(
        out,
        format!(
            "verify OK {n_keys} keys\nverify OK {} streams {live} entries\n\
             verify OK {} histories {} txns\n",
            st.len(),
            h.histories(),
            h.txns()
        ),
        "exactly the three lines the driver expects"
    );

    {
        let mut o = Options::new(&dir).engine(engine());
        o.stderr_file = Some(tmp.path().join("engine.log"));
        let mut c = Client::start(&o).unwrap();
        c.set("ds:int:zero", &1).unwrap();
    }
    let (rc, _out, err) = matrix("verify", &dir);
    assert_eq!(rc, 1);
    assert!(err.contains("ds:int:zero"), "{err}");
}

/// Changes the stored streams one way at a time: verify must fail and name the stream.
#[test]
fn verify_detects_changed_streams() {
    let tmp = TempDir::new("matrix-streams");
    let dir = tmp.path().join("data");
    let (rc, out, err) = matrix("write", &dir);
    assert_eq!(rc, 0, "{out}{err}");
    let changes: [(&str, fn(&mut Client)); 4] = [
        ("st:one", |c| {
            // one more entry: ids, length and (maxlen 1) the first id all move
            c.xadd_raw("st:one", &[0xc0], Retention::NONE).unwrap();
        }),
        ("st:orders", |c| {
            c.xcommit("st:orders", "billing", 4).unwrap()
        }),
        ("ds:map:user", |c| {
            let r = Retention {
                maxlen: Some(1000),
                max_age_ms: None,
            };
            c.xadd_raw("ds:map:user", &[0x01], r).unwrap();
        }),
        ("st:extra", |c| {
            c.xadd_raw("st:extra", &[0x01], Retention::NONE).unwrap();
        }),
    ];
    for (stream, change) in changes {
        {
            let mut o = Options::new(&dir).engine(engine());
            o.stderr_file = Some(tmp.path().join("engine.log"));
            let mut c = Client::start(&o).unwrap();
            change(&mut c);
        }
        let (rc, out, err) = matrix("verify", &dir);
        assert_eq!(rc, 1, "{stream}: {out}{err}");
        assert!(err.contains(stream), "{stream}: {err}");
        assert!(!out.contains("verify OK"), "{out}");
    }
}

/// Changes the stored history one way at a time: verify must fail and name the key, stream or
/// transaction.
#[test]
fn verify_detects_changed_history() {
    let tmp = TempDir::new("matrix-history");
    let dir = tmp.path().join("data");
    let (rc, out, err) = matrix("write", &dir);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.contains("\nwrite OK 39 history steps (3 conflicts as expected), 4 txns\n"),
        "{out}"
    );
    let changes: [(&str, fn(&mut Client)); 4] = [
        ("history \"h:counter\"", |c| {
            c.set("h:counter", &-5).unwrap(); // same value, one version more
        }),
        ("txn \"stale-transfer\"", |c| {
            c.set("h:acct:new", "must not exist").unwrap();
        }),
        ("history stream \"h:events\"", |c| {
            c.xadd_raw("h:events", &[0x01], Retention::NONE).unwrap();
        }),
        ("history \"h:gone\"", |c| {
            c.delete("h:gone").unwrap();
        }),
    ];
    for (complaint, change) in changes {
        {
            let mut o = Options::new(&dir).engine(engine());
            o.stderr_file = Some(tmp.path().join("engine.log"));
            let mut c = Client::start(&o).unwrap();
            change(&mut c);
        }
        let (rc, out, err) = matrix("verify", &dir);
        assert_eq!(rc, 1, "{complaint}: {out}{err}");
        assert!(err.contains(complaint), "{complaint}: {err}");
        assert!(!out.contains("histories"), "{out}");
    }
}

/// history.json: values decode to their descriptions; each txn spans >= 3 shards.
#[test]
fn history_vectors_are_consistent() {
    let h = history::load().unwrap();
    assert_eq!(h.keep_versions, 10);
    assert!(h.txns() >= 3 && h.histories() >= 5);
    for k in &h.keys {
        for v in k.versions.iter().flatten() {
            assert_eq!(
                litestash::msgpack::decode(&v.bytes).unwrap(),
                v.expected,
                "{}",
                k.key
            );
        }
    }
    for st in &h.steps {
        if let history::Step::Txn {
            name, checks, ops, ..
        } = st
        {
            let mut shards: Vec<u64> = checks
                .iter()
                .map(|(k, _)| k.as_str())
                .chain(ops.iter().filter_map(|o| match o {
                    history::Op::Set { key, .. } | history::Op::Delete { key, .. } => {
                        Some(key.as_str())
                    }
                    history::Op::Xadd { .. } => None,
                }))
                .map(|k| litestash::blake2b::shard_of(k.as_bytes(), 16))
                .collect();
            shards.sort();
            shards.dedup();
            assert!(shards.len() >= 3, "{name}: {shards:?}");
        }
    }
}

/// Every stream entry's `json` describes its `value_hex`; most are also this host's native
/// encoding (the others, like a `str 8` header for a short str, are sent raw by `write`).
#[test]
fn stream_entries_decode_to_their_json() {
    let st = streams::load().unwrap();
    assert!(!st.is_empty());
    let mut native = 0;
    for s in &st {
        assert_eq!(s.length, s.last_id + 1 - s.first_id, "{}", s.stream);
        for e in &s.entries {
            assert_eq!(
                litestash::msgpack::decode(&e.bytes).unwrap(),
                e.expected,
                "{} entry {}",
                s.stream,
                e.id
            );
            let own = litestash::msgpack::encode(&e.expected) == e.bytes;
            let serde = rmp_serde::to_vec_named(&e.expected).unwrap() == e.bytes;
            assert_eq!(own, serde, "{} entry {}: encoders disagree", s.stream, e.id);
            native += own as usize;
        }
    }
    assert!(native > 0);
}

#[test]
fn dataset_native_encoding_matches_value_hex() {
    let doc = vectors::load("dataset").unwrap();
    for e in doc.get("entries").and_then(Value::as_array).unwrap() {
        let key = e.get("key").and_then(Value::as_str).unwrap();
        let want = e.get("value_hex").and_then(Value::as_str).unwrap();
        let v = vectors::expected(e.get("json").unwrap()).unwrap();
        assert_eq!(
            litestash::msgpack::hex(&rmp_serde::to_vec_named(&v).unwrap()),
            want,
            "{key} via rmp-serde"
        );
        assert_eq!(
            litestash::msgpack::hex(&litestash::msgpack::encode(&v)),
            want,
            "{key} via own encoder"
        );
        assert_eq!(
            litestash::msgpack::decode(&litestash::msgpack::unhex(want).unwrap()).unwrap(),
            v,
            "{key}"
        );
    }
}
