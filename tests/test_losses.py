"""Losses against closed forms: DSM minimum for Gaussian data, weighting identities, DDPM posterior and bound,
sliced / explicit score matching. Data N(0, s^2 I) makes every optimum exact:
E[x0 | x_t] = alpha s^2 x_t / (alpha^2 s^2 + sigma^2), Var[x0 | x_t] = s^2 sigma^2 / (alpha^2 s^2 + sigma^2)."""
import math

import diffusionlab as dl
import pytest
import torch
from diffusionlab import losses

F64 = torch.float64
S = 0.5  # data standard deviation



def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _oracle(schedule, target, s=S):
    """The exact minimiser E[target | x_t] for data N(0, s^2 I), as a net(x, t)."""
    def net(x, t):
        a, sg = schedule.alpha(t)[:, None], schedule.sigma(t)[:, None]
        return dl.convert(a * s**2 * x / (a**2 * s**2 + sg**2), "x0", target, x, a, sg)
    return net


def _min_loss(schedule, t, target, s=S):
    """Per-dimension E Var[target | x_t] = mse_factor * Var[x0 | x_t]."""
    t = torch.as_tensor(t, dtype=F64)
    a, sg = schedule.alpha(t), schedule.sigma(t)
    return losses.mse_factor(schedule, t, target) * s**2 * sg**2 / (a**2 * s**2 + sg**2)


# ----------------------------------------------------------------------------- dsm_loss
@pytest.mark.parametrize("target", losses.LOSS_TARGETS)
def test_dsm_oracle_reaches_the_conditional_variance_at_fixed_t(target):
    sch, g = dl.Cosine(), _gen(1)
    ts = torch.tensor([0.1, 0.4, 0.7, 0.95], dtype=F64)
    n = 20_000
    x0 = S * torch.randn(n * len(ts), 3, generator=g, dtype=F64)
    t = ts.repeat_interleave(n)
    per = losses.dsm_loss(_oracle(sch, target), x0, sch, target=target, t=t, generator=g, reduction="none")
    assert per.shape == (n * len(ts),)
    per = per.reshape(len(ts), n)
    se = per.std(1) / math.sqrt(n)
    assert torch.all((per.mean(1) - _min_loss(sch, ts, target)).abs() < 4 * se)


def test_dsm_oracle_random_t_matches_the_integral():
    sch, g = dl.VPLinear(), _gen(2)
    x0 = S * torch.randn(100_000, 2, generator=g, dtype=F64)
    per = losses.dsm_loss(_oracle(sch, "eps"), x0, sch, generator=g, t_min=0.01, reduction="none")
    grid = torch.linspace(0.01, 1.0, 20_001, dtype=F64)
    expected = torch.trapezoid(_min_loss(sch, grid, "eps"), grid) / 0.99
    assert abs(per.mean() - expected) < 4 * per.std() / math.sqrt(len(per))
    # a worse net has a larger loss on the same draws: the oracle is the minimiser
    best = losses.dsm_loss(_oracle(sch, "eps"), x0, sch, generator=_gen(99))
    worse = losses.dsm_loss(lambda x, t: 0.9 * _oracle(sch, "eps")(x, t), x0, sch, generator=_gen(99))
    assert worse > best


@pytest.mark.parametrize("weighting", ["snr", "min_snr", "edm"])
@pytest.mark.parametrize("schedule", [dl.Cosine(), dl.VPLinear(), dl.EDM()], ids=["cosine", "vp", "edm"])
def test_x0_weightings_are_the_same_loss_whatever_the_target(weighting, schedule):
    # a net that predicts one fixed x0_hat, expressed as eps, x0 or v: with an x0-defined weighting
    # the per-sample losses must agree exactly (Kingma & Gao 2023, eq. 6)
    g = _gen(3)
    x0, x0_hat = torch.randn(64, 2, 3, generator=g, dtype=F64), torch.randn(64, 2, 3, generator=g, dtype=F64)
    t, eps = torch.rand(64, generator=g, dtype=F64) * 0.98 + 0.01, torch.randn(64, 2, 3, generator=g, dtype=F64)

    def net_for(target):
        def net(x, tt):
            a, s = dl.broadcast_to(schedule.alpha(tt), x), dl.broadcast_to(schedule.sigma(tt), x)
            return dl.convert(x0_hat, "x0", target, x, a, s)
        return net

    per = {tg: losses.dsm_loss(net_for(tg), x0, schedule, target=tg, weighting=weighting, t=t, eps=eps,
                               reduction="none") for tg in losses.LOSS_TARGETS}
    torch.testing.assert_close(per["eps"], per["x0"], rtol=1e-9, atol=0)
    torch.testing.assert_close(per["v"], per["x0"], rtol=1e-9, atol=0)
    # and the x0-loss itself carries the documented weight
    x0_mse = ((x0_hat - x0) ** 2).mean((1, 2))
    snr = schedule.snr(t)
    w = {"snr": snr, "min_snr": snr.clamp(max=5.0), "edm": (1 / snr + 0.25) / (0.25 / snr)}[weighting]
    torch.testing.assert_close(per["x0"], w * x0_mse, rtol=1e-9, atol=0)


def test_uniform_weighting_relates_targets_by_snr():
    sch, g = dl.Cosine(), _gen(4)
    x0, x0_hat, eps = (torch.randn(32, 4, generator=g, dtype=F64) for _ in range(3))
    t = torch.rand(32, generator=g, dtype=F64) * 0.9 + 0.05

    def per(target):
        net = lambda x, tt: dl.convert(x0_hat, "x0", target, x, sch.alpha(tt)[:, None], sch.sigma(tt)[:, None])
        return losses.dsm_loss(net, x0, sch, target=target, t=t, eps=eps, reduction="none")

    snr = sch.snr(t)
    torch.testing.assert_close(per("eps"), snr * per("x0"), rtol=1e-9, atol=0)
    torch.testing.assert_close(per("v"), (snr + 1) * per("x0"), rtol=1e-9, atol=0)


def test_dsm_weights_closed_forms_and_finite_edges():
    sch = dl.Cosine()  # alpha(1) = 0 exactly: SNR = 0 unless clipped
    t = torch.tensor([0.0, 0.3, 1.0], dtype=F64)
    snr = torch.exp(sch.logsnr(t))
    w = losses.dsm_weight(sch, t, target="eps", weighting="min_snr", min_snr_gamma=5.0)
    torch.testing.assert_close(w, snr.clamp(max=5.0) / snr)
    w = losses.dsm_weight(sch, t, target="v", weighting="min_snr", min_snr_gamma=5.0)
    torch.testing.assert_close(w, snr.clamp(max=5.0) / (snr + 1))
    w = losses.dsm_weight(sch, t, target="eps", weighting="edm", sigma_data=0.5)
    torch.testing.assert_close(w, 1 + 4 / snr)
    for tg in losses.LOSS_TARGETS:
        for wt in losses.WEIGHTINGS:
            assert torch.isfinite(losses.dsm_weight(sch, t, target=tg, weighting=wt)).all()
    assert torch.equal(losses.dsm_weight(sch, t, target="eps", weighting="snr"), torch.ones(3, dtype=F64))


def test_dsm_draws_are_seeded_and_y_is_passed():
    sch, x0 = dl.Cosine(), torch.randn(8, 2)
    seen = {}

    def net(x, t, y=None):
        seen["y"] = y
        return torch.zeros_like(x)

    a = losses.dsm_loss(net, x0, sch, generator=_gen(5))
    b = losses.dsm_loss(net, x0, sch, generator=_gen(5))
    assert a == b and seen["y"] is None
    losses.dsm_loss(net, x0, sch, y=torch.arange(8))
    assert torch.equal(seen["y"], torch.arange(8))


@pytest.mark.parametrize("kw,name", [({"target": "score"}, "target"), ({"weighting": "elbo"}, "weighting"),
                                     ({"reduction": "sum"}, "reduction"), ({"t_min": 1.0}, "t_min"),
                                     ({"min_snr_gamma": 0.0, "weighting": "min_snr"}, "min_snr_gamma"),
                                     ({"sigma_data": -1.0, "weighting": "edm"}, "sigma_data"),
                                     ({"t": torch.zeros(3)}, "t")])
def test_dsm_bad_input_names_the_parameter(kw, name):
    with pytest.raises(ValueError, match=name):
        losses.dsm_loss(lambda x, t: x, torch.randn(4, 2), dl.Cosine(), **kw)


def test_dsm_wrong_output_shape_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        losses.dsm_loss(lambda x, t: x[:, :1], torch.randn(4, 2), dl.Cosine())


def test_loss_per_time_shapes_and_values():
    sch, g = dl.Cosine(), _gen(6)
    x0 = S * torch.randn(20_000, 2, generator=g, dtype=F64)
    tc, mean, err = losses.loss_per_time(_oracle(sch, "eps"), x0, sch, target="eps", n_bins=8,
                                         samples_per_bin=2000, generator=g)
    assert tc.shape == mean.shape == err.shape == (8,)
    assert torch.all(tc[1:] > tc[:-1]) and tc[0] > 0 and tc[-1] < 1 and torch.all(err > 0)
    # the per-bin mean is the irreducible loss, within 4 standard errors (x0 resampled: slight extra spread)
    assert torch.all((mean - _min_loss(sch, tc, "eps")).abs() < 5 * err)
    with pytest.raises(ValueError, match="n_bins"):
        losses.loss_per_time(_oracle(sch, "eps"), x0, sch, n_bins=0)


# ----------------------------------------------------------------------------- DDPM posterior and bound
def test_gaussian_kl_matches_torch_distributions():
    g = _gen(7)
    mu1, mu2 = torch.randn(5, 3, generator=g, dtype=F64), torch.randn(5, 3, generator=g, dtype=F64)
    v1, v2 = torch.rand(5, 3, generator=g, dtype=F64) + 0.1, torch.rand(5, 3, generator=g, dtype=F64) + 0.1
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mu1, v1.sqrt()),
                                            torch.distributions.Normal(mu2, v2.sqrt())).sum(1)
    torch.testing.assert_close(losses.gaussian_kl(mu1, v1, mu2, v2), ref)
    assert losses.gaussian_kl(mu1, 1.0, mu1, 1.0).abs().max() == 0
    with pytest.raises(ValueError, match="var1"):
        losses.gaussian_kl(mu1, 0.0, mu2, v2)


def test_ddpm_posterior_by_hand():
    sch = dl.Discrete.linear(10, 0.05, 0.3)
    b = sch.betas.tolist()
    abar = [1.0]
    for beta in b:
        abar.append(abar[-1] * (1 - beta))
    x0, xt = torch.tensor([[0.7, -1.2]], dtype=F64), torch.tensor([[0.1, 0.4]], dtype=F64)
    for i in (1, 4, 10):
        mean, var = losses.ddpm_posterior(sch, x0, xt, i)
        c0 = math.sqrt(abar[i - 1]) * b[i - 1] / (1 - abar[i])
        ct = math.sqrt(1 - b[i - 1]) * (1 - abar[i - 1]) / (1 - abar[i])
        torch.testing.assert_close(mean, c0 * x0 + ct * xt, rtol=1e-12, atol=1e-12)
        assert var.item() == pytest.approx((1 - abar[i - 1]) / (1 - abar[i]) * b[i - 1], rel=1e-12, abs=1e-15)
    mean, var = losses.ddpm_posterior(sch, x0, xt, 1)
    assert var.item() == 0 and torch.allclose(mean, x0)  # x_0 is known at the last step
    # one step per sample
    mean, var = losses.ddpm_posterior(sch, x0.repeat(2, 1), xt.repeat(2, 1), torch.tensor([4, 10]))
    assert var.shape == (2, 1)
    for bad in (0, 11, 2.5):
        with pytest.raises(ValueError, match="i must"):
            losses.ddpm_posterior(sch, x0, xt, bad)
    with pytest.raises(ValueError, match="schedule"):
        losses.ddpm_posterior(dl.Cosine(), x0, xt, 1)


def test_ddpm_posterior_by_monte_carlo_regression():
    # sample x_{i-1} ~ q(x_{i-1} | x0), then x_i ~ q(x_i | x_{i-1}); regressing x_{i-1} on x_i (x0 fixed)
    # must give the posterior's slope, intercept and residual variance
    sch, g, i, x0 = dl.Discrete.linear(10, 0.05, 0.3), _gen(8), 5, 0.8
    n = 400_000
    abar_prev = sch.alpha((i - 1) / 10).item() ** 2
    beta = sch.betas[i - 1].item()
    prev = math.sqrt(abar_prev) * x0 + math.sqrt(1 - abar_prev) * torch.randn(n, generator=g, dtype=F64)
    xi = math.sqrt(1 - beta) * prev + math.sqrt(beta) * torch.randn(n, generator=g, dtype=F64)
    cov = torch.cov(torch.stack([xi, prev]))
    slope = cov[0, 1] / cov[0, 0]
    intercept = prev.mean() - slope * xi.mean()
    resid = cov[1, 1] - slope * cov[0, 1]
    zero = torch.zeros(1, 1, dtype=F64)
    c0 = losses.ddpm_posterior(sch, zero + 1, zero, i)[0].item()
    ct, var = (v.item() for v in losses.ddpm_posterior(sch, zero, zero + 1, i))
    assert slope.item() == pytest.approx(ct, abs=5e-3)
    assert intercept.item() == pytest.approx(c0 * x0, abs=5e-3)
    assert resid.item() == pytest.approx(var, rel=1e-2)


def _exact_gap_per_dim(sch, s):
    """E[bound] - H(x0) per dimension for N(0, s^2) data and the oracle mean with the small variance: the
    KL between q(x_{0:T}) and p(x_{0:T}), which factorises into Gaussian KLs (their means agree)."""
    b = sch.betas
    abar = torch.cumprod(1 - b, 0)
    abar_prev = torch.cat([torch.ones(1, dtype=F64), abar[:-1]])
    V = s**2 * (1 - abar) / (abar * s**2 + 1 - abar)  # Var[x0 | x_i]
    c0 = abar_prev.sqrt() * b / (1 - abar)
    bt = (1 - abar_prev) / (1 - abar) * b
    r = c0[1:] ** 2 * V[1:] / bt[1:]  # true reverse variance is bt (1 + r)
    q, v = V[0] / b[0], abar[-1] * s**2 + 1 - abar[-1]
    return (0.5 * (r - torch.log1p(r)).sum() + 0.5 * (q - 1 - torch.log(q)) + 0.5 * (v - 1 - torch.log(v))).item(), r


def test_ddpm_elbo_bounds_the_nll_by_the_exact_gap():
    sch, g, d = dl.Discrete.linear(1000), _gen(9), 2
    x0 = S * torch.randn(1000, d, generator=g, dtype=F64)
    with torch.no_grad():
        terms = losses.ddpm_elbo_terms(_oracle(sch, "eps"), x0, sch, generator=g)
    assert terms["kl"].shape == (1000, 999) and torch.equal(terms["steps"], torch.arange(2, 1001))
    assert terms["prior"].abs().max() < 1e-3  # alpha_bar_T ~ 4e-5: x_T is almost exactly N(0, I)
    bound = terms["prior"] + terms["recon"] + terms["kl"].sum(1)
    nll = (0.5 * (x0 / S) ** 2 + 0.5 * math.log(2 * math.pi * S**2)).sum(1)
    gap, r = _exact_gap_per_dim(sch, S)
    se = (bound - nll).std() / math.sqrt(len(x0))
    assert (bound - nll).mean() > 0  # the bound is a bound...
    assert abs((bound - nll).mean() - d * gap) < 4 * se  # ...with exactly the gap of the fixed variance
    # each KL term on average is d r_i / 2 (r_i = extra reverse variance / beta_tilde_i)
    kl_sum = terms["kl"].sum(1)
    assert abs(kl_sum.mean() - d * 0.5 * r.sum()) < 4 * kl_sum.std() / math.sqrt(len(x0))


def test_ddpm_elbo_sums_its_terms_and_validates():
    sch, x0 = dl.Discrete.linear(20, 1e-3, 0.3), S * torch.randn(50, 2, generator=_gen(10), dtype=F64)
    net = _oracle(sch, "v")
    terms = losses.ddpm_elbo_terms(net, x0, sch, target="v", generator=_gen(11), max_rows=64)
    total = losses.ddpm_elbo(net, x0, sch, target="v", generator=_gen(11), max_rows=64)
    torch.testing.assert_close(total, terms["prior"] + terms["recon"] + terms["kl"].sum(1))
    sub = losses.ddpm_elbo_terms(net, x0, sch, target="v", steps=[2, 10, 20], generator=_gen(11))
    assert sub["kl"].shape == (50, 3)
    with pytest.raises(ValueError, match="steps"):
        losses.ddpm_elbo_terms(net, x0, sch, steps=[1, 2])
    with pytest.raises(ValueError, match="schedule"):
        losses.ddpm_elbo(net, x0, dl.Cosine())


# ----------------------------------------------------------------------------- score matching
@pytest.mark.parametrize("variance_reduced,n_proj", [(True, 1), (False, 4)])
def test_sliced_score_matching_closed_form(variance_reduced, n_proj):
    # exact score -x / s^2: E[v^T J v] = -d / s^2 and E[0.5 (v^T s)^2] = E[0.5 ||s||^2] = d / (2 s^2)
    g, d, n = _gen(12), 3, 40_000
    x = S * torch.randn(n, d, generator=g, dtype=F64)
    exact = lambda z: -z / S**2
    wrong = lambda z: -z / (2 * S) ** 2
    kw = {"n_projections": n_proj, "variance_reduced": variance_reduced, "reduction": "none"}
    per = losses.sliced_score_matching(exact, x, generator=g, **kw)
    assert per.shape == (n,)
    assert abs(per.mean() + d / (2 * S**2)) < 4 * per.std() / math.sqrt(n)
    # SSM = ESM - 0.5 E||grad log p||^2: the difference between two models equals the ESM difference
    per_w = losses.sliced_score_matching(wrong, x, generator=_gen(112), **kw)
    esm = losses.explicit_score_matching(wrong, x, exact)
    diff = per_w - per
    assert abs(diff.mean() - esm) < 4 * diff.std() / math.sqrt(n) + 1e-12
    assert per_w.mean() > per.mean()
    assert losses.explicit_score_matching(exact, x, exact) == 0


def test_sliced_score_matching_trains_a_linear_score():
    # s(x) = -c x: SSM-VR = -c d + 0.5 c^2 E||x||^2, minimised at c = 1 / s^2 = 4; gradients flow to c
    g, x = _gen(13), S * torch.randn(4000, 2, generator=_gen(14), dtype=F64)
    c = torch.tensor(1.0, dtype=F64, requires_grad=True)
    opt = torch.optim.SGD([c], lr=0.5)  # the objective is quadratic in c: SGD contracts by 0.75 per step
    for _ in range(60):
        opt.zero_grad()
        losses.sliced_score_matching(lambda z: -c * z, x, generator=g).backward()
        opt.step()
    assert c.item() == pytest.approx(1 / ((x**2).mean().item()), rel=0.02)


def test_score_matching_bad_input():
    with pytest.raises(ValueError, match="n_projections"):
        losses.sliced_score_matching(lambda z: -z, torch.randn(4, 2), n_projections=0)
    with pytest.raises(ValueError, match="shape"):
        losses.sliced_score_matching(lambda z: z.sum(1), torch.randn(4, 2))
    with pytest.raises(ValueError, match="reduction"):
        losses.explicit_score_matching(lambda z: -z, torch.randn(4, 2), lambda z: -z, reduction="sum")
