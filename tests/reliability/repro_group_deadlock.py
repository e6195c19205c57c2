#!/usr/bin/python3
"""Reproduction: two engines on one data dir deadlock on pipelined cross-shard `txn`s with checks.

Each engine gets, in a loop, one chunk of BATCH pipelined `txn`s (each sets 2 of 12 keys, on 2
different shards, and checks 2 absent keys, `[key, 0]`, which always hold) and waits for their
answers. Within a second or so both engines stop answering; nothing moves until SQLite's 60 s
busy timeout ends a wait, and then one txn fails with storage_error "shard-NN.db: BEGIN
IMMEDIATE: database is locked" (the other engine's stalled txn then commits).

Seen with /tmp/v10/litestash-engine on 2026-11-30 (2 shared cores):
  batch 3 ctxn: stall after ~100 txns; batch 2 ctxn: stall after ~20..200 txns;
  batch 1 ctxn, and batch 3 txn (no checks) or mset: no stall in 20..30 s.
What gdb showed at a stall (`GDB=/tmp/bt`; shard worker thread N serves shard N-2): in engine A
a group Y holds the SQLite write locks of shards 5 and 9 (its parts wait in
WriteGroup::WaitDecision) while its remaining part is queued behind an earlier group X's parts
on shards 10/11/12, which wait in WriteGroup::WaitLocked for X's first part, itself in BEGIN
IMMEDIATE on shard 0 (busy); in engine B a group holds shard 0 (WaitDecision) while its part on
shard 5 is in BEGIN IMMEDIATE on shard 5 (busy, held by A's Y). Each group takes its own locks
in ascending order, but a part of a later group can hold a higher shard's lock while it waits,
through a shard queue, for an earlier group that still needs a lower shard: a lock-order cycle
across two engines. A txn with checks closes its write group (Dispatcher::RouteGroup), so a
chunk of them makes several groups at once, which is why `ctxn` shows it so readily.

usage: LITESTASH_ENGINE=/path/to/litestash-engine \
       /usr/bin/python3 tests/reliability/repro_group_deadlock.py \
           [batch=3] [op=ctxn|txn|txn4|mset] [seconds=30] [wait=0|1]
  op: ctxn = txn of two sets with two checks (the default); txn = the same without checks;
  txn4 = four sets (as many shards as ctxn) without checks; mset = mset of the two entries.
  wait=1: after the stall, keep waiting (up to 90 s) to show the storage_error answer.
  GDB=/tmp/bt: write `thread apply all bt` of both engines to /tmp/bt.<pid>.txt at the stall.
Exit status 1 when a write went unanswered for 5 s (the stall), 0 when none did.
"""
import os, random, shutil, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "conformance", "blackbox"))
from engine_proc import EngineProcess, frame, pack, shard_of

batch = int(sys.argv[1]) if len(sys.argv) > 1 else 3
op = sys.argv[2] if len(sys.argv) > 2 else "ctxn"
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 30
wait = len(sys.argv) > 4 and sys.argv[4] == "1"
work = tempfile.mkdtemp(prefix="litestash-deadlock-")
data = work + "/data"
keys = [f"acct:{i}" for i in range(12)]
engines = [EngineProcess(["--shards", "16", "--log-level", "warn"], data) for _ in range(2)]
for e in engines:
    assert e.call("hello", timeout=30)["ok"]
assert engines[0].call("mset", entries=[[k, 100] for k in keys], timeout=30)["ok"]
stalled = threading.Event()
stop = threading.Event()
done = [0, 0]
info = []

def drive(i, eng):
    try:
        loop(i, eng)
    except (ValueError, OSError, TimeoutError):
        if not (stalled.is_set() or stop.is_set()):
            raise


def loop(i, eng):
    rng = random.Random(i)
    while not stalled.is_set() and not stop.is_set():
        chunk, ids = b"", []
        for _ in range(batch):
            a, b = rng.sample(keys, 2)
            while shard_of(a) == shard_of(b):
                a, b = rng.sample(keys, 2)
            rid = eng.new_id()
            if op == "txn4":     # four sets, no checks: as many shards as ctxn touches
                req = {"id": rid, "op": "txn", "ops": [
                    {"op": "set", "key": k, "value": 1}
                    for k in (a, b, "absent:" + a, "absent:" + b)]}
            elif op in ("txn", "ctxn"):
                req = {"id": rid, "op": "txn", "ops": [{"op": "set", "key": a, "value": 1},
                                                        {"op": "set", "key": b, "value": 2}]}
                if op == "ctxn":
                    req["checks"] = [["absent:" + a, 0], ["absent:" + b, 0]]
            else:
                req = {"id": rid, "op": "mset", "entries": [[a, 1], [b, 2]]}
            chunk += frame(pack(req))
            ids.append((rid, a, b))
        eng.send_raw(chunk)
        for rid, a, b in ids:
            t0 = time.monotonic()
            try:
                ans = eng.recv(rid, timeout=5)
            except TimeoutError:
                info.append(f"engine {i}: {op} id {rid} on shards {shard_of(a)} and {shard_of(b)} "
                            f"unanswered for 5 s after {done} writes were answered")
                stalled.set()
                if wait:
                    ans = eng.recv(rid, timeout=90)
                    info.append(f"engine {i}: id {rid} answered after "
                                f"{time.monotonic() - t0:.1f} s: {ans}")
                return
            if ans.get("ok") is not True:
                info.append(f"engine {i}: {op} id {rid}: {ans}")
                stalled.set()
                return
            done[i] += 1

threads = [threading.Thread(target=drive, args=(i, e), daemon=True) for i, e in enumerate(engines)]
for t in threads:
    t.start()
stalled.wait(seconds)
stop.set()
if stalled.is_set() and os.environ.get("GDB"):
    for e in engines:
        out = subprocess.run(["gdb", "-p", str(e.proc.pid), "-batch", "-ex", "thread apply all bt"],
                             capture_output=True, text=True).stdout
        with open(f"{os.environ['GDB']}.{e.proc.pid}.txt", "w") as fh:
            fh.write(out)
for t in threads:
    t.join(100 if wait else 6)
print("\n".join(info) if info else f"no stall in {seconds:g} s ({done} writes answered)",
      flush=True)
for e in engines:
    if stalled.is_set():
        e.kill()
    e.cleanup(check=False)
shutil.rmtree(work, ignore_errors=True)
sys.exit(1 if stalled.is_set() else 0)
