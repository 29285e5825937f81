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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/chapters/04_sdes/01_sdes_and_pf_ode.ipynb)

# %% [markdown]
# # 4.1 SDEs, the probability-flow ODE and exact likelihoods
#
# Chapters 2 and 3 used a chain of small Gaussian steps. Let the steps shrink to zero and the chain
# becomes a **stochastic differential equation** (SDE); reverse it and you have a sampler; remove its
# noise without changing a single marginal and you have an **ordinary** differential equation, the
# probability-flow ODE, which turns a diffusion model into a normalising flow with an exact likelihood.
#
# **You will**
# - simulate Brownian motion and the Euler-Maruyama scheme from scratch, and check them against
#   closed forms,
# - write the VP, sub-VP and VE forward SDEs and check that their marginals are the schedules of
#   chapter 1,
# - sample with Anderson's reverse-time SDE and with the probability-flow ODE, and check on an exact
#   mixture that both have the right marginals (and the Fokker-Planck equation behind it),
# - see what happens to ODE and SDE samples when the score is imperfect,
# - compute exact log-likelihoods of a trained 2D model against the data's true entropy, and bits per
#   dimension on 8x8 digits.
#
# **Prerequisites:** chapters 2 and 3 (noise prediction, scores, Tweedie's formula).
# **Runtime:** about 60 s on a 2-core laptop CPU.
#
# **Read alongside:** Song, Sohl-Dickstein, Kingma, Kumar, Ermon, Poole (2021), *Score-Based Generative
# Modeling through Stochastic Differential Equations*, Sec. 3-4 and App. B, D; Deveney, Stanczuk,
# Kreusser, Budd, Schönlieb (2023), *Closing the ODE-SDE gap in score-based diffusion models through
# the Fokker-Planck equation*; *The Principles of Diffusion Models*, chapter 4 (the SDE view).

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
# ## 1. Brownian motion and Euler-Maruyama
#
# Brownian motion $W_t$ has independent Gaussian increments, $W_{t+h} - W_t \sim \mathcal N(0, h)$. Summing
# increments simulates it; **check** the defining covariance $\mathrm{Cov}(W_s, W_t) = \min(s, t)$.
#
# An SDE $\mathrm dx = f(x, t)\,\mathrm dt + g(t)\,\mathrm dW$ is simulated the same way, one small step
# at a time: the **Euler-Maruyama** scheme
# $x_{k+1} = x_k + f(x_k, t_k)\,h + g(t_k)\sqrt h\, z_k$, $z_k \sim \mathcal N(0, 1)$. **Check** it on the
# Ornstein-Uhlenbeck process $\mathrm dx = -\tfrac{\beta}{2} x\,\mathrm dt + \sqrt\beta\,\mathrm dW$ (the VP
# SDE with a constant rate), whose solution from $x_0$ is Gaussian with mean $e^{-\beta t/2} x_0$ and
# variance $1 - e^{-\beta t}$.

# %%
n_paths, n_steps = 20_000, 500
h = 1.0 / n_steps
W = torch.cumsum(math.sqrt(h) * torch.randn(n_paths, n_steps, generator=generator, dtype=F64), dim=1)
i_s, i_t = 149, 399  # W at s = 0.3 and t = 0.8
cov = torch.cov(torch.stack([W[:, i_s], W[:, i_t]]))[0, 1].item()
print(f"Cov(W_0.3, W_0.8) = {cov:.4f} (exact: min(s, t) = 0.3)")
assert abs(cov - 0.3) < 5 * math.sqrt((0.3 * 0.8 + 0.3**2) / n_paths)


def euler_maruyama(f, g, x, t0, t1, n_steps, gen):
    """Simulate dx = f(x, t) dt + g(t) dW from t0 to t1 (either direction) in n_steps steps."""
    h = (t1 - t0) / n_steps
    for k in range(n_steps):
        t = t0 + k * h
        x = x + f(x, t) * h + g(t) * math.sqrt(abs(h)) * torch.randn(x.shape, generator=gen, dtype=x.dtype)
    return x


beta, x0, t_end = 4.0, 1.5, 0.7
x = euler_maruyama(lambda x, t: -beta / 2 * x, lambda t: math.sqrt(beta),
                   torch.full((n_paths,), x0, dtype=F64), 0.0, t_end, 200, generator)
mean_exact, var_exact = math.exp(-beta * t_end / 2) * x0, 1 - math.exp(-beta * t_end)
print(f"OU at t = {t_end}: mean {x.mean():.4f} (exact {mean_exact:.4f}), "
      f"variance {x.var():.4f} (exact {var_exact:.4f})")
assert abs(x.mean() - mean_exact) < 5 * math.sqrt(var_exact / n_paths) + 0.01
assert abs(x.var() / var_exact - 1) < 5 * math.sqrt(2 / n_paths) + 0.01

# %% [markdown]
# The `+ 0.01` in the tolerances is the scheme's own bias: Euler-Maruyama has weak order 1, an error
# proportional to the step $h$ in every moment.
#
# ## 2. Forward SDEs and their schedules
#
# A forward SDE $\mathrm dx = f(t)\,x\,\mathrm dt + g(t)\,\mathrm dW$ with a linear drift keeps Gaussians
# Gaussian: started at $x_0$, $x_t = \alpha_t x_0 + \sigma_t\varepsilon$ with
# $\frac{\mathrm d}{\mathrm dt}\log\alpha_t = f(t)$ and $\frac{\mathrm d\sigma_t^2}{\mathrm dt} = 2 f(t)\sigma_t^2 + g(t)^2$
# (Song et al. 2021, eq. 5 and App. B; Kingma et al. 2021, App. A). Read backwards: every schedule
# of chapter 1 *is* an SDE, with
#
# $$f(t) = \frac{\mathrm d \log\alpha_t}{\mathrm dt}, \qquad g(t)^2 = \frac{\mathrm d\sigma_t^2}{\mathrm dt} - 2 f(t)\,\sigma_t^2 .$$
#
# Song et al. name three: **VP** ($\alpha_t^2 + \sigma_t^2 = 1$, so $g^2 = -2f = \beta(t)$), **VE**
# ($\alpha_t = 1$, $f = 0$, $g^2 = \mathrm d\sigma_t^2/\mathrm dt$) and **sub-VP** (the VP drift with less
# noise, $g^2 = \beta(t)(1 - e^{-2\int_0^t\beta})$, so $\sigma_t = 1 - \alpha_t^2$). `dl.drift_diffusion`
# computes $f$ and $g^2$ from any schedule. **Check** both directions: the formulas against finite
# differences, and an Euler-Maruyama simulation of each SDE against the schedule's $\alpha_t$ and $\sigma_t$.

# %%
sdes = {"VP": dl.VPLinear(), "sub-VP": dl.SubVP(), "VE": dl.VE(sigma_min=0.01, sigma_max=3.0)}
start = torch.tensor([1.0, -0.5], dtype=F64)
checkpoints = torch.linspace(0.1, 1.0, 10, dtype=F64)
fig, axes = dl.plot.figure(3, width=9.0, height=2.6)
for ax, (name, sch) in zip(axes[0], sdes.items()):
    inner = checkpoints[:-1]  # central differences of log alpha and sigma^2 need t +- dt in [0, 1]
    f_t, g2_t = dl.drift_diffusion(sch, inner)
    dt = 1e-5
    f_fd = (torch.log(sch.alpha(inner + dt)) - torch.log(sch.alpha(inner - dt))) / (2 * dt)
    s2_fd = (sch.sigma(inner + dt) ** 2 - sch.sigma(inner - dt) ** 2) / (2 * dt)
    assert torch.allclose(f_t, f_fd, rtol=1e-5, atol=1e-8)
    assert torch.allclose(g2_t, s2_fd - 2 * f_t * sch.sigma(inner) ** 2, rtol=1e-5, atol=1e-8)

    def drift(x, t, sch=sch):
        return dl.drift_diffusion(sch, t)[0].item() * x

    def diffusion(t, sch=sch):
        return dl.drift_diffusion(sch, t)[1].clamp(min=0).sqrt().item()

    x, means, stds = start.expand(4000, 2).clone(), [], []
    t_prev = 0.0
    for t in checkpoints.tolist():
        x = euler_maruyama(drift, diffusion, x, t_prev, t, 100, generator)
        t_prev = t
        means.append(x[:, 0].mean().item())
        stds.append(x[:, 0].std().item())
    means, stds = torch.tensor(means, dtype=F64), torch.tensor(stds, dtype=F64)
    # started from the point x_0 at t = 0: std sqrt(sigma_t^2 - (alpha_t / alpha_0)^2 sigma_0^2), which is
    # sigma_t except for VE, whose sigma_0 = sigma_min > 0
    a0, s0 = sch.alpha(0.0), sch.sigma(0.0)
    std_exact = (sch.sigma(checkpoints) ** 2 - (sch.alpha(checkpoints) / a0 * s0) ** 2).sqrt()
    mean_exact = sch.alpha(checkpoints) / a0 * start[0]
    print(f"{name:6s}: largest error of the simulated mean {(means - mean_exact).abs().max():.3f}, "
          f"of the std {((stds - std_exact) / std_exact).abs().max():.1%} (relative)")
    assert torch.allclose(means, mean_exact, atol=0.05 * std_exact.max().item())
    assert torch.allclose(stds, std_exact, rtol=0.05)
    grid = torch.linspace(0.0, 1.0, 101, dtype=F64)
    ax.plot(grid, sch.alpha(grid) / a0 * start[0], label=r"mean $\alpha_t x_0$")
    ax.plot(grid, (sch.sigma(grid) ** 2 - (sch.alpha(grid) / a0 * s0) ** 2).sqrt(), label=r"std $\approx\sigma_t$")
    ax.plot(checkpoints, means, "o", ms=3, color="C0")
    ax.plot(checkpoints, stds, "o", ms=3, color="C1")
    ax.set(title=f"{name} SDE", xlabel="t")
axes[0, 0].legend()
fig.suptitle("schedule (lines) vs Euler-Maruyama simulation of the SDE (dots)")
plt.show()

# %% [markdown]
# ## 3. Reversing time: Anderson's reverse SDE
#
# Run a diffusion forward and look at it backwards in time: it is again a diffusion (Anderson 1982),
#
# $$\mathrm dx = \big[f(t)\,x - g(t)^2\,\nabla_x\log p_t(x)\big]\,\mathrm dt + g(t)\,\mathrm d\bar W,$$
#
# integrated from $t = 1$ down to $0$ ($\mathrm dt < 0$, $\bar W$ a Brownian motion running backwards).
# The only unknown is the score of the marginals: exactly what chapters 2 and 3 learned. With an
# exact score, simulating it from $p_1$ lands on $p_0$. **Check** it on the eight-mode ring, whose
# score the library knows at every $t$, against the sliced Wasserstein distance between two data sets.

# %%
mixture = dl.toy2d_mixture("eight_gaussians")
schedule = dl.VPLinear()
score = dl.score_from_denoiser(mixture.as_denoiser(schedule), schedule)


def reverse_drift(x, t):
    f, g2 = dl.drift_diffusion(schedule, t)
    return f.item() * x - g2.item() * score(x, t)


def reverse_diffusion(t):
    return dl.drift_diffusion(schedule, t)[1].sqrt().item()


t_min = 1e-3  # stop just short of t = 0, where the score of narrow modes is very steep
x1 = mixture.at(schedule, 1.0).sample(4000, generator=generator)
sde_samples = euler_maruyama(reverse_drift, reverse_diffusion, x1, 1.0, t_min, 500, generator)
data = mixture.sample(4000, generator=generator)
sw_sde = dl.sliced_wasserstein(sde_samples, data, generator=generator).item()
# the floor: the same distance between independent data sets, which itself fluctuates; average 5 draws
floors = [dl.sliced_wasserstein(mixture.sample(4000, generator=generator), data, generator=generator).item()
          for _ in range(5)]
sw_floor = sum(floors) / len(floors)
print(f"sliced Wasserstein to data: reverse SDE {sw_sde:.4f}; other data sets "
      f"{min(floors):.4f} to {max(floors):.4f} (mean {sw_floor:.4f})")
assert sw_sde < 1.5 * sw_floor

# the library's sampler is this loop: same grid and same noise draws give the same samples
mine = euler_maruyama(reverse_drift, reverse_diffusion, x1[:500], 1.0, t_min, 50, torch.Generator().manual_seed(5))
lib = dl.euler_maruyama(mixture.as_denoiser(schedule), schedule, x1[:500], dl.timesteps(schedule, 50, t_min=t_min),
                        generator=torch.Generator().manual_seed(5))
assert torch.allclose(mine, lib, atol=1e-8)

# %% [markdown]
# ## 4. The probability-flow ODE
#
# Many processes share the marginals $p_t$. Song et al. (2021, Sec. 4.3) single out a deterministic one,
#
# $$\frac{\mathrm dx}{\mathrm dt} = f(t)\,x - \tfrac12 g(t)^2\,\nabla_x\log p_t(x),$$
#
# the **probability-flow ODE**. Why the same marginals? The density of the SDE obeys the Fokker-Planck
# equation $\partial_t p = -\nabla\cdot(f x\, p) + \tfrac12 g^2\,\Delta p$. Since
# $\Delta p = \nabla\cdot(p\,\nabla\log p)$, the diffusion term is itself a transport term, and
#
# $$\partial_t p_t = -\nabla\cdot\big(v_t\, p_t\big), \qquad v_t(x) = f(t)\,x - \tfrac12 g(t)^2\,\nabla\log p_t(x):$$
#
# the continuity equation of particles moving with velocity $v_t$, the ODE above. **Check** the
# Fokker-Planck equation and the continuity equation numerically on a 1-D mixture, with
# finite differences of the exact $p_t$ in $t$ and in $x$.

# %%
mix1d = dl.GaussianMixture.isotropic([0.3, 0.7], [[-1.0], [1.2]], 0.3)
xs = torch.linspace(-4, 4, 801, dtype=F64)[:, None]
dx = (xs[1] - xs[0]).item()
for t in (0.1, 0.4, 0.8):
    dt = 1e-5
    p = mix1d.at(schedule, t).log_prob(xs).exp()
    dp_dt = (mix1d.at(schedule, t + dt).log_prob(xs).exp() - mix1d.at(schedule, t - dt).log_prob(xs).exp()) / (2 * dt)
    f, g2 = (c.item() for c in dl.drift_diffusion(schedule, t))
    x1d = xs[:, 0]
    transport = -torch.gradient(f * x1d * p, spacing=dx)[0]
    spreading = 0.5 * g2 * torch.gradient(torch.gradient(p, spacing=dx)[0], spacing=dx)[0]
    fokker_planck = transport + spreading
    v = f * x1d - 0.5 * g2 * mix1d.score_t(xs, t, schedule)[:, 0]
    continuity = -torch.gradient(v * p, spacing=dx)[0]
    inner = slice(5, -5)  # one-sided differences at the ends are less accurate
    scale = max(transport.abs().max(), spreading.abs().max())  # the size of the terms that cancel
    err_fp = (fokker_planck - dp_dt)[inner].abs().max() / scale
    err_ct = (continuity - dp_dt)[inner].abs().max() / scale
    print(f"t = {t}: Fokker-Planck residual {err_fp:.1e}, continuity residual {err_ct:.1e} "
          f"(relative to the largest term)")
    assert err_fp < 1e-3 and err_ct < 1e-3

# %% [markdown]
# Now sample with the ODE: `dl.solve_pf_ode` integrates it with an adaptive high-order solver (SciPy's
# DOP853 at tight tolerances, our reference solution for the samplers of chapter 5). Starting from the
# same $x_1$, the ODE moves each point along a smooth path; the SDE's paths are rough. Both end on the
# data distribution.

# %%
ode_samples = dl.solve_pf_ode(mixture.as_denoiser(schedule), schedule, x1, 1.0, t_min, rtol=1e-6, atol=1e-6)
sw_ode = dl.sliced_wasserstein(ode_samples, data, generator=generator).item()
print(f"sliced Wasserstein to data: PF-ODE {sw_ode:.4f}, reverse SDE {sw_sde:.4f}, floor {sw_floor:.4f}")
assert sw_ode < 1.5 * sw_floor

# 1-D paths through the density p_t, for the picture: 200 small steps of each equation
ts_path = torch.linspace(1.0, t_min, 201, dtype=F64)
x_start = mix1d.at(schedule, 1.0).sample(12, generator=generator)
den1d = mix1d.as_denoiser(schedule)
_, ode_path = dl.euler(den1d, schedule, x_start, ts_path, return_trajectory=True)  # Euler on the PF-ODE
_, sde_path = dl.euler_maruyama(den1d, schedule, x_start, ts_path, generator=generator, return_trajectory=True)
grid_t, grid_x = torch.meshgrid(ts_path, xs[:, 0], indexing="ij")
dens = torch.stack([mix1d.at(schedule, t).log_prob(xs).exp() for t in ts_path.tolist()])
fig, axes = dl.plot.figure(2, width=8.0, height=2.8)
for ax, path, title in zip(axes[0], (ode_path, sde_path), ("probability-flow ODE", "reverse SDE")):
    ax.pcolormesh(grid_t, grid_x, dens, cmap="Greys", shading="auto")
    ax.plot(ts_path, torch.cat(path, dim=1).T, lw=0.8)
    ax.set(xlim=(1, 0), ylim=(-3, 3), xlabel="t (noise to data)", ylabel="x", title=title)
plt.show()

# %% [markdown]
# ## 5. When the score is imperfect: the ODE-SDE gap
#
# With the exact score both samplers are right. A trained network is not exact, and then they
# disagree: the ODE transports the error along, while the SDE's noise and its stronger pull towards
# high density ($g^2$ instead of $\tfrac12 g^2$ in front of the score) correct part of it. Deveney et al.
# (2023) tie the gap to how far the learned score is from satisfying the Fokker-Planck equation.
# **Measure** it: train the chapter-2 network on the ring, then sample with both.

# %%
data_train = dl.toy2d("eight_gaussians", 20_000, generator=generator)


def loss_fn(net, batch, gen):
    return dl.dsm_loss(net, batch, schedule, target="eps", generator=gen)


dl.seed(0)
fit = dl.fit(dl.MLP(dim=2), loss_fn, data_train, steps=dl.budget(cpu=4000, gpu=20_000), batch_size=1024,
             lr=2e-3, seed=0, desc="DDPM on 2D")
net_denoiser = dl.denoiser(fit.ema_model, schedule, target="eps")


def net_denoiser64(x, t):  # the network in float32, the ODE solver in float64
    with torch.no_grad():
        return net_denoiser(x.float(), t).double()


# section 3's from-scratch loop is the library's dl.euler_maruyama; use that from here on
sde_net = dl.euler_maruyama(net_denoiser64, schedule, x1, dl.timesteps(schedule, 500, t_min=t_min),
                            generator=generator)
ode_net = dl.solve_pf_ode(net_denoiser64, schedule, x1, 1.0, t_min, rtol=1e-5, atol=1e-5)
results = {}
for name, pts in {"reverse SDE": sde_net, "PF-ODE": ode_net}.items():
    results[name] = (dl.sliced_wasserstein(pts, data, generator=generator).item(),
                     dl.mixture_nll(mixture, pts).item())
    print(f"trained network, {name:11s}: sliced Wasserstein {results[name][0]:.4f} "
          f"(floor {sw_floor:.4f}), NLL under the true density {results[name][1]:.3f} nats")
assert results["reverse SDE"][1] < results["PF-ODE"][1]  # the SDE forgives this network's score errors more

fig, axes = dl.plot.figure(2, width=6.0, height=3.0)
for ax, (name, pts) in zip(axes[0], {"reverse SDE": sde_net, "PF-ODE": ode_net}.items()):
    dl.plot.scatter2d(ax, pts[:2000], lim=2.5, s=1.0, title=f"{name} with the trained network")
plt.show()

# %% [markdown]
# With this network the reverse SDE's samples have the lower NLL under the true density: the ODE
# carries every error of the learned velocity field along the whole path, while the SDE's noise keeps
# re-spreading its samples and its score term, twice as strong, pulls them back towards high density.
# (The sliced Wasserstein distances of single runs fluctuate by about as much as the floor does, so
# read them as a second opinion.)

# %% [markdown]
# ## 6. Exact likelihoods
#
# The ODE is an invertible map from data to noise, so the change-of-variables formula gives the model's
# density exactly. Along an ODE path the log-density changes by the divergence of the velocity
# (Chen et al. 2018, "instantaneous change of variables"):
#
# $$\log p_0(x_0) = \log p_1(x_1) + \int_0^1 \nabla\cdot v_t(x_t)\,\mathrm dt .$$
#
# `dl.log_likelihood` integrates $x_t$ and the divergence together from data to noise, with the exact
# divergence (autograd, one backward pass per dimension) in low dimension and Hutchinson's estimator
# $\mathbb E_z[z^\top (\partial v/\partial x)\, z]$ in high dimension (FFJORD, Grathwohl et al. 2019). **Check**
# it first with the exact denoiser, where the answer is the mixture's own log-density.

# %%
x_test = mixture.sample(200, generator=generator)
ll_exact = dl.log_likelihood(mixture.as_denoiser(schedule), schedule, x_test, t_min=t_min)
truth = mixture.at(schedule, t_min).log_prob(x_test)
print(f"exact denoiser: max |log-likelihood error| {(ll_exact - truth).abs().max():.2e} nats")
assert torch.allclose(ll_exact, truth, atol=1e-2)

# %% [markdown]
# Now the trained network. Its log-likelihood on held-out data, averaged, is the cross-entropy
# $H(p, p_\theta) = H(p) + D_{KL}(p\,\|\,p_\theta)$: never below the data's entropy, and above it by
# exactly the KL divergence from the data to the model. The ring's entropy is known, so the gap is a
# direct measure of how far the model is from the data (here, at the noise level $t_{\min}$ where the
# ODE stops).

# %%
ll_net = dl.log_likelihood(lambda x, t: net_denoiser(x.float(), t).double(), schedule, x_test, t_min=t_min)
entropy = -mixture.at(schedule, t_min).log_prob(mixture.at(schedule, t_min).sample(200_000, generator=generator)).mean().item()
nll_net = -ll_net.mean().item()
stderr = ll_net.std().item() / math.sqrt(len(ll_net))
print(f"held-out NLL of the trained model {nll_net:.3f} +- {stderr:.3f} nats; "
      f"true entropy {entropy:.3f} nats; KL(data || model) about {nll_net - entropy:.3f} nats")
assert nll_net > entropy - 3 * stderr

# %% [markdown]
# ## 7. Bits per dimension on digits
#
# Image likelihoods are reported in **bits per dimension**. Pixels are discrete, and a density can put
# arbitrarily high spikes on the points of a lattice, so the density at the data points themselves means
# nothing. The fix is to score *dequantised* data, $x + u$ with $u$ uniform over the pixel's bin of width
# $\Delta$: then $-\log P(\text{bin}) \le \mathbb E_u[-\log p(x + u)] - d\log\Delta$ by Jensen's inequality (Theis et al.
# 2016), a bound on a proper discrete model, and
#
# $$\text{bits/dim} = \frac{\mathbb E_u[-\log p(x + u)] - d \log \Delta}{d \ln 2}.$$
#
# The digits take 17 levels $0..16$, mapped to $[-1, 1]$ by $x/8 - 1$: $\Delta = 1/8$. Use the digits model
# shipped with the course (chapter 2's recipe trained for 8000 steps; `make data` rebuilds it) and
# Hutchinson's estimator in $d = 64$. For scale, a model that treats each pixel independently, with
# the training frequencies of the 17 levels per pixel, needs the bits/dim printed next to it.

# %%
digits_net, card = dl.pretrained("digits_ddpm")
digits_schedule = dl.VPLinear()
digits_denoiser = dl.denoiser(digits_net, digits_schedule, target="eps")
test_x, _ = dl.digits("test")
batch = test_x[:64].double()
dequantised = batch + (torch.rand(batch.shape, generator=generator, dtype=F64) - 0.5) / 8  # one u per image


def digits_bpd(x):
    ll = dl.log_likelihood(lambda x, t: digits_denoiser(x.float(), t).double(), digits_schedule, x, t_min=t_min,
                           divergence="hutchinson", n_probes=2, generator=generator, rtol=1e-4, atol=1e-4)
    return dl.bits_per_dim(-ll, 64, bin_width=1 / 8)


bpd, bpd_lattice = digits_bpd(dequantised), digits_bpd(batch)

train_x, _ = dl.digits("train")
levels_train = ((train_x + 1) * 8).round().long().flatten(1)  # back to 0..16
levels_test = ((batch + 1) * 8).round().long().flatten(1)
counts = torch.stack([torch.bincount(levels_train[:, j], minlength=17) for j in range(64)]).double() + 0.5
probs = counts / counts.sum(1, keepdim=True)  # per-pixel frequencies, add-1/2 smoothed
bpd_pixels = -(torch.log2(probs[torch.arange(64), levels_test])).mean(1)
print(f"diffusion model, dequantised: {bpd.mean():.3f} +- {bpd.std() / 8:.3f} bits/dim")
print(f"independent pixels (a discrete model): {bpd_pixels.mean():.3f} bits/dim")
print(f"diffusion model at the lattice points themselves (not a bound): {bpd_lattice.mean():.3f} bits/dim")
assert bpd.mean() < bpd_pixels.mean()
assert bpd_lattice.mean() < bpd.mean() - 0.5

# %% [markdown]
# Dequantised, the diffusion model beats the independent-pixel model. Evaluated at the lattice points
# themselves it would seem far better still: the network has learned that pixel values sit on 17 levels
# and put sharp peaks there, which is exactly the number that dequantisation exists to forbid. A model
# trained on dequantised data (as image likelihood papers do, e.g. Song et al. 2021, App. D.2) would
# score better on the honest measure.

# %% [markdown]
# ## Exercises
#
# ### Exercise 4.1: drift and diffusion of a schedule
# Given a schedule's $\alpha_t$ and $\sigma_t$ as functions, return $(f(t), g(t)^2)$ of section 2 using
# central finite differences with step `h` (float64 throughout).

# %% tags=["exercise"]
def drift_and_diffusion(alpha, sigma, t, h=1e-5):
    """f = d log alpha / dt and g^2 = d sigma^2 / dt - 2 f sigma^2, by central differences."""
    # YOUR CODE HERE
    return None


# %%
def drift_and_diffusion_reference(alpha, sigma, t, h=1e-5):
    return dl.drift_diffusion(alpha.__self__, t)  # alpha is a bound method of its schedule


cases_4_1 = [(sch.alpha, sch.sigma, torch.tensor([0.2, 0.5, 0.9], dtype=F64)) for sch in sdes.values()]
dl.exercises.check(drift_and_diffusion, drift_and_diffusion_reference, cases_4_1, name="Exercise 4.1",
                   rtol=1e-4, atol=1e-6)


# %% tags=["solution", "hide-input"]
# Solution: differentiate log alpha and sigma^2 numerically, then the formula of section 2.
def drift_and_diffusion_solution(alpha, sigma, t, h=1e-5):
    f = (torch.log(alpha(t + h)) - torch.log(alpha(t - h))) / (2 * h)
    ds2 = (sigma(t + h) ** 2 - sigma(t - h) ** 2) / (2 * h)
    return f, ds2 - 2 * f * sigma(t) ** 2


assert dl.exercises.check(drift_and_diffusion_solution, drift_and_diffusion_reference, cases_4_1,
                          name="Exercise 4.1 (solution)", rtol=1e-4, atol=1e-6)

# %% [markdown]
# ### Exercise 4.2: the probability-flow velocity
# Return $v_t(x) = f(t)\,x - \tfrac12 g(t)^2\,\nabla\log p_t(x)$ for the ring mixture under `schedule`,
# using `dl.drift_diffusion` and `mixture.score_t`.

# %% tags=["exercise"]
def pf_velocity(x, t):
    """The probability-flow ODE's velocity at (x, t)."""
    # YOUR CODE HERE
    return None


# %%
def pf_velocity_reference(x, t):
    return dl.pf_ode_drift(mixture.as_denoiser(schedule), schedule, x, t)


cases_4_2 = [(mixture.at(schedule, t).sample(50, generator=generator), t) for t in (0.05, 0.5, 0.95)]
dl.exercises.check(pf_velocity, pf_velocity_reference, cases_4_2, name="Exercise 4.2")


# %% tags=["solution", "hide-input"]
# Solution: the SDE's drift, with half the score term of the reverse SDE and no noise.
def pf_velocity_solution(x, t):
    f, g2 = dl.drift_diffusion(schedule, t)
    return f * x - 0.5 * g2 * mixture.score_t(x, t, schedule)


assert dl.exercises.check(pf_velocity_solution, pf_velocity_reference, cases_4_2,
                          name="Exercise 4.2 (solution)")

# %% [markdown]
# ### Exercise 4.3: bits per dimension
# Convert per-image negative log-likelihoods `nll` (nats, shape [n]) of `d`-dimensional data with bin
# width `delta` into bits per dimension, as in section 7.

# %% tags=["exercise"]
def to_bits_per_dim(nll, d, delta):
    """Bits per dimension of the dequantised discrete model."""
    # YOUR CODE HERE
    return None


# %%
def to_bits_per_dim_reference(nll, d, delta):
    return dl.bits_per_dim(nll, d, bin_width=delta)


cases_4_3 = [(torch.tensor([100.0, 150.0], dtype=F64), 64, 1 / 8),
             (torch.tensor([3000.0], dtype=F64), 3072, 2 / 256)]
dl.exercises.check(to_bits_per_dim, to_bits_per_dim_reference, cases_4_3, name="Exercise 4.3")


# %% tags=["solution", "hide-input"]
# Solution: add the d log(1/delta) nats of the bins, then convert nats per image to bits per pixel.
def to_bits_per_dim_solution(nll, d, delta):
    return (nll - d * math.log(delta)) / (d * math.log(2))


assert dl.exercises.check(to_bits_per_dim_solution, to_bits_per_dim_reference, cases_4_3,
                          name="Exercise 4.3 (solution)")

# %% [markdown]
# ## Papers in this chapter
#
# - **Score-Based Generative Modeling through Stochastic Differential Equations** (Song et al., 2021):
#   VP, VE and sub-VP SDEs (section 2), the reverse SDE (section 3), the probability-flow ODE and exact
#   likelihoods (sections 4 and 6).
# - **Closing the ODE-SDE gap in score-based diffusion models through the Fokker-Planck equation**
#   (Deveney et al., 2023): why ODE and SDE samples differ when the score is learned (section 5).
# - **Reverse-time diffusion equation models** (Anderson, 1982): the reverse SDE (section 3).
# - **Neural Ordinary Differential Equations** (Chen et al., 2018) and **FFJORD** (Grathwohl et al.,
#   2019): the instantaneous change of variables and Hutchinson's trace estimator (sections 6-7).
# - **A note on the evaluation of generative models** (Theis, van den Oord, Bethge, 2016):
#   dequantisation and bits per dimension (section 7).
# - **The Principles of Diffusion Models** (Lai et al., 2025), chapter 4: the SDE view.
#
# ## Summary
#
# - A noise schedule and a linear SDE are the same object: $f = \mathrm d\log\alpha/\mathrm dt$,
#   $g^2 = \mathrm d\sigma^2/\mathrm dt - 2f\sigma^2$.
# - Reversing the SDE needs only the score; the probability-flow ODE has the same marginals, because
#   the Fokker-Planck equation can be written as a continuity equation.
# - With an imperfect score the two samplers differ; the ODE gives exact likelihoods, the SDE is often
#   more forgiving of score errors.
# - Likelihoods of images are reported in bits per dimension, after dequantisation.
#
# **Next:** chapter 5 turns these equations into fast samplers and measures their error against the
# exact ODE solution.
