#!/usr/bin/env bash
# Recipes side by side: one family trained for the same wall-clock minutes with each recipe (a
# string of extra flags; "" is the defaults), one after the other, each scored by gen eval (FID
# on the features of a classifier run, e.g. the one scripts/results.sh trains). Prints one JSON
# line per recipe.
#
#   scripts/recipes.sh --family ddpm --features results/DATE/mnist/classifier [--minutes 5] [--n 1000]
#                      [--data datasets/mnist.h5] [--out DIR] -- "" "--edm --prediction velocity --edm-sigma-data 1"
#
# The budgets are wall-clock minutes: run it with the machine to itself (and, to compare with
# other measurements, with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE as they were there).
set -euo pipefail
cd "$(dirname "$0")/.."
family="" features="" minutes=5 n=1000 data=datasets/mnist.h5 out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --family) family="$2"; shift 2 ;;
        --features) features="$2"; shift 2 ;;
        --minutes) minutes="$2"; shift 2 ;;
        --n) n="$2"; shift 2 ;;
        --data) data="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --) shift; break ;;
        *) echo "recipes.sh: unknown option $1" >&2; exit 64 ;;
    esac
done
[ -n "$family" ] && [ -n "$features" ] && [ $# -gt 0 ] || {
    echo "usage: $0 --family F --features CLASSIFIER_RUN [--minutes M] [--n N] [--data FILE] [--out DIR] -- RECIPE..." >&2; exit 64; }
swift build -c release --product gen >&2
out="${out:-$(mktemp -d)}"
mkdir -p "$out"
gen="$out/gen"
cp .build/release/gen "$gen"
i=0
for recipe in "$@"; do
    i=$((i + 1))
    run="$out/$family-$i"
    # shellcheck disable=SC2086  # a recipe is a list of flags
    "$gen" train "$family" --data "$data" --threads 2 --minutes "$minutes" $recipe --out "$run" --force > "$run.train.txt"
    line=$("$gen" eval --run "$run" --data "$data" --metric fid --n "$n" --features "$features" --threads 2 | tail -n 1)
    fid=$(echo "$line" | sed 's/.*"fid": *\([0-9.]*\).*/\1/')
    steps=$(sed -n 's/^finished \([0-9]*\) steps.*/\1/p; s/.* after \([0-9]*\)\( of [0-9]*\)\{0,1\} steps.*/\1/p' "$run.train.txt" | tr -d ',' | head -n 1)
    printf '{"family": "%s", "recipe": "%s", "minutes": %s, "n": %s, "steps": %s, "fid": %s, "run": "%s"}\n' \
        "$family" "$recipe" "$minutes" "$n" "${steps:-0}" "$fid" "$run"
done
