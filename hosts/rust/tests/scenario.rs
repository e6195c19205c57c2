//! Runs the shared frame-level scenario (conformance/vectors/scenario.json, through its
//! MessagePack twin): one fresh engine, each step's request bytes sent as one frame, one
//! answer read and checked against `expect` (see the vectors README), strictly in order; at the
//! end stdin is closed and the exit status must be 0.

mod common;

use std::io::{BufReader, Read, Write};
use std::process::{Command, Stdio};

use common::{engine, vectors, TempDir};
use litestash::msgpack::{self, hex, Value};

/// Checks one response body against one `expect` map; returns the mismatches.
fn check(body: &[u8], expect: &Value) -> Vec<String> {
    let resp = match msgpack::decode(body) {
        Ok(v @ Value::Map(_)) => v,
        other => return vec![format!("response is not a map: {other:?} ({})", hex(body))],
    };
    let spans = msgpack::map_spans(body).unwrap();
    let raw = |n: &str| {
        spans
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, r)| &body[r.clone()])
    };
    let expect = match expect {
        Value::Map(m) => m,
        _ => return vec!["expect is not a map".into()],
    };
    let mut errs = Vec::new();
    for (name, want) in expect {
        let name = name.as_str().unwrap_or("?");
        match name {
            "ok" | "id" => match resp.get(name) {
                Some(got) if got == want => {}
                got => errs.push(format!("{name} = {got:?}, want {want:?}")),
            },
            "code" => {
                let e = resp.get("error");
                let ok = e.and_then(|e| e.get("code")) == Some(want)
                    && e.and_then(|e| e.get("message"))
                        .and_then(Value::as_str)
                        .is_some();
                if !ok {
                    errs.push(format!(
                        "error {e:?}, want code {want:?} with a str message"
                    ));
                }
            }
            "fields" => {
                let fields = match want {
                    Value::Map(m) => m,
                    _ => unreachable!(),
                };
                for (f, w) in fields {
                    let f = f.as_str().unwrap();
                    match resp.get(f) {
                        Some(got) if got == w => {}
                        got => errs.push(format!("field {f} = {got:?}, want {w:?}")),
                    }
                }
            }
            "value_hex" => match raw("value") {
                Some(b) if Some(hex(b).as_str()) == want.as_str() => {}
                b => errs.push(format!("value bytes {:?}, want {want:?}", b.map(hex))),
            },
            "values_hex" => {
                let want: Vec<String> = want
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|w| w.as_str().unwrap_or("c0").to_owned())
                    .collect();
                let got: Option<Vec<String>> = raw("values")
                    .and_then(|b| msgpack::split_array(b).ok())
                    .map(|v| v.into_iter().map(hex).collect());
                if got.as_ref() != Some(&want) {
                    errs.push(format!("values bytes {got:?}, want {want:?}"));
                }
            }
            "types" => {
                let types = match want {
                    Value::Map(m) => m,
                    _ => unreachable!(),
                };
                for (f, t) in types {
                    let (f, t) = (f.as_str().unwrap(), t.as_str().unwrap());
                    let got = resp.get(f);
                    let ok = match (t, got) {
                        ("uint", Some(Value::Int(i))) => *i >= 0,
                        ("str", Some(Value::Str(_))) => true,
                        ("bool", Some(Value::Bool(_))) => true,
                        ("array", Some(Value::Array(_))) => true,
                        ("map", Some(Value::Map(_))) => true,
                        ("nil", Some(Value::Nil)) => true,
                        _ => false,
                    };
                    if !ok {
                        errs.push(format!("field {f} = {got:?} is not of type {t}"));
                    }
                }
            }
            "absent" => {
                for f in want.as_array().unwrap() {
                    if resp.get(f.as_str().unwrap()).is_some() {
                        errs.push(format!("field {f:?} must be absent"));
                    }
                }
            }
            "len" => {
                let lens = match want {
                    Value::Map(m) => m,
                    _ => unreachable!(),
                };
                for (f, n) in lens {
                    let got = resp
                        .get(f.as_str().unwrap())
                        .and_then(Value::as_array)
                        .map(|a| a.len() as u64);
                    if got != n.as_u64() {
                        errs.push(format!("field {f:?} length {got:?}, want {n:?}"));
                    }
                }
            }
            "contains" => {
                let lists = match want {
                    Value::Map(m) => m,
                    _ => unreachable!(),
                };
                for (f, items) in lists {
                    let got = resp
                        .get(f.as_str().unwrap())
                        .and_then(Value::as_array)
                        .unwrap_or(&[]);
                    for item in items.as_array().unwrap() {
                        if !got.contains(item) {
                            errs.push(format!("field {f:?} lacks {item:?}"));
                        }
                    }
                }
            }
            "shard_keys" | "shard_expiring" => {
                let field = if name == "shard_keys" {
                    "keys"
                } else {
                    "expiring"
                };
                let shards = resp.get("shards").and_then(Value::as_array).unwrap_or(&[]);
                let mut got: Vec<(u64, Option<u64>)> = shards
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        (
                            m.get("shard").and_then(Value::as_u64).unwrap_or(i as u64),
                            m.get(field).and_then(Value::as_u64),
                        )
                    })
                    .collect();
                got.sort();
                let got: Vec<Option<u64>> = got.into_iter().map(|g| g.1).collect();
                let want: Vec<Option<u64>> =
                    want.as_array().unwrap().iter().map(Value::as_u64).collect();
                if got != want {
                    errs.push(format!("shards[].{field} {got:?}, want {want:?}"));
                }
            }
            other => errs.push(format!("unknown expect field {other} (runner too old?)")),
        }
    }
    errs
}

#[test]
fn scenario_passes_step_by_step_and_engine_exits_0() {
    let sc = vectors::load("scenario").unwrap();
    assert_eq!(
        sc.get("format").and_then(Value::as_str),
        Some("litestash-scenario/1")
    );
    let steps = sc.get("steps").and_then(Value::as_array).unwrap();
    assert!(steps.len() > 100);
    let tmp = TempDir::new("scenario");
    let log = tmp.path().join("engine.log");
    let mut cmd = Command::new(engine());
    cmd.arg("--data-dir").arg(tmp.path().join("data"));
    for a in sc.get("engine_args").and_then(Value::as_array).unwrap() {
        cmd.arg(a.as_str().unwrap());
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut failures = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let req_hex = step.get("request").and_then(Value::as_str).unwrap();
        let body = msgpack::unhex(req_hex).unwrap();
        stdin.write_all(&(body.len() as u32).to_be_bytes()).unwrap();
        stdin.write_all(&body).unwrap();
        stdin.flush().unwrap();
        let mut len = [0u8; 4];
        if let Err(e) = stdout.read_exact(&mut len) {
            failures.push(format!("step {i}: engine gave no answer ({e}); stopping"));
            break;
        }
        let mut resp = vec![0u8; u32::from_be_bytes(len) as usize];
        stdout.read_exact(&mut resp).unwrap();
        let errs = check(&resp, step.get("expect").unwrap());
        if !errs.is_empty() {
            let describe = step.get("describe").and_then(Value::as_str).unwrap_or("");
            failures.push(format!(
                "step {i} ({describe}), request {req_hex}: {} — response {:?}",
                errs.join("; "),
                msgpack::decode(&resp)
            ));
        }
    }
    drop(stdin);
    let status = child.wait().unwrap();
    if !status.success() {
        failures.push(format!(
            "engine exit status after stdin closed: {status} (want 0)"
        ));
    }
    if !failures.is_empty() {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: String = log
            .chars()
            .rev()
            .take(3000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        panic!(
            "{} failures:\n{}\nengine log tail:\n{tail}",
            failures.len(),
            failures.join("\n")
        );
    }
}

#[test]
fn the_checker_can_fail() {
    let resp = msgpack::encode(&Value::Map(vec![
        (Value::Str("id".into()), Value::Int(1)),
        (Value::Str("ok".into()), Value::Bool(true)),
        (Value::Str("value".into()), Value::Int(5)),
    ]));
    let exp = |pairs: Vec<(&str, Value)>| {
        Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Value::Str(k.into()), v))
                .collect(),
        )
    };
    assert!(check(
        &resp,
        &exp(vec![("ok", Value::Bool(true)), ("id", Value::Int(1))])
    )
    .is_empty());
    assert_eq!(
        check(&resp, &exp(vec![("ok", Value::Bool(false))])).len(),
        1
    );
    assert_eq!(
        check(&resp, &exp(vec![("value_hex", Value::Str("cc05".into()))])).len(),
        1
    );
    assert_eq!(
        check(
            &resp,
            &exp(vec![(
                "absent",
                Value::Array(vec![Value::Str("value".into())])
            )])
        )
        .len(),
        1
    );
}
