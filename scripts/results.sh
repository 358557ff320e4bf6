#!/usr/bin/env bash
# Quality against time: every family trained on MNIST (and Fashion-MNIST) with its defaults for
# the largest of --minutes, its state kept at each of the others (--snapshot-minutes), then each
# snapshot and the final run scored by gen eval (FID on gen's own classifier features, beside
# the floor of real against real). Writes results.jsonl, table.md and fid-vs-minutes.png (one
# line per family, the floor drawn) into the output folder, one set per dataset.
#
#   scripts/results.sh [--minutes "2 5 10 20"] [--n 1000] [--datasets "mnist fashion"]
#                      [--families "ddpm sde flow vae realnvp wgan"] [--out results/DATE] [--quick]
#   scripts/results.sh --report results/DATE     # the table and the plot again, from results.jsonl
#
# --quick checks the pipeline in a few minutes (a short classifier, tiny budgets). The budgets
# are wall-clock minutes: run it with the machine to itself.
set -euo pipefail
cd "$(dirname "$0")/.."

marks="2 5 10 20" n=1000 datasets="mnist fashion" families="ddpm sde flow vae realnvp wgan"
out="results/$(date +%Y%m%d-%H%M)" classifier_steps=3000 report=""
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) marks="$2"; shift 2 ;;
        --n) n="$2"; shift 2 ;;
        --datasets) datasets="$2"; shift 2 ;;
        --families) families="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --quick) classifier_steps=200 marks="0.2 0.5" n=200; shift ;;
        --report) report="$2"; shift 2 ;;
        *) echo "results.sh: unknown option $1" >&2; exit 64 ;;
    esac
done

# report FOLDER: table.md and fid-vs-minutes.png of each dataset from FOLDER/results.jsonl
report() {
    local folder="$1"
    "$folder/gen" runs --plot "$folder/results.jsonl" --out "$folder/fid-vs-minutes.png" --force
    python3 - "$folder/results.jsonl" > "$folder/table.md" <<'PYTHON'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
names = {"mnist": "MNIST (5,000)", "fashion": "Fashion-MNIST"}
for dataset in [d for d in ["mnist", "fashion"] if any(r["dataset"] == d for r in rows)]:
    here = [r for r in rows if r["dataset"] == dataset]
    floor = next(r for r in here if r["family"] == "floor")["fid"]
    marks = sorted({r["minutes"] for r in here if "minutes" in r})
    print(f"**{names[dataset]}**: FID at n = {here[0]['n']} on gen's classifier features (floor {floor:.2f})\n")
    print("| family | recipe | " + " | ".join(f"{m:g} min" for m in marks) + " | steps |")
    print("| --- | --- | " + " | ".join("---" for _ in marks) + " | --- |")
    for family in ["ddpm", "sde", "flow", "vae", "realnvp", "wgan"]:
        mine = {r["minutes"]: r for r in here if r["family"] == family and "minutes" in r}
        if not mine:
            continue
        cells = [f"{mine[m]['fid']:.1f} ({mine[m]['fid'] / floor:.1f}×)" if m in mine else "—" for m in marks]
        last = mine[max(mine)]
        print(f"| {family} | `{last['recipe']}` | " + " | ".join(cells) + f" | {last['steps']:,} |")
    print()
PYTHON
    cat "$folder/table.md"
}
if [ -n "$report" ]; then report "$report"; exit 0; fi

bash scripts/setup.sh
swift build -c release --product gen
for dataset in $datasets; do datasets/make.sh "$dataset"; done
mkdir -p "$out"
# a copy of the binary, so a rebuild while this runs does not change what it measures
gen="$out/gen"
cp .build/release/gen "$gen"
log="$out/results.jsonl"
: > "$log"
budget=$(echo $marks | tr ' ' '\n' | sort -g | tail -n 1)
earlier=$(echo $marks | tr ' ' '\n' | sort -g | head -n -1 | paste -sd, -)

for dataset in $datasets; do
    case "$dataset" in
        # MNIST here is 5,000 digits: sample metrics against the whole file (as FID on MNIST
        # usually is); Fashion-MNIST's against its test images.
        mnist) train=datasets/mnist.h5 test=datasets/mnist.h5 ;;
        fashion) train=datasets/fashion-mnist.h5 test=datasets/fashion-mnist-test.h5 ;;
        *) echo "results.sh: unknown dataset $dataset (mnist or fashion)" >&2; exit 64 ;;
    esac
    folder="$out/$dataset"
    mkdir -p "$folder"
    echo "== $dataset: the feature classifier" >&2
    "$gen" train classifier --data "$train" --holdout 0.1 --threads 2 --log-every 500 --steps "$classifier_steps" \
        --out "$folder/classifier" --force
    floor=$("$gen" eval --floor --data "$test" --n "$n" --metric fid --features "$folder/classifier" | tail -n 1)
    printf '{"family": "floor", "dataset": "%s", "n": %s, "fid": %s}\n' "$dataset" "$n" \
        "$(echo "$floor" | sed 's/.*"fid": *\([0-9.]*\).*/\1/')" >> "$log"
    for family in $families; do
        echo "== $dataset: $family for $budget minutes" >&2
        run="$folder/$family"
        recipe="gen train $family --data $train --minutes $budget"
        "$gen" train "$family" --data "$train" --threads 2 --minutes "$budget" ${earlier:+--snapshot-minutes "$earlier"} \
            --out "$run" --force > "$folder/$family.train.txt"
        for mark in $marks; do
            where="$run"
            if [ "$mark" != "$budget" ]; then
                where=$(ls -d "$run"/snapshots/minute-* 2>/dev/null | grep -E "minute-${mark}\$" || true)
                [ -n "$where" ] || { echo "results.sh: $run has no snapshot at $mark minutes" >&2; continue; }
            fi
            line=$("$gen" eval --run "$where" --data "$test" --metric fid --n "$n" --features "$folder/classifier" --threads 2 | tail -n 1)
            steps=$("$gen" runs "$(dirname "$where")" 2>/dev/null | awk -v f="$where" '$NF == f { split($2, s, "/"); print s[1] }' | tr -d ',' | head -n 1)
            fid=$(echo "$line" | sed 's/.*"fid": *\([0-9.]*\).*/\1/')
            printf '{"family": "%s", "dataset": "%s", "minutes": %s, "n": %s, "fid": %s, "steps": %s, "recipe": "%s"}\n' \
                "$family" "$dataset" "$mark" "$n" "$fid" "${steps:-0}" "$recipe" >> "$log"
        done
        "$gen" sample "$folder/$family.png" --force --run "$run" --n 64 > /dev/null
    done
done
report "$out"
