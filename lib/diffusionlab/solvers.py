"""ODE samplers: solvers of the probability-flow ODE with a denoiser ``D(x, t) -> x0_hat``.

Offers ``euler`` (= deterministic DDIM), ``heun`` (Karras et al. 2022, Alg. 2, with optional churn),
``dpmpp_2m`` and ``dpmpp_3m`` (DPM-Solver++ multistep, Lu et al. 2022b). All share the signature of
``dl.samplers`` (``sample_X(denoiser, schedule, x_T, ts, *, generator=None, return_trajectory=False, ...)``)
and are registered in ``dl.SAMPLERS``.

The probability-flow ODE (Song et al. 2021, eq. 13) is simplest in EDM's variables (Karras et al. 2022,
eq. 4 with s(t) = alpha_t): the scaled state ``x~ = x / alpha`` against the noise level
``sigma~ = sigma / alpha`` (= ``sigma_edm``) obeys ``dx~/dsigma~ = (x~ - D) / sigma~`` for every schedule.
In the half log-SNR ``lambda = log(alpha / sigma)`` (DPM-Solver's lambda, HALF of ``dl``'s
``logsnr = log(alpha^2 / sigma^2)``) its exact solution from t to s is (Lu et al. 2022b, Sec. 4.1)
``x_s = (sigma_s / sigma_t) x_t + sigma_s int_{lambda_t}^{lambda_s} e^lambda D(x_lambda, lambda) dlambda``:
the linear part is integrated exactly and only D is approximated (by a constant, a line, a parabola in
lambda for orders 1, 2, 3). All coefficients are computed in float64 python floats.
"""
from __future__ import annotations

import math

import torch

from .samplers import (
    _alpha_sigma,
    _check_real,
    _check_x,
    _grid,
    _randn_like,
    _x0_hat,
    check_ts,
)

__all__ = ["dpmpp_2m", "dpmpp_3m", "euler", "heun"]


def _land(x0, a_s):
    """The state at sigma_s = 0: ``alpha_s x0_hat`` (x0_hat itself when alpha_s = 1, bit for bit)."""
    return x0 if a_s == 1.0 else a_s * x0


def euler(denoiser, schedule, x_T: torch.Tensor, ts, *, generator=None, return_trajectory: bool = False):
    """Euler's method on the probability-flow ODE in EDM's variables (Karras et al. 2022, eq. 4 and Alg. 1 with
    ``s(t) = alpha_t``, ``sigma(t) = sigma_t / alpha_t``): ``x~_s = x~_t + (sigma~_s - sigma~_t) (x~_t - D) / sigma~_t``.

    Written in alpha/sigma form. With ``x~ = x / alpha``, ``sigma~ = sigma / alpha`` and
    ``eps = (x_t - alpha_t D) / sigma_t`` one has ``(x~_t - D) / sigma~_t = eps``, so
    ``x~_s = D + sigma~_t eps + (sigma~_s - sigma~_t) eps = D + sigma~_s eps`` and ``x_s = alpha_s D + sigma_s eps``:
    exactly DDIM with eta = 0 (Song, Meng & Ermon 2021, eq. 12) and the first-order DPM-Solver++
    (``x_s = (sigma_s / sigma_t) x_t - alpha_s (e^{-h} - 1) D``, Lu et al. 2022b). This form never divides by
    alpha, so a grid may start at alpha = 0 (zero terminal SNR); the step to sigma_s = 0 returns ``alpha_s D``.
    ``generator`` is unused (deterministic). Returns ``x_0`` or ``(x_0, trajectory)``.
    """
    _check_x(x_T)
    ts = check_ts(ts)
    al, sg = _grid(schedule, ts)
    ts = ts.tolist()
    x, traj = x_T, [x_T]
    for i, t in enumerate(ts[:-1]):
        x0 = _x0_hat(denoiser, x, t, None)
        x = _land(x0, al[i + 1]) if sg[i + 1] == 0.0 else al[i + 1] * x0 + sg[i + 1] * ((x - al[i] * x0) / sg[i])
        traj.append(x)
    return (x, traj) if return_trajectory else x


def heun(denoiser, schedule, x_T: torch.Tensor, ts, *, churn: float = 0.0, s_tmin: float = 0.0,
         s_tmax: float = math.inf, s_noise: float = 1.0, generator=None, return_trajectory: bool = False):
    """Heun's second-order method with EDM's optional churn (Karras et al. 2022, Alg. 2; Alg. 1 when churn = 0),
    in the scaled variables ``x~ = x / alpha``, ``sigma~ = sigma / alpha`` (their eq. 4 with s(t) = alpha_t).

    Step i: if ``s_tmin <= sigma~_i <= s_tmax``, raise the noise level to ``sigma^ = sigma~_i (1 + gamma)``,
    ``gamma = min(churn / N, sqrt(2) - 1)`` (N = number of steps), by adding fresh noise
    ``sqrt(sigma^2 - sigma~_i^2) s_noise z`` (sigma^ is capped at the schedule's largest level, t = 1, and the
    denoiser sees it at the time t^ with that level). Then ``d = (x~^ - D) / sigma^``,
    ``x~_{i+1} = x~^ + (sigma~_{i+1} - sigma^) d`` and, unless ``sigma~_{i+1} = 0``, the trapezoidal correction
    ``x~_{i+1} = x~^ + (sigma~_{i+1} - sigma^) (d + d') / 2``, ``d' = (x~_{i+1} - D(x_{i+1})) / sigma~_{i+1}``.
    The last step to sigma = 0 is Euler (it lands on D). Denoiser calls: 2 per step, 1 on a last step to
    sigma = 0. ``churn = 0`` is deterministic and second order. Needs ``alpha > 0`` on the whole grid
    (sigma~ is infinite at alpha = 0): ValueError otherwise. Returns ``x_0`` or ``(x_0, trajectory)``.
    """
    _check_x(x_T)
    ts = check_ts(ts)
    churn = _check_real("churn", churn)
    s_tmin = _check_real("s_tmin", s_tmin)
    s_tmax = _check_real("s_tmax", s_tmax, s_tmin, math.inf, hi_ok=True)
    s_noise = _check_real("s_noise", s_noise)
    al, sg = _grid(schedule, ts)
    ts = ts.tolist()
    if 0.0 in al:
        raise ValueError(f"ts: alpha = 0 at t = {ts[al.index(0.0)]} (zero terminal SNR), where EDM's noise level "
                         "sigma / alpha is infinite; start the grid at t_max < 1 or use a schedule with alpha(1) > 0")
    sig = [s / a for a, s in zip(al, sg)]
    gamma = min(churn / (len(ts) - 1), math.sqrt(2.0) - 1.0)
    x, traj = x_T, [x_T]
    for i, t in enumerate(ts[:-1]):
        t_hat, a_hat, s_hat, x_hat = t, al[i], sg[i], x
        if gamma > 0.0 and s_tmin <= sig[i] <= s_tmax:
            # the time whose noise level is sigma~_i (1 + gamma); logsnr = -2 log(sigma~); never below t
            t_hat = max(t, float(schedule.t_of_logsnr(-2.0 * math.log(sig[i] * (1.0 + gamma)))))
            a_hat, s_hat = _alpha_sigma(schedule, t_hat)
            extra = math.sqrt(max((s_hat / a_hat) ** 2 - sig[i] ** 2, 0.0)) * s_noise
            x_hat = (a_hat / al[i]) * x + (a_hat * extra) * _randn_like(x, generator)
        sig_hat, a_n, sig_n = s_hat / a_hat, al[i + 1], sig[i + 1]
        x0 = _x0_hat(denoiser, x_hat, t_hat, None)
        d = (x_hat - a_hat * x0) / s_hat  # = (x~^ - D) / sigma^, without dividing by alpha
        if sig_n == 0.0:
            x = _land(x0, a_n)
        else:
            xt_hat = x_hat / a_hat
            x_eul = a_n * (xt_hat + (sig_n - sig_hat) * d)
            d2 = (x_eul - a_n * _x0_hat(denoiser, x_eul, ts[i + 1], None)) / sg[i + 1]
            x = a_n * (xt_hat + (sig_n - sig_hat) * (0.5 * (d + d2)))
        traj.append(x)
    return (x, traj) if return_trajectory else x


def _phis(h):
    """``int_0^h e^{u - h} u^k du / k!`` for k = 0, 1, 2 (exact weights of D, D' and D'' over a step of
    length h in lambda), from expm1 so that small h keeps its digits. h = inf (a first step from alpha = 0) gives
    phi_0 = 1, the only weight a first-order step uses."""
    em = math.expm1(-h)  # e^{-h} - 1
    return -em, h + em, 0.5 * h * h - h - em


def _dpmpp(denoiser, schedule, x_T, ts, order, lower_order_final, return_trajectory):
    """DPM-Solver++ multistep of the given order (Lu et al. 2022b): see ``dpmpp_2m`` and ``dpmpp_3m``."""
    _check_x(x_T)
    ts = check_ts(ts)
    if not isinstance(lower_order_final, bool):
        raise TypeError(f"lower_order_final must be a bool, got {type(lower_order_final).__name__}")
    al, sg = _grid(schedule, ts)
    ts = ts.tolist()
    # DPM-Solver's lambda = log(alpha / sigma) = logsnr / 2; -inf at alpha = 0, +inf at sigma = 0
    lam = [(math.log(a) if a > 0 else -math.inf) - (math.log(s) if s > 0 else -math.inf) for a, s in zip(al, sg)]
    n = len(ts) - 1
    x, traj, hist = x_T, [x_T], []  # hist: (lambda, x0_hat) of the previous points with finite lambda
    for i, t in enumerate(ts[:-1]):
        x0 = _x0_hat(denoiser, x, t, None)
        a_s, s_s = al[i + 1], sg[i + 1]
        k = min(order, 1 + len(hist), n - i if (lower_order_final and n < 15) else order)
        if s_s == 0.0:
            x = _land(x0, a_s)  # h = inf: the first-order step lands on alpha_s D, higher orders are undefined
        else:
            h = lam[i + 1] - lam[i]
            p0, p1, p2 = _phis(h)
            if k == 1:
                xhat = x0
            elif k == 2:  # Lu et al. 2022b, Alg. 2: D = (1 + 1/(2r)) x0_i - 1/(2r) x0_{i-1}, r = h_{i-1} / h
                r = (lam[i] - hist[-1][0]) / h
                xhat = x0 + (0.5 / r) * (x0 - hist[-1][1])
            else:  # the parabola through the last three (lambda, x0_hat), integrated exactly against e^{u - h}
                (l2, y2), (l1, y1) = hist[-2], hist[-1]
                h1, h2 = lam[i] - l1, l1 - l2
                d1, d0 = (y1 - y2) / h2, (x0 - y1) / h1
                dd = (d0 - d1) / (h1 + h2)
                # p(lambda_i + u) = x0 + u (d0 + h1 dd) + u^2 dd  (Newton form expanded at lambda_i)
                xhat = x0 + (p1 / p0) * (d0 + h1 * dd) + (2.0 * p2 / p0) * dd
            x = (s_s / sg[i]) * x + (a_s * p0) * xhat
        if math.isfinite(lam[i]):
            hist = [*hist[-1:], (lam[i], x0)]
        traj.append(x)
    return (x, traj) if return_trajectory else x


def dpmpp_2m(denoiser, schedule, x_T: torch.Tensor, ts, *, lower_order_final: bool = True, generator=None,
             return_trajectory: bool = False):
    """DPM-Solver++(2M) (Lu et al. 2022b, Alg. 2), second-order multistep in the data prediction D, in
    ``lambda = log(alpha / sigma)`` (HALF of dl's ``logsnr``). With ``h = lambda_s - lambda_t`` and
    ``r = h_prev / h``: ``x_s = (sigma_s / sigma_t) x_t - alpha_s (e^{-h} - 1) [(1 + 1/(2r)) D_t - 1/(2r) D_prev]``
    (``e^{-h} - 1`` via expm1). The first step is first order (no history; = DDIM / ``euler``), and so is a
    step to sigma = 0 (lambda = inf), which returns ``alpha_s D`` (= D). ``lower_order_final`` (default, as in
    the reference implementations): on grids of fewer than 15 steps the last step is first order too, which
    stabilises very short grids. One denoiser call per step; ``generator`` unused. Works from alpha = 0 (the
    first step needs no lambda_t). Returns ``x_0`` or ``(x_0, trajectory)``.
    """
    return _dpmpp(denoiser, schedule, x_T, ts, 2, lower_order_final, return_trajectory)


def dpmpp_3m(denoiser, schedule, x_T: torch.Tensor, ts, *, lower_order_final: bool = True, generator=None,
             return_trajectory: bool = False):
    """DPM-Solver++(3M): third-order multistep in the data prediction (Lu et al. 2022b, Sec. 4.1's exact solution
    with D replaced by the parabola in ``lambda = log(alpha / sigma)`` = HALF of dl's ``logsnr`` through the
    last three denoiser outputs). Expanded at lambda_t, ``D(lambda_t + u) ~ D_t + u (d0 + h1 dd) + u^2 dd``
    (divided differences ``d0``, ``dd``; ``h1`` the previous step), and
    ``x_s = (sigma_s / sigma_t) x_t + alpha_s [phi0 D_t + phi1 (d0 + h1 dd) + 2 phi2 dd]`` with the exact weights
    ``phi_k = int_0^h e^{u - h} u^k / k! du``: ``phi0 = 1 - e^{-h}``, ``phi1 = h - phi0``, ``phi2 = h^2/2 - phi1``.
    Warm-up: step 1 first order, step 2 the 2M step; a step to sigma = 0 is first order; with
    ``lower_order_final`` and fewer than 15 steps, the last two steps are orders 2 and 1 (as in the reference
    implementations). One denoiser call per step; ``generator`` unused. Returns ``x_0`` or ``(x_0, trajectory)``.
    """
    return _dpmpp(denoiser, schedule, x_T, ts, 3, lower_order_final, return_trajectory)
