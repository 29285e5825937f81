"""Gaussian mixtures: exact density, score, marginals and Tweedie denoiser, checked against scipy,
autograd, closed forms and Monte Carlo (tolerances are 5 standard errors of the estimate)."""
import math

import diffusionlab as dl
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal, norm

F64 = torch.float64
N_MC = 200_000


def _skewed_2d():
    """Three full-covariance components with unequal weights: nothing isotropic to hide behind."""
    covs = torch.tensor([[[0.5, 0.2], [0.2, 0.3]], [[0.1, -0.05], [-0.05, 0.2]], [[1.0, 0.0], [0.0, 0.05]]])
    return dl.GaussianMixture([0.2, 0.5, 0.3], [[-1.0, 0.5], [1.0, 1.0], [0.0, -1.5]], covs)


MIXTURES = {"skewed_2d": _skewed_2d(), "ring": dl.GaussianMixture.ring(), "two_modes": dl.GaussianMixture.two_modes(),
            "std_normal_3d": dl.GaussianMixture.standard_normal(3)}
ALL = pytest.mark.parametrize("gm", list(MIXTURES.values()), ids=list(MIXTURES))


def _points(gm, n=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 1.5 * torch.randn(n, gm.d, generator=g, dtype=F64) + gm.mean()


@ALL
def test_log_prob_matches_scipy(gm):
    x = _points(gm)
    ref = sum(w * multivariate_normal(m, c).pdf(x.numpy())
              for w, m, c in zip(gm.weights.numpy(), gm.means.numpy(), gm.covs.numpy()))
    np.testing.assert_allclose(gm.log_prob(x).numpy(), np.log(ref), rtol=1e-10)
    assert gm.log_prob(x[0]).dim() == 0  # a single point (d,) gives a scalar


@ALL
def test_score_matches_autograd(gm):
    x = _points(gm).requires_grad_(True)
    (grad,) = torch.autograd.grad(gm.log_prob(x).sum(), x)
    torch.testing.assert_close(gm.score(x.detach()), grad, rtol=1e-9, atol=1e-10)


@ALL
def test_samples_mean_and_cov_match_closed_form(gm):
    x = gm.sample(N_MC, torch.Generator().manual_seed(1))
    assert x.shape == (N_MC, gm.d) and x.dtype == F64
    se_mean = (gm.cov().diagonal() / N_MC).sqrt()
    assert torch.all((x.mean(0) - gm.mean()).abs() < 5 * se_mean)
    xc = x - x.mean(0)
    prods = xc[:, :, None] * xc[:, None, :]
    se_cov = prods.std(0) / math.sqrt(N_MC)
    assert torch.all((prods.mean(0) - gm.cov()).abs() < 5 * se_cov)


def test_mean_and_cov_closed_form_by_hand():
    gm = dl.GaussianMixture.two_modes()
    m = 0.3 * -2.0 + 0.7 * 1.5
    var = 0.3 * (0.09 + 4.0) + 0.7 * (0.25 + 2.25) - m * m
    assert gm.mean().item() == pytest.approx(m, rel=1e-14)
    assert gm.cov().item() == pytest.approx(var, rel=1e-14)


@pytest.mark.parametrize("t", [0.0, 0.3, 0.7, 1.0])
def test_marginal_at_t_matches_monte_carlo(t):
    gm, sched = _skewed_2d(), dl.Cosine()
    g = torch.Generator().manual_seed(2)
    x0 = gm.sample(N_MC, g)
    xt, _ = dl.noisy(x0, t, sched, generator=g)
    mt = gm.at(sched, t)
    se_mean = (mt.cov().diagonal() / N_MC).sqrt()
    assert torch.all((xt.mean(0) - mt.mean()).abs() < 5 * se_mean)
    xc = xt - xt.mean(0)
    prods = xc[:, :, None] * xc[:, None, :]
    assert torch.all((prods.mean(0) - mt.cov()).abs() < 5 * prods.std(0) / math.sqrt(N_MC))


def test_marginal_cdf_matches_monte_carlo_in_1d():
    """The whole 1-D marginal, not just two moments: empirical CDF vs sum_k w_k Phi((c - a mu_k) / sqrt(C_k))."""
    gm, sched, t = dl.GaussianMixture.two_modes(), dl.VPLinear(), 0.2
    g = torch.Generator().manual_seed(3)
    xt, _ = dl.noisy(gm.sample(N_MC, g), t, sched, generator=g)
    mt = gm.at(sched, t)
    a, s = sched.alpha(t).item(), sched.sigma(t).item()
    for c in (-2.0, -1.0, 0.0, 1.0, 2.0):
        cdf = sum(w * norm.cdf(c, a * m, math.sqrt(a * a * v + s * s))
                  for w, m, v in zip([0.3, 0.7], [-2.0, 1.5], [0.09, 0.25]))
        emp = (xt < c).double().mean().item()
        assert abs(emp - cdf) < 5 * math.sqrt(cdf * (1 - cdf) / N_MC)
    torch.testing.assert_close(mt.means[:, 0], a * torch.tensor([-2.0, 1.5], dtype=F64))


SCHEDULES = [dl.Cosine(), dl.VPLinear(), dl.VE(), dl.ZeroTerminalSNR(dl.Discrete.linear())]


@ALL
@pytest.mark.parametrize("sched", SCHEDULES, ids=repr)
def test_tweedie_identity_and_eps(gm, sched):
    x = _points(gm, n=40)
    t = torch.linspace(0.05, 0.95, 40, dtype=F64)  # one t per row
    a, s = sched.alpha(t)[:, None], sched.sigma(t)[:, None]
    score = gm.score_t(x, t, sched)
    # Tweedie: E[x0 | x_t] = (x_t + sigma^2 grad log p_t) / alpha   (Efron 2011; Karras et al. 2022, eq. 3)
    torch.testing.assert_close(gm.denoiser(x, t, sched), (x + s * s * score) / a, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(gm.eps_t(x, t, sched), -s * score, rtol=1e-10, atol=1e-12)
    # the exact score of the marginal is the score of the mixture returned by at()
    for i in (0, 17, 39):
        torch.testing.assert_close(score[i], gm.at(sched, t[i].item()).score(x[i]), rtol=1e-10, atol=1e-12)


@ALL
def test_denoiser_edges(gm):
    x = _points(gm, n=20)
    vp, zsnr = dl.VPLinear(), dl.ZeroTerminalSNR(dl.Cosine())
    torch.testing.assert_close(gm.denoiser(x, 0.0, vp), x, rtol=0, atol=1e-12)  # sigma = 0: identity
    torch.testing.assert_close(gm.score_t(x, 0.0, vp), gm.score(x), rtol=1e-10, atol=1e-12)
    assert torch.all(gm.eps_t(x, 0.0, vp) == 0)
    for sched in (zsnr, dl.Cosine()):  # alpha(1) = 0: the data mean, whatever x_t is
        d1 = gm.denoiser(x, 1.0, sched)
        assert torch.isfinite(d1).all()
        torch.testing.assert_close(d1, gm.mean().expand_as(x), rtol=0, atol=1e-12)
        torch.testing.assert_close(gm.eps_t(x, 1.0, sched), x, rtol=0, atol=1e-12)  # x_1 = eps


def test_denoiser_matches_importance_weighted_posterior_mean():
    gm, sched, t = _skewed_2d(), dl.Cosine(), 0.55
    a, s = sched.alpha(t).item(), sched.sigma(t).item()
    xt = torch.tensor([[0.3, -0.4]], dtype=F64)
    x0 = gm.sample(N_MC, torch.Generator().manual_seed(4))
    logw = -((xt - a * x0) ** 2).sum(1) / (2 * s * s)  # likelihood N(x_t; a x0, s^2 I)
    w = torch.softmax(logw, 0)
    est = (w[:, None] * x0).sum(0)
    se = ((w[:, None] ** 2 * (x0 - est) ** 2).sum(0)).sqrt()  # self-normalised IS standard error
    ess = 1 / (w**2).sum()
    assert ess > 1000  # the estimate is meaningful
    assert torch.all((gm.denoiser(xt, t, sched)[0] - est).abs() < 5 * se)


@pytest.mark.parametrize("sched", SCHEDULES[:3], ids=repr)
@settings(max_examples=15, deadline=None)
@given(t=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_single_gaussian_has_the_linear_denoiser(sched, t, seed):
    mu = torch.tensor([0.5, -1.0], dtype=F64)
    S = torch.tensor([[0.6, 0.25], [0.25, 0.4]], dtype=F64)
    gm = dl.GaussianMixture([1.0], mu[None], S[None])
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(seed), dtype=F64)
    a, s = sched.alpha(t), sched.sigma(t)
    C = a * a * S + s * s * torch.eye(2, dtype=F64)
    # E[x0 | x_t] = mu + a S C^{-1} (x_t - a mu)  (Gaussian conditioning)
    ref = mu + a * (S @ torch.linalg.solve(C, (x - a * mu).T)).T
    torch.testing.assert_close(gm.denoiser(x, t, sched), ref, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(gm.score_t(x, t, sched), -torch.linalg.solve(C, (x - a * mu).T).T,
                               rtol=1e-9, atol=1e-10)
    std = dl.GaussianMixture.standard_normal(2)  # N(0, I): D(x) = a x / (a^2 + s^2)
    torch.testing.assert_close(std.denoiser(x, t, sched), a * x / (a * a + s * s), rtol=1e-9, atol=1e-12)


def test_per_row_times_agree_with_scalar_times_and_dtype_follows_x():
    gm, sched = dl.GaussianMixture.ring(), dl.Cosine()
    x = _points(gm, n=6)
    t = torch.tensor([0.0, 0.1, 0.4, 0.4, 0.9, 1.0], dtype=F64)
    D = gm.as_denoiser(sched)
    rows = torch.stack([D(x[i:i + 1], t[i].item())[0] for i in range(6)])
    torch.testing.assert_close(D(x, t), rows, rtol=1e-12, atol=1e-12)
    out = gm.denoiser(x.float(), t.float(), sched)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, D(x, t).float(), rtol=1e-5, atol=1e-5)
    assert gm.score(x.float()).dtype == torch.float32 and gm.log_prob(x.float()).dtype == torch.float32


def test_entropy_mc_matches_the_gaussian_entropy():
    gm = dl.GaussianMixture.standard_normal(3)
    n = 100_000
    h = gm.entropy_mc(n, torch.Generator().manual_seed(5)).item()
    exact = 0.5 * 3 * math.log(2 * math.pi * math.e)
    assert abs(h - exact) < 5 * math.sqrt(3 / 2 / n)  # Var[log N(x; 0, I_d)] = d / 2
    # scaling a distribution by c adds d log c to its entropy
    wide = dl.GaussianMixture.isotropic([1.0], [[0.0, 0.0, 0.0]], 2.0)
    assert abs(wide.entropy_mc(n, torch.Generator().manual_seed(5)).item() - (exact + 3 * math.log(2.0))) < 0.02


def test_constructors():
    ring = dl.GaussianMixture.ring(n_modes=6, radius=3.0, std=0.1)
    assert (ring.K, ring.d) == (6, 2) and repr(ring) == "GaussianMixture(K=6, d=2)"
    torch.testing.assert_close(ring.means.norm(dim=1), torch.full((6,), 3.0, dtype=F64))
    torch.testing.assert_close(ring.covs, 0.01 * torch.eye(2, dtype=F64).expand(6, 2, 2))
    torch.testing.assert_close(ring.mean(), torch.zeros(2, dtype=F64), rtol=0, atol=1e-14)
    two = dl.GaussianMixture.two_modes()
    assert (two.K, two.d) == (2, 1)
    gm = dl.GaussianMixture([2.0, 6.0], [[0.0], [1.0]], torch.ones(2, 1, 1))
    torch.testing.assert_close(gm.weights, torch.tensor([0.25, 0.75], dtype=F64))  # normalised


@pytest.mark.parametrize("make,name", [
    (lambda: dl.GaussianMixture([0.5, -0.5], [[0.0], [1.0]], torch.ones(2, 1, 1)), "weights"),
    (lambda: dl.GaussianMixture([0.5, 0.0], [[0.0], [1.0]], torch.ones(2, 1, 1)), "weights"),
    (lambda: dl.GaussianMixture([], torch.zeros(0, 1), torch.ones(0, 1, 1)), "weights"),
    (lambda: dl.GaussianMixture([1.0, 1.0], [[0.0, 1.0]], torch.ones(2, 2, 2)), "means"),
    (lambda: dl.GaussianMixture([1.0], [[0.0, 0.0]], torch.ones(1, 1, 1)), "covs"),
    (lambda: dl.GaussianMixture([1.0], [[0.0, 0.0]], torch.tensor([[[1.0, 2.0], [2.0, 1.0]]])), "covs"),
    (lambda: dl.GaussianMixture([1.0], [[0.0, 0.0]], torch.tensor([[[1.0, 0.5], [0.0, 1.0]]])), "covs"),
    (lambda: dl.GaussianMixture.isotropic([1.0], [[0.0]], 0.0), "stds"),
    (lambda: dl.GaussianMixture.ring(n_modes=0), "n_modes"),
    (lambda: dl.GaussianMixture.standard_normal(0), "d"),
    (lambda: dl.GaussianMixture.ring().sample(0), "n"),
    (lambda: dl.GaussianMixture.ring().sample(2.0), "n"),
    (lambda: dl.GaussianMixture.ring().log_prob(torch.zeros(4, 3)), "x"),
    (lambda: dl.GaussianMixture.ring().denoiser(torch.zeros(4, 2), torch.zeros(3), dl.Cosine()), "t"),
    (lambda: dl.GaussianMixture.ring().denoiser(torch.zeros(4, 2), 1.2, dl.Cosine()), r"t must be in \[0, 1\]"),
    (lambda: dl.GaussianMixture.ring().at(dl.Cosine(), torch.zeros(2)), "t"),
])
def test_bad_inputs_raise(make, name):
    with pytest.raises(ValueError, match=name):
        make()
