#!/usr/bin/env bash
# Installs the Debian packages of the given groups (see debian-packages.txt) that are missing.
# Runs `apt-get update` once, and only if something is missing. Needs root (or sudo) only then.
# Usage: packaging/ensure-deps.sh build python [hosts bench fuzz]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
wanted=()
for group in "$@"; do
  line="$(grep -E "^${group}[[:space:]]" "$here/debian-packages.txt" || true)"
  [ -n "$line" ] || { echo "ensure-deps: unknown group '$group'" >&2; exit 2; }
  read -r -a pkgs <<<"${line#"$group"}"
  wanted+=("${pkgs[@]}")
done
missing=()
for p in "${wanted[@]}"; do
  # A package counts as present when dpkg has it fully installed.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# cargo from rustup (on PATH) is as good as Debian's for the offline Rust host.
if command -v cargo >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]+"${missing[@]}"}"; do [ "$p" = cargo ] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "ensure-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
