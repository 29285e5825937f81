# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] tags=["colab-badge", "remove-cell"]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/chapters/03_score_matching/02_memorisation.ipynb)

# %% [markdown]
# # 3.2 Memorisation, generalisation and mode interpolation
#
# Denoising score matching has an awkward exact answer. On a finite training set the loss is
# minimised by the **optimal empirical denoiser**, whose samples are copies of the training points:
# perfect training means perfect memorisation. Yet trained networks generate new data. This notebook
# measures when they memorise, when they generalise, and one way their smoothness shows up as
# "hallucinated" samples between modes.
#
# **You will**
# - write the optimal empirical denoiser and watch it reproduce its training set,
# - train the same network on few and on many points and measure memorisation,
# - repeat the key experiment of Kadkhodaie et al. (2024): two networks trained on *disjoint* data
#   sets produce the same samples once the sets are large enough,
# - measure mode interpolation: samples in regions where the data has no mass.
#
# **Prerequisites:** notebook 3.1, chapter 2 (training and sampling).
# **Runtime:** about 100 s on a 2-core laptop CPU.
#
# **Read alongside:** Kadkhodaie, Guth, Simoncelli, Mallat (2024), *Generalization in diffusion
# models arises from geometry-adaptive harmonic representations*, Sec. 2; Aithal, Maini, Lipton,
# Kolter (2024), *Understanding Hallucinations in Diffusion Models through Mode Interpolation*,
# Sec. 3-4; Karras et al. (2022), Appendix B.3 (the ideal denoiser of a finite data set).

# %% tags=["setup", "hide-cell"]
# Set-up (the same in every notebook). On Colab: install the course library from the repository
# (it never reinstalls Colab's torch). Everywhere: import it, seed, use the house plot style.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "diffusionlab @ git+https://github.com/diffusion-step-by-step/diffusion-step-by-step@main"], check=True)

import diffusionlab as dl

generator = dl.setup(seed=0)

# %%
import math

import matplotlib.pyplot as plt
import torch

# %% [markdown]
# ## 1. The optimal empirical denoiser
#
# Take a training set $\{x^{(1)}, \dots, x^{(n)}\}$ as the data distribution: $n$ point masses. The
# best denoiser in the squared-error sense is the posterior mean, and the posterior over which point
# was noised is a softmax of distances:
#
# $$D^\star(x_t, t) = \sum_{k=1}^n w_k(x_t)\, x^{(k)}, \qquad
# w_k(x_t) = \operatorname{softmax}_k\!\left(-\frac{\|x_t - \alpha_t x^{(k)}\|^2}{2\sigma_t^2}\right).$$
#
# It is the exact minimiser of the denoising loss over that training set, so a network that trained
# "perfectly" would *be* this function. Write it in two lines and check it against the library's
# `dl.EmpiricalDistribution`; then sample with it.

# %%
mixture = dl.toy2d_mixture("eight_gaussians")
schedule = dl.VPLinear()  # DDPM's linear schedule, as in chapter 2
train_small = mixture.sample(16, generator=generator)


def empirical_denoiser(x_t, t, points):
    logits = -((x_t[:, None, :] - schedule.alpha(t) * points[None]) ** 2).sum(-1) / (2 * schedule.sigma(t) ** 2)
    return torch.softmax(logits, dim=1) @ points


empirical = dl.EmpiricalDistribution(train_small)
x_t = dl.noisy(mixture.sample(100, generator=generator), 0.4, schedule, generator=generator)[0]
assert torch.allclose(empirical_denoiser(x_t, 0.4, train_small), empirical.denoiser(x_t, 0.4, schedule),
                      atol=1e-10)

x_T = torch.randn(2000, 2, generator=generator, dtype=torch.float64)
# Karras spacing (notebook 1.2) ends at tiny noise levels, where the posterior over training points
# is one-hot; a uniform grid's last step starts at sigma = 0.03 and can still blend two close points
copies = dl.ddpm_ancestral(empirical.as_denoiser(schedule), schedule, x_T,
                           dl.timesteps(schedule, 200, spacing="karras"), generator=generator)
_, dist = empirical.nearest(copies)
print(f"largest distance from a sample to its nearest training point: {dist.max():.2e}")
assert dist.max() < 1e-6  # every sample is a training point

# %% [markdown]
# ## 2. Few points: the network memorises. Many points: it generalises
#
# Train the same small MLP with the same budget on $n = 16$ and on $n = 4096$ points of the ring, then
# sample 2000 points from each. Measure memorisation by the distance from each sample to its nearest
# training point, and compare with the same distance for *fresh* data (what a model that learned the
# distribution, not the points, would give).

# %%
def train(points, seed):
    dl.seed(seed)
    fit = dl.fit(dl.MLP(dim=2), lambda net, batch, gen: dl.dsm_loss(net, batch, schedule, generator=gen),
                 points.float(), steps=dl.budget(cpu=3000, gpu=15_000), batch_size=256, lr=2e-3,
                 seed=seed, desc=f"n = {len(points)}, seed {seed}")
    return dl.denoiser(fit.ema_model, schedule, target="eps")


def sample(denoiser, seed):
    gen = torch.Generator().manual_seed(seed)  # the same noise for every model: paired samples
    x_T = torch.randn(2000, 2, generator=gen)
    with torch.no_grad():
        return dl.ddpm_ancestral(denoiser, schedule, x_T, dl.timesteps(schedule, 200), generator=gen)


sizes = (16, 4096)
pool = mixture.sample(2 * sizes[-1], generator=generator)  # two disjoint halves: sets A and B
sets = {n: (pool[:n], pool[sizes[-1]: sizes[-1] + n]) for n in sizes}
samples = {n: (sample(train(a, 1), 123), sample(train(b, 2), 123)) for n, (a, b) in sets.items()}

fresh = mixture.sample(2000, generator=generator)
memorised = {}
for n, (a, _) in sets.items():
    nearest = dl.EmpiricalDistribution(a)
    d_model = nearest.nearest(samples[n][0].double())[1]
    d_fresh = nearest.nearest(fresh)[1]
    memorised[n] = (d_model.median().item(), d_fresh.median().item())
    print(f"n = {n:4d}: median distance to the nearest training point: samples {memorised[n][0]:.3f}, "
          f"fresh data {memorised[n][1]:.3f}")
assert memorised[16][0] < 0.7 * memorised[16][1]  # few points: samples hug the training set
assert 0.5 < memorised[4096][0] / memorised[4096][1] < 2  # many: no closer to it than fresh data

# %% [markdown]
# ## 3. Two networks, disjoint data, the same samples
#
# Kadkhodaie et al. (2024) trained two networks on *non-overlapping* training sets and sampled both
# from the same noise. With few training images the two produce different images (each recalls its
# own set); with enough, they produce nearly the same image: both have learned the same density, not
# their training sets. Reproduce it: sets A and B above are disjoint, and the two models of each size
# were sampled with identical noise.

# %%
pair_dist = {n: (a - b).norm(dim=-1).median().item() for n, (a, b) in samples.items()}
for n in sizes:
    print(f"n = {n:4d}: median distance between the paired samples of model A and model B: {pair_dist[n]:.3f}")
assert pair_dist[4096] < 0.5 * pair_dist[16]

fig, axes = dl.plot.figure(4, width=9.0, height=2.5)
for col, n in enumerate(sizes):
    a_set, _ = sets[n]
    for k, (pts, label) in enumerate(zip(samples[n], "AB")):
        ax = axes[0, 2 * col + k]
        dl.plot.scatter2d(ax, pts[:1000], lim=3.2, s=1.5, title=f"n = {n}, model {label}")
        if n == 16:
            ax.scatter(*sets[n][k].T, marker="x", color="#D55E00", s=25, label="its training set")
        ax.set_xticks([]), ax.set_yticks([])
axes[0, 0].legend(loc="lower left")
plt.show()

# %% [markdown]
# ## 4. Mode interpolation: samples where the data has no mass
#
# A network's denoiser is smooth in $x_t$; the exact one is not. Between two well-separated modes,
# the exact denoiser switches sharply from one mode to the other, and samples never land in between.
# A smooth approximation blends the two, so some trajectories end in the gap: Aithal et al. (2024) call
# these *hallucinations by mode interpolation*. Measure it on 1-D data with three narrow modes
# (standard deviation 0.05, two units apart): count samples more than 4 standard deviations from
# every mode, where the true mass is $P(|z| > 4) = 6.3 \times 10^{-5}$.

# %%
modes = dl.GaussianMixture.isotropic([1 / 3] * 3, [[-2.0], [0.0], [2.0]], 0.05)
data_1d = modes.sample(20_000, generator=generator).float()
dl.seed(3)
fit_1d = dl.fit(dl.MLP(dim=1), lambda net, batch, gen: dl.dsm_loss(net, batch, schedule, generator=gen),
                data_1d, steps=dl.budget(cpu=3000, gpu=15_000), batch_size=256, lr=2e-3, seed=3,
                desc="three modes, 1-D")
x_T = torch.randn(20_000, 1, generator=generator)
with torch.no_grad():
    learned = dl.ddpm_ancestral(dl.denoiser(fit_1d.ema_model, schedule, target="eps"), schedule, x_T,
                                dl.timesteps(schedule, 200), generator=generator)
exact = dl.ddpm_ancestral(modes.as_denoiser(schedule), schedule, x_T.double(), dl.timesteps(schedule, 200),
                          generator=generator)


def in_gap(x):
    return ((x - modes.means[:, 0]).abs().min(-1).values > 4 * 0.05).double().mean().item()


true_mass = math.erfc(4 / math.sqrt(2))  # P(|z| > 4) for a standard normal z
print(f"fraction of samples in the gaps: trained network {in_gap(learned.double()):.3%}, "
      f"exact denoiser {in_gap(exact):.3%}, true distribution {true_mass:.4%}")
assert in_gap(learned.double()) > 20 * true_mass  # hallucinated: far more than the data has
assert in_gap(exact) < true_mass + 4 * math.sqrt(true_mass / len(exact))  # the exact sampler does not

fig, axes = dl.plot.figure(1, width=6.0, height=2.6)
ax = axes[0, 0]
bins = torch.linspace(-3, 3, 241)
ax.hist(exact[:, 0], bins=bins, density=True, alpha=0.5, label="exact denoiser")
ax.hist(learned[:, 0], bins=bins, density=True, alpha=0.5, label="trained network")
ax.set(yscale="log", xlabel="x", title="samples between the modes (log scale)")
ax.legend()
plt.show()

# %% [markdown]
# ## Papers in this chapter
#
# - **Generalization in diffusion models arises from geometry-adaptive harmonic representations**
#   (Kadkhodaie, Guth, Simoncelli, Mallat, 2024): the memorisation-to-generalisation transition and the
#   disjoint-training-sets experiment, reproduced in 2-D in sections 2-3.
# - **Understanding Hallucinations in Diffusion Models through Mode Interpolation** (Aithal, Maini,
#   Lipton, Kolter, 2024): samples between modes from a smooth learned denoiser (section 4).
# - **Elucidating the Design Space of Diffusion-Based Generative Models** (Karras et al., 2022),
#   Appendix B.3: the ideal denoiser of a finite training set (section 1).
# - **Neural Network-Based Score Estimation in Diffusion Models: Optimization and Generalization**
#   (Han et al., 2024): why a trained network does not reach the empirical optimum, and generalises.
#
# ## Summary
#
# - The exact minimiser of the denoising loss on a finite set copies the training points.
# - A small network trained on few points comes close to that; trained on many points, it learns the
#   density instead, and two networks trained on disjoint sets agree.
# - The same smoothness that lets a network generalise puts some samples between modes.
#
# **Next:** chapter 4 writes diffusion as a stochastic differential equation and derives the
# probability-flow ODE and exact likelihoods.
