#!/usr/bin/env bash
# Installs the SecantusDB Rust server (secantusd-rs) used by tests and benchmarks.
# It is GPL: installed as a separate program, never linked into or shipped with argondb.
set -euo pipefail
WANT="0.5.3-beta.196"
if command -v secantusd-rs >/dev/null 2>&1 && secantusd-rs --version 2>/dev/null | grep -q "$WANT"; then
  echo "secantusd-rs $WANT already installed"; exit 0
fi
if ! command -v cmake >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends cmake >/dev/null
  else
    echo "cmake is required to build secantusd-rs (WiredTiger): install it and re-run" >&2; exit 1
  fi
fi
echo "building secantusd-rs $WANT (about 5-6 minutes the first time)..."
cargo install secantus-mdb --version "$WANT" --locked --ignore-rust-version --quiet
secantusd-rs --version
