"""Sample-quality metrics: how far are generated samples from the data?

Offers the two-sample distances ``sliced_wasserstein``, ``mmd_rbf`` and ``energy_distance`` between point
clouds (n, d); the exact ``mixture_nll`` of samples under a ``GaussianMixture``; and the Frechet distance
between Gaussian fits of features, ``frechet_distance`` (the FID formula) and
``frechet_distance_features`` (the same after a feature extractor, e.g. a small digits classifier).

Everything is computed in float64 and returned as a 0-d float64 tensor on the inputs' device: the
statistics are differences of nearly equal averages (MMD, energy distance) or traces of matrix square
roots (Frechet), whose float32 rounding error is as large as the small distances we want to resolve.
"""
from __future__ import annotations

import math

import torch

from .analytic import GaussianMixture

__all__ = ["digits_classifier", "digits_frechet", "energy_distance", "frechet_distance", "frechet_distance_features",
           "mixture_nll", "mmd_rbf",
           "sliced_wasserstein"]

F64 = torch.float64


# ----------------------------------------------------------------------------- validation
def _cloud(x, name, min_n=2):
    """``x`` as a float64 (n, d) tensor, after checking its type, shape, size and values."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor of shape (n, d), got {type(x).__name__}")
    if x.dim() != 2 or x.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n, d), got {tuple(x.shape)}")
    if x.shape[0] < min_n:
        raise ValueError(f"{name} must have at least {min_n} rows, got {x.shape[0]}")
    x = x.detach().to(F64)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return x


def _pair(x, y, names=("x", "y")):
    x, y = _cloud(x, names[0]), _cloud(y, names[1])
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"{names[0]} and {names[1]} must have the same dimension d, got {x.shape[1]} and {y.shape[1]}")
    return x, y.to(x.device)


def _dist(x, y):
    # the direct (not matmul-expanded) Euclidean distance: exact zeros for coinciding points
    return torch.cdist(x, y, compute_mode="donot_use_mm_for_euclid_dist")


def _off_diagonal_mean(K):
    """Mean of a square matrix without its diagonal: the U-statistic over pairs i != j."""
    n = K.shape[0]
    return (K.sum() - K.diagonal().sum()) / (n * (n - 1))


# ----------------------------------------------------------------------------- two-sample distances
def sliced_wasserstein(x, y, *, n_projections: int = 256, p: float = 2, generator=None) -> torch.Tensor:
    """Sliced Wasserstein distance ``SW_p(x, y) = (E_theta W_p^p(theta.x, theta.y))^(1/p)``, theta uniform
    on the unit sphere (Rabin et al. 2011; Bonneel et al. 2015, Sec. 2).

    Each 1-D ``W_p`` between equal-size empirical measures pairs sorted projections:
    ``W_p^p = (1/n) sum_i |u_(i) - v_(i)|^p``. ``n_projections`` random directions (from ``generator``)
    estimate the expectation. If the sizes differ, the larger cloud is subsampled without replacement to
    the smaller size (an unbiased random pairing, with a little extra variance). In d = 1 the only directions
    are +-1, so the result is the exact ``W_p``.
    """
    x, y = _pair(x, y)
    if not isinstance(n_projections, int) or isinstance(n_projections, bool) or n_projections < 1:
        raise ValueError(f"n_projections must be an integer >= 1, got {n_projections!r}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not (1 <= p < math.inf):
        raise ValueError(f"p must be a finite number >= 1, got {p!r}")
    gdev = generator.device if generator is not None else x.device
    n = min(x.shape[0], y.shape[0])
    if x.shape[0] != y.shape[0]:
        x = x[torch.randperm(x.shape[0], generator=generator, device=gdev)[:n].to(x.device)]
        y = y[torch.randperm(y.shape[0], generator=generator, device=gdev)[:n].to(x.device)]
    # a normalised Gaussian vector is uniform on the sphere
    theta = torch.randn(n_projections, x.shape[1], generator=generator, device=gdev, dtype=F64).to(x.device)
    theta = theta / theta.norm(dim=1, keepdim=True)
    u, _ = torch.sort(x @ theta.T, dim=0)
    v, _ = torch.sort(y @ theta.T, dim=0)
    return ((u - v).abs() ** p).mean() ** (1.0 / p)


def _median_bandwidth(x, y, max_points=2000):
    """Median heuristic: the median pairwise distance of the pooled sample (Gretton et al. 2012).

    Above ``max_points`` pooled points the median is taken over an evenly spaced subset (deterministic),
    which keeps the pair count at 2 million; if over half the pairs coincide the mean distance is used."""
    z = torch.cat([x, y])
    if z.shape[0] > max_points:
        z = z[torch.linspace(0, z.shape[0] - 1, max_points, device=z.device).long()]
    i, j = torch.triu_indices(z.shape[0], z.shape[0], offset=1, device=z.device)
    d = _dist(z, z)[i, j].sort().values
    # the usual median (numpy's, scipy's): the mean of the two middle values when the number of pairs is even.
    # torch.median returns the lower of the two instead, which is not "the median pairwise distance"
    k = d.numel()
    h = 0.5 * (d[(k - 1) // 2] + d[k // 2])
    h = h if h > 0 else d.mean()
    return [h.item() if h > 0 else 1.0]  # all points equal: any bandwidth gives the same (zero) MMD


def mmd_rbf(x, y, *, bandwidth=None) -> torch.Tensor:
    """Unbiased squared maximum mean discrepancy with an RBF kernel (Gretton et al. 2012, JMLR, eq. 3):

    ``MMD_u^2 = 1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(n(n-1)) sum_{i!=j} k(y_i, y_j) - 2/(mn) sum_{i,j} k(x_i, y_j)``,
    ``k(a, b) = sum_h exp(-||a - b||^2 / (2 h^2))`` over the bandwidths h. ``bandwidth``: None (the median
    heuristic on the pooled sample), a number > 0, or a list of them (a sum of kernels, robust to scale).
    Being unbiased, the estimate fluctuates around 0 (and can be negative) when x and y share a law.
    """
    x, y = _pair(x, y)
    if bandwidth is None:
        hs = _median_bandwidth(x, y)
    else:
        hs = list(bandwidth) if isinstance(bandwidth, (list, tuple)) else [bandwidth]
        if not hs or not all(isinstance(h, (int, float)) and not isinstance(h, bool) and math.isfinite(h) and h > 0
                             for h in hs):
            raise ValueError(f"bandwidth must be None, a finite number > 0 or a non-empty list of them, got {bandwidth!r}")

    def k(a, b):
        d2 = _dist(a, b) ** 2
        return sum(torch.exp(-d2 / (2.0 * h * h)) for h in hs)

    return _off_diagonal_mean(k(x, x)) + _off_diagonal_mean(k(y, y)) - 2.0 * k(x, y).mean()


def energy_distance(x, y) -> torch.Tensor:
    """Energy distance ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` (Szekely & Rizzo 2013, "Energy statistics"), with the
    within-sample terms as U-statistics over pairs i != j (unbiased). Zero in expectation iff X and Y share a law."""
    x, y = _pair(x, y)
    return 2.0 * _dist(x, y).mean() - _off_diagonal_mean(_dist(x, x)) - _off_diagonal_mean(_dist(y, y))


# ----------------------------------------------------------------------------- likelihood
def mixture_nll(mixture, samples) -> torch.Tensor:
    """Mean negative log-likelihood ``-(1/n) sum_i log p(x_i)`` of ``samples`` (n, d) under a ``GaussianMixture``
    (exact, in nats). For samples drawn from the mixture itself this is a Monte Carlo estimate of its
    differential entropy ``H(p)`` (``mixture.entropy_mc``); for any other sampler q it estimates the cross
    entropy ``H(q, p) = H(q) + KL(q || p)``, which is *not* minimised by q = p (a sampler that collapses
    onto the modes scores lower), so report it next to a two-sample distance."""
    if not isinstance(mixture, GaussianMixture):
        raise TypeError(f"mixture must be a dl.analytic.GaussianMixture, got {type(mixture).__name__}")
    x = _cloud(samples, "samples", min_n=1)
    if x.shape[1] != mixture.d:
        raise ValueError(f"samples must have shape (n, {mixture.d}) to match the mixture, got {tuple(samples.shape)}")
    return -mixture.log_prob(x).mean()


# ----------------------------------------------------------------------------- Frechet distance
def _sqrtm_psd(S):
    """Symmetric PSD square root by eigendecomposition; eigenvalues clamped at 0 (rounding makes them -1e-17)."""
    lam, V = torch.linalg.eigh(S)
    return (V * lam.clamp(min=0).sqrt()) @ V.T


def frechet_distance(feat_a, feat_b) -> torch.Tensor:
    """Frechet (2-Wasserstein) distance between Gaussian fits of two feature sets (n, k), n >= 2 each:
    ``||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a^{1/2} S_b S_a^{1/2})^{1/2})`` (Dowson & Landau 1982;
    Heusel et al. 2017, eq. 6, the FID). Covariances are unbiased (1/(n-1)), as in the reference FID code.

    The trace of the matrix square root is ``sum_i sqrt(lambda_i)`` over the eigenvalues of the symmetric PSD
    matrix ``S_a^{1/2} S_b S_a^{1/2}`` (float64 ``eigh``), rather than ``scipy.linalg.sqrtm(S_a S_b)``, whose
    non-symmetric input gives complex output with spurious imaginary parts. Clamped at 0 (it is a squared distance).
    """
    a, b = _pair(feat_a, feat_b, names=("feat_a", "feat_b"))
    mu_a, mu_b = a.mean(0), b.mean(0)
    S_a, S_b = torch.cov(a.T).reshape(a.shape[1], a.shape[1]), torch.cov(b.T).reshape(b.shape[1], b.shape[1])
    r = _sqrtm_psd(S_a)
    M = r @ S_b @ r
    tr_sqrt = torch.linalg.eigvalsh(0.5 * (M + M.T)).clamp(min=0).sqrt().sum()
    fd = ((mu_a - mu_b) ** 2).sum() + S_a.trace() + S_b.trace() - 2.0 * tr_sqrt
    return fd.clamp(min=0)


def _features(images, feature_fn, batch_size, name):
    if not isinstance(images, torch.Tensor) or images.dim() < 1 or images.shape[0] < 2:
        raise ValueError(f"{name} must be a tensor with a leading batch dimension of size >= 2")
    out = []
    with torch.no_grad():  # features are statistics, not part of any graph
        for i in range(0, images.shape[0], batch_size):
            f = feature_fn(images[i:i + batch_size])
            out.append(f.reshape(f.shape[0], -1).to(F64))
    return torch.cat(out)


def frechet_distance_features(images_a, images_b, feature_fn, *, batch_size: int = 256) -> torch.Tensor:
    """``frechet_distance(feature_fn(images_a), feature_fn(images_b))``: the FID recipe (Heusel et al. 2017, eq. 6)
    with any feature extractor ``feature_fn(batch) -> (batch, k)`` (e.g. a small digits classifier's penultimate
    layer), applied in batches of ``batch_size`` without gradients. The numbers are comparable only between
    runs that use the same ``feature_fn``."""
    if not callable(feature_fn):
        raise TypeError(f"feature_fn must be callable, got {type(feature_fn).__name__}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    fa = _features(images_a, feature_fn, batch_size, "images_a")
    fb = _features(images_b, feature_fn, batch_size, "images_b")
    return frechet_distance(fa, fb)


# ----------------------------------------------------------------------------- the shipped digits classifier
def digits_classifier(device=None):
    """The small digits CNN (``dl.nets.DigitsClassifier``) trained once by ``data/make_data.py`` and shipped
    as ``data/digits_classifier.{safetensors,json}``: ``dl.checkpoint.pretrained("digits_classifier")``.
    Returns ``(model, card)``, the model in eval mode without gradients; the card records the training
    recipe, the test accuracy and the train-vs-test Frechet distance. Cached: treat the model as read-only."""
    from .checkpoint import pretrained

    return pretrained("digits_classifier", device=device)


def digits_frechet(images_a, images_b) -> torch.Tensor:
    """Frechet distance between two sets of 8x8 digit images (n, 1, 8, 8) in [-1, 1], in the 64 penultimate
    features of the shipped ``digits_classifier`` (the FID recipe of Heusel et al. 2017, eq. 6, at the scale
    of 8x8 digits). Only comparable to other numbers from the same classifier: report it next to the
    train-vs-test baseline."""
    for name, im in (("images_a", images_a), ("images_b", images_b)):
        if not isinstance(im, torch.Tensor) or im.dim() != 4 or tuple(im.shape[1:]) != (1, 8, 8):
            raise ValueError(f"{name} must be a tensor of shape (n, 1, 8, 8), got "
                             f"{tuple(im.shape) if isinstance(im, torch.Tensor) else type(im).__name__}")
    model, _ = digits_classifier(images_a.device)
    return frechet_distance_features(images_a.float(), images_b.float().to(images_a.device), model.features)
