"""The Django cache backend `litestash.contrib.django`, driven through Django itself.

The project in tests/django_project (settings: four aliases, see its docstring) is set up once
for this module with its data dirs in a temp dir; `django.core.cache.caches` builds the backends
as any Django site would. Covered: the whole cache API, timeouts (None, 0, DEFAULT_TIMEOUT,
expiry), key prefixes, versions, key validation, two aliases on two data dirs, the engine
registry (threads, close, restart, fork), a second OS process on the same data dir, and views
through `django.test.Client`. Needs Django (Debian: python3-django) and the engine.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings

import msgpack
import pytest

import django
from django.core.cache import caches
from django.core.cache.backends.base import CacheKeyWarning, InvalidCacheKey
from django.core.exceptions import ImproperlyConfigured

from litestash.contrib import django as backend
from litestash.contrib.django import LiteStashCache, close_engines, dumps, loads

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
PY_DIR = os.path.dirname(TESTS_DIR)


class Point:
    """A picklable object (module level) to cache."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


@pytest.fixture(scope="module", autouse=True)
def project(engine):
    """Django set up on tests/django_project with fresh data dirs; engines closed afterwards."""
    base = tempfile.mkdtemp(prefix="litestash-django-")
    os.environ["LITESTASH_DJANGO_DIR"] = base
    os.environ["DJANGO_SETTINGS_MODULE"] = "django_project.settings"
    os.environ["LITESTASH_ENGINE"] = engine
    django.setup()
    try:
        yield base
    finally:
        close_engines()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(autouse=True)
def empty_caches(project):
    for alias in ("default", "other", "instant"):   # `prefixed` shares default's data dir
        caches[alias].clear()


@pytest.fixture
def cache():
    return caches["default"]


def engine_key(cache, key, version=None):
    return cache.make_key(key, version=version)


# --- values ------------------------------------------------------------------------------------

def test_values_round_trip(cache):
    values = {"int": 42, "neg": -7, "big": 2 ** 100, "float": 1.5, "bool": True, "none": None,
              "str": "héllo", "bytes": b"\x00\xff", "list": [1, "a", None],
              "dict": {"a": {"b": [1, 2]}}, "obj": Point(1, 2), "tuple": (1, 2)}
    for key, value in values.items():
        cache.set(key, value)
    for key, value in values.items():
        got = cache.get(key)
        assert got == value and type(got) is type(value), key
    assert cache.get("absent") is None
    assert cache.get("absent", "fallback") == "fallback"
    assert cache.get("none", "fallback") is None          # a stored None is not "absent"


def test_ints_are_stored_plain_and_the_rest_pickled(cache):
    cache.set("n", 12345)
    cache.set("s", "text")
    cache.set("b", False)
    assert cache.client.get_raw(engine_key(cache, "n")) == msgpack.packb(12345)
    assert isinstance(cache.client.get(engine_key(cache, "s")), bytes)    # pickle bytes
    assert isinstance(cache.client.get(engine_key(cache, "b")), bytes)    # bool is not int here
    assert dumps(2 ** 64 - 1) == 2 ** 64 - 1 and isinstance(dumps(2 ** 64), bytes)
    assert dumps(-(2 ** 63)) == -(2 ** 63) and isinstance(dumps(-(2 ** 63) - 1), bytes)
    assert loads(dumps(Point(3, 4))) == Point(3, 4)
    cache.client.set(engine_key(cache, "foreign"), {"from": "another host"})
    assert cache.get("foreign") == {"from": "another host"}


# --- single keys -------------------------------------------------------------------------------

def test_add_only_when_absent(cache):
    assert cache.add("k", "first") is True
    assert cache.add("k", "second") is False
    assert cache.get("k") == "first"
    cache.delete("k")
    assert cache.add("k", "third") is True
    assert cache.get("k") == "third"


def test_add_is_atomic_across_threads(cache):
    wins = []
    barrier = threading.Barrier(8)

    def racer(i):
        barrier.wait()
        if cache.add("race", i):
            wins.append(i)

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and cache.get("race") == wins[0]


def test_add_over_an_expired_key(cache):
    cache.set("k", "old", timeout=0.05)
    time.sleep(0.1)
    assert cache.add("k", "new") is True
    assert cache.get("k") == "new"


def test_delete_has_key_contains(cache):
    cache.set("k", 1)
    assert cache.has_key("k") and "k" in cache
    assert cache.delete("k") is True
    assert cache.delete("k") is False
    assert not cache.has_key("k") and "k" not in cache
    cache.set("none", None)
    assert cache.has_key("none")


def test_incr_decr(cache):
    cache.set("n", 10)
    assert cache.incr("n") == 11
    assert cache.incr("n", 5) == 16
    assert cache.decr("n") == 15
    assert cache.decr("n", 20) == -5
    assert cache.get("n") == -5
    with pytest.raises(ValueError):
        cache.incr("missing")
    with pytest.raises(ValueError):
        cache.decr("missing")
    cache.set("edge", 2 ** 64 - 1)                      # past MessagePack's range: pickled
    assert cache.incr("edge") == 2 ** 64 and cache.get("edge") == 2 ** 64
    assert cache.decr("edge") == 2 ** 64 - 1
    cache.set("f", 1.5)
    assert cache.incr("f") == 2.5


def test_incr_keeps_the_expiry(cache):
    cache.set("n", 1, timeout=100)
    cache.incr("n")
    ttl = cache.client.ttl(engine_key(cache, "n"))
    assert ttl.found and 90_000 < ttl.ttl_ms <= 100_000
    cache.set("forever", 1, timeout=None)
    cache.incr("forever")
    assert cache.client.ttl(engine_key(cache, "forever")).ttl_ms is None


def test_incr_is_atomic_across_threads(cache):
    cache.set("counter", 0)

    def bump():
        for _ in range(50):
            cache.incr("counter")

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.get("counter") == 200


def test_touch(cache):
    cache.set("k", "v", timeout=1000)
    assert cache.touch("k", 10) is True
    assert 0 < cache.client.ttl(engine_key(cache, "k")).ttl_ms <= 10_000
    assert cache.touch("k", None) is True                  # forever
    assert cache.client.ttl(engine_key(cache, "k")).ttl_ms is None
    assert cache.touch("k", None) is True                  # already forever: still live
    assert cache.touch("k") is True                        # DEFAULT_TIMEOUT: 300 s
    assert 290_000 < cache.client.ttl(engine_key(cache, "k")).ttl_ms <= 300_000
    assert cache.touch("k", 0) is True                     # expire at once
    assert cache.get("k") is None
    assert cache.touch("k", 10) is False
    assert cache.touch("k", None) is False
    assert cache.touch("k", 0) is False


def test_get_or_set(cache):
    assert cache.get_or_set("k", "made") == "made"
    assert cache.get_or_set("k", "other") == "made"
    calls = []
    assert cache.get_or_set("c", lambda: calls.append(1) or "called") == "called"
    assert cache.get_or_set("c", lambda: calls.append(1) or "again") == "called"
    assert calls == [1]
    assert cache.get_or_set("zero", "v", timeout=0) == "v"
    assert not cache.has_key("zero")


# --- many keys ---------------------------------------------------------------------------------

def test_get_set_delete_many(cache):
    assert cache.set_many({"a": 1, "b": "two", "c": Point(0, 0)}) == []
    assert cache.get_many(["a", "b", "c", "zz"]) == {"a": 1, "b": "two", "c": Point(0, 0)}
    assert cache.get_many([]) == {}
    cache.delete_many(["a", "c", "zz"])
    assert cache.get_many(["a", "b", "c"]) == {"b": "two"}
    cache.delete_many([])


def test_many_in_batches(cache):
    data = {"k%d" % i: i for i in range(2500)}
    assert cache.set_many(data, timeout=60) == []
    assert cache.get_many(list(data)) == data
    assert 50_000 < cache.client.ttl(engine_key(cache, "k2499")).ttl_ms <= 60_000
    cache.delete_many(list(data)[:2400])
    assert cache.get_many(list(data)) == {"k%d" % i: i for i in range(2400, 2500)}


def test_set_many_with_timeout_zero_deletes(cache):
    cache.set_many({"a": 1, "b": 2})
    assert cache.set_many({"a": 9, "b": 9}, timeout=0) == []
    assert cache.get_many(["a", "b"]) == {}


# --- timeouts ----------------------------------------------------------------------------------

def test_default_timeout_and_none(cache):
    cache.set("default", 1)
    assert 290_000 < cache.client.ttl(engine_key(cache, "default")).ttl_ms <= 300_000
    cache.set("forever", 1, timeout=None)
    assert cache.client.ttl(engine_key(cache, "forever")) == (True, None)
    cache.add("added", 1, timeout=None)
    assert cache.client.ttl(engine_key(cache, "added")).ttl_ms is None
    cache.set("fraction", 1, timeout=0.0001)             # rounded up to 1 ms, not 0
    assert cache.get_backend_timeout(0.0001) == 1
    assert cache.get_backend_timeout(None) is None and cache.get_backend_timeout(-5) == 0
    assert cache.get_backend_timeout(1e300) == 2 ** 63 - 1


def test_timeout_zero_or_negative_expires_at_once(cache):
    cache.set("k", "v")
    cache.set("k", "w", timeout=0)
    assert cache.get("k") is None and not cache.has_key("k")
    cache.set("k", "v")
    cache.set("k", "w", timeout=-1)
    assert cache.get("k", "gone") == "gone"
    assert cache.add("k", "v", timeout=0) is True          # absent: "added", and gone at once
    assert not cache.has_key("k")
    cache.set("k", "v")
    assert cache.add("k", "w", timeout=0) is False
    assert cache.get("k") == "v"


def test_keys_expire():
    cache = caches["default"]
    cache.set("short", "v", timeout=0.2)
    cache.set_many({"m1": 1, "m2": 2}, timeout=0.2)
    cache.add("added", "v", timeout=0.2)
    cache.set("long", "v", timeout=60)
    assert cache.get_many(["short", "m1", "m2", "added"]) == {
        "short": "v", "m1": 1, "m2": 2, "added": "v"}
    time.sleep(0.35)
    assert cache.get_many(["short", "m1", "m2", "added", "long"]) == {"long": "v"}
    assert not cache.has_key("short")
    with pytest.raises(ValueError):
        cache.incr("m1")


def test_alias_timeouts():
    forever, instant = caches["other"], caches["instant"]
    forever.set("k", 1)
    assert forever.client.ttl(forever.make_key("k")) == (True, None)
    instant.set("k", 1)
    assert instant.get("k") is None
    assert instant.set_many({"a": 1}) == [] and instant.get_many(["a"]) == {}
    instant.set("k", 1, timeout=5)                         # an explicit timeout still applies
    assert instant.get("k") == 1


# --- keys: prefixes, versions, validation ------------------------------------------------------

def test_key_prefix_separates_aliases_on_one_data_dir(cache):
    prefixed = caches["prefixed"]
    assert prefixed.client is cache.client                  # one engine for the data dir
    cache.set("k", "plain")
    prefixed.set("k", "site")
    assert cache.get("k") == "plain" and prefixed.get("k") == "site"
    assert prefixed.make_key("k") == "site:2:k" and cache.make_key("k") == ":1:k"
    assert loads(cache.client.get(":1:k")) == "plain"
    assert loads(cache.client.get("site:2:k")) == "site"


def test_versions(cache):
    cache.set("k", "v1", version=1)
    cache.set("k", "v2", version=2)
    assert cache.get("k") == "v1" and cache.get("k", version=2) == "v2"
    assert cache.get_many(["k"], version=2) == {"k": "v2"}
    assert cache.incr_version("k") == 2                    # v1 moves to version 2
    assert cache.get("k") is None and cache.get("k", version=2) == "v1"
    assert cache.decr_version("k", version=2) == 1
    assert cache.get("k") == "v1" and cache.get("k", version=2) is None
    with pytest.raises(ValueError):
        cache.incr_version("missing")
    prefixed = caches["prefixed"]                          # VERSION 2 by default
    prefixed.set("p", 1)
    assert prefixed.get("p", version=2) == 1 and prefixed.get("p", version=1) is None
    cache.set("n", 1, version=3)
    assert cache.incr("n", version=3) == 2
    assert cache.delete("n", version=3) and cache.has_key("n", version=3) is False


def test_key_validation(cache):
    long_key = "x" * 300
    with pytest.warns(CacheKeyWarning):
        cache.set(long_key, "long")
    with pytest.warns(CacheKeyWarning):
        assert cache.get(long_key) == "long"
    for bad in ("with space", "tab\tkey", "nl\nkey", "del\x7f"):
        with pytest.warns(CacheKeyWarning):
            cache.set(bad, bad)
        with pytest.warns(CacheKeyWarning):
            assert cache.get(bad) == bad
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache.set("fine:key-1", 1)                         # no warning
        assert cache.get("fine:key-1") == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheKeyWarning)
        with pytest.raises(InvalidCacheKey):
            cache.set("y" * 1100, 1)                        # over the engine's 1024 bytes
        with pytest.raises(InvalidCacheKey):
            cache.get_many(["ok", "z" * 2000])
        with pytest.raises(InvalidCacheKey):
            cache.set("lone\ud800surrogate", 1)
        with pytest.raises(InvalidCacheKey):
            cache.add("y" * 1100, 1)
    assert issubclass(InvalidCacheKey, ValueError)


# --- clear ---------------------------------------------------------------------------------------

def test_clear_with_prefix_clears_only_its_keys(cache):
    prefixed = caches["prefixed"]
    cache.set("mine", 1)
    prefixed.set_many({"p%d" % i: i for i in range(2100)})   # more than one scan page
    cache.client.set("sitemap", "not the prefix's")          # starts with "site" but not "site:"
    prefixed.clear()
    assert prefixed.get_many(["p0", "p2099"]) == {}
    assert list(cache.client.scan_iter(prefix="site:")) == []
    assert cache.get("mine") == 1 and cache.client.get("sitemap") == "not the prefix's"


def test_clear_without_prefix_clears_the_data_dir(cache):
    other = caches["other"]
    cache.set("a", 1)
    caches["prefixed"].set("b", 2)
    other.set("c", 3)
    cache.clear()
    assert cache.client.count() == 0                       # prefixed's keys went too
    assert other.get("c") == 3                             # another data dir is untouched


# --- aliases, engines, options -----------------------------------------------------------------

def test_two_aliases_on_two_data_dirs(cache):
    other = caches["other"]
    assert other.client is not cache.client and other.client.pid != cache.client.pid
    assert other.client.shards == 4
    cache.set("k", "default")
    other.set("k", "other")
    assert cache.get("k") == "default" and other.get("k") == "other"
    other.delete("k")
    assert cache.get("k") == "default"


def test_one_engine_per_process_across_threads(cache):
    clients = []

    def grab():
        clients.append(caches["default"].client)           # each thread gets its own backend

    threads = [threading.Thread(target=grab) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(c is cache.client for c in clients)


def test_close_and_restart(cache):
    cache.set("k", "kept")
    pid = cache.client.pid
    cache.close()                                          # Django's per-request close: no-op
    assert cache.client.pid == pid and cache.get("k") == "kept"
    close_engines()
    assert cache.get("k") == "kept" and cache.client.pid != pid
    pid = cache.client.pid
    engine = cache.client.process   # once: `cache.client` restarts an engine it finds dead
    engine.kill()                                          # an engine that died is restarted
    engine.wait(5)
    assert cache.get("k") == "kept" and cache.client.pid != pid


def test_options(project, cache):
    data_dir = os.path.join(project, "default")
    with pytest.raises(ImproperlyConfigured):
        LiteStashCache("", {})
    with pytest.raises(ImproperlyConfigured):
        LiteStashCache(data_dir, {"OPTIONS": {"shard": 4}})
    with pytest.raises(ImproperlyConfigured):
        LiteStashCache(data_dir, {"OPTIONS": {"data_dir": os.path.join(project, "x")}})
    with pytest.raises(ImproperlyConfigured):
        LiteStashCache(data_dir, {"OPTIONS": {"flags": ["sync", "off"]}})
    cache.get("warm")                                        # the engine for data_dir runs
    mismatch = LiteStashCache(data_dir, {"OPTIONS": {"shards": 4}})
    with pytest.raises(ImproperlyConfigured):
        mismatch.get("k")
    same = LiteStashCache(data_dir + "/", {"OPTIONS": {"MAX_ENTRIES": 10, "CULL_FREQUENCY": 2}})
    assert same.client is cache.client
    assert backend.config_from(data_dir, {}) == cache._config


# --- other processes ---------------------------------------------------------------------------

CHILD = r"""
import json, sys, django
django.setup()
from django.core.cache import caches
cache = caches["default"]
seen = cache.get("from-parent")
cache.set("from-child", {"pid": __import__("os").getpid()})
for _ in range(100):
    cache.incr("shared")
print(json.dumps({"seen": seen, "pid": cache.client.pid}))
"""


def test_second_process_sees_writes(project, cache):
    cache.set("from-parent", [1, "two"])
    cache.set("shared", 0)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PY_DIR, TESTS_DIR]))
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    for _ in range(100):                                   # concurrent with the child's incrs
        cache.incr("shared")
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    report = json.loads(out)
    assert report["seen"] == [1, "two"]
    assert report["pid"] != cache.client.pid               # its own engine, same data dir
    assert cache.get("from-child") == {"pid": child.pid}
    assert cache.get("shared") == 200                      # CAS holds across processes


def test_forked_child_gets_its_own_engine(cache):
    cache.set("before-fork", 1)
    parent_engine = cache.client.pid
    pid = os.fork()
    if pid == 0:                                           # child: never return into pytest
        status = 1
        try:
            child_cache = caches["default"]
            ok = (child_cache.get("before-fork") == 1 and child_cache.client.pid != parent_engine)
            child_cache.set("from-fork", child_cache.client.pid)
            close_engines()
            status = 0 if ok else 2
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert cache.client.pid == parent_engine and cache.client.process.alive()
    child_engine = cache.get("from-fork")
    assert child_engine not in (None, parent_engine)


# --- through Django ------------------------------------------------------------------------------

def test_views_through_the_test_client():
    from django.test import Client
    client = Client()
    first = client.get("/page/")
    assert first.status_code == 200
    assert client.get("/page/").content == first.content   # served by cache_page
    caches["default"].clear()
    assert client.get("/page/").content != first.content   # rendered again
    assert [client.get("/hits/").json()["hits"] for _ in range(3)] == [1, 2, 3]


def test_system_checks_pass():
    from django.core.management import call_command
    call_command("check", verbosity=0)
