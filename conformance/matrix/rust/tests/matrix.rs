//! The matrix binary (src/main.rs): write then verify on one data dir, and verify must fail
//! once a stored value is changed; the data set's native encoding.

use std::path::{Path, PathBuf};
use std::process::Command;

use litestash::{Client, Options, Value};
use litestash_matrix::vectors;

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
    let (rc, out, err) = matrix("verify", &dir);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.starts_with("verify OK ") && out.trim_end().ends_with(" keys"),
        "{out}"
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
