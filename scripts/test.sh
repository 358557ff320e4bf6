#!/usr/bin/env bash
# The test suite: installs what it needs, then builds and runs every test in release mode
# (numeric code is 10-50x slower in debug builds).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift test -c release "$@"
