"""Process-level tests of litestash-cli: one-shot commands and their exit codes, export ->
import -> export round trips in both formats, `check` against planted and corrupted shard
files, and the REPL driven through tmux (what a person sees on the screen).

LITESTASH_CLI names the cli binary (default build/litestash-cli), LITESTASH_ENGINE the engine
(default build/litestash-engine). Run with tests/cli/run_tests.sh.
"""
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = os.environ.get("LITESTASH_CLI", str(ROOT / "build" / "litestash-cli"))
ENGINE = os.environ.get("LITESTASH_ENGINE", str(ROOT / "build" / "litestash-engine"))
SHARDS = "4"


def run(data_dir, *args, stdin=None, engine=ENGINE, shards=SHARDS, extra=()):
    cmd = [CLI, "--engine", engine, "--data-dir", str(data_dir), "--shards", shards, *extra,
           *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=60)


def ok(data_dir, *args, **kw):
    r = run(data_dir, *args, **kw)
    assert r.returncode == 0, (args, r.returncode, r.stdout, r.stderr)
    return r.stdout.decode()


def js(data_dir, *args, **kw):
    return json.loads(ok(data_dir, *args, **kw))


@pytest.fixture
def data(tmp_path):
    return tmp_path / "data"


# --- one-shot commands -------------------------------------------------------------------

def test_set_get_round_trip_json(data):
    v = js(data, "set", "user:1", '{"name": "Ann", "tags": ["a", 1, 2.5, true, null]}')
    assert v["version"] > 0
    got = js(data, "get", "user:1")
    assert got == {"found": True, "value": {"name": "Ann", "tags": ["a", 1, 2.5, True, None]},
                   "version": v["version"]}
    assert js(data, "get", "nobody") == {"found": False}
    # A bare word is a string, a quoted number too; a number is a number.
    js(data, "set", "w", "hello")
    js(data, "set", "n", "42")
    js(data, "set", "s", '"42"')
    assert js(data, "mget", "w", "n", "s")["values"] == ["hello", 42, "42"]


def test_exact_types_are_kept_and_shown(data):
    js(data, "set", "b", "bin:0a0b")
    js(data, "set", "f", "f32:1.5")
    js(data, "set", "x", "ext:5:0102")
    assert js(data, "get", "b")["value"] == {"$bin": "0a0b"}
    assert js(data, "get", "x")["value"] == {"$ext": [5, "0102"]}
    assert ok(data, "--human", "get", "b").strip() == "(bin) 0a0b"
    assert ok(data, "--human", "get", "f").strip() == "(float32) 1.5"
    assert ok(data, "--human", "get", "x").strip() == "(ext 5) 0102"
    # The stored bytes are the typed ones: the engine's shard file holds ca 3fc00000.
    raw = export_bytes(data, "raw")
    assert b"\xa5value\xca\x3f\xc0\x00\x00" in raw


def test_multi_key_ttl_and_versions(data):
    assert js(data, "mset", "a", "1", "b", "2", "c", "3") == {"count": 3}
    assert js(data, "count") == {"count": 3}
    assert json.loads(ok(data, "scan")) == ["a", "b", "c"]
    assert json.loads(ok(data, "scan", "b")) == ["b"]
    assert js(data, "del", "a", "b", "zz") == {"deleted": 2}
    assert js(data, "exists", "c") == {"exists": True}
    js(data, "set", "t", "v", "--ttl-ms", "100000")
    ttl = js(data, "ttl", "t")
    assert ttl["found"] and 0 < ttl["ttl_ms"] <= 100000
    assert js(data, "persist", "t") == {"updated": True}
    assert js(data, "ttl", "t") == {"found": True, "ttl_ms": None}
    assert js(data, "expire", "t", "50") == {"updated": True}


def test_versions_history_and_get_at(tmp_path):
    data = tmp_path / "h"
    extra = ("--keep-versions", "3")
    v1 = js(data, "set", "k", "1", extra=extra)["version"]
    v2 = js(data, "set", "k", "2", extra=extra)["version"]
    vs = js(data, "versions", "k", extra=extra)
    assert vs["versions"] == [v2, v1] and vs["deleted"] == [False, False]
    assert js(data, "get", "k", "--version", str(v1), extra=extra)["value"] == 1
    # Compare-and-set: the wrong version is a conflict (exit 1, code on stderr).
    r = run(data, "set", "k", "3", "--if-version", str(v1), extra=extra)
    assert r.returncode == 1
    err = json.loads(r.stderr)
    assert err["error"]["code"] == "conflict" and err["error"]["version"] == v2
    js(data, "set", "k", "3", "--if-version", str(v2), extra=extra)


def test_streams_one_shot(data):
    assert js(data, "xadd", "s", '"first"')["entry_id"] == 1
    assert js(data, "xadd", "s", '{"n": 2}')["entry_id"] == 2
    js(data, "xadd", "s", "3")
    r = js(data, "xrange", "s", "--after", "1")
    assert [e[0] for e in r["entries"]] == [2, 3] and r["entries"][0][2] == {"n": 2}
    assert js(data, "xget", "s", "1", "9")["found"] == [True, False]
    assert js(data, "xinfo", "s")["length"] == 3
    assert json.loads(ok(data, "xstreams")) == ["s"]
    assert js(data, "xtrim", "s", "--maxlen", "1") == {"removed": 2}
    assert ok(data, "--human", "xrange", "s").strip() == "3: 3"


def test_stats_is_a_table(data):
    js(data, "mset", "a", "1", "b", "2")
    out = ok(data, "stats")
    lines = out.splitlines()
    assert lines[0].split() == ["shard", "keys", "expiring", "batches", "ops", "pages"]
    assert len([l for l in lines if l.split() and l.split()[0].isdigit()]) == int(SHARDS)
    total = next(l for l in lines if l.startswith(" total"))
    assert total.split()[1] == "2"
    assert total.split()[5].isdigit()
    assert "shards" in js(data, "--json", "stats")


def test_commands_from_stdin_lines(data):
    script = b"SET a 1\nTXN\nSET b 2\nDEL a\nADD x TO s\nEND\nMGET a b\nGET 1 FROM s\n"
    out = ok(data, stdin=script)
    assert "QUEUED (3)" in out
    assert "1) (nil)\n2) 2" in out
    assert '1: "x"' in out
    r = run(data, stdin=b"GET\nCOUNT\n")
    assert r.returncode == 1 and b"(error) usage: GET key" in r.stdout
    assert b"(integer) 1" in r.stdout  # the line after the mistake still ran


def test_exit_codes(data, tmp_path):
    # 2: usage, before any engine starts (so even a missing engine does not matter).
    for args in (["get"], ["frobnicate"], ["set", "k"], ["export", "--format", "xml"],
                 ["--no-such-flag", "count"], ["txn"]):
        r = run(data, *args, engine="/nonexistent/engine")
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr
    # 1: the engine answered an error.
    r = run(data, "get", "")
    assert r.returncode == 1 and json.loads(r.stderr)["error"]["code"] == "invalid_key"
    r = run(data, "xrange", "s", "--limit", "0")
    assert r.returncode == 1
    # 3: the engine could not start: missing binary, exits at once, refuses the data dir.
    assert run(data, "count", engine="/nonexistent/engine").returncode == 3
    assert run(data, "count", engine="/bin/false").returncode == 3
    js(data, "count")
    r = run(data, "count", shards="8")
    assert r.returncode == 3 and b"status 65" in r.stderr
    # 5: a file that cannot be read.
    assert run(data, "import", str(tmp_path / "missing.jsonl")).returncode == 5
    # --help and --version are not errors.
    assert run(data, "--help").returncode == 0
    assert run(data, "--version").stdout.startswith(b"litestash-cli")


def test_engine_located_through_environment(data):
    env = dict(os.environ, LITESTASH_ENGINE=ENGINE)
    r = subprocess.run([CLI, "--data-dir", str(data), "--shards", SHARDS, "ping"], env=env,
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    env["LITESTASH_ENGINE"] = "/nonexistent/engine"
    r = subprocess.run([CLI, "--data-dir", str(data), "ping"], env=env, capture_output=True,
                       timeout=30)
    assert r.returncode == 3


def test_backup_and_compact(data, tmp_path):
    js(data, "mset", "a", "1", "b", "f32:2.5")
    target = tmp_path / "copy"
    b = js(data, "backup", str(target))
    assert b["shards"] == int(SHARDS) and b["bytes"] > 0
    assert js(target, "get", "b")["value"] == 2.5
    c = js(data, "compact")
    assert {"expired_removed", "versions_removed", "bytes_reclaimed"} <= c.keys()
    r = run(data, "backup", str(target))  # not empty any more
    assert r.returncode == 1


# --- export / import ---------------------------------------------------------------------

def export_bytes(data, fmt, extra=()):
    r = run(data, "export", "--format", fmt, extra=extra)
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""  # no progress bar when stderr is not a terminal
    return r.stdout


def populate(data, extra):
    script = "\n".join([
        'SET plain "text"',
        'SET num 42',
        'SET neg -7',
        'SET flt 2.5',
        'SET whole f64:3',
        'SET f32 f32:1.5',
        'SET vec f32:[0.1, 0.2, 0.3]',
        'SET blob bin:00ff10',
        'SET ext ext:7:abcd',
        'SET str8 mp:d90161',
        'SET map16 mp:de0001a161c0',
        'SET nested {"a": {"b": [1, {"c": null}]}, "é": "ü"}',
        'SET nil null',
        'SET "key with spaces" true',
        'SET ttl "soon" EX 3600',
        'SET hist 1', 'SET hist 2', 'DEL hist', 'SET hist 3',
        # Streams: a trimmed head, exact types, retention and a committed offset; an empty one.
        'ADD "e1" TO events', 'ADD "e2" TO events', 'ADD f32:0.5 TO events',
        'ADD bin:beef TO events', 'ADD {"n": 5} TO events MAXLEN 100',
        'TRIM events MAXLEN 3',
        'XCOMMIT events readers 4',
        'ADD 1 TO gone', 'ADD 2 TO gone', 'TRIM gone MAXLEN 0',
    ]) + "\n"
    ok(data, stdin=script.encode(), extra=extra)
    ok(data, "mset", *sum(([f"bulk:{i:04d}", str(i)] for i in range(1500)), []), extra=extra)



def split_frames(blob):
    frames, off = [], 0
    while off < len(blob):
        (n,) = struct.unpack(">I", blob[off:off + 4])
        frames.append(blob[off + 4:off + 4 + n])
        off += 4 + n
    assert off == len(blob)
    return frames


def normalized(blob, fmt):
    """The export with expires_at_ms (which moves by the import's duration) checked to be
    within 60 s of the original's and then blanked."""
    expiries = []
    if fmt == "jsonl":
        lines = []
        for line in blob.decode().splitlines():
            obj = json.loads(line)
            if "expires_at_ms" in obj:
                expiries.append(obj.pop("expires_at_ms"))
                line = json.dumps(obj)
            lines.append(line)
        return lines, expiries
    frames = []
    marker = b"\xadexpires_at_ms\xcf"
    for f in split_frames(blob):
        i = f.find(marker)
        if i >= 0:
            j = i + len(marker)
            expiries.append(struct.unpack(">Q", f[j:j + 8])[0])
            f = f[:j] + b"\0" * 8 + f[j + 8:]
        frames.append(f)
    return frames, expiries


@pytest.mark.parametrize("fmt", ["jsonl", "raw"])
def test_export_import_export_is_identical(tmp_path, fmt):
    extra = ("--keep-versions", "4")
    src, dst = tmp_path / "src", tmp_path / "dst"
    populate(src, extra)
    first = export_bytes(src, fmt, extra)
    f = tmp_path / f"dump.{fmt}"
    f.write_bytes(first)
    r = run(dst, "import", str(f), extra=extra)
    assert r.returncode == 0, r.stderr
    second = export_bytes(dst, fmt, extra)
    a, exp_a = normalized(first, fmt)
    b, exp_b = normalized(second, fmt)
    assert a == b
    assert len(exp_a) == len(exp_b) == 1 and abs(exp_a[0] - exp_b[0]) < 60000
    assert js(dst, "count", extra=extra)["count"] == 1500 + 16
    # Exact bytes survive in both formats (jsonl carries them as "mp" where JSON is lossy).
    assert ok(dst, "--human", "get", "f32", extra=extra).strip() == "(float32) 1.5"
    assert ok(dst, "--human", "get", "blob", extra=extra).strip() == "(bin) 00ff10"
    raw = export_bytes(dst, "raw", extra)
    assert b"\xa4str8\xa5value\xd9\x01a" in raw
    assert b"\xa5map16\xa5value\xde\x00\x01" in raw
    # Streams come back with their ids, exact values, retention and offsets.
    info = js(dst, "xinfo", "events", extra=extra)
    assert (info["first_id"], info["last_id"], info["maxlen"]) == (3, 5, 100)
    assert info["groups"] == {"readers": 4}
    assert ok(dst, "--human", "xrange", "events", extra=extra).splitlines() == [
        "3: (float32) 0.5", "4: (bin) beef", '5: {"n": 5}']
    gone = js(dst, "xinfo", "gone", extra=extra)
    assert gone["exists"] and (gone["first_id"], gone["last_id"], gone["length"]) == (3, 2, 0)
    if fmt == "raw":
        # History travels in raw exports: two older values and a tombstone.
        vs = js(dst, "versions", "hist", extra=extra)
        assert vs["deleted"] == [False, True, False, False]


def test_jsonl_lines_are_json_objects(tmp_path):
    data = tmp_path / "d"
    populate(data, ())
    lines = export_bytes(data, "jsonl").decode().splitlines()
    objs = [json.loads(l) for l in lines]
    assert len(objs) == 1516 + 2
    streams = {o["stream"]: o for o in objs if "stream" in o}
    assert streams["events"]["entries"] == [0.5, {"$bin": "beef"}, {"n": 5}]
    assert streams["events"]["entries_mp"] == ["ca3f000000", "c402beef", None]
    assert streams["gone"] == {"stream": "gone", "first_id": 3, "entries": []}
    objs = [o for o in objs if "key" in o]
    by_key = {o["key"]: o for o in objs}
    assert by_key["plain"] == {"key": "plain", "value": "text"}
    assert by_key["blob"]["value"] == {"$bin": "00ff10"} and by_key["blob"]["mp"] == "c40300ff10"
    assert "mp" not in by_key["nested"]
    assert [o["key"] for o in objs] == sorted(by_key, key=lambda k: k.encode())


def test_import_refuses_garbage(tmp_path, data):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"key": "a", "value": 1}\n{"key": "b", "value": \n')
    r = run(data, "import", str(bad))
    assert r.returncode == 2 and b"line 2" in r.stderr


# --- check -------------------------------------------------------------------------------

def shard_file(data, i):
    return data / f"shard-{i:02d}.db"


def test_check_clean_data_dir(data):
    js(data, "mset", "a", "1", "b", "2", "c", "3")
    js(data, "xadd", "s", "1")
    r = run(data, "check")
    assert r.returncode == 0, r.stdout
    assert b"0 problems" in r.stdout and b"layout 3" in r.stdout
    assert sorted(p.name for p in data.iterdir() if p.name.startswith("shard")) == [
        f"shard-{i:02d}.db" for i in range(4)]  # no -wal/-shm left behind


def test_check_finds_key_in_wrong_shard(data):
    js(data, "mset", *sum(([f"k{i}", str(i)] for i in range(40)), []))
    # Copy one row, hash and all, into the next shard's file.
    for i in range(4):
        con = sqlite3.connect(shard_file(data, i))
        row = con.execute("SELECT key_hash, key, value, timestamp, microsecond FROM stash "
                          "LIMIT 1").fetchone()
        con.close()
        if row:
            break
    wrong = (i + 1) % 4
    con = sqlite3.connect(shard_file(data, wrong))
    con.execute("INSERT INTO stash VALUES (?, ?, ?, ?, ?)", row)
    con.commit()
    con.close()
    r = run(data, "check")
    assert r.returncode == 4
    assert f"PROBLEM shard-{wrong:02d}.db: key {row[1]} belongs in shard {i}".encode() in r.stdout
    assert b"1 problem" in r.stdout


def test_check_finds_bad_hash_and_meta(data):
    js(data, "set", "a", "1")
    con = sqlite3.connect(shard_file(data, 1))  # "a" routes to shard 1 of 4
    con.execute("UPDATE stash SET key_hash = zeroblob(64) WHERE key = 'a'")
    con.execute("UPDATE meta SET value = 99 WHERE name = 'layout_version'")
    con.execute("INSERT INTO expiry VALUES (randomblob(64), 1)")
    con.commit()
    con.close()
    r = run(data, "check")
    assert r.returncode == 4
    assert b"key_hash is not the BLAKE2b-512" in r.stdout
    assert b"unknown layout_version 99" in r.stdout
    assert b"1 expiry rows without a stash row" in r.stdout


def test_check_finds_corrupted_files(data):
    js(data, "mset", *sum(([f"k{i}", "x" * 500] for i in range(200)), []))
    with open(shard_file(data, 2), "r+b") as f:  # a b-tree page overwritten
        f.seek(4096 * 2 + 8)
        f.write(b"\xff" * 300)
    with open(shard_file(data, 3), "r+b") as f:  # the header overwritten
        f.write(b"not a database at all")
    r = run(data, "check")
    assert r.returncode == 4
    assert b"PROBLEM shard-02.db: integrity_check" in r.stdout
    assert b"PROBLEM shard-03.db" in r.stdout and b"not a database" in r.stdout


def test_check_missing_shard_and_missing_dir(data, tmp_path):
    js(data, "set", "a", "1")
    shard_file(data, 2).unlink()
    r = run(data, "check")
    assert r.returncode == 4 and b"shard-02.db: missing" in r.stdout
    assert run(tmp_path / "nowhere", "check").returncode == 4


# --- the REPL, through tmux ----------------------------------------------------------------

class Tmux:
    def __init__(self, cmd, env):
        self.name = "ls-" + uuid.uuid4().hex[:8]
        envs = " ".join(f"{k}={v}" for k, v in env.items())
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", "150", "-y", "50",
                        f"env {envs} {cmd}; echo REPL-EXIT=$?; sleep 60"], check=True)

    def type(self, line, enter=True):
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", line], check=True)
        if enter:
            subprocess.run(["tmux", "send-keys", "-t", self.name, "Enter"], check=True)

    def key(self, k):
        subprocess.run(["tmux", "send-keys", "-t", self.name, k], check=True)

    def screen(self):
        return subprocess.run(["tmux", "capture-pane", "-t", self.name, "-p", "-S", "-200"],
                              capture_output=True, check=True).stdout.decode()

    def wait_for(self, text, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not on screen:\n{self.screen()}")

    def close(self):
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def repl(data, tmp_path):
    if not shutil.which("tmux"):
        pytest.fail("tmux is not installed (packaging/debian-packages.txt, group build)")
    hist = tmp_path / "history"
    t = Tmux(f"{CLI} --engine {ENGINE} --data-dir {data} --shards {SHARDS}",
             {"LITESTASH_HISTORY": hist, "TERM": "xterm"})
    t.hist = hist
    try:
        t.wait_for("litestash>")
        yield t
    finally:
        t.close()  # also when the prompt never came: no session (and engine) left behind


def test_repl_klite_and_kv(repl, data):
    t = repl
    t.type('ADD "data" TO s')
    t.wait_for("(entry 1)")
    t.type("add {\"n\": 2} to s")
    t.wait_for("(entry 2)")
    t.type("GET 1, 2 FROM s")
    t.wait_for('2: {"n": 2}')
    t.type("GET 10 AFTER 1 FROM s")
    t.type("GET 10 BEFORE 2 FROM s")
    t.type("INFO s")
    t.wait_for("last_id: 2")
    t.type("SET vec f32:[0.5, 1.5]")
    t.type("get vec")
    t.wait_for("[(float32) 0.5, (float32) 1.5]")
    t.type("SET blob bin:cafe")
    t.type("GET blob")
    t.wait_for("(bin) cafe")
    t.type("SET k 1 IFVERSION 12345")
    t.wait_for("(error) conflict: ")
    t.type("NOSUCH thing")
    t.wait_for("(error) unknown command 'NOSUCH' (try HELP)")
    t.type("TXN")
    t.wait_for("txn>")
    t.type("SET a 1")
    t.type("set b 2")
    t.type("END")
    t.wait_for("results: [")
    t.type("MGET a b nope")
    s = t.wait_for("3) (nil)")
    assert "1) 1\n2) 2\n3) (nil)" in s
    assert "1: \"data\"\n2: {\"n\": 2}" in s
    assert "exists: true" in s
    t.type("COUNT")
    t.wait_for("(integer) 4")
    t.type("QUIT")
    t.wait_for("REPL-EXIT=0")
    history = Path(t.hist).read_text()
    assert "IFVERSION" in history and "COUNT" in history


def test_repl_tail_completion_and_ctrl_c(repl, data):
    t = repl
    t.type("ADD 1 TO live")
    t.wait_for("(entry 1)")
    t.type("TAIL live")
    t.wait_for("(following live")
    js(data, "xadd", "live", '"from another process"')
    t.wait_for('2: "from another process"')
    t.key("C-c")
    t.wait_for("(stopped)")
    # Tab completes command words, keeping the typed case.
    t.type("cou", enter=False)
    t.key("Tab")
    t.key("Enter")
    t.wait_for("(integer) 0")
    # Ctrl-C drops a half-typed line and the shell goes on; Ctrl-D leaves.
    t.type("half typed", enter=False)
    t.key("C-c")
    t.type("PING")
    t.wait_for("OK")
    t.key("C-d")
    s = t.wait_for("REPL-EXIT=0")
    assert "(error)" not in s


def test_progress_bar_only_on_a_terminal(tmp_path):
    if not shutil.which("tmux"):
        pytest.fail("tmux is not installed (packaging/debian-packages.txt, group build)")
    dump = tmp_path / "big.jsonl"
    with open(dump, "w") as f:
        for i in range(100000):
            f.write(json.dumps({"key": f"k{i:07d}", "value": {"n": i, "pad": "x" * 40}}) + "\n")
    data = tmp_path / "data"
    t = Tmux(f"{CLI} --engine {ENGINE} --data-dir {data} --shards {SHARDS} import {dump}", {})
    try:
        s = t.wait_for("ETA", timeout=30)
        line = next(l for l in s.splitlines() if "ETA" in l)
        assert "/100000 keys" in line and "/s" in line and line.startswith("[")
        s = t.wait_for("REPL-EXIT=0", timeout=60)
        assert "imported 100000 keys" in s and "ETA" not in s  # the bar erased itself
    finally:
        t.close()
    # Not a terminal: nothing on stderr.
    r = run(data, "export", "--format", "raw")
    assert r.returncode == 0 and r.stderr == b"" and len(r.stdout) > 100000


def test_one_shot_tail_prints_json_lines_and_stops_on_ctrl_c(data):
    js(data, "xadd", "t", '"old"')
    p = subprocess.Popen([CLI, "--engine", ENGINE, "--data-dir", str(data), "--shards", SHARDS,
                          "tail", "t"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = json.loads(p.stdout.readline())
    assert first["entry_id"] == 1 and first["value"] == "old"
    js(data, "xadd", "t", '{"new": true}')
    second = json.loads(p.stdout.readline())
    assert second["entry_id"] == 2 and second["value"] == {"new": True}
    p.send_signal(2)  # SIGINT
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0 and out == b"" and b"Broken pipe" not in err


def test_engine_found_beside_the_cli_then_on_path(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LITESTASH_ENGINE"}
    beside = tmp_path / "beside"
    beside.mkdir()
    shutil.copy(CLI, beside / "litestash-cli")
    os.symlink(ENGINE, beside / "litestash-engine")
    r = subprocess.run([str(beside / "litestash-cli"), "--data-dir", str(tmp_path / "d1"),
                        "ping"], env=env, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(CLI, alone / "litestash-cli")
    on_path = tmp_path / "bin"
    on_path.mkdir()
    os.symlink(ENGINE, on_path / "litestash-engine")
    env["PATH"] = f"{on_path}:/usr/bin:/bin"
    r = subprocess.run([str(alone / "litestash-cli"), "--data-dir", str(tmp_path / "d2"),
                        "ping"], env=env, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    env["PATH"] = "/usr/bin:/bin"
    r = subprocess.run([str(alone / "litestash-cli"), "--data-dir", str(tmp_path / "d3"),
                        "ping"], env=env, capture_output=True, timeout=30)
    assert r.returncode == 3 and b"litestash-engine" in r.stderr


def test_export_pages_through_long_histories(tmp_path):
    data = tmp_path / "long"
    extra = ("--keep-versions", "all")
    line = "MSET " + " ".join(f"h {i}" for i in range(10005)) + "\n"
    ok(data, stdin=line.encode(), extra=extra)
    frames = split_frames(export_bytes(data, "raw", extra))
    assert len(frames) == 2
    body = frames[1]
    # history: an array 16 (dc) of 10004 [false, value] pairs, oldest (0) first.
    i = body.index(b"\xa7history\xdc")
    assert struct.unpack(">H", body[i + 9:i + 11])[0] == 10004
    assert body[i + 11:i + 14] == b"\x92\xc2\x00"


def test_stdin_lines_are_pipelined_but_answered_in_order(data):
    lines = [f"SET k{i} {i}" for i in range(3000)]
    lines += ["GET k2999", "DEL k0", "GET k0", "BOGUS", "COUNT", "SCAN k299", "EXISTS k1"]
    t0 = time.time()
    r = run(data, stdin=("\n".join(lines) + "\n").encode())
    assert time.time() - t0 < 20
    out = r.stdout.decode().splitlines()
    assert r.returncode == 1  # BOGUS
    assert all(l.startswith("OK (version ") for l in out[:3000])
    assert out[3000:] == ["2999", "(integer) 1", "(nil)", "(error) unknown command 'BOGUS' (try HELP)",
                          "(integer) 2999", '1) "k299"', '2) "k2990"', '3) "k2991"', '4) "k2992"',
                          '5) "k2993"', '6) "k2994"', '7) "k2995"', '8) "k2996"', '9) "k2997"',
                          '10) "k2998"', '11) "k2999"', "(integer) 1"]
