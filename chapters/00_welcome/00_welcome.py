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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/chapters/00_welcome/00_welcome.ipynb)

# %% [markdown]
# # 0.1 Welcome
#
# This course builds diffusion models step by step, from the forward noising process to samplers,
# guidance, discrete and graph diffusion. Every chapter is a set of notebooks like this one: you read
# an idea, see its math, write the few lines of code that carry it, **check them against a closed form
# or a Monte Carlo estimate**, and look at a picture.
#
# **In this notebook** you will
# - learn how to run the course (locally, on Colab, or just read the book),
# - meet the notation every chapter uses, and translate the DDPM paper's notation into it,
# - watch a diffusion model turn noise into data, using an *exact* denoiser, in two minutes of CPU.
#
# **Prerequisites:** Python and NumPy or PyTorch basics; Gaussian distributions.
# **Runtime:** under a minute on a laptop CPU; the same on a GPU.
#
# **Read alongside:** *The Principles of Diffusion Models* (Lai, Song, Kim, Mitsufuji, Ermon, 2025),
# chapter 1 (overview) and its notation section.

# %% tags=["setup", "hide-cell"]
# Set-up (the same in every notebook). On Colab: install the course library from the repository
# (it never reinstalls Colab's torch). Everywhere: import it, seed, use the house plot style.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "diffusionlab @ git+https://github.com/diffusion-step-by-step/diffusion-step-by-step@main"], check=True)

import diffusionlab as dl

generator = dl.setup(seed=0)

# %% [markdown]
# ## How to use this course
#
# | where | how | good for |
# |---|---|---|
# | your laptop | `make lab` in a clone of the repository: it creates a virtual environment with the CPU build of PyTorch and opens JupyterLab on `chapters/` | working through the notebooks, offline |
# | Google Colab | the "Open in Colab" button at the top of each page | a free GPU; the first cell installs the course library without touching Colab's PyTorch |
# | the book | read the rendered pages | reading without running anything: every output, figure and animation is stored |
#
# Every notebook starts with the same set-up cell (folded above in the book). It imports the course
# library as `dl`, seeds every random number generator and prints where you are running. Three habits
# the course keeps:
#
# 1. **Checks, not trust.** After every formula comes a cell that checks it numerically with an
#    `assert`. If you change something and an assertion fails, the math and the code disagree.
# 2. **One budget switch.** `dl.budget(cpu=..., gpu=...)` picks a bigger setting on a GPU. The CPU path
#    is the default, and it is what the course's tests run.
# 3. **Exercises check themselves.** Each exercise is a function stub, a checker cell that says
#    "not attempted yet", "correct" or *what* is wrong, and a folded solution.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
from IPython.display import HTML, display

print("device:", dl.device(), "| CPU threads:", torch.get_num_threads())
steps = dl.budget(cpu=2_000, gpu=20_000)
print("training steps in a later chapter would be", steps, "on this machine")

# %% [markdown]
# ## The notation
#
# Time is continuous, $t \in [0, 1]$: data at $t = 0$, noise at $t = 1$. Adding noise up to time $t$ is
#
# $$x_t = \alpha_t\, x_0 + \sigma_t\, \varepsilon, \qquad \varepsilon \sim \mathcal N(0, I).$$
#
# | symbol | meaning | in code |
# |---|---|---|
# | $\alpha_t$, $\sigma_t$ | how much signal and how much noise $x_t$ holds | `schedule.alpha(t)`, `schedule.sigma(t)` |
# | $\lambda_t = \log(\alpha_t^2 / \sigma_t^2)$ | log signal-to-noise ratio (logSNR); decreases in $t$ | `schedule.logsnr(t)` |
# | $\sigma^{\text{EDM}}_t = \sigma_t / \alpha_t = e^{-\lambda_t/2}$ | noise level of the rescaled variable $x_t/\alpha_t$ (Karras et al. 2022) | `schedule.sigma_edm(t)` |
# | variance preserving (VP) | $\alpha_t^2 + \sigma_t^2 = 1$ | `schedule.is_vp` |
# | $\varepsilon$, $x_0$, $v = \alpha_t \varepsilon - \sigma_t x_0$, $\nabla \log p_t = -\varepsilon/\sigma_t$ | what a network may predict | `dl.convert(pred, src, dst, x_t, alpha, sigma)` |
# | $D(x_t, t) \approx \mathbb E[x_0 \mid x_t]$ | a *denoiser*: every sampler in the course consumes one | `dl.denoiser(net, schedule, target)` |
#
# **Translating DDPM (Ho et al. 2020).** DDPM counts steps $i = 1, \dots, T$ with noise rates $\beta_i$ and
# writes $\alpha_i^{\text{DDPM}} = 1 - \beta_i$ and $\bar\alpha_i = \prod_{j \le i} (1 - \beta_j)$. In this course
# step $i$ is time $t = i/T$ and
#
# $$\bar\alpha_i = \alpha_t^2, \qquad 1 - \bar\alpha_i = \sigma_t^2, \qquad \alpha^{\text{DDPM}}_i = \bar\alpha_i / \bar\alpha_{i-1}.$$
#
# So DDPM's $\sqrt{\bar\alpha}$ is our $\alpha$. This is the conversion learners trip over most; the next
# cell checks it on DDPM's own table ($T = 1000$, $\beta$ linear from $10^{-4}$ to $0.02$).

# %%
T = 1000
ddpm = dl.Discrete.linear(T)  # the schedule object built from DDPM's beta table
betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)  # DDPM, Sec. 4
alpha_bar = torch.cumprod(1 - betas, dim=0)  # \bar\alpha_i for i = 1..T

i = torch.arange(1, T + 1, dtype=torch.float64)
t = i / T
# \bar\alpha_i = \alpha_t^2 and 1 - \bar\alpha_i = \sigma_t^2
assert torch.allclose(ddpm.alpha(t) ** 2, alpha_bar, rtol=1e-10)
assert torch.allclose(ddpm.sigma(t) ** 2, 1 - alpha_bar, rtol=1e-10)
# DDPM's alpha_i = \bar\alpha_i / \bar\alpha_{i-1} = 1 - beta_i
alpha_ddpm = alpha_bar[1:] / alpha_bar[:-1]
assert torch.allclose(alpha_ddpm, 1 - betas[1:], rtol=1e-12)
assert torch.allclose(ddpm.logsnr(t), torch.log(alpha_bar / (1 - alpha_bar)), rtol=1e-9)
assert torch.allclose(ddpm.sigma_edm(t), torch.exp(-ddpm.logsnr(t) / 2), rtol=1e-9)
print(f"DDPM at the last step: alpha_bar_T = {alpha_bar[-1]:.3e}, "
      f"so alpha_1 = {ddpm.alpha(1.0):.4f} and logSNR(1) = {ddpm.logsnr(1.0):.2f}")

# %% [markdown]
# The four things a network can predict are interchangeable once you know $x_t$, $\alpha_t$ and
# $\sigma_t$. Check it on a random draw: corrupt $x_0$ with $\varepsilon$, then convert each target into
# every other and compare with the truth. (The score $\nabla \log p_t$ is an *expectation* over
# $\varepsilon$; here we check only the algebra $-\varepsilon/\sigma_t$. Chapter 3 checks the expectation.)

# %%
x0 = torch.randn(5, 2, dtype=torch.float64, generator=generator)
eps = torch.randn(5, 2, dtype=torch.float64, generator=generator)
a, s = ddpm.alpha(0.3), ddpm.sigma(0.3)
xt = a * x0 + s * eps
truth = {"eps": eps, "x0": x0, "v": a * eps - s * x0, "score": -eps / s}
for src in truth:
    for dst in truth:
        converted = dl.convert(truth[src], src, dst, x_t=xt, alpha=a, sigma=s)
        assert torch.allclose(converted, truth[dst], atol=1e-10), (src, dst)
print("all 16 conversions between eps, x0, v and score agree")

# %% [markdown]
# ## A two-minute tour: from noise to data
#
# Here is the whole arc of the course in one picture. Take a distribution whose every property is
# known exactly: a mixture of eight Gaussians on a ring. For such a mixture the ideal denoiser
# $D(x_t, t) = \mathbb E[x_0 \mid x_t]$ has a closed form (chapter 1 and 3 derive it), so no network
# is needed yet.
#
# Start from pure noise at $t = 1$ and walk back to $t = 0$ in small steps. At each step, ask the
# denoiser where the data probably is, $\hat x_0 = D(x_t, t)$, and the implied noise
# $\hat\varepsilon = (x_t - \alpha_t \hat x_0)/\sigma_t$, then re-noise the estimate to the next, smaller
# noise level: $x_s = \alpha_s \hat x_0 + \sigma_s \hat\varepsilon$. This is the deterministic DDIM sampler
# (Song, Meng, Ermon 2021), the subject of chapter 5.

# %%
mixture = dl.GaussianMixture.ring()  # 8 modes on a circle of radius 2
schedule = dl.Cosine()  # alpha_1 = 0: x at t = 1 is exactly pure noise
ts = dl.timesteps(schedule, 80)  # 81 times from 1 down to 0
x = torch.randn(2000, 2, dtype=torch.float64, generator=generator)
frames = [x]
start = time.perf_counter()
for t_now, t_next in zip(ts[:-1], ts[1:]):
    x0_hat = mixture.denoiser(x, float(t_now), schedule)
    eps_hat = (x - schedule.alpha(t_now) * x0_hat) / schedule.sigma(t_now)
    x = schedule.alpha(t_next) * x0_hat + schedule.sigma(t_next) * eps_hat
    frames.append(x)
print(f"80 denoising steps on 2000 points took {time.perf_counter() - start:.2f} s")

# %% [markdown]
# Check that the samples really come from the mixture: their average log-density under the mixture
# should match that of true samples (an estimate of $\mathbb E[\log p]$, the negative entropy), and every one of the
# eight modes should get about an eighth of the points.

# %%
true = mixture.sample(20_000, generator=generator)
ll_samples = mixture.log_prob(x).mean().item()
ll_true = mixture.log_prob(true).mean().item()
angles = torch.atan2(x[:, 1], x[:, 0])
mode = torch.round(angles / (2 * math.pi / 8)).long() % 8
counts = torch.bincount(mode, minlength=8)
print(f"mean log p: samples {ll_samples:.3f}, true data {ll_true:.3f}")
print(f"points per mode: {counts.tolist()}")
# sampling error is about 0.03; the rest is the 80-step sampler's discretisation error
assert abs(ll_samples - ll_true) < 0.1
assert counts.min() > 2000 / 8 * 0.75  # every mode is found, none is starved

# %%
def draw(ax, points):
    dl.plot.scatter2d(ax, points, lim=3.5, s=1.5)


html = dl.plot.animate(frames[::8], draw, interval=150)
display(HTML(html))

# %% [markdown]
# ## Exercise 0.1: translate DDPM's notation
#
# Given DDPM's noise rates $\beta_1, \dots, \beta_T$ (a 1-D tensor), return this course's logSNR
# $\lambda_t$ at $t = i/T$ for every step $i = 1, \dots, T$. Leave the stub as it is to see what the
# checker says before you start.

# %% tags=["exercise"]
def logsnr_from_betas(betas):
    """Return lambda at t = i/T, i = 1..T, from DDPM's betas."""
    # YOUR CODE HERE
    return None


# %%
def logsnr_reference(betas):
    sched = dl.Discrete(betas)
    t = torch.arange(1, len(betas) + 1, dtype=torch.float64) / len(betas)
    return sched.logsnr(t)


cases = [(torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64),),
         (torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64),)]
dl.exercises.check(logsnr_from_betas, logsnr_reference, cases, name="Exercise 0.1")


# %% tags=["solution", "hide-input"]
# Solution: alpha_bar is the running product of (1 - beta);
# lambda = log(alpha_bar / (1 - alpha_bar)).
def logsnr_from_betas_solution(betas):
    alpha_bar = torch.cumprod(1 - betas, dim=0)
    return torch.log(alpha_bar) - torch.log1p(-alpha_bar)


assert dl.exercises.check(
    logsnr_from_betas_solution, logsnr_reference, cases, name="Exercise 0.1 (solution)"
)

# %% [markdown]
# ## Summary
#
# - The course's notation: $x_t = \alpha_t x_0 + \sigma_t \varepsilon$ with $t \in [0, 1]$, logSNR
#   $\lambda_t = \log(\alpha_t^2/\sigma_t^2)$, and DDPM's $\bar\alpha_i = \alpha_{i/T}^2$.
# - Every formula is followed by a check in code; exercises check themselves.
# - A denoiser $D(x_t, t) \approx \mathbb E[x_0 \mid x_t]$ plus a sampler turns noise into data: with the
#   exact denoiser of a Gaussian mixture, 80 DDIM steps reproduce the mixture.
#
# **Next:** chapter 1 builds the forward process $x_0 \to x_t$ and the noise schedules
# $\alpha_t, \sigma_t$ from scratch.
