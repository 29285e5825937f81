"""Samplers: pure functions that turn noise ``x_T`` into data with a denoiser ``D(x, t) -> x0_hat``.

Offers ``ddpm_ancestral`` (Ho et al. 2020, Alg. 2, on any decreasing time grid of any schedule), the
registry ``SAMPLERS`` and ``get_sampler(name)``, and the shared helpers ``check_ts(ts)`` and
``posterior_coefficients(schedule, t, s)`` (the Gaussian posterior q(x_s | x_t, x0)). Every sampler has the signature
``sample_X(denoiser, schedule, x_T, ts, *, generator=None, return_trajectory=False, ...) -> x_0``
(DESIGN.md, Sec. 3): ``ts`` is a decreasing grid of times in [0, 1] such as ``dl.timesteps(schedule, n)``,
and the denoiser is called as ``denoiser(x, t)`` with ``t`` a python float (one time for the whole batch),
which every denoiser in the library accepts (``dl.predictions.denoiser``, ``GaussianMixture.as_denoiser``,
``EmpiricalDistribution.as_denoiser``).
"""
from __future__ import annotations

import math

import torch

__all__ = ["SAMPLERS", "check_ts", "ddpm_ancestral", "get_sampler", "posterior_coefficients"]

F64 = torch.float64
VARIANCES = ("small", "large")


# ----------------------------------------------------------------------------- shared helpers
def check_ts(ts) -> torch.Tensor:
    """``ts`` as a float64 CPU tensor, after checking it is 1-D, length >= 2, strictly decreasing, in [0, 1]."""
    try:
        t = ts.detach().to("cpu", F64) if isinstance(ts, torch.Tensor) else torch.as_tensor(ts, dtype=F64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"ts must be a 1-D sequence of times, got {type(ts).__name__}") from None
    if t.dim() != 1 or t.numel() < 2:
        raise ValueError(f"ts must be 1-D with length >= 2, got shape {tuple(t.shape)}")
    if not bool(((t >= 0) & (t <= 1)).all()):  # NaN fails both comparisons
        raise ValueError(f"ts must lie in [0, 1] (no NaN), got {t.tolist()}")
    if not bool((t[1:] < t[:-1]).all()):
        raise ValueError(f"ts must be strictly decreasing (noise at ts[0], data at ts[-1]), got {t.tolist()}")
    return t


def _check_x(x_T):
    if not isinstance(x_T, torch.Tensor):
        raise TypeError(f"x_T must be a torch tensor, got {type(x_T).__name__}")
    if not x_T.is_floating_point():
        raise ValueError(f"x_T must be a floating-point tensor, got dtype {x_T.dtype}")


def _check_clip(clip):
    if clip is None:
        return None
    ok = isinstance(clip, (tuple, list)) and len(clip) == 2 and all(
        isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in clip)
    if not (ok and clip[0] < clip[1]):
        raise ValueError(f"clip must be None or a pair (lo, hi) of finite numbers with lo < hi, got {clip!r}")
    return float(clip[0]), float(clip[1])


def _randn_like(x, generator):
    """Standard normal noise like ``x``; drawn on the generator's device, so a CPU generator gives the same
    numbers whether ``x`` lives on the CPU or a GPU (reproducible across devices)."""
    dev = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, device=dev, dtype=x.dtype).to(x.device)


def _x0_hat(denoiser, x, t, clip):
    x0 = denoiser(x, t)
    if not isinstance(x0, torch.Tensor) or x0.shape != x.shape:
        raise ValueError(f"denoiser must return a tensor of x's shape {tuple(x.shape)}, got "
                         f"{tuple(x0.shape) if isinstance(x0, torch.Tensor) else type(x0).__name__}")
    # DDPM clips x0_hat to the data range ([-1, 1] for images) before forming the posterior mean
    return x0.clamp(*clip) if clip is not None else x0


def _alpha_sigma(schedule, t):
    return schedule.alpha(t).item(), schedule.sigma(t).item()


def posterior_coefficients(schedule, t: float, s: float):
    """Coefficients of ``q(x_s | x_t, x0) = N(c_x x_t + c_0 x0, var)`` for ``s < t`` (Kingma et al. 2021, eq. 23-25;
    Ho et al. 2020, eq. 6-7 for DDPM's grid). With ``alpha_{t|s} = alpha_t / alpha_s`` and
    ``sigma_{t|s}^2 = sigma_t^2 - alpha_{t|s}^2 sigma_s^2``:
    ``c_x = alpha_{t|s} sigma_s^2 / sigma_t^2``, ``c_0 = alpha_s sigma_{t|s}^2 / sigma_t^2``,
    ``var_small = sigma_{t|s}^2 sigma_s^2 / sigma_t^2`` (DDPM's beta_tilde) and ``var_large = sigma_{t|s}^2``.
    Returns python floats ``(c_x, c_0, var_small, var_large)``, computed in float64.

    ``sigma_{t|s}^2 / sigma_t^2 = 1 - exp(lambda_t - lambda_s)`` (lambda = logsnr) is evaluated with ``expm1``:
    on a fine grid ``sigma_t^2 - alpha_{t|s}^2 sigma_s^2`` is a difference of nearly equal numbers and would
    lose most of its digits (all of them in float32). At ``sigma_s = 0`` the posterior is the point mass
    ``alpha_s x0``: ``(0, alpha_s, 0, sigma_t^2)``.
    """
    a_t, s_t = _alpha_sigma(schedule, t)
    a_s, s_s = _alpha_sigma(schedule, s)
    if s_t == 0:
        raise ValueError(f"ts: sigma_t = 0 at t = {t} before the last step, so x_t is already noise-free")
    if s_s == 0:
        return 0.0, a_s, 0.0, s_t * s_t
    # lambda_t - lambda_s <= 0 for a decreasing-SNR schedule; -inf (alpha_t = 0, zero terminal SNR) is fine
    dlam = 2.0 * ((math.log(a_t) if a_t > 0 else -math.inf) - math.log(s_t)
                  - (math.log(a_s) if a_s > 0 else -math.inf) + math.log(s_s))
    if math.isnan(dlam):
        raise ValueError(f"ts: alpha vanishes at both t = {t} and s = {s}; the posterior is undefined")
    frac = -math.expm1(dlam)  # sigma_{t|s}^2 / sigma_t^2, in [0, 1]
    if frac < 0:
        raise ValueError(f"schedule: logsnr must decrease in t, but logsnr({t}) > logsnr({s})")
    c_x = (a_t / a_s) * s_s * s_s / (s_t * s_t) if a_s > 0 else 0.0
    return c_x, a_s * frac, s_s * s_s * frac, s_t * s_t * frac


# ----------------------------------------------------------------------------- samplers
def ddpm_ancestral(denoiser, schedule, x_T: torch.Tensor, ts, *, variance: str = "small", generator=None,
                   return_trajectory: bool = False, clip=None):
    """Ancestral sampling (Ho et al. 2020, Alg. 2) on any decreasing grid ``ts``: ``x_s ~ q(x_s | x_t, x0 = D(x_t, t))``.

    Each step draws from the Gaussian posterior of the forward process (``posterior_coefficients``;
    Kingma et al. 2021, eq. 23-25), so the same code serves VP and VE schedules and any number of steps.
    ``variance="small"`` is the posterior variance beta_tilde, ``"large"`` is sigma_{t|s}^2 (DDPM's beta):
    the optimal choices when x0 is deterministic and when x0 ~ N(0, I) (Ho et al. 2020, Sec. 3.2); both
    converge to the true reverse process as the grid is refined. The last step to ``sigma_s = 0``
    (``ts[-1] = 0`` for VP schedules) returns ``alpha_s x0_hat`` (= ``x0_hat``) without noise.
    ``clip=(lo, hi)`` clamps x0_hat (DDPM's clipping to the data range). ``generator`` draws the noise.
    Returns ``x_0``, or ``(x_0, trajectory)`` with the ``len(ts)`` states ``[x_T, ..., x_0]``.
    """
    _check_x(x_T)
    ts = check_ts(ts)
    if variance not in VARIANCES:
        raise ValueError(f"variance must be one of {VARIANCES}, got {variance!r}")
    clip = _check_clip(clip)
    x, traj = x_T, [x_T]
    for t, s in zip(ts[:-1].tolist(), ts[1:].tolist()):
        # coefficients in float64, cast to x's dtype only when applied: in float32, 1 - exp(lambda_t - lambda_s)
        # and sigma_s^2 / sigma_t^2 near t = 0 keep few or no correct digits
        c_x, c_0, var_small, var_large = posterior_coefficients(schedule, t, s)
        x0 = _x0_hat(denoiser, x, t, clip)
        if var_small == 0.0:
            # sigma_s = 0: the posterior collapses onto alpha_s x0_hat (= x0_hat, as alpha = 1 there): no noise
            x = x0 if (c_x, c_0) == (0.0, 1.0) else c_x * x + c_0 * x0
        else:
            std = math.sqrt(var_small if variance == "small" else var_large)
            x = c_x * x + c_0 * x0 + std * _randn_like(x, generator)
        traj.append(x)
    return (x, traj) if return_trajectory else x


# ----------------------------------------------------------------------------- registry
SAMPLERS = {"ddpm": ddpm_ancestral}


def get_sampler(name: str):
    """The sampler registered as ``name`` in ``SAMPLERS``."""
    if name not in SAMPLERS:
        raise ValueError(f"name must be one of {sorted(SAMPLERS)}, got {name!r}")
    return SAMPLERS[name]
