#!/usr/bin/env bash
# The demo command (README: `npm run demo`): installs and builds what is missing, then runs
# the walkthrough against $MONGODB_URI, or against a local test server it starts and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
export PATH="$HOME/.cargo/bin:$PATH"
[ -d node_modules/commander ] || bash scripts/npm-install.sh
ls argondb.*.node >/dev/null 2>&1 || bash scripts/build.sh
[ -n "${MONGODB_URI:-}" ] || bash scripts/install-test-server.sh
node bin/argon.js demo "$@"
