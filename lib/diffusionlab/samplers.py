"""Samplers: pure functions that turn noise ``x_T`` into data with a denoiser ``D(x, t) -> x0_hat``.

The stochastic family lives here: ``ddpm_ancestral`` (Ho et al. 2020, Alg. 2), ``ddim`` with ``eta``
(Song, Meng & Ermon 2021), ``euler_maruyama`` on the reverse SDE and ``predictor_corrector`` with a
Langevin corrector (Song et al. 2021); the ODE family (``euler``, ``heun``, ``dpmpp_2m``, ``dpmpp_3m``)
lives in ``dl.solvers``. Also offers the registry ``SAMPLERS`` / ``get_sampler(name)``, ``nfe(name, steps)``
(denoiser calls per run), ``sample(name, ..., nfe=)`` (grid + sampler for an NFE budget), and the shared
helpers ``check_ts(ts)`` and ``posterior_coefficients(schedule, t, s)`` (the Gaussian posterior q(x_s | x_t, x0)).
Every sampler has the signature
``sample_X(denoiser, schedule, x_T, ts, *, generator=None, return_trajectory=False, ...) -> x_0``
(DESIGN.md, Sec. 3): ``ts`` is a decreasing grid of times in [0, 1] such as ``dl.timesteps(schedule, n)``,
and the denoiser is called as ``denoiser(x, t)`` with ``t`` a python float (one time for the whole batch),
which every denoiser in the library accepts (``dl.predictions.denoiser``, ``GaussianMixture.as_denoiser``,
``EmpiricalDistribution.as_denoiser``).
"""
from __future__ import annotations

import math
from itertools import pairwise

import torch

from .schedules import timesteps
from .sde import drift_diffusion

__all__ = ["SAMPLERS", "check_ts", "ddim", "ddpm_ancestral", "euler_maruyama", "get_sampler", "nfe",
           "posterior_coefficients", "predictor_corrector", "sample"]

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


def _check_real(name, value, lo=0.0, hi=math.inf, hi_ok=False):
    """Raise ValueError naming ``name`` unless ``value`` is a real number in [lo, hi) ([lo, hi] if hi_ok)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    if not (ok and lo <= value and (value <= hi if hi_ok else value < hi)):
        raise ValueError(f"{name} must be a number in [{lo}, {hi}{']' if hi_ok else ')'}, got {value!r}")
    return float(value)


def _check_int(name, value, lo):
    if not isinstance(value, int) or isinstance(value, bool) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    return value


def _grid(schedule, ts: torch.Tensor):
    """alpha and sigma at every time of the checked grid ``ts`` as lists of python floats (float64), from one
    vectorised call each (a scalar schedule call costs tens of microseconds, more than a small batch's step);
    ValueError if sigma = 0 before the last time (x_t would already be noise-free)."""
    al, sg = schedule.alpha(ts).tolist(), schedule.sigma(ts).tolist()
    for t, s in zip(ts[:-1].tolist(), sg[:-1]):
        if s == 0.0:
            raise ValueError(f"ts: sigma_t = 0 at t = {t} before the last step, so x_t is already noise-free")
    return al, sg


def ddim(denoiser, schedule, x_T: torch.Tensor, ts, *, eta: float = 0.0, generator=None,
         return_trajectory: bool = False, clip=None):
    """DDIM (Song, Meng & Ermon 2021, eq. 12, with eq. 16 for the noise) on any decreasing grid ``ts``.

    In their notation ``alpha_t`` is DDPM's ``alpha_bar_t``, i.e. our ``alpha_t^2``. In ours, one step t -> s is
    ``x0 = D(x_t, t)``, ``eps = (x_t - alpha_t x0) / sigma_t``,
    ``x_s = alpha_s x0 + sqrt(sigma_s^2 - sigma_eta^2) eps + sigma_eta z`` with ``sigma_eta^2 = eta^2 var_small``
    and ``var_small = sigma_s^2 (1 - alpha_t^2 sigma_s^2 / (alpha_s^2 sigma_t^2))``, the posterior variance of
    ``posterior_coefficients`` (their eq. 16). ``eta = 0`` is the deterministic DDIM (= ``dl.euler`` on the
    probability-flow ODE); ``eta = 1`` is exactly DDPM's ancestral step with the small variance: mean and
    variance of x_s equal those of ``q(x_s | x_t, x0)``. ``eta`` must lie in [0, 1]: above 1, ``sigma_eta``
    exceeds ``sigma_s`` on coarse steps and the square root has no real value. Nothing divides by alpha_t,
    so a grid may start at alpha = 0 (zero terminal SNR). The last step to ``sigma_s = 0`` returns
    ``alpha_s x0_hat`` (= ``x0_hat``). ``clip=(lo, hi)`` clamps x0_hat; eps is then recomputed from the clamped
    x0_hat so that ``x_t = alpha_t x0 + sigma_t eps`` still holds. Returns ``x_0`` or ``(x_0, trajectory)``.
    """
    _check_x(x_T)
    ts = check_ts(ts)
    eta = _check_real("eta", eta, 0.0, 1.0, hi_ok=True)
    clip = _check_clip(clip)
    al, sg = _grid(schedule, ts)
    x, traj = x_T, [x_T]
    for i, (t, s) in enumerate(pairwise(ts.tolist())):
        (a_t, s_t), (a_s, s_s) = (al[i], sg[i]), (al[i + 1], sg[i + 1])
        x0 = _x0_hat(denoiser, x, t, clip)
        if s_s == 0.0:
            x = x0 if a_s == 1.0 else a_s * x0
        elif eta == 0.0:
            x = a_s * x0 + s_s * ((x - a_t * x0) / s_t)
        else:
            _, _, var_small, _ = posterior_coefficients(schedule, t, s)  # also checks that logsnr decreases
            # sigma_s^2 - sigma_eta^2 = sigma_s^2 (r + (1 - eta^2) frac) with r = e^{lambda_t - lambda_s} and
            # frac = 1 - r: both terms >= 0, no cancellation even when r ~ 0 (coarse steps, alpha_t ~ 0)
            frac, r = var_small / (s_s * s_s), (a_t * s_s / (a_s * s_t)) ** 2
            c_eps = s_s * math.sqrt(r + (1.0 - eta * eta) * frac)
            x = a_s * x0 + c_eps * ((x - a_t * x0) / s_t) + eta * math.sqrt(var_small) * _randn_like(x, generator)
        traj.append(x)
    return (x, traj) if return_trajectory else x


def _em_step(denoiser, schedule, x, t, s, a_t, s_t, a_s, s_s, generator):
    """One Euler-Maruyama step t -> s of the reverse SDE (see ``euler_maruyama``)."""
    x0 = _x0_hat(denoiser, x, t, None)
    if s_s == 0.0:
        return x0 if a_s == 1.0 else a_s * x0
    try:
        f, g2 = (c.item() for c in drift_diffusion(schedule, t))  # dl.sde: f = dlog(alpha)/dt, g^2 = -2 f for VP
    except ValueError as err:  # alpha_t = 0: f = -inf
        raise ValueError(f"ts: the reverse SDE is singular at t = {t} ({err}); start the grid at t_max < 1 or use "
                         "a schedule with alpha(1) > 0") from None
    score = (a_t * x0 - x) / (s_t * s_t)  # Tweedie: grad log p_t = (alpha_t D - x) / sigma_t^2
    dt = t - s
    return x - dt * (f * x - g2 * score) + math.sqrt(g2 * dt) * _randn_like(x, generator)


def euler_maruyama(denoiser, schedule, x_T: torch.Tensor, ts, *, generator=None, return_trajectory: bool = False):
    """Euler-Maruyama on the reverse-time SDE ``dx = [f x - g^2 score(x, t)] dt + g dW_bar`` (Anderson 1982;
    Song et al. 2021, eq. 6), integrated from ``ts[0]`` down to ``ts[-1]``: with ``dt = t - s > 0``,
    ``x_s = x_t - dt (f x_t - g^2 score) + g sqrt(dt) z``, where ``score = (alpha_t D(x_t, t) - x_t) / sigma_t^2``
    (Tweedie) and ``f = d log(alpha)/dt``, ``g^2 = d(sigma^2)/dt - 2 f sigma^2`` come from the schedule through
    ``dl.sde.drift_diffusion`` (``-beta/2`` and ``beta`` for the VP SDE), evaluated at the start t of each step. First order in distribution (weak order 1). The last step to
    ``sigma_s = 0`` returns the denoiser output ``alpha_s D(x_t, t)`` (= ``D``) without noise, as in Song et al.'s
    final denoising step: the score, hence the drift, is infinite at sigma = 0. ValueError on a grid
    through alpha = 0 (zero terminal SNR, where f is infinite). Returns ``x_0`` or ``(x_0, trajectory)``.
    """
    _check_x(x_T)
    ts = check_ts(ts)
    al, sg = _grid(schedule, ts)
    x, traj = x_T, [x_T]
    for i, (t, s) in enumerate(pairwise(ts.tolist())):
        x = _em_step(denoiser, schedule, x, t, s, al[i], sg[i], al[i + 1], sg[i + 1], generator)
        traj.append(x)
    return (x, traj) if return_trajectory else x


PREDICTORS = ("ancestral", "euler_maruyama")


def _per_sample_norm(v):
    return v.reshape(v.shape[0], -1).norm(dim=1).reshape(-1, *([1] * (v.dim() - 1)))


def predictor_corrector(denoiser, schedule, x_T: torch.Tensor, ts, *, predictor: str = "ancestral",
                        corrector_steps: int = 1, snr: float = 0.16, per_sample: bool = False, generator=None,
                        return_trajectory: bool = False):
    """Predictor-corrector sampling (Song et al. 2021, Alg. 1; App. G, Alg. 2-5): after each predictor step
    t -> s (``"ancestral"``: ``ddpm_ancestral``'s posterior step; ``"euler_maruyama"``: one step of
    ``euler_maruyama``), ``corrector_steps`` Langevin steps at the new time s (if ``sigma_s > 0``):
    ``x <- x + e score(x, s) + sqrt(2 e) z``, ``score = (alpha_s D(x, s) - x) / sigma_s^2``, with the step size
    of their Alg. 4-5, ``e = 2 a (snr ||z|| / ||score||)^2`` (e = 0 where the score is exactly 0). Their ``a`` is
    1 for the VE SDE and DDPM's ``alpha_i = 1 - beta_i`` of a 1000-step table (>= 0.98) for the VP SDE; here
    ``a = 1`` for every schedule (no table needed; at most 2% from theirs). The norms are over all dims but
    the first, averaged over the batch as in Song et al.'s code (``per_sample=False``), or per sample
    (``per_sample=True``, their Alg. 4-5 read literally). Per sample is only safe in high dimension: in 2-D
    the ratio ``(||z|| / ||score||)^2`` is heavy-tailed (about F(2, 2): infinite mean) and single samples take
    huge steps and diverge. The corrector pulls x towards p_s; it does not reduce the predictor's
    discretisation error. Denoiser calls: ``steps * (1 + corrector_steps)``, less ``corrector_steps`` when the
    grid ends at sigma = 0 (no corrector there). Returns ``x_0`` or ``(x_0, trajectory)`` (states after correction).
    """
    _check_x(x_T)
    if x_T.dim() == 0:
        raise ValueError("x_T must have a batch dimension (the corrector's norms are per sample), got a 0-d tensor")
    ts = check_ts(ts)
    if predictor not in PREDICTORS:
        raise ValueError(f"predictor must be one of {PREDICTORS}, got {predictor!r}")
    corrector_steps = _check_int("corrector_steps", corrector_steps, 0)
    snr = _check_real("snr", snr)
    if not isinstance(per_sample, bool):
        raise TypeError(f"per_sample must be a bool, got {type(per_sample).__name__}")
    al, sg = _grid(schedule, ts)
    x, traj = x_T, [x_T]
    for i, (t, s) in enumerate(pairwise(ts.tolist())):
        a_s, s_s = al[i + 1], sg[i + 1]
        if predictor == "ancestral":
            x = ddpm_ancestral(denoiser, schedule, x, ts[i:i + 2], generator=generator)
        else:
            x = _em_step(denoiser, schedule, x, t, s, al[i], sg[i], a_s, s_s, generator)
        for _ in range(corrector_steps if s_s > 0 else 0):
            score = (a_s * _x0_hat(denoiser, x, s, None) - x) / (s_s * s_s)
            z = _randn_like(x, generator)
            gn, zn = _per_sample_norm(score), _per_sample_norm(z)
            if not per_sample:
                gn, zn = gn.mean(), zn.mean()
            e = torch.where(gn > 0, 2.0 * (snr * zn / gn.clamp_min(torch.finfo(gn.dtype).tiny)) ** 2, 0.0)
            x = x + e * score + torch.sqrt(2.0 * e) * z
        traj.append(x)
    return (x, traj) if return_trajectory else x


# ----------------------------------------------------------------------------- registry
# the ODE samplers import this module's helpers, so they are imported here, after those are defined
from .solvers import dpmpp_2m, dpmpp_3m, euler, heun

SAMPLERS = {"ddpm": ddpm_ancestral, "ddim": ddim, "euler_maruyama": euler_maruyama, "pc": predictor_corrector,
            "euler": euler, "heun": heun, "dpmpp_2m": dpmpp_2m, "dpmpp_3m": dpmpp_3m}


def get_sampler(name: str):
    """The sampler registered as ``name`` in ``SAMPLERS``."""
    if name not in SAMPLERS:
        raise ValueError(f"name must be one of {sorted(SAMPLERS)}, got {name!r}")
    return SAMPLERS[name]


def _cost(name, steps, final_sigma_zero, kwargs):
    get_sampler(name)
    steps = _check_int("steps", steps, 1)
    if name == "heun":
        return 2 * steps - (1 if final_sigma_zero else 0)
    if name == "pc":
        c = _check_int("corrector_steps", kwargs.get("corrector_steps", 1), 0)
        return steps + c * (steps - (1 if final_sigma_zero else 0))
    return steps


def nfe(name: str, steps: int, *, final_sigma_zero: bool = True, **kwargs) -> int:
    """Number of denoiser calls the sampler ``name`` makes on a grid of ``steps`` intervals (``len(ts) - 1``).

    One per step for every sampler except ``"heun"`` (two per step, one on the last step when it ends at
    sigma = 0, Karras et al. 2022, Alg. 2) and ``"pc"`` (``1 + corrector_steps`` per step, no corrector at
    sigma = 0). ``final_sigma_zero``: whether the grid ends where sigma = 0 (t = 0 of a VP schedule).
    Other ``kwargs`` are the sampler's own keyword arguments (only ``corrector_steps`` matters)."""
    return _cost(name, steps, final_sigma_zero, kwargs)


def sample(name: str, denoiser, schedule, x_T: torch.Tensor, *, nfe: int, spacing: str = "uniform",
           t_max: float = 1.0, t_min: float = 0.0, rho: float = 7.0, generator=None, **kwargs):
    """Run the sampler ``name`` with at most ``nfe`` denoiser calls: the largest number of steps whose cost
    (``dl.nfe``) fits the budget, on the grid ``dl.timesteps(schedule, steps, spacing, t_min, t_max, rho)``
    (decreasing from ``t_max`` to ``t_min``). ``kwargs`` go to the sampler (``eta``, ``churn``, ...). ValueError
    naming ``nfe`` if it is not an integer >= 1 or below one step's cost (2 for heun or pc ending at sigma > 0)."""
    sampler = get_sampler(name)
    if not isinstance(nfe, int) or isinstance(nfe, bool) or nfe < 1:
        raise ValueError(f"nfe must be an integer >= 1, got {nfe!r}")
    zero = float(schedule.sigma(float(t_min))) == 0.0
    if _cost(name, 1, zero, kwargs) > nfe:
        raise ValueError(f"nfe must be >= {_cost(name, 1, zero, kwargs)} for sampler {name!r} (one step), got {nfe}")
    steps = 1
    while _cost(name, steps + 1, zero, kwargs) <= nfe:
        steps += 1
    ts = timesteps(schedule, steps, spacing=spacing, t_min=t_min, t_max=t_max, rho=rho)
    return sampler(denoiser, schedule, x_T, ts, generator=generator, **kwargs)
