"""dl.sde: the forward SDE of every schedule (closed forms vs autograd vs finite differences, simulated marginals),
the sub-VP schedule, score and drifts against the exact mixture score, the probability-flow ODE against its closed
form on a Gaussian and in law on a mixture, the reverse SDE in law, exact and Hutchinson likelihoods against the
exact mixture density, bits per dimension, and bad input."""
import itertools
import math

import diffusionlab as dl
import pytest
import torch

F64 = torch.float64


class _VPGeneric(dl.VPLinear):
    """VPLinear under another type, so that drift_diffusion takes its autograd path."""


class _VEGeneric(dl.VE):
    """VE under another type (autograd path)."""


class _SubVPGeneric(dl.SubVP):
    """SubVP under another type (autograd path)."""


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _fd(schedule, t, h=1e-6):
    """Central differences: f = d log alpha/dt, g^2 = d sigma^2/dt - 2 f sigma^2."""
    la = lambda u: torch.log(schedule.alpha(u))
    s2 = lambda u: schedule.sigma(u) ** 2
    f = (la(t + h) - la(t - h)) / (2 * h)
    return f, (s2(t + h) - s2(t - h)) / (2 * h) - 2 * f * s2(t)


def _gaussian(mean, std):
    m = torch.as_tensor(mean, dtype=F64)
    return dl.GaussianMixture.isotropic([1.0], m[None], std)


TS = torch.tensor([0.0, 1e-4, 0.0123, 0.3001, 0.5, 0.77777, 0.999, 1.0], dtype=F64)
INNER = torch.tensor([1e-3, 0.0123, 0.3001, 0.5, 0.77777, 0.999 - 1e-3], dtype=F64)


# ----------------------------------------------------------------------------- drift_diffusion
@pytest.mark.parametrize("closed,generic", [(dl.VPLinear(), _VPGeneric()), (dl.VE(), _VEGeneric()),
                                            (dl.SubVP(), _SubVPGeneric()),
                                            (dl.VPLinear(0.5, 12.0), _VPGeneric(0.5, 12.0))],
                         ids=["vp", "ve", "subvp", "vp_custom"])
def test_closed_forms_match_autograd_and_finite_differences(closed, generic):
    f, g2 = dl.drift_diffusion(closed, TS)
    assert f.dtype == F64 and f.shape == TS.shape and g2.shape == TS.shape
    fa, ga = dl.drift_diffusion(generic, TS)
    torch.testing.assert_close(fa, f, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(ga, g2, rtol=1e-12, atol=1e-15)
    ff, gf = _fd(closed, INNER)
    fi, gi = dl.drift_diffusion(closed, INNER)
    torch.testing.assert_close(fi, ff, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(gi, gf, rtol=1e-6, atol=1e-9)


def test_vplinear_and_ve_closed_forms():
    vp = dl.VPLinear()
    f, g2 = dl.drift_diffusion(vp, TS)
    assert torch.equal(g2, vp.beta(TS)) and torch.equal(f, -0.5 * vp.beta(TS))  # Song et al. 2021, eq. 11
    ve = dl.VE()
    f, g2 = dl.drift_diffusion(ve, TS)
    assert torch.equal(f, torch.zeros_like(TS))
    torch.testing.assert_close(g2, 2 * math.log(ve.sigma_max / ve.sigma_min) * ve.sigma(TS) ** 2, rtol=1e-14, atol=0)


VP_SCHEDULES = {"vp": dl.VPLinear(), "cosine": dl.Cosine(), "sigmoid": dl.Sigmoid(), "ddpm": dl.Discrete.linear(),
                "zsnr_vp": dl.ZeroTerminalSNR(dl.VPLinear()), "zsnr_ddpm": dl.ZeroTerminalSNR(dl.Discrete.linear())}


@pytest.mark.parametrize("sched", list(VP_SCHEDULES.values()), ids=list(VP_SCHEDULES))
def test_vp_identity_g2_is_minus_two_f(sched):
    t = TS[:-1]  # t = 1 has alpha = 0 for the cosine / sigmoid / zero-terminal-SNR ones
    f, g2 = dl.drift_diffusion(sched, t)
    torch.testing.assert_close(sched.alpha(t) ** 2 + sched.sigma(t) ** 2, torch.ones_like(t), rtol=0, atol=1e-14)
    torch.testing.assert_close(g2, -2 * f, rtol=1e-13, atol=0)
    assert bool((f < 0).all() & (g2 > 0).all())


GENERIC = {"cosine": dl.Cosine(), "edm": dl.EDM(), "sigmoid": dl.Sigmoid(), "zsnr_vp": dl.ZeroTerminalSNR(dl.VPLinear()),
           "zsnr_cosine": dl.ZeroTerminalSNR(dl.Cosine())}


@pytest.mark.parametrize("sched", list(GENERIC.values()), ids=list(GENERIC))
def test_other_schedules_match_finite_differences(sched):
    f, g2 = dl.drift_diffusion(sched, INNER)
    ff, gf = _fd(sched, INNER)
    torch.testing.assert_close(f, ff, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(g2, gf, rtol=1e-6, atol=1e-9)
    assert bool((g2 > 0).all())  # logsnr decreases, so the diffusion is real


def test_cosine_at_t0_and_edm_closed_form():
    c = dl.Cosine()
    k = 0.5 * math.pi / (1 + c.s)
    f, g2 = dl.drift_diffusion(c, torch.tensor([0.0, 0.4], dtype=F64))
    # alpha = sin(k (1 - t)) / sin(k): f = -k cot(k (1 - t)), including t = 0 where alpha is exactly 1
    exact = torch.tensor([-k / math.tan(k), -k / math.tan(0.6 * k)], dtype=F64)
    torch.testing.assert_close(f, exact, rtol=1e-13, atol=0)
    e = dl.EDM()
    t = torch.tensor([0.0, 0.3, 1.0], dtype=F64)
    lo, hi = e.sigma_min ** (1 / e.rho), e.sigma_max ** (1 / e.rho)
    ds = e.rho * (lo + t * (hi - lo)) ** (e.rho - 1) * (hi - lo)
    f, g2 = dl.drift_diffusion(e, t)
    assert torch.equal(f, torch.zeros_like(t))
    torch.testing.assert_close(g2, 2 * e.sigma(t) * ds, rtol=1e-12, atol=0)


def test_discrete_tables_are_piecewise_constant_beta():
    d = dl.Discrete.linear(T=10, beta_start=0.01, beta_end=0.3)
    t = torch.tensor([0.0, 0.05, 0.1, 0.35, 0.9, 0.95, 1.0], dtype=F64)
    f, g2 = dl.drift_diffusion(d, t)
    piece = torch.tensor([0, 0, 1, 3, 9, 9, 9])  # right-continuous at grid points, last piece at t = 1
    torch.testing.assert_close(f, 0.5 * d.T * torch.log1p(-d.betas[piece]), rtol=1e-14, atol=0)
    torch.testing.assert_close(g2, -2 * f, rtol=0, atol=0)
    mid = torch.tensor([0.05, 0.35, 0.95], dtype=F64)
    torch.testing.assert_close(dl.drift_diffusion(d, mid)[0], _fd(d, mid)[0], rtol=1e-8, atol=0)


def test_drift_diffusion_shapes_and_bad_input():
    t = torch.full((2, 3), 0.4, dtype=torch.float32)
    f, g2 = dl.drift_diffusion(dl.Cosine(), t)
    assert f.shape == (2, 3) and f.dtype == F64 and g2.dtype == F64
    assert dl.drift_diffusion(dl.VPLinear(), 0.5)[0].shape == ()
    for bad in (-0.1, 1.5, float("nan"), torch.tensor([0.5, 2.0])):
        with pytest.raises(ValueError, match="t must be in"):
            dl.drift_diffusion(dl.VPLinear(), bad)
    for sched in (dl.Cosine(), dl.ZeroTerminalSNR(dl.VPLinear()), dl.Sigmoid()):
        with pytest.raises(ValueError, match="t: the forward SDE coefficients .* not finite"):
            dl.drift_diffusion(sched, torch.tensor([0.5, 1.0], dtype=F64))
    with pytest.raises(TypeError, match="schedule"):
        dl.drift_diffusion("vp", 0.5)


# ----------------------------------------------------------------------------- SubVP
def test_subvp_schedule():
    sub, vp = dl.SubVP(), dl.VPLinear()
    t = torch.linspace(0, 1, 101, dtype=F64)
    B = 0.5 * t * t * (20.0 - 0.1) + 0.1 * t
    torch.testing.assert_close(sub.alpha(t), vp.alpha(t), rtol=1e-15, atol=0)
    torch.testing.assert_close(sub.sigma(t), 1 - sub.alpha(t) ** 2, rtol=1e-12, atol=1e-16)  # Song eq. 29
    assert not sub.is_vp and bool((sub.alpha(t[1:]) ** 2 + sub.sigma(t[1:]) ** 2 < 1).all())
    f, g2 = dl.drift_diffusion(sub, t)
    torch.testing.assert_close(f, -0.5 * sub.beta(t), rtol=1e-15, atol=0)
    torch.testing.assert_close(g2, sub.beta(t) * (1 - torch.exp(-2 * B)), rtol=1e-13, atol=0)  # Song eq. 12
    assert bool((g2 <= dl.drift_diffusion(vp, t)[1]).all())  # "sub": less noise than VP
    # logsnr and its closed-form inverse
    inner = t[1:]
    torch.testing.assert_close(sub.logsnr(inner), torch.log(sub.alpha(inner) ** 2 / sub.sigma(inner) ** 2))
    torch.testing.assert_close(sub.t_of_logsnr(sub.logsnr(inner)), inner, rtol=1e-10, atol=1e-12)
    assert sub.logsnr(0.0).item() == dl.LOGSNR_MAX
    grid = dl.timesteps(sub, 10, spacing="logsnr")
    assert grid[0] == 1 and grid[-1] == 0 and bool((grid[1:] < grid[:-1]).all())
    lam = sub.logsnr(grid[1:-1])
    torch.testing.assert_close(torch.diff(lam), torch.full_like(lam[1:], (lam[-1] - lam[0]).item() / 8), rtol=1e-9,
                               atol=1e-9)
    for kw, name in (({"beta_min": -1.0}, "beta_min"), ({"beta_max": 0.05}, "beta_max"),
                     ({"beta_max": float("nan")}, "beta_max")):
        with pytest.raises(ValueError, match=name):
            dl.SubVP(**kw)


def test_subvp_works_with_gaussian_mixtures():
    sub, mix = dl.SubVP(), dl.GaussianMixture.ring()
    x = torch.randn(7, 2, dtype=F64, generator=_gen())
    for t in (0.05, 0.5, 1.0):
        a, s = sub.alpha(t).item(), sub.sigma(t).item()
        torch.testing.assert_close(mix.denoiser(x, t, sub), (x + s * s * mix.score_t(x, t, sub)) / a)
        marg = mix.at(sub, t)
        torch.testing.assert_close(marg.covs, a * a * mix.covs + s * s * torch.eye(2, dtype=F64))


# ----------------------------------------------------------------------------- forward SDE in law
@pytest.mark.parametrize("sched", [dl.VPLinear(), dl.VE(), dl.SubVP()], ids=["vp", "ve", "subvp"])
def test_euler_maruyama_of_the_forward_sde_reproduces_the_marginals(sched):
    m, sd, n, k = 0.5, 0.4, 20_000, 1000
    g = _gen(1)
    ts = torch.linspace(0, 1, k + 1, dtype=F64)
    f, g2 = dl.drift_diffusion(sched, 0.5 * (ts[1:] + ts[:-1]))  # midpoint coefficients
    x, h = m + sd * torch.randn(n, dtype=F64, generator=g), 1.0 / k
    for i in range(k):
        x = x + f[i].item() * x * h + math.sqrt(g2[i].item() * h) * torch.randn(n, dtype=F64, generator=g)
        if i + 1 in (k // 4, k):
            t = ts[i + 1].item()
            a, s = sched.alpha(t).item(), sched.sigma(t).item()
            var = a * a * sd * sd + s * s
            assert abs(x.mean().item() - a * m) < 5 * math.sqrt(var / n)
            assert abs(x.var().item() / var - 1) < 5 * math.sqrt(2 / n) + 0.005  # MC + Euler bias


# ----------------------------------------------------------------------------- score and drifts
DRIFT_SCHEDULES = [dl.VPLinear(), dl.Cosine(), dl.VE(), dl.SubVP(), dl.EDM()]


@pytest.mark.parametrize("sched", DRIFT_SCHEDULES, ids=["vp", "cosine", "ve", "subvp", "edm"])
def test_score_and_drifts_match_their_definitions(sched):
    mix = dl.GaussianMixture.ring()
    D = mix.as_denoiser(sched)
    score = dl.score_from_denoiser(D, sched)
    x = 2 * torch.randn(16, 2, dtype=F64, generator=_gen())
    for t in (0.02, 0.5, 0.9):
        true = mix.score_t(x, t, sched)
        torch.testing.assert_close(score(x, t), true, rtol=1e-9, atol=1e-10)
        f, g2 = (v.item() for v in dl.drift_diffusion(sched, t))
        torch.testing.assert_close(dl.pf_ode_drift(D, sched, x, t), f * x - 0.5 * g2 * true, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(dl.reverse_sde_drift(D, sched, x, t), f * x - g2 * true, rtol=1e-9, atol=1e-9)
    tv = torch.tensor([0.1, 0.7] * 8, dtype=F64)  # one time per sample
    torch.testing.assert_close(score(x, tv), mix.score_t(x, tv, sched), rtol=1e-9, atol=1e-10)
    x32 = x.float()
    out = dl.pf_ode_drift(D, sched, x32, 0.5)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, dl.pf_ode_drift(D, sched, x, 0.5).float(), rtol=1e-4, atol=1e-4)


def test_drifts_at_the_edges():
    mix, c = dl.GaussianMixture.ring(), dl.Cosine()
    x = torch.randn(5, 2, dtype=F64, generator=_gen())
    # Cosine at t = 1: alpha = 0 so f = -inf, but the PF drift alpha' D + (sigma^2)'/(2 sigma^2)(x - alpha D) = alpha' D
    k = 0.5 * math.pi / (1 + c.s)
    out = dl.pf_ode_drift(mix.as_denoiser(c), c, x, 1.0)
    torch.testing.assert_close(out, (-k / math.sin(k)) * mix.mean().expand(5, 2), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="reverse SDE drift is undefined"):
        dl.reverse_sde_drift(mix.as_denoiser(c), c, x, 1.0)
    vp = dl.VPLinear()
    for fn in (dl.pf_ode_drift, dl.reverse_sde_drift):
        with pytest.raises(ValueError, match="t: .*sigma_t = 0"):
            fn(mix.as_denoiser(vp), vp, x, 0.0)
        with pytest.raises(ValueError, match="single time"):
            fn(mix.as_denoiser(vp), vp, x, torch.tensor([0.5, 0.6]))
        with pytest.raises(ValueError, match="denoiser must return"):
            fn(lambda y, t: y[:1], vp, x, 0.5)
    with pytest.raises(ValueError, match="t: sigma_t = 0"):
        dl.score_from_denoiser(mix.as_denoiser(vp), vp)(x, 0.0)


# ----------------------------------------------------------------------------- probability-flow ODE
def _gaussian_flow(sched, m, sd, x, t, s):
    """The PF-ODE map of N(m, sd^2 I): x_s = alpha_s m + sqrt(alpha_s^2 sd^2 + sigma_s^2) / sqrt(...)_t (x_t - alpha_t m)."""
    at, st, as_, ss = (v.item() for v in (sched.alpha(t), sched.sigma(t), sched.alpha(s), sched.sigma(s)))
    return as_ * m + math.sqrt(as_ ** 2 * sd ** 2 + ss ** 2) / math.sqrt(at ** 2 * sd ** 2 + st ** 2) * (x - at * m)


PF_CASES = [(sched, t, s) for sched in (dl.VPLinear(), dl.Cosine(), dl.VE(), dl.SubVP())
            for t, s in ((1.0, 0.0), (1.0, 0.01), (0.3, 0.9), (0.0, 1.0))]
PF_CASES += [(dl.EDM(), 1.0, 0.0), (dl.Discrete.linear(), 1.0, 0.0), (dl.Sigmoid(), 0.6, 0.2)]


@pytest.mark.parametrize("sched,t,s", PF_CASES, ids=[f"{type(c[0]).__name__}-{c[1]}-{c[2]}" for c in PF_CASES])
def test_pf_ode_matches_the_gaussian_flow_in_closed_form(sched, t, s):
    m, sd = torch.tensor([0.7, -0.4], dtype=F64), 0.3
    mix = _gaussian(m, sd)
    x = mix.at(sched, t).sample(16, generator=_gen(2))
    out = dl.solve_pf_ode(mix.as_denoiser(sched), sched, x, t, s)
    exact = _gaussian_flow(sched, m, sd, x, t, s)
    assert out.shape == x.shape and out.dtype == F64
    assert (out - exact).abs().max().item() < 1e-8 * max(1.0, exact.abs().max().item())


def test_pf_ode_pushes_the_true_p1_onto_a_mixture():
    mix = dl.GaussianMixture.ring(n_modes=4, radius=2.0, std=0.3)
    n, g = 1500, _gen(3)
    for sched in (dl.VPLinear(), dl.Cosine()):
        out = dl.pf_ode_map(mix.as_denoiser(sched), sched, mix.at(sched, 1.0).sample(n, generator=g), rtol=1e-7,
                            atol=1e-7)
        ref, ref2 = mix.sample(n, generator=g), mix.sample(n, generator=g)
        sw = dl.sliced_wasserstein(out, ref, generator=_gen(4)).item()
        base = dl.sliced_wasserstein(ref2, ref, generator=_gen(4)).item()
        assert sw < 2.0 * base + 0.01, (sw, base)
        # the sharpest check of the mode widths: mean log-density under the data (its entropy, within MC error)
        lp, lp_ref = mix.log_prob(out), mix.log_prob(ref)
        se = math.sqrt((lp.var() + lp_ref.var()).item() / n)
        assert abs(lp.mean().item() - lp_ref.mean().item()) < 4 * se
        assert (out.mean(0) - mix.mean()).abs().max().item() < 4 * math.sqrt(mix.cov().diagonal().max().item() / n)


def test_pf_ode_is_reversible_and_ends_on_training_points():
    mix, vp = dl.GaussianMixture.ring(), dl.VPLinear()
    x1 = mix.at(vp, 1.0).sample(32, generator=_gen(5))
    D = mix.as_denoiser(vp)
    back = dl.solve_pf_ode(D, vp, dl.solve_pf_ode(D, vp, x1, 1.0, 0.01), 0.01, 1.0)
    assert (back - x1).abs().max().item() < 1e-6
    # an empirical distribution: the flow ends exactly on training points (solve_pf_ode returns D at logsnr = 30)
    emp = dl.EmpiricalDistribution(torch.tensor([[1.0, 0.0], [-1.0, 0.5], [0.0, -1.0]], dtype=F64))
    out = dl.solve_pf_ode(emp.as_denoiser(vp), vp, torch.randn(8, 2, dtype=F64, generator=_gen(6)), 1.0, 0.0,
                          rtol=1e-8, atol=1e-8)
    assert emp.nearest(out)[1].max().item() < 1e-9


def test_solve_pf_ode_dtypes_and_bad_input():
    mix, vp = dl.GaussianMixture.ring(), dl.VPLinear()
    D = mix.as_denoiser(vp)
    x = mix.at(vp, 1.0).sample(8, generator=_gen(7))
    ref = dl.solve_pf_ode(D, vp, x, 1.0, 0.0, rtol=1e-8, atol=1e-8)
    out32 = dl.solve_pf_ode(D, vp, x.float(), 1.0, 0.0, rtol=1e-5, atol=1e-5)
    assert out32.dtype == torch.float32 and out32.shape == x.shape
    assert (out32.double() - ref).abs().max().item() < 1e-3
    torch.testing.assert_close(dl.pf_ode_map(D, vp, x, t_max=1.0, t_min=0.0, rtol=1e-8, atol=1e-8), ref)
    same = dl.solve_pf_ode(D, vp, x, 0.5, 0.5)
    assert torch.equal(same, x) and same is not x
    with pytest.raises(TypeError, match="x must be a torch tensor"):
        dl.solve_pf_ode(D, vp, x.tolist(), 1.0, 0.0)
    with pytest.raises(ValueError, match="x must be a non-empty floating-point"):
        dl.solve_pf_ode(D, vp, x.long(), 1.0, 0.0)
    for kw, name in (({"t_start": 1.5}, "t_start"), ({"t_end": float("nan")}, "t_end"),
                     ({"t_start": torch.tensor([1.0, 0.5])}, "t_start"), ({"rtol": 0.0}, "rtol"),
                     ({"atol": -1.0}, "atol")):
        args = {"t_start": 1.0, "t_end": 0.0, **kw}
        t0, t1 = args.pop("t_start"), args.pop("t_end")
        with pytest.raises(ValueError, match=name):
            dl.solve_pf_ode(D, vp, x, t0, t1, **args)
    with pytest.raises(TypeError, match="schedule"):
        dl.solve_pf_ode(D, None, x, 1.0, 0.0)


# ----------------------------------------------------------------------------- reverse SDE in law
@pytest.mark.parametrize("sched", [dl.VPLinear(), dl.SubVP(), dl.VE()], ids=["vp", "subvp", "ve"])
def test_euler_maruyama_of_the_reverse_sde_reproduces_the_data_law(sched):
    mean = torch.tensor([0.5, -1.0], dtype=F64)
    cov = torch.tensor([[0.5, 0.3], [0.3, 0.4]], dtype=F64)
    mix = dl.GaussianMixture([1.0], mean[None], cov[None])

    def D(x, t):  # the exact denoiser of a Gaussian, m + alpha S C^-1 (x - alpha m): cheap for many samples
        a, s = sched.alpha(t).item(), sched.sigma(t).item()
        return mean + (x - a * mean) @ torch.linalg.solve(a * a * cov + s * s * torch.eye(2, dtype=F64), a * cov).T

    probe = torch.randn(4, 2, dtype=F64, generator=_gen())
    torch.testing.assert_close(D(probe, 0.3), mix.denoiser(probe, 0.3, sched))
    n, k, t_end, g = 20_000, 400, 1e-3, _gen(8)
    ts = torch.linspace(1.0, t_end, k + 1, dtype=F64).tolist()
    x = mix.at(sched, 1.0).sample(n, generator=g)
    for t, s in itertools.pairwise(ts):
        g2 = dl.drift_diffusion(sched, t)[1].item()
        x = x - dl.reverse_sde_drift(D, sched, x, t) * (t - s) + math.sqrt(g2 * (t - s)) * torch.randn(
            x.shape, dtype=F64, generator=g)
    target = mix.at(sched, t_end)
    sd = target.cov().diagonal().sqrt()
    assert ((x.mean(0) - target.mean()) / sd).abs().max().item() < 5 / math.sqrt(n)
    rel = (torch.cov(x.T) - target.cov()) / sd.outer(sd)
    assert rel.abs().max().item() < 5 * math.sqrt(2 / n) + 0.01  # MC + Euler bias


# ----------------------------------------------------------------------------- likelihood
LL_CASES = [(mix, sched) for mix in ("two_modes", "ring") for sched in (dl.VPLinear(), dl.Cosine(), dl.VE(), dl.SubVP())]


@pytest.mark.parametrize("name,sched", LL_CASES, ids=[f"{m}-{type(s).__name__}" for m, s in LL_CASES])
def test_exact_log_likelihood_matches_the_true_density(name, sched):
    mix = getattr(dl.GaussianMixture, name)()
    x0 = mix.sample(40, generator=_gen(9))
    t_min = 1e-3
    true = mix.at(sched, t_min).log_prob(x0)
    ll = dl.log_likelihood(mix.as_denoiser(sched), sched, x0, t_min=t_min, prior=mix.at(sched, 1.0).log_prob)
    assert ll.shape == (40,) and ll.dtype == F64
    assert (ll - true).abs().max().item() < 2e-4
    if name == "ring" and sched.is_vp:  # the default prior N(0, I) is off by O(alpha_1^2) only
        ll = dl.log_likelihood(mix.as_denoiser(sched), sched, x0, t_min=t_min)
        assert (ll - true).abs().max().item() < 1e-3


def test_log_likelihood_converges_with_the_tolerance_and_at_small_t_min():
    mix, vp = dl.GaussianMixture.ring(), dl.VPLinear()
    x0 = mix.sample(10, generator=_gen(10))
    ll = dl.log_likelihood(mix.as_denoiser(vp), vp, x0, t_min=1e-3, prior=mix.at(vp, 1.0).log_prob, rtol=1e-9,
                           atol=1e-9, method="DOP853")
    assert (ll - mix.at(vp, 1e-3).log_prob(x0)).abs().max().item() < 1e-7
    ll = dl.log_likelihood(mix.as_denoiser(vp), vp, x0)  # t_min = 1e-5: close to log p_0 itself
    assert (ll - mix.log_prob(x0)).abs().max().item() < 2e-3


def test_hutchinson_log_likelihood_is_unbiased():
    mix, vp = dl.GaussianMixture.ring(), dl.VPLinear()
    x0 = mix.sample(100, generator=_gen(11))
    true = mix.at(vp, 1e-3).log_prob(x0)
    prior = mix.at(vp, 1.0).log_prob
    ll = dl.log_likelihood(mix.as_denoiser(vp), vp, x0, t_min=1e-3, divergence="hutchinson", n_probes=2,
                           probe="gaussian", generator=_gen(12), prior=prior)
    err = ll - true
    assert err.std().item() > 1e-3  # really an estimate...
    assert abs(err.mean().item()) < 4 * err.std().item() / math.sqrt(100)  # ...but unbiased


def test_hutchinson_in_20_dimensions():
    d, vp = 20, dl.VPLinear()
    mix = dl.GaussianMixture.isotropic([1.0], torch.full((1, d), 0.3, dtype=F64), 0.5)
    x0 = mix.sample(60, generator=_gen(13))
    true = mix.at(vp, 1e-3).log_prob(x0)
    D, prior = mix.as_denoiser(vp), mix.at(vp, 1.0).log_prob
    # dv/dx is a multiple of I for an isotropic Gaussian, so Rademacher probes (u.u = d) are exact ("auto" > 16 dims)
    ll = dl.log_likelihood(D, vp, x0, t_min=1e-3, prior=prior, n_probes=1, generator=_gen(14))
    assert (ll - true).abs().max().item() < 1e-3
    # Gaussian probes: u^T J u = c |u|^2 with E|u|^2 = d, Var |u|^2 = 2d
    ll = dl.log_likelihood(D, vp, x0, t_min=1e-3, prior=prior, probe="gaussian", n_probes=4, generator=_gen(15))
    err = ll - true
    assert err.std().item() > 0.1
    assert abs(err.mean().item()) < 4 * err.std().item() / math.sqrt(60)


def test_log_likelihood_bad_input():
    mix, vp = dl.GaussianMixture.ring(), dl.VPLinear()
    D, x0 = mix.as_denoiser(vp), mix.sample(4, generator=_gen())
    bad = [({"divergence": "trace"}, ValueError, "divergence"), ({"n_probes": 0}, ValueError, "n_probes"),
           ({"probe": "uniform"}, ValueError, "probe"), ({"t_min": 0.5, "t_max": 0.5}, ValueError, "t_min must be <"),
           ({"t_min": -0.1}, ValueError, "t_min"), ({"t_max": 1.5}, ValueError, "t_max"),
           ({"t_min": 0.0}, ValueError, "t_min: logsnr"), ({"rtol": 0.0}, ValueError, "rtol"),
           ({"prior": 3.0}, TypeError, "prior"), ({"prior": lambda x: x}, ValueError, "prior must return")]
    for kw, err, match in bad:
        with pytest.raises(err, match=match):
            dl.log_likelihood(D, vp, x0, **kw)
    with pytest.raises(ValueError, match="x0"):
        dl.log_likelihood(D, vp, x0.long())
    with pytest.raises(ValueError, match="x0 must be finite"):
        dl.log_likelihood(D, vp, torch.full((2, 2), float("nan"), dtype=F64))
    with pytest.raises(TypeError, match="x0"):
        dl.log_likelihood(D, vp, [[0.0, 1.0]])
    with pytest.raises(ValueError, match="denoiser: its output must be differentiable"):
        dl.log_likelihood(lambda x, t: D(x, t).detach(), vp, x0)


# ----------------------------------------------------------------------------- bits per dim
def test_bits_per_dim():
    for d in (1, 3, 64):
        # a uniform density on [-1, 1]^d has nll = d log 2; 8-bit bins of width 2/256 make that exactly 8 bits
        assert dl.bits_per_dim(d * math.log(2), d, bin_width=2 / 256) == pytest.approx(8.0, abs=1e-12)
    # digits: 64 pixels with 17 levels spaced 1/8 apart; a density of e^-50 at the data
    assert dl.bits_per_dim(50.0, 64, bin_width=1 / 8) == pytest.approx((50 + 64 * math.log(8)) / (64 * math.log(2)))
    nll = torch.tensor([10.0, 20.0], dtype=F64)
    out = dl.bits_per_dim(nll, 2, bin_width=1.0)
    assert isinstance(out, torch.Tensor) and torch.allclose(out, nll / (2 * math.log(2)))
    for kw, name in (({"dim": 0}, "dim"), ({"dim": 2.5}, "dim"), ({"bin_width": 0.0}, "bin_width"),
                     ({"bin_width": -1.0}, "bin_width"), ({"bin_width": float("inf")}, "bin_width")):
        args = {"dim": 2, "bin_width": 0.1, **kw}
        with pytest.raises(ValueError, match=name):
            dl.bits_per_dim(1.0, args["dim"], bin_width=args["bin_width"])
    with pytest.raises(TypeError, match="nll_nats"):
        dl.bits_per_dim("1.0", 2, bin_width=0.1)


def test_public_api_is_exported():
    for name in dl.sde.__all__:
        assert getattr(dl, name) is getattr(dl.sde, name)
        obj = getattr(dl.sde, name)
        assert obj.__doc__ and ("et al." in obj.__doc__ or "Song" in obj.__doc__), name
