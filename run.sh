#!/usr/bin/env bash
# The main job: install what is missing, build the engine, then start it on ./data through the
# quick-start host (examples/demo.py), which writes and reads a few keys and prints them.
set -euo pipefail
cd "$(dirname "$0")"
packaging/ensure-deps.sh build python
LITESTASH_BUILD_TARGET=litestash-engine packaging/build.sh build
/usr/bin/python3 examples/demo.py "$PWD/data"
