"""Noise schedules as objects that evaluate at any continuous time ``t in [0, 1]``.

Offers the base class ``Schedule`` (``alpha``, ``sigma``, ``logsnr``, ``t_of_logsnr``, ``snr``,
``sigma_edm``, ``is_vp``), the schedules ``VPLinear``, ``Cosine``, ``Sigmoid``, ``VE``, ``EDM``,
``Discrete`` (DDPM tables: ``linear``, ``scaled_linear``, ``squared_cosine``) and ``ZeroTerminalSNR``,
time grids ``timesteps(...)``, and the registry ``SCHEDULES`` / ``get_schedule(name, **kw)``.

Conventions (DESIGN.md): data at t = 0, noise at t = 1, ``x_t = alpha_t x_0 + sigma_t eps``,
``logsnr(t) = log(alpha_t^2 / sigma_t^2)``, ``sigma_edm(t) = sigma_t / alpha_t``, DDPM's
``alpha_bar_t = alpha_t^2``; a discrete step ``i in {1..T}`` is ``t = i / T``.
Every method takes a python float or a tensor ``t`` and returns a tensor on ``t``'s device:
float64 for python numbers, the input's dtype for floating tensors. Internally everything is float64,
because ``1 - alpha^2`` near t = 0 and ``log`` of tiny ``alpha`` near t = 1 lose all digits in float32.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "EDM", "LOGSNR_MAX", "LOGSNR_MIN", "SCHEDULES", "VE", "Cosine", "Discrete", "Schedule", "Sigmoid",
    "VPLinear", "ZeroTerminalSNR", "get_schedule", "rescale_zero_terminal_snr", "timesteps",
]

# logsnr is clipped to this range so that t = 0 and t = 1 give finite values for every schedule.
# Beyond SNR = e^{+-30} ~ 1e{+-13}, alpha and sigma are indistinguishable from 0 and 1 in float32
# (eps ~ 1e-7 on the *square roots*), so nothing a network or a sampler sees is lost by clipping.
LOGSNR_MIN = -30.0
LOGSNR_MAX = 30.0
F64 = torch.float64


# ----------------------------------------------------------------------------- helpers
def _as_f64(value, name):
    """``value`` as a float64 tensor (same device) plus the dtype results are cast back to."""
    if isinstance(value, torch.Tensor):
        out_dtype = value.dtype if value.is_floating_point() else F64
        return value.to(F64), out_dtype
    try:
        return torch.as_tensor(value, dtype=F64), F64
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a float or a torch tensor, got {type(value).__name__}") from None


def _check_t(t, name="t"):
    t64, out_dtype = _as_f64(t, name)
    # NaN fails both comparisons, so `~(t >= 0 & t <= 1)` also catches it.
    if t64.numel() and not bool(((t64 >= 0) & (t64 <= 1)).all()):
        raise ValueError(f"{name} must be in [0, 1] (and not NaN), got {t if t64.numel() == 1 else t64}")
    return t64, out_dtype


def _check_number(name, value, lo=-math.inf, hi=math.inf, lo_open=True, hi_open=True):
    """Raise ValueError naming ``name`` unless ``value`` is a finite real in the (open or closed) range."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and (lo < value if lo_open else lo <= value) and (value < hi if hi_open else value <= hi)):
        rng = f"{'(['[not lo_open]}{lo}, {hi}{')]'[not hi_open]}"
        raise ValueError(f"{name} must be a finite number in {rng}, got {value!r}")


def _check_int(name, value, lo=1):
    if not isinstance(value, int) or isinstance(value, bool) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")


def _softplus(x):
    # Stable log(1 + e^x) without torch's threshold approximation (which costs 1e-9 at x = 20).
    return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))


def _bisect_decreasing(f, y, n_iter=60):
    """Solve ``f(t) = y`` for a decreasing ``f`` on [0, 1], elementwise, by bisection in float64.

    60 halvings shrink [0, 1] below 1e-18, i.e. to float64 resolution; a ``y`` outside f's range
    lands on the nearest end, which is what a clipped logsnr should map to.
    """
    lo, hi = torch.zeros_like(y), torch.ones_like(y)
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        right = f(mid) > y  # f decreasing: still above the target, so the root is to the right
        lo, hi = torch.where(right, mid, lo), torch.where(right, hi, mid)
    return 0.5 * (lo + hi)


# ----------------------------------------------------------------------------- base class
class Schedule:
    """A noise schedule ``x_t = alpha_t x_0 + sigma_t eps`` evaluated at any ``t in [0, 1]``.

    Subclasses implement ``_alpha`` and ``_sigma`` or ``_one_minus_alpha`` (float64 tensors in and out)
    and, where a closed form exists, ``_t_of_logsnr``; the base class validates, clips and casts.
    """

    _vp = True  # alpha^2 + sigma^2 = 1 (variance preserving); VE-type schedules set False

    @property
    def is_vp(self) -> bool:
        """True if variance preserving, ``alpha_t^2 + sigma_t^2 = 1`` (the VP SDE of Song et al. 2021, eq. 11)."""
        return self._vp

    def _sigma(self, t):
        # for VP schedules that know 1 - alpha without cancellation: sigma^2 = (1 - alpha)(1 + alpha)
        return torch.sqrt(self._one_minus_alpha(t) * (1.0 + self._alpha(t)))

    def _logsnr(self, t):
        return 2.0 * (torch.log(self._alpha(t)) - torch.log(self._sigma(t)))

    def _t_of_logsnr(self, lam):
        return _bisect_decreasing(self._logsnr, lam)

    def alpha(self, t):
        """Signal scale ``alpha_t`` of ``x_t = alpha_t x_0 + sigma_t eps`` (exact, unclipped)."""
        t64, dt = _check_t(t)
        return self._alpha(t64).to(dt)

    def sigma(self, t):
        """Noise scale ``sigma_t`` of ``x_t = alpha_t x_0 + sigma_t eps`` (exact, unclipped)."""
        t64, dt = _check_t(t)
        return self._sigma(t64).to(dt)

    def logsnr(self, t):
        """``lambda_t = log(alpha_t^2 / sigma_t^2)`` clipped to [LOGSNR_MIN, LOGSNR_MAX] (Kingma et al. 2021, Sec. 3)."""
        t64, dt = _check_t(t)
        return self._logsnr(t64).clamp(LOGSNR_MIN, LOGSNR_MAX).to(dt)

    def snr(self, t):
        """``SNR(t) = alpha_t^2 / sigma_t^2 = exp(logsnr(t))``, from the clipped logsnr (so finite)."""
        return torch.exp(self.logsnr(t))

    def sigma_edm(self, t):
        """EDM noise level ``sigma_t / alpha_t = exp(-logsnr / 2)`` (Karras et al. 2022, Table 1); finite at t = 0, 1."""
        t64, dt = _check_t(t)
        return torch.exp(-0.5 * self._logsnr(t64).clamp(LOGSNR_MIN, LOGSNR_MAX)).to(dt)

    def t_of_logsnr(self, logsnr):
        """Inverse of ``logsnr``: the ``t in [0, 1]`` with ``logsnr(t) = l`` (``l`` first clamped to the clip)."""
        l64, dt = _as_f64(logsnr, "logsnr")
        if bool(torch.isnan(l64).any()):
            raise ValueError("logsnr must not be NaN")
        lam = l64.clamp(LOGSNR_MIN, LOGSNR_MAX)
        return self._t_of_logsnr(lam).clamp(0.0, 1.0).to(dt)


# ----------------------------------------------------------------------------- continuous VP schedules
@dataclass(frozen=True)
class VPLinear(Schedule):
    """VP SDE with linear ``beta(t)`` (Song et al. 2021, eq. 11 and its perturbation kernel, Appendix B):
    ``alpha_t = exp(-t^2 (beta_max - beta_min) / 4 - t beta_min / 2)``, ``sigma_t = sqrt(1 - alpha_t^2)``."""

    beta_min: float = 0.1
    beta_max: float = 20.0

    def __post_init__(self):
        _check_number("beta_min", self.beta_min, lo=0.0, lo_open=False)
        _check_number("beta_max", self.beta_max, lo=self.beta_min)

    def beta(self, t):
        """``beta(t) = beta_min + t (beta_max - beta_min)``, the VP SDE's rate (Song et al. 2021, Appendix B)."""
        t64, dt = _check_t(t)
        return (self.beta_min + t64 * (self.beta_max - self.beta_min)).to(dt)

    def _g(self, t):  # g = -log(alpha_t^2) = int_0^t beta(s) ds
        return 0.5 * t * t * (self.beta_max - self.beta_min) + t * self.beta_min

    def _alpha(self, t):
        return torch.exp(-0.5 * self._g(t))

    def _sigma(self, t):
        return torch.sqrt(-torch.expm1(-self._g(t)))  # expm1: no cancellation in 1 - alpha^2 near t = 0

    def _t_of_logsnr(self, lam):
        # g = log(1 + e^-lam); solve 0.5 d t^2 + b t = g by the cancellation-free root 2g / (b + sqrt(b^2 + 2dg))
        g, b, d = _softplus(-lam), self.beta_min, self.beta_max - self.beta_min
        return 2.0 * g / (b + torch.sqrt(b * b + 2.0 * d * g))


@dataclass(frozen=True)
class Cosine(Schedule):
    """Cosine schedule (Nichol & Dhariwal 2021, eq. 17): ``alpha_bar(t) = f(t) / f(0)``,
    ``f(t) = cos^2((t + s) / (1 + s) * pi / 2)``, so ``alpha(0) = 1`` and ``alpha(1) = 0`` exactly."""

    s: float = 0.008

    def __post_init__(self):
        _check_number("s", self.s, lo=0.0)

    @property
    def _c(self):
        return 0.5 * math.pi / (1.0 + self.s)

    def _alpha(self, t):
        # cos((t+s)/(1+s) pi/2) = sin(c (1 - t)): exactly 0 at t = 1, where cos(pi/2) would give 6e-17.
        c = self._c
        return (torch.sin(c * (1.0 - t)) / math.sin(c)).clamp(0.0, 1.0)

    def _one_minus_alpha(self, t):
        # sin(c) - sin(c(1-t)) = 2 cos(c(2-t)/2) sin(ct/2): keeps full relative precision near t = 0.
        c = self._c
        return (2.0 * torch.cos(0.5 * c * (2.0 - t)) * torch.sin(0.5 * c * t) / math.sin(c)).clamp(0.0, 1.0)

    def _t_of_logsnr(self, lam):
        # t = (c - asin(alpha sin c)) / c with alpha^2 = sigmoid(lam). The difference of arcsines is
        # rewritten as one arcsine of (1 - alpha^2) sin c / (sqrt(cos^2 c + (1 - alpha^2) sin^2 c) + alpha cos c),
        # and 1 - alpha^2 = sigmoid(-lam) exactly: full relative precision for t near 0.
        c = self._c
        a, q = torch.sigmoid(lam).sqrt(), torch.sigmoid(-lam)
        den = torch.sqrt(math.cos(c) ** 2 + q * math.sin(c) ** 2) + a * math.cos(c)
        return torch.asin((q * math.sin(c) / den).clamp(-1.0, 1.0)) / c


def _log_sig_diff(a, b, gap):
    """``log(sigmoid(a) - sigmoid(b))`` for ``gap = a - b >= 0``, via sig(a) sig(-b) (1 - e^{-gap}).

    No cancellation: ``gap`` is passed in exactly rather than recomputed as ``a - b``."""
    a, b, gap = (torch.as_tensor(v, dtype=F64) for v in (a, b, gap))
    return -_softplus(-a) - _softplus(b) + torch.log(-torch.expm1(-gap))


@dataclass(frozen=True)
class Sigmoid(Schedule):
    """Sigmoid schedule (Chen 2023, "On the importance of noise scheduling", Alg. 1; Jabri et al. 2023):
    ``alpha_bar(t) = (sig(end/tau) - sig((t (end - start) + start) / tau)) / (sig(end/tau) - sig(start/tau))``."""

    start: float = -3.0
    end: float = 3.0
    tau: float = 1.0

    def __post_init__(self):
        _check_number("start", self.start)
        _check_number("end", self.end, lo=self.start)
        _check_number("tau", self.tau, lo=0.0)

    def _logs(self, t):
        # log(alpha^2 * Z), log(sigma^2 * Z), log Z with Z the normaliser, all from sigmoid differences.
        e, s = self.end / self.tau, self.start / self.tau
        u = (t * (self.end - self.start) + self.start) / self.tau
        w = (self.end - self.start) / self.tau
        return _log_sig_diff(e, u, (1.0 - t) * w), _log_sig_diff(u, s, t * w), _log_sig_diff(e, s, w).item()

    def _alpha(self, t):
        la, _, lz = self._logs(t)
        return torch.exp(0.5 * (la - lz)).clamp(0.0, 1.0)

    def _sigma(self, t):
        _, ls, lz = self._logs(t)
        return torch.exp(0.5 * (ls - lz)).clamp(0.0, 1.0)

    def _logsnr(self, t):
        la, ls, _ = self._logs(t)
        return la - ls


# ----------------------------------------------------------------------------- variance exploding
class _Unscaled(Schedule):
    """alpha_t = 1: the noise is added, never mixed in (VE / EDM), so sigma_edm = sigma."""

    _vp = False

    def _alpha(self, t):
        return torch.ones_like(t)


@dataclass(frozen=True)
class VE(_Unscaled):
    """VE SDE (Song et al. 2021, eq. 9, Appendix B): ``alpha_t = 1``, ``sigma_t = sigma_min (sigma_max / sigma_min)^t``."""

    sigma_min: float = 0.01
    sigma_max: float = 50.0

    def __post_init__(self):
        _check_number("sigma_min", self.sigma_min, lo=0.0)
        _check_number("sigma_max", self.sigma_max, lo=self.sigma_min)

    def _sigma(self, t):
        return self.sigma_min * torch.exp(t * math.log(self.sigma_max / self.sigma_min))

    def _t_of_logsnr(self, lam):
        return (-0.5 * lam - math.log(self.sigma_min)) / math.log(self.sigma_max / self.sigma_min)


@dataclass(frozen=True)
class EDM(_Unscaled):
    """EDM noise levels (Karras et al. 2022, eq. 5) as a continuous map, ``alpha_t = 1``,
    ``sigma_t = (sigma_min^(1/rho) + t (sigma_max^(1/rho) - sigma_min^(1/rho)))^rho``."""

    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0

    def __post_init__(self):
        _check_number("sigma_min", self.sigma_min, lo=0.0)
        _check_number("sigma_max", self.sigma_max, lo=self.sigma_min)
        _check_number("rho", self.rho, lo=0.0)

    def _ends(self):
        return self.sigma_min ** (1.0 / self.rho), self.sigma_max ** (1.0 / self.rho)

    def _sigma(self, t):
        lo, hi = self._ends()
        return (lo + t * (hi - lo)) ** self.rho

    def _t_of_logsnr(self, lam):
        lo, hi = self._ends()
        return (torch.exp(-0.5 * lam / self.rho) - lo) / (hi - lo)


# ----------------------------------------------------------------------------- DDPM tables
class Discrete(Schedule):
    """A DDPM table of ``T`` betas (Ho et al. 2020, eq. 4): ``alpha_bar_i = prod_{j <= i} (1 - beta_j)``
    at ``t_i = i / T`` (``alpha_bar_0 = 1``), with ``log alpha_bar`` linear in ``t`` between grid points
    (= piecewise-constant beta, the natural continuous extension), so it is exact on the grid.
    Here ``alpha_t^2 = alpha_bar``; DDPM's own ``alpha_i = 1 - beta_i = alpha_bar_i / alpha_bar_{i-1}``.
    """

    def __init__(self, betas):
        b = torch.as_tensor(betas, dtype=F64).detach().cpu()
        if b.dim() != 1 or b.numel() < 1 or not bool(((b > 0) & (b < 1)).all()):
            raise ValueError("betas must be a non-empty 1-D sequence with every value in (0, 1)")
        self.betas = b
        # cumulative log in float64: a float32 cumprod drifts by ~1e-5 relative over 1000 steps
        self._log_abar = torch.cat([torch.zeros(1, dtype=F64), torch.cumsum(torch.log1p(-b), 0)])
        self.alphas_cumprod = torch.cumprod(1.0 - b, 0)

    @property
    def T(self) -> int:
        """Number of steps of the table; step ``i`` sits at ``t = i / T``."""
        return self.betas.numel()

    def __repr__(self):
        return f"Discrete(T={self.T}, beta_1={self.betas[0].item():.4g}, beta_T={self.betas[-1].item():.4g})"

    @staticmethod
    def _check_args(T, **kw):
        _check_int("T", T)
        for name, value in kw.items():
            _check_number(name, value, 0.0, 1.0)

    @classmethod
    def linear(cls, T=1000, beta_start=1e-4, beta_end=0.02):
        """Linear betas from ``beta_start`` to ``beta_end`` (Ho et al. 2020, Sec. 4)."""
        cls._check_args(T, beta_start=beta_start, beta_end=beta_end)
        return cls(torch.linspace(beta_start, beta_end, T, dtype=F64))

    @classmethod
    def scaled_linear(cls, T=1000, beta_start=0.00085, beta_end=0.012):
        """Stable Diffusion's 'scaled_linear' (diffusers): ``betas = linspace(sqrt(b0), sqrt(b1), T)^2``."""
        cls._check_args(T, beta_start=beta_start, beta_end=beta_end)
        return cls(torch.linspace(beta_start ** 0.5, beta_end ** 0.5, T, dtype=F64) ** 2)

    @classmethod
    def squared_cosine(cls, T=1000, max_beta=0.999):
        """diffusers' 'squaredcos_cap_v2': ``beta_i = min(1 - abar(i/T) / abar((i-1)/T), max_beta)``
        with Nichol & Dhariwal's cosine ``abar`` (2021, eq. 17; the cap is their Sec. 3.2)."""
        cls._check_args(T, max_beta=max_beta)
        abar = Cosine(0.008)._alpha(torch.arange(T + 1, dtype=F64) / T) ** 2
        return cls((1.0 - abar[1:] / abar[:-1]).clamp(max=max_beta))

    def _log_abar_at(self, t):
        s = t * self.T
        # i/T * T may come back as i +- 1 ulp; snap so that grid points read the table exactly
        r = s.round()
        # relative: never snap a tiny t > 0 onto 0. The snap moves the value only (s + (r - s).detach()), so
        # autograd still sees d s / d t = T at grid points (round() alone has zero gradient there)
        s = torch.where((s - r).abs() <= 1e-13 * r, s + (r - s).detach(), s)
        i = s.floor().clamp(0, self.T - 1)
        grid = self._log_abar.to(t.device)
        lo, hi = grid[i.long()], grid[i.long() + 1]
        return lo + (s - i) * (hi - lo)

    def _alpha(self, t):
        return torch.exp(0.5 * self._log_abar_at(t))

    def _sigma(self, t):
        return torch.sqrt(torch.expm1(self._log_abar_at(t)).abs())  # abs: +0.0, not -0.0, at t = 0

    def _t_of_logsnr(self, lam):
        # -log alpha_bar = softplus(-lam); -log_abar grid is increasing, so invert the linear pieces directly
        g = _softplus(-lam)
        grid = (-self._log_abar).to(lam.device)
        i = (torch.searchsorted(grid, g.contiguous(), right=True) - 1).clamp(0, self.T - 1)
        frac = (g - grid[i]) / (grid[i + 1] - grid[i])
        return (i + frac) / self.T


# ----------------------------------------------------------------------------- zero terminal SNR
@dataclass(frozen=True)
class ZeroTerminalSNR(Schedule):
    """Zero-terminal-SNR rescaling of a VP schedule (Lin et al. 2024, Algorithm 1):
    ``alpha'(t) = (alpha(t) - alpha(1)) alpha(0) / (alpha(0) - alpha(1))``, ``sigma' = sqrt(1 - alpha'^2)``.
    Unlike diffusers (which keeps the value at step 1) this keeps ``alpha(0)``; for DDPM tables the
    difference is below 1e-4 since ``alpha_bar_1 = 1 - beta_1``.
    """

    base: Schedule

    def __post_init__(self):
        if not isinstance(self.base, Schedule):
            raise TypeError(f"base must be a Schedule, got {type(self.base).__name__}")
        if not self.base.is_vp:
            raise ValueError(f"base must be a variance-preserving schedule (is_vp), got {self.base!r}")
        # alpha(0), sigma(0), alpha(1) of the base, once: the bisection in t_of_logsnr calls _alpha ~60 times
        z, o = torch.zeros(1, dtype=F64), torch.ones(1, dtype=F64)
        ends = (self.base._alpha(z).item(), self.base._sigma(z).item(), self.base._alpha(o).item())
        object.__setattr__(self, "_ends", ends)  # frozen dataclass: a private, derived attribute only

    def _alpha(self, t):
        a0, _, a1 = self._ends
        return ((self.base._alpha(t) - a1) * a0 / (a0 - a1)).clamp(0.0, 1.0)

    def _one_minus_alpha(self, t):
        # 1 - a' = (a0 (1 - a) - a1 (1 - a0)) / (a0 - a1) with 1 - a = sigma^2 / (1 + a): exact near t = 0
        a0, s0, a1 = self._ends
        a, s = self.base._alpha(t), self.base._sigma(t)
        return ((a0 * s * s / (1.0 + a) - a1 * s0 * s0 / (1.0 + a0)) / (a0 - a1)).clamp(0.0, 1.0)


def rescale_zero_terminal_snr(schedule: Schedule) -> ZeroTerminalSNR:
    """Return ``schedule`` rescaled to zero terminal SNR (Lin et al. 2024, Algorithm 1)."""
    return ZeroTerminalSNR(schedule)


# ----------------------------------------------------------------------------- time grids
SPACINGS = ("uniform", "karras", "logsnr")


def timesteps(schedule: Schedule, n_steps: int, spacing: str = "uniform", t_min: float = 0.0,
              t_max: float = 1.0, rho: float = 7.0):
    """``n_steps + 1`` decreasing times from ``t_max`` to ``t_min`` (float64).

    "uniform": uniform in t; "logsnr": uniform in logsnr; "karras": uniform in ``sigma_edm^(1/rho)``
    (Karras et al. 2022, eq. 5), ``sigma_i = (s_max^(1/rho) + i/N (s_min^(1/rho) - s_max^(1/rho)))^rho``.
    Both are mapped back through ``t_of_logsnr``; the endpoints are exactly ``t_max`` and ``t_min``.
    """
    _check_int("n_steps", n_steps)
    if spacing not in SPACINGS:
        raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")
    _check_number("t_min", t_min, 0.0, 1.0, lo_open=False, hi_open=False)
    _check_number("t_max", t_max, 0.0, 1.0, lo_open=False, hi_open=False)
    if not t_min < t_max:
        raise ValueError(f"t_min must be < t_max, got t_min={t_min}, t_max={t_max}")
    _check_number("rho", rho, lo=0.0)
    ramp = torch.linspace(0.0, 1.0, n_steps + 1, dtype=F64)
    if spacing == "uniform":
        ts = t_max + ramp * (t_min - t_max)
    else:
        l_hi, l_lo = schedule.logsnr(float(t_min)), schedule.logsnr(float(t_max))
        if spacing == "logsnr":
            lam = l_lo + ramp * (l_hi - l_lo)
        else:
            # sigma_edm = exp(-lambda / 2); interpolate its rho-th root, then back to lambda
            s_max, s_min = torch.exp(-0.5 * l_lo) ** (1 / rho), torch.exp(-0.5 * l_hi) ** (1 / rho)
            lam = -2.0 * rho * torch.log(s_max + ramp * (s_min - s_max))
        ts = schedule.t_of_logsnr(lam)
    ts[0], ts[-1] = t_max, t_min  # the inverse is exact only to ~1e-12; the ends must be exact
    return ts


SCHEDULES = {"vp_linear": VPLinear, "cosine": Cosine, "sigmoid": Sigmoid, "ve": VE, "edm": EDM,
             "ddpm_linear": Discrete.linear, "scaled_linear": Discrete.scaled_linear,
             "squared_cosine": Discrete.squared_cosine}


def get_schedule(name: str, **kw) -> Schedule:
    """Build the schedule registered as ``name`` in ``SCHEDULES`` with keyword arguments ``kw``."""
    if name not in SCHEDULES:
        raise ValueError(f"name must be one of {sorted(SCHEDULES)}, got {name!r}")
    return SCHEDULES[name](**kw)
