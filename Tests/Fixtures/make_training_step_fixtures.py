"""Makes Tests/Fixtures/training_step_parity.safetensors: one training step of each benchmark
model of the PyTorch twin (../shared/peers/reference_models.py, outside this repository: the
script needs the shared folder beside the checkout), with every input fixed (no random draws
inside the step), the loss, and the gradient of every parameter, renamed to gen's paths.

The weights are not stored: every tensor is set to pattern_weights(name, shape) below, which
the Swift test computes the same way. Of each gradient the file keeps its L2 norm and, for
tensors of more than 1,024 elements, 1,024 evenly spaced elements (`.idx` gives their flat
indices), so it stays small:

  unet.*     UNetSmall, ε-prediction MSE at fixed x_t, steps and noise (batch 2)
  realnvp.*  RealNVPSmall, mean negative log p(x) of a fixed batch in logit space (batch 2)
  critic.*   the spectral-normalized Critic's Wasserstein loss E D(fake) − E D(real) in train mode
             (one power iteration per call, fake first), fakes from the Generator (detached)
  generator.* the Generator's loss −E D(G(z)), train mode, after the critic step's power iterations
  vae.*      VAEMLP on a binarized batch with fixed reparameterization noise: logits, μ, log σ²,
             the negative ELBO per image (BCE + KL, as the twin's loss), every gradient; and the
             Gaussian decoder's log-likelihood with σ = 0.3 from torch.distributions.Normal

Needs torch and safetensors. Run from the repository root:
    ~/venv-torch/bin/python Tests/Fixtures/make_training_step_fixtures.py
The Swift tests read only the file this writes.
"""
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "..", "..", "shared", "peers"))
try:
    from reference_models import VAEMLP, Critic, Generator, RealNVPSmall, UNetSmall  # noqa: E402
except ImportError as error:
    sys.exit(f"needs ../shared/peers/reference_models.py beside the checkout: {error}")
import make_diffusion_fixtures  # noqa: E402
import make_flows_fixtures  # noqa: E402
import make_gan_fixtures  # noqa: E402


SAMPLES = 1024


def pattern_weights(name, shape):
    """A deterministic tensor for gen path `name`: a sawtooth over the flat index, ±1/√fan-in for
    weights of rank ≥ 2, ±0.1 for rank-1 tensors (1 ± 0.1 for normalization weights), unit-norm
    for spectral normalization's u and v."""
    n = 1
    for d in shape:
        n *= d
    saw = ((torch.arange(n, dtype=torch.float64) * 37 + 11) % 101) / 50 - 1
    if name.endswith(".u") or name.endswith(".v"):
        return (saw / saw.norm()).reshape(shape).float()
    if len(shape) >= 2:
        return (saw / (n / shape[0]) ** 0.5).reshape(shape).float()
    if "norm" in name and name.endswith("weight"):
        return (1 + 0.1 * saw).reshape(shape).float()
    return (0.1 * saw).reshape(shape).float()


def set_weights(model, rename, skip=("running_", "num_batches")):
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not any(s in name for s in skip):
                tensor.copy_(pattern_weights(rename(name), tuple(tensor.shape)))


def keep(prefix, name, gradient, out):
    flat = gradient.detach().flatten().double()
    out[f"{prefix}.norm.{name}"] = flat.norm().reshape(1)
    if flat.numel() <= SAMPLES:
        out[f"{prefix}.grad.{name}"] = flat
    else:
        index = (torch.arange(SAMPLES, dtype=torch.float64) * (flat.numel() - 1) / (SAMPLES - 1)).round().long()
        out[f"{prefix}.grad.{name}"] = flat[index]
        out[f"{prefix}.idx.{name}"] = index.double()


def gradients(prefix, model, rename, out):
    for name, parameter in model.named_parameters():
        keep(prefix, rename(name), parameter.grad, out)


def unet(out):
    torch.manual_seed(1)
    model = UNetSmall()
    set_weights(model, make_diffusion_fixtures.gen_name)
    x = torch.randn(2, 1, 28, 28)
    steps = torch.tensor([37, 812])
    noise = torch.randn(2, 1, 28, 28)
    loss = F.mse_loss(model(x, steps), noise)
    loss.backward()
    gradients("unet", model, make_diffusion_fixtures.gen_name, out)
    out.update({"unet.input": x, "unet.steps": steps.float(), "unet.target": noise, "unet.loss": loss.detach().reshape(1)})


def realnvp(out):
    torch.manual_seed(2)
    model = RealNVPSmall()
    set_weights(model, make_flows_fixtures.gen_name)
    alpha = 0.05
    y = alpha + (1 - 2 * alpha) * torch.rand(2, 1, 28, 28)
    logit = torch.log(y) - torch.log1p(-y)
    loss = -model(logit).mean()
    loss.backward()
    gradients("realnvp", model, make_flows_fixtures.gen_name, out)
    out.update({"realnvp.input": logit, "realnvp.loss": loss.detach().reshape(1)})


def gan(out):
    torch.manual_seed(3)
    critic, generator = Critic(), Generator()
    set_weights(critic, make_gan_fixtures.critic_name)
    set_weights(generator, make_gan_fixtures.generator_name)
    real = torch.rand(4, 1, 28, 28) * 2 - 1
    z_critic, z_generator = torch.randn(4, 64), torch.randn(4, 64)
    critic.train(); generator.train()
    # the critic's step: fakes detached, D(fake) before D(real), as the twin's train_step
    fake = generator(z_critic).detach()
    critic_loss = critic(fake).mean() - critic(real).mean()
    critic_loss.backward()
    gradients("critic", critic, make_gan_fixtures.critic_name, out)
    # the generator's step, with the critic as it is now (u, v moved by two power iterations)
    critic.zero_grad(set_to_none=True)
    generator_loss = -critic(generator(z_generator)).mean()
    generator_loss.backward()
    gradients("generator", generator, make_gan_fixtures.generator_name, out)
    out.update({"gan.real": real, "gan.z_critic": z_critic, "gan.z_generator": z_generator,
                "critic.loss": critic_loss.detach().reshape(1), "generator.loss": generator_loss.detach().reshape(1)})


def vae(out):
    torch.manual_seed(4)
    model = VAEMLP()
    set_weights(model, lambda name: name)
    x = (torch.rand(5, 784) > 0.5).float()
    noise = torch.randn(5, 20)
    h = F.relu(model.fc1(x))
    mu, logvar = model.mu(h), model.logvar(h)
    z = mu + noise * torch.exp(0.5 * logvar)
    logits = model.fc4(F.relu(model.fc3(z)))
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), 1)
    negative_elbo = bce + kld
    negative_elbo.mean().backward()
    gradients("vae", model, lambda name: name, out)
    # the Gaussian decoder: log N(x; decoder mean, 0.3²) summed over pixels
    means = logits.detach()
    gaussian = torch.distributions.Normal(means, 0.3).log_prob(x).sum(1)
    out.update({"vae.input": x.reshape(5, 1, 28, 28), "vae.noise": noise, "vae.logits": logits.detach().reshape(5, 1, 28, 28),
                "vae.mu": mu.detach(), "vae.logvar": logvar.detach(), "vae.negative_elbo": negative_elbo.detach(),
                "vae.gaussian_log_likelihood": gaussian})


def main():
    out = {}
    unet(out)
    realnvp(out)
    gan(out)
    vae(out)
    path = os.path.join(here, "training_step_parity.safetensors")
    save_file({k: v.contiguous().float() for k, v in out.items()}, path,
              metadata={"made_by": "Tests/Fixtures/make_training_step_fixtures.py", "torch": torch.__version__})
    print(f"wrote {path}: {len(out)} tensors")


if __name__ == "__main__":
    main()
