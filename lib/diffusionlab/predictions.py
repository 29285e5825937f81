"""What a network predicts, and how to turn any prediction into a denoiser ``D(x, t) -> x0_hat``.

Offers ``TARGETS``, ``broadcast_to(a, x)``, ``convert(pred, src, dst, x_t, alpha, sigma)`` between the
four targets, ``denoiser(net, schedule, target)`` and the forward marginal ``noisy(x0, t, schedule)``.

The four targets (DESIGN.md): ``eps``, ``x0``, ``v = alpha_t eps - sigma_t x0`` (Salimans & Ho 2022,
Sec. 4 and Appendix D) and ``score = grad log p_t(x_t) = -eps / sigma_t`` (the score of the Gaussian
perturbation kernel, Vincent 2011; Song et al. 2021, Sec. 2). All follow from ``x_t = alpha_t x0 + sigma_t eps`` given ``x_t``.
"""
from __future__ import annotations

import torch

__all__ = ["TARGETS", "broadcast_to", "convert", "denoiser", "noisy"]

TARGETS = ("eps", "x0", "v", "score")


def _check_target(name, value):
    if value not in TARGETS:
        raise ValueError(f"{name} must be one of {TARGETS}, got {value!r}")


def broadcast_to(a, x: torch.Tensor) -> torch.Tensor:
    """``a`` (float, 0-d tensor, tensor broadcastable to ``x``, or 1-D of length ``x.shape[0]``) as a tensor
    with ``x``'s dtype and device that broadcasts against ``x``; a per-sample vector gets shape ``[B, 1, ..., 1]``."""
    # build python numbers directly in x's dtype: as_tensor(0.8) would round them to float32 first
    a = a.to(device=x.device, dtype=x.dtype) if isinstance(a, torch.Tensor) else \
        torch.as_tensor(a, device=x.device, dtype=x.dtype)
    if a.dim() == 1 and x.dim() >= 1 and a.shape[0] == x.shape[0] and a.shape[0] != 1:
        return a.reshape(-1, *([1] * (x.dim() - 1)))
    try:
        torch.broadcast_shapes(a.shape, x.shape)
    except RuntimeError:
        raise ValueError(f"cannot broadcast a coefficient of shape {tuple(a.shape)} against x of shape "
                         f"{tuple(x.shape)}: use a float, a 0-d tensor or one value per sample") from None
    return a


def _no_zero_alpha(a, src, dst):
    if bool((a == 0).any()):
        raise ValueError(
            f"convert {src} -> {dst}: alpha_t = 0 (zero terminal SNR, t = 1), so x_t = sigma_t eps carries no "
            f"information about x0 and an {src} prediction cannot determine x0; use v or x0 prediction "
            "(Lin et al. 2024, Sec. 3.2)")


def _no_zero_sigma(s, src, dst):
    if bool((s == 0).any()):
        raise ValueError(
            f"convert {src} -> {dst}: sigma_t = 0 (t = 0, no noise), so x_t = alpha_t x0 and the noise eps "
            "(and the score, which is -eps / sigma_t) is not identifiable from x_t")


def _eps_of(pred, src, dst, x, a, s):
    """E[eps] implied by a prediction ``pred`` of ``src``."""
    if src == "eps":
        return pred
    if src == "score":  # score = -eps / sigma
        _no_zero_sigma(s, src, dst)
        return -s * pred
    if src == "x0":  # eps = (x - alpha x0) / sigma
        _no_zero_sigma(s, src, dst)
        return (x - a * pred) / s
    # v: invert the rotation [x, v] = [[a, s], [-s, a]] [x0, eps]  (determinant a^2 + s^2 > 0)
    return (s * x + a * pred) / (a * a + s * s)


def _x0_of(pred, src, dst, x, a, s):
    """E[x0] implied by a prediction ``pred`` of ``src``."""
    if src == "x0":
        return pred
    if src == "v":  # x0 = (alpha x - sigma v) / (alpha^2 + sigma^2): never divides by alpha or sigma alone
        return (a * x - s * pred) / (a * a + s * s)
    eps = _eps_of(pred, src, dst, x, a, s)
    _no_zero_alpha(a, src, dst)
    return (x - s * eps) / a


def convert(pred: torch.Tensor, src: str, dst: str, x_t: torch.Tensor, alpha, sigma) -> torch.Tensor:
    """Convert a prediction ``pred`` of target ``src`` into target ``dst`` (both in ``TARGETS``) at ``x_t``.

    Uses ``x_t = alpha x0 + sigma eps``, ``v = alpha eps - sigma x0`` (Salimans & Ho 2022, Sec. 4)
    and ``score = -eps / sigma``. ``alpha``, ``sigma``: floats, tensors broadcastable to ``x_t``, or one
    value per sample. Raises ValueError where the answer is not determined: dividing by ``alpha = 0``
    (eps/score -> x0 at zero terminal SNR) or by ``sigma = 0`` (x0 -> eps, anything <-> score at t = 0).
    """
    _check_target("src", src)
    _check_target("dst", dst)
    a, s = broadcast_to(alpha, x_t), broadcast_to(sigma, x_t)
    if bool(((a == 0) & (s == 0)).any()):
        raise ValueError("alpha and sigma are both 0 somewhere: x_t = 0 carries no information")
    if src == "score" or dst == "score":
        _no_zero_sigma(s, src, dst)  # the score is infinite / undefined without noise
    if src == dst:
        return pred
    if dst == "x0":
        return _x0_of(pred, src, dst, x_t, a, s)
    eps = _eps_of(pred, src, dst, x_t, a, s)
    if dst == "eps":
        return eps
    if dst == "score":
        return -eps / s
    return a * eps - s * _x0_of(pred, src, dst, x_t, a, s)  # dst == "v"


def _time_vector(t, x: torch.Tensor) -> torch.Tensor:
    """``t`` (float, 0-d, or shape [batch]) as a tensor of shape [batch] on ``x``'s device and dtype."""
    t = torch.as_tensor(t, device=x.device, dtype=x.dtype)
    if t.dim() == 0:
        return t.expand(x.shape[0])
    if t.shape != (x.shape[0],):
        raise ValueError(f"t must be a float or a tensor of shape [batch] = [{x.shape[0]}], got {tuple(t.shape)}")
    return t


def denoiser(net, schedule, target: str = "eps"):
    """Wrap ``net(x, t) -> prediction of target`` into a denoiser ``D(x, t) -> x0_hat`` (the denoiser of Karras et al. 2022,
    eq. 2-3: every sampler only needs ``D``). ``net`` always receives ``t`` as a tensor of shape [batch]."""
    _check_target("target", target)

    def D(x, t):
        tv = _time_vector(t, x)
        return convert(net(x, tv), target, "x0", x, schedule.alpha(tv), schedule.sigma(tv))

    return D


def noisy(x0: torch.Tensor, t, schedule, eps=None, generator=None):
    """Sample the forward marginal ``x_t = alpha_t x0 + sigma_t eps``, ``eps ~ N(0, I)`` (Ho et al. 2020, eq. 4;
    Song et al. 2021, Appendix B). ``t``: float or tensor of shape [batch]. Returns ``(x_t, eps)``."""
    tv = _time_vector(t, x0)
    if eps is None:
        eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    elif eps.shape != x0.shape:
        raise ValueError(f"eps must have the shape of x0 {tuple(x0.shape)}, got {tuple(eps.shape)}")
    a, s = broadcast_to(schedule.alpha(tv), x0), broadcast_to(schedule.sigma(tv), x0)
    return a * x0 + s * eps, eps
