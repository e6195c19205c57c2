//! The shared conformance vectors (`<repo>/conformance/vectors`, env `LITESTASH_VECTORS`).
//!
//! No JSON parser is available offline (no serde_json in Debian's registry), so the files are
//! read through their MessagePack twins (`X.msgpack` holds the same document as `X.json`,
//! see the vectors README).

use std::path::PathBuf;

use litestash::msgpack::{self, Value};

pub fn dir() -> PathBuf {
    match std::env::var_os("LITESTASH_VECTORS") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vectors"),
    }
}

/// Loads `name` (`"dataset"`, `"scenario"`, `"hash_vectors"`) as a dynamic value.
pub fn load(name: &str) -> Result<Value, String> {
    let path = dir().join(format!("{name}.msgpack"));
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    msgpack::decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// The value a dataset `json` node describes, in this host's dynamic type: `{"int": n}` is
/// `Int`, `{"f32": x}` is `F32`, `{"bin_hex": h}` is `Bin`, `{"map": {...}}` a `Map` with str
/// keys, and so on (see the vectors README).
pub fn expected(node: &Value) -> Result<Value, String> {
    let pairs = match node {
        Value::Map(p) if p.len() == 1 => p,
        other => return Err(format!("not a tagged node: {other:?}")),
    };
    let (tag, v) = (&pairs[0].0, &pairs[0].1);
    let tag = tag.as_str().ok_or("tag is not a str")?;
    Ok(match (tag, v) {
        ("nil", _) => Value::Nil,
        ("bool", Value::Bool(b)) => Value::Bool(*b),
        ("int", Value::Int(i)) => Value::Int(*i),
        ("f64", x) => Value::F64(number(x)?),
        ("f32", x) => Value::F32(number(x)? as f32),
        ("str", Value::Str(s)) => Value::Str(s.clone()),
        ("bin_hex", Value::Str(h)) => Value::Bin(msgpack::unhex(h).ok_or("bad hex")?),
        ("array", Value::Array(items)) => {
            Value::Array(items.iter().map(expected).collect::<Result<_, _>>()?)
        }
        ("map", Value::Map(m)) => Value::Map(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), expected(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        _ => return Err(format!("unknown node {tag}: {v:?}")),
    })
}

fn number(v: &Value) -> Result<f64, String> {
    match v {
        Value::F64(x) => Ok(*x),
        Value::F32(x) => Ok(*x as f64),
        Value::Int(i) => Ok(*i as f64),
        other => Err(format!("not a number: {other:?}")),
    }
}
