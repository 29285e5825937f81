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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/chapters/02_ddpm/01_ddpm.ipynb)

# %% [markdown]
# # 2.1 DDPM: learning to reverse the chain
#
# Chapter 1 destroyed data with Gaussian noise. Now learn to undo it. Denoising diffusion
# probabilistic models (DDPM, Ho et al. 2020) reverse the forward chain one small step at a time,
# with a network that only has to predict the noise that was added.
#
# **You will**
# - derive the posterior $q(x_{t-1} \mid x_t, x_0)$ and check its mean and variance numerically,
# - see why the variational bound (ELBO) reduces to a noise-prediction loss, term by term,
# - convert between the $\varepsilon$, $x_0$, $v$ and score parameterisations,
# - train a small network on 2D data in seconds, sample from it with ancestral sampling, and
#   measure the result against the exact data distribution,
# - read per-timestep loss curves to tell whether training works,
# - and, in notebook 2.2, do the same on 8x8 digits and score samples with a Fréchet distance.
#
# **Prerequisites:** chapter 1 (forward process, schedules, logSNR).
# **Runtime:** about 50 s on a 2-core laptop CPU; a GPU trains the models longer.
#
# **Read alongside:** Ho, Jain, Abbeel (2020), *Denoising Diffusion Probabilistic Models*, Sec. 2-3
# (eqs. 5-14, Algorithms 1-2); *The Principles of Diffusion Models*, chapter 2 (the variational view).

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
from IPython.display import HTML, display

# %% [markdown]
# ## 1. The reverse step and the posterior $q(x_{t-1} \mid x_t, x_0)$
#
# DDPM's forward chain (notebook 1.1) is $q(x_i \mid x_{i-1}) = \mathcal N(\sqrt{1-\beta_i}\, x_{i-1}, \beta_i I)$
# with marginal $q(x_i \mid x_0) = \mathcal N(\sqrt{\bar\alpha_i}\, x_0, (1-\bar\alpha_i) I)$. To generate, we
# need the reverse step $p(x_{i-1} \mid x_i)$. It is intractable in general, but once we also condition
# on the clean data $x_0$ it is a Gaussian we can write down (Ho et al. 2020, eqs. 6-7):
#
# $$q(x_{i-1} \mid x_i, x_0) = \mathcal N\big(\tilde\mu_i(x_i, x_0),\, \tilde\beta_i I\big), \quad
# \tilde\mu_i = \frac{\sqrt{\bar\alpha_{i-1}}\,\beta_i}{1-\bar\alpha_i}\, x_0 + \frac{\sqrt{1-\beta_i}\,(1-\bar\alpha_{i-1})}{1-\bar\alpha_i}\, x_i,
# \quad \tilde\beta_i = \frac{1-\bar\alpha_{i-1}}{1-\bar\alpha_i}\,\beta_i.$$
#
# Where does it come from? Given $x_0$, the pair $(x_{i-1}, x_i)$ is jointly Gaussian:
# $x_{i-1} = \sqrt{\bar\alpha_{i-1}} x_0 + \sqrt{1-\bar\alpha_{i-1}}\,\varepsilon$ and
# $x_i = \sqrt{1-\beta_i}\, x_{i-1} + \sqrt{\beta_i}\,\varepsilon'$. Conditioning a joint Gaussian is linear
# regression: slope $\mathrm{Cov}(x_{i-1}, x_i)/\mathrm{Var}(x_i)$, residual variance
# $\mathrm{Var}(x_{i-1}) - \mathrm{Cov}^2/\mathrm{Var}(x_i)$. **Check** the library's `dl.ddpm_posterior` against
# both that regression, computed exactly, and a Monte Carlo regression on simulated pairs.

# %%
T = 1000
ddpm = dl.Discrete.linear(T)
beta, abar = ddpm.betas, ddpm.alphas_cumprod  # beta_i and alpha_bar_i for i = 1..T (index i - 1)
x0_point = torch.tensor([[1.3]], dtype=torch.float64)

for i in (2, 50, 500, 1000):
    ab_prev, ab, b = abar[i - 2], abar[i - 1], beta[i - 1]
    # the joint Gaussian of (x_{i-1}, x_i) given x0, and its conditional (exact regression)
    var_prev, var_i, cov = 1 - ab_prev, 1 - ab, math.sqrt(1 - b) * (1 - ab_prev)
    slope, resid = cov / var_i, var_prev - cov**2 / var_i
    x_i = torch.tensor([[0.4]], dtype=torch.float64)
    mean_exact = ab_prev.sqrt() * x0_point + slope * (x_i - ab.sqrt() * x0_point)
    mean, var = dl.ddpm_posterior(ddpm, x0_point, x_i, i)
    assert torch.allclose(mean, mean_exact, rtol=1e-10) and torch.allclose(var, resid, rtol=1e-10)

    # Monte Carlo: simulate pairs, regress x_{i-1} on x_i
    n = 200_000
    xp = ab_prev.sqrt() * 1.3 + var_prev.sqrt() * torch.randn(n, generator=generator, dtype=torch.float64)
    xi = (1 - b).sqrt() * xp + b.sqrt() * torch.randn(n, generator=generator, dtype=torch.float64)
    c = torch.cov(torch.stack([xp, xi]))
    slope_mc, resid_mc = c[0, 1] / c[1, 1], c[0, 0] - c[0, 1] ** 2 / c[1, 1]
    print(f"i = {i:4d}: posterior variance {var.item():.3e} (Monte Carlo {resid_mc:.3e}), "
          f"slope on x_i {slope:.4f} (Monte Carlo {slope_mc:.4f})")
    assert abs(slope_mc - slope) < 5 * math.sqrt(resid / (n * var_i)) + 1e-12
    assert abs(resid_mc / resid - 1) < 5 * math.sqrt(2 / n)

# %% [markdown]
# The posterior variance $\tilde\beta_i$ is a little smaller than $\beta_i$ (knowing $x_0$ helps), and
# the mean is a blend of $x_0$ and $x_i$. Both are known *except* for $x_0$. DDPM's reverse model
# therefore plugs in a network's guess $\hat x_0(x_i, i)$:
# $p_\theta(x_{i-1} \mid x_i) = \mathcal N(\tilde\mu_i(x_i, \hat x_0), \tilde\beta_i I)$.
#
# ## 2. Why the ELBO becomes "predict the noise"
#
# Training maximises the evidence lower bound (Ho et al. 2020, eq. 5),
#
# $$-\log p_\theta(x_0) \le \underbrace{D_{KL}(q(x_T \mid x_0)\,\|\,p(x_T))}_{L_T}
# + \sum_{i=2}^{T} \underbrace{D_{KL}(q(x_{i-1} \mid x_i, x_0)\,\|\,p_\theta(x_{i-1} \mid x_i))}_{L_{i-1}}
# \underbrace{- \log p_\theta(x_0 \mid x_1)}_{L_0}.$$
#
# Each $L_{i-1}$ compares two Gaussians with the *same* variance, so it is a squared distance of
# means: $L_{i-1} = \|\tilde\mu_i(x_i, x_0) - \tilde\mu_i(x_i, \hat x_0)\|^2 / (2\tilde\beta_i)$. Write
# $x_0 = (x_i - \sqrt{1-\bar\alpha_i}\,\varepsilon)/\sqrt{\bar\alpha_i}$ and likewise for $\hat x_0$ with a
# predicted noise $\hat\varepsilon$: the difference of means is proportional to $\varepsilon - \hat\varepsilon$ and
#
# $$L_{i-1} = \frac{\beta_i^2}{2\tilde\beta_i\,(1-\beta_i)(1-\bar\alpha_i)}\,\|\varepsilon - \hat\varepsilon\|^2 .$$
#
# Ho et al. dropped the weight in front and trained on $\|\varepsilon - \hat\varepsilon\|^2$ at a random
# step: the "simple" loss (their eq. 14). **Check** the identity: the library's Gaussian KL between the
# two reverse steps equals the weighted noise error for a random guess $\hat\varepsilon$.

# %%
x0 = torch.randn(6, 2, generator=generator, dtype=torch.float64)
eps = torch.randn(6, 2, generator=generator, dtype=torch.float64)
eps_hat = eps + 0.3 * torch.randn(6, 2, generator=generator, dtype=torch.float64)
for i in (2, 10, 300, 1000):
    t = i / T
    x_i = ddpm.alpha(t) * x0 + ddpm.sigma(t) * eps
    x0_hat = dl.convert(eps_hat, "eps", "x0", x_t=x_i, alpha=ddpm.alpha(t), sigma=ddpm.sigma(t))
    mean_q, var_q = dl.ddpm_posterior(ddpm, x0, x_i, i)
    mean_p, var_p = dl.ddpm_posterior(ddpm, x0_hat, x_i, i)
    kl = dl.gaussian_kl(mean_q, var_q, mean_p, var_p)
    b, ab = beta[i - 1], abar[i - 1]
    weight = b**2 / (2 * var_q * (1 - b) * (1 - ab))
    assert torch.allclose(kl, weight * ((eps - eps_hat) ** 2).sum(-1), rtol=1e-8)
    print(f"i = {i:4d}: L_(i-1) = {weight.item():9.3e} x ||eps - eps_hat||^2")

# %% [markdown]
# The weight spans orders of magnitude: near $i = 1$ it is huge, elsewhere tiny. Dropping it
# reweights training towards the noisier steps, which Ho et al. found gives better samples; chapter 4
# returns to the weighting question through likelihoods.
#
# ## 3. Four ways to say the same thing: $\varepsilon$, $x_0$, $v$, score
#
# Given $x_t$, predicting $\varepsilon$ fixes $\hat x_0 = (x_t - \sigma_t\hat\varepsilon)/\alpha_t$, the score
# $-\hat\varepsilon/\sigma_t$, and $v = \alpha_t\hat\varepsilon - \sigma_t\hat x_0$ (Salimans & Ho 2022). What
# differs is how errors are weighted during training and where a prediction is well-behaved: $\hat x_0$
# from $\hat\varepsilon$ divides by $\alpha_t$ (bad near $t = 1$), $\hat\varepsilon$ from $\hat x_0$ divides by
# $\sigma_t$ (bad near $t = 0$), and $v$ avoids both. **Check** that an error $\delta$ in $\hat\varepsilon$
# becomes an error $\sigma_t\delta/\alpha_t$ in $\hat x_0$: tiny near data, huge near noise.

# %%
delta = 0.01 * torch.ones(1, 2, dtype=torch.float64)
x_t = torch.zeros(1, 2, dtype=torch.float64)
for t in (0.05, 0.5, 0.95):
    a, s = ddpm.alpha(t), ddpm.sigma(t)
    err = dl.convert(delta, "eps", "x0", x_t=x_t, alpha=a, sigma=s) - dl.convert(
        torch.zeros_like(delta), "eps", "x0", x_t=x_t, alpha=a, sigma=s)
    assert torch.allclose(err.abs(), s / a * delta)
    print(f"t = {t}: an eps error of 0.01 is an x0 error of {err.abs()[0, 0]:.4f}")

# %% [markdown]
# ## 4. Train a DDPM on 2D data
#
# The data: the eight-mode ring, whose exact density the library knows (so we can score samples
# exactly). The schedule: DDPM's linear one in continuous time, `dl.VPLinear()`, whose $\alpha_1$ is
# small but not zero, so an $\varepsilon$ prediction still determines $\hat x_0$ at $t = 1$ (with the cosine
# schedule $\alpha_1 = 0$ and an $\varepsilon$-network cannot start there: `dl.convert` refuses, and
# predicting $v$ is the fix, chapter 4). The network: a small time-conditioned MLP, `dl.MLP`, that maps $(x_t, t)$ to
# $\hat\varepsilon$. The loss: `dl.dsm_loss`, which draws a time $t \sim \mathcal U(0, 1)$ per example, noises
# the data and compares the prediction with the noise: Algorithm 1 of Ho et al. in continuous time.
# Training runs a few thousand small steps (more on a GPU).

# %%
data = dl.toy2d("eight_gaussians", 20_000, generator=generator)
mixture = dl.toy2d_mixture("eight_gaussians")  # the exact distribution of `data`
schedule = dl.VPLinear()  # DDPM's linear schedule in continuous time (Song et al. 2021, eq. 11)


def loss_fn(net, batch, gen):
    return dl.dsm_loss(net, batch, schedule, target="eps", generator=gen)


dl.seed(0)
net = dl.MLP(dim=2)
steps = dl.budget(cpu=4000, gpu=20_000)
result = dl.fit(net, loss_fn, data, steps=steps, batch_size=1024, lr=2e-3, seed=0, desc="DDPM on 2D")
print(f"{steps} steps in {result.seconds:.1f} s; final loss {result.losses[-200:].mean():.3f}")

fig, axes = dl.plot.figure(1, width=4.5, height=2.4)
axes[0, 0].plot(result.losses, lw=0.5, alpha=0.4)
axes[0, 0].plot(torch.arange(99, len(result.losses)),
                result.losses.unfold(0, 100, 1).mean(1), label="100-step average")
axes[0, 0].set(xlabel="step", ylabel="loss", yscale="log", title="training loss")
axes[0, 0].legend()
plt.show()

# %% [markdown]
# ## 5. Ancestral sampling
#
# Sampling runs the learned reverse chain from $x_1 \sim \mathcal N(0, I)$: at each step the network
# gives $\hat\varepsilon$, hence $\hat x_0$, and $x_{s}$ is drawn from $\mathcal N(\tilde\mu(x_t, \hat x_0), \tilde\beta)$
# (Ho et al., Algorithm 2). `dl.denoiser` turns the $\varepsilon$-network into a denoiser
# $D(x_t, t) = \hat x_0$, the one interface every sampler in the course uses.

# %%
denoiser = dl.denoiser(result.ema_model, schedule, target="eps")
x_T = torch.randn(4000, 2, generator=generator)
with torch.no_grad():
    samples, trajectory = dl.ddpm_ancestral(denoiser, schedule, x_T, dl.timesteps(schedule, 250),
                                            generator=generator, return_trajectory=True)

html = dl.plot.animate(trajectory[::25] + [trajectory[-1]],
                       lambda ax, x: dl.plot.scatter2d(ax, x[:1500], lim=3.5, s=1.5), interval=150)
display(HTML(html))

# %% [markdown]
# **How good are the samples?** Two numbers, each with a baseline so that it means something:
#
# - the **sliced Wasserstein distance** between samples and fresh data, against the same distance
#   between two independent data sets of the same size (the floor set by finite samples);
# - the **exact negative log-likelihood** of the samples under the true mixture, against the
#   mixture's differential entropy (the NLL of true samples), and against the same sampler run with
#   the *exact* denoiser of the mixture (`mixture.as_denoiser`), which isolates the network's error
#   from the sampler's.
#
# The NLL of samples is a cross-entropy $H(q, p) = H(q) + D_{KL}(q\,\|\,p)$, not a distance: a sampler
# whose modes come out a little too *narrow* scores below the true entropy. Read it next to the
# sliced Wasserstein distance, which is zero only for the right distribution.

# %%
fresh, fresh2 = mixture.sample(4000, generator=generator), mixture.sample(4000, generator=generator)
with torch.no_grad():
    exact_samples = dl.ddpm_ancestral(mixture.as_denoiser(schedule), schedule, x_T.double(),
                                      dl.timesteps(schedule, 250), generator=generator)
rows = {"true data": fresh2, "exact denoiser": exact_samples, "trained network": samples.double()}
metrics = {}
for name, pts in rows.items():
    metrics[name] = (dl.sliced_wasserstein(pts, fresh, generator=generator).item(),
                     dl.mixture_nll(mixture, pts).item())
    print(f"{name:16s}: sliced Wasserstein to fresh data {metrics[name][0]:.4f}, "
          f"NLL {metrics[name][1]:.3f} nats")
entropy = mixture.entropy_mc(200_000, generator=generator).item()
print(f"true entropy of the data: {entropy:.3f} nats")
sw, sw_floor, nll = metrics["trained network"][0], metrics["true data"][0], metrics["trained network"][1]
assert sw < 1.5 * sw_floor  # as close to the data as a second data set of the same size, nearly
assert nll < entropy + 0.6  # a few samples still land between modes, and they cost the NLL

# %% [markdown]
# ## 6. Is my training working? Loss per time step
#
# The loss averaged over all $t$ hides where the model is wrong: with the $\varepsilon$ target it is
# dominated by the small noise levels, where even a perfect model cannot tell the noise from the
# data. Plot it per time bin instead, against the *irreducible* loss: even the perfect denoiser
# cannot predict $\varepsilon$ exactly, because many $x_0$ are compatible with one $x_t$. For the mixture the perfect prediction $\mathbb E[\varepsilon \mid x_t]$ is
# known exactly (`mixture.eps_t`), so the floor can be computed. A healthy model approaches the floor at
# every $t$; a gap localises what is still wrong.

# %%
def irreducible_loss(t, n=4000):
    """E || eps - E[eps | x_t] ||^2 per dimension, by Monte Carlo with the exact posterior mean."""
    x0 = mixture.sample(n, generator=generator)
    x_t, eps = dl.noisy(x0, t, schedule, generator=generator)
    return ((eps - mixture.eps_t(x_t, t, schedule)) ** 2).mean().item()


x_eval = mixture.sample(4000, generator=generator).float()
with torch.no_grad():
    untrained = dl.loss_per_time(dl.MLP(dim=2), x_eval, schedule, target="eps", generator=generator)
    trained = dl.loss_per_time(result.ema_model, x_eval, schedule, target="eps", generator=generator)
t_bins = trained[0]
floor = torch.tensor([irreducible_loss(float(t)) for t in t_bins])

fig, axes = dl.plot.figure(1, width=5.0, height=2.8)
ax = axes[0, 0]
ax.plot(t_bins, untrained[1], "o-", ms=3, label="untrained")
ax.plot(t_bins, trained[1], "o-", ms=3, label="trained")
ax.plot(t_bins, floor, "k--", label="irreducible (exact)")
ax.set(xlabel="t", ylabel=r"$\|\varepsilon - \hat\varepsilon\|^2$ per dim", yscale="log",
       title="loss per time step")
ax.legend()
plt.show()
for k in range(0, len(t_bins), 4):
    print(f"t = {t_bins[k]:.2f}: untrained {untrained[1][k]:.4f}, trained {trained[1][k]:.4f} "
          f"+- {trained[2][k]:.4f}, irreducible {floor[k]:.4f}")
assert torch.all(trained[1] > floor - 3 * trained[2] - 0.02)  # nothing beats the exact floor
mid = t_bins < 0.8  # on the floor up to Monte Carlo error (3 standard errors) and 5%
assert torch.all((trained[1] - floor)[mid] < 0.05 * floor[mid] + 3 * trained[2][mid])

# %% [markdown]
# Up to $t \approx 0.8$ the trained network sits on the floor: it has learned all there is to learn.
# Near $t = 1$ the floor drops below $10^{-3}$ ($x_t$ is nearly pure noise, so $\varepsilon \approx x_t/\sigma_t$
# is easy) and the network's small absolute error shows as a gap on the log scale; it costs little,
# since the sampler's first steps only need the rough direction of the data. An untrained network
# sits at about 1, the variance of $\varepsilon$. A curve that stays well above the floor over a range of
# $t$, or one that rises during training, is the signal to look at the model or the learning rate.

# %% [markdown]
# ## Exercises
#
# ### Exercise 2.1: the posterior of one step
# Implement $\tilde\mu_i$ and $\tilde\beta_i$ of section 1 from DDPM's table: `betas` is the tensor
# $\beta_1, \dots, \beta_T$ and $2 \le i \le T$. Return `(mean, var)`.

# %% tags=["exercise"]
def posterior(betas, x0, x_i, i):
    """Mean and variance of q(x_{i-1} | x_i, x0) (Ho et al. 2020, eqs. 6-7)."""
    # YOUR CODE HERE
    return None


# %%
def posterior_reference(betas, x0, x_i, i):
    return dl.ddpm_posterior(dl.Discrete(betas), x0, x_i, i)


cases_2_1 = [(beta, torch.randn(3, 2, generator=generator, dtype=torch.float64),
              torch.randn(3, 2, generator=generator, dtype=torch.float64), i) for i in (2, 77, 1000)]
dl.exercises.check(posterior, posterior_reference, cases_2_1, name="Exercise 2.1")


# %% tags=["solution", "hide-input"]
# Solution: read alpha_bar_{i-1} and alpha_bar_i off the running product, then eqs. 6-7.
def posterior_solution(betas, x0, x_i, i):
    abar = torch.cumprod(1 - betas, 0)
    ab_prev, ab, b = abar[i - 2], abar[i - 1], betas[i - 1]
    mean = (ab_prev.sqrt() * b * x0 + (1 - b).sqrt() * (1 - ab_prev) * x_i) / (1 - ab)
    var = (1 - ab_prev) / (1 - ab) * b
    return mean, var


assert dl.exercises.check(posterior_solution, posterior_reference, cases_2_1,
                          name="Exercise 2.1 (solution)")

# %% [markdown]
# ### Exercise 2.2: from $v$ back to $x_0$ and $\varepsilon$
# A $v$-prediction network outputs $\hat v = \alpha_t\hat\varepsilon - \sigma_t\hat x_0$. For a VP schedule
# ($\alpha_t^2 + \sigma_t^2 = 1$), recover `(x0_hat, eps_hat)` from `x_t`, `v`, `alpha`, `sigma`.
# Hint: $(x_t, v)$ is a rotation of $(x_0, \varepsilon)$.

# %% tags=["exercise"]
def from_v(x_t, v, alpha, sigma):
    """Return (x0_hat, eps_hat) given a v prediction."""
    # YOUR CODE HERE
    return None


# %%
def from_v_reference(x_t, v, alpha, sigma):
    return (dl.convert(v, "v", "x0", x_t=x_t, alpha=alpha, sigma=sigma),
            dl.convert(v, "v", "eps", x_t=x_t, alpha=alpha, sigma=sigma))


cases_2_2 = [(torch.randn(4, 2, generator=generator, dtype=torch.float64),
              torch.randn(4, 2, generator=generator, dtype=torch.float64),
              schedule.alpha(t), schedule.sigma(t)) for t in (0.0, 0.3, 0.9, 1.0)]
dl.exercises.check(from_v, from_v_reference, cases_2_2, name="Exercise 2.2")


# %% tags=["solution", "hide-input"]
# Solution: x0 = alpha x_t - sigma v and eps = sigma x_t + alpha v (rotate back; alpha^2 + sigma^2 = 1).
def from_v_solution(x_t, v, alpha, sigma):
    return alpha * x_t - sigma * v, sigma * x_t + alpha * v


assert dl.exercises.check(from_v_solution, from_v_reference, cases_2_2, name="Exercise 2.2 (solution)")

# %% [markdown]
# ### Exercise 2.3: one ancestral step
# Given $x_t$, the network's noise prediction `eps_hat`, the two times $t > s$ and a standard normal
# draw `z`, return $x_s = \tilde\mu(x_t, \hat x_0) + \sqrt{\tilde\beta}\, z$ for the general two-time
# posterior of section 1 (with $\alpha_{t|s} = \alpha_t/\alpha_s$ and
# $\sigma_{t|s}^2 = \sigma_t^2 - \alpha_{t|s}^2\sigma_s^2$: mean
# $\frac{\alpha_{t|s}\sigma_s^2}{\sigma_t^2} x_t + \frac{\alpha_s\sigma_{t|s}^2}{\sigma_t^2}\hat x_0$, variance
# $\sigma_{t|s}^2\sigma_s^2/\sigma_t^2$). Use `schedule` (DDPM's linear schedule, `dl.VPLinear`) for $\alpha$ and $\sigma$.

# %% tags=["exercise"]
def ancestral_step(x_t, eps_hat, t, s, z):
    """Return x_s drawn from q(x_s | x_t, x0_hat) with the given noise z."""
    # YOUR CODE HERE
    return None


# %%
def ancestral_step_reference(x_t, eps_hat, t, s, z):
    x0_hat = dl.convert(eps_hat, "eps", "x0", x_t=x_t, alpha=schedule.alpha(t), sigma=schedule.sigma(t))
    a_t, s_t, a_s, s_s = schedule.alpha(t), schedule.sigma(t), schedule.alpha(s), schedule.sigma(s)
    a_ts = a_t / a_s
    var_ts = s_t**2 - a_ts**2 * s_s**2
    mean = a_ts * s_s**2 / s_t**2 * x_t + a_s * var_ts / s_t**2 * x0_hat
    return mean + (var_ts * s_s**2 / s_t**2).sqrt() * z


cases_2_3 = [(torch.randn(5, 2, generator=generator, dtype=torch.float64),
              torch.randn(5, 2, generator=generator, dtype=torch.float64), t, s,
              torch.randn(5, 2, generator=generator, dtype=torch.float64))
             for t, s in ((0.9, 0.8), (0.5, 0.49), (0.1, 0.02))]
dl.exercises.check(ancestral_step, ancestral_step_reference, cases_2_3, name="Exercise 2.3")


# %% tags=["solution", "hide-input"]
# Solution: x0_hat from eps_hat, then the posterior mean and standard deviation.
def ancestral_step_solution(x_t, eps_hat, t, s, z):
    a_t, s_t, a_s, s_s = schedule.alpha(t), schedule.sigma(t), schedule.alpha(s), schedule.sigma(s)
    x0_hat = (x_t - s_t * eps_hat) / a_t
    a_ts = a_t / a_s
    var_ts = s_t**2 - a_ts**2 * s_s**2
    mean = a_ts * s_s**2 / s_t**2 * x_t + a_s * var_ts / s_t**2 * x0_hat
    return mean + torch.sqrt(var_ts * s_s**2 / s_t**2) * z


assert dl.exercises.check(ancestral_step_solution, ancestral_step_reference, cases_2_3,
                          name="Exercise 2.3 (solution)")

# %% [markdown]
# The library's sampler takes exactly this step: with the noise fixed, one step of
# `dl.ddpm_ancestral` from $t$ to $s$ matches the reference (the check below feeds it a denoiser that
# returns a fixed $\hat x_0$).

# %%
x_t, eps_hat, t, s, z = cases_2_3[0]
x0_hat = dl.convert(eps_hat, "eps", "x0", x_t=x_t, alpha=schedule.alpha(t), sigma=schedule.sigma(t))
g1 = torch.Generator().manual_seed(7)
z_lib = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
step = dl.ddpm_ancestral(lambda x, tt: x0_hat, schedule, x_t, torch.tensor([t, s], dtype=torch.float64),
                         generator=g1)
assert torch.allclose(step, ancestral_step_reference(x_t, eps_hat, t, s, z_lib), atol=1e-10)

# %% [markdown]
# ## Papers in this chapter
#
# - **Denoising Diffusion Probabilistic Models** (Ho, Jain, Abbeel, 2020): the posterior (eqs. 6-7,
#   checked in section 1), the bound and its reduction to noise prediction (eqs. 5, 8-14, section 2),
#   training and ancestral sampling (Algorithms 1-2, sections 4-5).
# - **Deep Unsupervised Learning using Nonequilibrium Thermodynamics** (Sohl-Dickstein et al., 2015):
#   the variational bound of a diffusion chain that DDPM simplifies.
# - **Progressive Distillation for Fast Sampling of Diffusion Models** (Salimans & Ho, 2022): the $v$
#   parameterisation (section 3, exercise 2.2).
# - **The Principles of Diffusion Models** (Lai, Song, Kim, Mitsufuji, Ermon, 2025), chapter 2: the
#   variational view this notebook follows.
#
# ## Summary
#
# - Conditioned on $x_0$, a reverse step is Gaussian with a closed-form mean and variance; DDPM
#   replaces the unknown $x_0$ by a network's prediction.
# - Each ELBO term is a weighted squared error of the noise prediction; dropping the weights gives
#   the simple loss DDPM trains with.
# - $\varepsilon$, $x_0$, $v$ and score predictions are interchangeable given $x_t$; they differ in how
#   errors are weighted and where they are numerically safe.
# - Per-timestep losses against the irreducible floor tell you where a model is still wrong.
#
# **Next:** notebook 2.2 trains the same recipe on 8x8 digits with a small U-Net.
