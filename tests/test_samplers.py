"""dl.samplers: the time-grid check, the posterior q(x_s | x_t, x0) against DDPM's eq. 7 and direct formulas,
and ancestral sampling with an exact denoiser against exact answers (a Gaussian's moments, through the exact
linear-Gaussian recursion of the chain; a mixture's samples through the sliced Wasserstein distance)."""
import itertools
import math

import diffusionlab as dl
import pytest
import torch

F64 = torch.float64


# ----------------------------------------------------------------------------- check_ts
def test_check_ts_accepts_decreasing_grids():
    out = dl.check_ts([1.0, 0.5, 0.0])
    assert out.dtype == F64 and out.tolist() == [1.0, 0.5, 0.0]
    grid = dl.timesteps(dl.Cosine(), 10, spacing="logsnr")
    assert torch.equal(dl.check_ts(grid), grid)
    f32 = torch.tensor([0.9, 0.3], dtype=torch.float32, requires_grad=True)
    assert torch.equal(dl.check_ts(f32), f32.detach().double())
    assert dl.check_ts((1, 0)).tolist() == [1.0, 0.0]  # integers are fine


@pytest.mark.parametrize("bad,why", [
    ([0.0, 0.5, 1.0], "strictly decreasing"),
    ([1.0, 0.5, 0.5, 0.0], "strictly decreasing"),
    ([1.0, 0.2, 0.4, 0.0], "strictly decreasing"),
    ([1.2, 0.5, 0.0], r"\[0, 1\]"),
    ([1.0, 0.5, -0.1], r"\[0, 1\]"),
    ([1.0, float("nan"), 0.0], "NaN"),
    ([float("inf"), 0.0], r"\[0, 1\]"),
    ([0.5], "length >= 2"),
    ([], "length >= 2"),
    (0.5, "1-D"),
    ([[1.0, 0.0]], "1-D"),
    (torch.tensor([[1.0], [0.0]]), "1-D"),
    ("abc", "1-D sequence of times"),
    ([1.0, "x"], "1-D sequence of times"),
    ([[1.0, 0.5], [0.0]], "1-D sequence of times"),
    (None, "1-D sequence of times"),
])
def test_check_ts_rejects(bad, why):
    with pytest.raises(ValueError, match=rf"^ts must .*{why}"):
        dl.check_ts(bad)


# ----------------------------------------------------------------------------- posterior coefficients
def _ddpm_eq7(schedule, i):
    """Ho et al. 2020, eq. 7 from the betas alone (float64 cumprod), in posterior_coefficients' order:
    (c_xt, c_x0, beta_tilde, beta)."""
    beta = schedule.betas
    abar = torch.cumprod(1.0 - beta, 0)
    ab, ab_prev, b = abar[i - 1].item(), (abar[i - 2].item() if i > 1 else 1.0), beta[i - 1].item()
    c_x0, c_xt = math.sqrt(ab_prev) * b / (1 - ab), math.sqrt(1 - b) * (1 - ab_prev) / (1 - ab)
    return c_xt, c_x0, (1 - ab_prev) / (1 - ab) * b, b


@pytest.mark.parametrize("i", [1, 2, 3, 10, 250, 999, 1000])
def test_posterior_coefficients_are_ddpm_eq7(i):
    sched = dl.Discrete.linear()
    T = sched.T
    c_x, c_0, var_small, var_large = dl.posterior_coefficients(sched, i / T, (i - 1) / T)
    # dl.losses.ddpm_posterior: the coefficients are its mean at (x0, x_t) = (1, 0) and (0, 1)
    one, zero = torch.ones(1, dtype=F64), torch.zeros(1, dtype=F64)
    m0, var = dl.ddpm_posterior(sched, one, zero, i)
    mt, _ = dl.ddpm_posterior(sched, zero, one, i)
    ref = (mt.item(), m0.item(), var.item(), sched.betas[i - 1].item())
    eq7 = _ddpm_eq7(sched, i)
    for got, want, want2 in zip((c_x, c_0, var_small, var_large), ref, eq7):
        assert got == pytest.approx(want, rel=1e-10, abs=1e-300)
        assert got == pytest.approx(want2, rel=1e-9, abs=1e-300)
    if i == 1:  # s = 0: x_0 is then known, the posterior is the point mass on x0 (c_x = 0, var = 0)
        assert (c_x, c_0, var_small) == (0.0, 1.0, 0.0)
        assert var_large == pytest.approx(sched.betas[0].item(), rel=1e-12)


def _direct(schedule, t, s):
    """The textbook float64 formulas (Kingma et al. 2021, eq. 23-25), without any care for cancellation."""
    a_t, s_t = schedule.alpha(t).item(), schedule.sigma(t).item()
    a_s, s_s = schedule.alpha(s).item(), schedule.sigma(s).item()
    a_ts = a_t / a_s
    var_ts = s_t ** 2 - a_ts ** 2 * s_s ** 2
    return a_ts * s_s ** 2 / s_t ** 2, a_s * var_ts / s_t ** 2, var_ts * s_s ** 2 / s_t ** 2, var_ts


PAIRS = [(1.0, 0.9), (0.9, 0.5), (0.7, 0.3), (0.5, 0.45), (0.3, 0.05), (0.1, 0.02)]


@pytest.mark.parametrize("sched", [dl.VPLinear(), dl.Cosine(), dl.VE(), dl.Sigmoid()], ids=repr)
@pytest.mark.parametrize("t,s", PAIRS)
def test_posterior_coefficients_match_direct_formulas(sched, t, s):
    if sched.alpha(t).item() == 0:  # Cosine at t = 1: c_x = 0 and the direct formula divides 0 by a_s
        c_x, c_0, vs, vl = dl.posterior_coefficients(sched, t, s)
        assert (c_x, c_0, vs, vl) == pytest.approx((0.0, sched.alpha(s).item(), sched.sigma(s).item() ** 2, 1.0),
                                                   rel=1e-12)
        return
    got = dl.posterior_coefficients(sched, t, s)
    assert all(isinstance(v, float) for v in got)
    assert got == pytest.approx(_direct(sched, t, s), rel=1e-10)


@pytest.mark.parametrize("sched", [dl.VPLinear(), dl.Cosine(), dl.VE(), dl.Discrete.linear(),
                                   dl.ZeroTerminalSNR(dl.Cosine())], ids=repr)
def test_posterior_is_consistent_with_the_marginals(sched):
    """With x_t ~ q(x_t | x0) and x_s ~ q(x_s | x_t, x0), x_s must have the marginal q(x_s | x0) = N(a_s x0, s_s^2):
    c_x a_t + c_0 = a_s (means) and c_x^2 s_t^2 + var_small = s_s^2 (variances). And var_large = s_t^2 - (a_t/a_s)^2 s_s^2."""
    g = torch.Generator().manual_seed(0)
    ts = torch.rand(200, 2, generator=g, dtype=F64).sort(1, descending=True).values
    for t, s in ts.tolist():
        if t == s:
            continue
        a_t, s_t, a_s, s_s = (v.item() for v in (sched.alpha(t), sched.sigma(t), sched.alpha(s), sched.sigma(s)))
        c_x, c_0, vs, vl = dl.posterior_coefficients(sched, t, s)
        assert c_x * a_t + c_0 == pytest.approx(a_s, rel=1e-12, abs=1e-15)
        assert c_x ** 2 * s_t ** 2 + vs == pytest.approx(s_s ** 2, rel=1e-10, abs=1e-15)
        assert vs <= vl <= s_t ** 2 * (1 + 1e-12) and vs >= 0
        assert vs == pytest.approx(vl * s_s ** 2 / s_t ** 2, rel=1e-12, abs=1e-300)


def test_posterior_coefficients_against_50_digit_arithmetic():
    """The same formulas in 50-digit arithmetic (mpmath; a python float converts to mpf exactly) for the closed
    forms of VPLinear and Cosine, on steps from 1e-6 to 0.1 anywhere in [0, 1]: float64 keeps ~8+ digits."""
    mpmath = pytest.importorskip("mpmath")
    mp = mpmath.mp.clone()
    mp.dps = 50

    vp, cos = dl.VPLinear(), dl.Cosine()

    def vplinear(t, sched=vp):
        g = t * t * (mp.mpf(sched.beta_max) - mp.mpf(sched.beta_min)) / 2 + t * mp.mpf(sched.beta_min)
        return mp.exp(-g / 2), mp.sqrt(-mp.expm1(-g))

    def cosine(t, sched=cos):
        c = mp.pi / 2 / (1 + mp.mpf(sched.s))
        a = mp.sin(c * (1 - t)) / mp.sin(c)
        return a, mp.sqrt(1 - a * a)

    pairs = [(1e-3 + 1e-6, 1e-3), (2e-6, 1e-6), (1e-4, 9e-5), (0.02, 0.019), (0.5 + 1e-6, 0.5), (0.6, 0.5),
             (0.999, 0.998), (0.95, 0.85)]
    for sched, exact in ((vp, vplinear), (cos, cosine)):
        for t, s in pairs:
            (a_t, s_t), (a_s, s_s) = exact(mp.mpf(t)), exact(mp.mpf(s))
            var_ts = s_t ** 2 - (a_t / a_s) ** 2 * s_s ** 2
            want = [float(v) for v in ((a_t / a_s) * s_s ** 2 / s_t ** 2, a_s * var_ts / s_t ** 2,
                                       var_ts * s_s ** 2 / s_t ** 2, var_ts)]
            assert dl.posterior_coefficients(sched, t, s) == pytest.approx(want, rel=1e-8, abs=0), (sched, t, s)


@pytest.mark.parametrize("sched", [dl.VPLinear(), dl.Cosine(), dl.Discrete.linear()], ids=repr)
def test_posterior_at_sigma_s_zero_is_a_point_mass(sched):
    for t in (1e-3, 0.5, 1.0):
        c_x, c_0, vs, vl = dl.posterior_coefficients(sched, t, 0.0)
        assert (c_x, c_0, vs) == (0.0, 1.0, 0.0)
        assert vl == pytest.approx(sched.sigma(t).item() ** 2, rel=1e-14)


def test_posterior_coefficients_edge_errors():
    with pytest.raises(ValueError, match=r"^ts: sigma_t = 0"):
        dl.posterior_coefficients(dl.VPLinear(), 0.0, 0.0)
    with pytest.raises(ValueError, match="alpha vanishes at both"):
        dl.posterior_coefficients(dl.Cosine(), 1.0, 1.0)
    with pytest.raises(ValueError, match="^schedule: logsnr must decrease"):
        dl.posterior_coefficients(dl.Cosine(), 0.3, 0.7)  # s > t


# ----------------------------------------------------------------------------- exact answers
M, S0 = torch.tensor([1.0, -0.5], dtype=F64), 0.5


def _gaussian_chain(sched, ts, variance):
    """Mean and per-coordinate variance of the sampler's output, exactly: with x0 ~ N(m, S0^2 I) the exact
    denoiser is affine, D(x) = m + k (x - a m), k = a S0^2 / (a^2 S0^2 + sigma^2), so every step maps a Gaussian
    to a Gaussian: x_s = (c_x + c_0 k) x_t + c_0 (1 - k a) m + noise."""
    t0 = ts[0].item()
    a1, s1 = sched.alpha(t0).item(), sched.sigma(t0).item()
    mu, v = a1 * M, a1 * a1 * S0 * S0 + s1 * s1
    for t, s in zip(ts[:-1].tolist(), ts[1:].tolist()):
        c_x, c_0, vs, vl = dl.posterior_coefficients(sched, t, s)
        a, sg = sched.alpha(t).item(), sched.sigma(t).item()
        k = a * S0 * S0 / (a * a * S0 * S0 + sg * sg)
        mu = (c_x + c_0 * k) * mu + c_0 * (1 - k * a) * M
        v = (c_x + c_0 * k) ** 2 * v + (0.0 if vs == 0 else vs if variance == "small" else vl)
    return mu, v


@pytest.mark.parametrize("variance", ["small", "large"])
def test_ancestral_with_the_exact_denoiser_reproduces_a_gaussian(variance):
    """x0 ~ N(m, S0^2 I): 500 uniform steps of Cosine from x_T ~ N(0, I) (exact: alpha(1) = 0), 20000 samples."""
    sched, n = dl.Cosine(), 20_000
    gm = dl.GaussianMixture.isotropic([1.0], M[None], S0)
    ts = dl.timesteps(sched, 500)
    g = torch.Generator().manual_seed(11 if variance == "small" else 12)
    x = dl.ddpm_ancestral(gm.as_denoiser(sched), sched, torch.randn(n, 2, generator=g, dtype=F64), ts,
                          variance=variance, generator=g)
    assert x.shape == (n, 2) and x.dtype == F64
    true_var = S0 * S0
    se_mean, se_var, se_cov = S0 / math.sqrt(n), true_var * math.sqrt(2 / n), true_var / math.sqrt(n)
    assert torch.all((x.mean(0) - M).abs() < 4 * se_mean), x.mean(0)
    C = torch.cov(x.T)
    assert torch.all((C.diagonal() - true_var).abs() < 5 * se_var), C
    assert abs(C[0, 1].item()) < 4 * se_cov
    # sharper: against the chain's exact output law (which differs from the data by the grid's O(1/N) bias)
    mu, v = _gaussian_chain(sched, ts, variance)
    torch.testing.assert_close(mu, M, rtol=0, atol=1e-12)  # the mean is exact on any grid
    assert abs(v - true_var) < 0.02 * true_var
    assert torch.all((C.diagonal() - v).abs() < 4 * se_var)


@pytest.mark.parametrize("sched", [dl.Cosine(), dl.VPLinear(), dl.VE(sigma_max=20.0)], ids=repr)
@pytest.mark.parametrize("variance", ["small", "large"])
def test_chain_converges_to_the_data_as_the_grid_is_refined(sched, variance):
    """Both variances converge to the true reverse process as O(1/N) (Ho et al. 2020, Sec. 3.2): the exact output
    variance of the chain approaches a_0^2 S0^2 + sigma_0^2 (sigma_0 = sigma_min > 0 for VE) with the error
    shrinking about 4x from 500 to 2000 steps. Small underestimates the variance, large overestimates it."""
    target = sched.alpha(0.0).item() ** 2 * S0 * S0 + sched.sigma(0.0).item() ** 2
    errs = [_gaussian_chain(sched, dl.timesteps(sched, n), variance)[1] - target for n in (100, 500, 2000)]
    assert abs(errs[2]) < 0.01 * target
    assert abs(errs[2]) < abs(errs[1]) / 3 < abs(errs[0]) / 9
    assert all((e < 0) if variance == "small" else (e > 0) for e in errs)


@pytest.mark.parametrize("sched", [dl.Cosine(), dl.VE()], ids=repr)
@pytest.mark.parametrize("variance", ["small", "large"])
def test_one_step_draws_from_the_posterior(sched, variance):
    """A single step from one fixed x_t, many times: the draws are N(c_x x_t + c_0 D(x_t), var) exactly."""
    gm = dl.GaussianMixture.ring(4)
    t, s, n = 0.6, 0.4, 40_000
    xt = torch.tensor([0.7, -0.3], dtype=F64).expand(n, 2).clone()
    g = torch.Generator().manual_seed(3)
    x = dl.ddpm_ancestral(gm.as_denoiser(sched), sched, xt, [t, s], variance=variance, generator=g)
    c_x, c_0, vs, vl = dl.posterior_coefficients(sched, t, s)
    var = vs if variance == "small" else vl
    mean = c_x * xt[0] + c_0 * gm.denoiser(xt[:1], t, sched)[0]
    assert torch.all((x.mean(0) - mean).abs() < 4 * math.sqrt(var / n))
    assert torch.all((x.var(0) / var - 1).abs() < 4 * math.sqrt(2 / n))


def _two_component():
    return dl.GaussianMixture.isotropic([0.3, 0.7], [[-2.0, 0.0], [1.5, 1.0]], [0.3, 0.5])


@pytest.mark.parametrize("make", [dl.GaussianMixture.ring, _two_component], ids=["ring", "two_component"])
def test_ancestral_samples_a_mixture(make):
    """Sliced Wasserstein to fresh true samples is at the level of two true samples' (averaged over 4 draws,
    since mode weights fluctuate between draws); a slightly wrong denoiser (0.9 D) is far above it."""
    gm, sched, n = make(), dl.Cosine(), 4000
    ts = dl.timesteps(sched, 100)
    g = torch.Generator().manual_seed(5)
    xT = torch.randn(n, 2, generator=g, dtype=F64)
    x = dl.ddpm_ancestral(gm.as_denoiser(sched), sched, xT, ts, generator=g)
    bad = dl.ddpm_ancestral(lambda z, t: 0.9 * gm.denoiser(z, t, sched), sched, xT, ts, generator=g)
    sw, base, sw_bad = [], [], []
    for k in range(4):
        ref, other = gm.sample(n, g), gm.sample(n, g)
        gp = {"n_projections": 256, "generator": torch.Generator().manual_seed(k)}
        sw.append(dl.sliced_wasserstein(x, ref, **gp).item())
        base.append(dl.sliced_wasserstein(other, ref, **gp).item())
        sw_bad.append(dl.sliced_wasserstein(bad, ref, **gp).item())
    sw, base, sw_bad = (sum(v) / len(v) for v in (sw, base, sw_bad))
    assert sw < 1.5 * base + 0.01, (sw, base)
    assert sw_bad > 3 * base


# ----------------------------------------------------------------------------- mechanics
def _recorder(fn):
    calls = []

    def D(x, t):
        calls.append((t, x.clone()))
        return fn(x, t)

    return D, calls


def test_one_step_by_hand_with_clip():
    """Three-point grid [1, 0.5, 0]: the sampler equals the update written out, with the noise drawn from the same
    generator; the clip applies to x0_hat; the last step (sigma = 0) returns x0_hat itself, without noise."""
    sched = dl.VPLinear()
    x_T = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    D, calls = _recorder(lambda x, t: 5.0 * torch.ones_like(x))
    out, traj = dl.ddpm_ancestral(D, sched, x_T, [1.0, 0.5, 0.0], generator=torch.Generator().manual_seed(1),
                                  clip=(-1, 1), return_trajectory=True)
    assert [c[0] for c in calls] == [1.0, 0.5] and all(isinstance(c[0], float) for c in calls)
    c_x, c_0, vs, _ = dl.posterior_coefficients(sched, 1.0, 0.5)
    z = torch.randn(6, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    x_half = c_x * x_T + c_0 * 1.0 + math.sqrt(vs) * z  # x0_hat = 5 clipped to 1
    torch.testing.assert_close(traj[1], x_half, rtol=0, atol=1e-14)
    assert torch.equal(calls[1][1], traj[1])
    assert torch.equal(out, torch.ones_like(x_T))  # the last x0_hat, clipped
    out5 = dl.ddpm_ancestral(D, sched, x_T, [1.0, 0.5, 0.0], generator=torch.Generator().manual_seed(1))
    assert torch.equal(out5, 5 * torch.ones_like(x_T))  # without clip
    lo = dl.ddpm_ancestral(lambda x, t: -5 * torch.ones_like(x), sched, x_T, [1.0, 0.0], clip=(-0.5, 2.0))
    assert torch.equal(lo, -0.5 * torch.ones_like(x_T))


def test_trajectory():
    sched, gm = dl.Cosine(), dl.GaussianMixture.ring()
    x_T = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    ts = dl.timesteps(sched, 17)
    out, traj = dl.ddpm_ancestral(gm.as_denoiser(sched), sched, x_T, ts, generator=torch.Generator().manual_seed(1),
                                  return_trajectory=True)
    assert len(traj) == len(ts) == 18
    assert traj[0] is x_T and traj[-1] is out
    assert all(s.shape == x_T.shape and s.dtype == F64 for s in traj)
    assert not any(torch.equal(a, b) for a, b in itertools.pairwise(traj))  # every step moves
    again = dl.ddpm_ancestral(gm.as_denoiser(sched), sched, x_T, ts, generator=torch.Generator().manual_seed(1))
    assert torch.equal(again, out)


def test_seeding():
    sched, gm = dl.VPLinear(), dl.GaussianMixture.two_modes()
    x_T = torch.randn(100, 1, generator=torch.Generator().manual_seed(0))
    ts = dl.timesteps(sched, 20)

    def run(seed, **kw):
        return dl.ddpm_ancestral(gm.as_denoiser(sched), sched, x_T, ts, generator=torch.Generator().manual_seed(seed),
                                 **kw)

    a, b, c = run(3), run(3), run(4)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert a.dtype == torch.float32  # x's dtype is kept (the mixture works in float64 inside)
    assert not torch.allclose(run(3, variance="large"), a)
    torch.manual_seed(9)
    d = dl.ddpm_ancestral(gm.as_denoiser(sched), sched, x_T, ts)
    torch.manual_seed(9)
    e = dl.ddpm_ancestral(gm.as_denoiser(sched), sched, x_T, ts)
    assert torch.equal(d, e)  # no generator: the global RNG
    assert torch.equal(x_T, torch.randn(100, 1, generator=torch.Generator().manual_seed(0)))  # x_T not modified


def test_works_with_a_net_denoiser_and_images():
    """The sampler only needs D(x, t): a TinyUNet wrapped by dl.predictions.denoiser on image-shaped x."""
    torch.manual_seed(0)
    net = dl.TinyUNet(channels=8).eval()
    sched = dl.Cosine()
    D = dl.predictions.denoiser(net, sched, "eps")
    x_T = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = dl.ddpm_ancestral(D, sched, x_T, dl.timesteps(sched, 5, t_max=0.99), clip=(-1, 1),
                              generator=torch.Generator().manual_seed(0))
    assert x.shape == x_T.shape and x.dtype == torch.float32 and bool(torch.isfinite(x).all())
    assert float(x.abs().max()) <= 1.0  # the last step returns the clipped x0_hat


# ----------------------------------------------------------------------------- bad inputs and registry
def test_bad_inputs_name_the_parameter():
    sched = dl.Cosine()
    D = dl.GaussianMixture.ring().as_denoiser(sched)
    x, ts = torch.zeros(4, 2, dtype=F64), [1.0, 0.5, 0.0]
    with pytest.raises(TypeError, match="^x_T must be a torch tensor"):
        dl.ddpm_ancestral(D, sched, [[0.0, 0.0]], ts)
    with pytest.raises(ValueError, match="^x_T must be a floating-point tensor"):
        dl.ddpm_ancestral(D, sched, torch.zeros(4, 2, dtype=torch.long), ts)
    with pytest.raises(ValueError, match="^variance must be one of"):
        dl.ddpm_ancestral(D, sched, x, ts, variance="medium")
    for clip in [(1, 0), (0, 0), (0,), (0, 1, 2), (0, float("inf")), (float("nan"), 1), (True, 2), "ab", 1.0]:
        with pytest.raises(ValueError, match="^clip must be None or a pair"):
            dl.ddpm_ancestral(D, sched, x, ts, clip=clip)
    with pytest.raises(ValueError, match="^ts must"):
        dl.ddpm_ancestral(D, sched, x, [0.0, 1.0])
    with pytest.raises(ValueError, match=r"^denoiser must return a tensor of x's shape \(4, 2\), got \(4, 1\)"):
        dl.ddpm_ancestral(lambda z, t: z[:, :1], sched, x, ts)
    with pytest.raises(ValueError, match="^denoiser must return a tensor .* got ndarray"):
        dl.ddpm_ancestral(lambda z, t: z.numpy(), sched, x, ts)
    # a list clip is fine
    out = dl.ddpm_ancestral(lambda z, t: 3 + z, sched, x, ts, clip=[-2, 2], generator=torch.Generator())
    assert torch.equal(out, torch.full_like(x, 2.0))


def test_registry():
    assert dl.get_sampler("ddpm") is dl.ddpm_ancestral
    assert dl.SAMPLERS["ddpm"] is dl.ddpm_ancestral
    assert all(dl.get_sampler(name) is fn for name, fn in dl.SAMPLERS.items())
    with pytest.raises(ValueError, match=r"^name must be one of \[.*'ddpm'.*\], got 'nope'"):
        dl.get_sampler("nope")
