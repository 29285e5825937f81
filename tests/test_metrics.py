"""dl.metrics: sliced Wasserstein (exact in 1-D, the shift identity), MMD and energy distance against brute force,
the exact mixture NLL against entropies, the Frechet distance against scipy's sqrtm and closed forms; bad inputs."""
import math

import diffusionlab as dl
import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch
from scipy.spatial.distance import pdist

F64 = torch.float64


def _randn(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _scalar_f64(v):
    return isinstance(v, torch.Tensor) and v.dim() == 0 and v.dtype == F64


# ----------------------------------------------------------------------------- sliced Wasserstein
@pytest.mark.parametrize("p", [1, 2, 3, 1.5])
def test_sw_is_the_exact_wasserstein_distance_in_1d(p):
    x, y = _randn(300, 1, seed=1), 0.5 * _randn(300, 1, seed=2) + 0.7
    want = ((x[:, 0].sort().values - y[:, 0].sort().values).abs() ** p).mean() ** (1 / p)
    for seed in (0, 1):
        got = dl.sliced_wasserstein(x, y, p=p, n_projections=3, generator=torch.Generator().manual_seed(seed))
        assert _scalar_f64(got)
        assert got.item() == pytest.approx(want.item(), rel=1e-12)
    if p == 1:
        ref = scipy.stats.wasserstein_distance(x[:, 0].numpy(), y[:, 0].numpy())
        assert dl.sliced_wasserstein(x, y, p=1).item() == pytest.approx(ref, rel=1e-12)


def test_sw_of_a_shift_is_the_projected_shift():
    """SW_p(x, x + c): every projection shifts by theta.c, so the sorted pairs differ by exactly theta.c:
    SW_2^2 = mean_k (theta_k.c)^2 -> ||c||^2 E[u_1^2] = ||c||^2 / d, SW_1 = mean_k |theta_k.c| -> ||c|| E|u_1|."""
    d, n_proj = 3, 20_000
    x = _randn(200, d, seed=3)
    c = torch.tensor([3.0, -4.0, 12.0], dtype=F64)  # ||c|| = 13
    sw2 = dl.sliced_wasserstein(x, x + c, n_projections=n_proj, generator=torch.Generator().manual_seed(5))
    sw1 = dl.sliced_wasserstein(x, x + c, p=1, n_projections=n_proj, generator=torch.Generator().manual_seed(5))
    # exactly, with the same directions (equal sizes: the generator draws theta and nothing else)
    theta = torch.randn(n_proj, d, generator=torch.Generator().manual_seed(5), dtype=F64)
    proj = (theta / theta.norm(dim=1, keepdim=True)) @ c
    assert sw2.item() == pytest.approx((proj ** 2).mean().sqrt().item(), rel=1e-10)
    assert sw1.item() == pytest.approx(proj.abs().mean().item(), rel=1e-10)
    # the large-projection limit: u uniform on the sphere S^2 has E u_1^2 = 1/3 and u_1 ~ U[-1, 1], E|u_1| = 1/2;
    # with 20000 projections the relative standard errors are about 0.3% and 0.4%
    assert sw2.item() == pytest.approx(13 / math.sqrt(3), rel=0.015)
    assert sw1.item() == pytest.approx(13 / 2, rel=0.02)
    # in 2-D: E|cos phi| = 2 / pi
    x2 = _randn(100, 2, seed=4)
    sw = dl.sliced_wasserstein(x2, x2 + torch.tensor([0.0, 2.0], dtype=F64), p=1, n_projections=n_proj,
                               generator=torch.Generator().manual_seed(6))
    assert sw.item() == pytest.approx(2 * 2 / math.pi, rel=0.02)


def test_sw_zero_symmetric_and_seeded():
    x, y = _randn(256, 4, seed=1), _randn(256, 4, seed=2) + 0.3

    def sw(a, b, seed):
        return dl.sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(seed))

    assert sw(x, x, 0).item() == 0.0
    assert sw(x, x[torch.randperm(256)], 0).item() == 0.0  # the order of the points does not matter
    assert sw(x, y, 0).item() == sw(y, x, 0).item()
    assert sw(x, y, 0).item() == sw(x, y, 0).item()
    assert sw(x, y, 0).item() != sw(x, y, 1).item()
    assert sw(x.float(), y.float(), 0).item() == pytest.approx(sw(x, y, 0).item(), rel=1e-6)  # float32 accepted
    torch.manual_seed(3)
    a = dl.sliced_wasserstein(x, y)
    torch.manual_seed(3)
    assert dl.sliced_wasserstein(x, y).item() == a.item()  # no generator: the global RNG


def test_sw_with_unequal_sizes_subsamples():
    x, y = _randn(500, 1, seed=1), _randn(800, 1, seed=2) + 3.0
    def g():
        return torch.Generator().manual_seed(0)

    v = dl.sliced_wasserstein(x, y, generator=g()).item()
    assert v == dl.sliced_wasserstein(x, y, generator=g()).item()
    assert v == pytest.approx(3.0, abs=0.2)  # W_2 between N(0, 1) and N(3, 1) is 3
    # the subsample is a random subset of the larger cloud's points: with y a copy of x twice over, it can only
    # pick points of x, and W between x and a size-500 subset of its duplicate is small but not 0
    w = dl.sliced_wasserstein(x, torch.cat([x, x]), generator=g()).item()
    assert 0 < w < 0.2


# ----------------------------------------------------------------------------- MMD
def _mmd_brute(x, y, hs):
    x, y = x.numpy(), y.numpy()

    def k(a, b):
        return sum(math.exp(-np.sum((a - b) ** 2) / (2 * h * h)) for h in hs)

    m, n = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return kxx + kyy - 2 * kxy


@pytest.mark.parametrize("m,n", [(7, 9), (8, 8), (6, 5)])
def test_mmd_matches_brute_force(m, n):
    x, y = _randn(m, 3, seed=1), 0.8 * _randn(n, 3, seed=2) + 0.4
    for bw in (0.8, 2, [0.5, 2.0], (0.3, 1.0, 4.0)):
        hs = list(bw) if isinstance(bw, (list, tuple)) else [bw]
        got = dl.mmd_rbf(x, y, bandwidth=bw)
        assert _scalar_f64(got)
        assert got.item() == pytest.approx(_mmd_brute(x, y, hs), rel=1e-11, abs=1e-15)
    # median heuristic: numpy's median of the pooled sample's pairwise distances (an even number of pairs
    # for (7, 9), (8, 8); odd for (6, 5)), then the same formula
    h = float(np.median(pdist(torch.cat([x, y]).numpy())))
    assert dl.metrics._median_bandwidth(x, y)[0] == pytest.approx(h, rel=1e-13)
    assert dl.mmd_rbf(x, y).item() == pytest.approx(_mmd_brute(x, y, [h]), rel=1e-11)


def test_mmd_median_heuristic_edge_cases():
    # more than half the pairs coincide: the mean pairwise distance instead of a zero median
    x = torch.zeros(6, 2, dtype=F64)
    y = torch.zeros(5, 2, dtype=F64)
    y[0, 0] = 1.0
    y[1, 1] = 2.0
    d = pdist(torch.cat([x, y]).numpy())
    assert np.median(d) == 0
    assert dl.metrics._median_bandwidth(x, y)[0] == pytest.approx(d.mean(), rel=1e-13)
    assert dl.mmd_rbf(x, y).item() == pytest.approx(_mmd_brute(x, y, [d.mean()]), rel=1e-11)
    # all points equal: MMD = 0 exactly, no 0/0
    same = torch.ones(4, 3, dtype=F64)
    assert dl.mmd_rbf(same, same.clone()).item() == 0.0
    # subsampled pooled sample above 2000 points: still close to the full median
    big_x, big_y = _randn(1500, 2, seed=1), _randn(1500, 2, seed=2)
    h = dl.metrics._median_bandwidth(big_x, big_y)[0]
    assert h == pytest.approx(float(np.median(pdist(torch.cat([big_x, big_y]).numpy()))), rel=0.02)


def test_mmd_sum_of_kernels_same_law_and_shift():
    """For N(0, I) vs N(c, I) in d dims with one RBF kernel of bandwidth h, the population value is
    MMD^2 = 2 (h^2 / (h^2 + 2))^(d/2) (1 - exp(-||c||^2 / (2 (h^2 + 2)))) (X - Y ~ N(-c, 2I)); the estimator is
    unbiased for it. Spreads measured over 30 seeds at n = 400: 0.021 (shifted), 0.0016 (same law)."""
    n, h = 2000, 1.0
    x, y, z = _randn(n, 2, seed=1), _randn(n, 2, seed=2), _randn(n, 2, seed=3) + torch.tensor([1.0, 0.0], dtype=F64)
    hs = [0.3, 1.0, 3.0]
    total = dl.mmd_rbf(x, z, bandwidth=hs).item()
    assert total == pytest.approx(sum(dl.mmd_rbf(x, z, bandwidth=b).item() for b in hs), rel=1e-12)
    population = 2 * (h * h / (h * h + 2)) * (1 - math.exp(-1.0 / (2 * (h * h + 2))))
    shifted = dl.mmd_rbf(x, z, bandwidth=h).item()
    same = dl.mmd_rbf(x, y, bandwidth=h).item()
    assert shifted == pytest.approx(population, abs=0.035)  # about 4 standard errors at n = 2000
    assert abs(same) < 0.003 and shifted > 20 * abs(same)
    assert dl.mmd_rbf(x, z).item() > 20 * abs(dl.mmd_rbf(x, y).item())  # the median heuristic as well
    assert dl.mmd_rbf(x, z, bandwidth=hs).item() == pytest.approx(dl.mmd_rbf(z, x, bandwidth=hs).item(), rel=1e-12)
    # symmetric with the median heuristic too while the pooled sample is not subsampled (<= 2000 points)
    assert dl.mmd_rbf(x[:1000], z[:1000]).item() == pytest.approx(dl.mmd_rbf(z[:1000], x[:1000]).item(), rel=1e-12)


# ----------------------------------------------------------------------------- energy distance
def _energy_brute(x, y):
    x, y = x.numpy(), y.numpy()
    m, n = len(x), len(y)
    dxy = sum(np.linalg.norm(x[i] - y[j]) for i in range(m) for j in range(n)) / (m * n)
    dxx = sum(np.linalg.norm(x[i] - x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    dyy = sum(np.linalg.norm(y[i] - y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    return 2 * dxy - dxx - dyy


@pytest.mark.parametrize("m,n,d", [(7, 9, 3), (10, 10, 1), (5, 12, 2)])
def test_energy_distance_matches_brute_force(m, n, d):
    x, y = _randn(m, d, seed=1), 1.3 * _randn(n, d, seed=2) - 0.2
    got = dl.energy_distance(x, y)
    assert _scalar_f64(got)
    assert got.item() == pytest.approx(_energy_brute(x, y), rel=1e-12)
    assert dl.energy_distance(y, x).item() == pytest.approx(got.item(), rel=1e-12)


def test_energy_distance_against_scipy_in_1d():
    """scipy's energy_distance is sqrt(2 int (F - G)^2) = sqrt(D_V), the V-statistic (diagonal pairs included);
    ours averages the within terms over i != j: D_U = D_V - E_V|X - X'| / (m - 1) - E_V|Y - Y'| / (n - 1), with
    E_V|X - X'| = (2 / m^2) sum_k x_(k) (2k - m + 1) from the sorted sample (k = 0..m-1)."""
    x, y = _randn(300, 1, seed=1), 0.7 * _randn(200, 1, seed=2) + 0.5

    def gini(v):
        v = np.sort(v[:, 0].numpy())
        k = np.arange(len(v))
        return 2 * np.sum(v * (2 * k - len(v) + 1)) / len(v) ** 2

    d_v = scipy.stats.energy_distance(x[:, 0].numpy(), y[:, 0].numpy()) ** 2
    want = d_v - gini(x) / (len(x) - 1) - gini(y) / (len(y) - 1)
    assert dl.energy_distance(x, y).item() == pytest.approx(want, rel=1e-10)


def test_energy_distance_point_masses_and_laws():
    a, b = -0.5, 2.0
    # constant samples: every within-sample distance is 0 (over i != j too), so D = 2 |a - b|
    got = dl.energy_distance(torch.full((5, 1), a, dtype=F64), torch.full((7, 1), b, dtype=F64))
    assert got.item() == pytest.approx(2 * abs(a - b), rel=1e-15)
    u, v = torch.tensor([1.0, 2.0, 2.0]), torch.tensor([-1.0, 0.0, 2.0])
    assert dl.energy_distance(u.expand(4, 3), v.expand(3, 3)).item() == pytest.approx(2 * (u - v).norm().item())
    x, y, z = _randn(400, 2, seed=1), _randn(400, 2, seed=2), _randn(400, 2, seed=3) * 2
    same, wider = dl.energy_distance(x, y).item(), dl.energy_distance(x, z).item()
    assert abs(same) < 0.02 and wider > 0.2
    assert dl.energy_distance(x, x).item() == pytest.approx(-2 * _dist_mean_diag_share(x), abs=1e-12)


def _dist_mean_diag_share(x):
    """E(x, x) with U-statistics is 2 mean_{i,j} |x_i - x_j| - 2 mean_{i!=j} = -2 mean_{i!=j} / n (not 0)."""
    n = x.shape[0]
    return torch.cdist(x, x).sum().item() / (n * (n - 1)) / n


# ----------------------------------------------------------------------------- mixture NLL
def test_mixture_nll_is_the_mean_negative_log_prob():
    gm = dl.GaussianMixture.ring()
    x = _randn(50, 2, seed=1)
    got = dl.mixture_nll(gm, x)
    assert _scalar_f64(got)
    assert got.item() == pytest.approx(-gm.log_prob(x).mean().item(), rel=1e-14)
    assert dl.mixture_nll(gm, x.float()).item() == pytest.approx(got.item(), rel=1e-6)
    assert dl.mixture_nll(gm, x[:1]).item() == pytest.approx(-gm.log_prob(x[0]).item(), rel=1e-14)  # n = 1 is fine


def test_mixture_nll_of_its_own_samples_estimates_the_entropy():
    gm, n = dl.GaussianMixture.ring(), 100_000
    x = gm.sample(n, torch.Generator().manual_seed(1))
    nll = dl.mixture_nll(gm, x).item()
    h = gm.entropy_mc(n, torch.Generator().manual_seed(2)).item()
    se = gm.log_prob(x).std().item() * math.sqrt(2 / n)  # two independent means
    assert abs(nll - h) < 5 * se
    # a sampler that collapses onto the modes scores a *lower* NLL (the docstring's warning)
    collapsed = gm.means[torch.randint(gm.K, (1000,), generator=torch.Generator().manual_seed(3))]
    assert dl.mixture_nll(gm, collapsed).item() < nll - 0.5


def test_mixture_nll_of_a_gaussian_is_its_entropy():
    S = torch.tensor([[0.6, 0.25, 0.0], [0.25, 0.4, -0.1], [0.0, -0.1, 0.9]], dtype=F64)
    gm, n = dl.GaussianMixture([1.0], torch.tensor([[0.5, -1.0, 2.0]], dtype=F64), S[None]), 100_000
    x = gm.sample(n, torch.Generator().manual_seed(4))
    exact = 0.5 * torch.logdet(2 * math.pi * math.e * S).item()
    assert abs(dl.mixture_nll(gm, x).item() - exact) < 5 * math.sqrt(3 / 2 / n)  # Var[log N(x)] = d / 2


def test_mixture_nll_bad_inputs():
    gm = dl.GaussianMixture.ring()
    with pytest.raises(TypeError, match="^mixture must be a dl.analytic.GaussianMixture"):
        dl.mixture_nll(dl.EmpiricalDistribution(_randn(5, 2)), _randn(5, 2))
    with pytest.raises(TypeError, match="^mixture"):
        dl.mixture_nll("ring", _randn(5, 2))
    with pytest.raises(ValueError, match=r"^samples must have shape \(n, 2\) to match the mixture"):
        dl.mixture_nll(gm, _randn(5, 3))
    with pytest.raises(ValueError, match="^samples must have shape"):
        dl.mixture_nll(gm, _randn(5))
    with pytest.raises(ValueError, match="^samples must be finite"):
        dl.mixture_nll(gm, torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(TypeError, match="^samples must be a torch tensor"):
        dl.mixture_nll(gm, [[0.0, 0.0]])
    with pytest.raises(ValueError, match="^samples must have at least 1 rows"):
        dl.mixture_nll(gm, torch.zeros(0, 2))


# ----------------------------------------------------------------------------- Frechet distance
def _fd_scipy(a, b):
    a, b = a.numpy(), b.numpy()
    Sa, Sb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = scipy.linalg.sqrtm(Sa @ Sb)
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(Sa + Sb - 2 * covmean.real))


def _correlated(n, k, seed, scale=1.0, shift=0.0):
    A = _randn(k, k, seed=100 + seed)
    return scale * _randn(n, k, seed=seed) @ A + shift


@pytest.mark.parametrize("k", [1, 2, 5, 16])
def test_frechet_matches_scipy_sqrtm(k):
    a, b = _correlated(300, k, 1), _correlated(250, k, 2, scale=0.7, shift=0.3)
    got = dl.frechet_distance(a, b)
    assert _scalar_f64(got)
    assert got.item() == pytest.approx(_fd_scipy(a, b), rel=1e-8)
    assert dl.frechet_distance(b, a).item() == pytest.approx(got.item(), rel=1e-10)  # symmetric


def test_frechet_closed_forms():
    a = _correlated(200, 4, 1)
    c = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=F64)
    # equal covariances (a shift): the trace term vanishes, FD = ||mu_a - mu_b||^2
    assert dl.frechet_distance(a, a + c).item() == pytest.approx((c ** 2).sum().item(), rel=1e-9)
    assert dl.frechet_distance(a, a).item() == pytest.approx(0.0, abs=1e-9)
    assert dl.frechet_distance(a, a[torch.randperm(200)]).item() == pytest.approx(0.0, abs=1e-9)
    # 1-D: FD = (m_a - m_b)^2 + (s_a - s_b)^2 with the unbiased standard deviations
    x, y = _randn(100, 1, seed=3), 2.5 * _randn(80, 1, seed=4) + 1.0
    want = (x.mean() - y.mean()) ** 2 + (x.std() - y.std()) ** 2
    assert dl.frechet_distance(x, y).item() == pytest.approx(want.item(), rel=1e-12)
    # scaling one set by c: mean-free parts give tr S (1 - c)^2
    z = a - a.mean(0)
    assert dl.frechet_distance(z, 3 * z).item() == pytest.approx(4 * torch.cov(z.T).trace().item(), rel=1e-9)


def test_frechet_converges_to_the_gaussian_w2():
    """Many samples of two Gaussians: the FD of the samples approaches the population 2-Wasserstein distance
    ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2) (Dowson & Landau 1982)."""
    Sa = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])
    Sb = np.array([[0.5, -0.2, 0.1], [-0.2, 2.0, 0.0], [0.1, 0.0, 1.0]])
    mu_b = np.array([0.5, 0.0, -1.0])
    r = scipy.linalg.sqrtm(Sa).real
    w2 = mu_b @ mu_b + np.trace(Sa + Sb - 2 * scipy.linalg.sqrtm(r @ Sb @ r).real)
    n = 50_000
    a = _randn(n, 3, seed=1) @ torch.tensor(np.linalg.cholesky(Sa).T)
    b = _randn(n, 3, seed=2) @ torch.tensor(np.linalg.cholesky(Sb).T) + torch.tensor(mu_b)
    assert dl.frechet_distance(a, b).item() == pytest.approx(w2, rel=0.03)


def test_frechet_is_non_negative_even_for_singular_covariances():
    for seed in range(20):
        n = 3 + seed % 4  # n < k: rank-deficient covariances, eigenvalues rounding to -1e-17
        a, b = _randn(n, 10, seed=seed), _randn(n, 10, seed=seed + 50)
        v = dl.frechet_distance(a, b).item()
        assert v >= 0 and math.isfinite(v)
        assert v == pytest.approx(_fd_scipy(a, b), rel=1e-6, abs=1e-9)
        assert dl.frechet_distance(a, a).item() >= 0


def test_frechet_distance_features_batches():
    images_a = _randn(300, 1, 4, 4, seed=1)
    images_b = 0.8 * _randn(200, 1, 4, 4, seed=2) + 0.1
    grad_enabled = []

    def feats(x):
        grad_enabled.append(torch.is_grad_enabled())
        f = x.flatten(1)
        return torch.stack([f[:, :3], torch.tanh(f[:, 3:6]), f[:, 6:9] ** 2], dim=1)  # (B, 3, 3): flattened to 9

    want = dl.frechet_distance(feats(images_a).flatten(1), feats(images_b).flatten(1)).item()
    grad_enabled.clear()
    for bs in (1, 7, 256, 10_000):
        got = dl.frechet_distance_features(images_a, images_b, feats, batch_size=bs)
        assert _scalar_f64(got)
        assert got.item() == pytest.approx(want, rel=1e-12)
    assert grad_enabled and not any(grad_enabled)  # features are taken without gradients
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 5))  # float32 features are cast to float64
    v = dl.frechet_distance_features(images_a.float(), images_b.float(), net)
    assert _scalar_f64(v) and v.item() > 0


# ----------------------------------------------------------------------------- bad inputs
TWO_SAMPLE = {"sw": dl.sliced_wasserstein, "mmd": dl.mmd_rbf, "energy": dl.energy_distance}


@pytest.mark.parametrize("fn", list(TWO_SAMPLE.values()) + [dl.frechet_distance], ids=[*TWO_SAMPLE, "frechet"])
def test_two_sample_bad_inputs_name_the_argument(fn):
    a, b = ("feat_a", "feat_b") if fn is dl.frechet_distance else ("x", "y")
    good = _randn(10, 3)
    with pytest.raises(TypeError, match=f"^{a} must be a torch tensor"):
        fn(good.numpy(), good)
    with pytest.raises(TypeError, match=f"^{b} must be a torch tensor"):
        fn(good, [[0.0, 1.0, 2.0]])
    for bad in (_randn(10), _randn(2, 3, 4), torch.zeros(10, 0)):
        with pytest.raises(ValueError, match=rf"^{a} must have shape \(n, d\)"):
            fn(bad, good)
        with pytest.raises(ValueError, match=rf"^{b} must have shape \(n, d\)"):
            fn(good, bad)
    with pytest.raises(ValueError, match=f"^{a} and {b} must have the same dimension d, got 3 and 2"):
        fn(good, _randn(10, 2))
    for v in (float("nan"), float("inf")):
        bad = good.clone()
        bad[3, 1] = v
        with pytest.raises(ValueError, match=f"^{b} must be finite"):
            fn(good, bad)
    with pytest.raises(ValueError, match=f"^{a} must have at least 2 rows, got 1"):
        fn(good[:1], good)


def test_parameter_errors():
    x, y = _randn(10, 3, seed=1), _randn(10, 3, seed=2)
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(ValueError, match="^n_projections must be an integer >= 1"):
            dl.sliced_wasserstein(x, y, n_projections=bad)
    for bad in (0.5, 0, -2, float("inf"), float("nan"), True, "2"):
        with pytest.raises(ValueError, match="^p must be a finite number >= 1"):
            dl.sliced_wasserstein(x, y, p=bad)
    for bad in (-1, 0, [], (), [1.0, -1.0], float("nan"), float("inf"), True, "1", [1.0, None]):
        with pytest.raises(ValueError, match="^bandwidth must be None, a finite number > 0"):
            dl.mmd_rbf(x, y, bandwidth=bad)
    def fn(z):
        return z.flatten(1)

    for bad in (0, -3, 2.0, True, None):
        with pytest.raises(ValueError, match="^batch_size must be an integer >= 1"):
            dl.frechet_distance_features(x, y, fn, batch_size=bad)
    for bad in (None, "features", 3):
        with pytest.raises(TypeError, match="^feature_fn must be callable"):
            dl.frechet_distance_features(x, y, bad)
    for images, name in (((x.numpy(), y), "images_a"), ((x, y[:1]), "images_b"), ((torch.tensor(1.0), y), "images_a")):
        with pytest.raises(ValueError, match=f"^{name} must be a tensor with a leading batch dimension"):
            dl.frechet_distance_features(*images, fn)
