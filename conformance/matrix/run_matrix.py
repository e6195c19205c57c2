#!/usr/bin/python3
"""Cross-language matrix: every host writes the data set, every host reads it back.

For each ordered pair (writer, reader) of available hosts, on a fresh temp data dir:
    <writer> write DIR      then      <reader> verify DIR
A pair passes when both exit 0 and the reader prints the three lines
    verify OK N keys                  N = number of entries in conformance/vectors/dataset.json
    verify OK S streams M entries     S = streams in conformance/vectors/streams.json, M = the sum
                                      of their `length` (live entries)
    verify OK H histories T txns      H = `keys` in conformance/vectors/history.json, T = its
                                      steps with op "txn"
Hosts (commands run from the repo root; each is a small program in conformance/matrix/<language>/
built on the host library in hosts/<language>/):
    python  /usr/bin/python3 conformance/matrix/python/litestash_matrix.py
    elixir  conformance/matrix/elixir/matrix.sh
    rust    conformance/matrix/rust/matrix.sh
Prints a table (rows: writer, columns: reader) and `N passed, N failed`. Exit status 1 when a
pair fails or a host is missing (missing hosts are skipped with --allow-missing).

    /usr/bin/python3 conformance/matrix/run_matrix.py [--allow-missing] [--hosts python,rust]
                                                      [--host NAME=CMD ...]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DATASET = os.path.join(ROOT, "conformance", "vectors", "dataset.json")
STREAMS = os.path.join(ROOT, "conformance", "vectors", "streams.json")
HISTORY = os.path.join(ROOT, "conformance", "vectors", "history.json")
HOSTS = {
    "python": ["/usr/bin/python3", "conformance/matrix/python/litestash_matrix.py"],
    "elixir": ["conformance/matrix/elixir/matrix.sh"],
    "rust": ["conformance/matrix/rust/matrix.sh"],
}


def available(cmd):
    exe = cmd[0] if os.path.isabs(cmd[0]) else os.path.join(ROOT, cmd[0])
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        return False
    return all(os.path.isfile(os.path.join(ROOT, a)) for a in cmd[1:] if a.endswith(".py"))


def run(cmd, mode, data_dir, timeout):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd + [mode, data_dir], cwd=ROOT, capture_output=True, text=True,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr, time.monotonic() - t0
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        return None, out, err + "\n(timed out after %ss)" % timeout, time.monotonic() - t0


def tail(text, n=12):
    lines = text.strip().splitlines()
    return "\n".join("      " + l for l in lines[-n:])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--allow-missing", action="store_true", help="skip hosts whose command is absent")
    ap.add_argument("--hosts", default=",".join(HOSTS), help="comma-separated subset (default: all)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per write/verify command")
    ap.add_argument("--host", action="append", default=[], metavar="NAME=CMD",
                    help="add or override a host command (CMD split on spaces, relative to the repo root)")
    args = ap.parse_args(argv)
    for spec in args.host:
        name, _, cmd = spec.partition("=")
        if not name or not cmd.strip():
            ap.error("--host wants NAME=CMD, got %r" % spec)
        HOSTS[name] = cmd.split()
        if name not in args.hosts.split(","):
            args.hosts += "," + name

    with open(DATASET, encoding="utf-8") as f:
        n_entries = len(json.load(f)["entries"])
    with open(STREAMS, encoding="utf-8") as f:
        streams = json.load(f)["streams"]
    n_streams, n_stream_entries = len(streams), sum(s["length"] for s in streams)
    with open(HISTORY, encoding="utf-8") as f:
        history = json.load(f)
    n_histories = len(history["keys"])
    n_txns = sum(1 for st in history["steps"] if st["op"] == "txn")
    keys_line = "verify OK %d keys" % n_entries
    streams_line = "verify OK %d streams %d entries" % (n_streams, n_stream_entries)
    history_line = "verify OK %d histories %d txns" % (n_histories, n_txns)
    wanted = [h.strip() for h in args.hosts.split(",") if h.strip()]
    unknown = [h for h in wanted if h not in HOSTS]
    if unknown:
        ap.error("unknown host(s): %s" % ", ".join(unknown))
    hosts = [h for h in wanted if available(HOSTS[h])]
    missing = [h for h in wanted if h not in hosts]
    for h in missing:
        print("host %s: command %s not found%s" % (h, " ".join(HOSTS[h]),
                                                   " (skipped)" if args.allow_missing else ""))

    results = {}
    failures = []
    for w in hosts:
        for r in hosts:
            with tempfile.TemporaryDirectory(prefix="litestash-matrix-%s-%s-" % (w, r)) as tmp:
                data_dir = os.path.join(tmp, "data")
                rc, out, err, dt = run(HOSTS[w], "write", data_dir, args.timeout)
                if rc != 0:
                    results[(w, r)] = "FAIL(write)"
                    failures.append((w, r, "write by %s exited %s" % (w, rc), out + err))
                    continue
                rc, out2, err2, dt2 = run(HOSTS[r], "verify", data_dir, args.timeout)
                lines = out2.splitlines()
                missing_lines = [l for l in (keys_line, streams_line, history_line)
                                 if l not in lines]
                if rc == 0 and not missing_lines:
                    results[(w, r)] = "ok"
                    print("%-6s -> %-6s ok   (write %.1fs, verify %.1fs)" % (w, r, dt, dt2))
                else:
                    results[(w, r)] = "FAIL"
                    why = ("verify by %s exited %s" % (r, rc) if rc != 0 else
                           "verify by %s did not print %s"
                           % (r, " and ".join("'%s'" % l for l in missing_lines)))
                    failures.append((w, r, why, out2 + err2))
                    print("%-6s -> %-6s FAIL (%s)" % (w, r, why))

    for w, r, why, text in failures:
        print("\n--- %s writes, %s reads: %s\n%s" % (w, r, why, tail(text)))

    if hosts:
        width = max(12, max(len(h) for h in hosts) + 2)
        print("\nwriter \\ reader " + "".join(h.ljust(width) for h in hosts))
        for w in hosts:
            print(w.ljust(16) + "".join(results[(w, r)].ljust(width) for r in hosts))
    passed = sum(1 for v in results.values() if v == "ok")
    failed = len(results) - passed
    print("%d passed, %d failed" % (passed, failed))
    if failed or (missing and not args.allow_missing) or not hosts:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
