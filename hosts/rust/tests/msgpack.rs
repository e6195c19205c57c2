//! The host's MessagePack layer: spec byte vectors, every format family, limits, byte-exact
//! slicing, and agreement between the own encoder and rmp-serde for `Value`.

use litestash::msgpack::{decode, encode, map_spans, skip, split_array, DecodeError, Value};

fn unhex(h: &str) -> Vec<u8> {
    litestash::msgpack::unhex(h).unwrap()
}
fn hex(b: &[u8]) -> String {
    litestash::msgpack::hex(b)
}

fn canonical() -> Vec<(Value, &'static str)> {
    use Value::*;
    vec![
        (Nil, "c0"),
        (Bool(false), "c2"),
        (Bool(true), "c3"),
        (Int(0), "00"),
        (Int(127), "7f"),
        (Int(128), "cc80"),
        (Int(256), "cd0100"),
        (Int(65_536), "ce00010000"),
        (Int(4_294_967_296), "cf0000000100000000"),
        (Int(u64::MAX as i128), "cfffffffffffffffff"),
        (Int(-1), "ff"),
        (Int(-32), "e0"),
        (Int(-33), "d0df"),
        (Int(-129), "d1ff7f"),
        (Int(-32_769), "d2ffff7fff"),
        (Int(-2_147_483_649), "d3ffffffff7fffffff"),
        (Int(i64::MIN as i128), "d38000000000000000"),
        (F32(1.5), "ca3fc00000"),
        (F64(0.1), "cb3fb999999999999a"),
        (F64(-2.5), "cbc004000000000000"),
        (Str("".into()), "a0"),
        (Str("naïve".into()), "a66e61c3af7665"),
        (
            Str("x".repeat(32)),
            "d9207878787878787878787878787878787878787878787878787878787878787878",
        ),
        (Bin(vec![]), "c400"),
        (Bin(vec![0, 1, 255]), "c4030001ff"),
        (Array(vec![]), "90"),
        (
            Array(vec![Int(1), Array(vec![Int(2), Str("x".into())])]),
            "92019202a178",
        ),
        (Map(vec![]), "80"),
        (
            Map(vec![
                (Str("a".into()), Int(1)),
                (Str("b".into()), Array(vec![Bool(true), Nil])),
            ]),
            "82a16101a16292c3c0",
        ),
        (Ext(5, vec![1]), "d40501"),
        (Ext(5, vec![1, 2]), "d5050102"),
        (Ext(-1, vec![0; 4]), "d6ff00000000"),
        (Ext(1, vec![0; 8]), "d7010000000000000000"),
        (Ext(1, vec![0; 16]), "d80100000000000000000000000000000000"),
        (Ext(7, vec![0xaa, 0xbb, 0xcc]), "c70307aabbcc"),
    ]
}

#[test]
fn canonical_vectors_encode_decode_and_match_rmp_serde() {
    for (v, h) in canonical() {
        assert_eq!(hex(&encode(&v)), h, "encode {v:?}");
        assert_eq!(decode(&unhex(h)).unwrap(), v, "decode {h}");
        // The serde path (rmp-serde) must produce the same bytes and read them back.
        assert_eq!(
            hex(&rmp_serde::to_vec_named(&v).unwrap()),
            h,
            "rmp-serde encode {v:?}"
        );
        let back: Value = rmp_serde::from_slice(&unhex(h)).unwrap();
        assert_eq!(back, v, "rmp-serde decode {h}");
        let mut with_tail = unhex(h);
        with_tail.extend_from_slice(&[0xc0, 0xc3]);
        assert_eq!(skip(&with_tail), Ok(unhex(h).len()), "skip {h}");
    }
}

#[test]
fn length_boundaries() {
    let cases: Vec<(Value, &str)> = vec![
        (Value::Str("x".repeat(256)), "da0100"),
        (Value::Str("x".repeat(65_536)), "db00010000"),
        (Value::Bin(vec![0; 256]), "c50100"),
        (Value::Bin(vec![0; 65_536]), "c600010000"),
        (Value::Ext(2, vec![0; 256]), "c8010002"),
        (Value::Ext(2, vec![0; 65_536]), "c90001000002"),
        (Value::Array(vec![Value::Nil; 16]), "dc0010"),
        (Value::Array(vec![Value::Nil; 65_536]), "dd00010000"),
        (
            Value::Map((0..16).map(|i| (Value::Int(i), Value::Nil)).collect()),
            "de0010",
        ),
        (
            Value::Map((0..65_536).map(|i| (Value::Int(i), Value::Nil)).collect()),
            "df00010000",
        ),
    ];
    for (v, prefix) in cases {
        let b = encode(&v);
        assert!(hex(&b[..8.min(b.len())]).starts_with(prefix), "{prefix}");
        assert_eq!(decode(&b).unwrap(), v);
        assert_eq!(skip(&b), Ok(b.len()));
    }
}

#[test]
fn non_canonical_forms_decode() {
    use Value::*;
    for (h, want) in [
        ("cc05", Int(5)),
        ("cd0005", Int(5)),
        ("ce00000007", Int(7)),
        ("cf0000000000000001", Int(1)),
        ("d0ff", Int(-1)),
        ("d1ffff", Int(-1)),
        ("d2ffffffff", Int(-1)),
        ("d3ffffffffffffffff", Int(-1)),
        ("d903616263", Str("abc".into())),
        ("da0000", Str("".into())),
        ("db0000000161", Str("a".into())),
        ("c50001ff", Bin(vec![255])),
        ("c600000000", Bin(vec![])),
        ("dc000101", Array(vec![Int(1)])),
        ("dd000000020102", Array(vec![Int(1), Int(2)])),
        ("de0001a17801", Map(vec![(Str("x".into()), Int(1))])),
        ("df00000000", Map(vec![])),
        ("c8000107ff", Ext(7, vec![255])),
        ("c900000000f0", Ext(-16, vec![])),
    ] {
        assert_eq!(decode(&unhex(h)).unwrap(), want, "{h}");
    }
    assert!(matches!(decode(&unhex("ca7fc00000")).unwrap(), F32(x) if x.is_nan()));
}

#[test]
fn malformed_input_is_refused() {
    assert_eq!(decode(&[0xc1]), Err(DecodeError::ReservedByte));
    assert_eq!(decode(&[]), Err(DecodeError::Truncated));
    assert_eq!(decode(&unhex("a361")), Err(DecodeError::Truncated));
    assert_eq!(decode(&unhex("cd01")), Err(DecodeError::Truncated));
    assert_eq!(decode(&unhex("ddffffffff")), Err(DecodeError::Truncated));
    assert_eq!(decode(&unhex("dfffffffff")), Err(DecodeError::Truncated));
    assert_eq!(decode(&unhex("dbffffffff")), Err(DecodeError::Truncated));
    assert_eq!(decode(&unhex("0102")), Err(DecodeError::TrailingBytes(1)));
    assert_eq!(decode(&unhex("a2c328")), Err(DecodeError::InvalidUtf8));
    assert_eq!(skip(&unhex("92a161")), Err(DecodeError::Truncated));
    assert_eq!(skip(&unhex("d905616263")), Err(DecodeError::Truncated));
}

#[test]
fn nesting_limit_512() {
    let mut ok = vec![0x91u8; 511];
    ok.push(0x90);
    assert_eq!(skip(&ok), Ok(512));
    assert!(decode(&ok).is_ok());
    let mut deep = vec![0x91u8; 512];
    deep.push(0x90);
    assert_eq!(skip(&deep), Err(DecodeError::TooDeep));
    assert_eq!(decode(&deep), Err(DecodeError::TooDeep));
}

#[test]
fn spans_are_byte_exact() {
    let body = unhex("85a26964 07 a26f6b c3 a5666f756e64 c3 a576616c7565 ca3fc00000 a776657273696f6e cf0000000000000001");
    let spans = map_spans(&body).unwrap();
    let get = |n: &str| {
        spans
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, r)| &body[r.clone()])
            .unwrap()
    };
    assert_eq!(get("value"), unhex("ca3fc00000").as_slice());
    assert_eq!(get("version"), unhex("cf0000000000000001").as_slice());
    assert_eq!(map_spans(&unhex("9101")), Err(DecodeError::NotAMap));
    assert_eq!(map_spans(&unhex("8101c0")), Err(DecodeError::NonStrKey));
    assert_eq!(
        map_spans(&unhex("81a16101ff")),
        Err(DecodeError::TrailingBytes(1))
    );

    let arr = unhex("93cc05c0d903616263");
    let parts: Vec<String> = split_array(&arr).unwrap().into_iter().map(hex).collect();
    assert_eq!(parts, vec!["cc05", "c0", "d903616263"]);
    assert_eq!(
        split_array(&unhex("81a16101")),
        Err(DecodeError::NotAnArray)
    );
}

#[test]
fn typed_serde_round_trip() {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct User {
        name: String,
        score: u32,
        tags: Vec<String>,
        vec: Vec<f64>,
        nick: Option<String>,
    }
    let u = User {
        name: "Alice".into(),
        score: 99,
        tags: vec!["a".into()],
        vec: vec![0.1, 0.5],
        nick: None,
    };
    let b = rmp_serde::to_vec_named(&u).unwrap();
    // Structs are written as maps with field names (what other hosts expect).
    let v = decode(&b).unwrap();
    assert_eq!(v.get("name"), Some(&Value::Str("Alice".into())));
    assert_eq!(v.get("nick"), Some(&Value::Nil));
    assert_eq!(rmp_serde::from_slice::<User>(&b).unwrap(), u);
}
