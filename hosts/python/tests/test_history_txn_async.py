"""History, compare-and-set, transactions, compact and backup (protocol 2) on the asyncio client
against the real engine: every new method, `Conflict` with the current version, the
`AsyncTransaction` builder's rules, all-or-nothing with xadd inside, a copy opened by a new client,
and CAS increments from many tasks on two engine processes sharing one data dir."""
import asyncio

import pytest

from litestash import (KEEP_ALL_VERSIONS, AsyncLiteStash, AsyncTransaction, BackupResult,
                       BadRequest, CompactResult, Conflict, InvalidKey, KeyVersion, LiteStashError,
                       Packed, Versions, shard_for)

F32 = bytes.fromhex("ca3fc00000")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def open_db(engine, data_dir, **flags):
    return AsyncLiteStash(data_dir=data_dir, engine=engine, timeout=30, **flags)


def test_history_and_values_at_versions(engine, data_dir):
    async def main():
        async with open_db(engine, data_dir, keep_versions="all") as db:
            assert db.keep_versions == KEEP_ALL_VERSIONS
            assert {"versions", "cas", "txn", "compact", "backup"} <= db.features
            vs = [await db.set("doc", i) for i in range(5)]
            await db.set_raw("doc", F32)
            assert await db.delete("doc") is True
            page = await db.versions("doc")
            assert isinstance(page, Versions) and page.deleted[0] is True and page.more is False
            assert page.versions[2:] == vs[::-1] and len(page.versions) == 7
            first = await db.versions("doc", limit=2)
            assert first.more is True and first.versions == page.versions[:2]
            rest = await db.versions("doc", before=first.versions[-1])
            assert rest.versions == page.versions[2:]
            assert [kv async for kv in db.versions_iter("doc", batch=3)] == page.pairs()
            assert [kv async for kv in db.versions_iter("doc", before=vs[1])] == \
                [KeyVersion(vs[0], False)]
            assert await db.get("doc") is None                         # deleted now
            assert await db.get("doc", version=vs[3]) == 3
            assert await db.get_with_version("doc", version=vs[0]) == (0, vs[0])
            assert await db.get_raw("doc", version=page.versions[1]) == F32
            assert await db.get("doc", "-", version=page.versions[0]) == "-"   # tombstone
    run(main())


def test_conditional_writes(engine, data_dir):
    async def main():
        async with open_db(engine, data_dir) as db:
            v1 = await db.set("c", 1, if_version=0)
            with pytest.raises(Conflict) as ei:
                await db.set("c", 2, if_version=0)
            assert ei.value.version == v1 and ei.value.key == "c"
            v2 = await db.set_raw("c", F32, if_version=v1)
            with pytest.raises(Conflict) as ei:
                await db.delete("c", if_version=v1)
            assert ei.value.version == v2
            assert await db.get_raw("c") == F32
            assert await db.delete("c", if_version=v2) is True
            assert await db.delete("c", if_version=0) is False
            # errors stay per request among concurrent ones
            res = await asyncio.gather(db.set("x", 1, if_version=0), db.set("x", 2, if_version=0),
                                       return_exceptions=True)
            assert isinstance(res[0], int) and isinstance(res[1], Conflict)
            assert res[1].version == res[0]
    run(main())


def test_txn_and_builder(engine, data_dir):
    async def main():
        async with open_db(engine, data_dir) as db:
            a = "acct:0"
            b = next("acct:%d" % i for i in range(1, 99) if shard_for("acct:%d" % i, 16) != shard_for(a, 16))
            va = await db.set(a, 100)
            res = await db.txn([{"op": "set", "key": a, "value": 70},
                                {"op": "delete", "key": "nothing"},
                                {"op": "xadd", "stream": "log", "value": Packed(F32)}],
                               checks=[(a, va)])
            assert type(res[0]) is int and res[1] is False and res[2] == 1
            assert await db.get_with_version(a) == (70, res[0])

            async with db.transaction() as tx:
                assert isinstance(tx, AsyncTransaction)
                tx.check(a, res[0])
                tx.check(b, 0)
                tx.set(a, 60)
                tx.set(b, 40, ttl_ms=60_000)
                tx.xadd("log", {"a": 60, "b": 40})
            assert tx.results[2] == 2 and await db.mget([a, b]) == [60, 40]
            with pytest.raises(LiteStashError):
                tx.delete(a)

            # a failed check writes nothing, on any shard, nor in the stream
            with pytest.raises(Conflict) as ei:
                async with db.transaction() as tx:
                    tx.check(a, res[0])                                 # stale
                    tx.set(a, 0)
                    tx.set(b, 0)
                    tx.xadd("log", "lost")
            assert ei.value.key == a and ei.value.version == (await db.get_with_version(a))[1]
            assert await db.mget([a, b]) == [60, 40]
            assert (await db.xinfo("log")).length == 2

            # an exception in the block sends nothing
            with pytest.raises(KeyError):
                async with db.transaction() as tx:
                    tx.set(a, -1)
                    raise KeyError("x")
            assert tx.finished and tx.results is None and await db.get(a) == 60

            # explicit commit, then nothing more at the end of the block
            async with db.transaction() as tx:
                tx.delete(b)
                assert await tx.commit() == [True]
            assert await db.exists(b) is False

            # an empty builder sends nothing; checks alone are sent and refused by the engine
            before = next(db._ids)
            async with db.transaction() as tx:
                pass
            assert tx.results == [] and next(db._ids) == before + 1
            with pytest.raises(BadRequest):
                async with db.transaction() as tx:
                    tx.check(a, 0)
            with pytest.raises(InvalidKey):
                await db.txn([{"op": "set", "key": "", "value": 1}])
    run(main())


def test_compact_and_backup(engine, data_dir, tmp_path):
    async def main():
        async with open_db(engine, data_dir, keep_versions=4, long_timeout=300) as db:
            await asyncio.gather(*(db.set("k%d" % (i % 10), i) for i in range(60)))
            await db.xadd("s", "e")
            # other requests of this client go on while compact runs
            r, *gets = await asyncio.gather(db.compact(keep_versions=1),
                                            *(db.get("k%d" % i) for i in range(10)))
            assert isinstance(r, CompactResult) and r.versions_removed == 10 * 3
            assert all(g is not None for g in gets)
            assert isinstance(r.steps, int) and isinstance(r.max_step_us, int)

            dest = tmp_path / "copy"
            b = await db.backup(dest, timeout=120)
            assert isinstance(b, BackupResult) and b.shards == 16 and b.bytes > 0
            assert b.dir == str(dest)
            with pytest.raises(BadRequest):
                await db.backup(str(dest))                           # not empty any more
            expected = await db.mget(["k%d" % i for i in range(10)])
        async with open_db(engine, str(dest)) as copy:
            assert await copy.mget(["k%d" % i for i in range(10)]) == expected
            assert await copy.xget("s", [1]) == ["e"]
            assert copy.keep_versions == 4
            assert len((await copy.versions("k0")).versions) == 2      # what compact left
    run(main())


async def cas_add(db, key):
    while True:
        cur = await db.get_with_version(key)
        value, version = cur if cur is not None else (0, 0)
        try:
            await db.set(key, value + 1, if_version=version)
            return
        except Conflict as e:
            assert e.version != version


def test_cas_increments_from_two_engines_and_many_tasks(engine, data_dir):
    async def main():
        async with open_db(engine, data_dir) as a, open_db(engine, data_dir) as b:
            tasks_per_client, each = 8, 20

            async def worker(db):
                for _ in range(each):
                    await cas_add(db, "n")
            await asyncio.gather(*(worker(db) for db in (a, b) for _ in range(tasks_per_client)))
            assert await a.get("n") == await b.get("n") == 2 * tasks_per_client * each
    run(main())


def test_pipelined_history_cas_and_txn_see_earlier_writes(engine, data_dir):
    """Sent in one event-loop turn: each request sees the writes sent before it to its key."""
    async def main():
        async with open_db(engine, data_dir, keep_versions="all") as db:
            for i in range(20):
                k = "p%d" % i
                r = await asyncio.gather(
                    db.set(k, 1), db.set(k, 2), db.versions(k), db.set(k, 3, if_version=0),
                    db.txn([{"op": "set", "key": k, "value": 4}], checks=[(k, 0)]),
                    db.delete(k), db.versions(k), return_exceptions=True)
                assert r[2].versions == [r[1], r[0]]
                assert isinstance(r[3], Conflict) and r[3].version == r[1]
                assert isinstance(r[4], Conflict) and r[4].key == k and r[4].version == r[1]
                assert r[5] is True
                assert r[6].deleted == [True, False, False] and r[6].versions[1:] == [r[1], r[0]]
    run(main())
