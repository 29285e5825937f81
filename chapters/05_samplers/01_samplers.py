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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/chapters/05_samplers/01_samplers.ipynb)

# %% [markdown]
# # 5.1 Samplers: from Euler to DPM-Solver++, measured against the exact answer
#
# A trained diffusion model is a denoiser $D(x, t)$; a sampler is the numerical method that turns it
# into data. Chapter 4 wrote the two equations every sampler approximates: the reverse SDE and the
# probability-flow ODE. This notebook derives the samplers people use, runs all of them on one model,
# and measures their error against the *exact* solution, which we can compute because the data is an
# analytic mixture.
#
# **You will**
# - derive DDIM, Euler, Heun (EDM), DPM-Solver++ and the stochastic samplers in a few lines each, and
#   check the identities between them,
# - plot error against the number of network evaluations (NFE) and read off each method's order,
# - play with a sampler explorer,
# - run the same samplers on the digits model and compare Fréchet distances per NFE,
# - see the pitfalls learners hit: the final step, clipping, time-grid conventions, and what $\eta$ means.
#
# **Prerequisites:** chapter 4 (reverse SDE, probability-flow ODE).
# **Runtime:** about 30 s on a 2-core laptop CPU.
#
# **Read alongside:** Song, Meng, Ermon (2021), *Denoising Diffusion Implicit Models*, Sec. 4;
# Karras, Aittala, Aila, Laine (2022), *Elucidating the Design Space of Diffusion-Based Generative
# Models*, Sec. 3-4 and Alg. 1-2; Lu, Zhou, Bao, Chen, Li, Zhu (2022), *DPM-Solver++*, Sec. 3-4;
# *A Unified Sampling Framework for Solver Searching of Diffusion Probabilistic Models* (Liu et al. 2024),
# Sec. 3.

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

F64 = torch.float64

# %% [markdown]
# ## 1. One model, one exact answer
#
# The model is the exact denoiser of a 2-D mixture (eight modes on a ring), so every error below is the
# sampler's own. The probability-flow ODE maps each starting point $x_1$ to one point $x_0$; its exact
# value, to ten digits, comes from `dl.solve_pf_ode` (an adaptive 8th-order solver at tolerance
# $10^{-10}$). A deterministic sampler's error is its distance to that point.

# %%
mixture = dl.GaussianMixture.ring(8, radius=2.0, std=0.25)
schedule = dl.VPLinear()
denoiser = mixture.as_denoiser(schedule)
x_T = mixture.at(schedule, 1.0).sample(512, generator=generator)
T_END = 1e-3  # stop at a small noise level: the exact ODE is smooth there (section 5 adds the final step)
reference = dl.solve_pf_ode(denoiser, schedule, x_T, 1.0, T_END, rtol=1e-10, atol=1e-10)


def error(x):
    """Root-mean-square distance to the exact probability-flow solution."""
    return (x - reference).pow(2).sum(-1).mean().sqrt().item()


# %% [markdown]
# ## 2. The samplers in a few lines each
#
# Every sampler below is a pure function `sampler(denoiser, schedule, x_T, ts)` over a decreasing time
# grid `ts`. One step goes from $t$ to $s < t$ with $\hat x_0 = D(x_t, t)$ and the implied noise
# $\hat\varepsilon = (x_t - \alpha_t\hat x_0)/\sigma_t$.
#
# - **DDIM** (Song, Meng, Ermon 2021, eq. 12): $x_s = \alpha_s\hat x_0 + \sqrt{\sigma_s^2 - \sigma_\eta^2}\,\hat\varepsilon + \sigma_\eta z$,
#   with $\sigma_\eta = \eta\,\tilde\sigma_{s|t}$ a fraction $\eta$ of the posterior standard deviation of
#   chapter 2. $\eta = 0$: deterministic; $\eta = 1$: exactly DDPM's ancestral step.
# - **Euler on the probability-flow ODE**, written as Karras et al. (2022) do, in the scaled variable
#   $\tilde x = x/\alpha$ and noise level $\tilde\sigma = \sigma/\alpha$, where the ODE is simply
#   $\mathrm d\tilde x/\mathrm d\tilde\sigma = (\tilde x - D)/\tilde\sigma = \hat\varepsilon$. One Euler step gives
#   $\tilde x_s = D + \tilde\sigma_s\hat\varepsilon$, i.e. $x_s = \alpha_s\hat x_0 + \sigma_s\hat\varepsilon$: **the same as DDIM with
#   $\eta = 0$**.
# - **Heun** (Karras et al. 2022, Alg. 1-2): an Euler step, a second evaluation at its end, and the
#   average of the two slopes: second order, two evaluations per step (one on the last step to
#   $\sigma = 0$). EDM's *churn* first adds a little noise to raise $\tilde\sigma$, then steps.
# - **DPM-Solver++** (Lu et al. 2022): in $\lambda = \log(\alpha/\sigma)$ (half of our logSNR) the ODE is
#   linear in $x$ with a known integrating factor, so $x_s = \frac{\sigma_s}{\sigma_t}x_t + \sigma_s\int_{\lambda_t}^{\lambda_s} e^{\lambda} D\,\mathrm d\lambda$ exactly,
#   and only the integral of $D$ needs approximating. $D$ constant: first order, again DDIM.
#   $D$ linear through the previous evaluation: **2M**, second order at one evaluation per step. A
#   parabola through the last three: **3M**.
# - **Stochastic:** DDPM ancestral (chapter 2), **Euler-Maruyama** on the reverse SDE (chapter 4) and
#   **predictor-corrector** (Song et al. 2021, Alg. 1): after each step, a Langevin step at the new
#   noise level (chapter 3) pulls samples back towards $p_s$.
#
# **Check** the identities: Euler, DDIM($\eta = 0$) and one-step DPM-Solver++ are the same map, and
# DDIM($\eta = 1$) draws from the DDPM posterior.

# %%
ts = dl.timesteps(schedule, 12, spacing="logsnr", t_min=T_END)
x_euler = dl.euler(denoiser, schedule, x_T, ts)
assert torch.allclose(x_euler, dl.ddim(denoiser, schedule, x_T, ts, eta=0.0), atol=1e-12)
for t, s in zip(ts[:-1].tolist(), ts[1:].tolist()):  # DPM-Solver++ on one step is first order
    pair = torch.tensor([t, s], dtype=F64)
    assert torch.allclose(dl.dpmpp_2m(denoiser, schedule, x_T, pair), dl.ddim(denoiser, schedule, x_T, pair),
                          atol=1e-12)

x_ddpm = dl.ddpm_ancestral(denoiser, schedule, x_T, ts, generator=torch.Generator().manual_seed(1))
x_eta1 = dl.ddim(denoiser, schedule, x_T, ts, eta=1.0, generator=torch.Generator().manual_seed(1))
print(f"DDIM(eta=1) vs DDPM ancestral with the same noise: max difference {(x_ddpm - x_eta1).abs().max():.1e}")
assert torch.allclose(x_ddpm, x_eta1, atol=1e-10)

# %% [markdown]
# ## 3. Error against NFE: every method's order, measured
#
# Run each ODE sampler with a budget of $N$ network evaluations (NFE) on a grid uniform in logSNR, and
# measure its distance to the exact solution. A method of order $p$ has error $\propto N^{-p}$: a straight
# line of slope $-p$ on log-log axes. The slope is fitted on the largest budgets.

# %%
budgets = [8, 12, 16, 24, 32, 48, 64]
ode_samplers = ["euler", "heun", "dpmpp_2m", "dpmpp_3m"]
errors = {name: [error(dl.sample(name, denoiser, schedule, x_T, nfe=n, spacing="logsnr", t_min=T_END))
                 for n in budgets] for name in ode_samplers}


def slope(errs, last=4):
    x, y = torch.log(torch.tensor(budgets[-last:], dtype=F64)), torch.log(torch.tensor(errs[-last:]))
    return (((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()).item()


slopes = {name: slope(errs) for name, errs in errors.items()}
fig, axes = dl.plot.figure(1, width=5.0, height=3.2)
ax = axes[0, 0]
for name, errs in errors.items():
    ax.plot(budgets, errs, "o-", ms=3, label=f"{name} (slope {slopes[name]:.1f})")
ax.set(xscale="log", yscale="log", xlabel="NFE (network evaluations)", ylabel="RMS error vs exact ODE",
       title="error against cost, exact mixture denoiser")
ax.legend()
plt.show()
for name in ode_samplers:
    print(f"{name:9s}: " + "  ".join(f"NFE {n}: {e:.1e}" for n, e in zip(budgets, errors[name]))
          + f"   slope {slopes[name]:.2f}")
assert -1.3 < slopes["euler"] < -0.8
assert slopes["heun"] < -1.7 and slopes["dpmpp_2m"] < -1.7
assert slopes["dpmpp_3m"] < -2.2

# %% [markdown]
# The orders are as promised: Euler (= DDIM) is first order, Heun and DPM-Solver++(2M) second, 3M
# higher still. Per evaluation, DPM-Solver++ wins: Heun pays two evaluations per step. At very small
# budgets everything is rough, and Heun, with only a handful of steps, is the worst.
#
# **Stochastic samplers** do not follow one path, so compare *distributions*: the sliced Wasserstein
# distance between samples and exact samples of $p_{t_{\min}}$, next to the floor of two exact sample sets.

# %%
exact_end = mixture.at(schedule, T_END)
x_T_big = mixture.at(schedule, 1.0).sample(4000, generator=generator)
target = exact_end.sample(4000, generator=generator)
# the floor fluctuates from draw to draw: show its range over four pairs of exact sample sets
floors = [dl.sliced_wasserstein(exact_end.sample(4000, generator=generator), target, generator=generator).item()
          for _ in range(4)]
budgets_sde = (10, 50, 200)
stochastic = {"ddpm": {}, "euler_maruyama": {}, "pc": {}, "dpmpp_2m": {}}
sw_table = {}
for name, kwargs in stochastic.items():
    sw_table[name] = [dl.sliced_wasserstein(
        dl.sample(name, denoiser, schedule, x_T_big, nfe=n, spacing="logsnr", t_min=T_END, generator=generator,
                  **kwargs), target, generator=generator).item() for n in budgets_sde]
    print(f"{name:14s}: " + "  ".join(f"NFE {n}: {v:.3f}" for n, v in zip(budgets_sde, sw_table[name])))
print(f"floor (exact vs exact samples): {min(floors):.3f} to {max(floors):.3f}")
assert all(v[-1] < 1.5 * max(floors) for v in sw_table.values())  # enough steps: all at the floor
assert sw_table["dpmpp_2m"][0] < min(sw_table["ddpm"][0], sw_table["pc"][0])  # few steps: the ODE solver

# %% [markdown]
# With enough evaluations every sampler is within the spread of the floor. With few, the ODE solver
# is well ahead of ancestral sampling and predictor-corrector: stochastic samplers need many small
# steps, because every step adds fresh noise whose discretisation error must average out. (At 4000
# samples the sliced Wasserstein distance itself fluctuates by about $\pm 0.01$; the floor's range says how
# much.)
#
# ## 4. Explore
#
# Pick a sampler, a budget and, for DDIM, $\eta$. The figure shows the samples and their sliced
# Wasserstein distance to exact samples (in the book, the default setting).

# %%
explore_start = mixture.at(schedule, 1.0).sample(1500, generator=generator)
explore_target = exact_end.sample(1500, generator=generator)  # a smaller set: a noisier distance


def draw(sampler, nfe, eta):
    kwargs = {"eta": eta} if sampler == "ddim" else {}
    out = dl.sample(sampler, denoiser, schedule, explore_start, nfe=int(nfe), spacing="logsnr", t_min=T_END,
                    generator=torch.Generator().manual_seed(0), **kwargs)
    sw = dl.sliced_wasserstein(out, explore_target, generator=torch.Generator().manual_seed(0)).item()
    fig, axes = dl.plot.figure(1, width=3.4, height=3.4)
    dl.plot.scatter2d(axes[0, 0], out, lim=3.2, s=1.5, title=f"{sampler}, NFE {int(nfe)}: SW {sw:.3f}")


dl.widgets.explore(draw, {
    "sampler": dl.widgets.Choice(("dpmpp_2m", "dpmpp_3m", "heun", "euler", "ddim", "ddpm", "euler_maruyama", "pc"),
                                 label="sampler"),
    "nfe": dl.widgets.Slider(2, 100, 10, step=1, label="NFE"),
    "eta": dl.widgets.Slider(0.0, 1.0, 0.0, step=0.1, label="eta (DDIM)"),
})

# %% [markdown]
# ## 5. The same samplers on digits
#
# Now a real network: chapter 2's digits model, trained longer and shipped with the course
# (`dl.pretrained("digits_ddpm")`, its card says how). There is no exact answer any more, so score
# 297 samples per setting with the Fréchet distance to the test digits, next to the floor set by 297
# real training digits.

# %%
unet, card = dl.pretrained("digits_ddpm")
digits_denoiser = dl.denoiser(unet, schedule, target="eps")
test_x, _ = dl.digits("test")
train_x, _ = dl.digits("train")
fd_floor = dl.digits_frechet(train_x[: len(test_x)], test_x).item()
noise = torch.randn(test_x.shape, generator=torch.Generator().manual_seed(0))
fd_table = {}
with torch.no_grad():
    for name in ("ddim", "dpmpp_2m", "heun", "ddpm"):
        fd_table[name] = []
        for n in (10, 20, 50):
            out = dl.sample(name, digits_denoiser, schedule, noise, nfe=n, spacing="uniform",
                            generator=torch.Generator().manual_seed(1))
            fd_table[name].append(dl.digits_frechet(out.clamp(-1, 1), test_x).item())
        print(f"{name:9s}: " + "  ".join(f"NFE {n}: FD {v:6.1f}" for n, v in zip((10, 20, 50), fd_table[name])))
print(f"floor (297 training digits): {fd_floor:.1f}; shipped card, 250 ancestral steps: "
      f"{card['metrics']['frechet_vs_test']}")
assert fd_table["dpmpp_2m"][0] < fd_table["ddpm"][0]  # few steps: the ODE solver beats ancestral sampling

# %% [markdown]
# At 10 evaluations the ODE solvers are far ahead of ancestral sampling, as on the mixture. With
# more, they stall around the same distance, while ancestral sampling keeps improving (the card's
# 250-step run is better still): chapter 4's ODE-SDE gap again, now on images. This network's score
# is imperfect, and the stochastic sampler forgives it more.

# %% [markdown]
# ## 6. Pitfalls, each demonstrated
#
# **The final step.** A grid that stops at $t_{\min} > 0$ returns $x_{t_{\min}}$, which still carries noise of
# size $\sigma_{t_{\min}}$. Samplers end with a step to $\sigma = 0$, which returns the denoiser's output. Here
# DPM-Solver++(2M) with 20 evaluations, once stopping at $t = 0.05$ ($\sigma = 0.17$) and once going to 0:

# %%
with torch.no_grad():
    stop_early = dl.sample("dpmpp_2m", digits_denoiser, schedule, noise, nfe=20, t_min=0.05)
    to_zero = dl.sample("dpmpp_2m", digits_denoiser, schedule, noise, nfe=20)
fd_early, fd_zero = (dl.digits_frechet(x.clamp(-1, 1), test_x).item() for x in (stop_early, to_zero))
print(f"sigma at t = 0.05: {schedule.sigma(0.05):.3f}; FD stopping there {fd_early:.1f}, with the final step {fd_zero:.1f}")
assert fd_zero < fd_early
fig, axes = dl.plot.figure(2, width=6.0, height=3.0)
dl.plot.image_grid(axes[0, 0], stop_early[:16], nrow=4, title="stopped at t = 0.05")
dl.plot.image_grid(axes[0, 1], to_zero[:16], nrow=4, title="with the final step to t = 0")
plt.show()

# %% [markdown]
# **Clipping.** DDPM clips $\hat x_0$ to the data range $[-1, 1]$ at every step (`clip=(-1, 1)`), which
# changes the sampler: it no longer follows the model's ODE. Is it needed? An $\varepsilon$-network's $\hat x_0$
# at $t = 1$ is wild, since it divides by $\alpha_1 = 0.0067$; but each step multiplies $\hat x_0$ by a small
# coefficient there. Measure both, with DDPM and DDIM at 10 steps:

# %%
ts10 = dl.timesteps(schedule, 10)
with torch.no_grad():
    x0_first = digits_denoiser(noise, 1.0)
    fd_clip = {}
    for name, sampler in (("DDPM", dl.ddpm_ancestral), ("DDIM", dl.ddim)):
        for clip in (None, (-1.0, 1.0)):
            out = sampler(digits_denoiser, schedule, noise, ts10, clip=clip, generator=torch.Generator().manual_seed(1))
            fd_clip[name, clip] = dl.digits_frechet(out.clamp(-1, 1), test_x).item()
print(f"x0_hat at t = 1 ranges over [{x0_first.min():.1f}, {x0_first.max():.1f}]")
for name in ("DDPM", "DDIM"):
    print(f"{name}, 10 steps: FD without clipping {fd_clip[name, None]:.1f}, "
          f"with clipping {fd_clip[name, (-1.0, 1.0)]:.1f}")

# %% [markdown]
# Here clipping changes the Fréchet distance by about 2% at most: the wild early $\hat x_0$ barely
# enters the update. It matters more for models whose $\hat x_0$ leaves the data range late in
# sampling (large images, strong guidance in chapter 7). Either way, clip the *final* samples before
# displaying or scoring them, as every cell above does.
# %% [markdown]
# **The time grid.** The same solver with the same budget can be good or bad depending on where its
# steps go. DDIM with 10 steps on the digits model, on three grids: uniform in $t$, uniform in logSNR
# and EDM's $\rho = 7$ grid. Grids also differ in convention between codebases (`diffusers`' "leading"
# and "trailing" spacings start at different $t$; DDPM's step $i$ is our $t = i/T$): always check the
# first and last time of the grid you are given.

# %%
fd_grid = {}
with torch.no_grad():
    for sp in ("uniform", "logsnr", "karras"):
        grid = dl.timesteps(schedule, 10, spacing=sp)
        out = dl.ddim(digits_denoiser, schedule, noise, grid)
        fd_grid[sp] = dl.digits_frechet(out.clamp(-1, 1), test_x).item()
        print(f"{sp:8s}: FD {fd_grid[sp]:6.1f}; logSNR of the grid: "
              + " ".join(f"{schedule.logsnr(t).item():.0f}" for t in grid[:-1]))
assert fd_grid["uniform"] < 0.6 * fd_grid["logsnr"]

# %% [markdown]
# The logSNR-uniform grid wastes most of its steps between logSNR 10 and 30, where the images no
# longer change (our $t = 0$ end is clipped at logSNR 30), and takes huge steps through the noisy half
# where the digit's shape is decided. On the mixture (section 3) the same grid was a good choice: the
# best grid depends on the schedule and the data.
# %% [markdown]
# **What $\eta$ means.** $\eta$ multiplies the posterior *standard deviation*, so $\eta = 0.5$ injects a
# quarter of the ancestral variance; $\eta = 1$ is DDPM's ancestral sampler with the *small* posterior
# variance $\tilde\beta$, not with $\beta$ (chapter 2). Check the second point, then measure $\eta$'s effect at
# a small and a large budget.

# %%
x_large = dl.ddpm_ancestral(denoiser, schedule, x_T, ts, variance="large", generator=torch.Generator().manual_seed(1))
print(f"DDIM(eta=1) vs DDPM with the large variance: max difference {(x_large - x_eta1).abs().max():.2f}")
assert (x_large - x_eta1).abs().max() > 0.01
for n in (10, 100):
    row = []
    for eta in (0.0, 0.5, 1.0):
        out = dl.sample("ddim", denoiser, schedule, x_T_big, nfe=n, spacing="logsnr", t_min=T_END, eta=eta,
                        generator=torch.Generator().manual_seed(2))
        row.append(dl.sliced_wasserstein(out, target, generator=generator).item())
    print(f"NFE {n:3d}: sliced Wasserstein for eta = 0, 0.5, 1: " + ", ".join(f"{v:.3f}" for v in row))

# %% [markdown]
# On this exact denoiser $\eta$ changes little at 10 evaluations, and at 100 all three settings are at the
# floor of section 3 (differences of $\pm 0.01$ are within the distance's own fluctuation). With a
# learned denoiser the stochastic end can pay off: on digits, ancestral sampling kept improving where
# the ODE solvers stalled (section 5).

# %% [markdown]
# ## Exercises
#
# ### Exercise 5.1: one DDIM step
# Given $x_t$, the denoiser's output $\hat x_0$, the four numbers $\alpha_t, \sigma_t, \alpha_s, \sigma_s$, $\eta$ and
# a noise draw $z$, return $x_s$ of section 2. The posterior variance is
# $\tilde\sigma_{s|t}^2 = \sigma_s^2\,(1 - \alpha_t^2\sigma_s^2/(\alpha_s^2\sigma_t^2))$.

# %% tags=["exercise"]
def ddim_step(x_t, x0_hat, a_t, s_t, a_s, s_s, eta, z):
    """One DDIM step from t to s (Song, Meng, Ermon 2021, eq. 12)."""
    # YOUR CODE HERE
    return None


# %%
def ddim_step_reference(x_t, x0_hat, a_t, s_t, a_s, s_s, eta, z):
    eps = (x_t - a_t * x0_hat) / s_t
    var_small = s_s**2 * (1 - a_t**2 * s_s**2 / (a_s**2 * s_t**2))
    return a_s * x0_hat + math.sqrt(s_s**2 - eta**2 * var_small) * eps + eta * math.sqrt(var_small) * z


def _case_5_1(t, s, eta):
    x = mixture.at(schedule, t).sample(20, generator=generator)
    coeffs = [c.item() for c in (schedule.alpha(t), schedule.sigma(t), schedule.alpha(s), schedule.sigma(s))]
    return (x, denoiser(x, t), *coeffs, eta, torch.randn(x.shape, generator=generator, dtype=F64))


cases_5_1 = [_case_5_1(0.8, 0.6, 0.0), _case_5_1(0.5, 0.45, 1.0), _case_5_1(0.3, 0.1, 0.3)]
# the reference agrees with the library's sampler (with eta = 0 there is no noise to line up)
x, x0h, *_ = cases_5_1[0]
assert torch.allclose(ddim_step_reference(*cases_5_1[0]),
                      dl.ddim(lambda xx, tt: x0h, schedule, x, torch.tensor([0.8, 0.6], dtype=F64)), atol=1e-12)
dl.exercises.check(ddim_step, ddim_step_reference, cases_5_1, name="Exercise 5.1")


# %% tags=["solution", "hide-input"]
# Solution: the implied noise, then the deterministic part plus the injected noise.
def ddim_step_solution(x_t, x0_hat, a_t, s_t, a_s, s_s, eta, z):
    eps_hat = (x_t - a_t * x0_hat) / s_t
    sigma_eta = eta * s_s * math.sqrt(1 - (a_t * s_s) ** 2 / (a_s * s_t) ** 2)
    return a_s * x0_hat + math.sqrt(s_s**2 - sigma_eta**2) * eps_hat + sigma_eta * z


assert dl.exercises.check(ddim_step_solution, ddim_step_reference, cases_5_1, name="Exercise 5.1 (solution)")

# %% [markdown]
# ### Exercise 5.2: one DPM-Solver++(2M) step
# Given $x_t$, the denoiser outputs $D_t$ (now) and $D_{\text{prev}}$ (one step earlier), the half-logSNRs
# $\lambda_{\text{prev}} < \lambda_t < \lambda_s$ ($\lambda = \log(\alpha/\sigma)$), and $\sigma_t, \alpha_s, \sigma_s$, return
# $x_s = \frac{\sigma_s}{\sigma_t}x_t - \alpha_s(e^{-h} - 1)\big[(1 + \tfrac1{2r})D_t - \tfrac1{2r}D_{\text{prev}}\big]$ with
# $h = \lambda_s - \lambda_t$ and $r = (\lambda_t - \lambda_{\text{prev}})/h$ (Lu et al. 2022, Alg. 2).

# %% tags=["exercise"]
def dpmpp_2m_step(x_t, d_t, d_prev, lam_prev, lam_t, lam_s, s_t, a_s, s_s):
    """One second-order multistep update of DPM-Solver++(2M)."""
    # YOUR CODE HERE
    return None


# %%
def dpmpp_2m_step_reference(x_t, d_t, d_prev, lam_prev, lam_t, lam_s, s_t, a_s, s_s):
    # run the library on the three times, with a "denoiser" that returns the given outputs,
    # starting from the x at t_prev that the first-order step maps onto x_t
    t_prev, t, s = (schedule.t_of_logsnr(torch.tensor(2 * lam, dtype=F64)).item() for lam in (lam_prev, lam_t, lam_s))
    a_p, s_p = schedule.alpha(t_prev).item(), schedule.sigma(t_prev).item()
    a_t = schedule.alpha(t).item()
    x_prev = (x_t - a_t * d_prev) * s_p / s_t + a_p * d_prev  # inverts x_t = (s_t/s_p) x_prev - a_t (e^{-h}-1) D_prev
    outputs = {t_prev: d_prev, t: d_t}
    grid = torch.tensor([t_prev, t, s], dtype=F64)
    return dl.dpmpp_2m(lambda xx, tt: outputs[min(outputs, key=lambda k: abs(k - tt))], schedule, x_prev, grid,
                       lower_order_final=False)


def _case_5_2(t_prev, t, s):
    x = mixture.at(schedule, t).sample(10, generator=generator)
    lam = [0.5 * schedule.logsnr(u).item() for u in (t_prev, t, s)]
    return (x, denoiser(x, t), denoiser(x, t_prev), *lam, schedule.sigma(t).item(), schedule.alpha(s).item(),
            schedule.sigma(s).item())


cases_5_2 = [_case_5_2(0.9, 0.8, 0.7), _case_5_2(0.5, 0.4, 0.2)]
dl.exercises.check(dpmpp_2m_step, dpmpp_2m_step_reference, cases_5_2, name="Exercise 5.2", atol=1e-8)


# %% tags=["solution", "hide-input"]
# Solution: a linear extrapolation of D in lambda, integrated exactly against e^{lambda}.
def dpmpp_2m_step_solution(x_t, d_t, d_prev, lam_prev, lam_t, lam_s, s_t, a_s, s_s):
    h = lam_s - lam_t
    r = (lam_t - lam_prev) / h
    d = (1 + 1 / (2 * r)) * d_t - 1 / (2 * r) * d_prev
    return s_s / s_t * x_t - a_s * math.expm1(-h) * d


assert dl.exercises.check(dpmpp_2m_step_solution, dpmpp_2m_step_reference, cases_5_2,
                          name="Exercise 5.2 (solution)", atol=1e-8)

# %% [markdown]
# ### Exercise 5.3: one Heun step
# For a VE schedule ($\alpha = 1$, so $\tilde x = x$ and $\tilde\sigma = \sigma$) the ODE is
# $\mathrm dx/\mathrm d\sigma = (x - D(x, \sigma))/\sigma$. Given $x$ at noise level $\sigma_t$ (time `t`), the target
# level $\sigma_s > 0$ (time `s`) and a denoiser `D(x, t)`, take one Heun step: an Euler step to $\sigma_s$, a
# second slope there, and the average slope.

# %% tags=["exercise"]
def heun_step(x, t, s, D, sigma):
    """One step of Heun's method on the VE probability-flow ODE; sigma(t) gives the noise level."""
    # YOUR CODE HERE
    return None


# %%
ve = dl.VE(sigma_min=0.01, sigma_max=5.0)
ve_denoiser = mixture.as_denoiser(ve)


def heun_step_reference(x, t, s, D, sigma):
    return dl.heun(D, ve, x, torch.tensor([t, s], dtype=F64))


cases_5_3 = [(mixture.at(ve, t).sample(20, generator=generator), t, s, ve_denoiser, lambda u: ve.sigma(u).item())
             for t, s in ((0.9, 0.7), (0.4, 0.3))]
dl.exercises.check(heun_step, heun_step_reference, cases_5_3, name="Exercise 5.3", atol=1e-8)


# %% tags=["solution", "hide-input"]
# Solution: slope d1 at the start, Euler to s, slope d2 there, then the trapezoid rule.
def heun_step_solution(x, t, s, D, sigma):
    sig_t, sig_s = sigma(t), sigma(s)
    d1 = (x - D(x, t)) / sig_t
    x_euler = x + (sig_s - sig_t) * d1
    d2 = (x_euler - D(x_euler, s)) / sig_s
    return x + (sig_s - sig_t) * (d1 + d2) / 2


assert dl.exercises.check(heun_step_solution, heun_step_reference, cases_5_3, name="Exercise 5.3 (solution)",
                          atol=1e-8)

# %% [markdown]
# ## Papers in this chapter
#
# - **Denoising Diffusion Implicit Models** (Song, Meng, Ermon, 2021): DDIM and $\eta$ (sections 2 and 6,
#   exercise 5.1).
# - **Elucidating the Design Space of Diffusion-Based Generative Models** (Karras et al., 2022): the
#   scaled ODE, Heun with churn, the $\rho = 7$ grid (sections 2, 3 and 6, exercise 5.3).
# - **DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic Models** (Lu et al., 2022):
#   exponential integrators in $\lambda$, 2M and 3M (sections 2-3, exercise 5.2).
# - **Score-Based Generative Modeling through Stochastic Differential Equations** (Song et al., 2021):
#   Euler-Maruyama and predictor-corrector sampling (sections 2-3).
# - **A Unified Sampling Framework for Solver Searching of Diffusion Probabilistic Models** (Liu et al.,
#   2024): solvers as choices of grid, order and prediction type, the view behind sections 3 and 6.
#
# ## Summary
#
# - All common samplers are one-line updates around the denoiser's $\hat x_0$; Euler on the scaled ODE,
#   DDIM($\eta = 0$) and first-order DPM-Solver++ are the same map.
# - Against an exact answer the orders are visible: Euler 1, Heun and DPM-Solver++(2M) 2, 3M more;
#   per network evaluation, multistep solvers win.
# - Stochastic samplers need more steps but, given them, correct errors that deterministic ones carry.
# - Most sampler bugs are conventions: the final step to $\sigma = 0$, clipping, the time grid, and $\eta$.
#
# **Next:** chapter 6 studies image models: what a U-Net learns first, and how to evaluate it.
