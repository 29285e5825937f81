"""Diffusion as stochastic differential equations: forward SDE, reverse SDE, probability-flow ODE, likelihood.

Offers ``drift_diffusion(schedule, t) -> (f, g^2)`` (the forward SDE ``dx = f x dt + g dW`` whose marginals are
the schedule's ``x_t = alpha_t x0 + sigma_t eps``), the schedule ``SubVP``, ``score_from_denoiser``, the drifts
``reverse_sde_drift`` and ``pf_ode_drift``, the reference solver ``solve_pf_ode`` / ``pf_ode_map`` (scipy's
``solve_ivp``), ``log_likelihood`` (exact or Hutchinson divergence) and ``bits_per_dim``.
Denoisers ``D(x, t) -> E[x0 | x_t = x]`` (DESIGN.md, Sec. 3) are called with ``t`` a python float and run in
``x``'s dtype; coefficients are float64 (``d log alpha/dt`` near t = 1 and ``1/sigma^2`` near t = 0 lose all
digits in float32).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.integrate import solve_ivp

from . import schedules as _s
from .predictions import broadcast_to

__all__ = ["SubVP", "bits_per_dim", "drift_diffusion", "log_likelihood", "pf_ode_drift", "pf_ode_map",
           "reverse_sde_drift", "score_from_denoiser", "solve_pf_ode"]

F64 = torch.float64
DIVERGENCES = ("auto", "exact", "hutchinson")
PROBES = ("rademacher", "gaussian")
EXACT_MAX_DIM = 16  # "auto" uses the exact divergence (one backward pass per dimension) up to this dimension


# ----------------------------------------------------------------------------- sub-VP schedule
@dataclass(frozen=True)
class SubVP(_s.Schedule):
    """Sub-VP SDE (Song et al. 2021, eq. 12): ``dx = -beta/2 x dt + sqrt(beta (1 - e^{-2B(t)})) dW`` with
    ``beta(t) = beta_min + t (beta_max - beta_min)`` and ``B(t) = int_0^t beta``; its perturbation kernel
    (Song et al. 2021, eq. 29) gives ``alpha_t = exp(-B/2)`` and ``sigma_t = 1 - alpha_t^2`` (not VP:
    ``alpha^2 + sigma^2 < 1``). Same ``beta`` as ``VPLinear``, so the same ``alpha``, with less noise."""

    beta_min: float = 0.1
    beta_max: float = 20.0
    _vp = False

    def __post_init__(self):
        _s._check_number("beta_min", self.beta_min, lo=0.0, lo_open=False)
        _s._check_number("beta_max", self.beta_max, lo=self.beta_min)

    def beta(self, t):
        """``beta(t) = beta_min + t (beta_max - beta_min)`` (Song et al. 2021, eq. 12 and Appendix B)."""
        t64, dt = _s._check_t(t)
        return (self.beta_min + t64 * (self.beta_max - self.beta_min)).to(dt)

    def _B(self, t):
        return 0.5 * t * t * (self.beta_max - self.beta_min) + t * self.beta_min

    def _alpha(self, t):
        return torch.exp(-0.5 * self._B(t))

    def _sigma(self, t):
        return -torch.expm1(-self._B(t))  # 1 - alpha^2 without cancellation near t = 0

    def _t_of_logsnr(self, lam):
        # e^{lam/2} = a / (1 - a^2) is a quadratic in a; its root gives B = -2 log a = 2 asinh(e^{-lam/2} / 2)
        # exactly; then the VPLinear root 2B / (b + sqrt(b^2 + 2 d B)) of 0.5 d t^2 + b t = B.
        B = 2.0 * torch.asinh(0.5 * torch.exp(-0.5 * lam))
        b, d = self.beta_min, self.beta_max - self.beta_min
        return 2.0 * B / (b + torch.sqrt(b * b + 2.0 * d * B))


# ----------------------------------------------------------------------------- coefficients
def _coeffs(schedule, t):
    """``(alpha, sigma, d alpha/dt, d sigma^2/dt, f, g^2)`` at a float64 tensor ``t`` (entries may be inf/NaN)."""
    kind = type(schedule)
    if kind in (_s.VPLinear, SubVP):
        d = schedule.beta_max - schedule.beta_min
        B, beta = 0.5 * t * t * d + t * schedule.beta_min, schedule.beta_min + t * d
        a = torch.exp(-0.5 * B)
        f = -0.5 * beta
        if kind is _s.VPLinear:
            s, ds2, g2 = torch.sqrt(-torch.expm1(-B)), beta * a * a, beta
        else:
            s = -torch.expm1(-B)
            ds2, g2 = 2.0 * s * beta * a * a, -beta * torch.expm1(-2.0 * B)
        return a, s, f * a, ds2, f, g2
    if kind is _s.VE:
        s = schedule.sigma(t)
        ds2 = 2.0 * math.log(schedule.sigma_max / schedule.sigma_min) * s * s
        return torch.ones_like(t), s, torch.zeros_like(t), ds2, torch.zeros_like(t), ds2
    if kind is _s.Discrete:
        # log alpha_bar is piecewise linear (piecewise-constant beta): f = T log(1 - beta_i) / 2 on the piece
        # that Discrete itself interpolates on (its own snapping of grid points, so the pieces agree)
        u = t * schedule.T
        r = u.round()
        u = torch.where((u - r).abs() <= 1e-13 * r, r, u)
        i = u.floor().clamp(0, schedule.T - 1).long()
        f = 0.5 * schedule.T * torch.log1p(-schedule.betas.to(t.device)[i])
    elif kind is _s.Sigmoid:
        # alpha^2 = (sig(e) - sig(u)) / Z with u linear in t: f = -w sig(u) sig(-u) / (2 (sig(e) - sig(u))), in logs
        # (autograd would meet the kink of softplus's |x| at u = 0 and return a one-sided derivative)
        w = (schedule.end - schedule.start) / schedule.tau
        u = (t * (schedule.end - schedule.start) + schedule.start) / schedule.tau
        la = _s._log_sig_diff(schedule.end / schedule.tau, u, (1.0 - t) * w)
        f = -0.5 * w * torch.exp(-_s._softplus(-u) - _s._softplus(u) - la)
    if kind in (_s.Discrete, _s.Sigmoid):
        a = schedule.alpha(t)
        da = f * a
    elif kind is _s.ZeroTerminalSNR:
        # alpha' = (alpha - alpha_1) alpha_0 / (alpha_0 - alpha_1): chain rule through the base schedule
        a0, a1 = schedule.base.alpha(0.0).item(), schedule.base.alpha(1.0).item()
        da = _coeffs(schedule.base, t)[2] * (a0 / (a0 - a1))
        a = schedule.alpha(t)
    else:
        # any other schedule: exact derivatives by float64 autograd through its alpha and sigma
        with torch.enable_grad():
            tt = t.detach().clone().requires_grad_(True)
            a = schedule.alpha(tt)
            da = torch.autograd.grad(a.sum(), tt)[0] if a.requires_grad else torch.zeros_like(t)
            if not schedule.is_vp:
                s = schedule.sigma(tt)
                ds2 = torch.autograd.grad((s * s).sum(), tt)[0] if s.requires_grad else torch.zeros_like(t)
                a, s = a.detach(), s.detach()
                f = da / a
                return a, s, da, ds2, f, ds2 - 2.0 * f * s * s
            a = a.detach()
    # VP: sigma^2 = 1 - alpha^2, so d sigma^2/dt = -2 alpha alpha' (no derivative of sigma's square root at
    # t = 0) and g^2 = d sigma^2/dt - 2 f sigma^2 = -2 f (alpha^2 + sigma^2) = -2 f
    f = da / a  # -inf where alpha = 0 (t = 1 of Cosine / zero-terminal-SNR schedules)
    return a, schedule.sigma(t), da, -2.0 * a * da, f, -2.0 * f


def _check_schedule(schedule):
    if not isinstance(schedule, _s.Schedule):
        raise TypeError(f"schedule must be a dl.Schedule, got {type(schedule).__name__}")


def _time(t, name):
    """A single time (python number or 0-d tensor) in [0, 1] as a python float."""
    single = isinstance(t, torch.Tensor) and t.numel() == 1 or isinstance(t, (int, float)) and not isinstance(t, bool)
    if not single:
        raise ValueError(f"{name} must be a single time (a float or a 0-d tensor) in [0, 1], got {t!r}")
    return float(_s._check_t(float(t), name)[0])


def _scalar_coeffs(schedule, t):
    _check_schedule(schedule)
    return tuple(c.item() for c in _coeffs(schedule, torch.tensor(t, dtype=F64)))


def drift_diffusion(schedule, t):
    """Drift and squared diffusion ``(f(t), g(t)^2)`` of the forward SDE ``dx = f x dt + g dW`` whose marginals
    are exactly ``x_t = alpha_t x0 + sigma_t eps`` (Song et al. 2021, eq. 5 and App. B; Kingma et al. 2021, eq. 33ff):
    ``f = d log alpha_t/dt``, ``g^2 = d sigma_t^2/dt - 2 f sigma_t^2`` (``= -2 f`` for VP schedules).

    Closed forms for ``VPLinear`` (``f = -beta/2``, ``g^2 = beta``), ``SubVP`` (``g^2 = beta (1 - e^{-2B})``, Song et
    al. 2021, eq. 12), ``VE``, ``Sigmoid``, ``Discrete`` (piecewise-constant beta, right-continuous at grid points) and
    ``ZeroTerminalSNR``; float64 autograd of ``schedule.alpha`` / ``sigma`` otherwise. ``t``: float or tensor in
    [0, 1]; returns float64 tensors of ``t``'s shape. ValueError where not finite: ``alpha_t = 0`` (Cosine,
    zero-terminal-SNR, Sigmoid at t = 1) gives ``f = -inf`` (``pf_ode_drift`` stays finite there).
    """
    _check_schedule(schedule)
    t64 = _s._check_t(t)[0]
    _, _, _, _, f, g2 = _coeffs(schedule, t64)
    bad = ~(torch.isfinite(f) & torch.isfinite(g2))
    if bool(bad.any()):
        where = t64[bad].tolist() if t64.dim() else t64.item()
        raise ValueError(f"t: the forward SDE coefficients of {schedule!r} are not finite at t = {where} "
                         "(alpha_t = 0 gives f = d log alpha/dt = -inf, or alpha is not differentiable there)")
    return f, g2


# ----------------------------------------------------------------------------- score and drifts
def _denoise(denoiser, x, t):
    x0 = denoiser(x, t)
    if not isinstance(x0, torch.Tensor) or x0.shape != x.shape:
        raise ValueError(f"denoiser must return a tensor of x's shape {tuple(x.shape)}, got "
                         f"{tuple(x0.shape) if isinstance(x0, torch.Tensor) else type(x0).__name__}")
    return x0


def _check_x(x, name="x"):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(x).__name__}")
    if not x.is_floating_point() or x.dim() < 1 or x.numel() == 0:
        raise ValueError(f"{name} must be a non-empty floating-point tensor (batch, ...), got {x.dtype} "
                         f"of shape {tuple(x.shape)}")


def score_from_denoiser(denoiser, schedule):
    """The score ``grad log p_t(x) = (alpha_t D(x, t) - x) / sigma_t^2`` of a denoiser (Tweedie's formula; Efron
    2011; Karras et al. 2022, eq. 3), as a callable ``score(x, t)``; ``t`` a float or one time per sample.
    Coefficients in float64, result in ``x``'s dtype; ValueError at ``sigma_t = 0`` (no score there)."""
    _check_schedule(schedule)

    def score(x, t):
        t64 = _s._check_t(t)[0]
        a, s = schedule.alpha(t64), schedule.sigma(t64)
        if bool((s == 0).any()):
            raise ValueError(f"t: sigma_t = 0 at t = {t}, where the score is undefined")
        s2 = s * s
        return broadcast_to(a / s2, x) * _denoise(denoiser, x, t) - broadcast_to(1.0 / s2, x) * x

    return score


def _pf_coeffs(schedule, t):
    """``(c_x, c_D, dt/du)`` with PF drift ``c_x x + c_D D`` and ``u = log(sigma / alpha) = -logsnr / 2``."""
    a, s, da, ds2, _, _ = _scalar_coeffs(schedule, t)
    if s == 0:
        raise ValueError(f"t: sigma_t = 0 at t = {t}, where the score (and so the drift) is undefined; "
                         "stop at a small t > 0 (solve_pf_ode does this)")
    if not (math.isfinite(da) and math.isfinite(ds2)):
        raise ValueError(f"t: d alpha/dt or d sigma^2/dt of {schedule!r} is not finite at t = {t}")
    cx = 0.5 * ds2 / (s * s)
    den = a * ds2 - 2.0 * s * s * da  # du/dt = ds2 / (2 s^2) - da / a = den / (2 a s^2)
    return cx, da - a * cx, (2.0 * a * s * s / den) if den != 0 else math.inf


def pf_ode_drift(denoiser, schedule, x: torch.Tensor, t: float) -> torch.Tensor:
    """Probability-flow ODE drift ``dx/dt = f x - g^2/2 grad log p_t(x)`` (Song et al. 2021, eq. 13), with the
    score from the denoiser: ``= alpha' D + (sigma^2)' / (2 sigma^2) (x - alpha D)`` (Karras et al. 2022, eq. 4
    in the unscaled variable), finite at ``alpha_t = 0``. ``t``: one time for the batch; ValueError at
    ``sigma_t = 0``. Coefficients in float64, result in ``x``'s dtype."""
    _check_x(x)
    t = _time(t, "t")
    cx, cd, _ = _pf_coeffs(schedule, t)
    return cx * x + cd * _denoise(denoiser, x, t)


def reverse_sde_drift(denoiser, schedule, x: torch.Tensor, t: float) -> torch.Tensor:
    """Drift of the reverse-time SDE ``dx = [f x - g^2 grad log p_t(x)] dt + g dW_bar`` (Anderson 1982; Song et
    al. 2021, eq. 6), run from t = 1 to 0, with the score ``(alpha D - x) / sigma^2`` from the denoiser.
    ``t``: one time for the batch; ValueError where ``sigma_t = 0`` or ``f, g^2`` are not finite."""
    _check_x(x)
    t = _time(t, "t")
    a, s, _, _, f, g2 = _scalar_coeffs(schedule, t)
    if s == 0 or not (math.isfinite(f) and math.isfinite(g2)):
        raise ValueError(f"t: the reverse SDE drift is undefined at t = {t} (sigma_t = {s}, f = {f}, g^2 = {g2})")
    return (f + g2 / (s * s)) * x - (g2 * a / (s * s)) * _denoise(denoiser, x, t)


# ----------------------------------------------------------------------------- ODE solves
def _lam(schedule, t):
    """Unclipped logsnr at a float t: +inf where sigma = 0, -inf where alpha = 0."""
    a, s = schedule.alpha(t).item(), schedule.sigma(t).item()
    return math.inf if s == 0 else -math.inf if a == 0 else 2.0 * (math.log(a) - math.log(s))


def _t_of(schedule, lam):
    return schedule.t_of_logsnr(torch.tensor(lam, dtype=F64)).item()


def _pieces(schedule, t0, t1):
    """``[t0 -> t1]`` cut where logsnr crosses +-30 into ``(a, b, region)``: "u" (solved in ``u = -logsnr/2``),
    "t" (logsnr < LOGSNR_MIN: alpha ~ 0, solved in t) or "H" (logsnr > LOGSNR_MAX: sigma ~ 0)."""
    edges = (_t_of(schedule, _s.LOGSNR_MAX), _t_of(schedule, _s.LOGSNR_MIN))
    cuts = [t0, *sorted((e for e in edges if min(t0, t1) < e < max(t0, t1)), reverse=t1 < t0), t1]
    out = []
    for a, b in itertools.pairwise(cuts):
        lam = _lam(schedule, 0.5 * (a + b))
        out.append((a, b, "H" if lam > _s.LOGSNR_MAX else "t" if lam < _s.LOGSNR_MIN else "u"))
    return out


def _solve(field, y0, schedule, a, b, region, rtol, atol, method):
    """Integrate ``field(t, y) -> (dy/dt, dt/du)`` from t = a to b with ``solve_ivp``, in u on a "u" piece: in t the
    drift's rounding error grows as eps |x| / sigma^2 near t = 0 and ruins a 1e-10 solve, in u it stays O(eps); and
    in u the flow is the same for every schedule (DDPM tables lose their kinks at grid points)."""
    if region == "t":
        fun, span = (lambda t, y: field(t, y)[0]), (a, b)
    else:
        def fun(u, y):
            dy, dtdu = field(_t_of(schedule, -2.0 * u), y)
            return dy * dtdu
        span = (-0.5 * _lam(schedule, a), -0.5 * _lam(schedule, b))
    sol = solve_ivp(fun, span, y0, method=method, rtol=rtol, atol=atol, t_eval=[span[1]])
    if not sol.success:
        raise RuntimeError(f"solve_ivp ({method}) failed from t = {a} to {b}: {sol.message}")
    return sol.y[:, -1]


def _to_np(x):
    return x.detach().to("cpu", F64).reshape(-1).numpy()


def solve_pf_ode(denoiser, schedule, x: torch.Tensor, t_start: float, t_end: float, *, rtol: float = 1e-10,
                 atol: float = 1e-10, method: str = "DOP853") -> torch.Tensor:
    """Reference solution of the probability-flow ODE ``dx/dt = f x - g^2/2 grad log p_t`` (Song et al. 2021, eq. 13)
    from ``t_start`` to ``t_end`` (either way) by scipy's ``solve_ivp`` (DOP853: Dormand-Prince 8(5,3), Hairer et al.
    1993) on the flattened batch in float64, in ``u = log(sigma/alpha) = -logsnr/2`` (see ``_solve``) and in t where
    ``logsnr < LOGSNR_MIN`` (alpha ~ 0: Cosine's t = 1 is fine). Where ``logsnr > LOGSNR_MAX = 30`` (t = 0 of VP
    schedules: the score term is 0/0) ``x / alpha`` is constant up to ``O(sigma^2 |grad log p|) ~ 1e-13``: ending
    there returns ``alpha_{t_end} D(x_{t_s}, t_s)``, ``t_s = t_of_logsnr(30)`` (exact in the limit, also for
    empirical data); starting there starts at ``t_s`` from ``alpha_{t_s} x / alpha_{t_start}``. The denoiser sees
    ``x``'s dtype: float64 for reference accuracy (float32 needs ``rtol, atol >= 1e-5``). Returns ``x``'s shape,
    dtype and device. Schedules without a closed-form ``t_of_logsnr`` (Sigmoid, ZeroTerminalSNR: bisection) are
    ~20x slower.
    """
    _check_x(x)
    _check_schedule(schedule)
    t0, t1 = _time(t_start, "t_start"), _time(t_end, "t_end")
    _s._check_number("rtol", rtol, lo=0.0)
    _s._check_number("atol", atol, lo=0.0)
    shape, dtype, dev = x.shape, x.dtype, x.device

    def field(t, y):
        xt = torch.from_numpy(y).reshape(shape).to(device=dev, dtype=dtype)
        cx, cd, dtdu = _pf_coeffs(schedule, t)
        with torch.no_grad():
            return _to_np(cx * xt + cd * _denoise(denoiser, xt, t)), dtdu

    out = x.clone()
    for a, b, region in (_pieces(schedule, t0, t1) if t0 != t1 else []):
        if region == "H" and b < a:  # the last piece, towards sigma = 0: the denoiser's limit
            with torch.no_grad():
                out = schedule.alpha(b).item() * _denoise(denoiser, out, a)
        elif region == "H":  # the first piece, away from sigma = 0: x / alpha is constant there
            out = (schedule.alpha(b).item() / schedule.alpha(a).item()) * out
        else:
            y = _solve(field, _to_np(out), schedule, a, b, region, rtol, atol, method)
            out = torch.from_numpy(y).reshape(shape).to(device=dev, dtype=dtype)
    return out


def pf_ode_map(denoiser, schedule, x_T: torch.Tensor, t_max: float = 1.0, t_min: float = 0.0, **kw) -> torch.Tensor:
    """The deterministic noise-to-data map of the probability-flow ODE (Song et al. 2021, eq. 13):
    ``solve_pf_ode(denoiser, schedule, x_T, t_max, t_min, **kw)``."""
    return solve_pf_ode(denoiser, schedule, x_T, t_max, t_min, **kw)


# ----------------------------------------------------------------------------- likelihood
def _probes(kind, k, x, generator):
    # drawn on the generator's device, so a CPU generator gives the same probes for x on any device
    kw = {"generator": generator, "device": generator.device if generator is not None else x.device}
    u = torch.randn((k, *x.shape), **kw) if kind == "gaussian" else torch.randint(0, 2, (k, *x.shape), **kw) * 2 - 1
    return u.to(x)


def _divergence(v, x, vectors, weight):
    """``weight * sum_u u . (dv/dx)^T u`` per sample, one backward pass per vector (rows are independent)."""
    n, div = x.shape[0], 0.0
    for k, u in enumerate(vectors):
        g = torch.autograd.grad(v, x, u, retain_graph=k < len(vectors) - 1)[0]
        div = div + (g * u).reshape(n, -1).sum(1).to(F64)
    return weight * div


def log_likelihood(denoiser, schedule, x0: torch.Tensor, *, t_min: float = 1e-5, t_max: float = 1.0,
                   divergence: str = "auto", n_probes: int = 4, probe: str = "rademacher", generator=None,
                   rtol: float = 1e-6, atol: float = 1e-6, method: str = "RK45", prior=None) -> torch.Tensor:
    """``log p_{t_min}(x0)`` per sample (nats, float64, shape ``(batch,)``) by the probability-flow ODE and the
    instantaneous change of variables (Chen et al. 2018, Thm. 1; Song et al. 2021, App. D.2):
    ``log p_{t_min}(x(t_min)) = log p_prior(x(t_max)) + int_{t_min}^{t_max} div_x v(x(t), t) dt``, ``v = pf_ode_drift``,
    one augmented ODE ``[x, delta]`` solved by ``solve_ivp`` (in u, as ``solve_pf_ode``).

    ``divergence``: "exact" (autograd, one backward pass per dimension), "hutchinson" (``u^T (dv/dx) u`` averaged
    over ``n_probes`` Rademacher or Gaussian ``probe`` vectors drawn once from ``generator`` and kept for the whole
    solve, as FFJORD, Grathwohl et al. 2019: unbiased) or "auto" (exact up to 16 dimensions). The denoiser is
    differentiated (under ``torch.enable_grad``) in ``x0``'s dtype. ``prior``: callable ``log p(x_T) -> (batch,)``;
    default ``N(0, (alpha_T^2 + sigma_T^2) I)``, the exact marginal of white data (zero mean, unit variance), else
    off by ``O(alpha_T^2)`` (``alpha_1^2 = 4.5e-5`` for VPLinear; VE at sigma_max = 50: ``O(Var / 2500)``).
    ``t_min`` needs logsnr <= 30 (Song et al. use 1e-5); ``log p_{t_min} -> log p_0`` as ``t_min -> 0``.
    """
    _check_x(x0, "x0")
    _check_schedule(schedule)
    for name, value, allowed in (("divergence", divergence, DIVERGENCES), ("probe", probe, PROBES)):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    _s._check_int("n_probes", n_probes)
    lo, hi = _time(t_min, "t_min"), _time(t_max, "t_max")
    if not lo < hi:
        raise ValueError(f"t_min must be < t_max, got t_min={lo}, t_max={hi}")
    if not _lam(schedule, lo) <= _s.LOGSNR_MAX:
        raise ValueError(f"t_min: logsnr(t_min = {lo}) > {_s.LOGSNR_MAX} (sigma_t ~ 0, no usable score there); "
                         "use a larger t_min (e.g. 1e-5)")
    _s._check_number("rtol", rtol, lo=0.0)
    _s._check_number("atol", atol, lo=0.0)
    if prior is not None and not callable(prior):
        raise TypeError(f"prior must be None or a callable log-density, got {type(prior).__name__}")
    if not bool(torch.isfinite(x0).all()):
        raise ValueError("x0 must be finite (no NaN or inf)")
    n, dim, m = x0.shape[0], x0[0].numel(), x0.numel()
    if divergence == "exact" or (divergence == "auto" and dim <= EXACT_MAX_DIM):
        eye = torch.eye(dim, dtype=x0.dtype, device=x0.device)  # e_j . J^T e_j = J_jj: the trace, exactly
        vectors, weight = [eye[j].expand(n, dim).reshape(x0.shape) for j in range(dim)], 1.0
    else:
        vectors, weight = list(_probes(probe, n_probes, x0, generator)), 1.0 / n_probes

    def field(t, y):
        cx, cd, dtdu = _pf_coeffs(schedule, t)
        with torch.enable_grad():
            x = torch.from_numpy(y[:m]).reshape(x0.shape).to(x0).requires_grad_(True)
            D = _denoise(denoiser, x, t)
            if not D.requires_grad:
                raise ValueError("denoiser: its output must be differentiable in x (no torch.no_grad or detach "
                                 "inside) for the divergence")
            v = cx * x + cd * D
            div = _divergence(v, x, vectors, weight)
        return np.concatenate([_to_np(v), _to_np(div)]), dtdu

    y = np.concatenate([_to_np(x0), np.zeros(n)])
    for a, b, region in _pieces(schedule, lo, hi):
        y = _solve(field, y, schedule, a, b, region, rtol, atol, method)
    xT, delta = torch.from_numpy(y[:m]).reshape(x0.shape), torch.from_numpy(y[m:])
    if prior is None:
        var = schedule.alpha(hi).item() ** 2 + schedule.sigma(hi).item() ** 2
        logp = -0.5 * (dim * math.log(2 * math.pi * var) + (xT.reshape(n, -1) ** 2).sum(1) / var)
    else:
        logp = torch.as_tensor(prior(xT.to(x0.device)), dtype=F64).reshape(-1).cpu()
        if logp.shape != (n,):
            raise ValueError(f"prior must return one log-density per sample (shape ({n},)), got {tuple(logp.shape)}")
    return (logp + delta).to(x0.device)


def bits_per_dim(nll_nats, dim: int, *, bin_width: float):
    """Bits per dimension of discrete data from a continuous model's NLL in nats: a uniformly dequantised model
    bounds the probability of each bin, ``-log P(bin) <= E_u[-log p(x + u)] - dim log(bin_width)`` (Theis et al.
    2016, Sec. 3.1; reported as bits/dim by Ho et al. 2020, Sec. 4.2), so
    ``bits/dim = (nll_nats - dim log(bin_width)) / (dim ln 2)``.

    ``bin_width``: 2/256 for 8-bit images scaled to [-1, 1]; 1/8 for ``dl.digits`` (levels 0..16 mapped by
    ``x / 8 - 1``). A uniform density on [-1, 1]^d (``nll = d log 2``) with ``bin_width = 2/256`` gives 8.
    ``nll_nats``: float or tensor (per sample); returns the same kind.
    """
    _s._check_int("dim", dim)
    _s._check_number("bin_width", bin_width, lo=0.0)
    if isinstance(nll_nats, bool) or not isinstance(nll_nats, (int, float, torch.Tensor)):
        raise TypeError(f"nll_nats must be a float or a tensor, got {type(nll_nats).__name__}")
    return (nll_nats - dim * math.log(bin_width)) / (dim * math.log(2.0))
