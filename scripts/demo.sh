#!/usr/bin/env bash
# The demo: installs what it needs, builds gen in release mode and shows what it runs on.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product gen
.build/release/gen info
