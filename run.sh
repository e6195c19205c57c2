#!/usr/bin/env bash
# The main job: install what is missing, build the engine and litestash-cli, then start the
# engine on ./data through the quick-start host (examples/demo.py), which writes and reads a few
# keys and prints them.
set -euo pipefail
cd "$(dirname "$0")"
packaging/ensure-deps.sh build python
LITESTASH_BUILD_TARGET="litestash-engine litestash-cli" packaging/build.sh build
/usr/bin/python3 examples/demo.py "$PWD/data"
