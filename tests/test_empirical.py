"""dl.EmpiricalDistribution: the optimal empirical denoiser against brute force, its limits (training mean,
nearest point), score and log-density against autograd and the equivalent Gaussian mixture, shapes, chunking,
nearest(), sample(), bad inputs; and the exact answer behind it all: the exact denoiser is the minimiser of
the denoising (DSM) loss, up to sampling error (the normal equations of the least-squares problem hold)."""
import math

import diffusionlab as dl
import pytest
import torch

F64 = torch.float64
SCHEDS = [dl.Cosine(), dl.VPLinear()]


def _randn(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _weights(P, x, a, s):
    """Brute force: r_i = softmax_i(-||x - a x_i||^2 / (2 s^2)), distances from the direct difference."""
    d2 = ((x[:, None, :] - a * P[None]) ** 2).sum(-1)
    return torch.softmax(-d2 / (2 * s * s), dim=1)


def _as(sched, t):
    return sched.alpha(t).item(), sched.sigma(t).item()


# ----------------------------------------------------------------------------- the denoiser
@pytest.mark.parametrize("sched", SCHEDS, ids=repr)
@pytest.mark.parametrize("t", [0.02, 0.1, 0.3, 0.6, 0.9, 0.99])
def test_denoiser_is_the_softmax_weighted_average(sched, t):
    P, x = _randn(30, 3, seed=1), 1.5 * _randn(40, 3, seed=2)
    emp = dl.EmpiricalDistribution(P)
    a, s = _as(sched, t)
    want = _weights(P, x, a, s) @ P
    got = emp.denoiser(x, t, sched)
    assert got.dtype == F64 and got.shape == x.shape
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(emp.as_denoiser(sched)(x, t), got, rtol=0, atol=0)


def test_per_row_times_agree_with_scalar_times():
    sched = dl.Cosine()
    P, x = _randn(25, 2, seed=1), _randn(6, 2, seed=2)
    emp = dl.EmpiricalDistribution(P)
    t = torch.tensor([0.0, 0.05, 0.3, 0.3, 0.8, 1.0], dtype=F64)
    rows = torch.stack([emp.denoiser(x[i:i + 1], t[i].item(), sched)[0] for i in range(6)])
    torch.testing.assert_close(emp.denoiser(x, t, sched), rows, rtol=1e-12, atol=1e-12)
    scores = torch.stack([emp.score_t(x[i:i + 1], t[i].item(), sched)[0] for i in range(1, 6)])
    torch.testing.assert_close(emp.score_t(x[1:], t[1:], sched), scores, rtol=1e-12, atol=1e-12)


def test_pure_noise_limit_is_the_training_mean():
    P = _randn(50, 2, seed=1) + torch.tensor([2.0, -1.0], dtype=F64)
    emp = dl.EmpiricalDistribution(P)
    x = 3 * _randn(20, 2, seed=2)
    m = P.mean(0)
    torch.testing.assert_close(emp.mean(), m, rtol=0, atol=0)
    for sched in (dl.Cosine(), dl.ZeroTerminalSNR(dl.VPLinear())):  # alpha(1) = 0 exactly
        torch.testing.assert_close(emp.denoiser(x, 1.0, sched), m.expand_as(x), rtol=0, atol=1e-12)
    # VPLinear never reaches alpha = 0: the error shrinks with alpha_t as t -> 1
    vp = dl.VPLinear()
    errs = [(emp.denoiser(x, t, vp) - m).norm(dim=1).max().item() for t in (0.6, 0.8, 0.95, 1.0)]
    assert errs == sorted(errs, reverse=True) and errs[-1] < 0.1  # alpha(1) = 0.0067


def _grid_points():
    """Training points on a unit grid and queries 0.1 away from one of them: a clear nearest neighbour."""
    g = torch.stack(torch.meshgrid(torch.arange(5.0), torch.arange(4.0), indexing="ij"), -1).reshape(-1, 2).double()
    idx = torch.tensor([0, 7, 13, 19, 3])
    offsets = torch.tensor([[0.1, 0.0], [-0.05, 0.08], [0.0, -0.1], [0.07, 0.07], [-0.1, 0.02]], dtype=F64)
    return g, idx, g[idx] + offsets


@pytest.mark.parametrize("sched", SCHEDS, ids=repr)
def test_small_noise_returns_the_nearest_training_point(sched):
    P, idx, x = _grid_points()
    emp = dl.EmpiricalDistribution(P)
    for t in (1e-3, 0.01):
        a = sched.alpha(t).item()
        torch.testing.assert_close(emp.denoiser(a * x, t, sched), P[idx], rtol=0, atol=1e-12)


def test_sigma_zero_returns_the_nearest_point_without_nan():
    P, idx, x = _grid_points()
    emp = dl.EmpiricalDistribution(P)
    for sched in (dl.VPLinear(), dl.Cosine(), dl.Discrete.linear()):  # sigma(0) = 0, alpha(0) = 1
        assert sched.sigma(0.0).item() == 0.0
        out = emp.denoiser(x, 0.0, sched)
        assert torch.equal(out, P[idx])
        far = emp.denoiser(x + 1e4, 0.0, sched)  # every softmax logit would be -inf: still no NaN
        assert bool(torch.isfinite(far).all()) and torch.equal(far, P[-1].expand(5, 2))
    tiny = emp.denoiser(x, 1e-9, dl.VPLinear())  # sigma ~ 1e-5: logits of -1e8, logsumexp-stable
    assert torch.equal(tiny, P[idx])
    mixed = emp.denoiser(x, torch.tensor([0.0, 0.5, 0.0, 0.5, 0.0], dtype=F64), dl.VPLinear())
    assert torch.equal(mixed[[0, 2, 4]], P[idx[[0, 2, 4]]]) and bool(torch.isfinite(mixed).all())


# ----------------------------------------------------------------------------- score and log-density
@pytest.mark.parametrize("sched", SCHEDS, ids=repr)
@pytest.mark.parametrize("t", [0.05, 0.4, 0.95])
def test_score_is_the_gradient_of_log_prob(sched, t):
    P = _randn(20, 3, seed=1)
    emp = dl.EmpiricalDistribution(P)
    x = _randn(15, 3, seed=2).requires_grad_(True)
    (grad,) = torch.autograd.grad(emp.log_prob_t(x, t, sched).sum(), x)
    torch.testing.assert_close(emp.score_t(x.detach(), t, sched), grad, rtol=1e-9, atol=1e-9)


def test_score_and_log_prob_are_undefined_without_noise():
    emp = dl.EmpiricalDistribution(_randn(5, 2))
    x = _randn(3, 2, seed=1)
    for fn in (emp.score_t, emp.log_prob_t):
        with pytest.raises(ValueError, match="^t: .* sigma_t = 0"):
            fn(x, 0.0, dl.VPLinear())
        with pytest.raises(ValueError, match="^t: "):
            fn(x, torch.tensor([0.5, 0.0, 0.5], dtype=F64), dl.VPLinear())  # one row at sigma = 0 is enough


@pytest.mark.parametrize("sched", SCHEDS + [dl.VE()], ids=repr)
@pytest.mark.parametrize("t", [0.01, 0.2, 0.5, 0.9])
def test_matches_the_gaussian_mixture_of_the_diffused_points(sched, t):
    """p_t = (1/n) sum_i N(alpha_t x_i, sigma_t^2 I): log-density and score equal that mixture's; the denoiser is
    Tweedie's formula on its score, D = (x + sigma^2 score) / alpha."""
    P, x = _randn(12, 2, seed=1), 2 * _randn(30, 2, seed=2)
    emp = dl.EmpiricalDistribution(P)
    a, s = _as(sched, t)
    gm = dl.GaussianMixture.isotropic(torch.ones(12), a * P, s)
    torch.testing.assert_close(emp.log_prob_t(x, t, sched), gm.log_prob(x), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(emp.score_t(x, t, sched), gm.score(x), rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(emp.denoiser(x, t, sched), (x + s * s * gm.score(x)) / a, rtol=1e-8, atol=1e-8)


def test_log_prob_integrates_to_one_in_1d():
    P = torch.tensor([[-1.0], [0.3], [0.5], [2.0]], dtype=F64)
    emp = dl.EmpiricalDistribution(P)
    grid = torch.linspace(-8, 8, 40_001, dtype=F64)[:, None]
    for t in (0.05, 0.3, 0.8):
        dens = emp.log_prob_t(grid, t, dl.Cosine()).exp()
        assert torch.trapezoid(dens, grid[:, 0]).item() == pytest.approx(1.0, abs=1e-8)


# ----------------------------------------------------------------------------- shapes, dtypes, chunks
def test_image_shaped_points():
    images, _ = dl.digits("train")
    emp = dl.EmpiricalDistribution(images[:200])
    assert emp.event_shape == (1, 8, 8) and emp.n == 200 and emp.points.shape == (200, 64)
    assert repr(emp) == "EmpiricalDistribution(n=200, event_shape=(1, 8, 8))"
    assert emp.mean().shape == (1, 8, 8) and emp.mean().dtype == F64
    sched = dl.Cosine()
    x = images[200:205]  # float32
    d = emp.denoiser(x, 0.5, sched)
    assert d.shape == (5, 1, 8, 8) and d.dtype == torch.float32
    assert emp.denoiser(x.double(), 0.5, sched).dtype == F64
    assert emp.denoiser((4 * x).long(), 0.5, sched).dtype == F64  # integers: float64 out
    assert emp.score_t(x, 0.5, sched).shape == (5, 1, 8, 8) and emp.score_t(x, 0.5, sched).dtype == torch.float32
    lp = emp.log_prob_t(x, 0.5, sched)
    assert lp.shape == (5,) and lp.dtype == torch.float32
    torch.testing.assert_close(d, emp.denoiser(x.double(), 0.5, sched).float(), rtol=1e-5, atol=1e-5)
    single = emp.denoiser(x[0], 0.5, sched)  # just the event shape: no batch dimension
    assert single.shape == (1, 8, 8)
    torch.testing.assert_close(single, d[0])
    assert emp.log_prob_t(x[0], 0.5, sched).shape == ()
    grid = emp.denoiser(x.expand(3, 5, 1, 8, 8), 0.5, sched)  # any batch shape
    assert grid.shape == (3, 5, 1, 8, 8) and torch.equal(grid[2], d)
    idx, dist = emp.nearest(images[:7])
    assert torch.equal(idx, torch.arange(7)) and torch.equal(dist, torch.zeros(7))
    assert dist.dtype == torch.float32


def test_chunking_gives_identical_results(monkeypatch):
    sched = dl.Cosine()
    P, x = _randn(40, 5, seed=1), _randn(33, 5, seed=2)
    emp = dl.EmpiricalDistribution(P)
    t_rows = torch.linspace(0.05, 0.95, 33, dtype=F64)

    def everything():
        return (emp.denoiser(x, 0.3, sched), emp.denoiser(x, t_rows, sched), emp.score_t(x, t_rows, sched),
                emp.log_prob_t(x, t_rows, sched), *emp.nearest(x))

    whole = everything()
    assert emp._chunks(33) == [(0, 33)]
    for elements in (1, 45, 200):  # 1 row, 1 row, 5 rows per chunk
        monkeypatch.setattr(dl.EmpiricalDistribution, "_CHUNK_ELEMENTS", elements)
        assert len(emp._chunks(33)) == math.ceil(33 / max(1, elements // 40))
        for a, b in zip(whole, everything()):
            torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)


def test_nearest_is_exact():
    P = _randn(300, 4, seed=1)
    emp = dl.EmpiricalDistribution(P)
    x = _randn(50, 4, seed=2)
    idx, dist = emp.nearest(x)
    D = torch.cdist(x, P, compute_mode="donot_use_mm_for_euclid_dist")
    assert torch.equal(idx, D.argmin(1))
    torch.testing.assert_close(dist, D.min(1).values, rtol=1e-14, atol=0)
    # a training point itself: its own index, distance exactly 0 (recomputed directly, not by the expansion)
    sel = torch.tensor([5, 0, 299, 123])
    idx, dist = emp.nearest(P[sel] + 0.0)
    assert torch.equal(idx, sel) and torch.equal(dist, torch.zeros(4, dtype=F64))
    # a tiny offset keeps its digits (the expansion ||x||^2 - 2 x.y + ||y||^2 alone would give ~1e-8 or 0)
    idx, dist = emp.nearest(P[7] + 1e-12)
    assert idx.item() == 7 and dist.item() == pytest.approx(2e-12, rel=1e-3)
    # large offsets from a far-away cloud
    emp2 = dl.EmpiricalDistribution(P + 1e3)
    idx2, dist2 = emp2.nearest(x + 1e3)
    assert torch.equal(idx2, D.argmin(1))
    torch.testing.assert_close(dist2, D.min(1).values, rtol=1e-9, atol=0)


def test_sample():
    P = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], dtype=F64)
    emp = dl.EmpiricalDistribution(P)
    s = emp.sample(30_000, torch.Generator().manual_seed(0))
    assert s.shape == (30_000, 2) and s.dtype == F64
    hits = (s[:, None, :] == P[None]).all(-1)
    assert bool((hits.sum(1) == 1).all())  # every sample is a training point
    frac = hits.double().mean(0)
    assert torch.all((frac - 1 / 3).abs() < 5 * math.sqrt(2 / 9 / 30_000))  # uniform over the points
    again = emp.sample(30_000, torch.Generator().manual_seed(0))
    assert torch.equal(s, again)
    images = dl.EmpiricalDistribution(torch.zeros(4, 1, 8, 8)).sample(3)
    assert images.shape == (3, 1, 8, 8)


def test_bad_inputs_name_the_parameter():
    for bad in (torch.zeros(5), torch.zeros(0, 2), torch.zeros(3, 0), [], torch.tensor(1.0)):
        with pytest.raises(ValueError, match=r"^points must have shape \(n, \.\.\.\)"):
            dl.EmpiricalDistribution(bad)
    for v in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="^points must be finite"):
            dl.EmpiricalDistribution(torch.tensor([[0.0, 1.0], [v, 0.0]]))
    assert dl.EmpiricalDistribution([[0, 1], [2, 3]]).points.dtype == F64  # lists and integers are fine
    emp, sched = dl.EmpiricalDistribution(_randn(6, 3)), dl.Cosine()
    for x in (torch.zeros(4, 2), torch.zeros(2), torch.tensor(0.0), torch.zeros(4, 3, 1)):
        for fn in (emp.denoiser, emp.score_t, emp.log_prob_t):
            with pytest.raises(ValueError, match=r"^x must have shape \(\.\.\., 3\)"):
                fn(x, 0.5, sched)
        with pytest.raises(ValueError, match=r"^x must have shape"):
            emp.nearest(x)
    img = dl.EmpiricalDistribution(torch.zeros(4, 1, 8, 8))
    with pytest.raises(ValueError, match=r"^x must have shape \(\.\.\., 1, 8, 8\)"):
        img.denoiser(torch.zeros(2, 64), 0.5, sched)
    x = _randn(4, 3)
    for t in (torch.zeros(3), torch.zeros(4, 1), torch.zeros(2, 2)):
        for fn in (emp.denoiser, emp.score_t, emp.log_prob_t):
            with pytest.raises(ValueError, match=r"^t must be a float or a tensor of shape \[n\] = \[4\]"):
                fn(x, t, sched)
    with pytest.raises(ValueError, match=r"^t must be in \[0, 1\]"):
        emp.denoiser(x, 1.5, sched)
    for n in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="^n must be an integer >= 1"):
            emp.sample(n)


# ----------------------------------------------------------------------------- the exact answer: DSM's minimiser
T_FIX, N_MC = 0.4, 200_000


def _ring():
    return dl.GaussianMixture.ring(6, radius=1.5, std=0.3)


def _training_set():
    return dl.EmpiricalDistribution(dl.GaussianMixture.ring(6, radius=1.5, std=0.3).sample(
        20, torch.Generator().manual_seed(10)))


def _pairs(dist, sched, seed):
    """N_MC draws of (x0, x_t) at T_FIX: x0 from the distribution, x_t = alpha x0 + sigma eps."""
    g = torch.Generator().manual_seed(seed)
    x0 = dist.sample(N_MC, g)
    a, s = _as(sched, T_FIX)
    return x0, a * x0 + s * torch.randn(x0.shape, generator=g, dtype=F64)


def _tests(xt):
    """Test functions g(x_t): 1, the coordinates and their tanh, shape (N, 5)."""
    return torch.cat([torch.ones(len(xt), 1, dtype=F64), xt, torch.tanh(xt)], 1)


def _normal_equation_z(resid, xt):
    """z-scores of the MC means of resid_j * g(x_t) over every (test function g, coordinate j)."""
    prods = resid[:, None, :] * _tests(xt)[:, :, None]  # (N, 5, d)
    return prods.mean(0) / (prods.std(0) / math.sqrt(len(xt)))


@pytest.mark.parametrize("which", ["empirical", "mixture"])
def test_exact_denoiser_satisfies_the_normal_equations(which):
    """The minimiser D* of E||D(x_t) - x0||^2 over all functions is E[x0 | x_t], characterised by
    E[(D*(x_t) - x0) g(x_t)] = 0 for every g: for 5 test functions and both coordinates the MC averages are
    within 4 standard errors of 0; a denoiser off by 0.1 tanh(x_t) violates them by tens of standard errors."""
    sched = dl.Cosine()
    dist = _training_set() if which == "empirical" else _ring()
    x0, xt = _pairs(dist, sched, seed=1)
    D = dist.denoiser(xt, T_FIX, sched)
    z = _normal_equation_z(D - x0, xt)
    assert z.abs().max() < 4, z
    z_bad = _normal_equation_z(D + 0.1 * torch.tanh(xt) - x0, xt)
    assert z_bad.abs().max() > 20, z_bad


def _fit_mlp(dist, sched, steps=600):
    """A small MLP trained on DSM (x0 target) at the one fixed time, on 4096 draws of x0 with fresh noise."""
    torch.manual_seed(0)
    net = dl.MLP(dim=2, hidden=64, depth=2, time_dim=16).double()
    data = dist.sample(4096, torch.Generator().manual_seed(3))

    def loss(m, x0, g):
        return dl.dsm_loss(m, x0, sched, target="x0", t=T_FIX, generator=g)

    res = dl.fit(net, loss, data, steps=steps, batch_size=256, lr=3e-3, ema=None, progress=False)
    return res.model


@pytest.mark.parametrize("which", ["empirical", "mixture"])
def test_exact_denoiser_has_the_lowest_dsm_loss(which):
    sched = dl.Cosine()
    dist = _training_set() if which == "empirical" else _ring()
    x0, xt = _pairs(dist, sched, seed=2)
    D = dist.denoiser(xt, T_FIX, sched)

    def mse(pred):
        return ((pred - x0) ** 2).sum(1)  # per-sample x0 squared error

    best = mse(D)
    candidates = {"+0.1 tanh": D + 0.1 * torch.tanh(xt), "+0.05": D + 0.05, "0.95 D": 0.95 * D,
                  "Tweedie of a Gaussian fit": dl.GaussianMixture([1.0], x0.mean(0)[None], torch.cov(x0.T)[None])
                  .denoiser(xt, T_FIX, sched)}
    net = _fit_mlp(dist, sched)
    with torch.no_grad():
        candidates["trained MLP"] = net(xt, torch.full((N_MC,), T_FIX, dtype=F64))
    for name, pred in candidates.items():
        diff = mse(pred) - best  # paired on the same (x0, x_t): a much smaller standard error
        assert diff.mean() > 4 * diff.std() / math.sqrt(N_MC), name
    # the trained net gets most of the way from the best linear (Gaussian) denoiser down to D*
    gap_net = (mse(candidates["trained MLP"]) - best).mean()
    gap_lin = (mse(candidates["Tweedie of a Gaussian fit"]) - best).mean()
    assert gap_net < 0.5 * gap_lin, (gap_net, gap_lin)


def _posterior_variance(emp, xt, sched):
    """Var[x0 | x_t] summed over dims for the empirical distribution: sum_i r_i ||x_i||^2 - ||D||^2."""
    a, s = _as(sched, T_FIX)
    r = _weights(emp.points, xt, a, s)
    return r @ (emp.points ** 2).sum(1) - ((r @ emp.points) ** 2).sum(1)


@pytest.mark.parametrize("target", ["x0", "eps", "v"])
def test_dsm_loss_of_the_exact_denoiser_is_the_conditional_variance(target):
    """dl.dsm_loss with a "net" that predicts the target from the exact denoiser equals, up to sampling error,
    the irreducible loss E Var[target | x_t] = c(t) E Var[x0 | x_t] / d (dl.mse_factor; dsm_loss averages over
    dims), with Var[x0 | x_t] exact at every x_t for the empirical distribution."""
    sched, emp = dl.Cosine(), _training_set()
    a, s = _as(sched, T_FIX)
    g = torch.Generator().manual_seed(4)
    x0 = emp.sample(50_000, g)
    eps = torch.randn(x0.shape, generator=g, dtype=F64)

    def net(x, t):
        assert t.shape == (x.shape[0],)
        return dl.convert(emp.denoiser(x, t, sched), "x0", target, x, sched.alpha(t), sched.sigma(t))

    per = dl.dsm_loss(net, x0, sched, target=target, t=T_FIX, eps=eps, reduction="none")
    c = dl.mse_factor(sched, T_FIX, target).item()
    floor = c * _posterior_variance(emp, a * x0 + s * eps, sched) / 2
    diff = per - floor  # mean zero given x_t
    assert abs(diff.mean().item()) < 4 * diff.std().item() / math.sqrt(len(diff))
    loss = dl.dsm_loss(net, x0, sched, target=target, t=T_FIX, eps=eps)
    assert loss.item() == pytest.approx(per.mean().item(), rel=1e-12)
    assert loss.item() == pytest.approx(floor.mean().item(), rel=0.02)


def test_dsm_loss_of_the_exact_gaussian_denoiser_is_the_closed_form():
    """x0 ~ N(m, S0^2 I): Var[x0 | x_t] = S0^2 sigma^2 / (alpha^2 S0^2 + sigma^2) per dim, the same at every x_t."""
    sched, S0 = dl.VPLinear(), 0.7
    gm = dl.GaussianMixture.isotropic([1.0], [[1.0, -2.0, 0.5]], S0)
    for t in (0.1, 0.5, 0.9):
        a, s = _as(sched, t)
        floor = S0 * S0 * s * s / (a * a * S0 * S0 + s * s)
        x0 = gm.sample(40_000, torch.Generator().manual_seed(5))
        for target in ("x0", "eps"):
            def net(x, tt, target=target):
                return dl.convert(gm.denoiser(x, tt, sched), "x0", target, x, sched.alpha(tt), sched.sigma(tt))

            per = dl.dsm_loss(net, x0, sched, target=target, t=t, generator=torch.Generator().manual_seed(6),
                              reduction="none")
            want = dl.mse_factor(sched, t, target).item() * floor
            assert abs(per.mean().item() - want) < 4 * per.std().item() / math.sqrt(len(per)), (t, target)
