"""`compact` and `backup` (protocol 2) on the synchronous client against the real engine: typed
results, history trimmed by depth and by the request's `keep_versions`, the copy opened by a new
client with every kind of data in it, the refused non-empty dir, relative and path-like dirs, and
how long requests are timed (`long_timeout`, per-call `timeout`)."""
import os
import pathlib
import time

import pytest

from litestash import (KEEP_ALL_VERSIONS, BackupResult, BadRequest, CompactResult, LiteStash,
                       TypeError_)
from litestash.protocol import Cmd, Commands, answer_timeout


def open_db(engine, data_dir, **flags):
    return LiteStash(data_dir=data_dir, engine=engine, timeout=30, **flags)


# --- compact ------------------------------------------------------------------------------------

def test_compact_on_an_empty_data_dir(db):
    r = db.compact()
    assert isinstance(r, CompactResult)
    assert (r.expired_removed, r.versions_removed, r.entries_removed) == (0, 0, 0)
    assert r.bytes_reclaimed >= 0
    assert isinstance(r.steps, int) and r.steps >= db.shards       # this engine's additions
    assert isinstance(r.max_step_us, int) and r.max_step_us >= 0


def test_compact_trims_history_and_removes_expired(engine, data_dir):
    with open_db(engine, data_dir, keep_versions="all") as db:
        for key in ("a", "b"):
            for i in range(10):
                db.set(key, i)
        db.delete("b")                                               # + a tombstone
        for i in range(5):
            db.set("short:%d" % i, i, ttl_ms=1)
        time.sleep(0.05)
        a_versions, b_versions = db.versions("a").versions, db.versions("b").versions
        assert len(a_versions) == 10 and len(b_versions) == 11

        r = db.compact(keep_versions=2)                              # this run only
        # a: current + 9 superseded -> 2 kept; b: tombstone + 10 superseded -> 2 kept
        assert r.versions_removed == 7 + 9
        assert r.expired_removed <= 5                                # the sweeper may come first
        assert db.versions("a").versions == a_versions[:3]           # the newest are kept
        assert db.versions("b") == (b_versions[:2], [True, False], False)
        assert db.count() == 1 and db.get("a") == 9
        assert db.keep_versions == KEEP_ALL_VERSIONS                 # the record is unchanged
        db.set("a", 10)
        assert len(db.versions("a").versions) == 4                   # depth "all" applies again

        r = db.compact(keep_versions=0)                              # drop all history
        assert r.versions_removed == 3 + 2
        assert db.versions("a").versions == [db.get_with_version("a")[1]]
        assert db.versions("b").versions == []
        assert db.compact().versions_removed == 0


def test_compact_applies_a_lowered_depth(engine, data_dir):
    with open_db(engine, data_dir, keep_versions=5) as db:
        for i in range(6):
            db.set("k", i)
    with open_db(engine, data_dir, keep_versions=1) as db:
        assert len(db.versions("k").versions) == 6                   # until its next write...
        assert db.compact().versions_removed == 4                    # ...or compact
        assert len(db.versions("k").versions) == 2


def test_compact_refusals_are_the_engines(db):
    with pytest.raises(TypeError_):
        db.compact(keep_versions="all")                              # a uint on the wire
    with pytest.raises(TypeError_):
        db.compact(keep_versions=-1)


# --- backup ------------------------------------------------------------------------------------

def fill(db):
    db.mset({"k%d" % i: {"i": i} for i in range(50)})
    db.set_raw("f32", bytes.fromhex("ca3fc00000"))
    db.set("ttl", 1, ttl_ms=3_600_000)
    for i in range(3):
        db.xadd("orders", {"n": i}, maxlen=100)
    db.xcommit("orders", "billing", 2)


def check_copy(engine, path, shards=16, keys=52):
    with LiteStash(data_dir=path, engine=engine, shards=shards, timeout=30) as copy:
        assert copy.count() == keys
        assert copy.get("k7") == {"i": 7}
        assert copy.get_raw("f32") == bytes.fromhex("ca3fc00000")
        assert copy.ttl("ttl").ttl_ms is not None
        assert [e.value for e in copy.xrange_iter("orders")] == [{"n": 0}, {"n": 1}, {"n": 2}]
        info = copy.xinfo("orders")
        assert info.maxlen == 100 and info.groups == {"billing": 2}
        return copy.keep_versions


def test_backup_opens_as_a_data_dir(engine, data_dir, tmp_path):
    with open_db(engine, data_dir, keep_versions=3) as db:
        fill(db)
        v_old = db.set("hist", "old")
        db.set("hist", "new")
        dest = str(tmp_path / "backups" / "one")                     # parents are created
        r = db.backup(dest)
        assert isinstance(r, BackupResult)
        assert r.dir == dest and r.shards == 16 and r.bytes > 0
        db.set("k0", "after the backup")
    assert check_copy(engine, dest, keys=53) == 3
    with LiteStash(data_dir=dest, engine=engine, timeout=30) as copy:
        assert copy.get("k0") == {"i": 0}
        assert copy.get("hist", version=v_old) == "old"             # history is copied too


def test_backup_into_a_non_empty_dir_is_refused_and_untouched(db, engine, tmp_path):
    fill(db)
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    with pytest.raises(BadRequest) as ei:
        db.backup(str(full))
    assert ei.value.code == "bad_request"
    assert os.listdir(full) == ["keep.txt"] and (full / "keep.txt").read_text() == "mine"
    dest = str(tmp_path / "first")
    db.backup(dest)
    with pytest.raises(BadRequest):                                  # a finished backup is not empty
        db.backup(dest)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert db.backup(empty).shards == 16                             # an empty dir is fine
    check_copy(engine, str(empty))


def test_backup_paths_are_the_callers(db, engine, tmp_path, monkeypatch):
    fill(db)
    monkeypatch.chdir(tmp_path)                                      # the engine's cwd stays put
    r = db.backup("rel/copy")
    assert r.dir == str(tmp_path / "rel" / "copy")
    check_copy(engine, str(tmp_path / "rel" / "copy"))
    r = db.backup(pathlib.Path(tmp_path / "as-path"))
    assert r.dir == str(tmp_path / "as-path") and os.path.isdir(r.dir)
    with pytest.raises(BadRequest):
        db.backup("")
    with pytest.raises(TypeError_):
        db.backup(7)


def test_backup_of_a_memory_engine_and_other_shard_counts(engine, tmp_path):
    with LiteStash(memory=True, shards=4, engine=engine, timeout=30) as db:
        fill(db)
        r = db.backup(str(tmp_path / "mem"))
        assert r.shards == 4
    check_copy(engine, str(tmp_path / "mem"), shards=4)


# --- how long requests are timed ---------------------------------------------------------------

def test_long_requests_have_their_own_timeout():
    cmds = Commands(16)
    get, compact, backup = cmds.get("k"), cmds.compact(), cmds.backup("/x")
    xread = cmds.xread("s", 0, wait_ms=2000)
    assert compact.long and backup.long and not get.long
    assert answer_timeout(get, 5, None) == 5
    assert answer_timeout(xread, 5, None) == 7
    assert answer_timeout(compact, 5, None) is None                  # `timeout` never applies
    assert answer_timeout(compact, 5, 600) == 600
    assert answer_timeout(backup, 5, 600, 30) == 30                  # the call's own timeout
    assert answer_timeout(Cmd("x", [], None), None, 600) is None


def test_clients_take_long_timeout(engine, data_dir):
    with LiteStash(data_dir=data_dir, engine=engine, timeout=10, long_timeout=300) as db:
        assert db.long_timeout == 300
        db.set("k", 1)
        assert db.compact(timeout=120).versions_removed == 0
