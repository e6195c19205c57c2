#!/usr/bin/python3
"""The quick-start host: spawns litestash-engine on ./data through the Python host library,
writes a few keys (a map, a vector of floats, a session with a TTL, a float32 kept as float32),
reads them back and prints what came back. Run by ./run.sh.

The host library is used from this checkout (hosts/python); an application would instead
`pip install ./hosts/python` and just `import litestash`."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "hosts", "python"))

from litestash import LiteStash  # noqa: E402


def main() -> None:
    data_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "data")
    engine = os.path.join(ROOT, "build", "litestash-engine")
    with LiteStash(data_dir=data_dir, engine=engine) as db:
        hello = db.hello()
        print(f"engine {hello['engine']} {hello['version']}: {hello['shards']} shards, "
              f"{hello['hash']}, data in {data_dir}")
        v1 = db.set("user:1001", {"name": "Alice", "score": 99})
        v2 = db.set("vec:1", [0.1, 0.5, 0.9])
        db.set("session:abc", {"user": 1001}, ttl_ms=60_000)
        db.set_raw("f32:one-and-a-half", b"\xca\x3f\xc0\x00\x00")  # a float32, stored as sent
        print(f"set user:1001 -> version {v1}")
        print(f"set vec:1     -> version {v2}")
        print("get user:1001     ->", db.get("user:1001"))
        print("get vec:1         ->", db.get("vec:1"))
        print("ttl session:abc   ->", db.ttl("session:abc"))
        print("get_raw f32:...   ->", db.get_raw("f32:one-and-a-half").hex(), "(float32 kept)")
        print("mget              ->", db.mget(["user:1001", "vec:1", "missing"]))
        keys, more = db.scan(limit=10)
        print("scan              ->", keys, "more" if more else "(all)")
        print("count             ->", db.count())


if __name__ == "__main__":
    main()
