"""Gaussian mixtures: data whose every diffused marginal, score and denoiser is known exactly.

Offers ``GaussianMixture`` with exact ``sample``, ``log_prob``, ``score``, ``mean``, ``cov``,
``entropy_mc``, the marginal at time t (``at``), and the exact ``score_t``, ``eps_t`` and
``denoiser`` (Tweedie) at any t of any schedule; constructors ``isotropic``, ``ring``, ``two_modes``,
``standard_normal``; and ``EmpiricalDistribution``, a training set as a sum of Diracs, whose exact
denoiser is the optimal empirical denoiser (the minimiser of the DSM loss on that set). Everything is float64: responsibilities are ratios of exponentials of quadratic
forms, and narrow modes make those overflow or lose all digits in float32. Results come back in the
dtype of the input ``x`` (float64 when it is not floating).

Why it is exact: with ``x_t = alpha x0 + sigma eps`` and ``x0 ~ sum_k w_k N(mu_k, S_k)``, the marginal is
``p_t = sum_k w_k N(alpha mu_k, C_k)`` with ``C_k = alpha^2 S_k + sigma^2 I``.
"""
from __future__ import annotations

import math

import torch

__all__ = ["EmpiricalDistribution", "GaussianMixture"]

F64 = torch.float64


def _t64(t, device):
    # python floats go straight to float64 (as_tensor(0.3) would round them to float32 first)
    return t.to(device=device, dtype=F64) if isinstance(t, torch.Tensor) else torch.as_tensor(t, dtype=F64, device=device)


def _out_dtype(x):
    return x.dtype if x.is_floating_point() else F64


class GaussianMixture:
    """``p(x) = sum_k w_k N(x; mu_k, S_k)``: ``weights`` (K,) > 0 (normalised), ``means`` (K, d)
    (or (K,) for d = 1), ``covs`` (K, d, d) symmetric positive definite."""

    def __init__(self, weights, means, covs):
        w = torch.as_tensor(weights, dtype=F64).detach().cpu()
        if w.dim() != 1 or w.numel() < 1 or not bool(torch.isfinite(w).all() & (w > 0).all()):
            raise ValueError(f"weights must be a non-empty 1-D tensor of finite values > 0, got {weights!r}")
        mu = torch.as_tensor(means, dtype=F64).detach().cpu()
        mu = mu[:, None] if mu.dim() == 1 else mu
        if mu.dim() != 2 or mu.shape[0] != w.numel() or not bool(torch.isfinite(mu).all()):
            raise ValueError(f"means must be finite with shape (K, d) = ({w.numel()}, d), got {tuple(mu.shape)}")
        k, d = mu.shape
        S = torch.as_tensor(covs, dtype=F64).detach().cpu()
        if S.shape != (k, d, d) or not bool(torch.isfinite(S).all()):
            raise ValueError(f"covs must be finite with shape (K, d, d) = ({k}, {d}, {d}), got {tuple(S.shape)}")
        if not torch.allclose(S, S.transpose(-1, -2), rtol=1e-10, atol=1e-12):
            raise ValueError("covs must be symmetric")
        L, info = torch.linalg.cholesky_ex(S)
        if bool((info != 0).any()):
            raise ValueError("covs must be positive definite (Cholesky failed)")
        self.weights, self.means, self.covs, self._chol = w / w.sum(), mu, S, L

    # ------------------------------------------------------------------ constructors
    @classmethod
    def isotropic(cls, weights, means, stds):
        """Components ``N(mu_k, std_k^2 I)``; ``stds`` (K,) > 0 or a single float."""
        mu = torch.as_tensor(means, dtype=F64)
        mu = mu[:, None] if mu.dim() == 1 else mu
        std = torch.as_tensor(stds, dtype=F64).expand(mu.shape[0]).clone()
        if not bool(torch.isfinite(std).all() & (std > 0).all()):
            raise ValueError(f"stds must be finite and > 0, got {stds!r}")
        eye = torch.eye(mu.shape[1], dtype=F64)
        return cls(weights, mu, std[:, None, None] ** 2 * eye)

    @classmethod
    def ring(cls, n_modes: int = 8, radius: float = 2.0, std: float = 0.2):
        """2-D: ``n_modes`` equal-weight isotropic modes evenly spaced on a circle of ``radius``."""
        if not isinstance(n_modes, int) or isinstance(n_modes, bool) or n_modes < 1:
            raise ValueError(f"n_modes must be an integer >= 1, got {n_modes!r}")
        if not radius >= 0:
            raise ValueError(f"radius must be >= 0, got {radius!r}")
        ang = 2 * math.pi * torch.arange(n_modes, dtype=F64) / n_modes
        means = radius * torch.stack([torch.cos(ang), torch.sin(ang)], dim=1)
        return cls.isotropic(torch.ones(n_modes, dtype=F64), means, std)

    @classmethod
    def two_modes(cls, weights=(0.3, 0.7), means=(-2.0, 1.5), stds=(0.3, 0.5)):
        """1-D: two unequal modes, the smallest example where the score and denoiser are nonlinear."""
        return cls.isotropic(weights, means, stds)

    @classmethod
    def standard_normal(cls, d: int = 1):
        """A single ``N(0, I_d)`` component (the prior of a VP diffusion)."""
        if not isinstance(d, int) or isinstance(d, bool) or d < 1:
            raise ValueError(f"d must be an integer >= 1, got {d!r}")
        return cls([1.0], torch.zeros(1, d, dtype=F64), torch.eye(d, dtype=F64)[None])

    @property
    def K(self) -> int:
        """Number of components."""
        return self.weights.numel()

    @property
    def d(self) -> int:
        """Dimension of the data."""
        return self.means.shape[1]

    def __repr__(self):
        return f"GaussianMixture(K={self.K}, d={self.d})"

    # ------------------------------------------------------------------ the data distribution
    def _x(self, x):
        x = x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=F64)
        if x.dim() == 0 or x.shape[-1] != self.d:
            raise ValueError(f"x must have shape (..., d) with d = {self.d}, got {tuple(x.shape)}")
        return x.reshape(-1, self.d).to(F64), x.shape, _out_dtype(x)

    def sample(self, n: int, generator=None) -> torch.Tensor:
        """``n`` exact samples (n, d), float64: pick ``k ~ w``, then ``mu_k + L_k z`` with ``S_k = L_k L_k^T``."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.d, 1, dtype=F64, generator=generator)
        return self.means[k] + (self._chol[k] @ z)[..., 0]

    def log_prob(self, x) -> torch.Tensor:
        """``log p(x) = logsumexp_k (log w_k + log N(x; mu_k, S_k))``, shape ``x.shape[:-1]``."""
        x64, shape, dt = self._x(x)
        logw, logn, _ = self._terms(x64, self.means.to(x64.device), self._chol.to(x64.device))
        return torch.logsumexp(logw + logn, dim=1).reshape(shape[:-1]).to(dt)

    def score(self, x) -> torch.Tensor:
        """``grad log p(x) = -sum_k r_k(x) S_k^{-1} (x - mu_k)``, ``r_k`` the posterior responsibilities."""
        x64, shape, dt = self._x(x)
        logw, logn, sol = self._terms(x64, self.means.to(x64.device), self._chol.to(x64.device))
        r = torch.softmax(logw + logn, dim=1)
        return -(r[..., None] * sol).sum(1).reshape(shape).to(dt)

    def _terms(self, x, mu, L):
        """log w_k (1, K), log N(x; mu_k, L L^T) (n, K) and (L L^T)^{-1} (x - mu_k) (n, K, d).

        ``mu`` and ``L`` may carry a leading per-row batch (n, K, ...) or none (K, ...)."""
        diff = (x[:, None, :] - mu)[..., None]  # (n, K, d, 1)
        y = torch.linalg.solve_triangular(L, diff, upper=False)
        sol = torch.linalg.solve_triangular(L.transpose(-1, -2), y, upper=True)[..., 0]
        logdet = 2 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
        logn = -0.5 * (self.d * math.log(2 * math.pi) + logdet + (y[..., 0] ** 2).sum(-1))
        return torch.log(self.weights.to(x.device))[None], logn, sol

    def mean(self) -> torch.Tensor:
        """``E[x] = sum_k w_k mu_k``."""
        return (self.weights[:, None] * self.means).sum(0)

    def cov(self) -> torch.Tensor:
        """``Cov[x] = sum_k w_k (S_k + mu_k mu_k^T) - m m^T`` (law of total covariance)."""
        m = self.mean()
        second = self.covs + self.means[:, :, None] * self.means[:, None, :]
        return (self.weights[:, None, None] * second).sum(0) - torch.outer(m, m)

    def entropy_mc(self, n: int = 100_000, generator=None) -> torch.Tensor:
        """Monte Carlo differential entropy ``H = -E[log p(x)] ~ -(1/n) sum_i log p(x_i)``, x_i ~ p (nats)."""
        return -self.log_prob(self.sample(n, generator)).mean()

    # ------------------------------------------------------------------ the diffused marginals
    def at(self, schedule, t) -> GaussianMixture:
        """The marginal of ``x_t = alpha_t x0 + sigma_t eps``: ``sum_k w_k N(alpha mu_k, alpha^2 S_k + sigma^2 I)``."""
        tt = _t64(t, "cpu")
        if tt.dim() != 0:
            raise ValueError(f"t must be a float or a 0-d tensor, got shape {tuple(tt.shape)}")
        a, s = schedule.alpha(tt), schedule.sigma(tt)
        eye = torch.eye(self.d, dtype=F64)
        return GaussianMixture(self.weights, a * self.means, a * a * self.covs + s * s * eye)

    def _posterior(self, x, t, schedule):
        """Per row: alpha, sigma (n, 1), responsibilities r (n, K), C_k^{-1}(x - alpha mu_k) (n, K, d)."""
        x64, shape, dt = self._x(x)
        n, dev = x64.shape[0], x64.device
        tt = _t64(t, dev)
        if not (tt.dim() == 0 or tt.shape == (n,)):
            raise ValueError(f"t must be a float or a tensor of shape [n] = [{n}], got {tuple(tt.shape)}")
        # one (alpha, sigma) per row, or a single one shared by all rows: shape (m, 1) with m in {1, n}
        a, s = schedule.alpha(tt).reshape(-1, 1), schedule.sigma(tt).reshape(-1, 1)
        S, mu = self.covs.to(dev), self.means.to(dev)
        # C_k = alpha^2 S_k + sigma^2 I: positive definite for every t, including alpha = 0 or sigma = 0,
        # which is why nothing below divides by alpha or sigma
        C = (a * a)[:, :, None, None] * S + (s * s)[:, :, None, None] * torch.eye(self.d, dtype=F64, device=dev)
        logw, logn, sol = self._terms(x64, a[:, :, None] * mu, torch.linalg.cholesky(C))
        return a, s, torch.softmax(logw + logn, dim=1), sol, (shape, dt)

    def score_t(self, x, t, schedule) -> torch.Tensor:
        """``grad log p_t(x) = -sum_k r_k(x) C_k^{-1} (x - alpha mu_k)``, ``C_k = alpha^2 S_k + sigma^2 I``."""
        _, _, r, sol, (shape, dt) = self._posterior(x, t, schedule)
        return -(r[..., None] * sol).sum(1).reshape(shape).to(dt)

    def eps_t(self, x, t, schedule) -> torch.Tensor:
        """``E[eps | x_t] = -sigma_t grad log p_t(x_t)`` (Tweedie for the noise; 0 at sigma = 0)."""
        _, s, r, sol, (shape, dt) = self._posterior(x, t, schedule)
        return (s * (r[..., None] * sol).sum(1)).reshape(shape).to(dt)

    def denoiser(self, x, t, schedule) -> torch.Tensor:
        """``E[x0 | x_t] = sum_k r_k [mu_k + alpha S_k C_k^{-1} (x_t - alpha mu_k)]`` (Tweedie / Efron 2011;
        the same as ``(x + sigma^2 score_t) / alpha`` when alpha > 0, Karras et al. 2022, eq. 3).
        Identity at sigma = 0, the mixture mean at alpha = 0."""
        a, _, r, sol, (shape, dt) = self._posterior(x, t, schedule)
        S = self.covs.to(sol.device)
        post = self.means.to(sol.device) + a[:, :, None] * (S @ sol[..., None])[..., 0]  # (n, K, d)
        return (r[..., None] * post).sum(1).reshape(shape).to(dt)

    def as_denoiser(self, schedule):
        """The exact denoiser as a callable ``D(x, t) = E[x0 | x_t = x]`` for samplers."""
        return lambda x, t: self.denoiser(x, t, schedule)


# ---------------------------------------------------------------------------- the training set itself
class EmpiricalDistribution:
    """A training set as a distribution: ``p(x0) = (1/n) sum_i delta(x0 - x_i)``, ``points`` (n, ...) with n >= 1.

    Its diffused marginal is the Gaussian mixture ``p_t = (1/n) sum_i N(alpha_t x_i, sigma_t^2 I)``, so its
    denoiser is exact: the *optimal empirical denoiser*, the exact minimiser of the denoising loss over
    this finite set (Karras et al. 2022, App. B.3), which can only reproduce training points (Kadkhodaie
    et al. 2024, "Generalization in diffusion models arises from geometry-adaptive harmonic
    representations"). Trailing dims are flattened internally; results come back in ``x``'s shape and
    dtype (float64 when ``x`` is not floating), computed in float64 because the weights are a softmax of
    ``-||x - alpha x_i||^2 / (2 sigma^2)``, which spans hundreds of nats at small sigma.
    """

    # rows of x processed at once: a chunk's (rows, n) float64 distance matrix stays near 32 MB
    _CHUNK_ELEMENTS = 2 ** 22

    def __init__(self, points):
        p = points if isinstance(points, torch.Tensor) else torch.as_tensor(points, dtype=F64)
        if p.dim() < 2 or p.shape[0] < 1 or p[0].numel() < 1:
            raise ValueError(f"points must have shape (n, ...) with n >= 1 and a non-empty event, got {tuple(p.shape)}")
        p = p.detach().to(F64)
        if not bool(torch.isfinite(p).all()):
            raise ValueError("points must be finite (no NaN or inf)")
        self.event_shape = tuple(p.shape[1:])
        self.points = p.reshape(p.shape[0], -1)
        self._sq = (self.points ** 2).sum(1)  # ||x_i||^2, reused by every distance computation

    @property
    def n(self) -> int:
        """Number of training points."""
        return self.points.shape[0]

    def __repr__(self):
        return f"EmpiricalDistribution(n={self.n}, event_shape={self.event_shape})"

    def mean(self) -> torch.Tensor:
        """The training mean ``(1/n) sum_i x_i`` (the denoiser's limit when alpha_t -> 0), in the event shape."""
        return self.points.mean(0).reshape(self.event_shape)

    def sample(self, n: int, generator=None) -> torch.Tensor:
        """``n`` training points drawn uniformly with replacement (float64, shape (n, *event_shape))."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        idx = torch.randint(self.n, (n,), generator=generator)
        return self.points[idx.to(self.points.device)].reshape(n, *self.event_shape)

    def _x(self, x):
        x = x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=F64)
        k = len(self.event_shape)
        if x.dim() < k or tuple(x.shape[x.dim() - k:]) != self.event_shape:
            raise ValueError(f"x must have shape (..., {', '.join(map(str, self.event_shape))}), got {tuple(x.shape)}")
        return x.reshape(-1, self.points.shape[1]).to(F64), x.shape, _out_dtype(x)

    def _chunks(self, m):
        step = max(1, self._CHUNK_ELEMENTS // self.n)
        return [(i, min(i + step, m)) for i in range(0, m, step)]

    def _sqdist(self, x, a, P, sq):
        """``||x - a x_i||^2`` (rows, n) by the expansion ``||x||^2 - 2a x.x_i + a^2 ||x_i||^2`` (one matmul,
        no (rows, n, d) tensor); clamped at 0 since rounding can make a tiny distance negative."""
        return ((x * x).sum(1, keepdim=True) - 2 * a * (x @ P.T) + a * a * sq).clamp(min=0)

    def _coeffs(self, x64, t, schedule):
        m, tt = x64.shape[0], _t64(t, x64.device)
        if not (tt.dim() == 0 or tt.shape == (m,)):
            raise ValueError(f"t must be a float or a tensor of shape [n] = [{m}], got {tuple(tt.shape)}")
        a = schedule.alpha(tt).reshape(-1, 1).expand(m, 1)
        s = schedule.sigma(tt).reshape(-1, 1).expand(m, 1)
        return a, s

    def _weights(self, x, a, s, P, sq):
        """Posterior weights ``r_i = softmax_i(-||x - a x_i||^2 / (2 s^2))`` (rows, n) and the distances."""
        d2 = self._sqdist(x, a, P, sq)
        zero = s == 0
        r = torch.softmax(-d2 / (2 * torch.where(zero, torch.ones_like(s), s) ** 2), dim=1)  # logsumexp-stable
        # sigma = 0: x_t = alpha x0 exactly, the posterior is a point mass on the nearest point (no 0/0)
        onehot = torch.zeros_like(r).scatter_(1, d2.argmin(1, keepdim=True), 1.0)
        return torch.where(zero, onehot, r), d2

    def denoiser(self, x, t, schedule) -> torch.Tensor:
        """``E[x0 | x_t = x] = sum_i r_i(x) x_i``, ``r_i = softmax_i(-||x - alpha_t x_i||^2 / (2 sigma_t^2))``:
        Bayes' rule with a uniform prior over the points (Karras et al. 2022, App. B.3).
        The nearest training point at sigma = 0, the training mean at alpha = 0. ``t``: float or shape [rows]."""
        x64, shape, dt = self._x(x)
        return self._denoise(x64, *self._coeffs(x64, t, schedule)).reshape(shape).to(dt)

    def _denoise(self, x64, a, s):
        P, sq = self.points.to(x64.device), self._sq.to(x64.device)
        out = torch.empty_like(x64)
        for i, j in self._chunks(x64.shape[0]):
            out[i:j] = self._weights(x64[i:j], a[i:j], s[i:j], P, sq)[0] @ P
        return out

    def score_t(self, x, t, schedule) -> torch.Tensor:
        """``grad log p_t(x) = (alpha_t D(x, t) - x) / sigma_t^2`` (Tweedie; Efron 2011, Karras et al. 2022, eq. 3).
        Undefined at sigma_t = 0 (a sum of Diracs has no score): ValueError."""
        x64, shape, dt = self._x(x)
        a, s = self._coeffs(x64, t, schedule)
        if bool((s == 0).any()):
            raise ValueError("t: the score of an empirical distribution is undefined where sigma_t = 0")
        return ((a * self._denoise(x64, a, s) - x64) / (s * s)).reshape(shape).to(dt)

    def log_prob_t(self, x, t, schedule) -> torch.Tensor:
        """``log p_t(x) = logsumexp_i(-||x - alpha_t x_i||^2 / (2 sigma_t^2)) - log n - (d/2) log(2 pi sigma_t^2)``,
        shape ``x``'s batch shape; ValueError at sigma_t = 0 (no density)."""
        x64, shape, dt = self._x(x)
        a, s = self._coeffs(x64, t, schedule)
        if bool((s == 0).any()):
            raise ValueError("t: an empirical distribution has no density where sigma_t = 0")
        P, sq, d = self.points.to(x64.device), self._sq.to(x64.device), x64.shape[1]
        out = torch.empty(x64.shape[0], dtype=F64, device=x64.device)
        for i, j in self._chunks(x64.shape[0]):
            si = s[i:j, 0]
            lse = torch.logsumexp(-self._sqdist(x64[i:j], a[i:j], P, sq) / (2 * si[:, None] ** 2), dim=1)
            out[i:j] = lse - math.log(self.n) - 0.5 * d * torch.log(2 * math.pi * si * si)
        return out.reshape(shape[: len(shape) - len(self.event_shape)]).to(dt)

    def as_denoiser(self, schedule):
        """The optimal empirical denoiser as a callable ``D(x, t)`` for samplers."""
        return lambda x, t: self.denoiser(x, t, schedule)

    def nearest(self, x):
        """``(index, distance)`` of the nearest training point to each ``x`` (Euclidean, over the flattened
        event), both of ``x``'s batch shape: the memorisation check of Kadkhodaie et al. 2024."""
        x64, shape, dt = self._x(x)
        P, sq = self.points.to(x64.device), self._sq.to(x64.device)
        idx = torch.empty(x64.shape[0], dtype=torch.long, device=x64.device)
        dist = torch.empty(x64.shape[0], dtype=F64, device=x64.device)
        one = torch.ones(1, 1, dtype=F64, device=x64.device)
        for i, j in self._chunks(x64.shape[0]):
            d2 = self._sqdist(x64[i:j], one, P, sq)
            idx[i:j] = d2.argmin(1)
            # recompute the winner's distance directly: the expansion loses digits for near-duplicates
            dist[i:j] = (x64[i:j] - P[idx[i:j]]).norm(dim=1)
        batch = shape[: len(shape) - len(self.event_shape)]
        return idx.reshape(batch), dist.reshape(batch).to(dt)
