//! BLAKE2b-512 digests and routing against conformance/vectors/hash_vectors (1000 keys).

mod common;

use common::vectors;
use litestash::blake2b::{blake2b_512, shard_of};
use litestash::msgpack::{hex, Value};

#[test]
fn every_hash_vector_digest_and_shard() {
    let doc = vectors::load("hash_vectors").unwrap();
    assert_eq!(
        doc.get("format").and_then(Value::as_str),
        Some("litestash-hash-vectors/1")
    );
    assert_eq!(doc.get("hash").and_then(Value::as_str), Some("blake2b-512"));
    let vs = doc.get("vectors").and_then(Value::as_array).unwrap();
    assert!(vs.len() >= 1000, "{} vectors", vs.len());
    let mut checked = 0;
    for v in vs {
        let key = v.get("key").and_then(Value::as_str).unwrap();
        assert_eq!(
            hex(key.as_bytes()),
            v.get("key_utf8_hex").and_then(Value::as_str).unwrap()
        );
        assert_eq!(
            hex(&blake2b_512(key.as_bytes())),
            v.get("blake2b512_hex").and_then(Value::as_str).unwrap(),
            "digest of {key:?}"
        );
        let shards = match v.get("shard").unwrap() {
            Value::Map(m) => m,
            _ => panic!("shard map"),
        };
        for (n, want) in shards {
            let n: u64 = n.as_str().unwrap().parse().unwrap();
            assert_eq!(
                shard_of(key.as_bytes(), n),
                want.as_u64().unwrap(),
                "shard of {key:?} among {n}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 4000);
}
