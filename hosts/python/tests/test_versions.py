"""History (protocol 2) on the synchronous client against the real engine: `--keep-versions`
passed as a client flag, `versions` pages and `versions_iter`, reading a value at a version
(`get`, `get_with_version`, `get_raw`), tombstones, depth trimming, expiry, engine errors."""
import time

import pytest

from litestash import (KEEP_ALL_VERSIONS, BadRequest, KeyVersion, LiteStash, TypeError_,
                       Versions)
from litestash.protocol import engine_argv

V2_FEATURES = {"versions", "cas", "txn", "compact", "backup"}


def open_db(engine, data_dir, **flags):
    return LiteStash(data_dir=data_dir, engine=engine, timeout=30, **flags)


def test_hello_reports_history_features(db):
    assert V2_FEATURES <= db.features
    assert db.keep_versions == 0


def test_keep_versions_flag_spellings(engine, data_dir):
    def flag(value):
        argv = engine_argv(engine, None, 1, {"keep_versions": value})
        return argv[argv.index("--keep-versions") + 1]
    assert flag(KEEP_ALL_VERSIONS) == "all" and flag("all") == "all"
    assert flag(0) == "0" and flag(7) == "7"
    with open_db(engine, data_dir, keep_versions=3) as db:
        assert db.keep_versions == 3
    with open_db(engine, data_dir) as db:                       # the data dir keeps its record
        assert db.keep_versions == 3
    with open_db(engine, data_dir, keep_versions=KEEP_ALL_VERSIONS) as db:
        assert db.keep_versions == KEEP_ALL_VERSIONS
    with open_db(engine, data_dir, keep_versions="all") as db:
        assert db.keep_versions == KEEP_ALL_VERSIONS


def test_without_history_a_live_key_lists_its_current_version(db):
    assert db.versions("nope") == Versions([], [], False)
    v1 = db.set("k", 1)
    v2 = db.set("k", 2)
    page = db.versions("k")
    assert page == Versions([v2], [False], False)
    assert db.get("k", version=v2) == 2
    assert db.get("k", "absent", version=v1) == "absent"            # not retained
    assert db.get_with_version("k", version=v1) is None
    db.delete("k")
    assert db.versions("k") == Versions([], [], False)              # no tombstone without history


def test_history_pages_values_and_tombstones(engine, data_dir):
    with open_db(engine, data_dir, keep_versions="all") as db:
        written = [db.set("doc", {"rev": i}) for i in range(7)]
        tomb_at = db.set("doc", "last")
        assert db.delete("doc") is True
        again = db.set("doc", {"rev": "again"})

        page = db.versions("doc")
        assert isinstance(page, Versions)
        assert page.versions[0] == again and page.versions[2] == tomb_at
        assert page.versions[3:] == written[::-1]
        assert page.deleted == [False, True] + [False] * 8 and page.more is False
        tombstone = page.versions[1]
        assert tomb_at < tombstone < again
        assert page.pairs()[1] == KeyVersion(tombstone, True)
        versions, deleted, more = page                               # unpacks like a tuple
        assert versions == page.versions

        # paging backwards with `before` (exclusive)
        first = db.versions("doc", limit=3)
        assert first.versions == page.versions[:3] and first.more is True
        second = db.versions("doc", limit=3, before=first.versions[-1])
        assert second.versions == page.versions[3:6] and second.more is True
        assert db.versions("doc", before=written[0]) == Versions([], [], False)
        assert list(db.versions_iter("doc", batch=4)) == page.pairs()
        assert list(db.versions_iter("doc", before=written[2], batch=1)) == \
            [KeyVersion(written[1], False), KeyVersion(written[0], False)]

        # the value at each version
        for i, v in enumerate(written):
            assert db.get("doc", version=v) == {"rev": i}
            assert db.get_with_version("doc", version=v) == ({"rev": i}, v)
        assert db.get_raw("doc", version=written[3]) == b"\x81\xa3rev\x03"
        assert db.get("doc", "gone", version=tombstone) == "gone"    # a tombstone has no value
        assert db.get_raw("doc", version=tombstone) is None
        assert db.get("doc", version=again) == db.get("doc") == {"rev": "again"}
        assert db.get("doc", version=12345) is None                  # never existed


def test_depth_keeps_the_newest_superseded_versions(engine, data_dir):
    with open_db(engine, data_dir, keep_versions=2) as db:
        vs = [db.set("k", i) for i in range(5)]
        page = db.versions("k")
        assert page.versions == [vs[4], vs[3], vs[2]] and page.more is False
        assert db.get("k", version=vs[1]) is None and db.get("k", version=vs[2]) == 2
        db.delete("k")                                               # the tombstone counts among the 2
        assert db.versions("k").versions[1:] == [vs[4]]
        assert db.versions("k").deleted == [True, False]


def test_raw_value_history_is_byte_exact(engine, data_dir):
    f32 = bytes.fromhex("ca3fc00000")
    str8 = bytes.fromhex("d903616263")
    with open_db(engine, data_dir, keep_versions=5) as db:
        v1 = db.set_raw("r", f32)
        db.set_raw("r", str8)
        assert db.get_raw("r", version=v1) == f32
        assert db.get("r", version=v1) == 1.5


def test_an_expired_key_has_no_history(engine, data_dir):
    with open_db(engine, data_dir, keep_versions="all") as db:
        v1 = db.set("t", 1)
        db.set("t", 2, ttl_ms=30)
        time.sleep(0.1)
        assert db.versions("t") == Versions([], [], False)
        assert db.get("t", version=v1) is None


def test_engine_refuses_bad_arguments(db):
    db.set("k", 1)
    with pytest.raises(BadRequest):
        db.versions("k", limit=0)
    with pytest.raises(BadRequest):
        db.versions("k", limit=10001)
    with pytest.raises(TypeError_):
        db.versions("k", before="x")
    with pytest.raises(TypeError_):
        db.get("k", version=-1)
    assert db.versions("k", limit=10000).more is False
