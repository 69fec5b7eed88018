#!/usr/bin/env bash
# The test command (README: `npm test`): installs what the tests need on a fresh machine
# (npm packages, the SecantusDB test server), builds the addon, then runs the Rust engine
# tests and the Node tests against real servers.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
export PATH="$HOME/.cargo/bin:$PATH"

if [ ! -d node_modules/@napi-rs/cli ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  bash scripts/npm-install.sh
fi
bash scripts/install-test-server.sh
bash scripts/install-browser.sh
bash scripts/build.sh

echo "== engine tests (cargo test)"
cargo test -p argon-core

echo "== node tests"
node --test --test-concurrency=2 __test__/

echo "== soak, short (50 worker kills, 2 server restarts; npm run soak -- --cycles 1000 for the long run)"
node scripts/soak.js --cycles 50 --workers 3 --server-every 25
