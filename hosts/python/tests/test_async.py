"""The asyncio client: 1000 requests in flight at once, answers matched by id, typed errors."""
import asyncio
import random

import pytest

from litestash import AsyncLiteStash, InvalidKey, Ttl, WrongShard


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_1000_concurrent_requests(engine, data_dir):
    async def main():
        async with AsyncLiteStash(data_dir=data_dir, engine=engine, timeout=60) as db:
            keys = ["c:%d:\u00e9" % i for i in range(1000)]
            versions = await asyncio.gather(*(db.set(k, {"i": i, "k": k}) for i, k in enumerate(keys)))
            assert len(versions) == 1000 and all(isinstance(v, int) for v in versions)
            assert db.peak_inflight >= 500, "requests were not pipelined: peak %d" % db.peak_inflight
            assert db._pending == {}
            order = list(range(1000))
            random.Random(7).shuffle(order)
            got = await asyncio.gather(*(db.get(keys[i]) for i in order))
            assert got == [{"i": i, "k": keys[i]} for i in order]
            assert await db.count() == 1000
            return db
    db = run(main())
    assert db.exit_status == 0


def test_mixed_ops_in_flight(engine, data_dir):
    async def main():
        async with AsyncLiteStash(data_dir=data_dir, engine=engine) as db:
            await db.mset({"m%d" % i: i for i in range(200)})
            jobs = []
            for i in range(200):
                jobs += [db.get("m%d" % i), db.exists("m%d" % i), db.ttl("m%d" % i)]
            jobs += [db.set("n%d" % i, i) for i in range(200)]
            res = await asyncio.gather(*jobs)
            for i in range(200):
                assert res[3 * i] == i and res[3 * i + 1] is True and res[3 * i + 2] == Ttl(True, None)
            assert await db.mget(["n0", "n199", "zz"]) == [0, 199, None]
            assert await db.mdelete(["n%d" % i for i in range(200)]) == 200
            assert [k async for k in db.scan_iter(prefix="m", batch=64)] == \
                sorted("m%d" % i for i in range(200))
            await db.sync()
            assert (await db.stats())["shards"][0]["shard"] == 0
    run(main())


def test_errors_are_per_request(engine, data_dir):
    async def main():
        async with AsyncLiteStash(data_dir=data_dir, engine=engine) as db:
            res = await asyncio.gather(db.set("ok1", 1), db.set("", 2), db.set("ok2", 3),
                                       db.get("k" * 2000), return_exceptions=True)
            assert isinstance(res[0], int) and isinstance(res[2], int)
            assert isinstance(res[1], InvalidKey) and res[1].code == "invalid_key"
            assert isinstance(res[3], InvalidKey)
            assert await db.mget(["ok1", "ok2"]) == [1, 3]
            from litestash.protocol import Cmd
            with pytest.raises(WrongShard):
                await db._call(Cmd("get", [("key", "a"), ("shard", 99)], lambda r, b: r))
            assert await db.ping()
    run(main())


def test_raw_access(engine, data_dir):
    async def main():
        async with AsyncLiteStash(data_dir=data_dir, engine=engine) as db:
            await db.set_raw("f", b"\xca\x3f\xc0\x00\x00")
            assert await db.get_raw("f") == b"\xca\x3f\xc0\x00\x00"
            assert await db.get("f") == 1.5
            assert await db.mget_raw(["f", "x"]) == [b"\xca\x3f\xc0\x00\x00", None]
            v = await db.set("g", [1])
            assert await db.get_with_version("g") == ([1], v)
            assert (await db.hello())["protocol"] == 2
    run(main())


def test_open_and_close_explicitly(engine, data_dir):
    async def main():
        db = await AsyncLiteStash.open(data_dir=data_dir, engine=engine)
        await db.set("x", 1)
        await db.close()
        assert db.exit_status == 0
        with pytest.raises(Exception):
            await db.get("x")
    run(main())


def test_pipelined_read_your_writes(engine, data_dir):
    """Requests are written in call order; the engine must apply same-key requests in order."""
    async def main():
        async with AsyncLiteStash(data_dir=data_dir, engine=engine) as db:
            jobs = []
            for i in range(200):
                jobs.append(db.set("same", i))
                jobs.append(db.get("same"))
            jobs += [db.delete("same"), db.exists("same"), db.set("same", "last"), db.get("same")]
            res = await asyncio.gather(*jobs)
            versions = res[0:400:2]
            assert versions == sorted(versions) and len(set(versions)) == 200
            assert res[1:400:2] == list(range(200))
            assert res[400:402] == [True, False] and res[403] == "last"
    run(main())
