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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/chapters/01_forward_process/01_gaussian_corruption.ipynb)

# %% [markdown]
# # 1.1 Gaussian corruption: the forward process
#
# A diffusion model learns to undo a corruption that *we* design: data is destroyed by Gaussian noise,
# a little at a time, until nothing but noise is left. This notebook builds that forward process.
#
# **You will**
# - simulate DDPM's step-by-step noising chain from scratch,
# - derive its closed-form marginal $x_t = \alpha_t x_0 + \sigma_t \varepsilon$ and check it by Monte Carlo,
# - meet the signal-to-noise ratio and see why logSNR, not $t$, is what really describes a noise level,
# - push an analytic Gaussian mixture through the process and compare with its exact marginal densities.
#
# **Prerequisites:** notebook 0.1 (notation); sums of independent Gaussians.
# **Runtime:** about 20 s on a laptop CPU.
#
# **Read alongside:** Ho, Jain, Abbeel (2020), *Denoising Diffusion Probabilistic Models*, Sec. 2
# (eqs. 2 and 4); Kingma, Salimans, Poole, Ho (2021), *Variational Diffusion Models*, Sec. 3 (the SNR
# view); *The Principles of Diffusion Models*, chapter 2.

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
from scipy.stats import kstest

# Monte Carlo checks below compare small differences: work in float64
torch.set_default_dtype(torch.float64)

# %% [markdown]
# ## 1. One small step of noise
#
# DDPM corrupts data with a Markov chain of $T$ steps. At step $i$ it shrinks the current point a
# little and adds a little Gaussian noise:
#
# $$q(x_i \mid x_{i-1}) = \mathcal N\!\left(\sqrt{1 - \beta_i}\, x_{i-1},\; \beta_i I\right), \qquad i = 1, \dots, T.$$
#
# The shrinking by $\sqrt{1-\beta_i}$ is what keeps the variance bounded: if $x_{i-1}$ has unit variance,
# so does $x_i$ ($(1-\beta_i) \cdot 1 + \beta_i = 1$). DDPM uses $T = 1000$ and $\beta_i$ rising linearly from
# $10^{-4}$ to $0.02$. The chain is three lines of code:

# %%
T = 1000
betas = torch.linspace(1e-4, 0.02, T)


def run_chain(x0, betas, keep, generator=None):
    """Simulate q(x_i | x_{i-1}) for i = 1..T; return {i: x_i} for i in `keep`."""
    x, kept = x0, {0: x0}
    for i, beta in enumerate(betas, start=1):
        noise = torch.randn(x.shape, generator=generator)
        x = torch.sqrt(1 - beta) * x + torch.sqrt(beta) * noise
        if i in keep:
            kept[i] = x
    return kept


# 8 Gaussians on a circle: a 2D toy whose density is known exactly
mixture = dl.GaussianMixture.ring()
x0 = mixture.sample(4000, generator=generator)
steps = [0, 50, 150, 300, 600, 1000]
chain = run_chain(x0, betas, set(steps), generator=generator)

fig, axes = dl.plot.figure(len(steps), width=9.0, height=1.9)
for ax, i in zip(axes[0], steps):
    dl.plot.scatter2d(ax, chain[i], lim=3.5, s=1, title=f"step {i}")
    ax.set_xticks([]), ax.set_yticks([])
fig.suptitle("DDPM's chain on a ring of eight Gaussians")
plt.show()

# %% [markdown]
# ## 2. Jumping straight to step $i$
#
# Training needs $x_i$ for a random $i$; running $i$ chain steps each time would be slow. Unroll two
# steps: $x_i = \sqrt{1-\beta_i}\,\big(\sqrt{1-\beta_{i-1}}\, x_{i-2} + \sqrt{\beta_{i-1}}\, \varepsilon'\big) + \sqrt{\beta_i}\, \varepsilon''$.
# The two noise terms are independent Gaussians, so their sum is one Gaussian with variance
# $(1-\beta_i)\beta_{i-1} + \beta_i = 1 - (1-\beta_i)(1-\beta_{i-1})$. By induction
#
# $$q(x_i \mid x_0) = \mathcal N\!\left(\sqrt{\bar\alpha_i}\, x_0,\; (1 - \bar\alpha_i) I\right), \qquad \bar\alpha_i = \prod_{j=1}^{i} (1 - \beta_j).$$
#
# In the course's notation (notebook 0.1) this is $x_t = \alpha_t x_0 + \sigma_t \varepsilon$ at $t = i/T$, with
# $\alpha_t = \sqrt{\bar\alpha_i}$ and $\sigma_t = \sqrt{1 - \bar\alpha_i}$.
#
# **Check by Monte Carlo.** Start 20,000 chains at the *same* point $x_0$; at each kept step the
# empirical mean and variance must match $\sqrt{\bar\alpha_i} x_0$ and $1 - \bar\alpha_i$ up to sampling error.
# The tolerance is 5 standard errors: the mean's standard error is $\sqrt{(1-\bar\alpha_i)/n}$ and the
# variance's is about $(1-\bar\alpha_i)\sqrt{2/(n-1)}$.

# %%
alpha_bar = torch.cumprod(1 - betas, dim=0)
n = 20_000
start = torch.tensor([1.5, -0.5])
runs = run_chain(start.expand(n, 2), betas, set(steps), generator=generator)
for i in steps[1:]:
    mean_cf, var_cf = math.sqrt(alpha_bar[i - 1]) * start, 1 - alpha_bar[i - 1]
    mean_mc, var_mc = runs[i].mean(0), runs[i].var(0)
    se_mean, se_var = math.sqrt(var_cf / n), var_cf * math.sqrt(2 / (n - 1))
    print(f"step {i:4d}: mean {mean_mc.numpy().round(3)} vs {mean_cf.numpy().round(3)},",
          f"var {var_mc.numpy().round(4)} vs {var_cf:.4f}")
    assert torch.all((mean_mc - mean_cf).abs() < 5 * se_mean)
    assert torch.all((var_mc - var_cf).abs() < 5 * se_var)

# %% [markdown]
# The library's schedule object holds the same numbers. `dl.Discrete.linear(1000)` is DDPM's table,
# and it evaluates at *any* $t \in [0, 1]$, not just at $t = i/T$ (between grid points it keeps $\beta$
# constant, so $\log \bar\alpha$ is piecewise linear). `dl.noisy` draws $x_t$ in one line.

# %%
ddpm = dl.Discrete.linear(T)
t_grid = torch.arange(1, T + 1) / T
assert torch.allclose(ddpm.alpha(t_grid), alpha_bar.sqrt(), rtol=1e-10)
assert torch.allclose(ddpm.sigma(t_grid), (1 - alpha_bar).sqrt(), rtol=1e-10)

xt, eps = dl.noisy(x0, 0.3, ddpm, generator=generator)
assert torch.allclose(xt, ddpm.alpha(0.3) * x0 + ddpm.sigma(0.3) * eps)
print(f"at t = 0.3: alpha = {ddpm.alpha(0.3):.4f}, sigma = {ddpm.sigma(0.3):.4f}")

# %% [markdown]
# ## 3. Signal-to-noise ratio
#
# How noisy is $x_t$? The natural measure is the ratio of signal power to noise power,
#
# $$\mathrm{SNR}(t) = \frac{\alpha_t^2}{\sigma_t^2}, \qquad \lambda_t = \log \mathrm{SNR}(t),$$
#
# which falls from $+\infty$ at $t = 0$ to almost $0$ at $t = 1$. Kingma et al. (2021) showed that the
# logSNR is what really describes a noise level: dividing $x_t$ by $\alpha_t$ gives
#
# $$\frac{x_t}{\alpha_t} = x_0 + \frac{\sigma_t}{\alpha_t}\, \varepsilon = x_0 + e^{-\lambda_t / 2}\, \varepsilon,$$
#
# a "variance exploding" corruption with noise level $\sigma^{\text{EDM}} = e^{-\lambda/2}$. Two processes
# with the same $\lambda$ carry the same information about $x_0$, whatever their $\alpha$ and $\sigma$.
#
# **Check, exactly.** The library knows the marginal of the Gaussian mixture at any time. The
# marginal of DDPM's process at $t$, rescaled by $1/\alpha_t$, must be the marginal of a variance
# exploding process (`dl.VE`, $\alpha = 1$) at the time where its $\sigma$ equals $e^{-\lambda_t/2}$.

# %%
t = 0.4
lam = ddpm.logsnr(t)
assert torch.isclose(lam, torch.log(ddpm.alpha(t) ** 2 / ddpm.sigma(t) ** 2))
ve = dl.VE(sigma_min=0.01, sigma_max=50.0)
t_ve = ve.t_of_logsnr(lam)  # the VE time with the same logSNR
assert torch.isclose(ve.sigma(t_ve), torch.exp(-lam / 2))

vp_marginal, ve_marginal = mixture.at(ddpm, t), mixture.at(ve, float(t_ve))
a = ddpm.alpha(t)
assert torch.allclose(vp_marginal.means / a, ve_marginal.means, atol=1e-9)
assert torch.allclose(vp_marginal.covs / a**2, ve_marginal.covs, atol=1e-9)
print(f"t = {t}: logSNR = {lam:.3f}; VP x_t / alpha_t has the law of VE x",
      f"at t = {t_ve:.4f} (sigma = {ve.sigma(t_ve):.4f})")

# %%
fig, axes = dl.plot.figure(2, width=7.0, height=2.6)
ax0, ax1 = axes[0]
ax0.plot(t_grid, ddpm.alpha(t_grid) ** 2, label=r"$\alpha_t^2$ (signal power)")
ax0.plot(t_grid, ddpm.sigma(t_grid) ** 2, label=r"$\sigma_t^2$ (noise power)")
ax0.set(xlabel="t", title="DDPM's linear schedule")
ax0.legend()
ax1.plot(t_grid, ddpm.logsnr(t_grid))
ax1.axhline(0, color="grey", lw=0.8)
ax1.set(xlabel="t", ylabel=r"$\lambda_t$", title="logSNR: 0 where signal = noise")
plt.show()

# %% [markdown]
# ## 4. The forward process on a distribution we know exactly
#
# So far we noised samples. A diffusion model, though, is about *distributions*: $p_0$ is the data
# distribution and $p_t$ the distribution of $x_t$. For a Gaussian mixture
# $p_0 = \sum_k w_k\, \mathcal N(\mu_k, \Sigma_k)$, each component is pushed through a linear map plus
# independent Gaussian noise, so $p_t$ is again a mixture with the same weights:
#
# $$p_t = \sum_k w_k\, \mathcal N\!\left(\alpha_t \mu_k,\; \alpha_t^2 \Sigma_k + \sigma_t^2 I\right).$$
#
# This is why the course leans on Gaussian mixtures: every marginal, score and denoiser is known in
# closed form, so learned models and samplers can be checked against the exact answer.
#
# **Check with a Kolmogorov-Smirnov test.** Noise 20,000 samples of a 1-D two-mode mixture and compare
# their empirical distribution with the exact marginal CDF at several times. The KS statistic must
# stay below the 0.1% critical value $1.95/\sqrt n$.

# %%
two = dl.GaussianMixture.two_modes()
w, mu, sd = two.weights, two.means[:, 0], two.covs[:, 0, 0].sqrt()
times = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
x0_1d = two.sample(20_000, generator=generator)


def mixture_cdf(x, marginal):
    """CDF of a 1-D Gaussian mixture: sum_k w_k Phi((x - mu_k) / s_k)."""
    m, s = marginal.means[:, 0], marginal.covs[:, 0, 0].sqrt()
    z = (torch.as_tensor(x)[:, None] - m) / s
    return (marginal.weights * 0.5 * (1 + torch.erf(z / math.sqrt(2)))).sum(-1)


fig, axes = dl.plot.figure(len(times), width=9.0, height=1.9, sharey=True)
grid = torch.linspace(-5, 5, 400)
for ax, t in zip(axes[0], times):
    xt, _ = dl.noisy(x0_1d, t, ddpm, generator=generator)
    marginal = two.at(ddpm, t)
    ks = kstest(xt[:, 0].numpy(), lambda v: mixture_cdf(v, marginal).numpy()).statistic
    assert ks < 1.95 / math.sqrt(len(xt)), (t, ks)
    ax.hist(xt[:, 0], bins=60, range=(-5, 5), density=True, alpha=0.5)
    ax.plot(grid, marginal.log_prob(grid[:, None]).exp(), color="#D55E00")
    ax.set(title=f"t = {t}  (KS {ks:.3f})", xticks=[-4, 0, 4])
fig.suptitle("noised samples (histogram) vs the exact marginal $p_t$ (line)")
plt.show()

# %% [markdown]
# At $t = 1$ the marginal is almost exactly $\mathcal N(0, 1)$: DDPM's $\alpha_1 \approx 0.006$, so a trace
# of the data survives. Notebook 1.2 shows why that trace matters and how the cosine and
# zero-terminal-SNR schedules remove it.
#
# The same holds in 2D. Here are the exact marginal densities of the eight-mode ring with the noised
# samples on top: the modes blur, merge, and become one standard Gaussian.

# %%
fig, axes = dl.plot.figure(4, width=9.0, height=2.4)
g = torch.linspace(-3.5, 3.5, 120)
gx, gy = torch.meshgrid(g, g, indexing="xy")
points = torch.stack([gx.ravel(), gy.ravel()], -1)
for ax, t in zip(axes[0], [0.0, 0.3, 0.5, 0.8]):
    density = mixture.at(ddpm, t).log_prob(points).exp().reshape(gx.shape)
    ax.contourf(gx, gy, density, levels=12, cmap="Blues")
    xt, _ = dl.noisy(x0[:400], t, ddpm, generator=generator)
    dl.plot.scatter2d(ax, xt, lim=3.5, s=1, color="#D55E00", title=f"t = {t}")
    ax.set_xticks([]), ax.set_yticks([])
plt.show()

# %% [markdown]
# As $t \to 1$ the exact marginal approaches $\mathcal N(0, I)$: its mean goes to $0$ and its covariance
# to $I$. The mixture's overall mean and covariance follow $\alpha_t\,\mathbb E[x_0]$ and
# $\alpha_t^2 \mathrm{Cov}[x_0] + \sigma_t^2 I$; check this against the library's closed forms.

# %%
for t in [0.5, 0.9, 1.0]:
    m = mixture.at(ddpm, t)
    a, s = ddpm.alpha(t), ddpm.sigma(t)
    assert torch.allclose(m.mean(), a * mixture.mean(), atol=1e-12)
    cov = a**2 * mixture.cov() + s**2 * torch.eye(2)
    assert torch.allclose(m.cov(), cov, atol=1e-12)
    mean, var = m.mean().numpy().round(4) + 0.0, torch.diagonal(m.cov()).numpy().round(4)
    print(f"t = {t}: mean {mean}, cov diagonal {var}")

# %% [markdown]
# ## Exercises
#
# ### Exercise 1.1: jump to step $i$
# Write `q_sample(x0, i, betas, eps)`: given DDPM's `betas` (a tensor of length $T$), a step
# $i \in \{1, \dots, T\}$ and a noise draw `eps`, return $x_i$ using the closed form, not the chain.

# %% tags=["exercise"]
def q_sample(x0, i, betas, eps):
    """Return x_i = sqrt(alpha_bar_i) x0 + sqrt(1 - alpha_bar_i) eps (DDPM eq. 4)."""
    # YOUR CODE HERE
    return None


# %%
def q_sample_reference(x0, i, betas, eps):
    xt, _ = dl.noisy(x0, i / len(betas), dl.Discrete(betas), eps=eps)
    return xt


exercise_cases = [(x0[:5], i, betas, torch.randn(5, 2, generator=generator))
                  for i in (1, 10, 500, 1000)]
dl.exercises.check(q_sample, q_sample_reference, exercise_cases, name="Exercise 1.1")


# %% tags=["solution", "hide-input"]
# Solution: alpha_bar_i is the product of the first i factors (1 - beta_j).
def q_sample_solution(x0, i, betas, eps):
    alpha_bar_i = torch.prod(1 - betas[:i])
    return alpha_bar_i.sqrt() * x0 + (1 - alpha_bar_i).sqrt() * eps


assert dl.exercises.check(
    q_sample_solution, q_sample_reference, exercise_cases, name="Exercise 1.1 (solution)"
)

# %% [markdown]
# ### Exercise 1.2: where is signal equal to noise?
# For DDPM's linear table, find the step $i$ at which the SNR first drops below 1 (signal power equals
# noise power, $\lambda = 0$). Use `alpha_bar` from section 2. Store the step number in `answer_1_2`.

# %% tags=["exercise"]
answer_1_2 = None  # YOUR CODE HERE: an integer step i

# %%
# The reference: invert logSNR = 0 with the schedule object, round up to a grid step.
reference_1_2 = math.ceil(float(ddpm.t_of_logsnr(0.0)) * T)
dl.exercises.check_value(answer_1_2, reference_1_2, name="Exercise 1.2", rtol=0)

# %% tags=["solution", "hide-input"]
# Solution: the SNR is alpha_bar / (1 - alpha_bar) < 1 exactly when alpha_bar < 1/2.
# the first index with alpha_bar < 1/2; +1 because steps count from 1
answer_1_2_solution = int(torch.nonzero(alpha_bar < 0.5)[0]) + 1
print(f"SNR drops below 1 at step {answer_1_2_solution} of {T}")
assert dl.exercises.check_value(
    answer_1_2_solution, reference_1_2, name="Exercise 1.2 (solution)", rtol=0
)

# %% [markdown]
# ## Papers in this chapter
#
# - **Denoising Diffusion Probabilistic Models** (Ho, Jain, Abbeel, 2020): the noising chain (eq. 2) and
#   its closed-form marginal (eq. 4), simulated and checked by Monte Carlo in sections 1-2.
# - **Variational Diffusion Models** (Kingma, Salimans, Poole, Ho, 2021): the signal-to-noise ratio as
#   the quantity that defines a noise level; the VP-VE equivalence checked exactly in section 3.
# - **Score-Based Generative Modeling through Stochastic Differential Equations** (Song et al., 2021):
#   the variance exploding process `dl.VE` used in section 3; chapter 4 returns to it.
# - **The Principles of Diffusion Models** (Lai, Song, Kim, Mitsufuji, Ermon, 2025), chapter 2: the
#   forward process and its marginals, the view this notebook follows.
#
# ## Summary
#
# - DDPM's forward chain adds a little Gaussian noise per step; its marginal has a closed form,
#   $x_t = \alpha_t x_0 + \sigma_t \varepsilon$ with $\alpha_t^2 = \bar\alpha_i$, checked here by Monte Carlo.
# - The logSNR $\lambda_t = \log(\alpha_t^2/\sigma_t^2)$ describes a noise level; $x_t/\alpha_t$ is a
#   variance-exploding corruption with noise $e^{-\lambda_t/2}$.
# - A Gaussian mixture stays a Gaussian mixture under the forward process, with exactly known
#   marginals $p_t$: the course's ground truth for every later check.
#
# **Next:** notebook 1.2 compares the noise schedules people use (linear, cosine, sigmoid, EDM,
# zero terminal SNR) and what each does to a digit.
