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
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance/vectors"),
    }
}

/// Loads `name` (`"dataset"`, `"scenario"`, `"hash_vectors"`) as a dynamic value.
pub fn load(name: &str) -> Result<Value, String> {
    let path = dir().join(format!("{name}.msgpack"));
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    msgpack::decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}
