"""Make Tests/Fixtures/gencore_parity.safetensors: PyTorch reference values for gen's core parity tests.

For each case, random inputs and weights (torch.manual_seed(0), float32) go through a PyTorch forward pass
to give `y`. A fixed random cotangent `cot` with y's shape is stored too. The loss is (y * cot).sum(), and
its gradients are stored as `{case}.grad.{name}`. All other tensors are named `{case}.{name}`.
Cases: linear, conv2d_a, conv2d_b, conv_transpose2d_a, conv_transpose2d_b, group_norm, batch_norm_train,
batch_norm_eval, attention, optim.* (Adam/AdamW/SGD trajectories on fixed gradients), softmax, logsumexp.

Requires: torch, safetensors (numpy optional).
Run from the repo root:
    ~/venv-torch/bin/python Tests/Fixtures/make_gencore_fixtures.py
"""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
torch.set_default_dtype(torch.float32)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gencore_parity.safetensors")
tensors = {}


def put(name, t):
    tensors[name] = t.detach().to(torch.float32).contiguous().clone()


def leaf(*shape, scale=1.0, shift=0.0):
    return (torch.randn(*shape) * scale + shift).requires_grad_(True)


def backward_case(case, inputs, y):
    """inputs: dict name -> leaf tensor. Stores inputs, y, cot and grads of (y * cot).sum()."""
    cot = torch.randn(y.shape)
    (y * cot).sum().backward()
    for name, t in inputs.items():
        put(f"{case}.{name}", t)
    put(f"{case}.y", y)
    put(f"{case}.cot", cot)
    for name, t in inputs.items():
        put(f"{case}.grad.{name}", t.grad)
    return y


# 1. linear
x, w, b = leaf(3, 5), leaf(4, 5), leaf(4)
backward_case("linear", {"input": x, "weight": w, "bias": b}, F.linear(x, w, b))

# 2. conv2d_a
x, w, b = leaf(2, 4, 7, 6), leaf(6, 2, 3, 3), leaf(6)
y = backward_case("conv2d_a", {"input": x, "weight": w, "bias": b},
                  F.conv2d(x, w, b, stride=2, padding=1, dilation=1, groups=2))
assert tuple(y.shape) == (2, 6, 4, 3), y.shape

# 3. conv2d_b
x, w, b = leaf(1, 3, 9, 8), leaf(5, 3, 3, 2), leaf(5)
y = backward_case("conv2d_b", {"input": x, "weight": w, "bias": b},
                  F.conv2d(x, w, b, stride=1, padding=(2, 1), dilation=2, groups=1))
assert tuple(y.shape) == (1, 5, 9, 8), y.shape

# 4. conv_transpose2d_a (weight layout [in, out/groups, kh, kw])
x, w, b = leaf(2, 4, 5, 6), leaf(4, 3, 4, 4), leaf(3)
y = backward_case("conv_transpose2d_a", {"input": x, "weight": w, "bias": b},
                  F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=0, groups=1, dilation=1))
assert tuple(y.shape) == (2, 3, 10, 12), y.shape

# 5. conv_transpose2d_b
x, w, b = leaf(1, 4, 3, 5), leaf(4, 3, 3, 3), leaf(6)
y = backward_case("conv_transpose2d_b", {"input": x, "weight": w, "bias": b},
                  F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2, dilation=1))
assert tuple(y.shape) == (1, 6, 6, 10), y.shape

# 6. group_norm
x = leaf(2, 6, 5, 4)
w = (1 + 0.1 * torch.randn(6)).requires_grad_(True)
b = (0.1 * torch.randn(6)).requires_grad_(True)
y = backward_case("group_norm", {"input": x, "weight": w, "bias": b}, F.group_norm(x, 3, w, b, eps=1e-5))
# independent check of the forward
xg = x.detach().reshape(2, 3, -1)
ref = ((xg - xg.mean(-1, keepdim=True)) / torch.sqrt(xg.var(-1, unbiased=False, keepdim=True) + 1e-5)).reshape(2, 6, 5, 4)
ref = ref * w.detach().view(1, 6, 1, 1) + b.detach().view(1, 6, 1, 1)
assert torch.allclose(ref, y.detach(), atol=1e-5)


# 7/8. batch_norm_train, batch_norm_eval
def batch_norm_case(case, train):
    bn = nn.BatchNorm2d(3, momentum=0.1, eps=1e-5)
    with torch.no_grad():
        bn.weight.copy_(1 + 0.1 * torch.randn(3))
        bn.bias.copy_(0.1 * torch.randn(3))
        bn.running_mean.copy_(0.1 * torch.randn(3))
        bn.running_var.copy_(1 + 0.1 * torch.rand(3))
    bn.train(train)
    rm_before, rv_before = bn.running_mean.clone(), bn.running_var.clone()
    x = leaf(4, 3, 5, 5, scale=2.0, shift=0.5)
    y = bn(x)
    cot = torch.randn(y.shape)
    (y * cot).sum().backward()
    put(f"{case}.input", x)
    put(f"{case}.weight", bn.weight)
    put(f"{case}.bias", bn.bias)
    put(f"{case}.running_mean", rm_before)
    put(f"{case}.running_var", rv_before)
    put(f"{case}.y", y)
    put(f"{case}.cot", cot)
    put(f"{case}.grad.input", x.grad)
    put(f"{case}.grad.weight", bn.weight.grad)
    put(f"{case}.grad.bias", bn.bias.grad)
    if train:
        put(f"{case}.running_mean_after", bn.running_mean)
        put(f"{case}.running_var_after", bn.running_var)
        xd = x.detach()
        exp_rm = 0.9 * rm_before + 0.1 * xd.mean((0, 2, 3))
        exp_rv = 0.9 * rv_before + 0.1 * xd.var((0, 2, 3), unbiased=True)
        assert torch.allclose(bn.running_mean, exp_rm, atol=1e-6)
        assert torch.allclose(bn.running_var, exp_rv, atol=1e-5)
    else:
        assert torch.equal(bn.running_mean, rm_before) and torch.equal(bn.running_var, rv_before)


batch_norm_case("batch_norm_train", True)
batch_norm_case("batch_norm_eval", False)


# 9. attention
class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm, self.qkv, self.proj = nn.GroupNorm(8, c), nn.Conv2d(c, 3 * c, 1), nn.Conv2d(c, c, 1)
    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).unbind(1)
        a = torch.softmax(torch.einsum("bci,bcj->bij", q, k) / math.sqrt(c), dim=-1)
        o = torch.einsum("bij,bcj->bci", a, v).reshape(b, c, h, w)
        return x + self.proj(o)


attn = Attention(16)
with torch.no_grad():
    attn.norm.weight.copy_(1 + 0.1 * torch.randn(16))
    attn.norm.bias.copy_(0.1 * torch.randn(16))
x = leaf(2, 16, 5, 3)
y = attn(x)
assert tuple(y.shape) == (2, 16, 5, 3), y.shape
cot = torch.randn(y.shape)
(y * cot).sum().backward()
put("attention.input", x)
params = dict(attn.named_parameters())
assert set(params) == set(attn.state_dict()), "attention state_dict should hold only parameters"
for name, p in params.items():
    put(f"attention.{name}", p)
put("attention.y", y)
put("attention.cot", cot)
put("attention.grad.input", x.grad)
for name, p in params.items():
    put(f"attention.grad.{name}", p.grad)

# 10. optimizer trajectories on fixed gradients
p0 = torch.randn(10)
grads = torch.randn(20, 10)
put("optim.p0", p0)
put("optim.grads", grads)
optimizers = {
    "adam": lambda ps: torch.optim.Adam(ps, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=False),
    "adam_l2": lambda ps: torch.optim.Adam(ps, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, foreach=False),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, foreach=False),
    "adam_sngan": lambda ps: torch.optim.Adam(ps, lr=2e-4, betas=(0.0, 0.9), eps=1e-8, foreach=False),
    "sgd_nesterov": lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4, foreach=False),
    "sgd_momentum": lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1, foreach=False),
}
for name, make in optimizers.items():
    param = nn.Parameter(p0.clone())
    opt = make([param])
    traj = []
    for i in range(20):
        param.grad = grads[i].clone()
        opt.step()
        traj.append(param.detach().clone())
    put(f"optim.{name}", torch.stack(traj))

# independent check: hand-rolled Adam matches optim.adam
p, m, v = p0.clone().double(), torch.zeros(10, dtype=torch.float64), torch.zeros(10, dtype=torch.float64)
for i in range(20):
    g = grads[i].double()
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g * g
    mh, vh = m / (1 - 0.9 ** (i + 1)), v / (1 - 0.999 ** (i + 1))
    p = p - 1e-2 * mh / (vh.sqrt() + 1e-8)
assert torch.allclose(p.float(), tensors["optim.adam"][-1], atol=1e-5)

# 11. softmax, logsumexp
x = leaf(3, 7, scale=3.0)
y = backward_case("softmax", {"input": x}, torch.softmax(x, dim=-1))
assert torch.allclose(y.detach().sum(-1), torch.ones(3), atol=1e-6)
x = leaf(3, 7, scale=3.0)
y = backward_case("logsumexp", {"input": x}, torch.logsumexp(x, dim=1))
assert tuple(y.shape) == (3,)
assert torch.allclose(y.detach(), x.detach().double().exp().sum(1).log().float(), atol=1e-5)

for k, t in tensors.items():
    assert t.dtype == torch.float32 and t.is_contiguous(), k
save_file(tensors, OUT, metadata={"torch": torch.__version__, "made_by": "Tests/Fixtures/make_gencore_fixtures.py"})
print(f"wrote {len(tensors)} tensors to {OUT} ({os.path.getsize(OUT)} bytes)")
