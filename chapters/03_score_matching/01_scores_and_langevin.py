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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/chapters/03_score_matching/01_scores_and_langevin.ipynb)

# %% [markdown]
# # 3.1 Scores, score matching and Langevin dynamics
#
# Chapter 2 trained a network to predict noise. This chapter looks at the same object from another
# side: the **score** $\nabla_x \log p(x)$, the direction in which the density grows fastest. Knowing
# the score of every noisy version of the data is enough to generate; and a noise predictor *is* a
# score estimator.
#
# **You will**
# - check Tweedie's formula, which links the score to the best denoiser, on a mixture where both are
#   known exactly,
# - learn a score three ways (explicit, denoising and sliced score matching) and compare the learned
#   fields with the exact one,
# - sample with Langevin dynamics, see it fail between separated modes, and repair it with annealed
#   Langevin dynamics and its step-size rule (NCSN).
#
# **Prerequisites:** chapter 2 (noise prediction), gradients with `torch.autograd`.
# **Runtime:** about 35 s on a 2-core laptop CPU.
#
# **Read alongside:** Song & Ermon (2019), *Generative Modeling by Estimating Gradients of the Data
# Distribution*, Sec. 2-4 (Alg. 1); Vincent (2011), *A Connection Between Score Matching and Denoising
# Autoencoders*; Song et al. (2019), *Sliced Score Matching*; Efron (2011), *Tweedie's Formula and
# Selection Bias*; *The Principles of Diffusion Models*, chapter 3.

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
# ## 1. Scores and Tweedie's formula
#
# The score of a density $p$ is $s(x) = \nabla_x \log p(x)$. It needs no normalising constant, which
# is why it is easier to learn than $p$ itself. For the noisy marginal $p_t$ of
# $x_t = \alpha_t x_0 + \sigma_t\varepsilon$, **Tweedie's formula** (Efron 2011) says that the best
# denoiser is one score step away from $x_t$:
#
# $$\mathbb E[x_0 \mid x_t] = \frac{x_t + \sigma_t^2\, \nabla \log p_t(x_t)}{\alpha_t},
# \qquad\text{equivalently}\qquad \mathbb E[\varepsilon \mid x_t] = -\sigma_t \nabla \log p_t(x_t).$$
#
# So a network trained to predict $\varepsilon$ (chapter 2) estimates $-\sigma_t$ times the score.
# **Check** it at a few points on a 2D mixture in three independent ways: the library's exact score,
# the autograd gradient of the exact log-density $\log p_t$, and a Monte Carlo posterior mean
# (weight prior samples $x_0^{(k)}$ by the likelihood $q(x_t \mid x_0^{(k)})$).

# %%
mixture = dl.GaussianMixture.ring()
schedule = dl.Cosine()
t = 0.3
a, s = schedule.alpha(t), schedule.sigma(t)
x_t = torch.tensor([[1.0, 0.5], [-1.5, 1.5], [0.1, -0.2]], dtype=torch.float64)

marginal = mixture.at(schedule, t)
x_req = x_t.clone().requires_grad_(True)
score_autograd, = torch.autograd.grad(marginal.log_prob(x_req).sum(), x_req)
score = mixture.score_t(x_t, t, schedule)
assert torch.allclose(score, score_autograd, atol=1e-10)

tweedie = (x_t + s**2 * score) / a
prior = mixture.sample(400_000, generator=generator)
for x, d in zip(x_t, tweedie):
    logw = -((x - a * prior) ** 2).sum(-1) / (2 * s**2)  # log q(x_t | x0) up to a constant
    w = torch.softmax(logw, 0)
    posterior_mean = (w[:, None] * prior).sum(0)
    ess = 1 / (w**2).sum()  # effective sample size of the importance weights
    print(f"x_t = {x.numpy()}: Tweedie {d.numpy().round(4)}, Monte Carlo {posterior_mean.numpy().round(4)}"
          f" (effective samples {ess:.0f})")
    assert torch.allclose(d, posterior_mean, atol=5 / math.sqrt(ess))
assert torch.allclose(tweedie, mixture.denoiser(x_t, t, schedule), atol=1e-10)

# %% [markdown]
# ## 2. Learning a score: explicit, denoising and sliced score matching
#
# Fix one noise level, $t_0 = 0.1$, so the target is the score of one distribution $p_{t_0}$. Three
# losses can train a network $s_\theta(x)$ towards it:
#
# - **explicit score matching** (ESM), $\tfrac12\mathbb E\,\|s_\theta(x) - \nabla\log p(x)\|^2$: only possible
#   when the true score is known, as here;
# - **denoising score matching** (DSM, Vincent 2011), $\tfrac12\mathbb E\,\|s_\theta(x_t) + \varepsilon/\sigma_t\|^2$:
#   replace the unknown score by the score of the noising kernel, $-\varepsilon/\sigma_t$. Its minimiser is
#   the same, because averaging the kernel score over $x_0 \mid x_t$ gives $\nabla \log p_t$ (Tweedie
#   again). This is chapter 2's noise-prediction loss divided by $\sigma_t^2$;
# - **sliced score matching** (SSM, Song et al. 2019), $\mathbb E_{v}\,[v^\top \nabla_x s_\theta(x)\, v + \tfrac12\|s_\theta(x)\|^2]$
#   with random directions $v$: Hyvärinen's integration by parts without the true score or any noise,
#   at the cost of one extra backward pass.
#
# The same small MLP is trained with each (the time input is held at $t_0$).

# %%
t0 = 0.1
a0, s0 = schedule.alpha(t0).item(), schedule.sigma(t0).item()
p_t0 = mixture.at(schedule, t0)
clean = mixture.sample(20_000, generator=generator).float()
noisy_data = p_t0.sample(20_000, generator=generator).float()


def as_score(net):
    """The network as a score function of x alone, at the fixed time t0."""
    return lambda x: net(x, torch.full((x.shape[0],), t0))


def esm_loss(net, x, gen):
    return dl.explicit_score_matching(as_score(net), x, lambda y: p_t0.score(y).float())


def dsm_loss_from_scratch(net, x0, gen):
    eps = torch.randn(x0.shape, generator=gen)
    x_t = a0 * x0 + s0 * eps
    return 0.5 * ((as_score(net)(x_t) + eps / s0) ** 2).sum(-1).mean()


def ssm_loss(net, x, gen):
    return dl.sliced_score_matching(as_score(net), x, generator=gen)


learned = {}
for name, loss, data in [("explicit", esm_loss, noisy_data), ("denoising", dsm_loss_from_scratch, clean),
                         ("sliced", ssm_loss, noisy_data)]:
    dl.seed(1)
    fit = dl.fit(dl.MLP(dim=2), loss, data, steps=dl.budget(cpu=1500, gpu=8000), batch_size=256,
                 lr=2e-3, seed=1, desc=f"{name} score matching")
    learned[name] = as_score(fit.ema_model)
    print(f"{name:9s}: {fit.seconds:.1f} s")

# %% [markdown]
# Compare each learned field with the exact score on fresh samples of $p_{t_0}$ (relative squared
# error), and look at them as arrows.

# %%
x_eval = p_t0.sample(5000, generator=generator).float()
true_score = p_t0.score(x_eval).float()
rel_err = {}
with torch.no_grad():
    for name, score_fn in learned.items():
        rel_err[name] = (((score_fn(x_eval) - true_score) ** 2).sum(-1).mean()
                         / (true_score**2).sum(-1).mean()).item()
        print(f"{name:9s} score matching: relative squared error {rel_err[name]:.3f}")
assert all(err < 0.2 for err in rel_err.values())

g = torch.linspace(-3, 3, 17)
gx, gy = torch.meshgrid(g, g, indexing="xy")
grid = torch.stack([gx.ravel(), gy.ravel()], -1).float()
fig, axes = dl.plot.figure(4, width=9.0, height=2.5)
fields = {"exact": p_t0.score(grid.double()).float(), **{k: f(grid).detach() for k, f in learned.items()}}
for ax, (name, field) in zip(axes[0], fields.items()):
    field = field / (1 + field.norm(dim=-1, keepdim=True))  # compress long arrows for display
    ax.quiver(grid[:, 0], grid[:, 1], field[:, 0], field[:, 1], angles="xy", scale=12, width=0.006)
    ax.set(aspect="equal", title=name, xticks=[], yticks=[])
fig.suptitle(f"score of $p_t$ at t = {t0}: exact and learned three ways")
plt.show()

# %% [markdown]
# All three agree with the exact field where the data is. Far from it, no training point constrains
# the network: does it still get the score right? **Measure** it: the same relative error at points
# where $\log p_{t_0} < -12$ (uniform points in $[-6, 6]^2$, kept if they are that far from the data).

# %%
far = 12 * torch.rand(20_000, 2, generator=generator, dtype=torch.float64) - 6
far = far[p_t0.log_prob(far) < -12][:5000].float()
true_far = p_t0.score(far.double()).float()
with torch.no_grad():
    for name, score_fn in learned.items():
        err_far = (((score_fn(far) - true_far) ** 2).sum(-1).mean() / (true_far**2).sum(-1).mean()).item()
        print(f"{name:9s}: relative squared error {rel_err[name]:.3f} on the data, {err_far:.3f} far from it")
        assert err_far < 0.2

# %% [markdown]
# Here the networks extrapolate well: far from its modes the score of this mixture is nearly linear
# (a pull towards the ring), an easy function for an MLP. On real data it is not so kind: Song &
# Ermon (2019, Sec. 3.2) show learned scores that are wrong in low-density regions. But the next
# section shows that Langevin dynamics fails there even with the *exact* score.

# %% [markdown]
# ## 3. Langevin dynamics, and where it fails
#
# With a score you can sample without a normalising constant. **Langevin dynamics** iterates
#
# $$x_{k+1} = x_k + \frac{\epsilon}{2}\,\nabla\log p(x_k) + \sqrt{\epsilon}\; z_k, \qquad z_k \sim \mathcal N(0, I),$$
#
# whose stationary distribution tends to $p$ as $\epsilon \to 0$ and $k \to \infty$. Song & Ermon (2019,
# Sec. 3.2) point out two failures. Scores learned from data are wrong where there is no data; and
# even with the *exact* score, two modes separated by a low-density region mix extremely slowly, so
# the chain keeps the proportions of wherever it started. Reproduce their example: modes at
# $(-5,-5)$ and $(5,5)$ with weights 0.2 and 0.8, chains started uniformly in a square, exact score.

# %%
two = dl.GaussianMixture.isotropic([0.2, 0.8], [[-5.0, -5.0], [5.0, 5.0]], 1.0)


def langevin(score, x, step, n_steps, gen):
    for _ in range(n_steps):
        x = x + step / 2 * score(x) + math.sqrt(step) * torch.randn(x.shape, generator=gen,
                                                                    dtype=x.dtype)
    return x


start = 16 * torch.rand(4000, 2, generator=generator, dtype=torch.float64) - 8
plain = langevin(two.score, start, step=0.1, n_steps=1000, gen=generator)
frac_plain = (plain.sum(-1) < 0).double().mean().item()
print(f"Langevin with the exact score puts {frac_plain:.1%} of the samples in the weight-0.2 mode")
assert abs(frac_plain - 0.2) > 0.15  # the chain remembers its start, not the weights

# %% [markdown]
# ## 4. Annealed Langevin dynamics
#
# The fix (Song & Ermon 2019, Alg. 1, "NCSN"): run Langevin on a sequence of *noised* distributions
# $p_{\sigma_1}, \dots, p_{\sigma_L}$ with $\sigma_1 > \dots > \sigma_L$, each the data convolved with
# $\mathcal N(0, \sigma_i^2 I)$. At large $\sigma$ the modes overlap and mixing is easy; the chain then
# follows the distribution as the noise shrinks. The step size follows one rule,
#
# $$\epsilon_i = \epsilon\,\sigma_i^2/\sigma_L^2,$$
#
# chosen so that the ratio of the drift $\tfrac{\epsilon_i}{2}\nabla\log p_{\sigma_i}$ to the noise
# $\sqrt{\epsilon_i} z$ stays about the same at every level: for $\sigma_i$ large compared with the
# data, $\|\nabla\log p_{\sigma_i}\| \approx \sqrt d/\sigma_i$ and $\|z\| \approx \sqrt d$, so the ratio is
# $\approx\sqrt{\epsilon}/(2\sigma_L)$ whatever $i$. The noised mixtures have exact scores, so the sampler
# is exact up to discretisation. The settings are Song & Ermon's for this toy (their Sec. 3.2 and
# App. B.1): $L = 10$ levels from $\sigma_1 = 20$ to $\sigma_L = 1$, $\epsilon = 0.1$, 100 steps per level.

# %%
sigmas = torch.logspace(math.log10(20.0), math.log10(1.0), 10, dtype=torch.float64)
eps_base = 0.1


def noised(sigma):
    """The mixture convolved with N(0, sigma^2 I): still a mixture, with covariances + sigma^2 I."""
    return dl.GaussianMixture(two.weights, two.means, two.covs + sigma**2 * torch.eye(2))


x = 16 * torch.rand(4000, 2, generator=generator, dtype=torch.float64) - 8
ratios = []
for sigma in sigmas:
    step = eps_base * sigma**2 / sigmas[-1] ** 2
    p_sigma = noised(sigma)
    x = langevin(p_sigma.score, x, step=step.item(), n_steps=100, gen=generator)
    # drift / noise at the end of the level, where the chain has settled: ||z|| ~ sqrt(d) = sqrt(2)
    drift = (step / 2 * p_sigma.score(x)).norm(dim=-1).mean()
    ratios.append((drift / (math.sqrt(step) * math.sqrt(2))).item())
frac_annealed = (x.sum(-1) < 0).double().mean().item()
print(f"annealed Langevin puts {frac_annealed:.1%} of the samples in the weight-0.2 mode")
print("drift / noise ratio per level:", [f"{r:.3f}" for r in ratios],
      f"(rule of thumb {math.sqrt(eps_base) / (2 * sigmas[-1]):.3f})")
assert all(0.5 < r / (math.sqrt(eps_base) / (2 * sigmas[-1])) < 1.5 for r in ratios)
assert abs(frac_annealed - 0.2) < 4 * math.sqrt(0.2 * 0.8 / 4000)

fig, axes = dl.plot.figure(3, width=8.0, height=2.7)
for ax, pts, title in zip(axes[0], [two.sample(2000, generator=generator), plain, x],
                          ["data", f"Langevin ({frac_plain:.0%} lower left)",
                           f"annealed Langevin ({frac_annealed:.0%})"]):
    dl.plot.scatter2d(ax, pts[:2000], lim=9, s=1.5, title=title)
plt.show()

# %% [markdown]
# ## Exercises
#
# ### Exercise 3.1: Tweedie's denoiser
# Write `tweedie(x_t, score, alpha, sigma)` that returns $\mathbb E[x_0 \mid x_t]$ from the score of
# $p_t$ at $x_t$. The checker feeds it the exact score of the ring mixture and compares with the exact
# posterior mean.

# %% tags=["exercise"]
def tweedie(x_t, score, alpha, sigma):
    """Return E[x0 | x_t] given grad log p_t(x_t)."""
    # YOUR CODE HERE
    return None


# %%
points_3_1 = [mixture.at(schedule, t).sample(50, generator=generator) for t in (0.1, 0.5, 0.9)]
cases_3_1 = [(x, mixture.score_t(x, t, schedule), schedule.alpha(t), schedule.sigma(t))
             for x, t in zip(points_3_1, (0.1, 0.5, 0.9))]


def tweedie_reference(x_t, score, alpha, sigma):
    t = schedule.t_of_logsnr(torch.log(alpha**2 / sigma**2))
    return mixture.denoiser(x_t, float(t), schedule)


dl.exercises.check(tweedie, tweedie_reference, cases_3_1, name="Exercise 3.1", atol=1e-6)


# %% tags=["solution", "hide-input"]
# Solution: one step of size sigma^2 along the score, then undo the scaling by alpha.
def tweedie_solution(x_t, score, alpha, sigma):
    return (x_t + sigma**2 * score) / alpha


assert dl.exercises.check(tweedie_solution, tweedie_reference, cases_3_1,
                          name="Exercise 3.1 (solution)", atol=1e-6)

# %% [markdown]
# ### Exercise 3.2: one Langevin step
# Return $x + \tfrac{\epsilon}{2} s(x) + \sqrt{\epsilon}\, z$ for a score function `score`, a step size
# `step` and a given noise draw `z`.

# %% tags=["exercise"]
def langevin_step(x, score, step, z):
    """One step of (unadjusted) Langevin dynamics with the noise z given."""
    # YOUR CODE HERE
    return None


# %%
def langevin_step_reference(x, score, step, z):
    return x + step / 2 * score(x) + math.sqrt(step) * z


cases_3_2 = [(two.sample(20, generator=generator), two.score, step,
              torch.randn(20, 2, generator=generator, dtype=torch.float64)) for step in (0.01, 0.5)]
dl.exercises.check(langevin_step, langevin_step_reference, cases_3_2, name="Exercise 3.2")


# %% tags=["solution", "hide-input"]
# Solution: half a step along the score, plus Gaussian noise with variance `step`.
def langevin_step_solution(x, score, step, z):
    return x + 0.5 * step * score(x) + step**0.5 * z


assert dl.exercises.check(langevin_step_solution, langevin_step_reference, cases_3_2,
                          name="Exercise 3.2 (solution)")

# %% [markdown]
# ### Exercise 3.3: NCSN's noise levels and step sizes
# Return `(sigmas, steps)`: $L$ noise levels spaced geometrically from `sigma_max` down to
# `sigma_min`, and the annealed step sizes $\epsilon\,\sigma_i^2/\sigma_L^2$.

# %% tags=["exercise"]
def ncsn_levels(sigma_max, sigma_min, L, eps):
    """Geometric noise levels and their Langevin step sizes (Song & Ermon 2019, Alg. 1)."""
    # YOUR CODE HERE
    return None


# %%
def ncsn_levels_reference(sigma_max, sigma_min, L, eps):
    sig = torch.exp(torch.linspace(math.log(sigma_max), math.log(sigma_min), L, dtype=torch.float64))
    return sig, eps * sig**2 / sig[-1] ** 2


cases_3_3 = [(10.0, 0.1, 10, 2e-5), (50.0, 0.01, 232, 1e-6)]
dl.exercises.check(ncsn_levels, ncsn_levels_reference, cases_3_3, name="Exercise 3.3")


# %% tags=["solution", "hide-input"]
# Solution: geometric spacing is uniform spacing of log(sigma).
def ncsn_levels_solution(sigma_max, sigma_min, L, eps):
    ratio = (sigma_min / sigma_max) ** (1 / (L - 1))
    sig = sigma_max * ratio ** torch.arange(L, dtype=torch.float64)
    return sig, eps * (sig / sigma_min) ** 2


assert dl.exercises.check(ncsn_levels_solution, ncsn_levels_reference, cases_3_3,
                          name="Exercise 3.3 (solution)")

# %% [markdown]
# ## Papers in this chapter
#
# - **Generative Modeling by Estimating Gradients of the Data Distribution** (Song & Ermon, 2019): the
#   failure of Langevin dynamics between modes and annealed Langevin with $\epsilon_i \propto \sigma_i^2$
#   (sections 3-4, exercise 3.3).
# - **A Connection Between Score Matching and Denoising Autoencoders** (Vincent, 2011): denoising
#   score matching (section 2).
# - **Sliced Score Matching** (Song, Garg, Shi, Ermon, 2019): score matching with random projections
#   (section 2).
# - **Tweedie's Formula and Selection Bias** (Efron, 2011): the score-denoiser identity (section 1,
#   exercise 3.1).
# - **Score-Based Generative Modeling through Stochastic Differential Equations** (Song et al., 2021):
#   the view of DDPM and NCSN as one family, which chapter 4 develops.
# - **Neural Network-Based Score Estimation in Diffusion Models: Optimization and Generalization**
#   (Han et al., 2024): when a network trained by denoising score matching learns the score; section 2
#   measures this on a mixture.
#
# ## Summary
#
# - The score of $p_t$ and the best denoiser are the same thing, up to Tweedie's formula.
# - Explicit, denoising and sliced score matching all learn it; only DSM and SSM need no true score,
#   and DSM is what diffusion models train with.
# - Langevin dynamics samples from a score but cannot cross low-density regions; annealing the noise
#   level (NCSN) fixes this, with step sizes proportional to $\sigma_i^2$.
#
# **Next:** notebook 3.2 asks what a network's score actually learns from a finite training set:
# memorisation, generalisation, and samples between modes.
