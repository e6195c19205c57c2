#!/usr/bin/python3
"""Backups taken while engines move amounts between accounts: each must be one consistent point.

Two engines (by default) run on one data dir and move amounts between 12 accounts with
`txn`s that check the versions they read (multi_process.drive_transfers; some transfers also
append to the `transfers` stream in the same txn). A third engine on the same data dir is idle
except for backups. During the load, `backups` `backup` requests are sent at evenly spaced
moments, each to a new directory, alternately by the third engine and by one of the transfer
engines (whose driver thread sends it between its own pipelined requests and keeps going while
the copy runs). Every transfer's answer is timed (monotonic clock, after its answer was read)
and each backup request's sending is timed (before it was written).

After the load every engine stops cleanly and the live data dir is checked as in
multi_process.run_transfers (each account's committed transfers form one chain, a fresh engine
serves each chain's end, the total is conserved, the stream agrees). Then each backup directory
is opened by a fresh engine of its own, which must serve one consistent point:
- every account holds a (balance, version) that some prefix of its chain gives (no value that
  no committed transfer left);
- that prefix, per account, decides which transfers the backup holds; a transfer held on one of
  its accounts must be held on the other (no part of a transaction that is not wholly in it);
- the total of the balances is exactly the opening total;
- every transfer acknowledged before the backup request was sent is held (and so is the
  opening txn), with the versions its answer gave;
- the stream holds exactly the held transfers that logged an entry, at the entry ids their
  answers gave, ids 1..n;
- `PRAGMA integrity_check` passes on the backup's shard files, and the backup answered
  `shards` = 16 and `bytes` > 0.
Printed per backup: transfers held, acknowledged before the request (all held), in flight at the
request (sent before it, answered after it) and how many of them it holds.

Run as a script:  /usr/bin/python3 tests/reliability/backup_under_load.py --seconds 8 --seed 7
The pytest wrapper is test_backup_under_load.py.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reliability_common import ReliabilityError, integrity_check  # noqa: E402

import multi_process as mp  # noqa: E402
from engine_proc import EngineProcess, frame, pack  # noqa: E402

SHARDS = mp.SHARDS


def check_backup(shared: mp.TransferShared, chains: dict, plan: dict,
                 engines: list[EngineProcess]) -> dict:
    """Open the backup of `plan` with a fresh engine and check it is one consistent point
    (see the module docstring). Returns its figures."""
    ans = plan.get("answer")
    if ans is None or ans.get("ok") is not True or ans.get("shards") != SHARDS \
            or not isinstance(ans.get("bytes"), int) or ans["bytes"] <= 0:
        raise ReliabilityError(f"backup to {plan['dir']}: answered {ans!r}")
    eng = EngineProcess(["--shards", str(SHARDS), "--log-level", "warn"], plan["dir"])
    engines.append(eng)
    hello = eng.call("hello", timeout=60)
    if hello.get("ok") is not True:
        raise ReliabilityError(f"an engine on backup {plan['dir']}: {hello!r}")
    ledger, entries = mp.read_ledger(eng, shared.accounts)
    code = eng.stop(timeout=60)
    if code != 0:
        raise ReliabilityError(f"the engine on backup {plan['dir']} exited {code}")
    integrity_check(plan["dir"], SHARDS)
    where = f"backup {plan['name']} (sent by {plan['who']})"
    if plan["sent"] < shared.setup_acked:
        raise ReliabilityError(f"{where} was sent before the accounts were opened")
    held: dict[str, set[str]] = {}
    for a, chain in chains.items():
        if ledger[a] is None:
            raise ReliabilityError(f"{where}: account {a!r} is missing (opened before the "
                                   f"backup was sent)")
        pos = next((i for i, (v, b, _) in enumerate(chain) if (b, v) == ledger[a]), None)
        if pos is None:
            raise ReliabilityError(f"{where}: account {a!r} holds {ledger[a]} (balance, "
                                   f"version), which no prefix of its committed transfers "
                                   f"gives")
        held[a] = {t.tid for _, _, t in chain[1:pos + 1]}
    transfers = {t.tid: t for chain in chains.values() for _, _, t in chain[1:]}
    held_all = set()
    for t in transfers.values():
        on_src, on_dst = t.tid in held[t.src], t.tid in held[t.dst]
        if on_src != on_dst:
            raise ReliabilityError(
                f"{where} holds transfer {t.tid} ({t.src} -> {t.dst}, {t.amount}) on "
                f"{t.src if on_src else t.dst} only: part of a transaction")
        if on_src:
            held_all.add(t.tid)
    total = sum(b for b, _ in ledger.values())
    if total != mp.INITIAL_BALANCE * len(shared.accounts):
        raise ReliabilityError(f"{where}: total {total}, not "
                               f"{mp.INITIAL_BALANCE * len(shared.accounts)}")
    acked_before = [t for t in transfers.values() if t.acked < plan["sent"]]
    lost = [t.tid for t in acked_before if t.tid not in held_all]
    if lost:
        raise ReliabilityError(f"{where} lacks {len(lost)} transfer(s) acknowledged before the "
                               f"backup request was sent, e.g. {lost[:5]}")
    want_log = sorted((t.entry_id, t.tid) for tid, t in transfers.items()
                      if tid in held_all and t.entry_id is not None)
    if entries != want_log:
        raise ReliabilityError(f"{where}: stream {mp.TRANSFER_LOG!r} holds {len(entries)} "
                               f"entries, the held transfers logged {len(want_log)}; first "
                               f"difference: "
                               f"{next(((x, y) for x, y in zip(entries, want_log) if x != y), None)}")
    in_flight = [t for t in transfers.values() if t.sent < plan["sent"] <= t.acked]
    return {"backup": plan["name"], "by": plan["who"], "held": len(held_all),
            "acked_before": len(acked_before),
            "in_flight": len(in_flight),
            "in_flight_held": sum(1 for t in in_flight if t.tid in held_all),
            "held_sent_after": sum(1 for tid in held_all if transfers[tid].sent > plan["sent"]),
            "logged_held": len(entries), "bytes": ans["bytes"],
            "answer_s": round(plan["answered"] - plan["sent"], 2)}


def run(seconds: float, seed: int, n_engines: int = 2, backups: int = 3,
        work_dir: Path | None = None, batch: int = 1, n_accounts: int = 12,
        verbose: bool = True, sabotage: str | None = None) -> dict:
    """`batch` transfers are pipelined per round and engine (1: the transfers of each engine
    one after another). `sabotage` proves the checks can fail: "early" pretends each backup
    was sent 0.5 s later than it was (so transfers acknowledged after it count as required),
    "split" forgets the earliest transfer on its destination account (so the backups hold it
    on one account only)."""
    tmp = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="litestash-backup-")
        work_dir = Path(tmp.name)
    data_dir = work_dir / "data"
    shared = mp.TransferShared([f"acct:{i}" for i in range(n_accounts)])
    engines: list[EngineProcess] = []
    t0 = time.monotonic()
    finished = False
    try:
        mp._start_engines(n_engines + 1, data_dir, engines)
        movers, spare = engines[:n_engines], engines[n_engines]
        mp.open_accounts(movers[0], shared)
        start = time.monotonic()
        deadline = start + seconds
        for k in range(backups):
            by_spare = k % 2 == 0
            shared.backup_plan.append({
                "name": k + 1, "at": start + seconds * (k + 1) / (backups + 1),
                "engine": -1 if by_spare else (k // 2) % n_engines,
                "who": "the idle engine" if by_spare else f"transfer engine {(k // 2) % n_engines}",
                "dir": work_dir / f"backup-{k + 1}"})

        def spare_backups() -> None:
            for plan in shared.backup_plan:
                if plan["engine"] != -1:
                    continue
                time.sleep(max(0.0, plan["at"] - time.monotonic()))
                if shared.problems:
                    return
                rid = spare.new_id()
                plan["sent"] = time.monotonic()
                spare.send_raw(frame(pack({"id": rid, "op": "backup", "dir": str(plan["dir"])})))
                plan["answer"] = spare.recv(rid, timeout=300)
                plan["answered"] = time.monotonic()

        mp._run_threads(mp.drive_transfers, movers,
                        (shared, deadline, seed, batch, 0.3), seconds, shared.problems,
                        during=spare_backups)
        mp._stop_all(engines)
        missing = [p["name"] for p in shared.backup_plan if "answered" not in p]
        if missing:
            raise ReliabilityError(f"backups {missing} were not sent or not answered")
        transfers = list(shared.transfers)
        chains, ledger, entries = mp.check_ledger(shared, transfers, data_dir, engines)
        mp._stop_all(engines)
        integrity_check(data_dir, SHARDS)
        if sabotage == "early":
            for plan in shared.backup_plan:
                plan["sent"] += 0.5
        if sabotage == "split":
            _split_one(chains)
        figures = [check_backup(shared, chains, plan, engines) for plan in shared.backup_plan]
        result = {"engines": n_engines, "commits": len(transfers),
                  "conflicts": shared.conflicts, "backups": figures,
                  "seconds": round(time.monotonic() - t0, 1)}
        if verbose:
            print(f"backup under load: {n_engines} engines, {len(transfers)} transfers "
                  f"committed, {shared.conflicts} conflicts; {result['seconds']} s, seed {seed}")
            for f in figures:
                print(f"  backup {f['backup']} by {f['by']}: answered in {f['answer_s']} s, "
                      f"{f['bytes']} bytes; one consistent point holding {f['held']} "
                      f"transfers (total conserved), all {f['acked_before']} acknowledged "
                      f"before the request among them; {f['in_flight_held']} of "
                      f"{f['in_flight']} in flight at the request, {f['held_sent_after']} sent "
                      f"after it; {f['logged_held']} stream entries", flush=True)
        finished = True
        return result
    finally:
        mp._finish(engines, tmp, finished)


def _split_one(chains: dict) -> None:
    """Sabotage: forget the earliest transfer on its destination's chain only, so that every
    backup holds it on its source account alone."""
    first = min((t for chain in chains.values() for _, _, t in chain[1:]),
                key=lambda t: t.acked)
    chains[first.dst] = [e for e in chains[first.dst] if e[2] is not first]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--engines", type=int, default=2)
    ap.add_argument("--backups", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1,
                    help="pipelined transfers per round and engine (default 1)")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    try:
        run(args.seconds, seed, args.engines, args.backups, batch=args.batch)
    except ReliabilityError as exc:
        print(f"FAILED (seed {seed}): {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
