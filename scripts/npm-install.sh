#!/usr/bin/env bash
# Installs the npm packages at the versions in package-lock.json. `npm ci` is tried first;
# it refuses the lock when the registry cannot list the optional cross-platform packages of
# @napi-rs/cli's own dependencies (it happens on registry mirrors), and then `npm install`
# installs the same locked versions for this platform.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! npm ci --no-audit --no-fund; then
  echo "npm ci refused the lock file; installing the locked versions with npm install" >&2
  npm install --no-audit --no-fund
fi
