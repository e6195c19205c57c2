"""A throwaway Redis 7 server for anchor (b), and the redis-benchmark cross-check.

Contract:
- `available()` is the path of redis-server, or None (the caller then skips the anchor with a note).
- `RedisServer(tmp_root)` as a context manager starts `redis-server` on 127.0.0.1 and a free
  port with `--appendonly yes --appendfsync everysec --save ""` in a fresh temp dir, waits until
  it answers PING (10 s), and on exit sends SHUTDOWN NOSAVE, waits, kills if needed and removes
  the dir. `peak_rss_kb()` is VmHWM of the server process.
- `redis_benchmark(port, ...)` runs `redis-benchmark -c 1 -P depth --csv` for SET and GET with
  -r keys and -d value_size and returns {"set": {"rps", "p50_ms", "p99_ms"}, "get": {...}}, or
  None when redis-benchmark is not installed.
"""
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def available():
    return shutil.which("redis-server")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command(port, *args, timeout=5.0):
    """One RESP command; returns the first reply line (enough for PING / SHUTDOWN)."""
    payload = "*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a), a) for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload.encode())
        try:
            return s.recv(65536).decode(errors="replace")
        except OSError:
            return ""


def _vm_hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class RedisServer:
    def __init__(self, tmp_root=None):
        self.binary = available()
        if not self.binary:
            raise RuntimeError("redis-server is not installed")
        self.dir = tempfile.mkdtemp(prefix="litestash-bench-redis-", dir=tmp_root)
        self.port = free_port()
        self.proc = None
        self.version = subprocess.run([self.binary, "--version"], capture_output=True,
                                      text=True).stdout.strip()

    def __enter__(self):
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                "--daemonize", "no", "--logfile", os.path.join(self.dir, "redis.log")]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited with %s at start" % self.proc.returncode)
            try:
                if "PONG" in _command(self.port, "PING", timeout=1):
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self._stop()
                raise RuntimeError("redis-server did not answer PING within 10 s")
            time.sleep(0.05)

    def peak_rss_kb(self):
        return _vm_hwm_kb(self.proc.pid) if self.proc else None

    def _stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                _command(self.port, "SHUTDOWN", "NOSAVE", timeout=5)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __exit__(self, *exc):
        self._stop()


def redis_benchmark(port, requests, keys, depth, value_size):
    exe = shutil.which("redis-benchmark")
    if not exe:
        return None
    argv = [exe, "-h", "127.0.0.1", "-p", str(port), "-c", "1", "-P", str(depth),
            "-n", str(requests), "-r", str(keys), "-d", str(value_size), "-t", "set,get", "--csv"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    result = {"argv": " ".join(argv[1:])}
    for row in csv.reader(io.StringIO(out.stdout)):
        if not row or row[0] == "test":
            continue
        name = row[0].strip().lower()
        try:
            result[name] = {"rps": float(row[1]), "p50_ms": float(row[4]), "p99_ms": float(row[6])}
        except (IndexError, ValueError):
            continue
    return result
