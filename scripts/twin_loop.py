"""The PyTorch twin's training loop, for `scripts/loop-vs-pytorch.sh`.

Trains ../shared/peers/reference_models.py's UNetSmall (the twin of gen's default ddpm UNet)
as `gen train ddpm` does: batches of 64 real images from the HDF5 file in a shuffled order,
ε-prediction on the linear schedule of T = 1000, Adam at lr 2e-4 after 100 linear warm-up
steps, gradients clipped at norm 1, an EMA of the weights (decay 0.999) after every update, for
a number of wall-clock minutes; prints one JSON line with the steps made.
"""
import argparse, importlib.util, json, sys, time

import h5py, numpy as np, torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--data", required=True)
ap.add_argument("--minutes", type=float, default=10)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--twin", default="../shared/peers/reference_models.py")
a = ap.parse_args()

spec = importlib.util.spec_from_file_location("reference_models", a.twin)
twin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(twin)
torch.set_num_threads(a.threads)
torch.manual_seed(0)

with h5py.File(a.data, "r") as f:
    images = np.asarray(f["images"], dtype=np.float32)
images = torch.from_numpy(images.reshape(len(images), 1, 28, 28) / 127.5 - 1)

model = twin.UNetSmall()
ema = [p.detach().clone() for p in model.parameters()]
opt = torch.optim.Adam(model.parameters(), lr=2e-4)
betas = torch.linspace(1e-4, 0.02, 1000)
abar = torch.cumprod(1 - betas, 0)
batch, steps, order, position = 64, 0, torch.randperm(len(images)), 0
deadline = time.perf_counter() + 60 * a.minutes
start = time.perf_counter()
while time.perf_counter() < deadline:
    if position + batch > len(order):
        order, position = torch.randperm(len(images)), 0
    x0 = images[order[position:position + batch]]
    position += batch
    for group in opt.param_groups:
        group["lr"] = 2e-4 * min(1.0, (steps + 1) / 100)
    t = torch.randint(0, 1000, (batch,))
    eps = torch.randn_like(x0)
    at = abar[t][:, None, None, None]
    loss = F.mse_loss(model(at.sqrt() * x0 + (1 - at).sqrt() * eps, t), eps)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    with torch.no_grad():
        d = min(0.999, (1 + steps) / (10 + steps))
        for e, p in zip(ema, model.parameters()):
            e.mul_(d).add_(p.detach(), alpha=1 - d)
    steps += 1
seconds = time.perf_counter() - start
print(json.dumps({"framework": "pytorch-" + torch.__version__, "steps": steps, "seconds": round(seconds, 1),
                  "steps_per_minute": round(60 * steps / seconds, 1), "loss": round(loss.item(), 4)}), flush=True)
