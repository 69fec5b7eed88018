#!/usr/bin/env bash
# Builds the native addon for this machine (debug by default; `--release` for a release build)
# and regenerates binding.js / binding.d.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
npx napi build --platform --js binding.js --dts binding.d.ts "$@"
