"""A Django cache backend on litestash-engine: `litestash.contrib.django.LiteStashCache`.

    CACHES = {
        "default": {
            "BACKEND": "litestash.contrib.django.LiteStashCache",
            "LOCATION": "/var/lib/myapp/cache",     # the engine's data dir
            "TIMEOUT": 300,                          # default timeout in seconds; None: forever
            "KEY_PREFIX": "", "VERSION": 1,          # as for every Django cache
            "OPTIONS": {                             # all optional
                "engine": None,                      # binary; default $LITESTASH_ENGINE, $PATH
                "shards": 16,                        # the data dir's shard count
                "request_timeout": None,             # seconds to wait for each answer
                "flags": {"sync": "normal"},         # more engine flags (`LiteStash(**flags)`)
            },
        },
    }

The whole Django cache API works (Django 3.2 and later): get, set, add, delete, get_many,
set_many, delete_many, incr, decr, touch, has_key, clear, close, and what `BaseCache` derives
from them (get_or_set, incr_version, decr_version, `in`).

Contract:

- **Engines.** One engine process per OS process and data dir, shared by every alias and thread
  of that process (a registry keyed by the data dir's real path). It is started on first use,
  started again when it has exited, and started afresh in a forked child (the registry checks
  `os.getpid()`; the parent's engine is left alone). `close()` does nothing, since Django calls
  it after every request; `close_engines()` (also run at exit) shuts this process's engines down
  cleanly. Several processes on one data dir (workers, management commands) see each other's
  writes. Two aliases may share a data dir only with the same `engine`, `shards`,
  `request_timeout` and `flags` (ImproperlyConfigured otherwise).
- **Values.** An `int` (exactly `int`, in MessagePack's range -2**63 .. 2**64-1) is stored as a
  plain MessagePack integer, so it is readable by other hosts and `incr` works on it; anything
  else (bool, float, str, objects) is pickled and stored as bytes, as Django's redis backend
  does. A stored value that is neither (written by another host) is returned as MessagePack
  decodes it.
- **Timeouts** are seconds (floats allowed). `DEFAULT_TIMEOUT` means the alias's `TIMEOUT`;
  `None` means forever; 0 or less means "expire at once": `set`/`set_many` delete the key(s),
  `add` stores nothing and answers whether the key was absent, `touch` deletes the key. A
  positive timeout becomes the engine's `ttl_ms` (rounded up to whole milliseconds).
- **Atomicity.** `add` is one conditional write (`set` with `if_version=0`; a `Conflict` means
  the key was there: not added). `incr`/`decr` are a compare-and-set loop (`get_with_version`,
  then `set` with `if_version`, retried on `Conflict`), safe across threads and processes; they
  keep the key's expiry and raise ValueError when the key is missing.
- **Keys.** Django's `validate_key` warnings (CacheKeyWarning: longer than 250 characters,
  control characters or space), then `InvalidCacheKey` for a key the engine refuses (not
  encodable as UTF-8, empty, or longer than the engine's `max_key_bytes`, 1024 by default).
- **clear()** without a `KEY_PREFIX` is the engine's `clear`: every key of the whole data dir
  goes, whoever wrote it (other aliases on that data dir included; streams are kept). With a
  `KEY_PREFIX` it removes only the keys that start with it (`KEY_PREFIX + ":"` with Django's
  default key function, `KEY_PREFIX` alone with a custom `KEY_FUNCTION`), by scan + mdelete in
  batches: not atomic, and keys written meanwhile may survive.
- `MAX_ENTRIES`/`CULL_FREQUENCY` are accepted and ignored (nothing is culled); other unknown
  `OPTIONS` are refused (ImproperlyConfigured). Engine errors (`ValueTooLarge`, `EngineExited`,
  ...) propagate as the `LiteStashError`s they are.
"""
import atexit
import math
import os
import pickle
import threading
from typing import Any, NamedTuple, Optional, Tuple

from django.core.cache.backends.base import (DEFAULT_TIMEOUT, BaseCache, InvalidCacheKey,
                                             default_key_func)
from django.core.exceptions import ImproperlyConfigured

from ..client import LiteStash
from ..errors import Conflict, LiteStashError
from ..protocol import DEFAULT_SHARDS

__all__ = ["LiteStashCache", "close_engines", "dumps", "loads"]

_MISSING = object()


# --- values ------------------------------------------------------------------------------------

_INT_MIN, _INT_MAX = -(1 << 63), (1 << 64) - 1


def dumps(value: Any) -> Any:
    """What is stored for `value`: the int itself when MessagePack can hold it, else pickle bytes."""
    if type(value) is int and _INT_MIN <= value <= _INT_MAX:
        return value
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def loads(stored: Any) -> Any:
    """The Python value of what `get` read: bytes are unpickled, anything else is returned as is."""
    if isinstance(stored, bytes):
        return pickle.loads(stored)
    return stored


# --- timeouts ----------------------------------------------------------------------------------

_MAX_TTL_MS = (1 << 63) - 1


def ttl_ms_of(timeout: Optional[float]) -> Optional[int]:
    """A Django timeout in seconds as the engine's ttl_ms: None (forever), 0 (expire at once: the
    caller must not store) or milliseconds >= 1, rounded up and capped at 2**63 - 1."""
    if timeout is None:
        return None
    if timeout <= 0:
        return 0
    ms = timeout * 1000
    return _MAX_TTL_MS if ms >= _MAX_TTL_MS else max(1, math.ceil(ms))


# --- the per-process engine registry -----------------------------------------------------------

class EngineConfig(NamedTuple):
    """Everything an engine for one data dir is started with; aliases sharing a data dir must
    agree on it."""
    data_dir: str
    engine: Optional[str]
    shards: int
    request_timeout: Optional[float]
    flags: Tuple[Tuple[str, Any], ...]


_OPTIONS = {"data_dir", "engine", "shards", "request_timeout", "flags"}
_IGNORED_OPTIONS = {"MAX_ENTRIES", "CULL_FREQUENCY"}  # read by BaseCache; nothing is culled here


def config_from(location: str, options: dict) -> EngineConfig:
    """The EngineConfig of a CACHES entry (its LOCATION and OPTIONS); ImproperlyConfigured when
    there is no data dir, LOCATION and OPTIONS["data_dir"] disagree, or an option is unknown."""
    unknown = set(options) - _OPTIONS - _IGNORED_OPTIONS
    if unknown:
        raise ImproperlyConfigured("litestash cache: unknown OPTIONS %s (known: %s)"
                                   % (sorted(unknown), sorted(_OPTIONS)))
    data_dir = options.get("data_dir")
    if data_dir and location and os.path.realpath(data_dir) != os.path.realpath(location):
        raise ImproperlyConfigured("litestash cache: LOCATION %r and OPTIONS['data_dir'] %r differ"
                                   % (location, data_dir))
    data_dir = data_dir or location
    if not data_dir:
        raise ImproperlyConfigured("litestash cache: set LOCATION (or OPTIONS['data_dir']) to the "
                                   "engine's data dir")
    flags = options.get("flags") or {}
    if not isinstance(flags, dict):
        raise ImproperlyConfigured("litestash cache: OPTIONS['flags'] must be a dict of engine flags")
    return EngineConfig(os.path.realpath(os.fspath(data_dir)), options.get("engine"),
                        int(options.get("shards", DEFAULT_SHARDS)), options.get("request_timeout"),
                        tuple(sorted(flags.items())))


class _Entry(NamedTuple):
    pid: int
    config: EngineConfig
    client: LiteStash


_engines = {}        # real data dir -> _Entry
_lock = threading.Lock()


def _usable(entry: Optional[_Entry], config: EngineConfig) -> Optional[LiteStash]:
    """The entry's client when it belongs to this process and its engine runs; raises when the
    data dir is already served with another configuration."""
    if entry is None or entry.pid != os.getpid():
        return None                       # none yet, or the parent's (after fork): not ours
    if entry.config != config:
        raise ImproperlyConfigured("litestash cache: data dir %r is already used with %r, not %r"
                                   % (config.data_dir, entry.config, config))
    return entry.client if entry.client.process.alive() else None


def engine_for(config: EngineConfig) -> LiteStash:
    """This process's client for `config.data_dir`, starting the engine when there is none, when
    it exited, or when the registry entry was inherited through fork."""
    client = _usable(_engines.get(config.data_dir), config)
    if client is not None:
        return client
    with _lock:
        client = _usable(_engines.get(config.data_dir), config)
        if client is None:
            client = LiteStash(data_dir=config.data_dir, shards=config.shards,
                               engine=config.engine, timeout=config.request_timeout,
                               **dict(config.flags))
            # An inherited entry is dropped, never closed: that engine belongs to the parent.
            _engines[config.data_dir] = _Entry(os.getpid(), config, client)
        return client


def close_engines() -> None:
    """Shut down every engine this process started (clean exit: stdin closed, status checked).
    The next cache call starts a new one. Raises the first close error after closing them all."""
    with _lock:
        mine = [e.client for e in _engines.values() if e.pid == os.getpid()]
        _engines.clear()
    first_error = None
    for client in mine:
        try:
            client.close()
        except LiteStashError as e:
            first_error = first_error or e
    if first_error is not None:
        raise first_error


def _close_at_exit() -> None:
    try:
        close_engines()
    except LiteStashError:
        pass


def _reset_lock_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a thread of the parent may have held it at fork time


atexit.register(_close_at_exit)
os.register_at_fork(after_in_child=_reset_lock_in_child)


# --- batching ----------------------------------------------------------------------------------

_BATCH_KEYS = 1000
_BATCH_BYTES = 4 << 20   # well under the engine's default 16 MiB frame


def _batches(items, weigh=lambda item: 0):
    """`items` in lists of at most _BATCH_KEYS, each weighing about _BATCH_BYTES at most (one
    heavier item goes alone)."""
    batch, weight = [], 0
    for item in items:
        w = weigh(item)
        if batch and (len(batch) >= _BATCH_KEYS or weight + w > _BATCH_BYTES):
            yield batch
            batch, weight = [], 0
        batch.append(item)
        weight += w
    if batch:
        yield batch


def _entry_weight(entry) -> int:
    key, stored = entry
    return len(key) + (len(stored) if isinstance(stored, bytes) else 9)


# --- the backend -------------------------------------------------------------------------------

class LiteStashCache(BaseCache):
    """Django cache backend storing into a litestash-engine data dir (see the module docstring
    for the contract)."""

    def __init__(self, location, params):
        super().__init__(params)
        self._config = config_from(location, params.get("OPTIONS") or {})

    @property
    def client(self) -> LiteStash:
        """The `LiteStash` client of this process's engine for the data dir (started lazily)."""
        return engine_for(self._config)

    # --- keys and timeouts ------------------------------------------------------------------
    def validate_key(self, key):
        """Django's CacheKeyWarning checks, then InvalidCacheKey for a key the engine refuses
        (not UTF-8 encodable, empty, longer than max_key_bytes)."""
        super().validate_key(key)
        try:
            size = len(key.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidCacheKey("Cache key is not encodable as UTF-8: %r" % (key,)) from None
        limit = self.client.info.get("max_key_bytes", 1024)
        if not 0 < size <= limit:
            raise InvalidCacheKey("Cache key must be 1 to %d UTF-8 bytes, got %d: %r"
                                  % (limit, size, key))

    def _key(self, key, version):
        key = self.make_key(key, version=version)
        self.validate_key(key)
        return key

    def get_backend_timeout(self, timeout=DEFAULT_TIMEOUT):
        """The engine's ttl_ms for `timeout`: None (forever), 0 (expire at once), else ms >= 1."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return ttl_ms_of(timeout)

    def _clear_prefix(self) -> str:
        return self.key_prefix + ":" if self.key_func is default_key_func else self.key_prefix

    # --- single keys ------------------------------------------------------------------------
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        """Store only when the key is absent (atomic); True when stored. Timeout 0 stores
        nothing and answers whether the key was absent."""
        key = self._key(key, version)
        ttl_ms = self.get_backend_timeout(timeout)
        if ttl_ms == 0:
            return not self.client.exists(key)
        try:
            self.client.set(key, dumps(value), ttl_ms, if_version=0)
        except Conflict:
            return False
        return True

    def get(self, key, default=None, version=None):
        stored = self.client.get(self._key(key, version), _MISSING)
        return default if stored is _MISSING else loads(stored)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        """Store (replacing value and expiry); timeout 0 deletes the key instead."""
        key = self._key(key, version)
        ttl_ms = self.get_backend_timeout(timeout)
        if ttl_ms == 0:
            self.client.delete(key)
        else:
            self.client.set(key, dumps(value), ttl_ms)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        """New expiry for a live key (None: never; 0: delete it); True when the key was live."""
        key = self._key(key, version)
        ttl_ms = self.get_backend_timeout(timeout)
        if ttl_ms is None:
            return self.client.persist(key) or self.client.exists(key)
        if ttl_ms == 0:
            return self.client.delete(key)
        return self.client.expire(key, ttl_ms)

    def delete(self, key, version=None):
        """True when a live key was removed."""
        return self.client.delete(self._key(key, version))

    def has_key(self, key, version=None):
        return self.client.exists(self._key(key, version))

    def incr(self, key, delta=1, version=None):
        """Add `delta` atomically (compare-and-set loop), keeping the key's expiry; returns the
        new value. ValueError when the key is missing."""
        name = self._key(key, version)
        client = self.client
        while True:
            found = client.get_with_version(name)
            if found is None:
                raise ValueError("Key '%s' not found" % key)
            stored, current = found
            value = loads(stored) + delta
            ttl_ms = client.ttl(name).ttl_ms     # an expiry gone meanwhile fails the check below
            try:
                client.set(name, dumps(value), ttl_ms, if_version=current)
            except Conflict:
                continue
            return value

    # decr is BaseCache's: incr(key, -delta).

    # --- many keys --------------------------------------------------------------------------
    def get_many(self, keys, version=None):
        """{key: value} for the keys that are present."""
        by_name = {self._key(key, version): key for key in keys}
        found = {}
        for names in _batches(by_name):
            for name, stored in zip(names, self.client.mget(names, _MISSING)):
                if stored is not _MISSING:
                    found[by_name[name]] = loads(stored)
        return found

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        """Store every pair (timeout 0: delete them); returns [] (no key fails alone). Each batch
        of up to 1000 keys is written all or nothing."""
        entries = [(self._key(key, version), dumps(value)) for key, value in data.items()]
        ttl_ms = self.get_backend_timeout(timeout)
        for batch in _batches(entries, _entry_weight):
            if ttl_ms == 0:
                self.client.mdelete([name for name, _ in batch])
            else:
                self.client.mset(batch, ttl_ms)
        return []

    def delete_many(self, keys, version=None):
        for names in _batches([self._key(key, version) for key in keys]):
            self.client.mdelete(names)

    def clear(self):
        """Without KEY_PREFIX: the engine's `clear` (the whole data dir's keys). With one: the
        keys starting with it, by scan + mdelete."""
        client = self.client
        if not self.key_prefix:
            client.clear()
            return
        prefix, after = self._clear_prefix(), None
        while True:
            names, more = client.scan(prefix, after, _BATCH_KEYS)
            if names:
                client.mdelete(names)
            if not more or not names:
                return
            after = names[-1]

    def close(self, **kwargs):
        """Nothing: Django calls this after every request, and the engine is shared by the
        process (see `close_engines`)."""
