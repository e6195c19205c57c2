//! The synchronous client: spawns `litestash-engine`, writes length-prefixed MessagePack
//! frames to its stdin and reads the answers from its stdout, matching them by `id`.
//!
//! One request is in flight per call, except in [`Client::pipeline`], which sends a batch and
//! collects the answers in whatever order the engine produces them. The engine's `hello` is
//! checked on start (protocol 1 or 2, BLAKE2b-512 routing); every request that carries a `key`
//! or a `stream` also carries the `shard` computed here, so a routing disagreement fails loudly
//! (`wrong_shard`). Protocol 2: compare-and-set is here ([`Client::set_if_version`],
//! [`Client::delete_if_version`], [`SetOptions`]); the stream ops are in [`crate::stream`],
//! history in [`crate::history`], transactions in [`crate::txn`], `compact` and `backup` in
//! [`crate::admin`].
//! Dropping the client closes the engine's stdin (a clean shutdown) and waits for it.
//!
//! Two helper threads per client move the bytes: one writes queued frames to the engine's
//! stdin, one reads answer frames from its stdout. A call therefore never blocks on the pipes
//! themselves, only on waiting for an answer, and that wait is bounded by
//! [`Options::timeout`] (default 30 s): a hung engine yields [`Error::Timeout`], not a hang.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::blake2b::shard_of;
use crate::error::{Error, ErrorCode, Result};
use crate::msgpack::{self, Value};

/// How long a call waits for the engine's answer by default (see [`Options::timeout`]).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the long ops (`compact`, `backup`) wait for their answer by default (see
/// [`Options::long_timeout`]).
pub const DEFAULT_LONG_TIMEOUT: Duration = Duration::from_secs(600);

/// The engine's log level unless [`Options::log_level`] says otherwise.
pub const DEFAULT_LOG_LEVEL: &str = "warn";

/// The engine's command name, looked up on `PATH` as the last resort.
pub const ENGINE_NAME: &str = "litestash-engine";

/// How to start the engine.
#[derive(Debug, Clone)]
pub struct Options {
    /// The engine binary. `None` (the default): env `LITESTASH_ENGINE`, else `litestash-engine`
    /// on `PATH` (see [`find_engine`]).
    pub engine: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub memory: bool,
    pub shards: Option<u32>,
    /// `--log-level`; default `Some("warn")`, so the engine's info lines stay off the
    /// application's console. `None` passes no flag (the engine's default, or its env
    /// `LITESTASH_LOG_LEVEL`).
    pub log_level: Option<String>,
    /// The longest wait for each answer from the engine (and, on close, for the engine to
    /// exit, after which it is killed); default [`DEFAULT_TIMEOUT`] (30 s). A call that runs out
    /// of time returns [`Error::Timeout`]; the engine keeps running and a late answer is
    /// discarded. `None` waits forever.
    pub timeout: Option<Duration>,
    /// The longest wait for the answer of a long op, [`Client::compact`] and
    /// [`Client::backup`] (they work through every shard and may take minutes on a large data
    /// dir); default [`DEFAULT_LONG_TIMEOUT`] (10 min). Those ops wait for the longer of this
    /// and [`Options::timeout`] (`None` is the longest: no limit). As with `timeout`, the
    /// engine keeps running the op after a [`Error::Timeout`]. See also
    /// [`Client::set_long_timeout`].
    pub long_timeout: Option<Duration>,
    /// `--keep-versions`: the data dir's history depth (contract v2 section 3), recorded in
    /// the data dir: 0 keeps no history, N the N most recent superseded versions of each key
    /// (tombstones of deletes included), [`KEEP_ALL_VERSIONS`] (or more) every version (passed
    /// as `all`). Set on a new data dir; on an existing one that records another depth, the
    /// record is changed (for every engine on it, from their next write). `None` (the default)
    /// passes no flag: the recorded depth stays (0 for a new data dir).
    pub keep_versions: Option<u64>,
    /// More command-line arguments, passed last.
    pub extra_args: Vec<OsString>,
    /// Send the engine's stderr (its log) to this file instead of inheriting ours.
    pub stderr_file: Option<PathBuf>,
}

/// Finds the engine binary: `explicit` when given, else env `LITESTASH_ENGINE` when set, else
/// `litestash-engine` on `PATH`. A bare name (no `/`) is looked up on `PATH`. The error,
/// [`Error::EngineNotFound`], says where it looked.
pub fn find_engine(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return resolve_engine(p.as_os_str(), format!("the explicit path {:?}", p));
    }
    match std::env::var_os("LITESTASH_ENGINE") {
        Some(p) if !p.is_empty() => resolve_engine(&p, format!("LITESTASH_ENGINE={:?}", p)),
        _ => search_path(OsStr::new(ENGINE_NAME)).ok_or_else(|| {
            Error::EngineNotFound(format!(
                "litestash-engine not found: no explicit engine path (Options::engine), \
                 LITESTASH_ENGINE is not set, and no {ENGINE_NAME} on PATH ({})",
                std::env::var_os("PATH")
                    .unwrap_or_default()
                    .to_string_lossy()
            ))
        }),
    }
}

fn resolve_engine(p: &OsStr, what: String) -> Result<PathBuf> {
    let bare = !p.to_string_lossy().contains('/');
    let found = if bare {
        search_path(p)
    } else {
        Some(PathBuf::from(p)).filter(|p| is_executable(p))
    };
    found.ok_or_else(|| {
        Error::EngineNotFound(format!(
            "litestash-engine not found: {what} is not {}",
            if bare {
                "a command on PATH"
            } else {
                "an executable file"
            }
        ))
    })
}

fn search_path(name: &OsStr) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|c| is_executable(c))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

impl Options {
    /// Options for an engine on `data_dir`, everything else default.
    pub fn new(data_dir: impl Into<PathBuf>) -> Options {
        Options {
            engine: None,
            data_dir: Some(data_dir.into()),
            memory: false,
            shards: None,
            log_level: Some(DEFAULT_LOG_LEVEL.to_owned()),
            timeout: Some(DEFAULT_TIMEOUT),
            long_timeout: Some(DEFAULT_LONG_TIMEOUT),
            keep_versions: None,
            extra_args: Vec::new(),
            stderr_file: None,
        }
    }
    /// Uses this engine binary instead of looking one up.
    pub fn engine(mut self, path: impl Into<PathBuf>) -> Options {
        self.engine = Some(path.into());
        self
    }
    /// Sets [`Options::timeout`] (`None`: wait forever).
    pub fn timeout(mut self, t: Option<Duration>) -> Options {
        self.timeout = t;
        self
    }
    /// Sets [`Options::long_timeout`] (`None`: long ops wait forever).
    pub fn long_timeout(mut self, t: Option<Duration>) -> Options {
        self.long_timeout = t;
        self
    }
    /// Sets [`Options::keep_versions`] (`--keep-versions N`, or `all` for
    /// [`KEEP_ALL_VERSIONS`]).
    pub fn keep_versions(mut self, n: u64) -> Options {
        self.keep_versions = Some(n);
        self
    }
    /// Adds one command-line argument (see [`Options::extra_args`]).
    pub fn arg(mut self, a: impl Into<OsString>) -> Options {
        self.extra_args.push(a.into());
        self
    }
    fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        if let Some(d) = &self.data_dir {
            a.push("--data-dir".into());
            a.push(d.clone().into());
        }
        if self.memory {
            a.push("--memory".into());
        }
        if let Some(n) = self.shards {
            a.push("--shards".into());
            a.push(n.to_string().into());
        }
        if let Some(l) = &self.log_level {
            a.push("--log-level".into());
            a.push(l.into());
        }
        if let Some(n) = self.keep_versions {
            a.push("--keep-versions".into());
            a.push(if n >= KEEP_ALL_VERSIONS {
                "all".into()
            } else {
                n.to_string().into()
            });
        }
        a.extend(self.extra_args.iter().cloned());
        a
    }
}

/// The protocol versions this host speaks ([`Client::start`] refuses any other).
pub const PROTOCOLS: [u64; 2] = [1, 2];

/// `keep_versions` meaning "keep every version" (contract v2 section 3).
pub const KEEP_ALL_VERSIONS: u64 = 0xffff_ffff;

/// The engine's answer to `hello`.
#[derive(Debug, Clone, Deserialize)]
pub struct Hello {
    /// 1 or 2 (see [`PROTOCOLS`]).
    pub protocol: u64,
    pub engine: String,
    pub version: String,
    pub shards: u64,
    pub hash: String,
    pub max_frame_bytes: u64,
    pub max_key_bytes: u64,
    pub max_value_bytes: u64,
    /// The data dir's history depth (protocol 2): 0 keeps no history, N the N most recent
    /// superseded versions, [`KEEP_ALL_VERSIONS`] all. A protocol-1 engine does not send it
    /// and keeps no history: 0.
    #[serde(default)]
    pub keep_versions: u64,
    /// The engine's capabilities, in no particular order (test with [`Hello::has_feature`]).
    pub features: Vec<String>,
}

impl Hello {
    /// Whether `features` lists `name` (`"streams"`, `"blocking_reads"`, `"ttl"`, ...).
    pub fn has_feature(&self, name: &str) -> bool {
        self.features.iter().any(|f| f == name)
    }
}

/// Per-shard numbers from `stats` (docs/protocol.md, "stats"). `batches`, `ops` and
/// `pages_written` are this engine process's own counters since it started; 0 from an engine
/// that does not report them.
#[derive(Debug, Clone, Deserialize)]
pub struct ShardStats {
    pub shard: u64,
    pub keys: u64,
    #[serde(default)]
    pub expiring: u64,
    /// Transactions run on the shard for requests.
    #[serde(default)]
    pub batches: u64,
    /// Request tasks run on the shard.
    #[serde(default)]
    pub ops: u64,
    /// Database pages the shard's commits wrote (WAL frames): over `ops`, what small commits
    /// cost.
    #[serde(default)]
    pub pages_written: u64,
}

/// The answer to `stats`: the typed per-shard list plus the whole response.
#[derive(Debug, Clone)]
pub struct Stats {
    pub shards: Vec<ShardStats>,
    pub all: Value,
}

/// A key's remaining time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The key does not exist (or has expired).
    Missing,
    /// The key never expires.
    Persistent,
    /// Milliseconds left.
    Expires(u64),
}

/// Options of one `scan` page.
#[derive(Debug, Clone, Default)]
pub struct Scan<'a> {
    pub prefix: Option<&'a str>,
    /// Exclusive start key.
    pub after: Option<&'a str>,
    /// Page size (engine default 1000, max 10000).
    pub limit: Option<u64>,
}

/// Options of one `set` ([`Client::set_with`], [`Client::set_raw_with`]). The default is a
/// plain `set`: no expiry, unconditional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// Time to live in milliseconds (≥ 1). `None`: the key never expires, and any earlier
    /// expiry of it is removed (as Redis `SET` does).
    pub ttl_ms: Option<u64>,
    /// Compare-and-set (contract v2 section 4): write only when the key's current version
    /// equals this; 0 means "only while the key is absent (or expired)". Otherwise nothing is
    /// written and the call fails with a `conflict` carrying the current version
    /// ([`Error::conflict`]). `None`: unconditional.
    pub if_version: Option<u64>,
}

/// How a request's `shard` field is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Computed from the `key` field when there is one (the normal case).
    Auto,
    /// No `shard` field.
    Omit,
    /// This exact value (tests of `wrong_shard`).
    Fixed(u64),
}

/// A request under construction: `op`, then fields in order. `id` (and `shard`) are added
/// when it is sent. Field values are MessagePack bytes.
#[derive(Debug, Clone)]
pub struct Req {
    op: String,
    /// The routing name: the `key` or `stream` field's bytes.
    key: Option<Vec<u8>>,
    route: Route,
    fields: Vec<(String, Vec<u8>)>,
}

impl Req {
    pub fn new(op: &str) -> Req {
        Req {
            op: op.to_owned(),
            key: None,
            route: Route::Auto,
            fields: Vec::new(),
        }
    }
    /// Adds the `key` field (and makes it the routing key).
    pub fn key(self, key: &str) -> Req {
        self.key_bytes(key.as_bytes())
    }
    /// Adds a `key` str made of arbitrary bytes (to send invalid UTF-8 on purpose).
    pub fn key_bytes(self, key: &[u8]) -> Req {
        self.routed("key", key)
    }
    /// Adds the `stream` field (and makes it the routing name: streams route like keys).
    pub fn stream(self, name: &str) -> Req {
        self.stream_bytes(name.as_bytes())
    }
    /// Adds a `stream` str made of arbitrary bytes (to send invalid UTF-8 on purpose).
    pub fn stream_bytes(self, name: &[u8]) -> Req {
        self.routed("stream", name)
    }
    /// Adds field `field` as a str of these bytes and routes the request by them.
    fn routed(mut self, field: &str, name: &[u8]) -> Req {
        let mut b = Vec::new();
        msgpack::write_str_bytes(&mut b, name);
        self.fields.push((field.into(), b));
        self.key = Some(name.to_vec());
        self
    }
    /// Adds a uint field.
    pub fn uint(self, name: &str, v: u64) -> Req {
        let mut b = Vec::new();
        msgpack::write_int(&mut b, v as i128);
        self.raw_field(name, b)
    }
    /// Adds a str field.
    pub fn str(self, name: &str, v: &str) -> Req {
        let mut b = Vec::new();
        msgpack::write_str(&mut b, v);
        self.raw_field(name, b)
    }
    /// Adds a uint field when `v` is `Some`.
    pub fn opt_uint(self, name: &str, v: Option<u64>) -> Req {
        match v {
            Some(v) => self.uint(name, v),
            None => self,
        }
    }
    /// Adds a str field when `v` is `Some`.
    pub fn opt_str(self, name: &str, v: Option<&str>) -> Req {
        match v {
            Some(v) => self.str(name, v),
            None => self,
        }
    }
    /// Adds a field holding `v`.
    pub fn field(self, name: &str, v: &Value) -> Req {
        self.raw_field(name, msgpack::encode(v))
    }
    /// Adds a field whose value is the given MessagePack bytes, as is.
    pub fn raw_field(mut self, name: &str, bytes: Vec<u8>) -> Req {
        self.fields.push((name.to_owned(), bytes));
        self
    }
    pub fn route(mut self, r: Route) -> Req {
        self.route = r;
        self
    }

    /// The op name.
    pub fn op(&self) -> &str {
        &self.op
    }

    fn encode(&self, id: u64, shards: u64) -> Vec<u8> {
        let shard = match self.route {
            Route::Omit => None,
            Route::Fixed(n) => Some(n),
            Route::Auto => self.key.as_ref().map(|k| shard_of(k, shards)),
        };
        let mut out = Vec::with_capacity(64 + self.fields.iter().map(|f| f.1.len()).sum::<usize>());
        msgpack::write_map_len(&mut out, 2 + self.fields.len() + shard.is_some() as usize);
        msgpack::write_str(&mut out, "id");
        msgpack::write_int(&mut out, id as i128);
        msgpack::write_str(&mut out, "op");
        msgpack::write_str(&mut out, &self.op);
        if let Some(s) = shard {
            msgpack::write_str(&mut out, "shard");
            msgpack::write_int(&mut out, s as i128);
        }
        for (name, bytes) in &self.fields {
            msgpack::write_str(&mut out, name);
            out.extend_from_slice(bytes);
        }
        out
    }
}

/// One decoded response: its body, and each field's byte range (values stay byte-exact).
#[derive(Debug, Clone)]
pub struct Response {
    body: Vec<u8>,
    fields: Vec<(String, Range<usize>)>,
    /// The echoed id (`None` when the engine answered with id nil).
    pub id: Option<u64>,
}

impl Response {
    fn parse(body: Vec<u8>) -> Result<Response> {
        let fields = msgpack::map_spans(&body).map_err(|e| {
            Error::Protocol(format!(
                "response is not a map: {e}: {}",
                msgpack::hex(&body)
            ))
        })?;
        let mut r = Response {
            body,
            fields,
            id: None,
        };
        r.id = match r.value("id")? {
            Value::Nil => None,
            v => Some(
                v.as_u64()
                    .ok_or_else(|| Error::Protocol(format!("bad response id {v:?}")))?,
            ),
        };
        Ok(r)
    }

    /// The whole response body as received.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
    /// The raw MessagePack bytes of field `name`, exactly as the engine sent them.
    pub fn raw(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, r)| &self.body[r.clone()])
    }
    pub fn has(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }
    /// Field names in wire order.
    pub fn names(&self) -> Vec<&str> {
        self.fields.iter().map(|(k, _)| k.as_str()).collect()
    }
    /// Field `name` decoded as a dynamic value.
    pub fn value(&self, name: &str) -> Result<Value> {
        let raw = self
            .raw(name)
            .ok_or_else(|| Error::Protocol(format!("response lacks `{name}`")))?;
        msgpack::decode(raw).map_err(|e| Error::Protocol(format!("field `{name}`: {e}")))
    }
    /// Field `name` decoded into `T` with rmp-serde.
    pub fn field<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        let raw = self
            .raw(name)
            .ok_or_else(|| Error::Protocol(format!("response lacks `{name}`")))?;
        rmp_serde::from_slice(raw).map_err(|e| Error::Protocol(format!("field `{name}`: {e}")))
    }
    /// `ok: true`?
    pub fn is_ok(&self) -> bool {
        self.raw("ok") == Some(&[0xc3][..])
    }
    /// Turns an `ok: false` answer into `Error::Engine`.
    pub fn into_result(self) -> Result<Response> {
        match self.raw("ok") {
            Some([0xc3]) => Ok(self),
            Some([0xc2]) => {
                let err = self.value("error")?;
                let code = err.get("code").and_then(Value::as_str);
                let message = err.get("message").and_then(Value::as_str);
                match (code, message) {
                    (Some(c), Some(m)) => {
                        let code = ErrorCode::from_wire(c);
                        let version = err.get("version").and_then(Value::as_u64);
                        if code == ErrorCode::Conflict && version.is_none() {
                            // A conflict's whole point is the current version (contract v2 4).
                            return Err(Error::Protocol(format!(
                                "conflict without a uint `version`: {err:?}"
                            )));
                        }
                        Err(Error::Engine {
                            code,
                            message: m.to_owned(),
                            version,
                            key: err.get("key").and_then(Value::as_str).map(str::to_owned),
                        })
                    }
                    _ => Err(Error::Protocol(format!("malformed error field {err:?}"))),
                }
            }
            other => Err(Error::Protocol(format!("bad `ok` field {other:?}"))),
        }
    }
}

/// A connection to one engine process it owns.
pub struct Client {
    child: Child,
    /// Frames (length prefix included) for the writer thread; `None` once stdin is closed.
    frames_out: Option<Sender<Vec<u8>>>,
    /// What the reader thread got from the engine's stdout.
    frames_in: Receiver<Incoming>,
    timeout: Option<Duration>,
    long_timeout: Option<Duration>,
    next_id: u64,
    hello: Hello,
    exited: Option<ExitStatus>,
}

/// One event from the reader thread.
enum Incoming {
    Frame(Vec<u8>),
    /// stdout closed: the engine is gone (or going).
    Eof,
    Failed(std::io::Error),
}

/// The writer thread: writes queued frames to the engine's stdin, flushing when the queue is
/// empty; ends (closing stdin, a clean shutdown request) when the client drops its sender, or
/// when a write fails (the engine is gone).
fn write_frames(stdin: ChildStdin, queue: Receiver<Vec<u8>>) {
    let mut w = BufWriter::with_capacity(64 << 10, stdin);
    while let Ok(frame) = queue.recv() {
        if w.write_all(&frame).is_err() {
            return;
        }
        while let Ok(more) = queue.try_recv() {
            if w.write_all(&more).is_err() {
                return;
            }
        }
        if w.flush().is_err() {
            return;
        }
    }
    let _ = w.flush();
}

/// The reader thread: reads answer frames from the engine's stdout until it closes.
fn read_frames(stdout: ChildStdout, sink: Sender<Incoming>) {
    let mut r = BufReader::with_capacity(64 << 10, stdout);
    loop {
        let mut len = [0u8; 4];
        let event = match r.read_exact(&mut len) {
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Incoming::Eof,
            Err(e) => Incoming::Failed(e),
            Ok(()) => {
                let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
                match r.read_exact(&mut body) {
                    Ok(()) => Incoming::Frame(body),
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Incoming::Eof,
                    Err(e) => Incoming::Failed(e),
                }
            }
        };
        let last = !matches!(event, Incoming::Frame(_));
        if sink.send(event).is_err() || last {
            return;
        }
    }
}

pub(crate) fn serialize<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>> {
    rmp_serde::to_vec_named(v).map_err(|e| Error::Encode(e.to_string()))
}

pub(crate) fn deserialize<T: DeserializeOwned>(raw: &[u8]) -> Result<T> {
    rmp_serde::from_slice(raw).map_err(|e| Error::Decode(e.to_string()))
}

pub(crate) fn check_one_object(bytes: &[u8]) -> Result<()> {
    match msgpack::skip(bytes) {
        Ok(n) if n == bytes.len() => Ok(()),
        Ok(n) => Err(Error::Encode(format!(
            "{} bytes after the one MessagePack object",
            bytes.len() - n
        ))),
        Err(e) => Err(Error::Encode(format!("not a MessagePack object: {e}"))),
    }
}

fn ttl_field(req: Req, ttl_ms: Option<u64>) -> Req {
    match ttl_ms {
        Some(t) => req.field("ttl_ms", &Value::Int(t as i128)),
        None => req,
    }
}

fn str_array(keys: &[&str]) -> Vec<u8> {
    let mut b = Vec::new();
    msgpack::write_array_len(&mut b, keys.len());
    for k in keys {
        msgpack::write_str(&mut b, k);
    }
    b
}

impl Client {
    /// Finds the engine ([`find_engine`]), spawns it and checks its `hello` (within
    /// [`Options::timeout`]).
    pub fn start(opts: &Options) -> Result<Client> {
        let engine = find_engine(opts.engine.as_deref())?;
        let stderr = match &opts.stderr_file {
            Some(p) => Stdio::from(File::create(p)?),
            None => Stdio::inherit(),
        };
        let mut child = Command::new(&engine)
            .args(opts.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| {
                Error::Io(std::io::Error::new(
                    e.kind(),
                    format!("{}: {e}", engine.display()),
                ))
            })?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (frames_out, queue) = mpsc::channel();
        let (sink, frames_in) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("litestash-writer".into())
            .spawn(move || write_frames(stdin, queue))
            .and_then(|_| {
                std::thread::Builder::new()
                    .name("litestash-reader".into())
                    .spawn(move || read_frames(stdout, sink))
            });
        if let Err(e) = spawned {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Io(e));
        }
        let placeholder = Hello {
            protocol: 0,
            engine: String::new(),
            version: String::new(),
            shards: 1,
            hash: String::new(),
            max_frame_bytes: 0,
            max_key_bytes: 0,
            max_value_bytes: 0,
            keep_versions: 0,
            features: vec![],
        };
        let mut c = Client {
            child,
            frames_out: Some(frames_out),
            frames_in,
            timeout: opts.timeout,
            long_timeout: opts.long_timeout,
            next_id: 1,
            hello: placeholder,
            exited: None,
        };
        let r = match c.send(&Req::new("hello")) {
            Ok(r) => r,
            Err(e) => {
                if let Error::Timeout(_) = e {
                    // A silent engine is not waited for a second time when `c` is dropped.
                    let _ = c.child.kill();
                }
                return Err(e);
            }
        };
        let hello: Hello =
            deserialize(r.body()).map_err(|e| Error::Protocol(format!("hello: {e}")))?;
        if !PROTOCOLS.contains(&hello.protocol) || hello.hash != "blake2b-512" || hello.shards == 0
        {
            return Err(Error::Protocol(format!("incompatible engine: {hello:?}")));
        }
        c.hello = hello;
        Ok(c)
    }

    pub fn hello(&self) -> &Hello {
        &self.hello
    }
    /// The engine's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    // -------------------------------------------------------------------- transport

    /// The answer timeout in force ([`Options::timeout`]).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
    /// Changes the answer timeout for the following calls.
    pub fn set_timeout(&mut self, t: Option<Duration>) {
        self.timeout = t;
    }
    /// The answer timeout of the long ops in force ([`Options::long_timeout`]).
    pub fn long_timeout(&self) -> Option<Duration> {
        self.long_timeout
    }
    /// Changes the answer timeout of the long ops (`compact`, `backup`) for the following
    /// calls; they wait for the longer of it and [`Client::timeout`] (`None`: no limit).
    pub fn set_long_timeout(&mut self, t: Option<Duration>) {
        self.long_timeout = t;
    }

    /// Waits for the engine to exit, at most `limit` (`None`: no limit); `Ok(None)` when it
    /// is still running then.
    fn wait_exit(&mut self, limit: Option<Duration>) -> std::io::Result<Option<ExitStatus>> {
        let limit = match limit {
            None => return self.child.wait().map(Some),
            Some(l) => l,
        };
        let deadline = Instant::now() + limit;
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(s) = self.child.try_wait()? {
                return Ok(Some(s));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// The engine is gone (stdout closed or stdin broken): reaps it (killing it if it lingers
    /// longer than the timeout) and returns `EngineExited`, now and for every later call.
    fn exited(&mut self) -> Error {
        if let Some(s) = self.exited {
            return Error::EngineExited(s);
        }
        self.frames_out = None;
        let status = match self.wait_exit(self.timeout) {
            Ok(Some(s)) => Ok(s),
            Ok(None) => {
                let _ = self.child.kill();
                self.child.wait()
            }
            Err(e) => Err(e),
        };
        match status {
            Ok(s) => {
                self.exited = Some(s);
                Error::EngineExited(s)
            }
            Err(e) => Error::Io(e),
        }
    }

    /// Queues one frame (4-byte big-endian length, then `body`, as is) for the engine's stdin.
    /// Frames are written in order by the writer thread; a write failure (engine gone) shows
    /// up as `EngineExited` on this or a later call.
    pub fn write_frame(&mut self, body: &[u8]) -> Result<()> {
        if self.exited.is_some() {
            return Err(self.exited());
        }
        let out = self
            .frames_out
            .as_ref()
            .ok_or_else(|| Error::Protocol("stdin already closed".into()))?;
        let mut frame = Vec::with_capacity(4 + body.len());
        frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
        frame.extend_from_slice(body);
        match out.send(frame) {
            Ok(()) => Ok(()),
            // The writer thread ended: a write failed, the engine is gone.
            Err(_) => Err(self.exited()),
        }
    }

    /// Reads one response frame, waiting at most [`Options::timeout`] for it
    /// ([`Error::Timeout`] then; the engine is left running).
    pub fn read_frame(&mut self) -> Result<Response> {
        if self.exited.is_some() {
            return Err(self.exited());
        }
        let event = match self.timeout {
            None => self.frames_in.recv().unwrap_or(Incoming::Eof),
            Some(t) => match self.frames_in.recv_timeout(t) {
                Ok(ev) => ev,
                Err(RecvTimeoutError::Timeout) => return Err(Error::Timeout(t)),
                Err(RecvTimeoutError::Disconnected) => Incoming::Eof,
            },
        };
        match event {
            Incoming::Frame(body) => Response::parse(body),
            Incoming::Eof => Err(self.exited()),
            Incoming::Failed(e) => Err(Error::Io(e)),
        }
    }

    /// Sends `body` as one frame and returns the next answer, whatever it is (protocol tests).
    pub fn send_frame(&mut self, body: &[u8]) -> Result<Response> {
        self.write_frame(body)?;
        self.read_frame()
    }

    /// Sends one request and returns its answer (`ok: false` becomes `Error::Engine`).
    pub fn send(&mut self, req: &Req) -> Result<Response> {
        self.pipeline(std::slice::from_ref(req))
            .pop()
            .expect("one result")
    }

    /// [`Client::send`] for a request the engine may hold back on purpose (a blocking `xread`):
    /// the wait for its answer is the timeout in force plus `extra` (`None` stays `None`), so
    /// the timeout remains the margin on top of the engine's own wait.
    pub fn send_waiting(&mut self, req: &Req, extra: Duration) -> Result<Response> {
        let t = self.timeout.map(|t| t.saturating_add(extra));
        self.send_with_timeout(req, t)
    }

    /// [`Client::send`] waiting for this one answer at most `timeout` (`None`: no limit)
    /// instead of the timeout in force, e.g. for a request known to take long.
    pub fn send_with_timeout(&mut self, req: &Req, timeout: Option<Duration>) -> Result<Response> {
        let saved = std::mem::replace(&mut self.timeout, timeout);
        let r = self.send(req);
        self.timeout = saved;
        r
    }

    /// [`Client::send`] for a long op: waits for the longer of [`Client::timeout`] and
    /// [`Client::long_timeout`] (`None` is the longest).
    pub(crate) fn send_long(&mut self, req: &Req) -> Result<Response> {
        let t = match (self.timeout, self.long_timeout) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        self.send_with_timeout(req, t)
    }

    /// Sends every request, then reads until each has its answer; results are in request order
    /// although the engine may answer in any order. An answer with id nil (a frame the engine
    /// could not read an id from) cannot be matched and fails the whole batch.
    pub fn pipeline(&mut self, reqs: &[Req]) -> Vec<Result<Response>> {
        let first = self.next_id;
        self.next_id += reqs.len() as u64;
        let mut results: Vec<Option<Result<Response>>> = (0..reqs.len()).map(|_| None).collect();
        for (i, r) in reqs.iter().enumerate() {
            let body = r.encode(first + i as u64, self.hello.shards);
            if let Err(e) = self.write_frame(&body) {
                return Self::fail_rest(results, e);
            }
        }
        let mut left = reqs.len();
        while left > 0 {
            let resp = match self.read_frame() {
                Ok(r) => r,
                Err(e) => return Self::fail_rest(results, e),
            };
            match resp.id {
                Some(id) if id >= first && id < first + reqs.len() as u64 => {
                    let slot = &mut results[(id - first) as usize];
                    if slot.is_none() {
                        *slot = Some(resp.into_result());
                        left -= 1;
                    }
                }
                // An answer to an earlier request abandoned after an error: skip it.
                Some(_) => {}
                None => {
                    let e = match resp.into_result() {
                        Err(e) => e,
                        Ok(_) => Error::Protocol("success answer with id nil".into()),
                    };
                    return Self::fail_rest(
                        results,
                        Error::Protocol(format!("answer with id nil: {e}")),
                    );
                }
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("all answered"))
            .collect()
    }

    /// Fills every unanswered slot: the first gets `e`, the others an equivalent error.
    fn fail_rest(results: Vec<Option<Result<Response>>>, e: Error) -> Vec<Result<Response>> {
        let again = match &e {
            Error::EngineExited(s) => Error::EngineExited(*s),
            Error::Timeout(d) => Error::Timeout(*d),
            other => Error::Protocol(format!("batch aborted: {other}")),
        };
        let mut first = Some(e);
        results
            .into_iter()
            .map(|r| match r {
                Some(r) => r,
                None => Err(first.take().unwrap_or_else(|| match &again {
                    Error::EngineExited(s) => Error::EngineExited(*s),
                    Error::Timeout(d) => Error::Timeout(*d),
                    other => Error::Protocol(other.to_string()),
                })),
            })
            .collect()
    }

    /// Low-level: sends `op` with dynamic `fields` (a `key` or `stream` str is routed) and
    /// returns the answer.
    pub fn request(&mut self, op: &str, fields: &[(&str, Value)]) -> Result<Response> {
        let mut req = Req::new(op);
        for (name, v) in fields {
            req = match (name, v) {
                (&"key", Value::Str(k)) => req.key(k),
                (&"stream", Value::Str(k)) => req.stream(k),
                _ => req.field(name, v),
            };
        }
        self.send(&req)
    }

    // -------------------------------------------------------------------- operations

    pub fn ping(&mut self) -> Result<()> {
        self.send(&Req::new("ping")).map(|_| ())
    }

    /// Stores `value` serialized with rmp-serde (structs as maps); returns the new version.
    pub fn set<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<u64> {
        let raw = serialize(value)?;
        self.set_raw(key, &raw, None)
    }

    /// `set` with a time to live in milliseconds.
    pub fn set_ex<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
        ttl_ms: u64,
    ) -> Result<u64> {
        let raw = serialize(value)?;
        self.set_raw(key, &raw, Some(ttl_ms))
    }

    /// Stores `bytes` (exactly one MessagePack object) unchanged; returns the new version.
    pub fn set_raw(&mut self, key: &str, bytes: &[u8], ttl_ms: Option<u64>) -> Result<u64> {
        self.set_raw_with(
            key,
            bytes,
            SetOptions {
                ttl_ms,
                if_version: None,
            },
        )
    }

    /// `set` with [`SetOptions`] (time to live, compare-and-set); returns the new version.
    pub fn set_with<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
        opts: SetOptions,
    ) -> Result<u64> {
        let raw = serialize(value)?;
        self.set_raw_with(key, &raw, opts)
    }

    /// [`Client::set_with`] of `bytes` (exactly one MessagePack object, else
    /// [`Error::Encode`] and nothing is sent), stored unchanged.
    pub fn set_raw_with(&mut self, key: &str, bytes: &[u8], opts: SetOptions) -> Result<u64> {
        check_one_object(bytes)?;
        let req = Req::new("set")
            .key(key)
            .raw_field("value", bytes.to_vec())
            .opt_uint("ttl_ms", opts.ttl_ms)
            .opt_uint("if_version", opts.if_version);
        self.send(&req)?.field("version")
    }

    /// Compare-and-set: stores `value` only when the key's current version is `if_version`
    /// (0: only while the key is absent or expired) and returns the new version. Otherwise
    /// nothing is written and the error is a `conflict` carrying the key's current version
    /// (0 when absent): `err.conflict()` / `err.into_conflict()` ([`Error::conflict`]). The
    /// comparison and the write are one transaction under the shard's write lock, so no write
    /// of any engine on the data dir comes between them. The key gets no expiry (use
    /// [`Client::set_with`] for both).
    pub fn set_if_version<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
        if_version: u64,
    ) -> Result<u64> {
        self.set_with(
            key,
            value,
            SetOptions {
                ttl_ms: None,
                if_version: Some(if_version),
            },
        )
    }

    /// Fetches and deserializes a value; `None` when the key is absent.
    pub fn get<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>> {
        match self.get_raw(key)? {
            Some(raw) => deserialize(&raw).map(Some),
            None => Ok(None),
        }
    }

    /// Fetches a value's bytes exactly as stored.
    pub fn get_raw(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get_versioned(key)?.map(|(v, _)| v))
    }

    /// Fetches a value's bytes and version.
    pub fn get_versioned(&mut self, key: &str) -> Result<Option<(Vec<u8>, u64)>> {
        self.get_req(&Req::new("get").key(key))
    }

    /// Fetches and deserializes a value together with its version (the version to pass to
    /// [`Client::set_if_version`] / [`Client::delete_if_version`]); `None` when the key is
    /// absent.
    pub fn get_with_version<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<(T, u64)>> {
        match self.get_versioned(key)? {
            Some((raw, v)) => Ok(Some((deserialize(&raw)?, v))),
            None => Ok(None),
        }
    }

    /// Sends a `get` and reads `found`, `value` (bytes as stored) and `version`.
    pub(crate) fn get_req(&mut self, req: &Req) -> Result<Option<(Vec<u8>, u64)>> {
        let r = self.send(req)?;
        if !r.field::<bool>("found")? {
            return Ok(None);
        }
        let raw = r
            .raw("value")
            .ok_or_else(|| Error::Protocol("found without value".into()))?;
        Ok(Some((raw.to_vec(), r.field("version")?)))
    }

    /// Removes the key (and its expiry); `true` when a live key was removed. With history kept
    /// (`keep_versions`) the delete of a live key records a tombstone version.
    pub fn delete(&mut self, key: &str) -> Result<bool> {
        self.send(&Req::new("delete").key(key))?.field("deleted")
    }

    /// Conditional delete: removes the key only when its current version is `if_version`,
    /// and returns whether a live key was removed. `if_version` 0 ("only while absent") holds
    /// for an absent key and deletes nothing (`false`). When the condition fails nothing is
    /// removed and the error is a `conflict` carrying the current version, as for
    /// [`Client::set_if_version`].
    pub fn delete_if_version(&mut self, key: &str, if_version: u64) -> Result<bool> {
        let req = Req::new("delete").key(key).uint("if_version", if_version);
        self.send(&req)?.field("deleted")
    }

    pub fn exists(&mut self, key: &str) -> Result<bool> {
        self.send(&Req::new("exists").key(key))?.field("exists")
    }

    /// Stores several serialized values (atomic per shard); returns the count.
    pub fn mset<T: Serialize>(
        &mut self,
        entries: &[(&str, T)],
        ttl_ms: Option<u64>,
    ) -> Result<u64> {
        let raws = entries
            .iter()
            .map(|(k, v)| Ok((*k, serialize(v)?)))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<(&str, &[u8])> = raws.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        self.mset_raw(&refs, ttl_ms)
    }

    pub fn mset_raw(&mut self, entries: &[(&str, &[u8])], ttl_ms: Option<u64>) -> Result<u64> {
        let mut b = Vec::new();
        msgpack::write_array_len(&mut b, entries.len());
        for (k, v) in entries {
            check_one_object(v)?;
            b.push(0x92);
            msgpack::write_str(&mut b, k);
            b.extend_from_slice(v);
        }
        let req = ttl_field(Req::new("mset").raw_field("entries", b), ttl_ms);
        self.send(&req)?.field("count")
    }

    /// Fetches several keys in order; `None` where absent.
    pub fn mget<T: DeserializeOwned>(&mut self, keys: &[&str]) -> Result<Vec<Option<T>>> {
        self.mget_raw(keys)?
            .into_iter()
            .map(|r| r.map(|raw| deserialize(&raw)).transpose())
            .collect()
    }

    pub fn mget_raw(&mut self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>> {
        let r = self.send(&Req::new("mget").raw_field("keys", str_array(keys)))?;
        let found: Vec<bool> = r.field("found")?;
        let values_raw = r
            .raw("values")
            .ok_or_else(|| Error::Protocol("mget without values".into()))?;
        let values = msgpack::split_array(values_raw)
            .map_err(|e| Error::Protocol(format!("values: {e}")))?;
        if found.len() != keys.len() || values.len() != keys.len() {
            return Err(Error::Protocol(
                "mget answer length differs from the request".into(),
            ));
        }
        Ok(found
            .iter()
            .zip(values)
            .map(|(f, v)| f.then(|| v.to_vec()))
            .collect())
    }

    pub fn mdelete(&mut self, keys: &[&str]) -> Result<u64> {
        self.send(&Req::new("mdelete").raw_field("keys", str_array(keys)))?
            .field("deleted")
    }

    /// One page of live keys in ascending byte order and whether more match.
    pub fn scan(&mut self, s: &Scan) -> Result<(Vec<String>, bool)> {
        let mut req = Req::new("scan");
        if let Some(p) = s.prefix {
            req = req.field("prefix", &Value::Str(p.into()));
        }
        if let Some(a) = s.after {
            req = req.field("after", &Value::Str(a.into()));
        }
        if let Some(l) = s.limit {
            req = req.field("limit", &Value::Int(l as i128));
        }
        let r = self.send(&req)?;
        Ok((r.field("keys")?, r.field("more")?))
    }

    /// Every live key with `prefix`, following pages.
    pub fn scan_all(&mut self, prefix: Option<&str>, page: Option<u64>) -> Result<Vec<String>> {
        let mut all: Vec<String> = Vec::new();
        loop {
            let after = all.last().cloned();
            let (keys, more) = self.scan(&Scan {
                prefix,
                after: after.as_deref(),
                limit: page,
            })?;
            let empty = keys.is_empty();
            all.extend(keys);
            if !more || empty {
                return Ok(all);
            }
        }
    }

    pub fn count(&mut self) -> Result<u64> {
        self.send(&Req::new("count"))?.field("count")
    }

    pub fn clear(&mut self) -> Result<()> {
        self.send(&Req::new("clear")).map(|_| ())
    }

    pub fn sync(&mut self) -> Result<()> {
        self.send(&Req::new("sync")).map(|_| ())
    }

    /// Sets a time to live; `false` when the key is absent.
    pub fn expire(&mut self, key: &str, ttl_ms: u64) -> Result<bool> {
        let req = Req::new("expire")
            .key(key)
            .field("ttl_ms", &Value::Int(ttl_ms as i128));
        self.send(&req)?.field("updated")
    }

    /// Removes an expiry; `true` only when the key had one.
    pub fn persist(&mut self, key: &str) -> Result<bool> {
        self.send(&Req::new("persist").key(key))?.field("updated")
    }

    pub fn ttl(&mut self, key: &str) -> Result<Ttl> {
        let r = self.send(&Req::new("ttl").key(key))?;
        let found: bool = r.field("found")?;
        let ms: Option<u64> = r.field("ttl_ms")?;
        Ok(match (found, ms) {
            (false, _) => Ttl::Missing,
            (true, None) => Ttl::Persistent,
            (true, Some(ms)) => Ttl::Expires(ms),
        })
    }

    pub fn stats(&mut self) -> Result<Stats> {
        let r = self.send(&Req::new("stats"))?;
        Ok(Stats {
            shards: r.field("shards")?,
            all: msgpack::decode(r.body()).map_err(|e| Error::Protocol(e.to_string()))?,
        })
    }

    /// Closes the engine's stdin (clean shutdown) and waits for it to exit, at most
    /// [`Options::timeout`]: an engine still running then is killed and the result is
    /// [`Error::Timeout`].
    pub fn close(mut self) -> Result<ExitStatus> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<ExitStatus> {
        if let Some(s) = self.exited {
            return Ok(s);
        }
        // Dropping the sender ends the writer thread once the queue is written: stdin closes.
        self.frames_out = None;
        match self.wait_exit(self.timeout)? {
            Some(s) => {
                self.exited = Some(s);
                Ok(s)
            }
            None => {
                let _ = self.child.kill();
                self.exited = Some(self.child.wait()?);
                Err(Error::Timeout(self.timeout.unwrap_or_default()))
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
