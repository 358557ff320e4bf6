#!/usr/bin/env bash
# The training loop's own throughput against the PyTorch twin's: `gen train ddpm` on the twin's
# model (the benchmark's 32-channel UNet, batches of 64, lr 2e-4) with the default previews,
# checkpoints and EMA, and scripts/twin_loop.py (the twin's UNet with Adam, clipping and an EMA
# on the same data) each train for the same wall-clock minutes, one after the other; prints both
# step counts and their ratio as one JSON line.
#
#   scripts/loop-vs-pytorch.sh [--minutes 10] [--threads 2] [--python ~/venv-torch/bin/python]
#
# Both sides run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as BENCHMARKS.md asks.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=10 threads=2 python="${HOME}/venv-torch/bin/python"
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    *) echo "usage: $0 [--minutes M] [--threads N] [--python PATH]" >&2; exit 64 ;;
  esac
done
"$python" -c "import torch, h5py" 2>/dev/null || { echo "$python: no torch or h5py; install them as the README says" >&2; exit 66; }
swift build -c release --product gen >&2
[ -f datasets/mnist.h5 ] || datasets/make.sh mnist >&2
out=$(mktemp -d)
run=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
"${run[@]}" .build/release/gen train ddpm --data datasets/mnist.h5 --steps 100000000 --minutes "$minutes" --threads "$threads" \
    --channels 32 --batch-size 64 --lr 2e-4 --out "$out/gen" > "$out/gen.txt"
# "finished N steps in M:SS; …" or "stopped at … after N of M steps"
gen_steps=$(sed -n 's/^finished \([0-9]*\) steps.*/\1/p; s/.* after \([0-9]*\)\( of [0-9]*\)\{0,1\} steps.*/\1/p' "$out/gen.txt")
twin=$("${run[@]}" "$python" scripts/twin_loop.py --data datasets/mnist.h5 --minutes "$minutes" --threads "$threads")
twin_steps=$(echo "$twin" | sed 's/.*"steps": \([0-9]*\).*/\1/')
printf '{"minutes": %s, "threads": %s, "gen_steps": %s, "pytorch_steps": %s, "ratio": %s, "gen_run": "%s"}\n' \
    "$minutes" "$threads" "$gen_steps" "$twin_steps" "$(python3 -c "print(round($gen_steps / $twin_steps, 3))")" "$out/gen"
