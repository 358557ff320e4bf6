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

    print(json.dumps({"op": "matmul", "shape": "512x512 @ 512x512", "framework": "pytorch-" + torch.__version__,
                      "forward_s": median_seconds(mm_fwd, a.reps), "forward_backward_s": median_seconds(mm_bwd, a.reps),
                      "gflop_forward": 2 * 512**3 / 1e9}), flush=True)

    # the same convolutions as OpBenchmarks.convolutionCases: (in, out, size, kernel, stride, padding, transposed)
    cases = [(64, 64, 28, 3, 1, 1, False), (32, 32, 28, 3, 1, 1, False), (32, 32, 14, 3, 1, 1, False),
             (32, 32, 7, 3, 1, 1, False), (64, 64, 14, 3, 1, 1, False), (64, 64, 7, 3, 1, 1, False), (1, 64, 28, 4, 2, 1, False),
             (64, 128, 14, 4, 2, 1, False), (128, 64, 7, 4, 2, 1, True), (64, 1, 14, 4, 2, 1, True)]
    for cin, cout, size, k, s, p, transposed in cases:
        x = torch.randn(64, cin, size, size, requires_grad=True)
        layer = (torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d)(cin, cout, k, stride=s, padding=p)
        with torch.no_grad():
            out_size = layer(x).shape[-1]
        g = torch.randn(64, cout, out_size, out_size)

        def conv_fwd():
            with torch.no_grad():
                layer(x)

        def conv_bwd():
            x.grad = None
            layer.zero_grad(set_to_none=True)
            layer(x).backward(g)

        shape = f"64x{cin}x{size}x{size}, {cin}->{cout}, {k}x{k}" + (f", stride {s}" if s != 1 else "") \
            + (f", pad {p}" if p else "") + (", transposed" if transposed else "")
        pixels = size * size if transposed else out_size * out_size
        print(json.dumps({"op": "conv_transpose2d" if transposed else "conv2d", "shape": shape,
                          "framework": "pytorch-" + torch.__version__,
                          "forward_s": median_seconds(conv_fwd, a.reps), "forward_backward_s": median_seconds(conv_bwd, a.reps),
                          "gflop_forward": 2 * 64 * pixels * cin * cout * k * k / 1e9}), flush=True)

if __name__ == "__main__":
    main()
