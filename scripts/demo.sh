#!/usr/bin/env bash
# The demo: installs what it needs, builds gen in release mode, makes datasets/mnist.h5 if it is
# missing, trains a small DDPM on it (about 3 minutes on 2 cores) and writes samples.png:
# 64 samples in an 8×8 grid (ancestral sampling, 200 steps).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product gen
[ -f datasets/mnist.h5 ] || datasets/make.sh mnist
gen=.build/release/gen
"$gen" train ddpm --data datasets/mnist.h5 --steps 2500 --batch-size 32 --channels 16 --lr 1e-3 --sample-every 1250
"$gen" sample --n 64 --nrow 8 --steps 200 --force samples.png
