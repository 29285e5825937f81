"""Noise schedules: edges, identities, inverses, known values from the papers, time grids, bad input."""
import math

import diffusionlab as dl
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

F64 = torch.float64

SCHEDULES = {
    "vp_linear": dl.VPLinear(),
    "cosine": dl.Cosine(),
    "sigmoid": dl.Sigmoid(),
    "sigmoid_sharp": dl.Sigmoid(start=0.0, end=3.0, tau=0.3),
    "ve": dl.VE(),
    "edm": dl.EDM(),
    "ddpm_linear": dl.Discrete.linear(),
    "scaled_linear": dl.Discrete.scaled_linear(),
    "squared_cosine": dl.Discrete.squared_cosine(),
    "ddpm_short": dl.Discrete.linear(T=10, beta_start=0.01, beta_end=0.3),
    "zsnr_ddpm": dl.ZeroTerminalSNR(dl.Discrete.linear()),
    "zsnr_vp": dl.rescale_zero_terminal_snr(dl.VPLinear()),
    "zsnr_sigmoid": dl.ZeroTerminalSNR(dl.Sigmoid()),
}
VP = {k: s for k, s in SCHEDULES.items() if s.is_vp}
ALL = pytest.mark.parametrize("sched", list(SCHEDULES.values()), ids=list(SCHEDULES))
GRID = torch.linspace(0, 1, 1001, dtype=F64)


@ALL
def test_everything_finite_at_edges_and_on_a_grid(sched):
    for f in (sched.alpha, sched.sigma, sched.logsnr, sched.sigma_edm, sched.snr):
        vals = f(GRID)
        assert vals.shape == GRID.shape and vals.dtype == F64
        assert torch.isfinite(vals).all(), f
        assert torch.isfinite(f(0.0)) and torch.isfinite(f(1.0))
    lam = sched.logsnr(GRID)
    assert lam.min() >= dl.LOGSNR_MIN and lam.max() <= dl.LOGSNR_MAX
    assert torch.all(sched.alpha(GRID) >= 0) and torch.all(sched.sigma(GRID) >= 0)


@ALL
def test_logsnr_strictly_decreasing_away_from_the_clip(sched):
    lam = sched.logsnr(GRID)
    inside = (lam > dl.LOGSNR_MIN + 1e-9) & (lam < dl.LOGSNR_MAX - 1e-9)
    assert inside.sum() > 500  # the clip only bites at the very ends
    idx = inside.nonzero().squeeze()
    assert torch.all(torch.diff(lam[idx]) < 0)
    # it agrees with its definition log(alpha^2 / sigma^2) wherever both are computable
    a, s = sched.alpha(GRID[idx]), sched.sigma(GRID[idx])
    torch.testing.assert_close(lam[idx], torch.log(a**2 / s**2), rtol=1e-9, atol=1e-9)
    # and sigma_edm = sigma / alpha
    torch.testing.assert_close(sched.sigma_edm(GRID[idx]), s / a, rtol=1e-9, atol=0)


TIMES = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=64).map(lambda v: torch.tensor(v, dtype=F64))


@pytest.mark.parametrize("sched", list(VP.values()), ids=list(VP))
@settings(max_examples=15, deadline=None)
@given(t=TIMES)
def test_vp_schedules_preserve_variance(sched, t):
    a, s = sched.alpha(t), sched.sigma(t)
    assert torch.all((a**2 + s**2 - 1.0).abs() < 1e-12)


@ALL
@settings(max_examples=15, deadline=None)
@given(t=TIMES)
def test_t_of_logsnr_inverts_logsnr(sched, t):
    lam = sched.logsnr(t)
    back = sched.t_of_logsnr(lam)
    inside = (lam > dl.LOGSNR_MIN) & (lam < dl.LOGSNR_MAX)
    assert torch.all((back - t)[inside].abs() < 1e-6)
    # clipped or not, the answer is a time in [0, 1] with that (clipped) logsnr. Near t = 0 and t = 1,
    # |d logsnr / dt| ~ 1 / t or 1 / (1 - t) while a float64 t near 1 is only resolved to 1e-16, hence the
    # looser bound within 1e-9 of the ends
    assert torch.all((back >= 0) & (back <= 1))
    err = (sched.logsnr(back) - lam).abs()
    middle = (back > 1e-9) & (back < 1 - 1e-9)
    assert torch.all(err[middle] < 1e-6) and torch.all(err < 1e-2)


@ALL
def test_t_of_logsnr_inverts_logsnr_on_a_fine_grid(sched):
    lam = sched.logsnr(GRID)
    inside = (lam > dl.LOGSNR_MIN) & (lam < dl.LOGSNR_MAX)
    torch.testing.assert_close(sched.t_of_logsnr(lam)[inside], GRID[inside], rtol=0, atol=1e-9)


@ALL
def test_t_of_logsnr_clamps_out_of_range_values(sched):
    t = sched.t_of_logsnr(torch.tensor([-1e6, -100.0, 0.0, 100.0, 1e6], dtype=F64))
    assert torch.all((t >= 0) & (t <= 1))
    assert torch.all(torch.diff(t) <= 0)


@ALL
def test_dtype_and_device_follow_the_input(sched):
    t32 = torch.tensor([0.0, 0.25, 1.0], dtype=torch.float32)
    for f in (sched.alpha, sched.sigma, sched.logsnr, sched.sigma_edm, sched.snr):
        assert f(t32).dtype == torch.float32 and f(t32).device == t32.device
        assert f(0.5).dtype == F64
    assert sched.t_of_logsnr(torch.tensor(0.0, dtype=torch.float32)).dtype == torch.float32
    torch.testing.assert_close(sched.alpha(t32), sched.alpha(t32.double()).float())


@ALL
@pytest.mark.parametrize("bad", [-0.1, 1.0 + 1e-9, float("nan"), torch.tensor([0.5, 1.5])])
def test_t_outside_unit_interval_raises(sched, bad):
    for f in (sched.alpha, sched.sigma, sched.logsnr, sched.sigma_edm):
        with pytest.raises(ValueError, match=r"t must be in \[0, 1\]"):
            f(bad)
    with pytest.raises(ValueError, match="logsnr"):
        sched.t_of_logsnr(float("nan"))


# ------------------------------------------------------------------ known values
def test_vp_linear_closed_form():
    s = dl.VPLinear()
    assert s.alpha(1.0).item() == pytest.approx(math.exp(-(20 - 0.1) / 4 - 0.05), rel=1e-14)
    assert s.alpha(0.0).item() == 1.0 and s.sigma(0.0).item() == 0.0
    assert s.beta(0.5).item() == pytest.approx(0.1 + 0.5 * 19.9)
    # d/dt log alpha^2 = -beta(t)  (Song et al. 2021, eq. 33)
    h, t = 1e-6, 0.3
    dlog = (torch.log(s.alpha(t + h) ** 2) - torch.log(s.alpha(t - h) ** 2)) / (2 * h)
    assert dlog.item() == pytest.approx(-s.beta(t).item(), rel=1e-7)


def test_cosine_endpoints_and_formula():
    s = dl.Cosine()
    assert s.alpha(0.0).item() == 1.0 and s.alpha(1.0).item() == 0.0
    assert s.sigma(1.0).item() == pytest.approx(1.0, abs=1e-15) and s.sigma(0.0).item() == 0.0
    f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    for t in (0.1, 0.5, 0.9):
        assert s.alpha(t).item() ** 2 == pytest.approx(f(t) / f(0), rel=1e-12)
    assert s.logsnr(1.0).item() == dl.LOGSNR_MIN and s.logsnr(0.0).item() == dl.LOGSNR_MAX


def test_sigmoid_formula():
    s = dl.Sigmoid(start=-3.0, end=3.0, tau=0.7)
    sig = lambda z: 1 / (1 + math.exp(-z))
    for t in (0.0, 0.2, 0.5, 0.8, 1.0):
        ab = (sig(3 / 0.7) - sig((6 * t - 3) / 0.7)) / (sig(3 / 0.7) - sig(-3 / 0.7))
        assert s.alpha(t).item() ** 2 == pytest.approx(ab, rel=1e-12, abs=1e-15)
    assert s.alpha(1.0).item() == 0.0 and s.alpha(0.0).item() == 1.0


def test_ve_and_edm_formulas():
    ve, edm = dl.VE(0.01, 50.0), dl.EDM(0.002, 80.0, 7.0)
    assert not ve.is_vp and not edm.is_vp
    assert ve.sigma(0.5).item() == pytest.approx(0.01 * (5000.0**0.5), rel=1e-13)
    assert edm.sigma(0.0).item() == pytest.approx(0.002, rel=1e-13)
    assert edm.sigma(1.0).item() == pytest.approx(80.0, rel=1e-13)
    assert edm.sigma_edm(0.5).item() == pytest.approx(edm.sigma(0.5).item(), rel=1e-12)
    assert torch.all(ve.alpha(GRID) == 1.0)


def test_discrete_linear_matches_the_cumprod_table():
    s = dl.Discrete.linear(T=1000)
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=F64)
    abar = torch.cumprod(1 - betas, 0)
    assert torch.equal(s.betas, betas) and s.T == 1000
    torch.testing.assert_close(s.alphas_cumprod, abar, rtol=1e-14, atol=0)
    t = torch.arange(1, 1001, dtype=F64) / 1000  # step i <-> t = i / T
    torch.testing.assert_close(s.alpha(t) ** 2, abar, rtol=1e-12, atol=0)
    torch.testing.assert_close(s.sigma(t) ** 2, 1 - abar, rtol=1e-12, atol=0)
    assert s.alpha(0.0).item() == 1.0 and s.sigma(0.0).item() == 0.0
    # between grid points log alpha_bar is linear in t (piecewise-constant beta)
    mid = s.alpha(0.5005) ** 2
    assert mid.item() == pytest.approx(math.sqrt(abar[499].item() * abar[500].item()), rel=1e-12)


def test_terminal_snr_of_ddpm_linear_matches_lin_et_al():
    s = dl.Discrete.linear(1000)
    abar_T = s.alphas_cumprod[-1].item()
    assert s.snr(1.0).item() == pytest.approx(abar_T / (1 - abar_T), rel=1e-10)
    assert s.snr(1.0).item() == pytest.approx(4.04e-5, rel=1e-2)  # Lin et al. 2024, Sec. 3.1


def test_scaled_linear_and_squared_cosine_tables():
    s = dl.Discrete.scaled_linear(T=50)
    expect = torch.linspace(0.00085**0.5, 0.012**0.5, 50, dtype=F64) ** 2
    torch.testing.assert_close(s.betas, expect, rtol=1e-15, atol=0)
    c = dl.Discrete.squared_cosine(T=100, max_beta=0.5)
    f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    ref = [min(1 - f(i / 100) / f((i - 1) / 100), 0.5) for i in range(1, 101)]
    torch.testing.assert_close(c.betas, torch.tensor(ref, dtype=F64), rtol=1e-10, atol=1e-15)
    assert c.betas[-1].item() == 0.5 and c.betas.max().item() == 0.5  # the cap bites at the end
    assert dl.Discrete.squared_cosine().betas[-1].item() == 0.999


def test_zero_terminal_snr_rescaling():
    base = dl.Discrete.linear(1000)
    z = dl.ZeroTerminalSNR(base)
    assert z.alpha(1.0).item() == 0.0 and z.sigma(1.0).item() == 1.0
    assert z.snr(1.0).item() == pytest.approx(math.exp(dl.LOGSNR_MIN), rel=1e-12)  # clipped
    assert z.alpha(0.0).item() == base.alpha(0.0).item() == 1.0
    # Lin et al. Alg. 1: shift and scale sqrt(alpha_bar)
    a0, a1, t = 1.0, base.alpha(1.0).item(), 0.37
    assert z.alpha(t).item() == pytest.approx((base.alpha(t).item() - a1) * a0 / (a0 - a1), rel=1e-13)
    assert torch.all(z.alpha(GRID) <= base.alpha(GRID) + 1e-15)
    assert repr(z).startswith("ZeroTerminalSNR(base=Discrete(T=1000")


# ------------------------------------------------------------------ time grids
@ALL
@pytest.mark.parametrize("spacing", ["uniform", "karras", "logsnr"])
def test_timesteps_shape_monotone_endpoints(sched, spacing):
    ts = dl.timesteps(sched, 20, spacing, t_min=0.01, t_max=0.99)
    assert ts.shape == (21,) and ts.dtype == F64
    assert ts[0].item() == 0.99 and ts[-1].item() == 0.01
    assert torch.all(torch.diff(ts) < 0)
    full = dl.timesteps(sched, 7, spacing)
    assert full[0].item() == 1.0 and full[-1].item() == 0.0 and torch.all(torch.diff(full) <= 0)


def test_uniform_and_logsnr_spacing():
    ts = dl.timesteps(dl.VPLinear(), 4)
    torch.testing.assert_close(ts, torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0], dtype=F64))
    s = dl.Cosine()
    lam = s.logsnr(dl.timesteps(s, 8, "logsnr", t_min=0.05, t_max=0.95))
    d = torch.diff(lam)
    torch.testing.assert_close(d, d.mean().expand(8), rtol=1e-6, atol=0)


def test_karras_spacing_matches_eq5_by_hand():
    s, n, rho = dl.VE(0.002, 80.0), 10, 7.0
    ts = dl.timesteps(s, n, "karras", rho=rho)
    smin, smax = 0.002, 80.0
    hand = [(smax ** (1 / rho) + i / n * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho for i in range(n + 1)]
    torch.testing.assert_close(s.sigma_edm(ts), torch.tensor(hand, dtype=F64), rtol=1e-10, atol=0)
    # for the EDM schedule with the same rho, Karras spacing is uniform in t
    torch.testing.assert_close(dl.timesteps(dl.EDM(), n, "karras"), torch.linspace(1, 0, n + 1, dtype=F64))


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("make,name", [
    (lambda: dl.VPLinear(beta_min=-0.1), "beta_min"),
    (lambda: dl.VPLinear(beta_min=5.0, beta_max=1.0), "beta_max"),
    (lambda: dl.VPLinear(beta_max=float("inf")), "beta_max"),
    (lambda: dl.Cosine(s=0.0), "s"),
    (lambda: dl.Sigmoid(start=2.0, end=1.0), "end"),
    (lambda: dl.Sigmoid(tau=0.0), "tau"),
    (lambda: dl.Sigmoid(start=float("nan")), "start"),
    (lambda: dl.VE(sigma_min=0.0), "sigma_min"),
    (lambda: dl.VE(sigma_min=2.0, sigma_max=1.0), "sigma_max"),
    (lambda: dl.EDM(sigma_min=-1.0), "sigma_min"),
    (lambda: dl.EDM(sigma_max=0.001), "sigma_max"),
    (lambda: dl.EDM(rho=0.0), "rho"),
    (lambda: dl.Discrete([0.1, 1.0]), "betas"),
    (lambda: dl.Discrete([0.1, 0.0]), "betas"),
    (lambda: dl.Discrete([]), "betas"),
    (lambda: dl.Discrete([[0.1]]), "betas"),
    (lambda: dl.Discrete.linear(T=0), "T"),
    (lambda: dl.Discrete.linear(T=10.0), "T"),
    (lambda: dl.Discrete.linear(beta_end=1.5), "beta_end"),
    (lambda: dl.Discrete.scaled_linear(beta_start=0.0), "beta_start"),
    (lambda: dl.Discrete.squared_cosine(max_beta=1.0), "max_beta"),
    (lambda: dl.ZeroTerminalSNR(dl.VE()), "base"),
    (lambda: dl.timesteps(dl.VE(), 0), "n_steps"),
    (lambda: dl.timesteps(dl.VE(), 2.5), "n_steps"),
    (lambda: dl.timesteps(dl.VE(), 5, "quadratic"), "uniform"),
    (lambda: dl.timesteps(dl.VE(), 5, t_min=0.5, t_max=0.5), "t_min"),
    (lambda: dl.timesteps(dl.VE(), 5, t_max=1.5), "t_max"),
    (lambda: dl.timesteps(dl.VE(), 5, "karras", rho=-1.0), "rho"),
    (lambda: dl.get_schedule("linearr"), "vp_linear"),
])
def test_bad_parameters_raise_naming_the_parameter(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_zero_terminal_snr_needs_a_schedule():
    with pytest.raises(TypeError, match="base"):
        dl.ZeroTerminalSNR("cosine")


def test_registry_builds_every_schedule():
    for name in dl.SCHEDULES:
        s = dl.get_schedule(name)
        assert isinstance(s, dl.Schedule) and torch.isfinite(s.logsnr(0.5))
    assert dl.get_schedule("ve", sigma_max=10.0).sigma(1.0).item() == pytest.approx(10.0)
    assert repr(dl.get_schedule("cosine")) == "Cosine(s=0.008)"


def test_discrete_autograd_slope_at_grid_points():
    # at t = i/T the table is linear on [i/T, (i+1)/T]: autograd gives that interval's slope, not 0
    sched = dl.Discrete.linear(1000)
    for i in (1, 250, 999):
        t = torch.tensor(i / 1000, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(sched.alpha(t), t)
        h = 1e-7
        right = (sched.alpha(i / 1000 + h) - sched.alpha(i / 1000)) / h
        assert g.item() != 0.0
        assert g.item() == pytest.approx(right.item(), rel=1e-4)
