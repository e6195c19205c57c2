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
"""

from __future__ import annotations

import hashlib
import os
import queue
import signal
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterable

import msgpack

DEFAULT_TIMEOUT = 10.0


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
    assert isinstance(err, dict) and set(err) == {"code", "message"}, resp
    assert isinstance(err["message"], str), resp
    assert err["code"] == code, f"expected {code}, got {resp!r}"
    if req_id is not ...:
        assert resp["id"] == req_id, f"expected id {req_id!r}, got {resp!r}"


# --------------------------------------------------------------------------- process

class EngineExited(Exception):
    """stdout reached end of file while the test was waiting for a frame."""


class EngineProcess:
    """One running engine. Frames read from stdout arrive on a queue filled by a thread.

    `keep_raw=True` also records every stdout byte, for tests that check stdout carries
    nothing but frames.
    """

    def __init__(self, args: Iterable[str], data_dir: Path | str | None, *,
                 binary: str | None = None, keep_raw: bool = False,
                 env: dict[str, str] | None = None):
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
        self._stash: dict[Any, list[tuple[dict, bytes]]] = {}
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
        self.trailing_stdout = bytes(buf)
        self._frames.put(None)

    def read_frame(self, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """Next raw response body; raises TimeoutError or EngineExited."""
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

    def recv_raw(self, req_id: Any, timeout: float = DEFAULT_TIMEOUT) -> tuple[dict, bytes]:
        """Wait for the response carrying `req_id` (None for id-nil answers); frames for other
        ids are kept for later calls. Returns (decoded map, raw body)."""
        deadline = time.monotonic() + timeout
        while True:
            waiting = self._stash.get(req_id)
            if waiting:
                return waiting.pop(0)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no response with id {req_id!r} within {timeout}s")
            body = self.read_frame(left)
            msg = unpack(body)
            rid = msg.get("id") if isinstance(msg, dict) else object()
            self._stash.setdefault(rid, []).append((msg, body))

    def recv(self, req_id: Any, timeout: float = DEFAULT_TIMEOUT) -> dict:
        return self.recv_raw(req_id, timeout)[0]

    def pending(self) -> dict[Any, list[tuple[dict, bytes]]]:
        """Responses received but not yet claimed by id."""
        return {k: v for k, v in self._stash.items() if v}

    def drain(self, timeout: float = DEFAULT_TIMEOUT) -> list[bytes]:
        """Read raw frames until stdout closes (the engine exited)."""
        out = []
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                out.append(self.read_frame(max(0.0, deadline - time.monotonic())))
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
        self.proc.send_signal(sig)

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

    def cleanup(self) -> None:
        """Kill the process if it still runs and release its pipes (fixture teardown)."""
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.close_stdin()
        self._reader.join(timeout=5)
        try:
            self.proc.stdout.close()
        except OSError:
            pass
        self._stderr.close()
