//! Protocol-2 key features against the real engine: conditional writes (`if_version`) and the
//! typed conflict, history (`--keep-versions`, `versions`, `get` at a version, tombstones, a
//! depth change), transactions (typed results, all-or-nothing on a failed check or a refused
//! op, xadd inside), `compact`, `backup` (the copy opens with a new client; a non-empty dir is
//! refused and left untouched), the long-op timeout (engine stopped with SIGSTOP), and
//! compare-and-set / transaction loops of two engine processes on one data dir.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{options, start, TempDir};
use litestash::blake2b::shard_of;
use litestash::history::req as hreq;
use litestash::{
    Client, Conflict, Error, ErrorCode, KeyVersion, Options, Retention, SetOptions, Ttl, Txn,
    TxnResult, KEEP_ALL_VERSIONS,
};

fn code(e: Error) -> ErrorCode {
    match e {
        Error::Engine { code, message, .. } => {
            assert!(!message.is_empty(), "error message present");
            code
        }
        other => panic!("expected an engine error, got {other:?}"),
    }
}

/// The conflict of `r`, which must be one.
fn conflict<T: std::fmt::Debug>(r: litestash::Result<T>) -> Conflict {
    match r {
        Err(e) => match e.into_conflict() {
            Ok(c) => c,
            Err(other) => panic!("expected a conflict, got {other:?}"),
        },
        Ok(v) => panic!("expected a conflict, got Ok({v:?})"),
    }
}

fn history_opts(tmp: &TempDir, depth: u64) -> Options {
    options(tmp).keep_versions(depth)
}

fn kv(version: u64, deleted: bool) -> KeyVersion {
    KeyVersion { version, deleted }
}

/// Waits (up to 10 s) until `key` has expired.
fn wait_expired(c: &mut Client, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.exists(key).unwrap() {
        assert!(Instant::now() < deadline, "{key} did not expire");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// -------------------------------------------------------------------------------- hello

#[test]
fn hello_reports_the_features_and_keep_versions_flag_is_recorded() {
    let tmp = TempDir::new("v-hello");
    {
        let c = start(&tmp);
        let h = c.hello();
        assert_eq!(h.keep_versions, 0, "a new data dir keeps no history");
        for f in ["versions", "cas", "txn", "compact", "backup"] {
            assert!(h.has_feature(f), "{f} in {:?}", h.features);
        }
    }
    // `all` is sent as the word: the engine reports 0xffffffff.
    let c = Client::start(&history_opts(&tmp, KEEP_ALL_VERSIONS)).unwrap();
    assert_eq!(c.hello().keep_versions, KEEP_ALL_VERSIONS);
    drop(c);
    // Without the flag the recorded depth stays; with it, it changes.
    assert_eq!(start(&tmp).hello().keep_versions, KEEP_ALL_VERSIONS);
    assert_eq!(
        Client::start(&history_opts(&tmp, 3))
            .unwrap()
            .hello()
            .keep_versions,
        3
    );
    assert_eq!(start(&tmp).hello().keep_versions, 3);
}

// ----------------------------------------------------------------------- conditional writes

#[test]
fn set_if_version_writes_only_on_a_match_and_conflicts_carry_the_current_version() {
    let tmp = TempDir::new("v-cas");
    let mut c = start(&tmp);
    // 0: only while absent.
    let v1 = c.set_if_version("n", &1u32, 0).unwrap();
    let cf = conflict(c.set_if_version("n", &99u32, 0));
    assert_eq!((cf.version, cf.key.as_deref()), (v1, Some("n")));
    assert!(!cf.message.is_empty());
    assert!(cf.to_string().contains(&v1.to_string()), "{cf}");
    // A stale version: nothing written, the error says where the key is.
    let cf = conflict(c.set_if_version("n", &99u32, v1 - 1));
    assert_eq!(cf.version, v1);
    assert_eq!(c.get_with_version::<u32>("n").unwrap(), Some((1, v1)));
    // The right version writes and moves the version on.
    let v2 = c.set_if_version("n", &2u32, v1).unwrap();
    assert!(v2 > v1);
    assert_eq!(conflict(c.set_if_version("n", &3u32, v1)).version, v2);
    // An absent key is at version 0.
    let cf = conflict(c.set_if_version("absent", &1u32, v2));
    assert_eq!((cf.version, cf.key.as_deref()), (0, Some("absent")));
    assert_eq!(c.get_raw("absent").unwrap(), None);

    // The error stays an `Engine` error with code `conflict` (the pre-existing shape) ...
    let e = c.set_if_version("n", &0u32, 1).unwrap_err();
    assert!(e.is_conflict());
    assert_eq!((e.version(), e.key()), (Some(v2), Some("n")));
    assert!(matches!(
        &e,
        Error::Engine { code: ErrorCode::Conflict, version: Some(v), key: Some(k), .. }
            if *v == v2 && k == "n"
    ));
    assert_eq!(e.conflict().map(|c| c.version), Some(v2));
    // ... and other errors are no conflicts.
    let e = c.set_if_version("", &0u32, 0).unwrap_err();
    assert_eq!(e.conflict(), None);
    let e = e.into_conflict().unwrap_err();
    assert_eq!(code(e), ErrorCode::InvalidKey);

    // SetOptions: condition and expiry together; raw bytes kept exactly.
    let f32_bytes = [0xca, 0x3f, 0xc0, 0, 0];
    let v3 = c
        .set_raw_with(
            "n",
            &f32_bytes,
            SetOptions {
                ttl_ms: Some(60_000),
                if_version: Some(v2),
            },
        )
        .unwrap();
    assert_eq!(
        c.get_versioned("n").unwrap(),
        Some((f32_bytes.to_vec(), v3))
    );
    assert!(matches!(c.ttl("n").unwrap(), Ttl::Expires(ms) if ms <= 60_000));
    let cf = conflict(c.set_with(
        "n",
        "x",
        SetOptions {
            ttl_ms: None,
            if_version: Some(v2),
        },
    ));
    assert_eq!(cf.version, v3);
    assert!(
        matches!(c.ttl("n").unwrap(), Ttl::Expires(_)),
        "nothing written"
    );
    // A default SetOptions is a plain set (the expiry goes).
    c.set_with("n", "plain", SetOptions::default()).unwrap();
    assert_eq!(c.ttl("n").unwrap(), Ttl::Persistent);
    // Bytes that are not one object are refused before sending.
    assert!(matches!(
        c.set_raw_with("n", &[0x01, 0x02], SetOptions::default()),
        Err(Error::Encode(_))
    ));
}

#[test]
fn an_expired_key_counts_as_absent_for_if_version() {
    let tmp = TempDir::new("v-cas-expired");
    let mut c = start(&tmp);
    let live = c.set_ex("live", &1u32, 60_000).unwrap();
    assert_eq!(conflict(c.set_if_version("live", &2u32, 0)).version, live);
    let v = c.set_ex("e", &1u32, 30).unwrap();
    wait_expired(&mut c, "e");
    let cf = conflict(c.set_if_version("e", &2u32, v));
    assert_eq!(cf.version, 0, "expired: version 0");
    c.set_if_version("e", &3u32, 0).unwrap();
    assert_eq!(c.get::<u32>("e").unwrap(), Some(3));
}

#[test]
fn delete_if_version_removes_only_on_a_match() {
    let tmp = TempDir::new("v-cas-delete");
    let mut c = start(&tmp);
    let v = c.set("d", "x").unwrap();
    let cf = conflict(c.delete_if_version("d", v + 1));
    assert_eq!((cf.version, cf.key.as_deref()), (v, Some("d")));
    assert_eq!(
        conflict(c.delete_if_version("d", 0)).version,
        v,
        "0 on a live key"
    );
    assert!(c.exists("d").unwrap(), "nothing deleted");
    assert!(c.delete_if_version("d", v).unwrap());
    assert!(!c.exists("d").unwrap());
    // 0 on an absent key holds and deletes nothing; another version is a conflict at 0.
    assert!(!c.delete_if_version("d", 0).unwrap());
    assert_eq!(conflict(c.delete_if_version("d", v)).version, 0);
}

#[test]
fn conditional_writes_in_a_pipeline() {
    let tmp = TempDir::new("v-cas-pipeline");
    let mut c = start(&tmp);
    let set0 = |v: u32| {
        litestash::Req::new("set")
            .key("once")
            .raw_field("value", rmp_serde::to_vec(&v).unwrap())
            .uint("if_version", 0)
    };
    let mut rs = c.pipeline(&[set0(1), set0(2), hreq::versions("once", None, None)]);
    let versions = rs.pop().unwrap().unwrap();
    let second = rs.pop().unwrap();
    let first: u64 = rs.pop().unwrap().unwrap().field("version").unwrap();
    assert_eq!(
        conflict(second).version,
        first,
        "pipelined: the second sees the first"
    );
    assert_eq!(versions.field::<Vec<u64>>("versions").unwrap(), [first]);
    assert_eq!(c.get::<u32>("once").unwrap(), Some(1));
}

// --------------------------------------------------------------------------------- history

#[test]
fn versions_and_get_at_with_all_history_kept() {
    let tmp = TempDir::new("v-history");
    let mut c = Client::start(&history_opts(&tmp, KEEP_ALL_VERSIONS)).unwrap();
    let v1 = c.set("cfg", "blue").unwrap();
    let f32_bytes = [0xca, 0x3f, 0xc0, 0, 0];
    let v2 = c.set_raw("cfg", &f32_bytes, None).unwrap();
    let v3 = c.set("cfg", "green").unwrap();
    assert!(c.delete("cfg").unwrap());
    let all = c.versions_all("cfg", None).unwrap();
    assert_eq!(all.len(), 4);
    let tomb = all[0];
    assert!(tomb.deleted && tomb.version > v3, "{all:?}");
    assert_eq!(&all[1..], &[kv(v3, false), kv(v2, false), kv(v1, false)]);
    // Deleted: no current value, but every retained version reads back, bytes exact.
    assert_eq!(c.get_raw("cfg").unwrap(), None);
    assert_eq!(
        c.get_at::<String>("cfg", v1).unwrap().as_deref(),
        Some("blue")
    );
    assert_eq!(c.get_raw_at("cfg", v2).unwrap(), Some(f32_bytes.to_vec()));
    assert_eq!(
        c.get_at::<String>("cfg", v3).unwrap().as_deref(),
        Some("green")
    );
    assert_eq!(
        c.get_raw_at("cfg", tomb.version).unwrap(),
        None,
        "a tombstone"
    );
    assert_eq!(
        c.get_raw_at("cfg", v1 + 1).unwrap(),
        None,
        "never a version"
    );
    assert!(matches!(c.get_at::<u32>("cfg", v1), Err(Error::Decode(_))));
    // Written again: the current version comes first, and get_at of it is a plain get.
    let v5 = c.set("cfg", "red").unwrap();
    let all = c.versions_all("cfg", None).unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0], kv(v5, false));
    assert_eq!(
        c.get_at::<String>("cfg", v5).unwrap().as_deref(),
        Some("red")
    );

    // Paging: `before` is exclusive, `more` says whether older ones exist.
    let (p1, more) = c.versions("cfg", None, Some(2)).unwrap();
    assert_eq!((&p1[..], more), (&all[..2], true));
    let (p2, more) = c.versions("cfg", Some(p1[1].version), Some(2)).unwrap();
    assert_eq!((&p2[..], more), (&all[2..4], true));
    let (p3, more) = c.versions("cfg", Some(p2[1].version), Some(2)).unwrap();
    assert_eq!((&p3[..], more), (&all[4..], false));
    let (p, more) = c.versions("cfg", Some(v3), None).unwrap();
    assert_eq!((&p[..], more), (&all[3..], false));
    for page in [1, 2, 3, 5, 100] {
        let it: Vec<KeyVersion> = c
            .versions_iter("cfg", Some(page))
            .collect::<litestash::Result<_>>()
            .unwrap();
        assert_eq!(it, all, "page {page}");
    }
    // Absent with no history: empty. Limits are the engine's.
    assert_eq!(c.versions("nope", None, None).unwrap(), (vec![], false));
    assert_eq!(c.versions_all("nope", Some(1)).unwrap(), vec![]);
    assert_eq!(
        code(c.versions("cfg", None, Some(0)).unwrap_err()),
        ErrorCode::BadRequest
    );
    assert_eq!(
        code(c.versions("cfg", None, Some(10_001)).unwrap_err()),
        ErrorCode::BadRequest
    );
    assert_eq!(
        code(c.versions("", None, None).unwrap_err()),
        ErrorCode::InvalidKey
    );
    // An error ends the iterator after yielding it.
    let mut it = c.versions_iter("", None);
    assert!(it.next().unwrap().is_err());
    assert!(it.next().is_none());
}

#[test]
fn history_depth_limits_what_is_kept_and_expiry_drops_it() {
    let tmp = TempDir::new("v-depth");
    let mut c = Client::start(&history_opts(&tmp, 2)).unwrap();
    let vs: Vec<u64> = (0..5u32).map(|i| c.set("k", &i).unwrap()).collect();
    let all = c.versions_all("k", None).unwrap();
    assert_eq!(all, [kv(vs[4], false), kv(vs[3], false), kv(vs[2], false)]);
    assert_eq!(c.get_at::<u32>("k", vs[2]).unwrap(), Some(2));
    assert_eq!(
        c.get_at::<u32>("k", vs[1]).unwrap(),
        None,
        "beyond the depth"
    );
    // A tombstone counts among the N.
    c.delete("k").unwrap();
    let all = c.versions_all("k", None).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].deleted);
    assert_eq!(all[1], kv(vs[4], false));
    // An expired key has no history at all.
    c.set("e", &1u32).unwrap();
    let ve = c.set_ex("e", &2u32, 1500).unwrap();
    assert_eq!(c.versions_all("e", None).unwrap().len(), 2);
    wait_expired(&mut c, "e");
    assert_eq!(c.versions_all("e", None).unwrap(), vec![]);
    assert_eq!(c.get_raw_at("e", ve).unwrap(), None);
    drop(c);

    // Depth 0 (the default of a new data dir): only the current version.
    let tmp0 = TempDir::new("v-depth0");
    let mut c = start(&tmp0);
    let a = c.set("k", &1u32).unwrap();
    let b = c.set("k", &2u32).unwrap();
    assert_eq!(c.versions_all("k", None).unwrap(), [kv(b, false)]);
    assert_eq!(c.get_raw_at("k", a).unwrap(), None);
    c.delete("k").unwrap();
    assert_eq!(
        c.versions_all("k", None).unwrap(),
        vec![],
        "no tombstones at depth 0"
    );
}

// --------------------------------------------------------------------------------- compact

#[test]
fn lowering_the_depth_applies_at_the_next_write_and_compact_applies_it_everywhere() {
    let tmp = TempDir::new("v-compact");
    let mut c = Client::start(&history_opts(&tmp, KEEP_ALL_VERSIONS)).unwrap();
    for i in 0..5u32 {
        c.set("k", &i).unwrap();
        c.set("j", &i).unwrap();
    }
    assert_eq!(c.versions_all("j", None).unwrap().len(), 5);
    drop(c);
    let mut c = Client::start(&history_opts(&tmp, 2)).unwrap();
    assert_eq!(c.hello().keep_versions, 2);
    assert_eq!(
        c.versions_all("k", None).unwrap().len(),
        5,
        "not before the next write"
    );
    c.set("k", &5u32).unwrap();
    assert_eq!(c.versions_all("k", None).unwrap().len(), 3, "current + 2");
    assert_eq!(c.versions_all("j", None).unwrap().len(), 5);
    let done = c.compact(None).unwrap();
    assert_eq!(done.versions_removed, 2, "{done:?}");
    assert_eq!(done.expired_removed, 0);
    assert!(done.steps >= 1, "{done:?}");
    assert!(done.max_step_us > 0, "{done:?}");
    assert_eq!(c.versions_all("j", None).unwrap().len(), 3);
    // keep_versions 0 for this run only: every superseded version goes.
    let done = c.compact(Some(0)).unwrap();
    assert_eq!(done.versions_removed, 4, "{done:?}");
    assert_eq!(c.versions_all("k", None).unwrap().len(), 1);
    assert_eq!(c.get::<u32>("k").unwrap(), Some(5));
    // The recorded depth is unchanged: the next writes keep history again.
    c.set("k", &6u32).unwrap();
    assert_eq!(c.versions_all("k", None).unwrap().len(), 2);
    assert_eq!(c.compact(None).unwrap().versions_removed, 0);
}

#[test]
fn compact_removes_expired_keys_and_gives_space_back() {
    let tmp = TempDir::new("v-compact-space");
    let mut o = options(&tmp);
    o.shards = Some(2);
    let mut c = Client::start(&o).unwrap();
    let big = vec![7u8; 32 << 10];
    let keys: Vec<String> = (0..200).map(|i| format!("big:{i}")).collect();
    for chunk in keys.chunks(50) {
        let entries: Vec<(&str, serde_bytes_like::Bin)> = chunk
            .iter()
            .map(|k| (k.as_str(), serde_bytes_like::Bin(big.clone())))
            .collect();
        c.mset(&entries, None).unwrap();
    }
    for i in 0..10 {
        c.set_ex(&format!("short:{i}"), &i, 20).unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    assert_eq!(c.mdelete(&refs).unwrap(), 200);
    let done = c.compact(None).unwrap();
    // The background sweeper may have removed some expired keys first.
    assert!(done.expired_removed <= 10, "{done:?}");
    assert!(done.bytes_reclaimed > 4 << 20, "6.4 MB deleted: {done:?}");
    assert_eq!(c.count().unwrap(), 0);
    assert_eq!(c.compact(None).unwrap().expired_removed, 0);
}

/// A bin value through serde without the serde_bytes crate.
mod serde_bytes_like {
    pub struct Bin(pub Vec<u8>);
    impl serde::Serialize for Bin {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }
}

// ------------------------------------------------------------------------------------- txn

/// Two keys on different shards (of 16).
fn two_shards(a: &str, b: &str) -> (String, String) {
    assert_ne!(
        shard_of(a.as_bytes(), 16),
        shard_of(b.as_bytes(), 16),
        "{a} {b}"
    );
    (a.to_owned(), b.to_owned())
}

#[test]
fn txn_applies_every_op_and_returns_typed_results() {
    let tmp = TempDir::new("v-txn");
    let mut c = start(&tmp);
    let (a, b) = two_shards("acct:a", "acct:b");
    let va = c.set(&a, &100i64).unwrap();
    c.set("hold:a", &30i64).unwrap();
    let txn = Txn::new()
        .check(&a, va)
        .check(&b, 0)
        .set(&a, &70i64)
        .set_ex(&b, &30i64, 60_000)
        .xadd("transfers", &("a", "b", 30))
        .delete("hold:a")
        .delete("never")
        .xadd_raw("transfers", &[0xca, 0x3f, 0xc0, 0, 0])
        .set_raw("raw", &[0xd9, 0x01, 0x61], None);
    assert_eq!((txn.len(), txn.checks().len()), (7, 2));
    let r = c.commit(&txn).unwrap();
    assert_eq!(r.len(), 7);
    let (na, nb) = (r[0].version().unwrap(), r[1].version().unwrap());
    assert!(na > va);
    assert_eq!(c.get_with_version::<i64>(&a).unwrap(), Some((70, na)));
    assert_eq!(c.get_with_version::<i64>(&b).unwrap(), Some((30, nb)));
    assert!(matches!(c.ttl(&b).unwrap(), Ttl::Expires(_)));
    assert_eq!(r[2], TxnResult::Xadd { entry_id: 1 });
    assert_eq!(r[3], TxnResult::Delete { deleted: true });
    assert_eq!(r[4], TxnResult::Delete { deleted: false });
    assert_eq!(
        r[5].entry_id(),
        Some(2),
        "two appends to one stream, in op order"
    );
    assert_eq!((r[5].version(), r[5].deleted()), (None, None));
    assert_eq!(c.get_raw("raw").unwrap(), Some(vec![0xd9, 0x01, 0x61]));
    assert!(!c.exists("hold:a").unwrap());
    let entries = c.xrange_all("transfers", 0, None).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        entries[0].decode::<(String, String, i64)>().unwrap(),
        ("a".into(), "b".into(), 30)
    );
    assert_eq!(entries[1].value, [0xca, 0x3f, 0xc0, 0, 0]);
    // The same Txn again: its checks no longer hold (by value works too).
    let cf = conflict(c.commit(txn));
    assert!(cf.key.as_deref() == Some(a.as_str()) || cf.key.as_deref() == Some(b.as_str()));
    // No checks at all, only an xadd.
    let r = c.commit(Txn::new().xadd("transfers", &1)).unwrap();
    assert_eq!(r, [TxnResult::Xadd { entry_id: 3 }]);
}

#[test]
fn txn_with_a_failed_check_writes_nothing() {
    let tmp = TempDir::new("v-txn-conflict");
    let mut c = start(&tmp);
    let (a, b) = two_shards("acct:a", "acct:b");
    let va = c.set(&a, &100i64).unwrap();
    let vb = c.set(&b, &50i64).unwrap();
    c.set("hold:a", &1).unwrap();
    // Many keys over every shard, a stream, a delete: one stale check refuses them all.
    let mut txn = Txn::new().check(&a, va).check(&b, vb - 1);
    for i in 0..64 {
        txn = txn.set(&format!("new:{i}"), &i);
    }
    let txn = txn.set(&a, &0i64).delete("hold:a").xadd("log", &"never");
    let cf = conflict(c.commit(&txn));
    assert_eq!((cf.key.as_deref(), cf.version), (Some(b.as_str()), vb));
    assert_eq!(
        c.scan_all(Some("new:"), None).unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(c.get_with_version::<i64>(&a).unwrap(), Some((100, va)));
    assert!(c.exists("hold:a").unwrap());
    assert!(!c.xinfo("log").unwrap().exists, "no stream created");
    // A check for absence on a live key fails the same way (version = the current one).
    let cf = conflict(c.commit(Txn::new().check(&a, 0).set("x", &1)));
    assert_eq!((cf.key.as_deref(), cf.version), (Some(a.as_str()), va));
    assert!(!c.exists("x").unwrap());
}

#[test]
fn txn_refused_ops_write_nothing() {
    let tmp = TempDir::new("v-txn-refused");
    let mut c = start(&tmp);
    let before = |c: &mut Client| (c.count().unwrap(), c.xinfo("log").unwrap().exists);
    // A bad op anywhere refuses the whole transaction with that op's own error.
    let e = c
        .commit(Txn::new().set("ok", &1).xadd("log", &1).set("", &2))
        .unwrap_err();
    assert_eq!(code(e), ErrorCode::InvalidKey);
    assert_eq!(before(&mut c), (0, false));
    let e = c.commit(Txn::new().set("ok", &1).xadd("", &1)).unwrap_err();
    assert_eq!(code(e), ErrorCode::InvalidKey);
    // A key written twice, an empty transaction: bad_request.
    let e = c.commit(Txn::new().set("k", &1).delete("k")).unwrap_err();
    assert_eq!(code(e), ErrorCode::BadRequest);
    assert_eq!(
        code(c.commit(Txn::new()).unwrap_err()),
        ErrorCode::BadRequest
    );
    assert!(Txn::new().is_empty());
    // A check may name a written key, and a txn may hold 10000 ops.
    let mut big = Txn::new().check("k0", 0);
    for i in 0..10_000 {
        big = big.set(&format!("k{i}"), &i);
    }
    assert_eq!(c.commit(&big).unwrap().len(), 10_000);
    assert_eq!(
        code(c.commit(big.set("one-too-many", &0)).unwrap_err()),
        ErrorCode::BadRequest
    );
    assert_eq!(c.count().unwrap(), 10_000);
    // A value that does not encode: nothing is sent.
    let e = c
        .commit(
            Txn::new()
                .set("fine", &1)
                .set_raw("bad", &[0x92, 0x01], None),
        )
        .unwrap_err();
    assert!(
        matches!(&e, Error::Encode(m) if m.contains("txn op 1")),
        "{e:?}"
    );
    assert!(!c.exists("fine").unwrap());
    c.ping().unwrap();
}

#[test]
fn txn_in_a_pipeline_and_its_results() {
    let tmp = TempDir::new("v-txn-pipeline");
    let mut c = start(&tmp);
    let t1 = Txn::new().check("p", 0).set("p", &1).xadd("ps", &1);
    let t2 = Txn::new().check("p", 0).set("p", &2).xadd("ps", &2);
    let mut rs = c.pipeline(&[t1.req().unwrap(), t2.req().unwrap()]);
    let second = rs.pop().unwrap();
    let first = rs.pop().unwrap().unwrap();
    let r = t1.results(&first).unwrap();
    assert_eq!(r[1], TxnResult::Xadd { entry_id: 1 });
    assert_eq!(conflict(second).version, r[0].version().unwrap());
    // Results of another txn's shape are a protocol error, not a wrong answer.
    assert!(matches!(
        t1.set("q", &1).results(&first),
        Err(Error::Protocol(_))
    ));
}

#[test]
fn no_request_observes_part_of_a_cross_shard_txn() {
    let tmp = TempDir::new("v-txn-isolation");
    let mut c = start(&tmp);
    let (a, b) = two_shards("acct:a", "acct:b");
    let keys = litestash::msgpack::encode(&litestash::Value::Array(vec![
        litestash::Value::Str(a.clone()),
        litestash::Value::Str(b.clone()),
    ]));
    let mut reqs = Vec::new();
    for i in 0..200i64 {
        reqs.push(Txn::new().set(&a, &i).set(&b, &i).req().unwrap());
        reqs.push(litestash::Req::new("mget").raw_field("keys", keys.clone()));
        reqs.push(litestash::Req::new("get").key(&a)); // a keyed read (fast path) of one shard
    }
    let answers = c.pipeline(&reqs);
    for (i, chunk) in answers.chunks(3).enumerate() {
        chunk[0].as_ref().unwrap();
        let values: Vec<Option<i64>> = chunk[1]
            .as_ref()
            .unwrap()
            .field::<Vec<litestash::Value>>("values")
            .unwrap()
            .iter()
            .map(|v| v.as_u64().map(|n| n as i64))
            .collect();
        assert_eq!(values, [Some(i as i64); 2], "mget after txn {i}");
        let got = chunk[2].as_ref().unwrap().value("value").unwrap();
        assert_eq!(got.as_u64(), Some(i as u64), "get after txn {i}");
    }
}

// ---------------------------------------------------------------------------------- backup

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

#[test]
fn backup_is_a_data_dir_a_new_client_opens_and_a_non_empty_dir_is_refused() {
    let tmp = TempDir::new("v-backup");
    let mut c = Client::start(&history_opts(&tmp, KEEP_ALL_VERSIONS)).unwrap();
    let v1 = c.set("k", "one").unwrap();
    c.set("k", "two").unwrap();
    c.mset(&[("m1", 1), ("m2", 2)], None).unwrap();
    c.commit(Txn::new().set("t", &true).xadd("s", &"e1"))
        .unwrap();
    c.xcommit("s", "g", 1).unwrap();
    let bk = tmp.path().join("backups").join("one"); // missing parents are created
    let info = c.backup(&bk).unwrap();
    assert_eq!(info.shards, 16);
    assert!(info.bytes > 0);
    assert_eq!(info.bytes, dir_bytes(&bk), "bytes is the copy's size");
    // Written after the backup: not in it.
    c.set("after", &1).unwrap();

    // A non-empty dir (the backup itself, the live data dir) is refused and left as it is.
    let listing = |p: &std::path::Path| {
        let mut v: Vec<_> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    let files = listing(&bk);
    assert_eq!(code(c.backup(&bk).unwrap_err()), ErrorCode::BadRequest);
    assert_eq!(listing(&bk), files);
    assert_eq!(dir_bytes(&bk), info.bytes);
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("x"), b"mine").unwrap();
    assert_eq!(code(c.backup(&other).unwrap_err()), ErrorCode::BadRequest);
    assert_eq!(std::fs::read(other.join("x")).unwrap(), b"mine");
    assert_eq!(listing(&other).len(), 1);
    // An existing empty dir is fine.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(c.backup(&empty).unwrap().shards, 16);
    drop(c);

    // The copy opens with a new client as a data dir and holds everything of before.
    let mut o = options(&tmp);
    o.data_dir = Some(bk.clone());
    let mut r = Client::start(&o).unwrap();
    assert_eq!(
        r.hello().keep_versions,
        KEEP_ALL_VERSIONS,
        "the depth is in the copy"
    );
    assert_eq!(r.get::<String>("k").unwrap().as_deref(), Some("two"));
    assert_eq!(r.get_at::<String>("k", v1).unwrap().as_deref(), Some("one"));
    assert_eq!(r.versions_all("k", None).unwrap().len(), 2);
    assert_eq!(r.mget::<i32>(&["m1", "m2"]).unwrap(), [Some(1), Some(2)]);
    assert_eq!(r.get::<bool>("t").unwrap(), Some(true));
    assert_eq!(r.xrange_all("s", 0, None).unwrap().len(), 1);
    assert_eq!(r.xoffset("s", "g").unwrap(), Some(1));
    assert!(!r.exists("after").unwrap());
    // And it is a live data dir: writable, and appends continue the stream.
    assert_eq!(r.xadd("s", &"e2", Retention::NONE).unwrap().entry_id, 2);
    r.set("k", "three").unwrap();
}

#[test]
fn backup_of_a_memory_engine_is_a_data_dir_on_disk() {
    let tmp = TempDir::new("v-backup-mem");
    let mut o = options(&tmp);
    o.data_dir = None;
    o.memory = true;
    o.shards = Some(4);
    let mut c = Client::start(&o).unwrap();
    c.set("k", &1).unwrap();
    let bk = tmp.path().join("copy");
    assert_eq!(c.backup(&bk).unwrap().shards, 4);
    let mut o = options(&tmp);
    o.data_dir = Some(bk);
    o.shards = Some(4);
    assert_eq!(Client::start(&o).unwrap().get::<i32>("k").unwrap(), Some(1));
}

// ------------------------------------------------------------------------ long-op timeouts

#[test]
fn long_ops_wait_for_the_long_timeout() {
    let ms = Duration::from_millis;
    let tmp = TempDir::new("v-long-timeout");
    assert_eq!(
        Options::new("x").long_timeout,
        Some(litestash::DEFAULT_LONG_TIMEOUT)
    );
    let o = options(&tmp).long_timeout(Some(ms(1500)));
    let mut c = Client::start(&o).unwrap();
    assert_eq!(c.long_timeout(), Some(ms(1500)));
    c.set("k", &1).unwrap();
    c.set_timeout(Some(ms(200)));
    common::signal(c.pid(), "STOP"); // a hung engine
    let t = Instant::now();
    assert!(matches!(c.ping(), Err(Error::Timeout(d)) if d == ms(200)));
    let t = t.elapsed();
    assert!(
        t < ms(1500),
        "a normal op does not wait the long timeout: {t:?}"
    );
    let t = Instant::now();
    let e = c.compact(None).unwrap_err();
    assert!(matches!(e, Error::Timeout(d) if d == ms(1500)), "{e:?}");
    assert!(t.elapsed() >= ms(1500));
    // The longer of the two: a normal timeout above the long one wins.
    c.set_timeout(Some(ms(1000)));
    c.set_long_timeout(Some(ms(100)));
    let t = Instant::now();
    let e = c.backup(tmp.path().join("never")).unwrap_err();
    assert!(matches!(e, Error::Timeout(d) if d == ms(1000)), "{e:?}");
    assert!(t.elapsed() >= ms(1000));
    common::signal(c.pid(), "CONT");
    // Late answers are discarded; the engine finished what it was sent.
    c.set_timeout(Some(Duration::from_secs(30)));
    assert_eq!(c.get::<i32>("k").unwrap(), Some(1));
    let r = c
        .send_with_timeout(
            &litestash::admin::req::compact(None),
            Some(Duration::from_secs(60)),
        )
        .unwrap();
    assert!(r.has("steps"));
    assert_eq!(
        c.timeout(),
        Some(Duration::from_secs(30)),
        "restored after the call"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !tmp.path().join("never").is_dir() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        tmp.path().join("never").is_dir(),
        "the timed-out backup still ran"
    );
}

// ------------------------------------------------------------- two engines on one data dir

#[test]
fn cas_increments_from_two_engine_processes_lose_no_update() {
    const EACH: u64 = 150;
    let tmp = TempDir::new("v-cas-race");
    let o = options(&tmp);
    drop(Client::start(&o).unwrap()); // create the data dir once
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (o, barrier) = (o.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut c = Client::start(&o).unwrap();
                barrier.wait();
                let mut conflicts = 0u64;
                for _ in 0..EACH {
                    loop {
                        let (n, v) = c
                            .get_with_version::<u64>("counter")
                            .unwrap()
                            .unwrap_or((0, 0));
                        match c.set_if_version("counter", &(n + 1), v) {
                            Ok(nv) => {
                                assert!(nv > v);
                                break;
                            }
                            Err(e) => {
                                let cf = e.into_conflict().unwrap();
                                assert_ne!(cf.version, v, "a conflict means the key moved");
                                conflicts += 1;
                            }
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    let conflicts: Vec<u64> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let mut c = start(&tmp);
    assert_eq!(
        c.get::<u64>("counter").unwrap(),
        Some(2 * EACH),
        "conflicts {conflicts:?}"
    );
}

#[test]
fn txn_transfers_from_two_engine_processes_conserve_the_total() {
    const EACH: usize = 60;
    let tmp = TempDir::new("v-txn-race");
    let o = options(&tmp);
    let (a, b) = two_shards("acct:a", "acct:b");
    {
        let mut c = Client::start(&o).unwrap();
        c.commit(Txn::new().set(&a, &1000i64).set(&b, &1000i64))
            .unwrap();
    }
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let (o, barrier, a, b) = (o.clone(), barrier.clone(), a.clone(), b.clone());
            std::thread::spawn(move || {
                let mut c = Client::start(&o).unwrap();
                barrier.wait();
                let (from, to) = if w == 0 { (&a, &b) } else { (&b, &a) };
                let mut log = Vec::new();
                for i in 0..EACH {
                    loop {
                        let (f, vf) = c.get_with_version::<i64>(from).unwrap().unwrap();
                        let (t, vt) = c.get_with_version::<i64>(to).unwrap().unwrap();
                        let amount = 1 + (i as i64 % 7);
                        let txn = Txn::new()
                            .check(from, vf)
                            .check(to, vt)
                            .set(from, &(f - amount))
                            .set(to, &(t + amount))
                            .xadd("moves", &(w, amount));
                        match c.commit(&txn) {
                            Ok(r) => {
                                log.push(r[2].entry_id().unwrap());
                                break;
                            }
                            Err(e) => {
                                e.into_conflict().unwrap();
                            }
                        }
                    }
                }
                log
            })
        })
        .collect();
    let mut ids: Vec<u64> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    ids.sort();
    let mut c = start(&tmp);
    let total: i64 = c
        .mget::<i64>(&[a.as_str(), b.as_str()])
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .sum();
    assert_eq!(total, 2000);
    assert_eq!(
        ids,
        (1..=2 * EACH as u64).collect::<Vec<_>>(),
        "one entry per commit"
    );
    assert_eq!(c.xinfo("moves").unwrap().length, 2 * EACH as u64);
}
