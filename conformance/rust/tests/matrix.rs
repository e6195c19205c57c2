//! The matrix binary (src/bin/matrix.rs): write then verify on one data dir, and verify must
//! fail once a stored value is changed.

mod common;

use std::process::Command;

use common::TempDir;
use litestash::{Client, Value};

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
    common::engine();
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
        let mut c = Client::start(&common::options(&tmp)).unwrap();
        c.set("ds:int:zero", &1).unwrap();
    }
    let (rc, _out, err) = matrix("verify", &dir);
    assert_eq!(rc, 1);
    assert!(err.contains("ds:int:zero"), "{err}");
}

#[test]
fn dataset_native_encoding_matches_value_hex() {
    let doc = litestash::vectors::load("dataset").unwrap();
    for e in doc.get("entries").and_then(Value::as_array).unwrap() {
        let key = e.get("key").and_then(Value::as_str).unwrap();
        let want = e.get("value_hex").and_then(Value::as_str).unwrap();
        let v = litestash::vectors::expected(e.get("json").unwrap()).unwrap();
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
