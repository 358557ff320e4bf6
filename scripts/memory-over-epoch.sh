#!/usr/bin/env bash
# Trains for one epoch on a dataset and samples the process's resident memory every 2 s, to
# show it stays flat: the dataset is read in mini-batches, never whole, and activations are
# reused step to step. Prints one line per sample (seconds, step, RSS) and a summary.
#
#   scripts/memory-over-epoch.sh [--kind ddpm|wgan|…] [DATA.h5] [extra gen train options…]
#   (default: a small DDPM, --channels 16 --batch-size 64, on datasets/fashion-mnist.h5; for
#   other kinds only --batch-size 64)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=ddpm
if [ "${1:-}" = --kind ]; then kind="$2"; shift 2; fi
data="${1:-datasets/fashion-mnist.h5}"; shift || true
[ -f "$data" ] || { echo "$data: not found (datasets/make.sh fashion makes it)" >&2; exit 66; }
defaults=(--batch-size 64)
[ "$kind" = ddpm ] && defaults+=(--channels 16)
swift build -c release --product gen >&2
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT
.build/release/gen train "$kind" --data "$data" --epochs 1 "${defaults[@]}" --sample-every 0 \
    --checkpoint-every 0 --log-every 50 --out "$run/run" --force "$@" > "$run/log" 2>&1 &
pid=$!
start=$(date +%s)
samples=()
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  step=$( { tail -n 1 "$run/run/metrics.jsonl" 2>/dev/null || true; } | sed -n 's/.*"step":\([0-9]*\).*/\1/p')
  if [ -n "$rss" ]; then
    awk -v s=$(( $(date +%s) - start )) -v step="${step:-0}" -v rss="$rss" 'BEGIN { printf "%4ds  step %5s  RSS %6.1f MiB\n", s, step, rss / 1024 }'
    samples+=("$rss")
  fi
  sleep 2
done
wait "$pid" || { cat "$run/log" >&2; exit 1; }
printf '%s\n' "${samples[@]}" | python3 -c '
import sys
v = [int(x) / 1024 for x in sys.stdin if x.strip()]
half = len(v) // 2
print(f"{len(v)} samples; RSS first half {min(v[:half]):.0f}-{max(v[:half]):.0f} MiB, second half {min(v[half:]):.0f}-{max(v[half:]):.0f} MiB")'
