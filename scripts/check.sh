#!/usr/bin/env bash
# `npm run check`: exactly what CI runs. Formatting, lints, the engine's independence from
# napi, then the full test command (which includes the TypeScript type test).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
export PATH="$HOME/.cargo/bin:$PATH"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
echo "== argon-core must not depend on napi"
if cargo tree -p argon-core -e normal,build --prefix none | grep -Eq '^napi'; then
  echo "napi entered argon-core's dependency tree" >&2
  exit 1
fi
bash scripts/test.sh
