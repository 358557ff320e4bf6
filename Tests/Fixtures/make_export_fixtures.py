"""Makes Tests/Fixtures/export/<case>/: what `gen export RUN --pytorch` writes for a small trained
run of each family (model.py, config.json, weights.safetensors), and outputs.safetensors: fixed
inputs and what the exported PyTorch module computes from them, so the Swift tests can check that
gen's own modules with the same weights give the same numbers, and that gen still exports the
same model.py and config.json.

The runs are trained by gen itself on Tests/Fixtures/data/chunked_gzip.h5 (a few steps, so the
weights are not the initial ones) with the release binary; build it first. Needs torch and
safetensors. Run from the repository root:
    swift build -c release --product gen
    ~/venv-torch/bin/python Tests/Fixtures/make_export_fixtures.py

outputs.safetensors holds, per case (inputs drawn with torch.manual_seed(0)):
  unet        x [3,1,8,8], t [3]                  -> out = model(x, t)
  vae-*       x [3,1,8,8] in [0,1], z [3,latent]  -> mu, logvar = model.encode(x); decoded = model.decode(z)
  realnvp     y [3,1,8,8] (logit space), z [3,64] -> log_prob = model.log_prob(y); inverse = model.inverse(z)[0]
  wgan        z [3,latent], x [3,1,8,8] in [-1,1] -> images = model.generator(z); scores = model.critic(x)
  classifier  x [3,1,8,8] in [-1,1]               -> logits = model(x); features = model.features(x)
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
gen = os.path.join(root, ".build", "release", "gen")
data = os.path.join(here, "data", "chunked_gzip.h5")
common = ["--data", data, "--steps", "4", "--batch-size", "8", "--threads", "2", "--sample-every", "0", "--log-every", "1"]

cases = {
    "unet": ["flow", "--channels", "8", "--channel-multipliers", "1,2", "--attention-resolutions", "4", "--warmup", "1"],
    "vae-mlp": ["vae", "--latent", "4", "--hidden", "32", "--likelihood", "bernoulli"],
    "vae-conv": ["vae", "--arch", "conv", "--latent", "4", "--hidden", "32", "--likelihood", "gaussian"],
    "realnvp": ["realnvp", "--scales", "1", "--couplings", "1", "--final-couplings", "1", "--hidden", "8", "--norm", "batchnorm"],
    "wgan": ["wgan", "--latent", "8", "--generator-width", "8", "--critic-width", "8", "--critic-steps", "2"],
    "classifier": ["classifier", "--channels", "4", "--features", "8"],
}


def load_model(folder):
    spec = importlib.util.spec_from_file_location(f"exported_{os.path.basename(folder)}", os.path.join(folder, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with open(os.path.join(folder, "config.json")) as f:
        model = module.Model(**json.load(f))
    model.load_state_dict(load_file(os.path.join(folder, "weights.safetensors")), strict=True)
    return model.eval()


def outputs(name, model, config):
    torch.manual_seed(0)
    if name == "unet":
        x, t = torch.randn(3, 1, 8, 8), torch.tensor([0.05, 0.5, 0.95])
        return {"x": x, "t": t, "out": model(x, t)}
    if name.startswith("vae"):
        x, z = torch.rand(3, 1, 8, 8), torch.randn(3, config["latent"])
        mu, logvar = model.encode(x)
        return {"x": x, "z": z, "mu": mu, "logvar": logvar, "decoded": model.decode(z)}
    if name == "realnvp":
        y, z = torch.randn(3, 1, 8, 8), torch.randn(3, 64)
        return {"y": y, "z": z, "log_prob": model.log_prob(y), "inverse": model.inverse(z)[0]}
    if name == "wgan":
        z, x = torch.randn(3, config["latent"]), torch.rand(3, 1, 8, 8) * 2 - 1
        return {"z": z, "x": x, "images": model.generator(z), "scores": model.critic(x)}
    if name == "classifier":
        x = torch.rand(3, 1, 8, 8) * 2 - 1
        return {"x": x, "logits": model(x), "features": model.features(x)}
    raise ValueError(name)


def main():
    if not os.access(gen, os.X_OK):
        sys.exit(f"{gen}: build gen first (swift build -c release --product gen)")
    with tempfile.TemporaryDirectory() as scratch:
        for name, arguments in cases.items():
            run = os.path.join(scratch, name)
            subprocess.run([gen, "train", arguments[0]] + common + arguments[1:] + ["--out", run], check=True,
                           stdout=subprocess.DEVNULL)
            folder = os.path.join(here, "export", name)
            shutil.rmtree(folder, ignore_errors=True)
            subprocess.run([gen, "export", run, "--pytorch", folder], check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(folder, "config.json")) as f:
                config = json.load(f)
            with torch.no_grad():
                tensors = outputs(name, load_model(folder), config)
            save_file({key: value.contiguous().float() for key, value in tensors.items()}, os.path.join(folder, "outputs.safetensors"))
            print(f"{name}: {', '.join(f'{k} {list(v.shape)}' for k, v in tensors.items())}")


if __name__ == "__main__":
    main()
