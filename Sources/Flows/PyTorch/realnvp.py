"""A RealNVP normalizing flow (Dinh et al. 2017) exported by `gen export RUN --pytorch` (gen's
`realnvp` family).

    import json, safetensors.torch
    model = Model(**json.load(open("config.json")))
    model.load_state_dict(safetensors.torch.load_file("weights.safetensors"), strict=True)
    model.eval()   # batch norm (if any) uses its running statistics, as gen's sampling and scoring do

gen's data pipeline: 8-bit pixels k in {0..255} -> dequantize u = (k + U(0,1)) / 256 in [0, 1)
-> logit transform x = logit(alpha + (1 - 2 alpha) u) ("logit space") -> flow -> z ~ N(0, I).
The flow itself (gen's RealNVPFlow) works in logit space.

    log_prob(x)            -> [N]: log p(x) in nats of x [N, C, H, W] in LOGIT space (gen's
                              RealNVPFlow.logDensity; the logit and dequantization terms not included)
    forward(x)             -> the same as log_prob(x)
    to_latent(x)           -> (z [N, D], logdet [N]): the flow, data (logit space) -> latent,
                              z = the factored-out halves and the last output, flattened, in that order
    inverse(z)             -> (x [N, C, H, W] in logit space, logdet [N] of the inverse direction)
    logit(u), unlogit(x)   -> the logit transform and its inverse, each (output, logdet [N])
    bits_per_dim(pixels, noise=None)
                           -> [N]: gen's loss / `gen eval` bits/dim of 8-bit `pixels` [N, C, H, W]
                              (values 0..255) dequantized with `noise` in [0, 1) (uniform if None)
    sample(n, temperature=1.0)
                           -> [n, C, H, W] images in [0, 1]: unlogit(inverse(T * z)) clamped, z ~ N(0, I)
                              (gen writes them mapped to [-1, 1] as 2x - 1)
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def _per_sample(x):
    return x.flatten(1).sum(1)


class STResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class STNetwork(nn.Module):
    def __init__(self, inputs, outputs, hidden, residual_blocks):
        super().__init__()
        self.inp = nn.Conv2d(inputs, hidden, 3, padding=1)
        self.blocks = nn.ModuleList([STResidualBlock(hidden) for _ in range(residual_blocks)])
        self.out = nn.Conv2d(hidden, 2 * outputs, 3, padding=1)
        self.scale = nn.Parameter(torch.ones(1, outputs, 1, 1))

    def forward(self, x):
        h = self.inp(x)
        for block in self.blocks:
            h = block(h)
        s, t = self.out(F.relu(h)).chunk(2, dim=1)
        return self.scale * torch.tanh(s), t


class AffineCoupling(nn.Module):
    """Checkerboard (mask buffer `mask`) or channel-half coupling."""

    def __init__(self, kind, parity, channels, height, width, hidden, residual_blocks):
        super().__init__()
        self.kind, self.parity = kind, parity
        if kind == "checkerboard":
            self.net = STNetwork(channels, channels, hidden, residual_blocks)
            i = torch.arange(height).reshape(-1, 1)
            j = torch.arange(width).reshape(1, -1)
            square = ((i + j) % 2).float()
            self.register_buffer("mask", (square if parity == 0 else 1 - square).reshape(1, 1, height, width))
        else:
            if channels % 2:
                raise ValueError("a channel coupling needs an even channel count")
            self.net = STNetwork(channels // 2, channels // 2, hidden, residual_blocks)
            self.mask = None

    def forward(self, x):
        if self.mask is not None:
            m = self.mask
            s, t = self.net(x * m)
            s, t = s * (1 - m), t * (1 - m)
            return x * s.exp() + t, _per_sample(s)
        a, b = x.chunk(2, dim=1)
        if self.parity:
            a, b = b, a
        s, t = self.net(a)
        changed = b * s.exp() + t
        return torch.cat([changed, a] if self.parity else [a, changed], dim=1), _per_sample(s)

    def inverse(self, y):
        if self.mask is not None:
            m = self.mask
            s, t = self.net(y * m)
            s, t = s * (1 - m), t * (1 - m)
            return (y - t) * (-s).exp(), _per_sample(-s)
        a, changed = y.chunk(2, dim=1)
        if self.parity:
            a, changed = changed, a
        s, t = self.net(a)
        b = (changed - t) * (-s).exp()
        return torch.cat([b, a] if self.parity else [a, b], dim=1), _per_sample(-s)


class ActNorm(nn.Module):
    """y = (x + bias) * exp(log_scale); data-initialized on its first training batch."""

    def __init__(self, channels):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.zeros(1))

    def forward(self, x):
        if self.training and self.initialized.item() == 0:
            with torch.no_grad():
                mean = x.mean(dim=(0, 2, 3), keepdim=True)
                std = (x - mean).square().mean(dim=(0, 2, 3), keepdim=True).sqrt() + 1e-6
                self.bias.copy_(-mean)
                self.log_scale.copy_(-std.log())
                self.initialized.fill_(1)
        logdet = self.log_scale.sum() * (x.shape[2] * x.shape[3])
        return (x + self.bias) * self.log_scale.exp(), logdet.expand(x.shape[0])

    def inverse(self, y):
        logdet = self.log_scale.sum() * -(y.shape[2] * y.shape[3])
        return y * (-self.log_scale).exp() - self.bias, logdet.expand(y.shape[0])


class BatchNormBijector(nn.Module):
    """Batch statistics in training (running averages of the mean and the biased variance,
    momentum 0.05), running statistics in evaluation and in the inverse; eps 1e-4."""

    def __init__(self, channels, momentum=0.05, epsilon=1e-4):
        super().__init__()
        self.log_gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("running_mean", torch.zeros(1, channels, 1, 1))
        self.register_buffer("running_var", torch.ones(1, channels, 1, 1))
        self.momentum, self.epsilon = momentum, epsilon

    def forward(self, x):
        if self.training:
            mean = x.mean(dim=(0, 2, 3), keepdim=True)
            var = (x - mean).square().mean(dim=(0, 2, 3), keepdim=True)
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(mean.detach() * self.momentum)
                self.running_var.mul_(1 - self.momentum).add_(var.detach() * self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        log_std = 0.5 * (var + self.epsilon).log()
        y = (x - mean) * (self.log_gamma - log_std).exp() + self.beta
        logdet = (self.log_gamma - log_std).sum() * (x.shape[2] * x.shape[3])
        return y, logdet.expand(x.shape[0])

    def inverse(self, y):
        log_std = 0.5 * (self.running_var + self.epsilon).log()
        x = (y - self.beta) * (log_std - self.log_gamma).exp() + self.running_mean
        logdet = (log_std - self.log_gamma).sum() * (y.shape[2] * y.shape[3])
        return x, logdet.expand(y.shape[0])


def _normalizer(kind, channels):
    if kind == "none":
        return None
    if kind == "actnorm":
        return ActNorm(channels)
    if kind == "batchnorm":
        return BatchNormBijector(channels)
    raise ValueError(f"unknown normalization {kind!r}")


def _norms(kind, count, channels):
    return nn.ModuleList([] if kind == "none" else [_normalizer(kind, channels) for _ in range(count)])


def _interleave(couplings, norms):
    out = []
    for i, coupling in enumerate(couplings):
        out.append(coupling)
        if len(norms):
            out.append(norms[i])
    return out


class _Squeeze:
    """[N, C, H, W] -> [N, 4C, H/2, W/2]; channel c*4 + 2i + j holds position (i, j) of each 2x2 block."""

    @staticmethod
    def forward(x):
        n, c, h, w = x.shape
        y = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, 4 * c, h // 2, w // 2)
        return y, x.new_zeros(n)

    @staticmethod
    def inverse(y):
        n, c4, h, w = y.shape
        x = y.reshape(n, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c4 // 4, 2 * h, 2 * w)
        return x, y.new_zeros(n)


class FlowScale(nn.Module):
    def __init__(self, channels, height, width, couplings, hidden, residual_blocks, normalization):
        super().__init__()
        self.checker = nn.ModuleList([AffineCoupling("checkerboard", i % 2, channels, height, width, hidden, residual_blocks)
                                      for i in range(couplings)])
        self.channel = nn.ModuleList([AffineCoupling("channel", i % 2, 4 * channels, height // 2, width // 2, hidden, residual_blocks)
                                      for i in range(couplings)])
        self.checker_norms = _norms(normalization, couplings, channels)
        self.channel_norms = _norms(normalization, couplings, 4 * channels)

    def bijectors(self):
        return _interleave(self.checker, self.checker_norms) + [_Squeeze] + _interleave(self.channel, self.channel_norms)


class Model(nn.Module):
    def __init__(self, image_shape, scales=2, couplings=3, final_couplings=4, hidden=32, residual_blocks=2,
                 normalization="none", alpha=0.05):
        """image_shape: [C, H, W], H and W divisible by 2**scales; normalization: "none",
        "actnorm" or "batchnorm" (after every coupling); alpha: the logit transform's alpha."""
        super().__init__()
        c, h, w = image_shape
        if h % (1 << scales) or w % (1 << scales):
            raise ValueError(f"{h}x{w} images cannot be squeezed {scales} times")
        self.image_shape, self.alpha = [c, h, w], float(alpha)
        shape, shapes, stages = [c, h, w], [], []
        for _ in range(scales):
            shapes.append(shape)
            stages.append(FlowScale(shape[0], shape[1], shape[2], couplings, hidden, residual_blocks, normalization))
            shape = [2 * shape[0], shape[1] // 2, shape[2] // 2]
        shapes.append(shape)
        self.shapes = shapes
        self.scales = nn.ModuleList(stages)
        self.final = nn.ModuleList([AffineCoupling("checkerboard", i % 2, shape[0], shape[1], shape[2], hidden, residual_blocks)
                                    for i in range(final_couplings)])
        self.final_norms = _norms(normalization, final_couplings, shape[0])

    def to_latent(self, x):
        h, total, latents = x, x.new_zeros(x.shape[0]), []
        for scale in self.scales:
            for bijector in scale.bijectors():
                h, logdet = bijector.forward(h)
                total = total + logdet
            factored, h = h.chunk(2, dim=1)
            latents.append(factored.flatten(1))
        for bijector in _interleave(self.final, self.final_norms):
            h, logdet = bijector.forward(h)
            total = total + logdet
        latents.append(h.flatten(1))
        return torch.cat(latents, dim=1), total

    def inverse(self, z):
        n = z.shape[0]
        sizes = [2 * s[0] * (s[1] // 2) * (s[2] // 2) for s in self.shapes[:-1]] + [math.prod(self.shapes[-1])]
        parts = z.split(sizes, dim=1)
        h, total = parts[-1].reshape(n, *self.shapes[-1]), z.new_zeros(n)
        for bijector in reversed(_interleave(self.final, self.final_norms)):
            h, logdet = bijector.inverse(h)
            total = total + logdet
        for index in reversed(range(len(self.scales))):
            s = self.shapes[index]
            h = torch.cat([parts[index].reshape(n, 2 * s[0], s[1] // 2, s[2] // 2), h], dim=1)
            for bijector in reversed(self.scales[index].bijectors()):
                h, logdet = bijector.inverse(h)
                total = total + logdet
        return h, total

    def log_prob(self, x):
        z, logdet = self.to_latent(x)
        return -0.5 * z.square().sum(1) - z.shape[1] * 0.5 * math.log(2 * math.pi) + logdet

    def forward(self, x):
        return self.log_prob(x)

    def logit(self, u):
        a = self.alpha
        s = u * (1 - 2 * a) + a
        log_s, log_1ms = s.log(), (1 - s).log()
        return log_s - log_1ms, _per_sample(-log_1ms - log_s + math.log(1 - 2 * a))

    def unlogit(self, x):
        a = self.alpha
        return (torch.sigmoid(x) - a) / (1 - 2 * a), _per_sample(F.logsigmoid(x) + F.logsigmoid(-x) - math.log(1 - 2 * a))

    def bits_per_dim(self, pixels, noise=None):
        if noise is None:
            noise = torch.rand_like(pixels)
        d = pixels[0].numel()
        u = (pixels + noise) / 256
        x, logit_term = self.logit(u)
        log_p = self.log_prob(x) + logit_term - d * math.log(256.0)
        return -log_p / (d * math.log(2.0))

    @torch.no_grad()
    def sample(self, n, temperature=1.0, generator=None):
        d = math.prod(self.image_shape)
        z = torch.randn(n, d, generator=generator, device=self.final[0].mask.device) * temperature
        return self.unlogit(self.inverse(z)[0])[0].clamp(0, 1)
