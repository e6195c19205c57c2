"""The stream consumer helper (sync `Consumer`): at-least-once commits per batch, resuming from the
committed offset (also across an engine restart), never from "now", start modes, on_trimmed."""
import threading
import time

import pytest

from litestash import Consumer, Entry, LiteStash, OffsetTrimmed


def fill(db, stream, n, start=0, **kw):
    return [db.xadd(stream, start + i, **kw).entry_id for i in range(n)]


def test_iterates_all_entries_and_commits(db):
    fill(db, "s", 10)
    with db.consumer("s", "g", batch=4, wait_ms=0, stop_when_idle=True) as c:
        assert isinstance(c, Consumer)
        got = list(c)
    assert [e.value for e in got] == list(range(10)) and [e.id for e in got] == list(range(1, 11))
    assert all(isinstance(e, Entry) for e in got)
    assert db.xoffset("s", "g") == 10 and c.committed == 10 and c.position == 10
    assert c.closed


def test_batches_commit_only_when_the_next_is_asked_for(db):
    fill(db, "s", 10)
    c = db.consumer("s", "g", batch=4, wait_ms=0)
    it = c.batches()
    b1 = next(it)
    assert [e.id for e in b1] == [1, 2, 3, 4]
    assert db.xoffset("s", "g") is None                 # taken, not yet consumed
    b2 = next(it)
    assert [e.id for e in b2] == [5, 6, 7, 8]
    assert db.xoffset("s", "g") == 4                    # asking for b2 committed b1
    c.close()                                           # closing commits b2
    assert db.xoffset("s", "g") == 8


def test_poll_and_crash_redelivers(db):
    """At-least-once: a batch handed out but never acknowledged comes back."""
    fill(db, "s", 6)
    c = db.consumer("s", "g", batch=3, wait_ms=0)
    assert [e.id for e in c.poll()] == [1, 2, 3]
    assert [e.id for e in c.poll()] == [4, 5, 6]         # commits 3
    c.close(commit=False)                               # "crash" before 4..6 were processed
    assert db.xoffset("s", "g") == 3
    c2 = db.consumer("s", "g", batch=10, wait_ms=0)
    assert [e.id for e in c2.poll()] == [4, 5, 6]
    c2.close()
    assert db.xoffset("s", "g") == 6


def test_exception_in_with_block_does_not_commit(db):
    fill(db, "s", 5)
    with pytest.raises(RuntimeError):
        with db.consumer("s", "g", batch=10, wait_ms=0) as c:
            for e in c:
                if e.id == 3:
                    raise RuntimeError("handler failed on entry 3")
    assert db.xoffset("s", "g") is None
    with db.consumer("s", "g", batch=10, wait_ms=0, stop_when_idle=True) as c:
        assert [e.id for e in c] == [1, 2, 3, 4, 5]


def test_break_mid_batch_commits_what_was_taken(db):
    fill(db, "s", 10)
    with db.consumer("s", "g", batch=100, wait_ms=0) as c:
        for e in c:
            if e.id == 4:
                break
    assert db.xoffset("s", "g") == 4
    with db.consumer("s", "g", wait_ms=0, stop_when_idle=True) as c:
        assert [e.id for e in c][0] == 5


def test_resumes_from_last_id_seen_never_from_now(db):
    """Entries appended while a batch is being processed are delivered next (no `$` bug)."""
    fill(db, "s", 3)
    c = db.consumer("s", "g", batch=100, wait_ms=0)
    assert [e.id for e in c.poll()] == [1, 2, 3]
    fill(db, "s", 4, start=3)                          # arrive while the batch is "processed"
    assert [e.id for e in c.poll()] == [4, 5, 6, 7]
    assert c.poll() == []                              # empty read: position unchanged
    fill(db, "s", 1, start=7)
    assert [e.id for e in c.poll()] == [8]
    c.close()
    assert db.xoffset("s", "g") == 8


def test_start_modes(db):
    fill(db, "s", 5)
    db.xcommit("s", "g", 2)
    with db.consumer("s", "g", wait_ms=0, stop_when_idle=True) as c:          # committed
        assert [e.id for e in c] == [3, 4, 5]
    with db.consumer("s", "g", start="earliest", wait_ms=0, stop_when_idle=True) as c:
        assert [e.id for e in c] == [1, 2, 3, 4, 5]
    with db.consumer("s", "new", wait_ms=0, stop_when_idle=True) as c:        # never committed
        assert [e.id for e in c] == [1, 2, 3, 4, 5]
    c = db.consumer("s", "g", start="latest", wait_ms=0)
    assert c.poll() == []
    fill(db, "s", 2, start=5)
    assert [e.id for e in c.poll()] == [6, 7]
    c.close()
    with db.consumer("s", "other", start=4, wait_ms=0, stop_when_idle=True) as c:
        assert [e.id for e in c] == [5, 6, 7]
    with db.consumer("nope", "g", wait_ms=0, stop_when_idle=True) as c:       # no stream yet
        assert list(c) == []
    with pytest.raises(ValueError):
        db.consumer("s", "g", start="now")
    with pytest.raises(ValueError):
        db.consumer("s", "g", on_trimmed="latest")
    with pytest.raises(ValueError):
        db.consumer("s", "g", batch=0)


def test_raw_consumer_and_lag(db):
    db.xadd_raw("s", bytes.fromhex("ca3fc00000"))
    db.xadd("s", "x")
    c = db.consumer("s", "g", raw=True, batch=1, wait_ms=0)
    assert c.lag() == 2
    assert c.poll()[0].value == bytes.fromhex("ca3fc00000")
    assert c.lag() == 1
    c.close()


def test_on_trimmed_earliest_skips_and_counts(db):
    fill(db, "s", 4)
    db.xcommit("s", "g", 1)
    fill(db, "s", 6, start=4, maxlen=5)                 # keeps 6..10: 2..5 lost for group g
    c = db.consumer("s", "g", batch=100, wait_ms=0)
    got = c.poll()
    assert [e.id for e in got] == [6, 7, 8, 9, 10]
    assert c.skipped == 4 and c.skips == [(2, 5)]
    # trimmed again while consuming: seen as a gap on the next read
    fill(db, "s", 10, start=10, maxlen=5)               # ids 11..20, keeps 16..20
    got = c.poll()
    assert [e.id for e in got] == [16, 17, 18, 19, 20]
    assert c.skipped == 9 and c.skips == [(2, 5), (11, 15)]
    c.close()
    assert db.xoffset("s", "g") == 20


def test_on_trimmed_error_raises_and_seek_recovers(db):
    fill(db, "s", 10)
    db.xcommit("s", "g", 2)
    db.xtrim("s", min_id=6)                             # 3..5 lost for g
    c = db.consumer("s", "g", on_trimmed="error", wait_ms=0)
    with pytest.raises(OffsetTrimmed) as ei:
        c.poll()
    err = ei.value
    assert (err.stream, err.group, err.position, err.first_id, err.missing) == ("s", "g", 2, 6, 3)
    assert err.code == "offset_trimmed"
    assert db.xoffset("s", "g") == 2                    # nothing committed
    c.seek(err.first_id - 1)
    assert [e.id for e in c.poll()] == [6, 7, 8, 9, 10]
    assert c.skipped == 0
    c.close()
    # a gap found while reading (not at start) raises too, delivering nothing
    c = db.consumer("s", "g", on_trimmed="error", batch=100, wait_ms=0)
    assert c.poll() == []
    fill(db, "s", 5, start=10, maxlen=2)                # 11..15, keeps 14, 15
    with pytest.raises(OffsetTrimmed) as ei:
        c.poll()
    assert (ei.value.position, ei.value.first_id, ei.value.missing) == (10, 14, 3)
    assert c.position == 10
    c.close()


def test_blocking_consumer_woken_by_producer(engine, data_dir):
    with LiteStash(data_dir=data_dir, engine=engine, timeout=30) as cdb, \
            LiteStash(data_dir=data_dir, engine=engine, timeout=30) as pdb:
        got = []

        def produce():
            for i in range(5):
                time.sleep(0.05)
                pdb.xadd("live", i)

        th = threading.Thread(target=produce)
        th.start()
        t0 = time.monotonic()
        with cdb.consumer("live", "g", batch=2, wait_ms=10000) as c:
            for e in c:
                got.append(e.value)
                if len(got) == 5:
                    break
        th.join(10)
        assert got == [0, 1, 2, 3, 4]
        assert time.monotonic() - t0 < 8                 # woken by appends, not by wait_ms
        assert cdb.xoffset("live", "g") == 5


def test_resume_after_engine_restart(engine, data_dir):
    with LiteStash(data_dir=data_dir, engine=engine) as db:
        fill(db, "s", 10)
        c = db.consumer("s", "g", batch=4, wait_ms=0)
        assert [e.id for e in c.poll()] == [1, 2, 3, 4]
        assert [e.id for e in c.poll()] == [5, 6, 7, 8]     # commits 4
        c.close(commit=False)                               # crash: 5..8 not acknowledged
    with LiteStash(data_dir=data_dir, engine=engine) as db:  # engine restarted on the same dir
        assert db.xoffset("s", "g") == 4
        with db.consumer("s", "g", batch=4, wait_ms=0, stop_when_idle=True) as c:
            assert [e.id for e in c] == [5, 6, 7, 8, 9, 10]
        fill(db, "s", 2, start=10)
    with LiteStash(data_dir=data_dir, engine=engine) as db:
        with db.consumer("s", "g", wait_ms=0, stop_when_idle=True) as c:
            assert [e.value for e in c] == [10, 11]
        assert db.xoffset("s", "g") == 12
