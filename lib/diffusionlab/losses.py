"""Training objectives: denoising score matching with weightings, the DDPM variational bound, score matching.

Offers ``WEIGHTINGS``, ``LOSS_TARGETS``, ``dsm_loss`` (with ``mse_factor`` and ``dsm_weight``, the
per-time factors it uses), ``loss_per_time`` (the per-timestep diagnostic), ``gaussian_kl``,
``ddpm_posterior``, ``ddpm_elbo_terms``, ``ddpm_elbo``, ``sliced_score_matching`` and
``explicit_score_matching``.

One idea ties the weightings together (Kingma & Gao 2023, "Understanding diffusion objectives",
Table 1): given ``x_t``, an error in any target is a fixed multiple of the error in ``x0``, so every
objective is an x0-MSE with a weight ``w(t)``. With ``SNR = alpha^2 / sigma^2`` (DESIGN.md conventions):
``eps-MSE = SNR * x0-MSE`` and ``v-MSE = (alpha^2 + sigma^2)(SNR + 1) * x0-MSE`` (= ``(SNR + 1) x0-MSE`` on VP
schedules). ``mse_factor`` returns that multiple; ``dsm_weight`` the weight put on the target's MSE.
"""
from __future__ import annotations

import math

import torch

from .predictions import broadcast_to, convert, noisy
from .schedules import Discrete

__all__ = ["LOSS_TARGETS", "WEIGHTINGS", "ddpm_elbo", "ddpm_elbo_terms", "ddpm_posterior", "dsm_loss",
           "dsm_weight", "explicit_score_matching", "gaussian_kl", "loss_per_time", "mse_factor",
           "sliced_score_matching"]

F64 = torch.float64
LOSS_TARGETS = ("eps", "x0", "v")
WEIGHTINGS = ("uniform", "snr", "min_snr", "edm")
REDUCTIONS = ("mean", "none")


# ----------------------------------------------------------------------------- validation helpers
def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_int(name, value, lo=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")


def _per_sample(sq):
    """Mean over every dimension but the batch one: shape [B]."""
    return sq.reshape(sq.shape[0], -1).mean(1)


def _times(t, x0):
    """``t`` (float, 0-d or [B]) as a [B] tensor in ``x0``'s dtype and device."""
    t = torch.as_tensor(t, device=x0.device, dtype=x0.dtype)
    if t.dim() == 0:
        t = t.expand(x0.shape[0])
    if t.shape != (x0.shape[0],):
        raise ValueError(f"t must be a float or a tensor of shape [batch] = [{x0.shape[0]}], got {tuple(t.shape)}")
    return t


def _call(net, x, t, y):
    out = net(x, t) if y is None else net(x, t, y)
    if out.shape != x.shape:
        raise ValueError(f"net must return a prediction of the input's shape {tuple(x.shape)}, got {tuple(out.shape)}")
    return out


# ----------------------------------------------------------------------------- weightings
def mse_factor(schedule, t, target: str) -> torch.Tensor:
    """``c(t)`` with ``target-MSE = c(t) * x0-MSE`` at fixed ``x_t`` (Kingma & Gao 2023, Table 1):
    ``c = 1`` (x0), ``SNR`` (eps), ``(alpha^2 + sigma^2)(SNR + 1)`` (v; ``SNR + 1`` when VP). Float64, shape of ``t``.

    Why: ``eps - eps_hat = (alpha / sigma)(x0_hat - x0)`` and ``v - v_hat = ((alpha^2 + sigma^2) / sigma)(x0_hat - x0)``.
    SNR comes from the schedule's clipped logsnr (``[e^-30, e^30]``), so ``c`` is finite even at t = 0 and at
    zero terminal SNR, where the exact factor is infinite or 0 and a later ratio would be ``inf / inf`` or ``0 / 0``.
    """
    _check_choice("target", target, LOSS_TARGETS)
    t64 = torch.as_tensor(t, dtype=F64)
    snr = torch.exp(schedule.logsnr(t64))
    if target == "x0":
        return torch.ones_like(snr)
    if target == "eps":
        return snr
    a, s = schedule.alpha(t64), schedule.sigma(t64)
    # (a^2 + s^2)^2 / s^2 written as (a^2 + s^2)(1 + SNR): no division by sigma = 0
    return (a * a + s * s) * (1.0 + snr)


def dsm_weight(schedule, t, *, target: str = "eps", weighting: str = "uniform", min_snr_gamma: float = 5.0,
               sigma_data: float = 0.5) -> torch.Tensor:
    """Weight on the *target's* squared error at time ``t``: ``w_x0(t) / mse_factor(t)`` (float64, shape of ``t``).

    The x0-MSE weights ``w_x0`` (Kingma & Gao 2023, Table 1):
      * "uniform": weight 1 on the target's own MSE (Ho et al. 2020, eq. 14 for eps), i.e. ``w_x0 = c(t)``;
      * "snr": ``w_x0 = SNR(t)``, the ELBO's weighting up to the factor ``-d logsnr / dt`` (the continuous-time
        loss of Kingma et al. 2021, "Variational diffusion models"); equal to the eps-MSE whatever the target;
      * "min_snr": ``w_x0 = min(SNR, gamma)`` (Hang et al. 2023, "Efficient diffusion training via Min-SNR
        weighting strategy"; gamma = 5 is their default), so
        ``min(SNR, gamma) / SNR`` for eps and ``min(SNR, gamma) / (SNR + 1)`` for v on VP schedules;
      * "edm": ``w_x0 = lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2`` with
        ``sigma = sigma_edm(t)`` (Karras et al. 2022, eq. 8 and Table 1); since ``sigma_edm^2 = 1 / SNR``
        this is exactly ``SNR + 1 / sigma_data^2``, which is how it is computed (no overflow at sigma -> 0).
    """
    _check_choice("weighting", weighting, WEIGHTINGS)
    _check_positive("min_snr_gamma", min_snr_gamma)
    _check_positive("sigma_data", sigma_data)
    c = mse_factor(schedule, t, target)
    if weighting == "uniform":
        return torch.ones_like(c)
    snr = torch.exp(schedule.logsnr(torch.as_tensor(t, dtype=F64)))
    w_x0 = {"snr": snr, "min_snr": snr.clamp(max=min_snr_gamma), "edm": snr + 1.0 / sigma_data**2}[weighting]
    # both factors are finite and positive (clipped SNR), so the ratio never is inf * 0 or 0 / 0
    return w_x0 / c


# ----------------------------------------------------------------------------- denoising score matching
def dsm_loss(net, x0, schedule, *, target="eps", weighting="uniform", t=None, eps=None, generator=None, y=None,
             t_min=1e-3, min_snr_gamma=5.0, sigma_data=0.5, reduction="mean"):
    """Weighted denoising score matching (Vincent 2011; Ho et al. 2020, eq. 14, the "simple" loss):

    ``L = E_{t, eps} [ w(t) * mean_dims (net(x_t, t) - target)^2 ]``, ``x_t = alpha_t x0 + sigma_t eps``,
    ``t ~ U(t_min, 1)`` and ``eps ~ N(0, I)`` per sample (drawn in that order from ``generator`` unless given),
    ``target`` in {"eps", "x0", "v"} with ``v = alpha eps - sigma x0`` (Salimans & Ho 2022, Sec. 4), and
    ``w(t) = dsm_weight(schedule, t, target, weighting)`` (see there for the four weightings).
    ``net(x_t, t)`` gets ``t`` of shape [B]; with labels ``y`` it is called as ``net(x_t, t, y)``.
    ``reduction``: "mean" (a scalar) or "none" (per-sample losses, shape [B]).
    """
    _check_choice("target", target, LOSS_TARGETS)
    _check_choice("weighting", weighting, WEIGHTINGS)
    _check_choice("reduction", reduction, REDUCTIONS)
    if not isinstance(x0, torch.Tensor) or x0.dim() < 1 or x0.shape[0] < 1:
        raise ValueError("x0 must be a tensor with a non-empty batch dimension")
    if t is None:
        if isinstance(t_min, bool) or not isinstance(t_min, (int, float)) or not 0.0 <= t_min < 1.0:
            raise ValueError(f"t_min must be a number in [0, 1), got {t_min!r}")
        # t_min > 0 by default: at t = 0 the eps target is unidentifiable and SNR-weighted losses blow up
        u = torch.rand(x0.shape[0], generator=generator, device=x0.device, dtype=F64)
        t = t_min + (1.0 - t_min) * u
    t = _times(t, x0)
    x_t, eps = noisy(x0, t, schedule, eps=eps, generator=generator)
    pred = _call(net, x_t, t, y)
    if target == "eps":
        goal = eps
    elif target == "x0":
        goal = x0
    else:
        goal = broadcast_to(schedule.alpha(t), x0) * eps - broadcast_to(schedule.sigma(t), x0) * x0
    per_sample = _per_sample((pred - goal) ** 2)
    if weighting != "uniform":
        w = dsm_weight(schedule, t.to(F64), target=target, weighting=weighting,
                       min_snr_gamma=min_snr_gamma, sigma_data=sigma_data)
        per_sample = per_sample * w.to(per_sample.dtype)
    return per_sample.mean() if reduction == "mean" else per_sample


@torch.no_grad()
def loss_per_time(net, x0, schedule, *, target="eps", n_bins=20, samples_per_bin=256, generator=None, y=None,
                  t_min=1e-3, weighting="uniform"):
    """The "is my training working?" diagnostic: ``dsm_loss`` (uniform weighting by default) evaluated at
    ``n_bins`` fixed times, the centres of equal bins of ``[t_min, 1]``, each on ``samples_per_bin`` rows of
    ``x0`` (drawn with replacement) with fresh noise. Returns ``(t_centres, mean, stderr)``, each [n_bins]
    (float64), ``stderr = std / sqrt(samples_per_bin)``. Compare against the irreducible loss
    ``E Var[target | x_t]``: a trained net is near it at every t (the loss of Ho et al. 2020, eq. 14, per t).
    """
    _check_int("n_bins", n_bins)
    _check_int("samples_per_bin", samples_per_bin, lo=2)
    if isinstance(t_min, bool) or not isinstance(t_min, (int, float)) or not 0.0 <= t_min < 1.0:
        raise ValueError(f"t_min must be a number in [0, 1), got {t_min!r}")
    edges = torch.linspace(t_min, 1.0, n_bins + 1, dtype=F64)
    centres = 0.5 * (edges[1:] + edges[:-1])
    means, errs = torch.empty(n_bins, dtype=F64), torch.empty(n_bins, dtype=F64)
    for k, tc in enumerate(centres.tolist()):
        idx = torch.randint(x0.shape[0], (samples_per_bin,), generator=generator, device=x0.device)
        losses = dsm_loss(net, x0[idx], schedule, target=target, weighting=weighting, t=tc, generator=generator,
                          y=None if y is None else y[idx], reduction="none").to(F64)
        means[k], errs[k] = losses.mean(), losses.std() / math.sqrt(samples_per_bin)
    return centres, means, errs


# ----------------------------------------------------------------------------- DDPM variational bound
def gaussian_kl(mu1, var1, mu2, var2) -> torch.Tensor:
    """``KL(N(mu1, var1) || N(mu2, var2))`` for diagonal Gaussians, summed over all but the batch dimension:
    ``0.5 * sum (log(var2 / var1) + (var1 + (mu1 - mu2)^2) / var2 - 1)`` (Ho et al. 2020, eq. 5 uses it in
    closed form). Arguments broadcast against each other; variances must be > 0. Returns shape [B]."""
    ref = next((v for v in (mu1, var1, mu2, var2) if isinstance(v, torch.Tensor)), None)
    if ref is None:
        raise ValueError("at least one of mu1, var1, mu2, var2 must be a tensor with a batch dimension")
    # python numbers take the tensors' dtype: as_tensor(0.99) alone would round them to float32
    mu1, var1, mu2, var2 = (torch.as_tensor(v, dtype=None if isinstance(v, torch.Tensor) else ref.dtype,
                                            device=ref.device) for v in (mu1, var1, mu2, var2))
    for name, var in (("var1", var1), ("var2", var2)):
        if not bool((var > 0).all()):
            raise ValueError(f"{name} must be > 0 everywhere (a zero variance makes the KL infinite)")
    mu1, var1, mu2, var2 = torch.broadcast_tensors(mu1, var1, mu2, var2)
    if mu1.dim() < 1:
        raise ValueError("the arguments must have a batch dimension after broadcasting")
    kl = 0.5 * (torch.log(var2) - torch.log(var1) + (var1 + (mu1 - mu2) ** 2) / var2 - 1.0)
    return kl.reshape(kl.shape[0], -1).sum(1)


def _ddpm_coefs(schedule, i, device):
    """Float64 posterior coefficients of step(s) ``i`` (Ho et al. 2020, eq. 7): (c_x0, c_xt, beta_tilde, beta)."""
    if not isinstance(schedule, Discrete):
        # ValueError: any Schedule is the right type, only a DDPM table has the steps this bound sums over
        raise ValueError(f"schedule must be a dl.Discrete DDPM table, got {type(schedule).__name__}")  # noqa: TRY004
    i = torch.as_tensor(i)
    if i.is_floating_point() or not bool(((i >= 1) & (i <= schedule.T)).all()):
        raise ValueError(f"i must be integer step(s) in 1..T = 1..{schedule.T}, got {i}")
    beta = schedule.betas
    # log alpha_bar in float64 from log1p: 1 - alpha_bar_i for small i keeps its digits (beta_1 = 1e-4)
    log_abar = torch.cat([torch.zeros(1, dtype=F64), torch.cumsum(torch.log1p(-beta), 0)])
    one_m = -torch.expm1(log_abar)  # 1 - alpha_bar_i, i = 0..T
    ii = i.long().cpu()
    b = beta[ii - 1]
    c_x0 = torch.exp(0.5 * log_abar[ii - 1]) * b / one_m[ii]
    c_xt = torch.sqrt(1.0 - b) * one_m[ii - 1] / one_m[ii]
    var = one_m[ii - 1] / one_m[ii] * b
    return tuple(v.to(device) for v in (c_x0, c_xt, var, b))


def ddpm_posterior(schedule, x0, x_t, i):
    """Mean and variance of ``q(x_{i-1} | x_i, x0)`` (Ho et al. 2020, eq. 6-7), DDPM notation
    (``alpha_i = 1 - beta_i``, ``alpha_bar_i`` = our ``alpha(i/T)^2``):

    ``mean = sqrt(alpha_bar_{i-1}) beta_i / (1 - alpha_bar_i) x0 + sqrt(alpha_i) (1 - alpha_bar_{i-1}) / (1 - alpha_bar_i) x_i``,
    ``var = beta_tilde_i = (1 - alpha_bar_{i-1}) / (1 - alpha_bar_i) beta_i`` (0 at i = 1: x_0 is then known).
    ``i``: an int in 1..T or one per sample (shape [B]). Returns ``mean`` (x's dtype) and ``var`` as a
    tensor broadcastable against ``x0`` (shape [B, 1, ..., 1] for per-sample ``i``, 0-d otherwise).
    """
    c_x0, c_xt, var, _ = _ddpm_coefs(schedule, i, x0.device)
    c_x0, c_xt, var = (broadcast_to(v, x0) for v in (c_x0, c_xt, var))
    return c_x0 * x0 + c_xt * x_t, var


def ddpm_elbo_terms(net, x0, schedule, *, target="eps", steps=None, generator=None, max_rows=4096):
    """Per-sample terms of the DDPM variational bound on ``-log p(x0)`` in nats (Ho et al. 2020, eq. 5;
    Sohl-Dickstein et al. 2015), each a one-sample Monte Carlo estimate over ``x_i ~ q(x_i | x0)``:

    * ``prior`` = ``L_T = KL(q(x_T | x0) || N(0, I))``, ``q(x_T | x0) = N(alpha_T x0, sigma_T^2 I)``;
    * ``kl[:, k]`` = ``L_{i-1} = KL(q(x_{i-1} | x_i, x0) || p(x_{i-1} | x_i))`` at ``i = steps[k]`` (default
      2..T), where ``p`` is ``ddpm_posterior`` with ``x0`` replaced by the net's x0 prediction and the same
      variance ``beta_tilde_i`` (Ho et al., eq. 7 and the "small variance" choice of Sec. 3.2), so
      ``L_{i-1} = c_x0^2 ||x0 - x0_hat||^2 / (2 beta_tilde_i)``;
    * ``recon`` = ``L_0 = -log N(x0; x0_hat(x_1), beta_1 I)``: the continuous analogue of DDPM's discretised
      decoder for 8-bit images (eq. 13); at ``i = 1`` the posterior mean with ``x0_hat`` is ``x0_hat`` itself.

    ``net(x, t)`` predicts ``target`` at ``t = i / T``. ``schedule`` must be a ``dl.Discrete`` table.
    Returns ``dict(prior=[B], recon=[B], kl=[B, len(steps)], steps=[len(steps)])``. Wrap in
    ``torch.no_grad()`` when only evaluating; ``max_rows`` caps the rows per net call (several steps of
    the batch are stacked into one call).
    """
    _check_choice("target", target, LOSS_TARGETS)
    _check_int("max_rows", max_rows)
    _ddpm_coefs(schedule, 1, x0.device)  # validates schedule
    T = schedule.T
    steps = torch.arange(2, T + 1) if steps is None else torch.as_tensor(steps)
    if steps.dim() != 1 or steps.is_floating_point() or not bool(((steps >= 2) & (steps <= T)).all()):
        raise ValueError(f"steps must be a 1-D tensor of integers in 2..T = 2..{T}, got {steps}")
    steps = steps.long().cpu()

    def x0_hat(t, x_t):
        return convert(_call(net, x_t, t, None), target, "x0", x_t, schedule.alpha(t), schedule.sigma(t))

    d = x0[0].numel()
    # prior: KL(N(a x0, 1 - abar) || N(0, 1)) = 0.5 (abar x0^2 - abar - log(1 - abar)) per dimension, exact
    # and parameter-free; written with log1p because 1 - abar ~ 1 makes the generic formula cancel to noise
    abar = schedule.alpha(1.0).item() ** 2
    prior = 0.5 * (abar * _per_sample(x0**2) * d + d * (-abar - math.log1p(-abar)))
    # recon: x_1 ~ q(x_1 | x0), decoder N(x0_hat, beta_1)
    b1 = schedule.betas[0].item()
    t1 = torch.full((x0.shape[0],), 1.0 / T, device=x0.device, dtype=x0.dtype)
    x1, _ = noisy(x0, t1, schedule, generator=generator)
    err = _per_sample((x0 - x0_hat(t1, x1)) ** 2) * d
    recon = 0.5 * err / b1 + 0.5 * d * math.log(2 * math.pi * b1)
    c_x0, _, var, _ = _ddpm_coefs(schedule, steps, x0.device)
    scale = (c_x0**2 / (2.0 * var)).to(x0.dtype)
    B, kls = x0.shape[0], []
    # several steps per net call (rows = copies of x0, one step each): the per-call overhead dominates otherwise
    per_call = max(1, max_rows // B)
    for chunk in torch.split(steps, per_call):
        xs = x0.repeat(len(chunk), *([1] * (x0.dim() - 1)))
        t = (chunk.to(x0.device, x0.dtype) / T).repeat_interleave(B)
        x_i, _ = noisy(xs, t, schedule, generator=generator)
        # the x_i parts of the two means are identical, so their difference is exactly c_x0 (x0 - x0_hat):
        # computing it that way avoids cancelling two nearly equal means at large i
        sq = _per_sample((xs - x0_hat(t, x_i)) ** 2) * d
        kls.append(sq.reshape(len(chunk), B).T)
    kl = torch.cat(kls, 1) * scale if kls else x0.new_zeros(B, 0)
    return {"prior": prior, "recon": recon, "kl": kl, "steps": steps}


def ddpm_elbo(net, x0, schedule, *, target="eps", generator=None, max_rows=4096) -> torch.Tensor:
    """The DDPM variational bound ``L = L_T + sum_{i=2}^T L_{i-1} + L_0 >= -log p_theta(x0)`` in nats per
    sample, shape [B] (Ho et al. 2020, eq. 5), summing all terms of ``ddpm_elbo_terms``. Divide by
    ``d log 2`` for bits per dimension."""
    terms = ddpm_elbo_terms(net, x0, schedule, target=target, generator=generator, max_rows=max_rows)
    return terms["prior"] + terms["recon"] + terms["kl"].sum(1)


# ----------------------------------------------------------------------------- score matching without noise
def sliced_score_matching(score_net, x, *, n_projections=1, generator=None, variance_reduced=True,
                          reduction="mean"):
    """Sliced score matching (Song et al. 2019, "Sliced Score Matching", eq. 8), with ``v ~ N(0, I)``:

    ``J = E_x E_v [ v^T (d s / d x) v + 0.5 (v^T s(x))^2 ]``; with ``variance_reduced`` the second term is
    replaced by its expectation over Gaussian ``v``, ``0.5 ||s(x)||^2`` (SSM-VR, same paper, Sec. 3). Equal to
    Hyvarinen's implicit score matching objective in expectation, i.e. ``explicit_score_matching`` minus a
    constant ``0.5 E||grad log p||^2`` that does not depend on the model.

    ``score_net(x) -> s(x)`` of ``x``'s shape, acting on each sample separately (no batch norm: the Jacobian
    is taken through a sum over the batch). For a time-conditioned net use ``lambda x: net(x, t_fixed)``.
    ``v^T J v`` is one vector-Jacobian product with ``create_graph=True``, so the loss can be backpropagated.
    Sums over dimensions, averages over samples and projections; ``reduction`` "mean" or "none" ([B]).
    """
    _check_int("n_projections", n_projections)
    _check_choice("reduction", reduction, REDUCTIONS)
    B = x.shape[0]
    # all projections in one batch: copies of x, one v each, one backward pass
    xr = x.detach().repeat(n_projections, *([1] * (x.dim() - 1))).requires_grad_(True)
    s = score_net(xr)
    if s.shape != xr.shape:
        raise ValueError(f"score_net must return the input's shape {tuple(xr.shape)}, got {tuple(s.shape)}")
    v = torch.randn(xr.shape, generator=generator, device=x.device, dtype=x.dtype)
    (jv,) = torch.autograd.grad((s * v).sum(), xr, create_graph=True)  # = J^T v per sample
    flat = lambda a: a.reshape(a.shape[0], -1)
    trace_term = (flat(jv) * flat(v)).sum(1)
    norm_term = 0.5 * (flat(s) ** 2).sum(1) if variance_reduced else 0.5 * (flat(s) * flat(v)).sum(1) ** 2
    per_sample = (trace_term + norm_term).reshape(n_projections, B).mean(0)
    return per_sample.mean() if reduction == "mean" else per_sample


def explicit_score_matching(score_net, x, true_score, *, reduction="mean"):
    """Explicit score matching ``0.5 E_x ||s(x) - grad log p(x)||^2`` (Hyvarinen 2005, eq. 2), summed over
    dimensions: the target that implicit / sliced score matching optimise without knowing ``grad log p``,
    computable only when the true score is known (e.g. ``dl.GaussianMixture.score``)."""
    _check_choice("reduction", reduction, REDUCTIONS)
    d = score_net(x) - true_score(x)
    per_sample = 0.5 * (d.reshape(d.shape[0], -1) ** 2).sum(1)
    return per_sample.mean() if reduction == "mean" else per_sample
