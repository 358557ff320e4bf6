"""A Wasserstein GAN with a spectral-normalized critic exported by `gen export RUN --pytorch`
(gen's `wgan` family): the generator and the critic, with gen's parameter names
(`generator.*`, `critic.*`; the critic's power-iteration vectors are the buffers `critic.<layer>.u`, `.v`).

    import json, safetensors.torch
    model = Model(**json.load(open("config.json")))
    model.load_state_dict(safetensors.torch.load_file("weights.safetensors"), strict=True)
    model.eval()

    generator(z)   -> [N, C, H, W] images in [-1, 1] (tanh) for latents z [N, latent] (N(0, I) in training)
    critic(x)      -> [N, 1] scores (unbounded) for images x [N, C, H, W] in [-1, 1]
    forward(z)     -> generator(z)
    sample(n)      -> generator(z), z ~ N(0, I): [n, C, H, W] in [-1, 1]

Modes, as gen's: in eval mode the generator's batch norm uses its running statistics and each
spectral-normalized layer uses W / sigma with sigma = u^T W v from the STORED u and v (no power
iteration, deterministic). In train mode the batch norm uses batch statistics (and updates the
running ones, momentum 0.1, unbiased variance) and each critic call first runs one power
iteration, updating u and v in place (as torch.nn.utils.parametrizations.spectral_norm).
"""
import torch
import torch.nn.functional as F
from torch import nn


class BatchNorm2d(nn.Module):
    """nn.BatchNorm2d without the num_batches_tracked buffer (gen does not store it)."""

    def __init__(self, channels, momentum=0.1, epsilon=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        self.momentum, self.epsilon = momentum, epsilon

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=self.training, momentum=self.momentum, eps=self.epsilon)


class SpectralNorm(nn.Module):
    """Runs `layer` (nn.Conv2d or nn.Linear) with weight W / sigma, sigma = u^T W v, W viewed as
    [out, in*kh*kw]; u [out] and v [in*kh*kw] are buffers. Train mode: one power iteration
    (u <- normalize(W v), v <- normalize(W^T u), no gradient) before sigma; eval mode: none."""

    def __init__(self, layer, epsilon=1e-12):
        super().__init__()
        self.layer = layer
        rows = layer.weight.shape[0]
        self.register_buffer("u", F.normalize(torch.randn(rows), dim=0, eps=epsilon))
        self.register_buffer("v", F.normalize(torch.randn(layer.weight.numel() // rows), dim=0, eps=epsilon))
        self.epsilon = epsilon
        self.power_iteration(15)  # as gen's initialization (checkpoints overwrite u and v)

    def _matrix(self):
        return self.layer.weight.reshape(self.layer.weight.shape[0], -1)

    @torch.no_grad()
    def power_iteration(self, count=1):
        w = self._matrix()
        for _ in range(count):
            self.u.copy_(F.normalize(w @ self.v, dim=0, eps=self.epsilon))
            self.v.copy_(F.normalize(w.t() @ self.u, dim=0, eps=self.epsilon))

    def sigma(self):
        return self.u.clone() @ self._matrix() @ self.v.clone()

    def forward(self, x):
        if self.training:
            self.power_iteration()
        weight = self.layer.weight / self.sigma()
        if isinstance(self.layer, nn.Conv2d):
            return F.conv2d(x, weight, self.layer.bias, self.layer.stride, self.layer.padding, self.layer.dilation, self.layer.groups)
        return F.linear(x, weight, self.layer.bias)


class Generator(nn.Module):
    """z -> linear -> ReLU -> [2w, H/4, W/4] -> conv-transpose (4, stride 2) -> batch norm -> ReLU
    -> conv-transpose (4, stride 2) -> tanh."""

    def __init__(self, image_shape, latent, width):
        super().__init__()
        c, h, w = image_shape
        self.base = (2 * width, h // 4, w // 4)
        self.fc = nn.Linear(latent, 2 * width * (h // 4) * (w // 4))
        self.up1 = nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1)
        self.norm = BatchNorm2d(width)
        self.up2 = nn.ConvTranspose2d(width, c, 4, stride=2, padding=1)

    def forward(self, z):
        h = F.relu(self.fc(z)).reshape(z.shape[0], *self.base)
        return torch.tanh(self.up2(F.relu(self.norm(self.up1(h)))))


class Critic(nn.Module):
    """Two spectral-normalized convolutions (4, stride 2) with LeakyReLU, then a spectral-normalized
    linear layer to one score per image."""

    def __init__(self, image_shape, width, slope):
        super().__init__()
        c, h, w = image_shape
        self.conv1 = SpectralNorm(nn.Conv2d(c, width, 4, stride=2, padding=1))
        self.conv2 = SpectralNorm(nn.Conv2d(width, 2 * width, 4, stride=2, padding=1))
        self.fc = SpectralNorm(nn.Linear(2 * width * (h // 4) * (w // 4), 1))
        self.slope = slope

    def forward(self, x):
        h = F.leaky_relu(self.conv1(x), self.slope)
        h = F.leaky_relu(self.conv2(h), self.slope)
        return self.fc(h.flatten(1))


class Model(nn.Module):
    def __init__(self, image_shape, latent=64, generator_width=64, critic_width=64, leaky_slope=0.1,
                 loss="wasserstein", critic_steps=5):
        """image_shape: [C, H, W], H and W multiples of 4; generator_width: the generator's channels
        before its last layer (twice that after its linear layer); critic_width: the critic's first
        convolution's channels (twice that in the second); leaky_slope: the critic's LeakyReLU slope.
        loss and critic_steps are training-only and ignored."""
        super().__init__()
        c, h, w = image_shape
        if h % 4 or w % 4:
            raise ValueError("height and width must be multiples of 4")
        self.image_shape, self.latent = [c, h, w], latent
        self.generator = Generator(image_shape, latent, generator_width)
        self.critic = Critic(image_shape, critic_width, leaky_slope)

    def forward(self, z):
        return self.generator(z)

    @torch.no_grad()
    def sample(self, n, generator=None):
        return self.generator(torch.randn(n, self.latent, generator=generator, device=self.generator.fc.weight.device))
