"""Makes Tests/Fixtures/gan_parity.safetensors: the PyTorch twin's spectral-normalized Critic and
Generator (../shared/peers/reference_models.py) with seeded weights and power-iteration vectors,
renamed to gen's parameter paths, a fixed batch, and the twin's outputs in training mode (one
power iteration per spectral-normalized layer; batch statistics in the generator's batch norm)
and the u, v vectors after that iteration.

Needs torch and safetensors. Run from the repository root:
    ~/venv-torch/bin/python Tests/Fixtures/make_gan_fixtures.py
The Swift tests read only the file this writes.
"""
import os, sys

import torch
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "..", "shared", "peers"))
from reference_models import Critic, Generator  # noqa: E402

# twin critic layers → gen's Critic (Sources/GAN/WGAN.swift): net.0 conv1, net.2 conv2, net.5 fc;
# parametrizations.weight.original → layer.weight, parametrizations.weight.0._u → u, bias → layer.bias
CRITIC = {"0": "conv1", "2": "conv2", "5": "fc"}
GENERATOR = {"fc": "fc", "net.0": "up1", "net.1": "norm", "net.3": "up2"}


def critic_name(name):
    _, index, rest = name.split(".", 2)
    layer = CRITIC[index]
    if rest == "parametrizations.weight.original":
        return f"{layer}.layer.weight"
    if rest == "parametrizations.weight.0._u":
        return f"{layer}.u"
    if rest == "parametrizations.weight.0._v":
        return f"{layer}.v"
    return f"{layer}.layer.{rest}"


def generator_name(name):
    for prefix, replacement in GENERATOR.items():
        if name.startswith(prefix + "."):
            return replacement + name[len(prefix):]
    raise KeyError(name)


def main():
    torch.manual_seed(0)
    critic, generator = Critic(), Generator()
    tensors = {}
    for name, tensor in critic.state_dict().items():
        tensors["critic." + critic_name(name)] = tensor.detach().clone()
    for name, tensor in generator.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        tensors["generator." + generator_name(name)] = tensor.detach().clone()
    images = torch.rand(4, 1, 28, 28) * 2 - 1
    z = torch.randn(4, 64)
    critic.train(); generator.train()
    scores = critic(images)
    fakes = generator(z)
    tensors["input.images"] = images
    tensors["input.z"] = z
    tensors["output.scores"] = scores.detach()
    tensors["output.fakes"] = fakes.detach()
    for name, tensor in critic.state_dict().items():
        if "_u" in name or "_v" in name:
            tensors["after." + critic_name(name)] = tensor.detach().clone()
    # the gradient of the critic's mean score with respect to its first weight, one more pass
    critic.zero_grad()
    critic(images).mean().backward()
    tensors["grad.conv1.layer.weight"] = critic.net[0].parametrizations.weight.original.grad.detach().clone()
    for name, tensor in critic.state_dict().items():
        if "_u" in name or "_v" in name:
            tensors["after2." + critic_name(name)] = tensor.detach().clone()
    save_file({k: v.contiguous().float() for k, v in tensors.items()}, os.path.join(here, "gan_parity.safetensors"),
              metadata={"made_by": "Tests/Fixtures/make_gan_fixtures.py", "torch": torch.__version__})
    print(f"wrote gan_parity.safetensors: {len(tensors)} tensors, critic params "
          f"{sum(p.numel() for p in critic.parameters())}, generator params {sum(p.numel() for p in generator.parameters())}")


if __name__ == "__main__":
    main()
