"""The engine as a child process, spoken to with blocking frame I/O.

`EngineProcess` spawns the binary, sends/receives raw frames, keeps the tail of its stderr (a
daemon thread drains it so the engine never blocks on logging), and turns a vanished engine into
`EngineExited` instead of a hang. The sync client and the scenario runner are built on it.
"""
import collections
import signal
import struct
import subprocess
import threading
from typing import List, Optional

from .errors import EngineExited, Timeout

STDERR_TAIL_LINES = 40


class StderrTail:
    """Drains a binary stream on a daemon thread, keeping the last lines."""

    def __init__(self, stream, lines=STDERR_TAIL_LINES):
        self._lines = collections.deque(maxlen=lines)
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream):
        try:
            for line in iter(stream.readline, b""):
                self._lines.append(line.decode("utf-8", "replace").rstrip("\n"))
        except (OSError, ValueError):
            pass

    def text(self, wait=0.0):
        if wait:
            self._thread.join(wait)
        return "\n".join(self._lines)


class EngineProcess:
    """One running engine: `send(body)`, `recv() -> body`, `close() -> exit status`."""

    def __init__(self, argv: List[str], env: Optional[dict] = None):
        self.argv = list(argv)
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self._stdout = self.proc.stdout
        self._stderr = StderrTail(self.proc.stderr)
        self.exit_status: Optional[int] = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr_tail(self, wait=0.0) -> str:
        return self._stderr.text(wait)

    def _exited(self, what: str) -> EngineExited:
        try:
            status = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            status = None
        self.exit_status = status
        return EngineExited("engine %s (exit status %s)" % (what, status), exit_status=status,
                            stderr_tail=self.stderr_tail(wait=1.0))

    def send(self, body: bytes) -> None:
        self.send_bytes(struct.pack(">I", len(body)) + body)

    def send_bytes(self, data: bytes) -> None:
        """Write bytes to the engine's stdin as they are (may be a partial frame)."""
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ConnectionResetError, ValueError):
            raise self._exited("went away while a request was being written") from None

    def _read_exact(self, n: int) -> Optional[bytes]:
        chunks = []
        got = 0
        while got < n:
            chunk = self._stdout.read(n - got)
            if not chunk:
                return None
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def recv(self, timeout: Optional[float] = None) -> bytes:
        """Read one response frame body. EOF -> EngineExited; timeout -> Timeout."""
        timer = None
        if timeout is not None:
            # A stuck engine is killed so the blocked read returns; reported as Timeout.
            fired = []
            timer = threading.Timer(timeout, lambda: (fired.append(1), self.kill()))
            timer.daemon = True
            timer.start()
        try:
            header = self._read_exact(4)
            body = None
            if header is not None:
                body = self._read_exact(struct.unpack(">I", header)[0])
        finally:
            if timer is not None:
                timer.cancel()
        if body is None:
            if timer is not None and fired:
                raise Timeout("no answer from the engine within %ss (engine killed)" % timeout)
            raise self._exited("exited before answering" if header is None else "exited mid-frame")
        return body

    def close_stdin(self) -> None:
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def wait(self, timeout: Optional[float] = 30.0) -> int:
        """Wait for exit; on timeout the engine is killed and Timeout raised."""
        try:
            self.exit_status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Timeout("engine did not exit within %ss after stdin closed (killed)" % timeout)
        return self.exit_status

    def close(self, timeout: Optional[float] = 30.0) -> int:
        """Close stdin (clean shutdown request), wait, drain stdout; return the exit status."""
        self.close_stdin()
        status = self.wait(timeout)
        try:
            self._stdout.close()
        except OSError:
            pass
        self._stderr.text(wait=1.0)
        return status

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass

    def alive(self) -> bool:
        return self.proc.poll() is None

    def __del__(self):  # never leave an engine behind
        try:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=5)
        except Exception:
            pass
