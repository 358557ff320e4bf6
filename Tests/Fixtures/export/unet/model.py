"""gen's denoising UNet (Ho et al. 2020 style), as exported by `gen export RUN --pytorch`.

Shared by gen's `ddpm`, `sde` and `flow` runs. Build it and load the weights with:

    import json, torch, safetensors.torch
    model = Model(**json.load(open("config.json")))
    model.load_state_dict(safetensors.torch.load_file("weights.safetensors"), strict=True)
    model.eval()

forward(x, t) -> prediction
    x: float tensor [N, image_channels, H, W] (H = W = image_size): the network input built from
       the noisy image xt = alpha(t)*data + sigma(t)*noise, where data are images scaled to [-1, 1].
       gen feeds xt / sqrt(alpha(t)^2 + sigma(t)^2): for `ddpm` and the variance-preserving `sde`
       (vp, sub-vp) that factor is 1, so x = xt; for the `ve` sde (alpha = 1, sigma = sigma(t)) and
       for `flow` (alpha = 1 - t, sigma = t) divide xt by it yourself.
    t: float tensor [N] of times in [0, 1]; t = 0 is data, t = 1 is pure noise. A DDPM's discrete
       step k of T (`diffusion_steps`) is t = k / T. Inside, the sinusoidal embedding sees t * 1000,
       so a 1000-step DDPM network receives the step number k. (A Python float or 0-d tensor is
       broadcast to all N images.)
    returns: [N, image_channels, H, W], the network's raw prediction in the run's `prediction`
       type: the noise eps (ddpm/sde default), the clean data, or the velocity (flow: noise - data;
       ddpm/sde: alpha*eps - sigma*data).

Dropout (if any) is active only in train mode; call model.eval() for gen's sampling behaviour.
"""
import math

import torch
from torch import nn
import torch.nn.functional as F

TIME_SCALE = 1000.0  # gen's Conventions.timeScale: the embedding sees t * 1000


class SinusoidalTimeEmbedding(nn.Module):
    """[sin(t*f_0..f_{d/2-1}), cos(t*f_0..)] with f_i = exp(-ln(10000) * i / (d/2)); no weights."""

    def __init__(self, dimension):
        super().__init__()
        half = dimension // 2
        frequencies = [math.exp(-math.log(10000.0) * i / half) for i in range(half)]
        self.register_buffer("frequencies", torch.tensor(frequencies, dtype=torch.float32), persistent=False)

    def forward(self, times):
        arguments = times.reshape(-1, 1) * self.frequencies.to(times.dtype).reshape(1, -1)
        return torch.cat([arguments.sin(), arguments.cos()], dim=1)


class SelfAttention2d(nn.Module):
    """x + proj(attention(qkv(norm(x)))) over the H*W positions; qkv holds q, k, v in that order."""

    def __init__(self, channels, groups, heads=1):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, channels, eps=1e-5)
        self.qkv = nn.Conv2d(channels, 3 * channels, kernel_size=1)
        self.proj = nn.Conv2d(channels, channels, kernel_size=1)

    def forward(self, x):
        n, c, h, w = x.shape
        positions, head_size = h * w, c // self.heads
        projected = self.qkv(self.norm(x)).reshape(n, 3, c * positions)
        q, k, v = (part.reshape(n * self.heads, head_size, positions) for part in projected.unbind(1))
        scores = torch.bmm(q.transpose(1, 2), k) * (1.0 / math.sqrt(head_size))   # [nh, P, P]
        weights = scores.softmax(dim=-1)
        attended = torch.bmm(v, weights.transpose(1, 2)).reshape(n, c, h, w)      # out[c,i] = sum_j w[i,j] v[c,j]
        return x + self.proj(attended)


class ResidualBlock(nn.Module):
    """GroupNorm-SiLU-conv, + projected time embedding, GroupNorm-SiLU-dropout-conv, + skip."""

    def __init__(self, in_channels, out_channels, time_channels, groups, dropout):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels, eps=1e-5)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.time_projection = nn.Linear(time_channels, out_channels)
        self.norm2 = nn.GroupNorm(groups, out_channels, eps=1e-5)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, kernel_size=1) if in_channels != out_channels else None

    def forward(self, x, time):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_projection(F.silu(time)).reshape(x.shape[0], -1, 1, 1)
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return h + (self.skip(x) if self.skip is not None else x)


class DownLevel(nn.Module):
    def __init__(self, blocks, attentions, downsample):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.attentions = nn.ModuleList(attentions)
        self.downsample = downsample


class UpLevel(nn.Module):
    def __init__(self, blocks, attentions, upsample):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.attentions = nn.ModuleList(attentions)
        self.upsample = upsample


class Model(nn.Module):
    """gen's UNet. Keyword arguments are gen's UNetConfiguration (defaults: gen's `small`)."""

    def __init__(self, image_channels=1, base_channels=32, channel_multipliers=(1, 2, 2), residual_blocks_per_level=1,
                 attention_resolutions=(), dropout=0.0, groups=8, image_size=28):
        super().__init__()
        if not channel_multipliers or residual_blocks_per_level < 1:
            raise ValueError("UNet: needs at least one level and one block per level")
        self.image_channels = image_channels
        base, mults, attn = base_channels, list(channel_multipliers), set(attention_resolutions)
        time_channels = 4 * base
        self.embedding = SinusoidalTimeEmbedding(base)
        self.time_embedding = nn.Sequential(nn.Linear(base, time_channels), nn.SiLU(), nn.Linear(time_channels, time_channels))
        self.input_conv = nn.Conv2d(image_channels, base, kernel_size=3, padding=1)
        channels, skip_channels, resolution = base, [], image_size
        down = []
        for level, multiplier in enumerate(mults):
            blocks, attentions = [], []
            for _ in range(residual_blocks_per_level):
                blocks.append(ResidualBlock(channels, base * multiplier, time_channels, groups, dropout))
                channels = base * multiplier
                if resolution in attn:
                    attentions.append(SelfAttention2d(channels, groups))
                skip_channels.append(channels)
            is_last = level == len(mults) - 1
            down.append(DownLevel(blocks, attentions,
                                  None if is_last else nn.Conv2d(channels, channels, kernel_size=3, stride=2, padding=1)))
            if not is_last:
                resolution = (resolution + 1) // 2
        self.down = nn.ModuleList(down)
        self.middle1 = ResidualBlock(channels, channels, time_channels, groups, dropout)
        self.middle_attention = SelfAttention2d(channels, groups)
        self.middle2 = ResidualBlock(channels, channels, time_channels, groups, dropout)
        up = []
        for level in reversed(range(len(mults))):
            multiplier = mults[level]
            blocks, attentions = [], []
            for _ in range(residual_blocks_per_level):
                blocks.append(ResidualBlock(channels + skip_channels.pop(), base * multiplier, time_channels, groups, dropout))
                channels = base * multiplier
                if resolution in attn:
                    attentions.append(SelfAttention2d(channels, groups))
            up.append(UpLevel(blocks, attentions,
                              None if level == 0 else nn.Conv2d(channels, channels, kernel_size=3, padding=1)))
            if level > 0:
                resolution *= 2
        self.up = nn.ModuleList(up)
        self.out_norm = nn.GroupNorm(groups, channels, eps=1e-5)
        self.out_conv = nn.Conv2d(channels, image_channels, kernel_size=3, padding=1)

    def forward(self, x, t):
        """x [N, C, H, W], t [N] in [0, 1] (0 = data, 1 = noise) -> prediction [N, C, H, W]."""
        if x.dim() != 4 or x.shape[1] != self.image_channels:
            raise ValueError(f"UNet: images {tuple(x.shape)} do not fit a {self.image_channels}-channel UNet")
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.dim() == 0:
            t = t.expand(x.shape[0])
        if t.shape != (x.shape[0],):
            raise ValueError(f"UNet: times {tuple(t.shape)} must be [N] = [{x.shape[0]}]")
        time = self.time_embedding(self.embedding(t * TIME_SCALE))
        # 1. encoder, keeping every block's output for the decoder
        h = self.input_conv(x)
        skips, sizes = [], []
        for level in self.down:
            for i, block in enumerate(level.blocks):
                h = block(h, time)
                if i < len(level.attentions):
                    h = level.attentions[i](h)
                skips.append(h)
            if level.downsample is not None:
                sizes.append(h.shape[2:])
                h = level.downsample(h)
        # 2. middle
        h = self.middle2(self.middle_attention(self.middle1(h, time)), time)
        # 3. decoder, joining the skips in reverse order
        for level in self.up:
            for i, block in enumerate(level.blocks):
                h = block(torch.cat([h, skips.pop()], dim=1), time)
                if i < len(level.attentions):
                    h = level.attentions[i](h)
            if level.upsample is not None:
                height, width = sizes.pop()
                h = h.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)[:, :, :height, :width]
                h = level.upsample(h)
        return self.out_conv(F.silu(self.out_norm(h)))
