//! Streams (protocol 2) against the real engine: every op, exact bytes, paging, retention,
//! committed offsets, errors, blocking reads (woken by another engine process on the same data
//! dir, woken in a pipeline, timing out empty), the per-request timeout of a blocking read, the
//! consumer loop (batches, at-least-once commits, resuming after a restart, trimmed offsets),
//! and the `conflict` error fields / hello checks through a scripted fake engine.

mod common;

use std::time::{Duration, Instant};

use common::{hex, start, unhex, TempDir};
use litestash::blake2b::shard_of;
use litestash::stream::req;
use litestash::{
    Client, Consumer, ConsumerOptions, Entry, Error, ErrorCode, OnTrimmed, Range, Req, Retention,
    Route, Trim, Value,
};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Order {
    order: u32,
    sku: String,
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

fn ids<T>(entries: &[Entry<T>]) -> Vec<u64> {
    entries.iter().map(|e| e.id).collect()
}

fn maxlen(n: u64) -> Retention {
    Retention {
        maxlen: Some(n),
        max_age_ms: None,
    }
}

/// Appends `n` entries (the values 0..n as MessagePack ints) in one pipeline.
fn fill(c: &mut Client, stream: &str, n: u64) {
    let reqs: Vec<Req> = (0..n)
        .map(|i| req::xadd_raw(stream, &rmp_serde::to_vec(&i).unwrap(), Retention::NONE))
        .collect();
    for r in c.pipeline(&reqs) {
        r.unwrap();
    }
}

// ------------------------------------------------------------------------------------ hello

#[test]
fn hello_speaks_protocol_2_with_streams() {
    let tmp = TempDir::new("s-hello");
    let c = start(&tmp);
    let h = c.hello();
    assert_eq!(h.protocol, 2);
    assert_eq!(h.keep_versions, 0);
    assert!(
        h.has_feature("streams") && h.has_feature("blocking_reads"),
        "{h:?}"
    );
    assert!(!h.has_feature("no-such-feature"));
}

// ------------------------------------------------------------------------------- xadd / xget

#[test]
fn xadd_numbers_entries_and_xget_reads_them_typed() {
    let tmp = TempDir::new("s-xadd");
    let mut c = start(&tmp);
    let mut last_ts = 0;
    for i in 1..=5u32 {
        let a = c
            .xadd(
                "orders",
                &Order {
                    order: 1000 + i,
                    sku: format!("A-{i}"),
                },
                Retention::NONE,
            )
            .unwrap();
        assert_eq!(a.entry_id, i as u64);
        assert!(a.ts > last_ts, "ts grows: {last_ts} then {}", a.ts);
        last_ts = a.ts;
    }
    // Each stream numbers its own entries; a key of the same name is another namespace.
    assert_eq!(c.xadd("other", &1, Retention::NONE).unwrap().entry_id, 1);
    c.set("orders", "a key").unwrap();
    assert_eq!(c.get::<String>("orders").unwrap().as_deref(), Some("a key"));
    c.clear().unwrap(); // keys only
    assert_eq!(c.xinfo("orders").unwrap().length, 5);

    let got = c.xget::<Order>("orders", &[2, 99, 5, 2]).unwrap();
    assert_eq!(got.len(), 4);
    assert_eq!(got[1], None);
    let e2 = got[0].clone().unwrap();
    assert_eq!(
        (e2.id, e2.value.clone()),
        (
            2,
            Order {
                order: 1002,
                sku: "A-2".into()
            }
        )
    );
    assert_eq!(got[3], Some(e2.clone()), "an id may be asked twice");
    assert!(got[2].as_ref().unwrap().ts > e2.ts);
    assert_eq!(c.xget::<Order>("orders", &[]).unwrap(), vec![]);
    assert_eq!(c.xget_raw("nope", &[1, 2]).unwrap(), vec![None, None]);
    // A value of another shape is a decode error, not a panic.
    assert!(matches!(
        c.xget::<u8>("orders", &[1]),
        Err(Error::Decode(_))
    ));
    // Structs are maps with field names, so other hosts read them too.
    let raw = c.xget_raw("orders", &[1]).unwrap().pop().unwrap().unwrap();
    let v: Value = raw.decode().unwrap();
    assert_eq!(v.get("sku"), Some(&Value::Str("A-1".into())));
}

#[test]
fn raw_values_come_back_byte_for_byte() {
    let tmp = TempDir::new("s-raw");
    let mut c = start(&tmp);
    let raws = [
        "ca3fc00000",
        "d903616263",
        "c0",
        "d401aa",
        "c702fb0102",
        "de0001a16b01",
        "c6000000026869",
        "cf0000000000000001",
        "dd000000020102",
        "d6ff00000000",
    ];
    for (i, h) in raws.iter().enumerate() {
        let a = c.xadd_raw("raw", &unhex(h), Retention::NONE).unwrap();
        assert_eq!(a.entry_id, i as u64 + 1);
    }
    let (entries, more) = c.xrange_raw("raw", Range::default()).unwrap();
    assert!(!more);
    let got: Vec<String> = entries.iter().map(|e| hex(&e.value)).collect();
    assert_eq!(got, raws);
    let (read, _) = c.xread_raw("raw", 2, Some(1), 0).unwrap();
    assert_eq!((read[0].id, hex(&read[0].value)), (3, "c0".to_string()));
    let got = c.xget_raw("raw", &[1, 99, 3]).unwrap();
    assert_eq!(hex(&got[0].as_ref().unwrap().value), raws[0]);
    assert_eq!(got[1], None);
    assert_eq!(
        hex(&got[2].as_ref().unwrap().value),
        "c0",
        "a stored nil is found"
    );
    // The dynamic Value keeps float32 and ext apart.
    let (typed, _) = c
        .xrange::<Value>(
            "raw",
            Range {
                after: Some(3),
                limit: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(typed[0].value, Value::Ext(1, vec![0xaa]));
    assert_eq!(typed[1].value, Value::Ext(-5, vec![1, 2]));
    // Bytes that are not exactly one object are refused before sending.
    assert!(matches!(
        c.xadd_raw("raw", &[1, 2], Retention::NONE),
        Err(Error::Encode(_))
    ));
    assert!(matches!(
        c.xadd_raw("raw", &[0x92, 1], Retention::NONE),
        Err(Error::Encode(_))
    ));
    assert_eq!(c.xinfo("raw").unwrap().last_id, Some(raws.len() as u64));
}

// ----------------------------------------------------------------------- xrange / paging

#[test]
fn xrange_bounds_and_every_boundary_of_more() {
    let tmp = TempDir::new("s-range");
    let mut c = start(&tmp);
    fill(&mut c, "r", 10);
    let mut rng = |after: Option<u64>, before: Option<u64>, limit: Option<u64>| {
        let (e, more) = c
            .xrange::<u64>(
                "r",
                Range {
                    after,
                    before,
                    limit,
                },
            )
            .unwrap();
        (ids(&e), more)
    };
    assert_eq!(rng(None, None, None), ((1..=10).collect(), false));
    assert_eq!(rng(None, None, Some(3)), (vec![1, 2, 3], true));
    assert_eq!(rng(None, None, Some(10)), ((1..=10).collect(), false));
    assert_eq!(rng(Some(7), None, Some(3)), (vec![8, 9, 10], false));
    assert_eq!(rng(Some(6), None, Some(3)), (vec![7, 8, 9], true));
    assert_eq!(rng(Some(2), Some(6), None), (vec![3, 4, 5], false));
    assert_eq!(rng(Some(2), Some(6), Some(2)), (vec![3, 4], true));
    assert_eq!(rng(Some(5), Some(6), None), (vec![], false));
    assert_eq!(rng(Some(9), Some(3), None), (vec![], false));
    assert_eq!(rng(Some(100), None, None), (vec![], false));
    // Only `before`: the entries just below it, ascending; more = older ones exist.
    assert_eq!(rng(None, Some(7), Some(3)), (vec![4, 5, 6], true));
    assert_eq!(rng(None, Some(4), Some(3)), (vec![1, 2, 3], false));
    assert_eq!(rng(None, Some(1), None), (vec![], false));
    let (e, _) = c
        .xrange::<u64>(
            "r",
            Range {
                after: Some(4),
                limit: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((e[0].id, e[0].value), (5, 4));
    assert_eq!(
        c.xrange_raw("missing", Range::default()).unwrap(),
        (vec![], false)
    );
}

#[test]
fn paging_forward_and_backward_through_thousands_of_entries() {
    let tmp = TempDir::new("s-paging");
    let mut c = start(&tmp);
    let n = 2500u64;
    fill(&mut c, "big", n);
    // Forward with `after`.
    let (mut seen, mut after, mut pages) = (Vec::new(), 0, 0);
    loop {
        let (e, more) = c
            .xrange::<u64>(
                "big",
                Range {
                    after: Some(after),
                    before: None,
                    limit: Some(777),
                },
            )
            .unwrap();
        pages += 1;
        seen.extend(e.iter().map(|e| e.value));
        if !more {
            break;
        }
        after = e.last().unwrap().id;
    }
    assert_eq!(seen, (0..n).collect::<Vec<_>>());
    assert_eq!(pages, 4);
    let all = c.xrange_all("big", 0, Some(1000)).unwrap();
    assert_eq!(ids(&all), (1..=n).collect::<Vec<_>>());
    assert_eq!(c.xrange_all("big", 2490, None).unwrap().len(), 10);
    // Backward with `before` (klite's GET n BEFORE id).
    let (mut back, mut before) = (Vec::new(), u64::MAX);
    loop {
        let (e, more) = c
            .xrange::<u64>(
                "big",
                Range {
                    after: None,
                    before: Some(before),
                    limit: Some(1000),
                },
            )
            .unwrap();
        let mut page: Vec<u64> = e.iter().map(|e| e.value).collect();
        page.extend(back);
        back = page;
        if !more {
            break;
        }
        before = e[0].id;
    }
    assert_eq!(back, (0..n).collect::<Vec<_>>());
    let (e, more) = c.xread::<u64>("big", n - 10, Some(100), 0).unwrap();
    assert_eq!((ids(&e), more), ((n - 9..=n).collect(), false));
    let (e, more) = c.xread::<u64>("big", 0, None, 0).unwrap();
    assert_eq!((e.len(), more), (100, true), "xread's default limit is 100");
}

// ----------------------------------------------------------------- retention / trim / drop

#[test]
fn retention_is_stored_and_kept_at_every_append() {
    let tmp = TempDir::new("s-retention");
    let mut c = start(&tmp);
    for i in 0..10 {
        c.xadd("m", &i, maxlen(3)).unwrap();
    }
    let info = c.xinfo("m").unwrap();
    assert_eq!(
        (info.first_id, info.last_id, info.length, info.maxlen),
        (Some(8), Some(10), 3, Some(3))
    );
    c.xadd("m", &10, Retention::NONE).unwrap(); // the stored maxlen still applies
    assert_eq!(
        ids(&c.xrange_raw("m", Range::default()).unwrap().0),
        [9, 10, 11]
    );
    c.xadd("m", &11, maxlen(5)).unwrap(); // the last value given wins
    c.xadd("m", &12, Retention::NONE).unwrap();
    assert_eq!(
        ids(&c.xrange_raw("m", Range::default()).unwrap().0),
        [9, 10, 11, 12, 13]
    );
    assert_eq!(c.xinfo("m").unwrap().maxlen, Some(5));

    // Age: the older entries go at the next append once they are older than max_age_ms.
    let age = Retention {
        maxlen: None,
        max_age_ms: Some(300),
    };
    c.xadd("aged", &1, age).unwrap();
    c.xadd("aged", &2, Retention::NONE).unwrap();
    let info = c.xinfo("aged").unwrap();
    assert_eq!(
        (info.max_age_ms, info.maxlen, info.length),
        (Some(300), None, 2)
    );
    std::thread::sleep(Duration::from_millis(450));
    c.xadd("aged", &3, Retention::NONE).unwrap();
    let (e, _) = c.xrange::<i32>("aged", Range::default()).unwrap();
    assert_eq!((ids(&e), e[0].value), (vec![3], 3));
    let info = c.xinfo("aged").unwrap();
    assert_eq!(info.first_ts, info.last_ts);
    assert!(info.first_ts.is_some());

    // Retention values of 0 are refused (xtrim takes 0, xadd does not).
    assert_eq!(
        code(c.xadd("m", &1, maxlen(0)).unwrap_err()),
        ErrorCode::BadRequest
    );
}

#[test]
fn xtrim_removes_from_the_head_once_and_xdrop_removes_everything() {
    let tmp = TempDir::new("s-trim");
    let mut c = start(&tmp);
    fill(&mut c, "t", 10);
    let trim = |min_id, maxlen, max_age_ms| Trim {
        maxlen,
        min_id,
        max_age_ms,
    };
    assert_eq!(c.xtrim("t", trim(Some(4), None, None)).unwrap(), 3);
    assert_eq!(c.xtrim("t", trim(None, Some(5), None)).unwrap(), 2);
    assert_eq!(
        ids(&c.xrange_raw("t", Range::default()).unwrap().0),
        [6, 7, 8, 9, 10]
    );
    assert_eq!(c.xinfo("t").unwrap().maxlen, None, "xtrim stores nothing");
    // Several limits remove their union.
    assert_eq!(c.xtrim("t", trim(Some(7), Some(4), None)).unwrap(), 1);
    assert_eq!(c.xtrim("t", trim(None, None, Some(0))).unwrap(), 4);
    let info = c.xinfo("t").unwrap();
    assert!(info.exists);
    assert_eq!(
        (
            info.length,
            info.first_id,
            info.last_id,
            info.first_ts,
            info.last_ts
        ),
        (0, Some(11), Some(10), None, None)
    );
    assert_eq!(c.xadd("t", "next", Retention::NONE).unwrap().entry_id, 11);
    assert_eq!(c.xtrim("missing", trim(None, Some(0), None)).unwrap(), 0);
    assert_eq!(
        code(c.xtrim("t", Trim::default()).unwrap_err()),
        ErrorCode::BadRequest,
        "at least one limit"
    );

    c.xcommit("t", "g", 11).unwrap();
    assert!(c.xdrop("t").unwrap());
    assert!(!c.xdrop("t").unwrap());
    let info = c.xinfo("t").unwrap();
    assert!(!info.exists);
    assert_eq!(info.length, 0);
    assert_eq!(
        (info.first_id, info.last_id, info.maxlen),
        (None, None, None)
    );
    assert!(info.groups.is_empty());
    assert_eq!(
        c.xoffset("t", "g").unwrap(),
        None,
        "offsets go with the stream"
    );
    assert_eq!(c.xadd("t", &3, Retention::NONE).unwrap().entry_id, 1);
}

// ----------------------------------------------------------------------------- xstreams

#[test]
fn xstreams_lists_names_in_byte_order_page_by_page() {
    let tmp = TempDir::new("s-xstreams");
    let mut c = start(&tmp);
    let mut names: Vec<String> = (0..25).map(|i| format!("st:{i:03}")).collect();
    names.extend(["other", "st:é", "st:Z", "st:😀"].map(String::from));
    for n in &names {
        c.xadd(n, &1, Retention::NONE).unwrap();
    }
    let mut sorted = names.clone();
    sorted.sort(); // Rust sorts str by bytes, like the engine
    assert_eq!(
        c.xstreams(None, None, None).unwrap(),
        (sorted.clone(), false)
    );
    let (page, more) = c.xstreams(Some("st:"), None, Some(10)).unwrap();
    assert_eq!(
        page,
        (0..10).map(|i| format!("st:{i:03}")).collect::<Vec<_>>()
    );
    assert!(more);
    assert_eq!(
        c.xstreams(Some("st:"), Some("st:024"), Some(10)).unwrap(),
        (vec!["st:Z".into(), "st:é".into(), "st:😀".into()], false)
    );
    // The iterator follows pages (3 names each) to the end.
    let all: Vec<String> = c
        .xstreams_iter(None, Some(3))
        .collect::<litestash::Result<_>>()
        .unwrap();
    assert_eq!(all, sorted);
    let st: Vec<String> = sorted
        .iter()
        .filter(|n| n.starts_with("st:"))
        .cloned()
        .collect();
    assert_eq!(c.xstreams_all(Some("st:"), Some(7)).unwrap(), st);
    assert_eq!(c.xstreams_iter(Some("none"), None).count(), 0);
    assert!(c.xdrop("other").unwrap());
    assert!(!c
        .xstreams_all(None, None)
        .unwrap()
        .contains(&"other".to_string()));
    // An error ends the iterator after yielding it.
    let mut it = c.xstreams_iter(None, Some(0));
    assert_eq!(code(it.next().unwrap().unwrap_err()), ErrorCode::BadRequest);
    assert!(it.next().is_none());
}

// ------------------------------------------------------------------------------ offsets

#[test]
fn committed_offsets_lag_and_refusals() {
    let tmp = TempDir::new("s-offsets");
    let mut c = start(&tmp);
    fill(&mut c, "o", 5);
    assert_eq!(c.xoffset("o", "g").unwrap(), None);
    c.xcommit("o", "g", 3).unwrap();
    assert_eq!(c.xoffset("o", "g").unwrap(), Some(3));
    c.xcommit("o", "g", 1).unwrap(); // a replay: backwards is fine
    assert_eq!(c.xoffset("o", "g").unwrap(), Some(1));
    c.xcommit("o", "grüppe", 5).unwrap();
    let info = c.xinfo("o").unwrap();
    assert_eq!(
        info.groups.into_iter().collect::<Vec<_>>(),
        vec![("g".to_string(), 1), ("grüppe".to_string(), 5)]
    );
    let info = c.xinfo("o").unwrap();
    assert_eq!(
        (info.lag("g"), info.lag("grüppe"), info.lag("none")),
        (Some(4), Some(0), None)
    );
    c.xcommit("o", "g", 0).unwrap(); // nothing processed yet
    assert_eq!(c.xoffset("o", "g").unwrap(), Some(0));
    // Past last_id, or on a stream that does not exist: refused, nothing recorded.
    assert_eq!(
        code(c.xcommit("o", "h", 6).unwrap_err()),
        ErrorCode::BadRequest
    );
    assert_eq!(c.xoffset("o", "h").unwrap(), None);
    assert_eq!(
        code(c.xcommit("never", "g", 0).unwrap_err()),
        ErrorCode::BadRequest
    );
    assert_eq!(
        c.xstreams_all(None, None).unwrap(),
        vec!["o"],
        "nothing created"
    );
    assert_eq!(
        code(c.xcommit("o", "", 1).unwrap_err()),
        ErrorCode::InvalidKey
    );
}

// ------------------------------------------------------------------------------- errors

#[test]
fn bad_input_gets_the_documented_codes_and_streams_are_routed() {
    let tmp = TempDir::new("s-errors");
    let mut c = start(&tmp);
    assert_eq!(
        code(c.xadd("", &1, Retention::NONE).unwrap_err()),
        ErrorCode::InvalidKey
    );
    assert_eq!(
        code(c.xinfo(&"s".repeat(1025)).unwrap_err()),
        ErrorCode::InvalidKey
    );
    assert_eq!(
        code(
            c.send(&Req::new("xinfo").stream_bytes(&[0xff]))
                .unwrap_err()
        ),
        ErrorCode::InvalidKey
    );
    let range = |limit| Range {
        limit: Some(limit),
        ..Default::default()
    };
    assert_eq!(
        code(c.xrange_raw("s", range(0)).unwrap_err()),
        ErrorCode::BadRequest
    );
    assert_eq!(
        code(c.xrange_raw("s", range(10_001)).unwrap_err()),
        ErrorCode::BadRequest
    );
    assert_eq!(
        code(c.xread_raw("s", 0, None, 60_001).unwrap_err()),
        ErrorCode::BadRequest
    );
    assert_eq!(
        code(c.xget_raw("s", &vec![1; 10_001]).unwrap_err()),
        ErrorCode::BadRequest
    );
    assert_eq!(
        code(c.xstreams(None, None, Some(0)).unwrap_err()),
        ErrorCode::BadRequest
    );
    let r = Req::new("xget").stream("s").field("ids", &Value::Int(1));
    assert_eq!(code(c.send(&r).unwrap_err()), ErrorCode::TypeError);
    let r = Req::new("xoffset")
        .stream("s")
        .field("group", &Value::Bin(b"g".to_vec()));
    assert_eq!(code(c.send(&r).unwrap_err()), ErrorCode::TypeError);
    // Every stream request carries the host's routing of the name; a wrong one is refused.
    let right = shard_of(b"s", 16);
    let r = req::xadd_raw("s", &[1], Retention::NONE).route(Route::Fixed((right + 1) % 16));
    assert_eq!(code(c.send(&r).unwrap_err()), ErrorCode::WrongShard);
    let r = req::xadd_raw("s", &[1], Retention::NONE).route(Route::Fixed(right));
    assert_eq!(c.send(&r).unwrap().field::<u64>("entry_id").unwrap(), 1);
    // `request` routes a `stream` str too (xstreams has none and must not get `shard`).
    let r = c
        .request("xinfo", &[("stream", Value::Str("s".into()))])
        .unwrap();
    assert_eq!(r.field::<u64>("length").unwrap(), 1);
    let r = c.request("xstreams", &[]).unwrap();
    assert_eq!(r.field::<Vec<String>>("streams").unwrap(), vec!["s"]);
    assert_eq!(
        c.xinfo("s").unwrap().length,
        1,
        "refused requests wrote nothing"
    );
}

#[test]
fn value_too_large_is_refused() {
    let tmp = TempDir::new("s-limits");
    let mut o = common::options(&tmp);
    o.extra_args = vec!["--max-value-bytes".into(), "16".into()];
    let mut c = Client::start(&o).unwrap();
    assert_eq!(
        code(c.xadd("s", &"x".repeat(20), Retention::NONE).unwrap_err()),
        ErrorCode::ValueTooLarge
    );
    assert_eq!(c.xadd("s", "x", Retention::NONE).unwrap().entry_id, 1);
}

// ------------------------------------------------------------------------ blocking reads

#[test]
fn blocking_read_times_out_empty_and_the_timeout_allows_for_wait_ms() {
    let tmp = TempDir::new("s-timeout");
    let mut c = start(&tmp);
    let t0 = Instant::now();
    let (e, more) = c.xread_raw("w", 0, None, 300).unwrap();
    let took = t0.elapsed();
    assert!(e.is_empty() && !more);
    assert!(
        took >= Duration::from_millis(280) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // The per-request timeout is the client's timeout plus wait_ms: a 100 ms timeout does not
    // cut a 700 ms wait short, and is back in force afterwards.
    c.set_timeout(Some(Duration::from_millis(100)));
    let t0 = Instant::now();
    let (e, _) = c.xread_raw("w", 0, Some(5), 700).unwrap();
    assert!(e.is_empty());
    assert!(
        t0.elapsed() >= Duration::from_millis(650),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(c.timeout(), Some(Duration::from_millis(100)));
    // Entries already there: answered at once whatever wait_ms.
    c.set_timeout(Some(Duration::from_secs(30)));
    c.xadd("w", "a", Retention::NONE).unwrap();
    let t0 = Instant::now();
    let (e, _) = c.xread::<String>("w", 0, None, 5000).unwrap();
    assert_eq!((e[0].id, e[0].value.as_str()), (1, "a"));
    assert!(t0.elapsed() < Duration::from_secs(1));
}

#[test]
fn blocking_read_woken_by_an_append_in_the_same_pipeline() {
    let tmp = TempDir::new("s-pipewake");
    let mut c = start(&tmp);
    let t0 = Instant::now();
    let results = c.pipeline(&[
        req::xread("p", 0, None, 10_000),
        Req::new("ping"),
        req::xadd_raw("p", &unhex("a5776f6b656e"), Retention::NONE),
    ]);
    let read = results[0].as_ref().unwrap();
    assert!(results[1].is_ok() && results[2].is_ok());
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    let entries = msgpack_entries(read);
    assert_eq!(entries, vec![(1, "a5776f6b656e".to_string())]);
}

fn msgpack_entries(r: &litestash::Response) -> Vec<(u64, String)> {
    litestash::msgpack::split_array(r.raw("entries").unwrap())
        .unwrap()
        .into_iter()
        .map(|e| {
            let parts = litestash::msgpack::split_array(e).unwrap();
            let id = litestash::msgpack::decode(parts[0])
                .unwrap()
                .as_u64()
                .unwrap();
            (id, hex(parts[2]))
        })
        .collect()
}

#[test]
fn blocking_read_woken_by_another_engine_process_on_the_data_dir() {
    let tmp = TempDir::new("s-cross");
    let mut a = start(&tmp);
    let mut ob = common::options(&tmp);
    ob.stderr_file = Some(tmp.path().join("engine-b.log"));
    let mut b = Client::start(&ob).unwrap();
    assert_ne!(a.pid(), b.pid());
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let (e, _) = a.xread::<String>("cross", 0, None, 10_000).unwrap();
            (e, Instant::now())
        });
        std::thread::sleep(Duration::from_millis(300));
        let appended = Instant::now();
        assert_eq!(
            b.xadd("cross", "from b", Retention::NONE).unwrap().entry_id,
            1
        );
        let (e, woke) = reader.join().unwrap();
        assert_eq!(ids(&e), [1]);
        assert_eq!(e[0].value, "from b");
        let lag = woke.saturating_duration_since(appended);
        assert!(
            lag < Duration::from_secs(2),
            "woken {lag:?} after the append"
        );
    });
    // Both processes number one stream together.
    assert_eq!(
        a.xadd("cross", "from a", Retention::NONE).unwrap().entry_id,
        2
    );
    assert_eq!(b.xinfo("cross").unwrap().last_id, Some(2));
    assert!(a.close().unwrap().success());
    assert!(b.close().unwrap().success());
}

// ------------------------------------------------------------------------------ consumer

fn opts(batch: u64, wait_ms: u64, on_trimmed: OnTrimmed) -> ConsumerOptions {
    ConsumerOptions {
        batch,
        wait_ms,
        on_trimmed,
    }
}

#[test]
fn consumer_commits_consumed_batches_and_resumes_after_a_restart() {
    let tmp = TempDir::new("s-consumer");
    {
        let mut c = start(&tmp);
        fill(&mut c, "jobs", 25);
        let mut cons = c
            .consumer("jobs", "workers", opts(10, 200, OnTrimmed::Error))
            .unwrap();
        assert_eq!((cons.position(), cons.committed()), (0, None));
        let mut got = Vec::new();
        for e in &mut cons {
            let e = e.unwrap();
            got.push(e.decode::<u64>().unwrap());
            if e.id == 15 {
                break; // "crash" in the middle of the second batch
            }
        }
        assert_eq!(got, (0..15).collect::<Vec<_>>());
        // The first batch was committed when the 11th entry was asked for; the second not.
        assert_eq!((cons.position(), cons.committed()), (15, Some(10)));
        drop(cons);
        assert_eq!(c.xoffset("jobs", "workers").unwrap(), Some(10));
        assert!(c.close().unwrap().success());
    }
    {
        // A new engine on the same data dir: the group resumes after its committed offset
        // (at-least-once: 11..15 come again), never from "now".
        let mut c = start(&tmp);
        let mut cons =
            Consumer::new(&mut c, "jobs", "workers", opts(10, 200, OnTrimmed::Error)).unwrap();
        assert_eq!(cons.position(), 10);
        let t0 = Instant::now();
        let got: Vec<u64> = cons.by_ref().map(|e| e.unwrap().id).collect();
        assert_eq!(got, (11..=25).collect::<Vec<_>>());
        // It ended after one read that waited wait_ms for nothing, everything committed.
        assert!(
            t0.elapsed() >= Duration::from_millis(190),
            "{:?}",
            t0.elapsed()
        );
        assert_eq!((cons.position(), cons.committed()), (25, Some(25)));
        drop(cons);
        assert_eq!(c.xoffset("jobs", "workers").unwrap(), Some(25));
        assert_eq!(c.xinfo("jobs").unwrap().lag("workers"), Some(0));
        assert!(c.close().unwrap().success());
    }
    {
        let mut c = start(&tmp);
        let mut cons = c
            .consumer("jobs", "workers", opts(10, 100, OnTrimmed::Error))
            .unwrap();
        assert!(cons.next_batch().unwrap().is_empty(), "nothing new");
        cons.client().xadd("jobs", &25u64, Retention::NONE).unwrap();
        let batch = cons.next_batch().unwrap();
        assert_eq!(ids(&batch), [26]);
        assert_eq!(batch[0].decode::<u64>().unwrap(), 25);
        assert_eq!(
            cons.committed(),
            Some(25),
            "not committed before it is consumed"
        );
        cons.commit().unwrap();
        assert_eq!(cons.committed(), Some(26));
        // Another group starts from the first entry.
        drop(cons);
        let mut other = c
            .consumer("jobs", "audit", opts(100, 0, OnTrimmed::Error))
            .unwrap();
        assert_eq!(other.next_batch().unwrap().len(), 26);
        assert_eq!(other.committed(), None);
        assert!(other.next_batch().unwrap().is_empty());
        assert_eq!(other.committed(), Some(26));
    }
}

#[test]
fn consumer_blocking_read_is_woken_by_another_process() {
    let tmp = TempDir::new("s-consumer-wake");
    let mut a = start(&tmp);
    let mut ob = common::options(&tmp);
    ob.stderr_file = Some(tmp.path().join("engine-b.log"));
    let mut b = Client::start(&ob).unwrap();
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut cons = a
                .consumer("feed", "g", opts(10, 10_000, OnTrimmed::Error))
                .unwrap();
            let t0 = Instant::now();
            let batch = cons.next_batch().unwrap();
            (ids(&batch), t0.elapsed())
        });
        std::thread::sleep(Duration::from_millis(300));
        b.xadd("feed", &1, Retention::NONE).unwrap();
        let (got, took) = reader.join().unwrap();
        assert_eq!(got, [1]);
        assert!(took < Duration::from_secs(3), "{took:?}");
    });
}

#[test]
fn consumer_with_a_trimmed_offset_errors_or_goes_on_from_the_earliest() {
    let tmp = TempDir::new("s-trimmed");
    let mut c = start(&tmp);
    fill(&mut c, "t", 10);
    c.xcommit("t", "g", 2).unwrap();
    assert_eq!(
        c.xtrim(
            "t",
            Trim {
                min_id: Some(6),
                ..Default::default()
            }
        )
        .unwrap(),
        5
    );

    match Consumer::new(&mut c, "t", "g", opts(100, 0, OnTrimmed::Error)) {
        Err(Error::Trimmed {
            stream,
            group,
            position,
            first_id,
        }) => assert_eq!(
            (stream.as_str(), group.as_str(), position, first_id),
            ("t", "g", 2, 6)
        ),
        Err(e) => panic!("expected Trimmed, got {e:?}"),
        Ok(_) => panic!("a trimmed offset was accepted"),
    }
    assert_eq!(c.xoffset("t", "g").unwrap(), Some(2), "nothing committed");

    let mut cons = c
        .consumer("t", "g", opts(3, 0, OnTrimmed::Earliest))
        .unwrap();
    let got: Vec<u64> = cons.by_ref().map(|e| e.unwrap().id).collect();
    assert_eq!(got, (6..=10).collect::<Vec<_>>());
    assert_eq!((cons.skipped(), cons.committed()), (3, Some(10)));
    drop(cons);

    // A committed offset just below first_id lost nothing: no error.
    c.xcommit("t", "h", 5).unwrap();
    let mut cons = c
        .consumer("t", "h", opts(100, 0, OnTrimmed::Error))
        .unwrap();
    assert_eq!(ids(&cons.next_batch().unwrap()), [6, 7, 8, 9, 10]);
    drop(cons);

    // A group that never committed starts at the oldest entry left, in either mode.
    let mut cons = c
        .consumer("t", "new", opts(100, 0, OnTrimmed::Error))
        .unwrap();
    assert_eq!(ids(&cons.next_batch().unwrap()), [6, 7, 8, 9, 10]);
    drop(cons);

    // Falling behind while reading: the entries after the position are trimmed meanwhile.
    let mut cons = c
        .consumer("t", "slow", opts(2, 0, OnTrimmed::Error))
        .unwrap();
    assert_eq!(ids(&cons.next_batch().unwrap()), [6, 7]);
    cons.client().xadd("t", &10u64, maxlen(2)).unwrap(); // keeps 10, 11
    match cons.next_batch() {
        Err(Error::Trimmed {
            position, first_id, ..
        }) => assert_eq!((position, first_id), (7, 10)),
        other => panic!("expected Trimmed, got {other:?}"),
    }
    assert_eq!(
        cons.committed(),
        Some(7),
        "the consumed batch was committed before"
    );
    cons.seek(9); // the application accepts the loss
    assert_eq!(ids(&cons.next_batch().unwrap()), [10, 11]);
    cons.commit().unwrap();
    assert_eq!(cons.client().xoffset("t", "slow").unwrap(), Some(11));
}

// ------------------------------------------------------- fake engine: hello and conflicts

/// Writes a fake "engine": a script that prints the given answer frames at once and then
/// waits for its stdin to close (exit 0).
fn fake_engine(tmp: &TempDir, answers: &[Vec<u8>]) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let mut bytes = Vec::new();
    for a in answers {
        bytes.extend_from_slice(&(a.len() as u32).to_be_bytes());
        bytes.extend_from_slice(a);
    }
    let frames = tmp.path().join("answers.bin");
    std::fs::write(&frames, bytes).unwrap();
    let script = tmp.path().join("fake-engine");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat '{}'\nexec cat >/dev/null\n",
            frames.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn map(pairs: &[(&str, Value)]) -> Vec<u8> {
    litestash::msgpack::encode(&Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (Value::Str((*k).into()), v.clone()))
            .collect(),
    ))
}

fn hello_answer(protocol: i128, keep_versions: Option<i128>) -> Vec<u8> {
    let mut f = vec![
        ("id", Value::Int(1)),
        ("ok", Value::Bool(true)),
        ("protocol", Value::Int(protocol)),
        ("engine", Value::Str("litestash-engine".into())),
        ("version", Value::Str("0.1.0".into())),
        ("shards", Value::Int(16)),
        ("hash", Value::Str("blake2b-512".into())),
        ("max_frame_bytes", Value::Int(16 << 20)),
        ("max_key_bytes", Value::Int(1024)),
        ("max_value_bytes", Value::Int(8 << 20)),
        ("features", Value::Array(vec![Value::Str("ttl".into())])),
    ];
    if let Some(k) = keep_versions {
        f.push(("keep_versions", Value::Int(k)));
    }
    map(&f)
}

fn error_answer(id: i128, error: &[(&str, Value)]) -> Vec<u8> {
    map(&[
        ("id", Value::Int(id)),
        ("ok", Value::Bool(false)),
        (
            "error",
            Value::Map(
                error
                    .iter()
                    .map(|(k, v)| (Value::Str((*k).into()), v.clone()))
                    .collect(),
            ),
        ),
    ])
}

#[test]
fn conflict_errors_carry_version_and_key() {
    let tmp = TempDir::new("s-conflict");
    let s = |x: &str| Value::Str(x.into());
    let engine = fake_engine(
        &tmp,
        &[
            hello_answer(2, Some(0xffff_ffff)),
            error_answer(
                2,
                &[
                    ("code", s("conflict")),
                    ("message", s("version mismatch")),
                    ("version", Value::Int(1_795_241_324_627_103)),
                ],
            ),
            error_answer(
                3,
                &[
                    ("code", s("conflict")),
                    ("message", s("check failed")),
                    ("key", s("acct:1")),
                    ("version", Value::Int(0)),
                ],
            ),
            error_answer(4, &[("code", s("bad_request")), ("message", s("no"))]),
            // A conflict must carry the current version: without one it is a protocol error.
            error_answer(5, &[("code", s("conflict")), ("message", s("m"))]),
        ],
    );
    let mut c =
        Client::start(&litestash::Options::new(tmp.path().join("d")).engine(&engine)).unwrap();
    assert_eq!(c.hello().keep_versions, litestash::KEEP_ALL_VERSIONS);
    let e = c.set("k", &1).unwrap_err();
    assert!(e.is_conflict(), "{e:?}");
    let cf = e.conflict().expect("a conflict");
    assert_eq!(
        (cf.version, cf.key.as_deref()),
        (1_795_241_324_627_103, None)
    );
    assert_eq!((e.version(), e.key()), (Some(1_795_241_324_627_103), None));
    match &e {
        Error::Engine {
            code: ErrorCode::Conflict,
            version: Some(v),
            key: None,
            ..
        } => assert_eq!(*v, 1_795_241_324_627_103),
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("conflict"), "{e}");
    let e = c.ping().unwrap_err();
    assert!(e.is_conflict());
    assert_eq!((e.version(), e.key()), (Some(0), Some("acct:1")));
    assert!(e.to_string().contains("acct:1"), "{e}");
    let e = c.ping().unwrap_err();
    assert!(!e.is_conflict());
    assert_eq!(
        (e.code(), e.version(), e.key()),
        (Some(&ErrorCode::BadRequest), None, None)
    );
    assert_eq!(e.conflict(), None);
    let e = c.ping().unwrap_err();
    assert!(
        matches!(&e, Error::Protocol(m) if m.contains("conflict without")),
        "{e:?}"
    );
    assert!(c.close().unwrap().success());
}

#[test]
fn hello_accepts_protocols_1_and_2_only() {
    for (protocol, ok) in [(1, true), (2, true), (3, false), (0, false)] {
        let tmp = TempDir::new("s-protocol");
        let engine = fake_engine(&tmp, &[hello_answer(protocol, None)]);
        let o = litestash::Options::new(tmp.path().join("d")).engine(&engine);
        match Client::start(&o) {
            Ok(c) => {
                assert!(ok, "protocol {protocol} accepted");
                assert_eq!(c.hello().protocol, protocol as u64);
                assert_eq!(
                    c.hello().keep_versions,
                    0,
                    "absent keep_versions reads as 0"
                );
            }
            Err(Error::Protocol(m)) => {
                assert!(!ok, "protocol {protocol} refused: {m}");
                assert!(m.contains("incompatible engine"), "{m}");
            }
            Err(e) => panic!("protocol {protocol}: {e:?}"),
        }
    }
}
