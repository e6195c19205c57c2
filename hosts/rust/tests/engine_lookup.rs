//! How the engine binary is found: the explicit `Options::engine`, then env `LITESTASH_ENGINE`,
//! then `litestash-engine` on `PATH`; and what the error says when there is none. One test
//! function, because it changes the process environment (tests in one binary run in threads).

mod common;

use std::ffi::OsString;
use std::path::Path;

use common::TempDir;
use litestash::{find_engine, Client, Error, Options};

fn not_found(r: litestash::Result<std::path::PathBuf>) -> String {
    match r {
        Err(Error::EngineNotFound(m)) => m,
        other => panic!("expected EngineNotFound, got {other:?}"),
    }
}

struct RestoreEnv(Vec<(&'static str, Option<OsString>)>);

impl Drop for RestoreEnv {
    fn drop(&mut self) {
        for (k, v) in &self.0 {
            match v {
                Some(v) => std::env::set_var(k, v),
                None => std::env::remove_var(k),
            }
        }
    }
}

#[test]
fn explicit_then_env_then_path() {
    let engine = common::engine();
    let _restore = RestoreEnv(
        ["LITESTASH_ENGINE", "PATH"]
            .into_iter()
            .map(|k| (k, std::env::var_os(k)))
            .collect(),
    );
    let tmp = TempDir::new("lookup");
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(&engine, bin.join("litestash-engine")).unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();

    // 1. The explicit path wins, whatever the environment says; a missing one is named.
    std::env::set_var("LITESTASH_ENGINE", "/nonexistent/env-engine");
    assert_eq!(find_engine(Some(&engine)).unwrap(), engine);
    let m = not_found(find_engine(Some(Path::new("/nonexistent/explicit"))));
    assert!(
        m.contains("not found") && m.contains("/nonexistent/explicit"),
        "{m}"
    );

    // 2. LITESTASH_ENGINE before PATH; a wrong one is reported as such (no silent fallback).
    std::env::set_var("PATH", &bin);
    std::env::set_var("LITESTASH_ENGINE", &engine);
    assert_eq!(find_engine(None).unwrap(), engine);
    std::env::set_var("LITESTASH_ENGINE", "/nonexistent/env-engine");
    let m = not_found(find_engine(None));
    assert!(
        m.contains("LITESTASH_ENGINE") && m.contains("/nonexistent/env-engine"),
        "{m}"
    );

    // 3. litestash-engine on PATH last, and a client starts through it.
    std::env::remove_var("LITESTASH_ENGINE");
    assert_eq!(find_engine(None).unwrap(), bin.join("litestash-engine"));
    assert_eq!(
        find_engine(Some(Path::new("litestash-engine"))).unwrap(),
        bin.join("litestash-engine")
    );
    let mut c = Client::start(&Options::new(tmp.path().join("data"))).unwrap();
    c.ping().unwrap();
    assert!(c.close().unwrap().success());

    // 4. Nowhere: the error names every place it looked.
    std::env::set_var("PATH", &empty);
    let m = not_found(find_engine(None));
    assert!(
        m.contains("litestash-engine not found")
            && m.contains("LITESTASH_ENGINE is not set")
            && m.contains("PATH")
            && m.contains(empty.to_str().unwrap()),
        "{m}"
    );
    match Client::start(&Options::new(tmp.path().join("data"))) {
        Err(Error::EngineNotFound(m2)) => assert_eq!(m2, m),
        Err(other) => panic!("expected EngineNotFound, got {other:?}"),
        Ok(_) => panic!("started without an engine"),
    }
}
