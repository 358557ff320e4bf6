"""Makes Tests/Fixtures/unet_small_parity.safetensors: the PyTorch twin's UNetSmall
(../shared/peers/reference_models.py) with seeded weights, renamed to gen's parameter paths,
plus a fixed input, its time steps and the twin's output.

Needs torch and safetensors. Run from the repository root:
    ~/venv-torch/bin/python Tests/Fixtures/make_diffusion_fixtures.py
The Swift tests read only the file this writes.
"""
import os, re, sys

import torch
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "..", "shared", "peers"))
from reference_models import UNetSmall  # noqa: E402

# The twin's module names → gen's UNet paths (Sources/Diffusion/UNet.swift).
RENAMES = [
    (r"^temb\.", "time_embedding."), (r"^inp\.", "input_conv."),
    (r"^d0\.", "down.0.blocks.0."), (r"^down0\.", "down.0.downsample."),
    (r"^d1\.", "down.1.blocks.0."), (r"^down1\.", "down.1.downsample."),
    (r"^d2\.", "down.2.blocks.0."),
    (r"^m1\.", "middle1."), (r"^attn\.", "middle_attention."), (r"^m2\.", "middle2."),
    (r"^u2\.", "up.0.blocks.0."), (r"^up2\.", "up.0.upsample."),
    (r"^u1\.", "up.1.blocks.0."), (r"^up1\.", "up.1.upsample."),
    (r"^u0\.", "up.2.blocks.0."),
    (r"^out_norm\.", "out_norm."), (r"^out\.", "out_conv."),
]
BLOCK = {"n1": "norm1", "c1": "conv1", "t": "time_projection", "n2": "norm2", "c2": "conv2", "skip": "skip"}


def gen_name(name):
    for pattern, replacement in RENAMES:
        if re.match(pattern, name):
            name = re.sub(pattern, replacement, name)
            break
    parts = name.split(".")
    return ".".join(BLOCK.get(p, p) if i > 0 and parts[i - 1] in ("0", "middle1", "middle2") else p for i, p in enumerate(parts))


def main():
    torch.manual_seed(0)
    model = UNetSmall().eval()
    # Non-trivial norms, so the parity test exercises their weights.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.GroupNorm):
                module.weight.add_(0.1 * torch.randn_like(module.weight))
                module.bias.add_(0.1 * torch.randn_like(module.bias))
    x = torch.randn(2, 1, 28, 28)
    steps = torch.tensor([10, 500])
    with torch.no_grad():
        y = model(x, steps)
    tensors = {"weights." + gen_name(k): v.contiguous() for k, v in model.state_dict().items()}
    assert len(tensors) == len(model.state_dict())
    tensors.update({"input": x, "steps": steps.float(), "output": y.contiguous()})
    path = os.path.join(here, "unet_small_parity.safetensors")
    save_file(tensors, path, metadata={"torch": torch.__version__, "made_by": "Tests/Fixtures/make_diffusion_fixtures.py",
                                       "params": str(sum(p.numel() for p in model.parameters()))})
    print(path, sum(p.numel() for p in model.parameters()), "parameters")


if __name__ == "__main__":
    main()
