"""Makes Tests/Fixtures/sampler_steps.safetensors: single reverse steps of DDPM ancestral sampling
(Ho et al. 2020, Eq. 6-7: the posterior mean's two coefficients, the small variance beta-tilde and
the large one beta) and of DDIM (Song, Meng & Ermon 2021, Eq. 12: sigma(eta)), computed in NumPy
from the papers' formulas on the linear schedule of T = 1000 (betas from 1e-4 to 0.02), and the
Frechet and kernel inception distances of two 8-dimensional feature sets with non-diagonal
covariances (scipy.linalg.sqrtm; the unbiased MMD^2 under the cubic kernel (x.y/d + 1)^3).

Each sampler case starts from x_t (4 x 1 x 3 x 3 values) and a network output eps_hat (the
predicted noise, the same whatever the input), going from step k_t to step k_s of 1000; it stores
the step's mean and standard deviation, so the test can add the noise its own generator draws.

Needs numpy, scipy and safetensors. Run from the repository root:
    ~/venv-torch/bin/python Tests/Fixtures/make_sampler_fixtures.py
The Swift tests read only the file this writes.
"""
import os

import numpy as np
from safetensors.numpy import save_file
from scipy.linalg import sqrtm

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)

betas = np.linspace(1e-4, 0.02, 1000, dtype=np.float64)
alpha_bar = np.concatenate([[1.0], np.cumprod(1 - betas)])  # alpha_bar[k] at step k = t * 1000


def ddpm_step(x_t, eps_hat, k_t, k_s, clip):
    """Ho et al. Eq. 6-7 between any two steps (the strided form): beta = 1 - abar_t / abar_s."""
    a_t, a_s = alpha_bar[k_t], alpha_bar[k_s]
    x0 = (x_t - np.sqrt(1 - a_t) * eps_hat) / np.sqrt(a_t)
    if clip:
        x0 = np.clip(x0, -1, 1)
    beta = 1 - a_t / a_s
    mean = np.sqrt(a_s) * beta / (1 - a_t) * x0 + np.sqrt(a_t / a_s) * (1 - a_s) / (1 - a_t) * x_t
    return mean, np.sqrt((1 - a_s) / (1 - a_t) * beta), np.sqrt(beta)


def ddim_step(x_t, eps_hat, k_t, k_s, eta, clip):
    """Song et al. Eq. 12: x_s = sqrt(abar_s) x0 + sqrt(1 - abar_s - sigma^2) eps + sigma z with
    sigma = eta sqrt((1 - abar_s)/(1 - abar_t)) sqrt(1 - abar_t/abar_s); with clipping, eps is the
    noise the clipped x0 implies."""
    a_t, a_s = alpha_bar[k_t], alpha_bar[k_s]
    x0 = (x_t - np.sqrt(1 - a_t) * eps_hat) / np.sqrt(a_t)
    eps = eps_hat
    if clip:
        x0 = np.clip(x0, -1, 1)
        eps = (x_t - np.sqrt(a_t) * x0) / np.sqrt(1 - a_t)
    sigma = eta * np.sqrt((1 - a_s) / (1 - a_t)) * np.sqrt(1 - a_t / a_s)
    mean = np.sqrt(a_s) * x0 + np.sqrt(1 - a_s - sigma ** 2) * eps
    return mean, sigma


def main():
    out = {}
    shape = (4, 1, 3, 3)
    for name, (k_t, k_s) in {"late": (600, 590), "early": (40, 30), "last": (10, 0)}.items():
        x_t = rng.normal(size=shape) * 1.5
        eps_hat = rng.normal(size=shape)
        out[f"{name}.x_t"], out[f"{name}.eps_hat"] = x_t, eps_hat
        out[f"{name}.times"] = np.array([k_t / 1000, k_s / 1000])
        for clip in (False, True):
            mean, small, large = ddpm_step(x_t, eps_hat, k_t, k_s, clip)
            out[f"{name}.ddpm.clip{int(clip)}.mean"] = mean
            out[f"{name}.ddpm.clip{int(clip)}.std_small"] = np.array([small])
            out[f"{name}.ddpm.clip{int(clip)}.std_large"] = np.array([large])
            for eta in (0.0, 0.5, 1.0):
                mean, sigma = ddim_step(x_t, eps_hat, k_t, k_s, eta, clip)
                out[f"{name}.ddim.eta{eta}.clip{int(clip)}.mean"] = mean
                out[f"{name}.ddim.eta{eta}.clip{int(clip)}.std"] = np.array([sigma])

    # FID and KID of two 8-D Gaussian samples with full covariances
    d = 8
    a = rng.normal(size=(d, d)) / np.sqrt(d)
    b = rng.normal(size=(d, d)) / np.sqrt(d)
    x = rng.normal(size=(300, d)) @ a.T * 3 + 1.0
    y = rng.normal(size=(300, d)) @ b.T * 3 + 1.5
    mu_x, mu_y = x.mean(0), y.mean(0)
    cov_x, cov_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = sqrtm(cov_x @ cov_y).real
    fid = float(((mu_x - mu_y) ** 2).sum() + np.trace(cov_x) + np.trace(cov_y) - 2 * np.trace(root))
    scale = 1 / np.sqrt((x ** 2).mean())  # gen divides both sets by the RMS of the reference set

    def mmd2(p, q, degree):
        k = lambda u, v: (u @ v.T / d + 1) ** degree
        m = len(p)
        kxx, kyy, kxy = k(p, p), k(q, q), k(p, q)
        return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())

    out.update({"metrics.x": x, "metrics.y": y, "metrics.fid": np.array([fid]), "metrics.rms_scale": np.array([scale]),
                "metrics.kid_cubic": np.array([mmd2(x * scale, y * scale, 3)]),
                "metrics.kid_quadratic": np.array([mmd2(x * scale, y * scale, 2)])})
    path = os.path.join(here, "sampler_steps.safetensors")
    save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in out.items()}, path,
              metadata={"made_by": "Tests/Fixtures/make_sampler_fixtures.py", "numpy": np.__version__})
    print(f"wrote {path}: FID {fid:.6f}, KID cubic {out['metrics.kid_cubic'][0]:.6f}, quadratic {out['metrics.kid_quadratic'][0]:.6f}")


if __name__ == "__main__":
    main()
