"""PyTorch side of `gen bench --ops`: the same operations, timed the same way.

Run both in one session with the same thread count, unsetting OpenBLAS's safety variables for
both (see README):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 scripts/bench_ops.py --threads 2
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .build/release/gen bench --ops --threads 2
"""
import argparse, json, statistics, time

import torch
import torch.nn.functional as F


def median_seconds(fn, reps, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=20)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    A = torch.randn(512, 512, requires_grad=True)
    B = torch.randn(512, 512, requires_grad=True)
    G = torch.randn(512, 512)

    def mm_fwd():
        with torch.no_grad():
            A @ B

    def mm_bwd():
        A.grad = B.grad = None
        (A @ B).backward(G)

    x = torch.randn(64, 64, 28, 28, requires_grad=True)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1)
    g = torch.randn(64, 64, 28, 28)

    def conv_fwd():
        with torch.no_grad():
            conv(x)

    def conv_bwd():
        x.grad = None
        conv.zero_grad(set_to_none=True)
        conv(x).backward(g)

    for op, shape, fwd, bwd, gflop in [
        ("matmul", "512x512 @ 512x512", mm_fwd, mm_bwd, 2 * 512**3 / 1e9),
        ("conv2d", "64x64x28x28, 64->64, 3x3, pad 1", conv_fwd, conv_bwd, 2 * 64 * 64 * 28 * 28 * 64 * 9 / 1e9),
    ]:
        print(json.dumps({"op": op, "shape": shape, "framework": "pytorch-" + torch.__version__,
                          "forward_s": median_seconds(fwd, a.reps), "forward_backward_s": median_seconds(bwd, a.reps),
                          "gflop_forward": gflop}), flush=True)


if __name__ == "__main__":
    main()
