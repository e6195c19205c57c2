"""Streams on the asyncio client: every op, exact bytes, blocking reads that do not hold up other
requests, timeouts, close with parked reads, errors, and the AsyncConsumer."""
import asyncio
import time

import pytest

from litestash import (AsyncConsumer, AsyncLiteStash, BadRequest, Entry, InvalidKey,
                       OffsetTrimmed, StreamInfo, TypeError_)

F32 = bytes.fromhex("ca3fc00000")
STR8 = bytes.fromhex("d903616263")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_every_stream_op(engine, data_dir):
    async def main():
        async with AsyncLiteStash(data_dir=data_dir, engine=engine, timeout=30) as db:
            assert db.protocol_version == 2 and db.keep_versions == 0 and "streams" in db.features
            added = await asyncio.gather(*(db.xadd("a", i) for i in range(5)))
            assert sorted(a.entry_id for a in added) == [1, 2, 3, 4, 5]
            await db.xadd_raw("a", F32, maxlen=10, max_age_ms=86_400_000)
            await db.xadd_raw("a", STR8)
            assert await db.xget("a", [6, 7, 99], default="-") == [1.5, "abc", "-"]
            assert await db.xget_raw("a", [6, 7, 99]) == [F32, STR8, None]
            e6, = await db.xget_entries("a", [6], raw=True)
            assert e6.id == 6 and e6.value == F32 and isinstance(e6.ts, int)
            page, more = await db.xrange_raw("a", after=5)
            assert [e.value for e in page] == [F32, STR8] and more is False
            page, more = await db.xrange("a", before=6, limit=2)
            assert [e.id for e in page] == [4, 5] and more is True
            assert [e.id async for e in db.xrange_iter("a", batch=2)] == [1, 2, 3, 4, 5, 6, 7]
            entries, _ = await db.xread_raw("a", 5)
            assert [e.value for e in entries] == [F32, STR8]
            info = await db.xinfo("a")
            assert isinstance(info, StreamInfo)
            assert (info.length, info.first_id, info.last_id, info.maxlen, info.max_age_ms) \
                == (7, 1, 7, 10, 86_400_000)
            await db.xcommit("a", "g", 3)
            assert await db.xoffset("a", "g") == 3 and await db.xoffset("a", "h") is None
            assert (await db.xinfo("a")).groups == {"g": 3}
            assert await db.xtrim("a", min_id=3) == 2
            for n in ("b", "c:1", "c:2"):
                await db.xadd(n, 0)
            assert [n async for n in db.xstreams_iter(batch=1)] == ["a", "b", "c:1", "c:2"]
            assert await db.xstreams(prefix="c:") == (["c:1", "c:2"], False)
            assert await db.xdrop("b") is True and await db.xdrop("b") is False
            with pytest.raises(InvalidKey):
                await db.xadd("", 1)
            with pytest.raises(BadRequest):
                await db.xcommit("a", "g", 99)
            with pytest.raises(BadRequest):
                await db.xtrim("a")
            with pytest.raises(TypeError_):
                await db.xread("a", "0")
            return db
    assert run(main()).exit_status == 0


def test_blocking_read_does_not_block_other_requests(engine, data_dir):
    async def main():
        async with AsyncLiteStash(data_dir=data_dir, engine=engine, timeout=30) as db:
            t0 = time.monotonic()
            reads = [asyncio.ensure_future(db.xread("q%d" % i, 0, wait_ms=20000)) for i in range(20)]
            await asyncio.sleep(0.1)
            # other requests go on while 20 reads are parked
            await asyncio.gather(*(db.set("k%d" % i, i) for i in range(200)))
            assert await db.mget(["k0", "k199"]) == [0, 199]
            assert await db.ping() is True
            assert not any(r.done() for r in reads)
            assert time.monotonic() - t0 < 5
            added = await asyncio.gather(*(db.xadd("q%d" % i, "v%d" % i) for i in range(20)))
            got = await asyncio.gather(*reads)
            for i, (entries, more) in enumerate(got):
                assert entries == [Entry(1, added[i].ts, "v%d" % i)] and more is False
            assert time.monotonic() - t0 < 10
    run(main())


def test_blocking_read_times_out_empty_beyond_client_timeout(engine, data_dir):
    async def main():
        async with AsyncLiteStash(data_dir=data_dir, engine=engine, timeout=0.3) as db:
            t0 = time.monotonic()
            assert await db.xread("w", 0, wait_ms=1000) == ([], False)   # 1 s > timeout 0.3 s
            assert time.monotonic() - t0 >= 0.9
            assert await db.ping() is True
    run(main())


def test_close_answers_parked_reads(engine, data_dir):
    async def main():
        db = await AsyncLiteStash.open(data_dir=data_dir, engine=engine, timeout=30)
        await db.xadd("p", 1)
        read = asyncio.ensure_future(db.xread("p", 1, wait_ms=60000))
        await asyncio.sleep(0.1)
        t0 = time.monotonic()
        await db.close()
        assert time.monotonic() - t0 < 10              # not the 60 s wait
        assert await read == ([], False)
        assert db.exit_status == 0
    run(main())


def test_async_consumer(engine, data_dir):
    async def main():
        async with AsyncLiteStash(data_dir=data_dir, engine=engine, timeout=30) as db:
            c = db.consumer("s", "g", batch=3, wait_ms=10000)
            assert isinstance(c, AsyncConsumer)

            async def produce():
                for i in range(7):
                    await asyncio.sleep(0.02)
                    await db.xadd("s", i)

            prod = asyncio.ensure_future(produce())
            got = []
            async with c:
                async for e in c:                       # blocking reads share the client
                    got.append(e.value)
                    if len(got) == 7:
                        break
            await prod
            assert got == list(range(7)) and await db.xoffset("s", "g") == 7
            # batches: committed when the next one is asked for
            for i in range(7, 12):
                await db.xadd("s", i)
            c = db.consumer("s", "g", batch=2, wait_ms=0, stop_when_idle=True)
            seen = []
            async for batch in c.batches():
                seen.append([e.id for e in batch])
                if len(seen) == 2:
                    assert await db.xoffset("s", "g") == 9
            assert seen == [[8, 9], [10, 11], [12]]
            assert await db.xoffset("s", "g") == 12     # the idle poll committed the last one
            await c.close()
            # exception: nothing more committed, redelivered to the next consumer
            await db.xadd("s", 12)
            with pytest.raises(RuntimeError):
                async with db.consumer("s", "g", wait_ms=0) as c:
                    async for e in c:
                        raise RuntimeError("boom")
            assert await db.xoffset("s", "g") == 12
            async with db.consumer("s", "g", wait_ms=0, stop_when_idle=True, raw=True) as c:
                assert [e.value async for e in c] == [b"\x0c"]
            # retention: on_trimmed
            await db.xtrim("s", min_id=11)
            await db.xcommit("s", "old", 5)
            c = db.consumer("s", "old", wait_ms=0, on_trimmed="error")
            with pytest.raises(OffsetTrimmed) as ei:
                await c.poll()
            assert (ei.value.position, ei.value.first_id, ei.value.missing) == (5, 11, 5)
            c = db.consumer("s", "old", wait_ms=0)
            assert [e.id for e in await c.poll()] == [11, 12, 13]
            assert c.skipped == 5 and c.skips == [(6, 10)] and await c.lag() == 0
            await c.close()
            assert await db.xoffset("s", "old") == 13
    run(main())


def test_async_consumer_resumes_after_restart(engine, data_dir):
    async def main():
        async with AsyncLiteStash(data_dir=data_dir, engine=engine) as db:
            for i in range(6):
                await db.xadd("s", i)
            c = db.consumer("s", "g", batch=4, wait_ms=0)
            assert [e.id for e in await c.poll()] == [1, 2, 3, 4]
            await c.close()
        async with AsyncLiteStash(data_dir=data_dir, engine=engine) as db:
            async with db.consumer("s", "g", wait_ms=0, stop_when_idle=True) as c:
                assert [e.id async for e in c] == [5, 6]
            assert await db.xoffset("s", "g") == 6
    run(main())
