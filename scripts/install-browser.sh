#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard's browser tests (driven by playwright-core
# through executablePath) when it is missing. Needs root and Debian's package registry.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "== installing chromium (browser tests)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium >/dev/null
