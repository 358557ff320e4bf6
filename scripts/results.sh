#!/usr/bin/env bash
# The README's results table: every family trained on MNIST and Fashion-MNIST for the same
# wall-clock budget, then scored by gen eval against the test images: FID (beside the floor of
# real against real), KID, precision/recall, and bits/dim or NLL where the family has a likelihood.
#
#   scripts/results.sh [--minutes 4] [--n 2000] [--datasets "mnist fashion"] [--out results/DATE] [--quick]
#
# --quick checks the pipeline in a few minutes: a short classifier and few likelihood images.
# Writes every run, every JSON line (results.jsonl), a sample grid per run and table.md into
# the output folder. Runs with the machine to itself: the budgets are wall-clock minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=4 n=2000 datasets="mnist fashion" out="results/$(date +%Y%m%d-%H%M)"
classifier_steps=3000 likelihood_n=1000 ode_n=128
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) minutes="$2"; shift 2 ;;
        --n) n="$2"; shift 2 ;;
        --datasets) datasets="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --quick) classifier_steps=200 likelihood_n=16 ode_n=8; shift ;;
        *) echo "results.sh: unknown option $1" >&2; exit 64 ;;
    esac
done

bash scripts/setup.sh
swift build -c release
for dataset in $datasets; do datasets/make.sh "$dataset"; done
mkdir -p "$out"
# a copy of the binary, so a rebuild while this runs does not change what it measures
gen="$out/gen"
cp .build/release/gen "$gen"
log="$out/results.jsonl"
: > "$log"

# record FAMILY DATASET COMMAND... : runs a gen eval and appends its JSON line, tagged
record() {
    local family="$1" dataset="$2"; shift 2
    local line
    line=$("$gen" "$@" | tail -n 1)
    printf '{"family": "%s", "dataset": "%s", "result": %s}\n' "$family" "$dataset" "$line" >> "$log"
}

for dataset in $datasets; do
    case "$dataset" in
        # MNIST here is 5,000 digits: train on 90%, score likelihoods and accuracy on the 500
        # held out; sample metrics against a fixed shuffle of the whole file (training images
        # included, as FID on MNIST usually is).
        mnist) train=datasets/mnist.h5 holdout=0.1 test=datasets/mnist.h5 ;;
        fashion) train=datasets/fashion-mnist.h5 holdout=0 test=datasets/fashion-mnist-test.h5 ;;
        *) echo "results.sh: unknown dataset $dataset (mnist or fashion)" >&2; exit 64 ;;
    esac
    folder="$out/$dataset"
    mkdir -p "$folder"
    common=(--data "$train" --holdout "$holdout" --threads 2 --log-every 100)

    echo "== $dataset: the feature classifier" >&2
    "$gen" train classifier --data "$train" --holdout "$holdout" --threads 2 --log-every 500 --steps "$classifier_steps" \
        --out "$folder/classifier" --force
    record classifier "$dataset" eval --run "$folder/classifier" --data "$test" --metric accuracy
    record floor "$dataset" eval --floor --data "$test" --n "$n" --features "$folder/classifier"

    unet=(--channels 16 --batch-size 32 --lr 1e-3)
    for family in ddpm sde flow vae realnvp wgan; do
        echo "== $dataset: $family for $minutes minutes" >&2
        case "$family" in
            ddpm|flow) options=("${unet[@]}") ;;
            sde) options=(--sde vp "${unet[@]}") ;;
            vae) options=(--batch-size 128) ;;
            realnvp) options=(--batch-size 32) ;;
            wgan) options=(--batch-size 64) ;;
        esac
        run="$folder/$family"
        "$gen" train "$family" "${common[@]}" "${options[@]}" --minutes "$minutes" --steps 10000000 \
            --sample-every 0 --checkpoint-every 1000 --out "$run" --force | tee "$folder/$family.train.txt"
        # "stopped at the --minutes limit after N of M steps in M:SS; …"
        steps=$(sed -n 's/.* after \([0-9]*\) of .*/\1/p; s/^finished \([0-9]*\) steps.*/\1/p' "$folder/$family.train.txt")
        printf '{"family": "%s", "dataset": "%s", "command": "gen train %s --data %s --holdout %s %s --minutes %s", "steps": %s}\n' \
            "$family" "$dataset" "$family" "$train" "$holdout" "${options[*]}" "$minutes" \
            "$steps" >> "$log"
        record "$family" "$dataset" eval --run "$run" --data "$test" --metric fid,kid,pr --n "$n" --features "$folder/classifier"
        case "$family" in
            ddpm|sde|flow) record "$family" "$dataset" eval --run "$run" --data "$test" --metric bpd --n "$ode_n" --rtol 1e-4 --atol 1e-4 ;;
            realnvp) record "$family" "$dataset" eval --run "$run" --data "$test" --metric bpd --n "$likelihood_n" ;;
            vae) record "$family" "$dataset" eval --run "$run" --data "$test" --metric nll --n "$likelihood_n" --k 1000 ;;
        esac
        case "$family" in
            ddpm) "$gen" sample "$folder/$family.png" --force --run "$run" --n 64 --sampler ddim --steps 50 ;;
            sde|flow) "$gen" sample "$folder/$family.png" --force --run "$run" --n 64 --sampler heun --steps 25 ;;
            *) "$gen" sample "$folder/$family.png" --force --run "$run" --n 64 ;;
        esac
    done
done

python3 - "$log" "$minutes" "$n" > "$out/table.md" <<'EOF'
import json, sys
log, minutes, n = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [json.loads(line) for line in open(log)]
def find(family, dataset, key):
    for row in rows:
        if row["family"] == family and row["dataset"] == dataset and key in row.get("result", row):
            return row.get("result", row)
    return None
names = {"mnist": "MNIST (5,000)", "fashion": "Fashion-MNIST"}
print(f"| data | family | steps in {minutes} min | FID (floor) | KID × 10³ | precision | recall | likelihood |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for dataset in [d for d in ["mnist", "fashion"] if any(r["dataset"] == d for r in rows)]:
    floor = find("floor", dataset, "fid")
    accuracy = find("classifier", dataset, "accuracy")
    for family in ["ddpm", "sde", "flow", "vae", "realnvp", "wgan"]:
        quality = find(family, dataset, "fid")
        if quality is None:
            continue
        steps = find(family, dataset, "steps")
        likelihood = find(family, dataset, "bpd") if family != "vae" else find(family, dataset, "nll_nats")
        if likelihood is None:
            text = "—"
        elif family == "vae":
            text = f"{likelihood['nll_nats']:.1f} ± {likelihood['nll_stderr']:.1f} nats (IWAE k = {likelihood['k']}, n = {likelihood['n']})"
        else:
            text = f"{likelihood['bpd']:.3f} ± {likelihood['bpd_stderr']:.3f} bits/dim (n = {likelihood['n']})"
        print(f"| {names[dataset]} | {family} | {steps['steps']:,} | {quality['fid']:.2f} ({floor['fid']:.2f}) | "
              f"{1000 * quality['kid']:.2f} ± {1000 * quality['kid_stderr']:.2f} | {quality['precision']:.3f} | {quality['recall']:.3f} | {text} |")
    print(f"| {names[dataset]} | *real test images (the floor)* | | {floor['fid']:.2f} | {1000 * floor['kid']:.2f} ± {1000 * floor['kid_stderr']:.2f} | "
          f"{floor['precision']:.3f} | {floor['recall']:.3f} | classifier accuracy {100 * accuracy['accuracy']:.2f}% (n = {accuracy['n']}) |")
EOF
cat "$out/table.md"
