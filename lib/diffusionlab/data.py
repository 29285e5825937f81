"""Small offline data sets: 2-D toy distributions and scikit-learn's 8x8 digits.

Offers ``TOY2D``, ``toy2d(name, n, generator=, dtype=)``, ``toy2d_mixture(name)`` (the exact
``GaussianMixture`` behind "eight_gaussians" and "gmm", for exact NLL and entropy), ``DIGITS_SPLITS``
and ``digits(split, dtype=)``.

Every toy is drawn with torch from the ``generator`` alone (no numpy or scikit-learn randomness), so the
same seeded generator gives the same points on every machine and run. Each toy is centred and scaled by
ONE factor (so shapes keep their aspect ratio) chosen so that the average per-coordinate variance is 1:
the per-coordinate standard deviations are then near 1 (between 0.7 and 1.25, listed in ``toy2d``).
The constants come from closed-form means and variances, not from the drawn sample, so the scaling does
not depend on ``n``.
"""
from __future__ import annotations

import functools
import math

import torch

from .analytic import GaussianMixture

__all__ = ["DIGITS_SPLITS", "TOY2D", "digits", "toy2d", "toy2d_mixture"]

TOY2D = ("two_moons", "swiss_roll", "eight_gaussians", "checkerboard", "rings", "gmm")
DIGITS_SPLITS = ("train", "test", "all")
F64 = torch.float64

# Raw-coordinate noise levels (before the common scaling), chosen so the structure stays clearly visible.
_MOONS_NOISE = 0.1
_SWISS_NOISE = 0.5
_RINGS_NOISE = 0.08
_RINGS_RADII = (1.0, 2.0, 3.0)


def _check_n(n):
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")


def _check_name(name):
    if name not in TOY2D:
        raise ValueError(f"name must be one of {TOY2D}, got {name!r}")


def _check_dtype(dtype):
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype (e.g. torch.float32), got {dtype!r}")


def _uniform(n, generator, lo=0.0, hi=1.0):
    return lo + (hi - lo) * torch.rand(n, dtype=F64, generator=generator)


# ----------------------------------------------------------------------------- the samplers (float64)
def _two_moons(n, g):
    """Two interleaved half circles (as sklearn's make_moons, here with uniform random angles).

    Outer moon (cos s, sin s), inner moon (1 - cos s, 1/2 - sin s), s ~ U[0, pi], each with prob. 1/2.
    Closed forms (E[cos s] = 0, E[sin s] = 2/pi, E[cos^2 s] = E[sin^2 s] = 1/2) give the mean (1/2, 1/4),
    Var x = 3/4 and Var y = (5/4 - 2/pi) / 2 - 1/16 (about 0.244), each plus the noise variance.
    """
    s = _uniform(n, g, 0.0, math.pi)
    inner = torch.rand(n, generator=g) < 0.5
    x = torch.where(inner, 1 - torch.cos(s), torch.cos(s))
    y = torch.where(inner, 0.5 - torch.sin(s), torch.sin(s))
    pts = torch.stack([x, y], 1) + _MOONS_NOISE * torch.randn(n, 2, dtype=F64, generator=g)
    # E[y^2] = (1/2 + E[(1/2 - sin s)^2]) / 2 = (1/2 + 3/4 - 2/pi) / 2, Var y = E[y^2] - (1/4)^2
    var_x = 0.75 + _MOONS_NOISE ** 2
    var_y = (1.25 - 2 / math.pi) / 2 - 1 / 16 + _MOONS_NOISE ** 2
    return (pts - torch.tensor([0.5, 0.25], dtype=F64)) / math.sqrt((var_x + var_y) / 2)


def _swiss_roll(n, g):
    """The 2-D swiss roll (s cos s, s sin s), s ~ U[3 pi / 2, 9 pi / 2] (sklearn's range), plus noise.

    Closed forms over s ~ U[a, b]: E[x] = [s sin s + cos s]_a^b / (b - a) = 2,
    E[y] = [sin s - s cos s]_a^b / (b - a) = 2 / (3 pi), E[x^2 + y^2] = E[s^2] = (a^2 + ab + b^2) / 3.
    """
    a, b = 1.5 * math.pi, 4.5 * math.pi
    s = _uniform(n, g, a, b)
    pts = torch.stack([s * torch.cos(s), s * torch.sin(s)], 1)
    pts = pts + _SWISS_NOISE * torch.randn(n, 2, dtype=F64, generator=g)
    mx, my = 2.0, 2 / (3 * math.pi)
    mean_var = ((a * a + a * b + b * b) / 3 - mx ** 2 - my ** 2) / 2 + _SWISS_NOISE ** 2
    return (pts - torch.tensor([mx, my], dtype=F64)) / math.sqrt(mean_var)


def _checkerboard(n, g):
    """Uniform on the 8 dark squares of a 4x4 checkerboard on [-2, 2]^2, scaled by sqrt(3)/2.

    Both marginals are U[-2, 2] (variance 4/3), so the result lives on [-sqrt 3, sqrt 3]^2 with unit
    variance per coordinate.
    """
    x = _uniform(n, g, -2.0, 2.0)
    # pick a square in x's column: the row offset (0 or -2) plus the column's parity shifts y onto a dark square
    row = torch.randint(0, 2, (n,), generator=g).to(F64)
    y = _uniform(n, g) - 2 * row + torch.remainder(torch.floor(x), 2)
    return torch.stack([x, y], 1) * (math.sqrt(3) / 2)


def _rings(n, g):
    """Three concentric circles of radii 1, 2, 3, uniform along their total length, radial noise.

    Ring i is picked with probability proportional to r_i (uniform density along the curves); the
    per-coordinate variance is E[(r + noise)^2] / 2 = (sum r_i^3 / sum r_i + noise^2) / 2.
    """
    radii = torch.tensor(_RINGS_RADII, dtype=F64)
    k = torch.multinomial(radii / radii.sum(), n, replacement=True, generator=g)
    ang = _uniform(n, g, 0.0, 2 * math.pi)
    r = radii[k] + _RINGS_NOISE * torch.randn(n, dtype=F64, generator=g)
    var = ((radii ** 3).sum() / radii.sum()).item() / 2 + _RINGS_NOISE ** 2 / 2
    return torch.stack([r * torch.cos(ang), r * torch.sin(ang)], 1) / math.sqrt(var)


@functools.cache
def _mixture(name):
    if name == "eight_gaussians":
        # radius sqrt 2: equal modes on a circle have per-coordinate variance r^2 / 2 + std^2 = 1.01
        return GaussianMixture.ring(8, radius=math.sqrt(2), std=0.1)
    # "gmm": three unequal, correlated components; the weighted means sum to exactly (0, 0), so it is
    # centred; then means and covariances are scaled (by c and c^2) so the mean per-coordinate variance is 1
    weights = torch.tensor([0.5, 0.3, 0.2], dtype=F64)
    means = torch.tensor([[-0.8, -0.4], [0.6, 1.0], [1.1, -0.5]], dtype=F64)
    covs = torch.tensor([[[0.30, 0.15], [0.15, 0.20]],
                         [[0.10, 0.00], [0.00, 0.25]],
                         [[0.20, -0.10], [-0.10, 0.10]]], dtype=F64)
    c = 1 / GaussianMixture(weights, means, covs).cov().diagonal().mean().sqrt().item()
    return GaussianMixture(weights, c * means, c * c * covs)


_SAMPLERS = {"two_moons": _two_moons, "swiss_roll": _swiss_roll, "checkerboard": _checkerboard, "rings": _rings}


def toy2d_mixture(name: str) -> GaussianMixture:
    """The exact ``GaussianMixture`` that ``toy2d(name, ...)`` samples, for "eight_gaussians" or "gmm".

    With it a notebook gets the true log-density (exact NLL of samples), the true entropy and the exact
    score and denoiser at every t (``dl.analytic``). Other toys have no closed-form density: ValueError.
    """
    _check_name(name)
    if name not in ("eight_gaussians", "gmm"):
        raise ValueError(f"name must be 'eight_gaussians' or 'gmm' (the toys with an exact mixture), got {name!r}")
    return _mixture(name)


def toy2d(name: str, n: int, *, generator: torch.Generator | None = None, dtype=torch.float32) -> torch.Tensor:
    """``n`` samples (n, 2) of the 2-D toy distribution ``name`` (one of ``TOY2D``), on the CPU.

    All are centred, then scaled by one factor so the mean per-coordinate variance is 1 (closed forms):
    - "two_moons": two interleaved half circles, noise 0.1 (raw units); std about (1.22, 0.70).
    - "swiss_roll": (s cos s, s sin s), s in [3 pi/2, 9 pi/2], noise 0.5 (raw units); std about (0.98, 1.02).
    - "eight_gaussians": 8 equal modes, std 0.1, on a circle of radius sqrt 2; std 1.0 per coordinate.
    - "checkerboard": uniform on 8 squares of a 4x4 board on [-sqrt 3, sqrt 3]^2; std 1.0 per coordinate.
    - "rings": circles of radii (1, 2, 3) / 1.73 with radial noise; std 1.0 per coordinate.
    - "gmm": an asymmetric 3-component mixture (weights 0.5, 0.3, 0.2, correlated covariances);
      std about (1.08, 0.91). "eight_gaussians" and "gmm" are exactly ``toy2d_mixture(name).sample``.
    Drawn in float64 from ``generator`` only (same generator state -> same points), returned in ``dtype``.
    """
    _check_name(name)
    _check_n(n)
    _check_dtype(dtype)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if name in _SAMPLERS:
        pts = _SAMPLERS[name](n, generator)
    else:
        pts = _mixture(name).sample(n, generator=generator)
    return pts.to(dtype)


# ----------------------------------------------------------------------------- 8x8 digits
_N_DIGITS_TEST = 297  # 1797 images: 1500 train + 297 test


@functools.lru_cache(maxsize=1)
def _digits_arrays():
    # load_digits reads a CSV shipped inside scikit-learn: offline, no download
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=F64)  # (1797, 8, 8), integers in [0, 16]
    labels = torch.as_tensor(bunch.target, dtype=torch.int64)
    # a fixed split, independent of any global seed: the same 297 test images for every reader
    perm = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(0))
    return images, labels, perm


def digits(split: str = "train", *, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 handwritten digits (1797 images, UCI optdigits) as ``(images, labels)``.

    ``images`` (n, 1, 8, 8) in [-1, 1] (pixel values 0..16 mapped by ``x / 8 - 1``), ``labels`` (n,) int64
    in 0..9. ``split``: "train" (1500 images), "test" (297) or "all" (1797, original order). The split is
    fixed: a permutation from ``torch.Generator().manual_seed(0)``, whose first 297 indices are the test
    set. The file is read once (cached); every call returns fresh copies, safe to modify.
    """
    if split not in DIGITS_SPLITS:
        raise ValueError(f"split must be one of {DIGITS_SPLITS}, got {split!r}")
    _check_dtype(dtype)
    images, labels, perm = _digits_arrays()
    if split == "all":
        idx = torch.arange(images.shape[0])
    elif split == "test":
        idx = perm[:_N_DIGITS_TEST]
    else:
        idx = perm[_N_DIGITS_TEST:]
    # fancy indexing copies, so the cached tensors are never exposed
    x = (images[idx] / 8 - 1).to(dtype).unsqueeze(1)
    return x, labels[idx].clone()
