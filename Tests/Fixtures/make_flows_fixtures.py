"""Makes Tests/Fixtures/realnvp_small_parity.safetensors: the PyTorch twin's RealNVPSmall
(../shared/peers/reference_models.py) with seeded weights (PyTorch's default initialization
already gives every coupling non-zero scales and shifts; each learned tanh factor is multiplied by
a draw from U[0.5, 1.5) so none stays at its initial 1), renamed to
gen's parameter paths, a fixed batch in logit space, and the twin's log p(x) per example.

Needs torch and safetensors. Run from the repository root:
    ~/venv-torch/bin/python Tests/Fixtures/make_flows_fixtures.py
The Swift tests read only the file this writes.
"""
import math, os, re, sys

import torch
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "..", "shared", "peers"))
from reference_models import RealNVPSmall  # noqa: E402

STAGES = {"s1a": "scales.0.checker", "s1b": "scales.0.channel", "s2a": "scales.1.checker", "s2b": "scales.1.channel", "final": "final"}


def gen_name(name):
    stage, rest = name.split(".", 1)
    name = STAGES[stage] + "." + rest
    # the twin's residual block is Sequential(ReLU, Conv, ReLU, Conv): .1 and .3 are gen's conv1 and conv2
    name = re.sub(r"\.blocks\.(\d+)\.1\.", r".blocks.\1.conv1.", name)
    name = re.sub(r"\.blocks\.(\d+)\.3\.", r".blocks.\1.conv2.", name)
    return name


def main():
    torch.manual_seed(0)
    model = RealNVPSmall()
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "scale") and isinstance(module.scale, torch.nn.Parameter):
                module.scale.mul_(0.5 + torch.rand_like(module.scale))
    x = torch.rand(3, 1, 28, 28)
    alpha = 0.05
    y = alpha + (1 - 2 * alpha) * x
    logit = torch.log(y) - torch.log1p(-y)
    with torch.no_grad():
        logp = model(logit)
    tensors = {"weights." + gen_name(k): v.detach().clone() for k, v in model.state_dict().items()}
    tensors["input.logit"] = logit
    tensors["output.log_density"] = logp
    save_file({k: v.contiguous().float() for k, v in tensors.items()}, os.path.join(here, "realnvp_small_parity.safetensors"),
              metadata={"made_by": "Tests/Fixtures/make_flows_fixtures.py", "torch": torch.__version__})
    print(f"wrote realnvp_small_parity.safetensors: {len(tensors)} tensors, {sum(p.numel() for p in model.parameters())} parameters, log p {logp.tolist()}")


if __name__ == "__main__":
    main()
