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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/chapters/01_forward_process/02_noise_schedules.ipynb)

# %% [markdown]
# # 1.2 Noise schedules
#
# The forward process $x_t = \alpha_t x_0 + \sigma_t \varepsilon$ is fixed by one choice: how fast the
# signal fades, the **noise schedule** $t \mapsto (\alpha_t, \sigma_t)$. Every famous model made a
# different choice. This notebook puts them side by side and shows what each does to data.
#
# **You will**
# - build the cosine schedule from scratch and compare linear, cosine, sigmoid, EDM and the tables of
#   DDPM and Stable Diffusion through $\alpha_t$, $\sigma_t$ and the logSNR $\lambda_t$,
# - watch a digit and a 2D dataset dissolve under each,
# - measure the *terminal SNR* and see why the cosine and zero-terminal-SNR schedules exist,
# - place sampling time steps (uniform, Karras, uniform in logSNR),
# - explore schedules interactively.
#
# **Prerequisites:** notebook 1.1 (the forward process, SNR and logSNR).
# **Runtime:** about 20 s on a laptop CPU.
#
# **Read alongside:** Nichol & Dhariwal (2021), *Improved Denoising Diffusion Probabilistic Models*,
# Sec. 3.2 (the cosine schedule, eq. 17); Karras et al. (2022), *Elucidating the Design Space of
# Diffusion-Based Generative Models*, Sec. 2 and eq. 5; Lin, Liu, Li, Yang (2024), *Common Diffusion
# Noise Schedules and Sample Steps are Flawed*, Sec. 3 and Alg. 1; Chen (2023), *On the Importance of
# Noise Scheduling for Diffusion Models*.

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
from sklearn.datasets import load_digits

torch.set_default_dtype(torch.float64)

# %% [markdown]
# ## 1. The cosine schedule from scratch
#
# Ho et al. (2020) chose $\beta_i$ rising linearly. Nichol & Dhariwal (2021) instead chose the signal
# power directly, as a squared cosine that falls slowly at both ends:
#
# $$\bar\alpha(t) = \alpha_t^2 = \frac{f(t)}{f(0)}, \qquad f(t) = \cos^2\!\left(\frac{t + s}{1 + s}\cdot\frac{\pi}{2}\right), \qquad s = 0.008.$$
#
# The small offset $s$ keeps $\sigma_t$ from being too small near $t = 0$. Here it is in code,
# checked against the library's `dl.Cosine`:

# %%
def cosine_alpha_bar(t, s=0.008):
    def f(u):
        return torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    return f(torch.as_tensor(t)) / f(torch.tensor(0.0))


t = torch.linspace(0, 1, 1001)
cosine = dl.Cosine()
assert torch.allclose(cosine_alpha_bar(t), cosine.alpha(t) ** 2, atol=1e-12)
# variance preserving: alpha^2 + sigma^2 = 1
assert torch.allclose(cosine.alpha(t) ** 2 + cosine.sigma(t) ** 2, torch.ones_like(t))
print(f"cosine: alpha(0) = {cosine.alpha(0.0):.3f}, alpha(1) = {cosine.alpha(1.0):.3f}")

# %% [markdown]
# ## 2. The schedule zoo
#
# | schedule | defined by | used by |
# |---|---|---|
# | `dl.Discrete.linear(1000)` | $\beta_i$ linear in $[10^{-4}, 0.02]$, $T = 1000$ | DDPM (Ho et al. 2020) |
# | `dl.Discrete.scaled_linear(1000)` | $\sqrt{\beta_i}$ linear in $[\sqrt{0.00085}, \sqrt{0.012}]$ | Stable Diffusion |
# | `dl.Discrete.squared_cosine(1000)` | the cosine schedule as a table, $\beta_i \le 0.999$ | Improved DDPM, diffusers' `squaredcos_cap_v2` |
# | `dl.VPLinear()` | continuous $\beta(t)$ linear in $[0.1, 20]$ | score SDE's VP (Song et al. 2021) |
# | `dl.Cosine()` | $\bar\alpha$ a squared cosine | Improved DDPM (Nichol & Dhariwal 2021) |
# | `dl.Sigmoid()` | $\bar\alpha$ a rescaled sigmoid | Chen (2023); Jabri et al. (2023) |
# | `dl.EDM()` | $\alpha = 1$, $\sigma$ from 0.002 to 80 (Karras et al. eq. 5) | EDM (Karras et al. 2022) |
#
# The first six are variance preserving ($\alpha^2 + \sigma^2 = 1$); EDM is variance exploding
# ($\alpha = 1$). Plotting $\alpha$ and $\sigma$ compares the VP schedules; the logSNR compares all of
# them, since (notebook 1.1) two processes with the same $\lambda$ carry the same information.

# %%
vp = {
    "DDPM linear": dl.Discrete.linear(1000),
    "SD scaled linear": dl.Discrete.scaled_linear(1000),
    "VP linear (SDE)": dl.VPLinear(),
    "cosine": cosine,
    "sigmoid": dl.Sigmoid(),
}
for name, sched in vp.items():
    power = sched.alpha(t) ** 2 + sched.sigma(t) ** 2
    assert sched.is_vp and torch.allclose(power, torch.ones_like(t)), name
    assert torch.all(torch.diff(sched.logsnr(t)) <= 0), f"{name}: logSNR must fall"
axes = dl.plot.schedule_panels(vp)
plt.show()

# %% [markdown]
# Two curves lie on top of each other: DDPM's table and the continuous "VP linear" schedule of the
# score SDE. That is no accident: with $\beta_i = \beta(i/T)/T$ the table is the continuous schedule
# sampled at $T$ points (Song et al. 2021, Sec. 3.4). Check it:

# %%
gap = (vp["DDPM linear"].alpha(t) - vp["VP linear (SDE)"].alpha(t)).abs().max()
print(f"largest difference in alpha_t between DDPM's table and the VP SDE: {gap:.1e}")
assert gap < 2e-3

# %%
everything = {**vp, "EDM": dl.EDM()}
fig, axes = dl.plot.figure(1, width=5.0, height=2.8)
for name, sched in everything.items():
    axes[0, 0].plot(t, sched.logsnr(t), label=name)
axes[0, 0].set(xlabel="t", ylabel=r"$\lambda_t$", title="logSNR of every schedule",
               ylim=(-16, 16))
axes[0, 0].legend(ncols=2)
plt.show()

# %% [markdown]
# ## 3. What a digit looks like along each schedule
#
# Take one 8x8 digit from scikit-learn's digits (scaled to $[-1, 1]$) and one fixed noise draw, and
# corrupt it at the same times under each schedule. EDM's $x_t$ is shown divided by
# $\sqrt{\alpha_t^2 + \sigma_t^2}$ so that all rows share one grey scale (for VP schedules that factor is 1).

# %%
digits = torch.tensor(load_digits().images) / 8.0 - 1.0  # (1797, 8, 8) in [-1, 1]
x0_digit = digits[0]
eps = torch.randn(8, 8, generator=generator)
times = [0.0, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 1.0]

rows = []
for name, sched in everything.items():
    a, s = sched.alpha(torch.tensor(times)), sched.sigma(torch.tensor(times))
    xt = a[:, None, None] * x0_digit + s[:, None, None] * eps
    rows.append(xt / torch.sqrt(a**2 + s**2)[:, None, None])
fig, axes = dl.plot.figure(1, width=6.5, height=4.8)
dl.plot.image_grid(axes[0, 0], torch.cat(rows), nrow=len(everything), vmin=-2, vmax=2)
title = "rows: " + ", ".join(everything) + f"\ncolumns: t = {times}"
axes[0, 0].set_title(title, fontsize=8)
plt.show()

# %% [markdown]
# The same for a 2D dataset: 600 samples of the eight-mode ring, one fixed noise draw, each row a
# schedule (EDM again divided by $\sqrt{\alpha_t^2 + \sigma_t^2}$).

# %%
ring = dl.GaussianMixture.ring().sample(600, generator=generator)
eps_2d = torch.randn(ring.shape, generator=generator)
times_2d = [0.05, 0.15, 0.3, 0.5, 0.8]
fig, axes = dl.plot.figure(len(times_2d), len(everything), width=6.5, height=7.6)
for row, (name, sched) in zip(axes, everything.items()):
    for ax, t_ in zip(row, times_2d):
        a, s = sched.alpha(t_), sched.sigma(t_)
        dl.plot.scatter2d(ax, (a * ring + s * eps_2d) / torch.sqrt(a**2 + s**2), lim=3.5, s=1)
        ax.set_xticks([]), ax.set_yticks([])
        if name == "DDPM linear":
            ax.set_title(f"t = {t_}")
    row[0].set_ylabel(name, fontsize=8)
plt.show()

# %% [markdown]
# The linear schedules wipe the digit (and the ring) out by $t \approx 0.5$; the rest of the time is spent on almost
# pure noise. The cosine schedule keeps the digit recognisable until $t \approx 0.7$. Measure it:
# what fraction of the time does each schedule spend at an SNR below $0.01$ ($\lambda < -4.6$), where
# $x_t$ is more than 99% noise by power?

# %%
fine = torch.linspace(0, 1, 100_001)
noisy_fraction = {name: (sched.logsnr(fine) < math.log(0.01)).double().mean().item()
                  for name, sched in everything.items()}
for name, frac in noisy_fraction.items():
    print(f"{name:18s} spends {frac:5.1%} of t in [0, 1] below SNR 0.01")
assert noisy_fraction["DDPM linear"] > noisy_fraction["cosine"] + 0.1

# %% [markdown]
# That is the argument of Nichol & Dhariwal (2021, Sec. 3.2): with the linear schedule about a third of
# the steps add almost nothing a model could learn from, so a model trained on it wastes them, and
# skipping them barely hurts. The cosine schedule spreads the logSNR more evenly: its $\lambda_t$ is
# close to linear in the middle.

# %% [markdown]
# ## 4. Terminal SNR: how much signal is left at $t = 1$?
#
# Sampling starts from pure noise, $x_1 \sim \mathcal N(0, I)$. That is only right if the schedule
# really destroys all the signal: $\alpha_1 = 0$, i.e. $\mathrm{SNR}(1) = 0$. Lin et al. (2024) pointed out
# that common tables do not. Compute the terminal SNR of each schedule, and compare the two tables
# with the numbers in Lin et al. (2024, Sec. 3.1): $4.035 \cdot 10^{-5}$ for DDPM's table and $0.004682$
# for Stable Diffusion's.

# %%
ztsnr = dl.ZeroTerminalSNR(vp["SD scaled linear"])
table = {**vp, "SD + zero terminal SNR": ztsnr}
def terminal_snr(sched):
    return (sched.alpha(1.0) ** 2 / sched.sigma(1.0) ** 2).item()


for name, sched in table.items():
    print(f"{name:24s} alpha_1 = {sched.alpha(1.0):.6f}   SNR(1) = {terminal_snr(sched):.3e}")
assert math.isclose(terminal_snr(vp["DDPM linear"]), 4.035e-5, rel_tol=1e-3)
assert math.isclose(terminal_snr(vp["SD scaled linear"]), 0.004682, rel_tol=1e-3)
assert cosine.alpha(1.0) == 0 and ztsnr.alpha(1.0) == 0
# the start is kept
assert torch.isclose(ztsnr.alpha(0.0), vp["SD scaled linear"].alpha(0.0))

# %% [markdown]
# A terminal SNR of 0.0047 sounds harmless. It is not, because images have many pixels. The average
# brightness of an image is a single number, but the noise in the *average* shrinks like $1/\sqrt d$ over
# $d$ pixels. If images have mean brightness $b$ with standard deviation $s_b$, the mean of $x_1$ is
# $\alpha_1 b + \sigma_1 \bar\varepsilon$ with $\bar\varepsilon \sim \mathcal N(0, 1/d)$, so
#
# $$\operatorname{corr}\big(\overline{x_1},\, b\big) = \frac{\alpha_1 s_b}{\sqrt{\alpha_1^2 s_b^2 + \sigma_1^2 / d}}.$$
#
# A model trained on such data learns to read the brightness off its input at $t = 1$. At sampling
# time it gets pure noise, whose mean is near 0, and so it produces only medium-brightness images:
# Lin et al.'s "cannot generate very bright or dark images". Check the formula by Monte Carlo on
# synthetic images (a brightness plus texture) at the size of a digit and of Stable Diffusion's latent
# ($64 \cdot 64 \cdot 4$ numbers):

# %%
def brightness_leak(sched, d, n=2000, s_b=0.3):
    """Monte Carlo correlation of mean(x_1) with the brightness b, and the formula."""
    b = s_b * torch.randn(n, 1, generator=generator)
    x0 = b + 0.5 * torch.randn(n, d, generator=generator)  # brightness + texture
    x0 = x0 - x0.mean(1, keepdim=True) + b  # make b exactly the mean brightness
    eps = torch.randn(n, d, generator=generator)
    x1 = sched.alpha(1.0) * x0 + sched.sigma(1.0) * eps
    mc = torch.corrcoef(torch.stack([x1.mean(1), b[:, 0]]))[0, 1].item()
    a, s = sched.alpha(1.0).item(), sched.sigma(1.0).item()
    exact = a * s_b / math.sqrt(a**2 * s_b**2 + s**2 / d)
    return mc, exact


for d in (64, 64 * 64 * 4):
    for name in ("SD scaled linear", "SD + zero terminal SNR"):
        mc, exact = brightness_leak(table[name], d)
        print(f"d = {d:5d}, {name:24s}: corr(mean x_1, brightness) = {mc:+.3f}",
              f"(formula {exact:+.3f})")
        # the standard error of a sample correlation is below 1/sqrt(n)
        assert abs(mc - exact) < 4 / math.sqrt(2000)

# %% [markdown]
# At the size of a Stable Diffusion latent, the mean of "pure noise" $x_1$ still predicts the
# brightness with a correlation above 0.9. The fix of Lin et al. (2024, Alg. 1) is a rescaling of any VP
# schedule: shift $\alpha_t = \sqrt{\bar\alpha_t}$ so that $\alpha_1 = 0$, and scale it so that $\alpha_0$
# stays put,
#
# $$\alpha'_t = (\alpha_t - \alpha_1)\,\frac{\alpha_0}{\alpha_0 - \alpha_1}, \qquad \sigma'_t = \sqrt{1 - \alpha'^2_t}.$$
#
# With $\alpha'_1 = 0$ the logSNR at $t = 1$ is $-\infty$; the library clips every logSNR to
# $[-30, 30]$ so that $t = 0$ and $t = 1$ stay finite (beyond that range float32 cannot tell $\alpha$ or
# $\sigma$ from 0 or 1). One consequence, which chapter 2 returns to: at $\alpha_t = 0$ a network that
# predicts $\varepsilon$ cannot say anything about $x_0$, so zero-terminal-SNR models predict $v$ instead.

# %%
print(f"clipped logSNR at the edges: lambda(0) = {ztsnr.logsnr(0.0):.1f},",
      f"lambda(1) = {ztsnr.logsnr(1.0):.1f}")
assert ztsnr.logsnr(1.0) == dl.LOGSNR_MIN and math.isfinite(ztsnr.sigma_edm(1.0))
at_one = dict(x_t=torch.ones(3), alpha=ztsnr.alpha(1.0), sigma=ztsnr.sigma(1.0))
try:
    dl.convert(torch.zeros(3), "eps", "x0", **at_one)
except ValueError as err:
    print("eps -> x0 at t = 1 is refused:", err)
print("v -> x0 at t = 1 works:", dl.convert(torch.ones(3), "v", "x0", **at_one))

# %% [markdown]
# ## 5. Where to put the sampling steps
#
# A sampler visits a handful of times $1 = t_0 > t_1 > \dots > t_N$. Uniform steps in $t$ inherit the
# schedule's quirks. Karras et al. (2022, eq. 5) instead space the noise levels
# $\sigma^{\text{EDM}} = \sigma_t/\alpha_t$ uniformly in $\sigma^{1/\rho}$ with $\rho = 7$, which packs steps
# near the data where details form:
#
# $$\sigma_i = \Big(\sigma_{\max}^{1/\rho} + \tfrac{i}{N}\big(\sigma_{\min}^{1/\rho} - \sigma_{\max}^{1/\rho}\big)\Big)^{\rho}.$$
#
# A third option spaces the logSNR uniformly. `dl.timesteps` builds all three for any schedule. Check
# the Karras grid from scratch on DDPM's table, from $t = 1$ down to its first step $t = 1/1000$:

# %%
ddpm, N, rho = vp["DDPM linear"], 10, 7.0
s_max, s_min = ddpm.sigma_edm(1.0), ddpm.sigma_edm(1e-3)
i = torch.arange(N + 1)
sigmas = (s_max ** (1 / rho) + i / N * (s_min ** (1 / rho) - s_max ** (1 / rho))) ** rho
grids = {spacing: dl.timesteps(ddpm, N, spacing, t_min=1e-3)
         for spacing in ("uniform", "karras", "logsnr")}
assert torch.allclose(ddpm.sigma_edm(grids["karras"]), sigmas, rtol=1e-6)  # eq. 5
logsnr_steps = torch.diff(ddpm.logsnr(grids["logsnr"]))
assert torch.allclose(logsnr_steps, logsnr_steps[0], rtol=1e-6)  # equal logSNR steps

fig, axes = dl.plot.figure(2, width=7.5, height=2.6)
for spacing, ts in grids.items():
    axes[0, 0].plot(i, ddpm.sigma_edm(ts), "o-", ms=3, label=spacing)
    axes[0, 1].plot(ts, torch.full_like(ts, list(grids).index(spacing)), "|", ms=12)
axes[0, 0].set(yscale="log", xlabel="step i", ylabel=r"$\sigma^{EDM}$",
               title="noise level per step")
axes[0, 0].legend()
axes[0, 1].set(yticks=[0, 1, 2], yticklabels=list(grids), xlabel="t",
               title="where the 11 times fall")
plt.show()

# %% [markdown]
# ## 6. Explore
#
# Pick a schedule, switch zero terminal SNR on and off, and move $t$. The left panel shows the
# logSNR and where you are on it; the right panel pushes samples of the eight-mode ring through the
# forward process. (In the book and in a plain script you see the default setting: the cosine
# schedule at $t = 0.3$.)

# %%
dl.widgets.schedule_explorer()

# %% [markdown]
# ## Exercises
#
# ### Exercise 1.3: the sigmoid schedule
# Chen (2023) defines $\bar\alpha(t)$ through a sigmoid $S(u) = 1/(1 + e^{-u})$ evaluated between
# `start` and `end` with temperature $\tau$, rescaled so that $\bar\alpha(0) = 1$ and $\bar\alpha(1) = 0$:
#
# $$\bar\alpha(t) = \frac{S(\text{end}/\tau) - S\big((t(\text{end} - \text{start}) + \text{start})/\tau\big)}{S(\text{end}/\tau) - S(\text{start}/\tau)}.$$
#
# Implement it; the checker compares with `dl.Sigmoid(start, end, tau).alpha(t) ** 2`.

# %% tags=["exercise"]
def sigmoid_alpha_bar(t, start=-3.0, end=3.0, tau=1.0):
    """Return alpha_bar(t) of the sigmoid schedule for a tensor t in [0, 1]."""
    # YOUR CODE HERE
    return None


# %%
def sigmoid_reference(t, start=-3.0, end=3.0, tau=1.0):
    return dl.Sigmoid(start=start, end=end, tau=tau).alpha(t) ** 2


cases_1_3 = [(torch.linspace(0, 1, 11),),
             (torch.linspace(0, 1, 11), 0.0, 3.0, 0.7),
             (torch.rand(5, generator=generator), -2.0, 1.0, 1.5)]
dl.exercises.check(sigmoid_alpha_bar, sigmoid_reference, cases_1_3, name="Exercise 1.3")


# %% tags=["solution", "hide-input"]
# Solution: a direct transcription, with torch.sigmoid as S.
def sigmoid_alpha_bar_solution(t, start=-3.0, end=3.0, tau=1.0):
    s_end, s_start = torch.sigmoid(torch.tensor(end / tau)), torch.sigmoid(torch.tensor(start / tau))
    s_t = torch.sigmoid((t * (end - start) + start) / tau)
    return (s_end - s_t) / (s_end - s_start)


assert dl.exercises.check(sigmoid_alpha_bar_solution, sigmoid_reference, cases_1_3,
                          name="Exercise 1.3 (solution)")

# %% [markdown]
# ### Exercise 1.4: rescale a table to zero terminal SNR
# Given a decreasing tensor `alphas` ($\alpha_t = \sqrt{\bar\alpha_t}$ on a grid from $t = 0$ to $t = 1$),
# return the rescaled $\alpha'$ of Lin et al. (2024, Alg. 1). The checker compares with
# `dl.ZeroTerminalSNR` applied to the same schedules.

# %% tags=["exercise"]
def rescale_to_zero_terminal_snr(alphas):
    """Shift and scale alphas so that the last is 0 and the first is unchanged."""
    # YOUR CODE HERE
    return None


# %%
grid_1_4 = torch.linspace(0, 1, 21)


def rescale_reference(alphas):
    sched = next(s for s in vp.values() if torch.allclose(s.alpha(grid_1_4), alphas))
    return dl.ZeroTerminalSNR(sched).alpha(grid_1_4)


cases_1_4 = [(vp[name].alpha(grid_1_4),) for name in ("DDPM linear", "SD scaled linear", "sigmoid")]
dl.exercises.check(rescale_to_zero_terminal_snr, rescale_reference, cases_1_4,
                   name="Exercise 1.4")


# %% tags=["solution", "hide-input"]
# Solution: subtract the last value (now 0), then scale the first back to what it was.
def rescale_to_zero_terminal_snr_solution(alphas):
    a0, a1 = alphas[0], alphas[-1]
    return (alphas - a1) * a0 / (a0 - a1)


assert dl.exercises.check(rescale_to_zero_terminal_snr_solution, rescale_reference, cases_1_4,
                          name="Exercise 1.4 (solution)")

# %% [markdown]
# ## Papers in this chapter
#
# - **Denoising Diffusion Probabilistic Models** (Ho et al., 2020): the linear $\beta$ table, its
#   terminal SNR of $4 \cdot 10^{-5}$ (section 4).
# - **Improved Denoising Diffusion Probabilistic Models** (Nichol & Dhariwal, 2021): the cosine schedule
#   built from scratch (section 1) and the time the linear schedule wastes near pure noise (section 3).
# - **Elucidating the Design Space of Diffusion-Based Generative Models** (Karras et al., 2022): the EDM
#   noise levels and the $\rho = 7$ time-step spacing, checked from scratch (section 5).
# - **Common Diffusion Noise Schedules and Sample Steps are Flawed** (Lin et al., 2024): the terminal SNR
#   of Stable Diffusion's table, the brightness leak measured by Monte Carlo, and the zero-terminal-SNR
#   rescaling (section 4, exercise 1.4).
# - **On the Importance of Noise Scheduling for Diffusion Models** (Chen, 2023): the sigmoid schedule
#   (exercise 1.3).
# - **Score-Based Generative Modeling through Stochastic Differential Equations** (Song et al., 2021):
#   the continuous VP schedule `dl.VPLinear`.
#
# ## Summary
#
# - A schedule is one object, $t \mapsto (\alpha_t, \sigma_t)$, and the logSNR $\lambda_t$ compares any two.
# - Linear schedules spend a third of the time near pure noise; the cosine schedule spreads the
#   logSNR more evenly.
# - A terminal SNR above zero leaks low-frequency information (like brightness) into "pure noise";
#   rescaling to zero terminal SNR removes it, and then $\varepsilon$-prediction is undefined at $t = 1$.
# - Sampling steps can be spaced in $t$, in $\sigma^{1/\rho}$ (Karras) or in logSNR.
#
# **Next:** chapter 2 trains a network to undo this process: DDPM and its loss.
