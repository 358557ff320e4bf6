#!/usr/bin/env bash
# Runs the four benchmark models side by side: gen (gen bench) and its PyTorch twin
# (../shared/peers/reference_models.py), as ../shared/BENCHMARKS.md says, in one session, and
# prints a Markdown table: train-step and forward times, gen/PyTorch ratio, GFLOP/s of gen's
# train step (FLOPs from BENCHMARKS.md), peak resident memory of each model's own process.
#
#   scripts/bench-vs-pytorch.sh [--threads 2] [--reps 20] [--rounds 3] [--python ~/venv-torch/bin/python]
#
# Times come from BENCHMARKS.md's own commands, all four models in one process per side, run
# --rounds times alternating gen and PyTorch; the table gives the median round and the range.
# Peak memory comes from one short process per model and side, so each is that model's own.
#
# Both sides run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as BENCHMARKS.md asks.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 reps=20 rounds=3 python="${HOME}/venv-torch/bin/python"
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    *) echo "usage: $0 [--threads N] [--reps N] [--rounds N] [--python PATH]" >&2; exit 64 ;;
  esac
done
twin=../shared/peers/reference_models.py
[ -f "$twin" ] || { echo "$twin: not found (the PyTorch twin lives in ../shared/peers)" >&2; exit 66; }
"$python" -c "import torch" 2>/dev/null || { echo "$python: no torch; install it as the README says" >&2; exit 66; }
swift build -c release --product gen >&2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {  # name, command…: JSON lines to $out/name.jsonl, peak memory to $out/name.time
  local name=$1; shift
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/time -v "$@" > "$out/$name.jsonl" 2> "$out/$name.time"
}
# times: BENCHMARKS.md's commands, all four models in one process per side
for round in $(seq "$rounds"); do
  run "pytorch-round$round" "$python" "$twin" --threads "$threads" --reps "$reps"
  run "gen-round$round" .build/release/gen bench --threads "$threads" --reps "$reps" --json
done
# memory: one process per model and side, so each peak resident memory is that model's own
models="ddpm-unet-small vae-mlp realnvp-small wgan-sn-dcgan"
for model in $models; do
  run "pytorch-$model" "$python" "$twin" --threads "$threads" --reps 3 --only "$model"
  run "gen-$model" .build/release/gen bench --threads "$threads" --reps 3 --only "$model"
done
python3 - "$out" "$threads" "$rounds" $models <<'PY'
import json, re, statistics, sys, datetime, platform
out, threads, rounds, models = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
def line(name):
    return next(json.loads(l) for l in open(f"{out}/{name}.jsonl") if l.startswith("{"))
def times(side, model, key):
    values = []
    for r in range(1, rounds + 1):
        values += [json.loads(l)[key] for l in open(f"{out}/{side}-round{r}.jsonl")
                   if l.startswith("{") and json.loads(l)["bench"] == model]
    return values
def peak(name):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{out}/{name}.time").read())
    return int(m.group(1)) / 1024 if m else float("nan")
# FLOPs of one train step: BENCHMARKS.md's counts; the MLP VAE's 6 · batch · parameters
gflop = {"ddpm-unet-small": 53, "realnvp-small": 57, "wgan-sn-dcgan": 11, "vae-mlp": 6 * 128 * 652824 / 1e9}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
torch_version = line(f"pytorch-{models[0]}")["framework"]
print(f"{datetime.date.today()}, {cpu}, {threads} threads, {torch_version}; median of {rounds} rounds "
      f"(each the median of timed steps after warm-up), range of the ratio over the rounds in brackets\n")
print("| model | gen train step | PyTorch train step | ratio | gen forward | PyTorch forward | ratio | gen GFLOP/s (train) | gen peak RSS | PyTorch peak RSS |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
def cell(model, key):
    g, t = times("gen", model, key), times("pytorch", model, key)
    ratios = [a / b for a, b in zip(g, t)]
    return statistics.median(g), statistics.median(t), f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})"
for name in models:
    gt, tt, rt = cell(name, "train_step_s")
    gf, tf, rf = cell(name, "forward_s")
    print(f"| {name} | {gt*1e3:.1f} ms | {tt*1e3:.1f} ms | {rt} | {gf*1e3:.2f} ms | {tf*1e3:.2f} ms | {rf} | "
          f"{gflop[name]/gt:.0f} | {peak(f'gen-{name}'):.0f} MB | {peak(f'pytorch-{name}'):.0f} MB |")
PY
