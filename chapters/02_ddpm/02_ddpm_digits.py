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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/diffusion-step-by-step/diffusion-step-by-step/blob/main/chapters/02_ddpm/02_ddpm_digits.ipynb)

# %% [markdown]
# # 2.2 DDPM on 8x8 digits
#
# The recipe of notebook 2.1 (noise the data, predict the noise, run the reverse chain) works
# unchanged on images. Here the images are scikit-learn's 8x8 handwritten digits and the network
# is a tiny U-Net. There is no exact density to compare with any more, so this notebook also builds
# the standard yardstick for images: a **Fréchet distance** in the features of a classifier, with
# baselines that say what its numbers mean.
#
# **You will**
# - train a small U-Net on 1500 digits in about a minute of CPU,
# - sample a grid of digits with ancestral sampling,
# - score samples with the Fréchet distance against the test set, next to two baselines: real
#   training digits (the best a model can do at this sample size) and noise (the worst),
# - read the per-timestep loss of an image model.
#
# **Prerequisites:** notebook 2.1.
# **Runtime:** about 90 s on a 2-core laptop CPU; on a GPU the budget trains ten times longer.
#
# **Read alongside:** Ho et al. (2020), Sec. 4 (the U-Net, experiments); Heusel et al. (2017),
# *GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium*, Sec. 4 (the
# Fréchet Inception Distance); Ronneberger et al. (2015), *U-Net*.

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
import matplotlib.pyplot as plt
import torch

# %% [markdown]
# ## 1. The data
#
# `dl.digits` loads the 1797 digits shipped inside scikit-learn (no download), scaled to $[-1, 1]$,
# with a fixed split: 1500 for training, 297 held out for evaluation.

# %%
train_x, train_y = dl.digits("train")
test_x, test_y = dl.digits("test")
print(f"train {tuple(train_x.shape)}, test {tuple(test_x.shape)}, values in "
      f"[{train_x.min():.0f}, {train_x.max():.0f}]")
fig, axes = dl.plot.figure(1, width=4.0, height=2.2)
dl.plot.image_grid(axes[0, 0], train_x[:32], nrow=4, title="training digits")
plt.show()

# %% [markdown]
# ## 2. Train a tiny U-Net
#
# `dl.TinyUNet` goes from 8x8 to 4x4 and back, with a skip connection and the time embedding added in
# every block. The loss and schedule are chapter 2.1's, unchanged: `dl.dsm_loss` with the
# $\varepsilon$ target on DDPM's linear schedule `dl.VPLinear()`. On a CPU the budget below trains for about a minute; on a GPU it trains longer.

# %%
schedule = dl.VPLinear()
dl.seed(0)
unet = dl.TinyUNet()
print(f"{sum(p.numel() for p in unet.parameters()):,} parameters")


def loss_fn(net, batch, gen):
    return dl.dsm_loss(net, batch, schedule, target="eps", generator=gen)


steps = dl.budget(cpu=2000, gpu=20_000)
fit = dl.fit(unet, loss_fn, train_x, steps=steps, batch_size=128, lr=2e-3, seed=0, desc="U-Net on digits")
print(f"{steps} steps in {fit.seconds:.1f} s; loss over the last 100 steps {fit.losses[-100:].mean():.3f}")

# %% [markdown]
# ## 3. Sample
#
# Ancestral sampling as in 2.1, with one image-specific detail from Ho et al.: the predicted clean
# image $\hat x_0$ is clipped to the data range $[-1, 1]$ at every step.

# %%
denoiser = dl.denoiser(fit.ema_model, schedule, target="eps")
x_T = torch.randn(len(test_x), 1, 8, 8, generator=generator)
with torch.no_grad():
    samples = dl.ddpm_ancestral(denoiser, schedule, x_T, dl.timesteps(schedule, 250), clip=(-1.0, 1.0),
                                generator=generator)
fig, axes = dl.plot.figure(2, width=7.0, height=3.4)
dl.plot.image_grid(axes[0, 0], samples[:36], nrow=6, title="DDPM samples")
dl.plot.image_grid(axes[0, 1], test_x[:36], nrow=6, title="test digits")
plt.show()

# %% [markdown]
# ## 4. How good are the samples? A Fréchet distance with baselines
#
# The Fréchet distance (Heusel et al. 2017) fits a Gaussian to the features of each image set and
# measures the distance between the two Gaussians,
#
# $$\mathrm{FD} = \|\mu_a - \mu_b\|^2 + \operatorname{tr}\big(\Sigma_a + \Sigma_b - 2(\Sigma_a^{1/2}\Sigma_b\Sigma_a^{1/2})^{1/2}\big).$$
#
# For ImageNet the features are Inception-v3's; here they are the penultimate layer of a small
# classifier trained on the digits' training split, shipped with the course in `data/` (its card
# records its test accuracy). **Check** the formula first: for two Gaussians it has a closed form.

# %%
classifier, card = dl.digits_classifier()
print(f"feature classifier: test accuracy {card['metrics']['test_accuracy']:.3f}, trained by "
      f"`{card['command']}`")

k = 5
mu_a, mu_b = torch.zeros(k, dtype=torch.float64), torch.full((k,), 0.5, dtype=torch.float64)
cov_a, cov_b = torch.eye(k, dtype=torch.float64), 4 * torch.eye(k, dtype=torch.float64)
feat_a = mu_a + torch.randn(200_000, k, generator=generator, dtype=torch.float64) @ cov_a.sqrt()
feat_b = mu_b + torch.randn(200_000, k, generator=generator, dtype=torch.float64) @ cov_b.sqrt()
closed = ((mu_a - mu_b) ** 2).sum() + k * (1 + 4 - 2 * 2)  # isotropic: tr(S_a + S_b - 2 (S_a S_b)^{1/2})
fd_mc = dl.frechet_distance(feat_a, feat_b)
print(f"FD of two Gaussians: closed form {closed:.3f}, from samples {fd_mc:.3f}")
assert abs(fd_mc - closed) < 0.05

# %% [markdown]
# A Fréchet distance estimated from a few hundred images is biased upwards by the sample size, so an
# absolute number means little on its own. Compare three sets of the same size (297) against the
# held-out test digits: real training digits (the floor at this sample size), the model's samples,
# and images of clipped noise (the ceiling).

# %%
noise_images = torch.randn(test_x.shape, generator=generator).clamp(-1, 1)
fd = {
    "training digits": dl.digits_frechet(train_x[: len(test_x)], test_x),
    "DDPM samples": dl.digits_frechet(samples, test_x),
    "noise": dl.digits_frechet(noise_images, test_x),
}
for name, value in fd.items():
    print(f"FD({name:15s}, test) = {value:8.2f}")
assert fd["training digits"] < fd["DDPM samples"] < fd["noise"]

# %% [markdown]
# The samples sit between the two baselines, nearer the floor than the ceiling. Training longer
# brings them closer: when we trained the same model for 8000 steps instead of 2000 (about four
# minutes on two CPU cores), the distance fell from 276 to 189, against the floor of 132. The classifier also
# gives a quick sanity check: what does it think the samples are? A model that has collapsed onto a
# few digits shows up as a skewed histogram.

# %%
with torch.no_grad():
    predicted = classifier(samples).argmax(-1)
counts = torch.bincount(predicted, minlength=10)
print("samples per predicted class:", counts.tolist())
assert (counts > 0).sum() >= 8  # no collapse onto a few classes

# %% [markdown]
# ## 5. Loss per time step on images
#
# Without an exact density there is no exact floor, but the per-timestep view still shows where the
# network learned something: compare it before and after training.

# %%
with torch.no_grad():
    before = dl.loss_per_time(dl.TinyUNet(), test_x, schedule, target="eps", generator=generator)
    after = dl.loss_per_time(fit.ema_model, test_x, schedule, target="eps", generator=generator)
fig, axes = dl.plot.figure(1, width=5.0, height=2.8)
ax = axes[0, 0]
ax.plot(before[0], before[1], "o-", ms=3, label="untrained")
ax.plot(after[0], after[1], "o-", ms=3, label="trained")
ax.set(xlabel="t", ylabel=r"$\|\varepsilon - \hat\varepsilon\|^2$ per pixel", yscale="log",
       title="held-out loss per time step")
ax.legend()
plt.show()
for k in (0, len(after[0]) // 2, len(after[0]) - 1):
    print(f"t = {after[0][k]:.2f}: untrained {before[1][k]:.3f}, trained {after[1][k]:.3f}")
assert torch.all(after[1] < before[1])

# %% [markdown]
# The trained loss is largest at small $t$ (about half the noise variance at $t = 0.03$): there the
# noise is a small perturbation that is hard to tell apart from the image, so predicting $\varepsilon$
# is hard, and also nearly harmless, since an error $\delta$ in $\hat\varepsilon$ moves $\hat x_0$ by only
# $\sigma_t\delta/\alpha_t$. It falls towards 0 at large $t$, where $x_t$ is almost all noise and
# $\varepsilon \approx x_t/\sigma_t$.
#
# ## Papers in this chapter
#
# - **Denoising Diffusion Probabilistic Models** (Ho et al., 2020): the U-Net denoiser and clipping of
#   $\hat x_0$ in sampling (sections 2-3).
# - **GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium** (Heusel et
#   al., 2017): the Fréchet distance, here in a small digit classifier's features (section 4).
# - **U-Net: Convolutional Networks for Biomedical Image Segmentation** (Ronneberger et al., 2015): the
#   encoder-decoder with skip connections.
#
# ## Summary
#
# - The same loss and sampler that work in 2D work on images with a convolutional denoiser.
# - A Fréchet distance needs baselines: real data of the same size, and noise.
# - The per-timestep loss separates "hard but harmless" (small $t$) from what the model learned.
#
# **Next:** chapter 3 looks at the same models through their scores.
