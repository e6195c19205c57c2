"""Engine process and framing helpers for the litestash-engine black-box conformance suite.

The suite treats the engine as a black box: it spawns the real binary, writes raw
`{:packet, 4}` frames (4-byte big-endian length + one MessagePack object) to its stdin and
reads frames back from its stdout. Nothing here knows how the engine is implemented.

Contents:
- `engine_path()` / `repo_root()`: where the binary lives (env LITESTASH_ENGINE overrides).
- `frame()`, `pack()`: build frames and request bodies.
- `raw_map()`, `raw_array_items()`, `obj_end()`: a small MessagePack *skipper* used to slice
  the exact bytes of a response field (e.g. `value`) out of a raw response body, independent
  of how the msgpack library would re-encode it.
- `digest()`, `shard_of()`: the contract's routing (BLAKE2b-512, first 8 bytes BE mod shards).
- `check_error()`: assert an answer is a well-formed failure with a given code and id.
- `EngineProcess`: spawn with args, send raw bytes / frames / request dicts, read frames with
  a timeout on a background reader thread (so stdout never fills up while the test is busy
  writing), match answers by id, signal, close stdin, wait for the exit code.
- `EngineProcess.cleanup()` / `cleanup_all()`: teardown. An engine still running gets its stdin
  closed and is waited for (`CLEANUP_TIMEOUT`, 10 s); it is killed only if it does not exit in
  time. The exit status is then checked: anything but the expected status (0 unless the test
  said otherwise with `expect_exit`), or having to be killed, is reported with the tail of the
  engine's stderr, unless the test ended the engine itself (`signal()` / `kill()`). A
  sanitizer build reports leaks (LSan) only at a normal exit, on stderr and with a non-zero
  status, so this is what makes leaks fail the suites.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import queue
import signal
import struct
import subprocess
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any, Iterable

import msgpack

DEFAULT_TIMEOUT = 10.0
# How long teardown waits for an engine to exit after closing its stdin before killing it.
CLEANUP_TIMEOUT = float(os.environ.get("LITESTASH_CLEANUP_TIMEOUT") or 10.0)
STDERR_TAIL = 4000          # characters of stderr quoted in a teardown failure


# --------------------------------------------------------------------------- locations

def repo_root() -> Path:
    """The repository root, computed from this file's location (conformance/blackbox/..)."""
    return Path(__file__).resolve().parents[2]


def engine_path() -> str:
    """The engine binary: env LITESTASH_ENGINE, else <repo>/build/litestash-engine."""
    return os.environ.get("LITESTASH_ENGINE") or str(repo_root() / "build" / "litestash-engine")


# --------------------------------------------------------------------------- framing

def frame(body: bytes) -> bytes:
    """One frame: 4-byte big-endian length, then the body."""
    return struct.pack(">I", len(body)) + body


def pack(obj: Any) -> bytes:
    """MessagePack-encode a request the way a host would (str as str, bytes as bin)."""
    return msgpack.packb(obj, use_bin_type=True)


class Ext(tuple):
    """A decoded ext value (code, data); msgpack's ExtType rejects negative codes != -1."""


def _ext_hook(code: int, data: bytes) -> Ext:
    return Ext((code, data))


def unpack(body: bytes) -> Any:
    """Decode one response body (must hold exactly one object)."""
    return msgpack.unpackb(body, raw=False, strict_map_key=False, ext_hook=_ext_hook)


def raw_request(*pairs: tuple[str, bytes | Any]) -> bytes:
    """Build a request map by hand. Each pair is (field name, value); a value of type
    `Raw` is inserted byte for byte, anything else is packed normally. Lets tests send
    values encoded in unusual ways, duplicate fields, invalid UTF-8 keys, and so on."""
    out = bytearray(_map_header(len(pairs)))
    for name, value in pairs:
        out += pack(name)
        out += value.data if isinstance(value, Raw) else pack(value)
    return bytes(out)


class Raw:
    """Marker for bytes that `raw_request` must insert verbatim (already MessagePack)."""

    def __init__(self, data: bytes):
        self.data = bytes(data)


def _map_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x80 | n])
    if n < 0x10000:
        return b"\xde" + struct.pack(">H", n)
    return b"\xdf" + struct.pack(">I", n)


def array_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x90 | n])
    if n < 0x10000:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


# --------------------------------------------------------------------------- raw slicing

def _header(buf: bytes, pos: int) -> tuple[int, int, int]:
    """Return (header_end, payload_bytes, child_objects) of the object at `pos`."""
    b = buf[pos]
    if b <= 0x7F or b >= 0xE0 or b in (0xC0, 0xC2, 0xC3):
        return pos + 1, 0, 0
    if 0x80 <= b <= 0x8F:
        return pos + 1, 0, 2 * (b & 0x0F)
    if 0x90 <= b <= 0x9F:
        return pos + 1, 0, b & 0x0F
    if 0xA0 <= b <= 0xBF:
        return pos + 1, b & 0x1F, 0
    fixed = {0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,
             0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8,
             0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17}
    if b in fixed:
        return pos + 1, fixed[b], 0
    sized = {0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0),   # bin: length, no ext type byte
             0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0),   # str
             0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1)}   # ext: length, + 1 type byte
    if b in sized:
        width, extra = sized[b]
        n = int.from_bytes(buf[pos + 1:pos + 1 + width], "big")
        return pos + 1 + width, n + extra, 0
    containers = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}
    if b in containers:
        width, mult = containers[b]
        n = int.from_bytes(buf[pos + 1:pos + 1 + width], "big")
        return pos + 1 + width, 0, mult * n
    raise ValueError(f"invalid MessagePack byte 0x{b:02x} at offset {pos}")


def obj_end(buf: bytes, pos: int = 0) -> int:
    """Offset just past the MessagePack object starting at `pos` (iterative, no recursion)."""
    pending = 1
    while pending:
        hdr_end, payload, children = _header(buf, pos)
        pos = hdr_end + payload
        if pos > len(buf):
            raise ValueError("MessagePack object runs past the end of the buffer")
        pending += children - 1
    return pos


def _container(buf: bytes, pos: int, kind: str) -> tuple[int, int]:
    b = buf[pos]
    if kind == "map":
        if 0x80 <= b <= 0x8F:
            return pos + 1, b & 0x0F
        if b == 0xDE:
            return pos + 3, int.from_bytes(buf[pos + 1:pos + 3], "big")
        if b == 0xDF:
            return pos + 5, int.from_bytes(buf[pos + 1:pos + 5], "big")
    else:
        if 0x90 <= b <= 0x9F:
            return pos + 1, b & 0x0F
        if b == 0xDC:
            return pos + 3, int.from_bytes(buf[pos + 1:pos + 3], "big")
        if b == 0xDD:
            return pos + 5, int.from_bytes(buf[pos + 1:pos + 5], "big")
    raise ValueError(f"not a {kind} at offset {pos}: 0x{b:02x}")


def raw_map(body: bytes) -> dict[Any, bytes]:
    """Decode the keys of a top-level map but keep every value as its raw bytes."""
    pos, n = _container(body, 0, "map")
    out: dict[Any, bytes] = {}
    for _ in range(n):
        kend = obj_end(body, pos)
        key = unpack(body[pos:kend])
        vend = obj_end(body, kend)
        out[key] = body[kend:vend]
        pos = vend
    if pos != len(body):
        raise ValueError("trailing bytes after the response map")
    return out


def raw_array_items(raw: bytes) -> list[bytes]:
    """Split a raw MessagePack array into the raw bytes of its items."""
    pos, n = _container(raw, 0, "array")
    items = []
    for _ in range(n):
        end = obj_end(raw, pos)
        items.append(raw[pos:end])
        pos = end
    if pos != len(raw):
        raise ValueError("trailing bytes after the array")
    return items


# --------------------------------------------------------------------------- routing

def digest(key: str | bytes) -> bytes:
    """BLAKE2b-512 (unkeyed, 64 bytes) of the key's UTF-8 bytes."""
    data = key.encode("utf-8") if isinstance(key, str) else key
    return hashlib.blake2b(data, digest_size=64).digest()


def shard_of(key: str | bytes, shards: int = 16) -> int:
    """The contract's routing: first 8 digest bytes as big-endian uint64, mod shards."""
    return int.from_bytes(digest(key)[:8], "big") % shards


def keys_for_shard(shard: int, n: int, prefix: str = "k", shards: int = 16) -> list[str]:
    """The first `n` keys `<prefix><i>` that route to `shard`."""
    out, i = [], 0
    while len(out) < n:
        k = f"{prefix}{i}"
        if shard_of(k, shards) == shard:
            out.append(k)
        i += 1
    return out


# --------------------------------------------------------------------------- assertions

def check_error(resp: dict, code: str, req_id=...) -> None:
    """Assert `resp` is a well-formed failure with `code` (and `id`, when given)."""
    assert resp.get("ok") is False, f"expected error {code}, got {resp!r}"
    assert set(resp) == {"id", "ok", "error"}, resp
    err = resp["error"]
    # `conflict` also carries the key's current `version` and the `key` (contract v2 section 4).
    extra = {"version", "key"} if code == "conflict" else set()
    assert isinstance(err, dict) and set(err) == {"code", "message"} | extra, resp
    assert isinstance(err["message"], str), resp
    assert err["code"] == code, f"expected {code}, got {resp!r}"
    if req_id is not ...:
        assert resp["id"] == req_id, f"expected id {req_id!r}, got {resp!r}"


# --------------------------------------------------------------------------- process

class EngineExited(Exception):
    """stdout reached end of file while the test was waiting for a frame."""


class EngineExitError(AssertionError):
    """An engine ended badly at teardown: wrong exit status, or it had to be killed."""


def _codes(codes: int | Iterable[int]) -> frozenset[int]:
    return frozenset([codes] if isinstance(codes, int) else codes)


def _signame(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


class EngineProcess:
    """One running engine. Frames read from stdout arrive on a queue filled by a thread.

    `keep_raw=True` also records every stdout byte, for tests that check stdout carries
    nothing but frames. `expect_exit` is the exit status (or statuses) `cleanup()` accepts;
    0 unless given (see also `expect_exit()`).
    """

    def __init__(self, args: Iterable[str], data_dir: Path | str | None, *,
                 binary: str | None = None, keep_raw: bool = False,
                 env: dict[str, str] | None = None,
                 expect_exit: int | Iterable[int] = 0):
        self.binary = binary or engine_path()
        if not os.path.exists(self.binary):
            raise FileNotFoundError(
                f"engine binary not found at {self.binary} (build it or set LITESTASH_ENGINE)")
        self.cmd = [self.binary]
        if data_dir is not None:
            self.cmd += ["--data-dir", str(data_dir)]
        self.cmd += list(args)
        self._stderr = tempfile.TemporaryFile()
        full_env = dict(os.environ)
        # Flags given here must not be overridden by LITESTASH_* from the caller's environment.
        for name in list(full_env):
            if name.startswith("LITESTASH_") and name != "LITESTASH_ENGINE":
                del full_env[name]
        full_env.update(env or {})
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, env=full_env)
        self._frames: queue.Queue = queue.Queue()
        # answers read from the queue but not claimed yet: id -> [(arrival no, msg, body)]
        self._stash: dict[Any, list[tuple[int, dict, bytes]]] = {}
        self._arrived = 0
        self.expected_exit = _codes(expect_exit)
        self.ended_by_test: str | None = None    # "signal SIGTERM", ... once the test did so
        self.paused = False
        self.stdout_bytes = 0        # stdout bytes the reader thread has read and queued
        self.cleanup_problem: str | None = None
        self._cleaned = False
        self.keep_raw = keep_raw
        self.raw_stdout = bytearray()
        self.trailing_stdout = b""   # bytes left over at EOF that did not form a whole frame
        self.eof = False
        self._next_id = 1
        self._id_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # ---- reading

    def _read_loop(self) -> None:
        fd = self.proc.stdout.fileno()
        buf = bytearray()
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            if self.keep_raw:
                self.raw_stdout += chunk
            buf += chunk
            while len(buf) >= 4:
                n = struct.unpack(">I", buf[:4])[0]
                if len(buf) < 4 + n:
                    break
                self._frames.put(bytes(buf[4:4 + n]))
                del buf[:4 + n]
            self.stdout_bytes += len(chunk)
        self.trailing_stdout = bytes(buf)
        self._frames.put(None)

    def _pull(self, timeout: float) -> bytes:
        """Next body from the reader thread's queue; raises TimeoutError or EngineExited."""
        if self.eof:
            raise EngineExited("engine stdout is closed")
        try:
            body = self._frames.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no frame from the engine within {timeout}s") from None
        if body is None:
            self.eof = True
            raise EngineExited(f"engine stdout closed (exit code {self.proc.poll()}); "
                               f"stderr: {self.stderr_text()[-2000:]}")
        return body

    def _set_aside(self, body: bytes) -> None:
        msg = unpack(body)
        rid = msg.get("id") if isinstance(msg, dict) else object()
        self._stash.setdefault(rid, []).append((self._arrived, msg, body))
        self._arrived += 1

    def _take_queued(self) -> None:
        """Move every frame the reader thread has already queued into the stash, without
        blocking (so "is anything unclaimed?" also sees answers not looked at yet)."""
        while not self.eof:
            try:
                body = self._frames.get_nowait()
            except queue.Empty:
                return
            if body is None:
                self.eof = True
                return
            self._set_aside(body)

    def _claim(self, rid: Any) -> tuple[int, dict, bytes]:
        items = self._stash[rid]
        first = items.pop(0)
        if not items:
            del self._stash[rid]
        return first

    def read_frame(self, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """Next raw response body not handed out yet: first the answers set aside unclaimed by
        `recv`/`pending` (oldest first), then new ones. Raises TimeoutError or EngineExited."""
        if self._stash:
            rid = min(self._stash, key=lambda k: self._stash[k][0][0])
            return self._claim(rid)[2]
        return self._pull(timeout)

    def recv_raw(self, req_id: Any, timeout: float = DEFAULT_TIMEOUT) -> tuple[dict, bytes]:
        """Wait for the response carrying `req_id` (None for id-nil answers); frames for other
        ids are kept for later calls. Returns (decoded map, raw body)."""
        deadline = time.monotonic() + timeout
        while True:
            if req_id in self._stash:
                _, msg, body = self._claim(req_id)
                return msg, body
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no response with id {req_id!r} within {timeout}s")
            self._set_aside(self._pull(left))

    def recv(self, req_id: Any, timeout: float = DEFAULT_TIMEOUT) -> dict:
        return self.recv_raw(req_id, timeout)[0]

    def pending(self) -> dict[Any, list[tuple[dict, bytes]]]:
        """Responses received but not yet claimed by id: the ones `recv` set aside and every
        frame already queued by the reader thread (taken without waiting)."""
        self._take_queued()
        return {k: [(msg, body) for _, msg, body in v] for k, v in self._stash.items()}

    def queued_frames(self) -> int:
        """Frames the reader thread has queued that nobody has taken yet."""
        return self._frames.qsize()

    def unread_stdout_bytes(self) -> int:
        """Bytes the engine has written to stdout that the reader thread has not read yet."""
        buf = fcntl.ioctl(self.proc.stdout.fileno(), termios.FIONREAD, b"\0\0\0\0")
        return struct.unpack("i", buf)[0]

    def drain(self, timeout: float = DEFAULT_TIMEOUT) -> list[bytes]:
        """Every raw frame not claimed yet (set aside earlier, oldest first) and then every
        new one until stdout closes (the engine exited)."""
        self._take_queued()
        stashed = sorted((n, body) for v in self._stash.values() for n, _, body in v)
        self._stash.clear()
        out = [body for _, body in stashed]
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                out.append(self._pull(max(0.0, deadline - time.monotonic())))
            except EngineExited:
                break
        return out

    # ---- writing

    def new_id(self) -> int:
        with self._id_lock:
            rid = self._next_id
            self._next_id += 1
            return rid

    def send_raw(self, data: bytes) -> None:
        """Write bytes to stdin as they are (may be several frames, or half of one)."""
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send_frame(self, body: bytes) -> None:
        self.send_raw(frame(body))

    def send(self, req: dict) -> Any:
        """Send one request map (an `id` is added when missing); return its id."""
        if "id" not in req:
            req = {"id": self.new_id(), **req}
        self.send_frame(pack(req))
        return req["id"]

    def call(self, op: str, timeout: float = DEFAULT_TIMEOUT, **fields: Any) -> dict:
        """Send `{id, op, **fields}` and wait for its answer."""
        rid = self.send({"id": self.new_id(), "op": op, **fields})
        return self.recv(rid, timeout)

    def call_frame(self, body: bytes, req_id: Any, timeout: float = DEFAULT_TIMEOUT) -> dict:
        """Send a hand-built body and wait for the answer with `req_id`."""
        self.send_frame(body)
        return self.recv(req_id, timeout)

    def ok(self, op: str, **fields: Any) -> dict:
        """`call` that asserts success."""
        resp = self.call(op, **fields)
        assert resp.get("ok") is True, f"{op} {fields!r} failed: {resp!r}"
        return resp

    # ---- lifecycle

    def close_stdin(self) -> None:
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def signal(self, sig: int = signal.SIGTERM) -> None:
        """Send `sig`. From then on the test owns the engine's end: `cleanup` no longer checks
        its exit status (the test checks it, as it knows what the signal should do)."""
        self.ended_by_test = f"signal {_signame(sig)}"
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL (see `signal`)."""
        self.signal(signal.SIGKILL)

    def pause(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Freeze the engine (SIGSTOP) and wait until every thread of it is stopped, so the
        test can look at what was in flight at that instant. A signal sent while it is paused
        takes effect at that instant (SIGKILL at once, others on `resume`)."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True
        deadline = time.monotonic() + timeout
        task_dir = f"/proc/{self.proc.pid}/task"
        while True:
            states = []
            for tid in os.listdir(task_dir):
                try:
                    with open(f"{task_dir}/{tid}/stat") as fh:
                        states.append(fh.read().rsplit(")", 1)[1].split()[0])
                except FileNotFoundError:
                    pass
            if all(st in ("T", "t", "Z", "X") for st in states):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"engine threads not stopped after SIGSTOP: {states}")
            time.sleep(0.001)

    def resume(self) -> None:
        """Undo `pause` (SIGCONT)."""
        self.paused = False
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def expect_exit(self, *codes: int) -> None:
        """Declare the exit status(es) this engine is expected to end with (default 0), e.g.
        2 after a truncated frame or 64/65/73 for a refused start. `cleanup` fails otherwise."""
        self.expected_exit = _codes(codes)

    def wait(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Wait for exit and return the code (negative = killed by that signal)."""
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=timeout)
        return code

    def stop(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Clean shutdown: close stdin, wait, return the exit code."""
        self.close_stdin()
        return self.wait(timeout)

    def stderr_text(self) -> str:
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def cleanup(self, check: bool = True, timeout: float | None = None) -> str | None:
        """Teardown: if the engine still runs, close its stdin and wait up to `timeout`
        (CLEANUP_TIMEOUT) for it to exit, and kill it only if it does not; then release its
        pipes. Returns what went wrong, or None:
        - it had to be killed, or
        - its exit status is not one of `expected_exit` (0 unless the test said otherwise;
          a sanitizer build's leak report makes it non-zero),
        unless the test ended the engine itself with `signal()`/`kill()`. With `check` (the
        default) a problem raises EngineExitError instead. The message quotes the command and
        the tail of the engine's stderr. Safe to call more than once."""
        if not self._cleaned:
            self._cleaned = True
            self.cleanup_problem = self._finish(CLEANUP_TIMEOUT if timeout is None else timeout)
        if check and self.cleanup_problem:
            raise EngineExitError(self.cleanup_problem)
        return self.cleanup_problem

    def _finish(self, timeout: float) -> str | None:
        killed = False
        if self.paused:
            self.resume()
        if self.proc.poll() is None:
            deadline = time.monotonic() + timeout
            # close() could block behind a writer thread stuck in a full pipe; do not wait on
            # it longer than the timeout (killing the engine releases such a writer).
            closer = threading.Thread(target=self.close_stdin, daemon=True)
            closer.start()
            closer.join(timeout)
            try:
                self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                killed = True
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            closer.join(5)
        self.close_stdin()
        self._reader.join(timeout=5)
        try:
            self.proc.stdout.close()
        except OSError:
            pass
        problem = None
        if self.ended_by_test is None:
            code = self.proc.returncode
            if killed:
                problem = (f"did not exit within {timeout:g} s after its stdin was closed at "
                           f"teardown, so it was killed")
            elif code not in self.expected_exit:
                how = (f"was killed by {_signame(-code)}" if code < 0
                       else f"exited with status {code}")
                want = " or ".join(str(c) for c in sorted(self.expected_exit))
                problem = f"{how} (expected exit status {want})"
            if problem:
                problem = (f"engine pid {self.proc.pid} ({' '.join(self.cmd)}) {problem}; "
                           f"stderr tail:\n{self.stderr_text()[-STDERR_TAIL:]}")
        self._stderr.close()
        return problem


def cleanup_all(engines: Iterable[EngineProcess]) -> list[str]:
    """Clean up every engine (none is skipped when one fails) and return their problems."""
    problems = []
    for eng in engines:
        problem = eng.cleanup(check=False)
        if problem:
            problems.append(problem)
    return problems
