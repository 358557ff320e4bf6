"""A variational autoencoder exported by `gen export RUN --pytorch` (gen's `vae` family).

    import json, safetensors.torch
    model = Model(**json.load(open("config.json")))
    model.load_state_dict(safetensors.torch.load_file("weights.safetensors"), strict=True)
    model.eval()

Images are `[N, C, H, W]` float tensors with values in [0, 1] (for the Bernoulli likelihood gen
trains on dynamically binarized images, so {0, 1} is what the encoder has seen). Latents are
`[N, latent]`.

    encode(x)            -> (mu, logvar): the posterior q(z|x) = N(mu, exp(logvar)), each [N, latent]
    decode(z)            -> [N, C, H, W]: the decoder's raw output, as gen's `decode`:
                            Bernoulli: logits (unbounded); Gaussian: the mean (unbounded)
    mean_image(z)        -> [N, C, H, W] in [0, 1]: sigmoid(logits), or the Gaussian mean clamped to [0, 1]
    forward(x)           -> [N, C, H, W] in [0, 1]: the reconstruction mean_image(mu) at the posterior
                            mean (what `gen sample --reconstruct` shows)
    std                  -> the Gaussian likelihood's sigma (exp(log_std) when learned), shape [1] or []
    log_likelihood(x, z) -> [N]: log p(x|z) in nats, summed over pixels
    elbo(x, noise=None)  -> (elbo, reconstruction, kl), each [N] in nats; z = mu + noise * exp(logvar / 2),
                            noise ~ N(0, I) when not given; the KL term is weighted by `beta`
    sample(n)            -> [n, C, H, W] in [0, 1]: mean_image(z), z ~ N(0, I) (gen's samples, which gen
                            writes mapped to [-1, 1] as 2x - 1)
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


class Model(nn.Module):
    def __init__(self, image_shape, architecture="mlp", latent=20, hidden=400, likelihood=None, fixed_std=None,
                 beta=1.0, kl_warmup=0):
        """image_shape: [C, H, W]; architecture: "mlp" or "conv"; likelihood: "bernoulli" or
        "gaussian" (None: Bernoulli for one channel, Gaussian otherwise); fixed_std: the Gaussian
        likelihood's fixed sigma (None: learned, the parameter `log_std`); beta: the KL weight of
        `elbo`; kl_warmup is training-only and ignored."""
        super().__init__()
        c, h, w = image_shape
        if likelihood is None:
            likelihood = "bernoulli" if c == 1 else "gaussian"
        if architecture not in ("mlp", "conv") or likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"unknown architecture {architecture!r} or likelihood {likelihood!r}")
        self.image_shape = [c, h, w]
        self.architecture, self.likelihood = architecture, likelihood
        self.latent, self.fixed_std, self.beta = latent, fixed_std, beta
        d = c * h * w
        if architecture == "mlp":
            self.fc1 = nn.Linear(d, hidden)
            self.fc3 = nn.Linear(latent, hidden)
            self.fc4 = nn.Linear(hidden, d)
        else:
            if h % 4 or w % 4:
                raise ValueError("the conv VAE needs height and width divisible by 4")
            flat = 64 * (h // 4) * (w // 4)
            self.conv1 = nn.Conv2d(c, 32, 4, stride=2, padding=1)
            self.conv2 = nn.Conv2d(32, 64, 4, stride=2, padding=1)
            self.encoder_f_c = nn.Linear(flat, hidden)
            self.decoder_f_c = nn.Linear(latent, hidden)
            self.fc4 = nn.Linear(hidden, flat)
            self.up1 = nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1)
            self.up2 = nn.ConvTranspose2d(32, c, 4, stride=2, padding=1)
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        if likelihood == "gaussian" and fixed_std is None:
            self.log_std = nn.Parameter(torch.zeros(1))
        else:
            self.log_std = None

    def encode(self, x):
        if self.architecture == "mlp":
            h = F.relu(self.fc1(x.flatten(1)))
        else:
            h = F.relu(self.encoder_f_c(F.relu(self.conv2(F.relu(self.conv1(x)))).flatten(1)))
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        c, h, w = self.image_shape
        if self.architecture == "mlp":
            return self.fc4(F.relu(self.fc3(z))).reshape(z.shape[0], c, h, w)
        y = F.relu(self.fc4(F.relu(self.decoder_f_c(z)))).reshape(z.shape[0], 64, h // 4, w // 4)
        return self.up2(F.relu(self.up1(y)))

    def mean_image(self, z):
        out = self.decode(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out.clamp(0, 1)

    def forward(self, x):
        return self.mean_image(self.encode(x)[0])

    @property
    def std(self):
        if self.log_std is not None:
            return self.log_std.exp()
        return torch.tensor(1.0 if self.fixed_std is None else float(self.fixed_std))

    def log_likelihood(self, x, z):
        out = self.decode(z)
        x = x.reshape(out.shape)
        if self.likelihood == "bernoulli":
            return (x * out - F.softplus(out)).flatten(1).sum(1)
        log_sigma = self.log_std if self.log_std is not None else out.new_tensor(math.log(self.fixed_std))
        squares = (x - out).square() * torch.exp(-2 * log_sigma)
        return (-0.5 * squares - log_sigma - 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)

    def elbo(self, x, noise=None):
        mu, logvar = self.encode(x)
        if noise is None:
            noise = torch.randn_like(mu)
        z = mu + noise * torch.exp(0.5 * logvar)
        reconstruction = self.log_likelihood(x, z)
        kl = -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(1)
        return reconstruction - self.beta * kl, reconstruction, kl

    @torch.no_grad()
    def sample(self, n, generator=None):
        z = torch.randn(n, self.latent, generator=generator, device=self.mu.weight.device)
        return self.mean_image(z)
