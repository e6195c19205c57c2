//! The Rust client against the real engine: every op, typed errors, raw bytes exactness,
//! pipelining, engine death. Each test runs its own engine on a fresh temp data dir.

mod common;

use std::collections::HashMap;

use common::{hex, signal, start, unhex, TempDir};
use litestash::{Client, Error, ErrorCode, Req, Route, Scan, Ttl, Value};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct User {
    name: String,
    score: u32,
}

fn code(e: Error) -> ErrorCode {
    match e {
        Error::Engine { code, message, .. } => {
            assert!(!message.is_empty(), "error message present");
            code
        }
        other => panic!("expected an engine error, got {other:?}"),
    }
}

#[test]
fn hello_is_checked_and_ping_works() {
    let tmp = TempDir::new("hello");
    let mut c = start(&tmp);
    let h = c.hello().clone();
    assert!(h.protocol == 1 || h.protocol == 2, "{h:?}");
    assert_eq!(h.hash, "blake2b-512");
    assert_eq!(h.shards, 16);
    assert_eq!(h.engine, "litestash-engine");
    assert!(h.features.iter().any(|f| f == "ttl"));
    c.ping().unwrap();
    let status = c.close().unwrap();
    assert!(status.success(), "clean shutdown exits 0, got {status}");
}

#[test]
fn typed_set_get_and_values() {
    let tmp = TempDir::new("typed");
    let mut c = start(&tmp);
    let v1 = c
        .set(
            "user:1001",
            &User {
                name: "Alice".into(),
                score: 99,
            },
        )
        .unwrap();
    assert_eq!(
        c.get::<User>("user:1001").unwrap(),
        Some(User {
            name: "Alice".into(),
            score: 99
        })
    );
    // Other hosts see a map with str keys.
    let m: HashMap<String, Value> = c.get("user:1001").unwrap().unwrap();
    assert_eq!(m["name"], Value::Str("Alice".into()));
    let v2 = c
        .set(
            "user:1001",
            &User {
                name: "Bob".into(),
                score: 1,
            },
        )
        .unwrap();
    assert!(v2 > v1, "versions increase: {v1} then {v2}");
    c.set("vec:1", &vec![0.1f64, 0.5, 0.9]).unwrap();
    assert_eq!(
        c.get::<Vec<f64>>("vec:1").unwrap(),
        Some(vec![0.1, 0.5, 0.9])
    );
    c.set("u64", &u64::MAX).unwrap();
    assert_eq!(c.get::<u64>("u64").unwrap(), Some(u64::MAX));
    c.set("i64", &i64::MIN).unwrap();
    assert_eq!(c.get::<i64>("i64").unwrap(), Some(i64::MIN));
    c.set("none", &Option::<u8>::None).unwrap();
    assert_eq!(
        c.get::<Option<u8>>("none").unwrap(),
        Some(None),
        "a stored nil is found"
    );
    c.set("f32", &1.5f32).unwrap();
    assert_eq!(c.get_raw("f32").unwrap().unwrap(), unhex("ca3fc00000"));
    assert_eq!(c.get::<User>("missing").unwrap(), None);
    assert_eq!(c.get_raw("missing").unwrap(), None);
    // A value of the wrong shape is a decode error, not a panic.
    assert!(matches!(c.get::<User>("vec:1"), Err(Error::Decode(_))));
    let (raw, version) = c.get_versioned("user:1001").unwrap().unwrap();
    assert_eq!(version, v2);
    assert_eq!(rmp_serde::from_slice::<User>(&raw).unwrap().name, "Bob");
}

#[test]
fn raw_bytes_come_back_exactly() {
    let tmp = TempDir::new("raw");
    let mut c = start(&tmp);
    let raws = [
        "cc05",
        "ce00000007",
        "cf0000000000000001",
        "ca3fc00000",
        "d903616263",
        "da0000",
        "c4030001ff",
        "de0001a17801",
        "dd000000020102",
        "c70307aabbcc",
        "d6ff00000000",
        "c0",
    ];
    let keys: Vec<String> = (0..raws.len()).map(|i| format!("raw:{i}")).collect();
    for (k, h) in keys.iter().zip(raws) {
        c.set_raw(k, &unhex(h), None).unwrap();
        assert_eq!(hex(&c.get_raw(k).unwrap().unwrap()), h);
    }
    let mut ks: Vec<&str> = keys.iter().map(String::as_str).collect();
    ks.push("nope");
    let got = c.mget_raw(&ks).unwrap();
    let got: Vec<Option<String>> = got.iter().map(|o| o.as_deref().map(hex)).collect();
    let mut want: Vec<Option<String>> = raws.iter().map(|h| Some(h.to_string())).collect();
    want.push(None);
    assert_eq!(got, want);
    // The dynamic Value via serde keeps float32 and ext apart.
    assert_eq!(c.get::<Value>("raw:3").unwrap(), Some(Value::F32(1.5)));
    assert_eq!(
        c.get::<Value>("raw:9").unwrap(),
        Some(Value::Ext(7, vec![0xaa, 0xbb, 0xcc]))
    );
    // Bytes that are not exactly one object are refused before sending.
    assert!(matches!(
        c.set_raw("bad", &[1, 2], None),
        Err(Error::Encode(_))
    ));
    assert!(matches!(
        c.set_raw("bad", &[0x92, 1], None),
        Err(Error::Encode(_))
    ));
    assert!(matches!(
        c.mset_raw(&[("bad", &[0xc1][..])], None),
        Err(Error::Encode(_))
    ));
    assert_eq!(c.get_raw("bad").unwrap(), None);
}

#[test]
fn delete_exists_count_clear_sync() {
    let tmp = TempDir::new("basic");
    let mut c = start(&tmp);
    assert!(!c.exists("d").unwrap());
    c.set("d", &1).unwrap();
    assert!(c.exists("d").unwrap());
    assert_eq!(c.count().unwrap(), 1);
    assert!(c.delete("d").unwrap());
    assert!(!c.delete("d").unwrap());
    assert!(!c.exists("d").unwrap());
    assert_eq!(c.mset(&[("c1", 1), ("c2", 2), ("c3", 3)], None).unwrap(), 3);
    assert_eq!(c.count().unwrap(), 3);
    c.sync().unwrap();
    c.clear().unwrap();
    assert_eq!(c.count().unwrap(), 0);
    assert_eq!(c.get::<i32>("c1").unwrap(), None);
}

#[test]
fn mset_mget_mdelete() {
    let tmp = TempDir::new("multi");
    let mut c = start(&tmp);
    assert_eq!(
        c.mset(&[("m:a", "1"), ("m:b", "two"), ("m:c", "3")], None)
            .unwrap(),
        3
    );
    let got: Vec<Option<String>> = c.mget(&["m:a", "zz", "m:b", "m:a"]).unwrap();
    assert_eq!(
        got,
        vec![Some("1".into()), None, Some("two".into()), Some("1".into())]
    );
    assert_eq!(c.mget::<String>(&[]).unwrap(), vec![]);
    assert_eq!(c.mset::<u8>(&[], None).unwrap(), 0);
    assert_eq!(c.mdelete(&["m:a", "m:b", "zz"]).unwrap(), 2);
    assert_eq!(c.mdelete(&[]).unwrap(), 0);
    assert_eq!(
        c.mget::<String>(&["m:a", "m:c"]).unwrap(),
        vec![None, Some("3".into())]
    );
}

#[test]
fn scan_pages_in_byte_order() {
    let tmp = TempDir::new("scan");
    let mut c = start(&tmp);
    let keys = ["p:b", "p:a", "p:é", "p:~", "p:😀", "p:c", "q:1"];
    let entries: Vec<(&str, u8)> = keys.iter().map(|k| (*k, 0)).collect();
    c.mset(&entries, None).unwrap();
    let (page, more) = c
        .scan(&Scan {
            prefix: Some("p:"),
            limit: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!((page, more), (vec!["p:a".to_string(), "p:b".into()], true));
    let (page, more) = c
        .scan(&Scan {
            prefix: Some("p:"),
            after: Some("p:b"),
            limit: None,
        })
        .unwrap();
    assert_eq!(page, vec!["p:c", "p:~", "p:é", "p:😀"]);
    assert!(!more);
    assert_eq!(
        c.scan_all(Some("p:"), Some(1)).unwrap(),
        vec!["p:a", "p:b", "p:c", "p:~", "p:é", "p:😀"]
    );
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.sort(); // Rust sorts str by bytes, like the engine
    assert_eq!(c.scan_all(None, None).unwrap(), sorted);
    assert_eq!(
        c.scan(&Scan {
            prefix: Some("none"),
            ..Default::default()
        })
        .unwrap(),
        (vec![], false)
    );
}

#[test]
fn ttl_expire_persist_and_real_expiry() {
    let tmp = TempDir::new("ttl");
    let mut c = start(&tmp);
    c.set_ex("t", "v", 60_000).unwrap();
    match c.ttl("t").unwrap() {
        Ttl::Expires(ms) => assert!(ms > 0 && ms <= 60_000),
        other => panic!("{other:?}"),
    }
    assert!(c.persist("t").unwrap());
    assert_eq!(c.ttl("t").unwrap(), Ttl::Persistent);
    assert!(!c.persist("t").unwrap());
    assert!(c.expire("t", 60_000).unwrap());
    c.set("t", "v2").unwrap();
    assert_eq!(
        c.ttl("t").unwrap(),
        Ttl::Persistent,
        "set without ttl clears the expiry"
    );
    assert_eq!(c.ttl("missing").unwrap(), Ttl::Missing);
    assert!(!c.expire("missing", 1000).unwrap());

    c.set_ex("short", &1, 50).unwrap();
    c.mset(&[("short2", 2)], Some(50)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    assert_eq!(c.get::<i32>("short").unwrap(), None);
    assert!(!c.exists("short2").unwrap());
    assert_eq!(c.count().unwrap(), 1);
    let st = c.stats().unwrap();
    assert_eq!(st.shards.len(), 16);
    assert_eq!(st.shards.iter().map(|s| s.keys).sum::<u64>(), 1);
    assert!(st.all.get("shards").is_some());
    // This engine wrote keys: its write counters are typed, not only in `all`.
    assert!(st.shards.iter().map(|s| s.ops).sum::<u64>() > 0);
    assert!(st.shards.iter().map(|s| s.batches).sum::<u64>() > 0);
    assert!(st.shards.iter().map(|s| s.pages_written).sum::<u64>() > 0);
}

#[test]
fn typed_engine_errors() {
    let tmp = TempDir::new("errors");
    let mut c = start(&tmp);
    assert_eq!(code(c.set("", &1).unwrap_err()), ErrorCode::InvalidKey);
    assert_eq!(
        code(c.get::<u8>(&"k".repeat(1025)).unwrap_err()),
        ErrorCode::InvalidKey
    );
    assert_eq!(
        code(
            c.send(&Req::new("get").key_bytes(&[0xff, 0xfe]))
                .unwrap_err()
        ),
        ErrorCode::InvalidKey
    );
    assert_eq!(
        code(c.mget::<u8>(&["ok", ""]).unwrap_err()),
        ErrorCode::InvalidKey
    );
    assert_eq!(
        code(c.set_raw("k", &[1], Some(0)).unwrap_err()),
        ErrorCode::BadRequest
    );
    assert_eq!(
        code(
            c.scan(&Scan {
                limit: Some(0),
                ..Default::default()
            })
            .unwrap_err()
        ),
        ErrorCode::BadRequest
    );
    let r = Req::new("set")
        .key("k")
        .field("value", &Value::Int(1))
        .field("ttl_ms", &Value::Str("soon".into()));
    assert_eq!(code(c.send(&r).unwrap_err()), ErrorCode::TypeError);
    let r = Req::new("set")
        .key("a")
        .field("value", &Value::Int(1))
        .route(Route::Fixed(2));
    assert_eq!(code(c.send(&r).unwrap_err()), ErrorCode::WrongShard);
    assert_eq!(c.get_raw("a").unwrap(), None, "wrong_shard wrote nothing");
    assert_eq!(
        code(c.request("frobnicate", &[]).unwrap_err()),
        ErrorCode::UnknownOp
    );
    assert_eq!(
        code(
            c.request(
                "get",
                &[("key", Value::Str("a".into())), ("x", Value::Int(1))]
            )
            .unwrap_err()
        ),
        ErrorCode::BadRequest
    );
    // Frame-level errors answer with id nil.
    let r = c.send_frame(&[]).unwrap();
    assert_eq!(r.id, None);
    assert_eq!(code(r.into_result().unwrap_err()), ErrorCode::BadFrame);
    let r = c.send_frame(&[0xc1]).unwrap();
    assert_eq!(code(r.into_result().unwrap_err()), ErrorCode::BadRequest);
    c.ping().unwrap();
    // An unknown code is kept as a string.
    assert_eq!(
        ErrorCode::from_wire("brand_new"),
        ErrorCode::Other("brand_new".into())
    );
}

#[test]
fn value_and_frame_size_limits() {
    let tmp = TempDir::new("limits");
    let mut o = common::options(&tmp);
    o.extra_args = vec![
        "--max-value-bytes".into(),
        "100".into(),
        "--max-frame-bytes".into(),
        "1000".into(),
    ];
    let mut c = Client::start(&o).unwrap();
    assert_eq!(c.hello().max_value_bytes, 100);
    c.set("small", &"x".repeat(50)).unwrap();
    assert_eq!(
        code(c.set("big", &"x".repeat(200)).unwrap_err()),
        ErrorCode::ValueTooLarge
    );
    assert_eq!(
        code(c.mset(&[("big", "x".repeat(200))], None).unwrap_err()),
        ErrorCode::ValueTooLarge
    );
    let r = c.send_frame(&vec![0u8; 5000]).unwrap();
    assert_eq!(r.id, None);
    assert_eq!(code(r.into_result().unwrap_err()), ErrorCode::FrameTooLarge);
    assert_eq!(c.get::<String>("small").unwrap().unwrap().len(), 50);
    assert_eq!(c.get_raw("big").unwrap(), None);
}

#[test]
fn pipeline_matches_answers_by_id() {
    let tmp = TempDir::new("pipeline");
    let mut c = start(&tmp);
    let mut reqs = Vec::new();
    for i in 0..300u32 {
        let v = rmp_serde::to_vec(&i).unwrap();
        reqs.push(
            Req::new("set")
                .key(&format!("pl:{}", i % 40))
                .raw_field("value", v),
        );
        reqs.push(Req::new("get").key(&format!("pl:{}", i % 40)));
    }
    let results = c.pipeline(&reqs);
    assert_eq!(results.len(), 600);
    for (i, pair) in results.chunks(2).enumerate() {
        assert!(pair[0].as_ref().unwrap().has("version"));
        let got = pair[1].as_ref().unwrap();
        // read-your-writes in the stream: the get sees the set just before it
        assert_eq!(
            got.field::<u32>("value").unwrap(),
            i as u32,
            "pipelined get {i}"
        );
    }
    assert_eq!(c.count().unwrap(), 40);
}

#[test]
fn data_survives_a_restart() {
    let tmp = TempDir::new("restart");
    {
        let mut c = start(&tmp);
        c.set("durable", &vec![1, 2, 3]).unwrap();
        assert!(c.close().unwrap().success());
    }
    let mut c = start(&tmp);
    assert_eq!(c.get::<Vec<i32>>("durable").unwrap(), Some(vec![1, 2, 3]));
}

#[test]
fn engine_killed_while_a_request_is_pending() {
    use std::os::unix::process::ExitStatusExt;
    let tmp = TempDir::new("kill");
    let mut c = start(&tmp);
    let pid = c.pid();
    signal(pid, "STOP");
    let killer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        signal(pid, "KILL");
    });
    let err = c.get::<u8>("k").unwrap_err();
    killer.join().unwrap();
    match err {
        Error::EngineExited(s) => assert_eq!(s.signal(), Some(9), "{s}"),
        other => panic!("expected EngineExited, got {other:?}"),
    }
    // Every later call fails the same way, immediately.
    assert!(matches!(c.ping(), Err(Error::EngineExited(_))));
    assert!(matches!(c.set("k", &1), Err(Error::EngineExited(_))));
}

#[test]
fn start_failures_are_errors() {
    let tmp = TempDir::new("startfail");
    let mut o = common::options(&tmp);
    o.engine = Some("/nonexistent/litestash-engine".into());
    match Client::start(&o) {
        Err(Error::EngineNotFound(m)) => {
            assert!(m.contains("/nonexistent/litestash-engine"), "{m}")
        }
        Err(other) => panic!("expected EngineNotFound, got {other:?}"),
        Ok(_) => panic!("a missing engine started"),
    }
    let mut o = common::options(&tmp);
    o.extra_args = vec!["--no-such-flag".into()];
    match Client::start(&o) {
        Err(Error::EngineExited(s)) => assert_eq!(s.code(), Some(64), "usage error exits 64"),
        Err(other) => panic!("expected EngineExited(64), got {other:?}"),
        Ok(_) => panic!("engine with a bad flag started"),
    }
}

/// The engine's command line, from /proc.
fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

fn log_level_arg(args: &[String]) -> Option<&str> {
    let i = args.iter().position(|a| a == "--log-level")?;
    args.get(i + 1).map(String::as_str)
}

#[test]
fn engine_logs_at_warn_unless_told_otherwise() {
    let tmp = TempDir::new("loglevel");
    let base = litestash::Options::new(tmp.path().join("data"))
        .engine(common::engine())
        .arg("--memory");
    assert_eq!(base.log_level.as_deref(), Some("warn"));
    assert_eq!(base.timeout, Some(litestash::DEFAULT_TIMEOUT));
    let c = Client::start(&base).unwrap();
    assert_eq!(log_level_arg(&cmdline(c.pid())), Some("warn"));
    assert!(c.close().unwrap().success());

    let mut o = base.clone();
    o.log_level = Some("error".into());
    let c = Client::start(&o).unwrap();
    assert_eq!(log_level_arg(&cmdline(c.pid())), Some("error"));
    drop(c);

    let mut o = base.clone();
    o.log_level = None;
    o.stderr_file = Some(tmp.path().join("engine.log"));
    let c = Client::start(&o).unwrap();
    assert_eq!(log_level_arg(&cmdline(c.pid())), None);
    drop(c);
}

#[test]
fn a_hung_engine_times_out_instead_of_blocking() {
    use std::time::{Duration, Instant};
    let tmp = TempDir::new("hung");
    let limit = Duration::from_millis(300);
    // Started with the default timeout: on a busy machine a fresh engine can take longer than
    // 300 ms to answer hello (start_against_a_silent_engine_times_out covers that path).
    let mut c = Client::start(&common::options(&tmp)).unwrap();
    c.set_timeout(Some(limit));
    assert_eq!(c.timeout(), Some(limit));
    c.set("k", &1).unwrap();
    let pid = c.pid();

    signal(pid, "STOP");
    let t0 = Instant::now();
    match c.get::<u8>("k") {
        Err(Error::Timeout(d)) => assert_eq!(d, limit),
        other => panic!("expected Timeout, got {other:?}"),
    }
    // A request far larger than the pipe buffer does not block on the write either.
    let big = msgpack_bin(&vec![7u8; 1 << 20]);
    assert!(matches!(
        c.set_raw("big", &big, None),
        Err(Error::Timeout(_))
    ));
    let results = c.pipeline(&[Req::new("ping"), Req::new("ping")]);
    assert!(results.iter().all(|r| matches!(r, Err(Error::Timeout(_)))));
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());

    // Once the engine runs again the late answers are skipped and the stream is usable; the
    // requests that timed out were still delivered.
    signal(pid, "CONT");
    c.set_timeout(Some(Duration::from_secs(30)));
    assert_eq!(c.get::<u8>("k").unwrap(), Some(1));
    assert_eq!(c.get_raw("big").unwrap(), Some(big));

    // Closing a hung engine is bounded too: it is killed after the timeout.
    c.set_timeout(Some(limit));
    signal(pid, "STOP");
    let t0 = Instant::now();
    assert!(matches!(c.close(), Err(Error::Timeout(_))));
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    let gone = std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!gone.success(), "engine {pid} still running after close");
}

/// `bytes` as one MessagePack bin 32 object.
fn msgpack_bin(bytes: &[u8]) -> Vec<u8> {
    let mut b = vec![0xc6];
    b.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    b.extend_from_slice(bytes);
    b
}

#[test]
fn start_against_a_silent_engine_times_out() {
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, Instant};
    let tmp = TempDir::new("silent");
    // An "engine" that never answers hello (nor reads its stdin).
    let fake = tmp.path().join("silent-engine");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = litestash::Options::new(tmp.path().join("data"))
        .engine(&fake)
        .timeout(Some(Duration::from_millis(300)));
    let t0 = Instant::now();
    match Client::start(&o) {
        Err(Error::Timeout(d)) => assert_eq!(d, Duration::from_millis(300)),
        Err(other) => panic!("expected Timeout, got {other:?}"),
        Ok(_) => panic!("a silent engine passed hello"),
    }
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}
