#!/usr/bin/env bash
# Builds and runs the two Examples/ packages, which use gen as a library from outside, against
# runs made by the gen command line and for it. Part of scripts/test.sh; fails on any error.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
gen="$root/.build/release/gen"
data="$root/Tests/Fixtures/data/chunked_gzip.h5"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One scratch folder for both: the second build reuses gen's modules from the first. SwiftPM
# keeps a path dependency's list of files until the dependent's manifest changes: touch it, so
# files added to gen since the last build are compiled.
for example in CustomSampler TrainFromLibrary; do
    touch "Examples/$example/Package.swift"
    swift build -c release --package-path "Examples/$example" --scratch-path "$root/.build-examples"
done
bin="$root/.build-examples/release"

is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; }

# TrainFromLibrary trains through the run API; the command line then samples and resumes its run.
"$bin/TrainFromLibrary" "$data" "$work/library-run" 20
[ -f "$work/library-run/checkpoint.safetensors" ] && [ -f "$work/library-run/config.json" ]
"$gen" sample --run "$work/library-run" --n 4 --steps 3 "$work/library-run.png"
is_png "$work/library-run.png"
"$gen" train flow --resume "$work/library-run" --steps 22 --threads 2

# CustomSampler samples a run the command line trained.
"$gen" train ddpm --data "$data" --steps 20 --batch-size 8 --channels 8 --channel-multipliers 1,2 \
    --sample-every 0 --log-every 10 --out "$work/cli-run"
"$bin/CustomSampler" "$work/cli-run" "$work/custom.png" 10 | tee "$work/custom.txt"
is_png "$work/custom.png"
grep -q "in 11 network evaluations" "$work/custom.txt"
echo "examples: both packages built and ran against gen's runs"
