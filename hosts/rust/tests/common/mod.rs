//! Shared helpers for the integration tests: engine path, temp dirs, clients, the vectors.
#![allow(dead_code)]

pub mod vectors;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use litestash::{Client, Options};

/// The engine binary, found as the library finds it; panics with a clear message when missing.
pub fn engine() -> PathBuf {
    match litestash::find_engine(None) {
        Ok(p) => p,
        Err(e) => panic!("{e} (build it or set LITESTASH_ENGINE)"),
    }
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!(
            "litestash-rs-{tag}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Options for an engine on `<tmp>/data` with its log in `<tmp>/engine.log`.
pub fn options(tmp: &TempDir) -> Options {
    let mut o = Options::new(tmp.path().join("data"));
    o.engine = Some(engine());
    o.log_level = Some("warn".into());
    o.stderr_file = Some(tmp.path().join("engine.log"));
    o
}

/// A client on a fresh data dir. Keep the TempDir alive as long as the client (declare it
/// first so it is dropped last, after the client has closed the engine).
pub fn start(tmp: &TempDir) -> Client {
    Client::start(&options(tmp)).expect("engine starts")
}

pub fn unhex(h: &str) -> Vec<u8> {
    litestash::msgpack::unhex(h).expect("valid hex")
}

pub fn hex(b: &[u8]) -> String {
    litestash::msgpack::hex(b)
}

/// Sends a signal to a process with kill(1) (no libc crate offline).
pub fn signal(pid: u32, sig: &str) {
    let st = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(st.success(), "kill -{sig} {pid}");
}
