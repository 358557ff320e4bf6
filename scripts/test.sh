#!/usr/bin/env bash
# The test suite: installs what it needs, then builds and runs every test in release mode
# (numeric code is 10-50x slower in debug builds).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product gen
# The real-data tests need datasets/mnist.h5; without network they are skipped, not failed.
datasets/make.sh mnist || echo "test.sh: could not make datasets/mnist.h5; the real-MNIST tests will be skipped"
swift test -c release "$@"
# The Examples/ packages: gen used as a library from outside, with runs of the command line.
scripts/examples.sh
