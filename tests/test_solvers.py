"""dl.solvers and the sampler family of dl.samplers: the identities between samplers (Euler on the PF-ODE =
DDIM(eta = 0) = first-order DPM-Solver++; DDIM(eta = 1) = the DDPM posterior step), convergence to the exact
PF-ODE solution with the expected order on an analytic Gaussian mixture (reference: dl.sde.solve_pf_ode,
scipy's DOP853 at 1e-11), distributional convergence of the stochastic samplers to exact samples,
the NFE bookkeeping of the registry, and bad inputs."""
import math
from itertools import pairwise

import diffusionlab as dl
import numpy as np
import pytest
import torch

F64 = torch.float64
GM = dl.GaussianMixture.ring(4, radius=2.0, std=0.5)
ODE = ("euler", "heun", "dpmpp_2m", "dpmpp_3m")
STOCHASTIC = ("ddpm", "ddim", "euler_maruyama", "pc")


def gen(seed):
    return torch.Generator().manual_seed(seed)


def x_T_for(schedule, t, n=32, seed=0):
    return GM.at(schedule, t).sample(n, gen(seed))


def reference_pf_ode(D, schedule, x, t0, t1):
    """The exact probability-flow ODE solution (``dl.sde.solve_pf_ode``: scipy DOP853) at 1e-11 tolerances."""
    return dl.sde.solve_pf_ode(D, schedule, x, t0, t1, rtol=1e-11, atol=1e-11)


def rms(a, b):
    return ((a - b) ** 2).sum(-1).mean().sqrt().item()


# ----------------------------------------------------------------------------- identities
GRIDS = [  # (schedule, t_max, t_min): alpha = 0 at the start (Cosine), sigma = 0 at the end (VP), VE
    (dl.VPLinear(), 1.0, 0.0), (dl.VPLinear(), 0.9, 1e-3), (dl.Cosine(), 1.0, 0.0), (dl.Cosine(), 0.99, 0.01),
    (dl.VE(), 1.0, 0.0), (dl.Discrete.linear(), 1.0, 0.0), (dl.ZeroTerminalSNR(dl.VPLinear()), 1.0, 0.0),
]


@pytest.mark.parametrize("schedule,t_max,t_min", GRIDS)
def test_euler_is_ddim_eta0_is_first_order_dpmpp(schedule, t_max, t_min):
    D = GM.as_denoiser(schedule)
    x_T = x_T_for(schedule, t_max)
    ts = dl.timesteps(schedule, 12, spacing="logsnr", t_max=t_max, t_min=t_min)
    ref, traj = dl.euler(D, schedule, x_T, ts, return_trajectory=True)
    assert len(traj) == len(ts) and traj[0] is x_T and traj[-1] is ref
    assert torch.allclose(dl.ddim(D, schedule, x_T, ts, eta=0.0), ref, rtol=1e-12, atol=1e-12)
    # DPM-Solver++ on two-point grids takes only first-order steps: chain them along the grid
    for solver in (dl.dpmpp_2m, dl.dpmpp_3m):
        x = x_T
        for t, s in pairwise(ts.tolist()):
            x = solver(D, schedule, x, [t, s])
        assert torch.allclose(x, ref, rtol=1e-12, atol=1e-12), solver
    if float(schedule.sigma(t_min)) == 0:  # a final step to sigma = 0 lands on D for every ODE sampler
        last = dl.euler(D, schedule, traj[-2], ts[-2:])
        assert torch.equal(last, D(traj[-2], ts[-2].item()))
        assert torch.equal(dl.heun(D, schedule, traj[-2], ts[-2:]), last)
        assert torch.equal(dl.dpmpp_3m(D, schedule, traj[-2], ts[-2:]), last)
    if float(schedule.alpha(t_max)) > 0:  # the same Euler step written in EDM's scaled variables
        x = x_T
        for t, s in pairwise(ts.tolist()):
            (a_t, s_t), (a_s, s_s) = ((float(schedule.alpha(u)), float(schedule.sigma(u))) for u in (t, s))
            xt, d = x / a_t, (x / a_t - D(x, t)) / (s_t / a_t)
            x = a_s * (xt + (s_s / a_s - s_t / a_t) * d)
        assert torch.allclose(x, ref, rtol=1e-10, atol=1e-10)


def test_second_order_step_of_3m_is_2m_and_heun_first_stage_is_euler():
    schedule = dl.VPLinear()
    D = GM.as_denoiser(schedule)
    x_T = x_T_for(schedule, 1.0)
    ts = dl.timesteps(schedule, 2, spacing="logsnr", t_min=0.1)
    kw = {"lower_order_final": False}
    a, b = dl.dpmpp_2m(D, schedule, x_T, ts, **kw), dl.dpmpp_3m(D, schedule, x_T, ts, **kw)
    assert torch.allclose(a, b, rtol=1e-13, atol=1e-13)
    assert not torch.allclose(a, dl.euler(D, schedule, x_T, ts), atol=1e-6)  # the second step is not Euler
    # lower_order_final on a short grid: the last step is first order, so 2M on 2 steps = Euler on 2 steps
    assert torch.allclose(dl.dpmpp_2m(D, schedule, x_T, ts), dl.euler(D, schedule, x_T, ts), rtol=1e-12, atol=1e-12)
    # heun's correction averages the Euler slope with the slope at the Euler point (trapezoidal rule)
    x1 = dl.euler(D, schedule, x_T, ts[:2])
    (a0, s0), (a1, s1) = ((float(schedule.alpha(u)), float(schedule.sigma(u))) for u in ts[:2].tolist())
    d0, d1 = (x_T - a0 * D(x_T, ts[0].item())) / s0, (x1 - a1 * D(x1, ts[1].item())) / s1
    expect = a1 * (x_T / a0 + (s1 / a1 - s0 / a0) * 0.5 * (d0 + d1))
    assert torch.allclose(dl.heun(D, schedule, x_T, ts[:2]), expect, rtol=1e-12, atol=1e-12)


def test_dpmpp_3m_step_is_exact_for_a_denoiser_quadratic_in_lambda():
    # D(lambda) = c0 + c1 lambda + c2 lambda^2 (lambda = log(alpha / sigma), half of logsnr), independent of x:
    # the exact solution is x_s = (sigma_s / sigma_t) x_t + sigma_s [F(lambda_s) - F(lambda_t)] with
    # F = e^lambda (c0 + c1 (lambda - 1) + c2 (lambda^2 - 2 lambda + 2)); every third-order step (from the third
    # on) interpolates D exactly, so it must reproduce that step exactly, on an uneven grid
    schedule = dl.Cosine()
    c = torch.tensor([[0.3, -1.0], [0.5, 0.2], [-0.05, 0.1]], dtype=F64)  # c0, c1, c2 per coordinate

    def lam(t):
        return math.log(float(schedule.alpha(t))) - math.log(float(schedule.sigma(t)))

    def D(x, t):
        lt = lam(t)
        return (c[0] + c[1] * lt + c[2] * lt * lt).expand_as(x)

    def F(lt):
        return math.exp(lt) * (c[0] + c[1] * (lt - 1) + c[2] * (lt * lt - 2 * lt + 2))

    ts = [0.95, 0.9, 0.7, 0.65, 0.5, 0.3, 0.28, 0.1]
    _, traj = dl.dpmpp_3m(D, schedule, x_T_for(schedule, 0.95, n=3), ts, lower_order_final=False,
                          return_trajectory=True)
    for i in range(2, len(ts) - 1):
        t, s = ts[i], ts[i + 1]
        expect = float(schedule.sigma(s)) * (traj[i] / float(schedule.sigma(t)) + F(lam(s)) - F(lam(t)))
        assert torch.allclose(traj[i + 1], expect, rtol=1e-12, atol=1e-12), i
    # the two warm-up steps (orders 1 and 2) are not exact for a curved D
    t, s = ts[1], ts[2]
    expect = float(schedule.sigma(s)) * (traj[1] / float(schedule.sigma(t)) + F(lam(s)) - F(lam(t)))
    assert not torch.allclose(traj[2], expect, atol=1e-6)


def test_ddim_eta_noise_is_the_posterior_noise():
    # one step with a fixed x0 "denoiser": DDIM(eta) = a_s x0 + sqrt(sigma_s^2 - eta^2 var) eps + eta sqrt(var) z
    # (Song, Meng & Ermon 2021, eq. 12 and 16); at eta = 1 exactly the posterior mean c_x x + c_0 x0 plus sqrt(var) z
    for schedule, t, s in [(dl.VPLinear(), 0.7, 0.5), (dl.Cosine(), 1.0, 0.6), (dl.VE(), 0.9, 0.2),
                           (dl.Discrete.linear(), 0.5, 0.499)]:
        x0 = torch.tensor([[0.3, -1.2]], dtype=F64).expand(5, 2)
        x = x_T_for(schedule, t, n=5)
        c_x, c_0, var, _ = dl.posterior_coefficients(schedule, t, s)
        (a_t, s_t), (a_s, s_s) = ((float(schedule.alpha(u)), float(schedule.sigma(u))) for u in (t, s))
        eps = (x - a_t * x0) / s_t
        z = torch.randn(x.shape, generator=gen(3), dtype=F64)
        fixed = lambda y, u, x0=x0: x0
        for eta in (0.0, 0.3, 1.0):
            out = dl.ddim(fixed, schedule, x, [t, s], eta=eta, generator=gen(3))
            expect = a_s * x0 + math.sqrt(s_s ** 2 - eta ** 2 * var) * eps + eta * math.sqrt(var) * z
            assert torch.allclose(out, expect, rtol=1e-12, atol=1e-12), (schedule, eta)
        assert torch.allclose(out, c_x * x + c_0 * x0 + math.sqrt(var) * z, rtol=1e-12, atol=1e-12)
    # and in distribution: many draws of one step have the posterior mean and variance
    schedule, t, s = dl.VPLinear(), 0.6, 0.4
    c_x, c_0, var, _ = dl.posterior_coefficients(schedule, t, s)
    x = torch.full((200_000, 1), 0.7, dtype=F64)
    out = dl.ddim(lambda y, u: torch.full_like(y, -0.5), schedule, x, [t, s], eta=1.0, generator=gen(0))
    assert abs(out.mean().item() - (0.7 * c_x - 0.5 * c_0)) < 5 * math.sqrt(var / 2e5)
    assert abs(out.var().item() / var - 1) < 0.02


def test_ddim_eta1_is_ddpm_ancestral_on_the_ddpm_grid():
    for schedule, ts in [(dl.Discrete.linear(), torch.arange(1000, -1, -1, dtype=F64) / 1000),
                         (dl.Cosine(), dl.timesteps(dl.Cosine(), 20))]:
        D = GM.as_denoiser(schedule)
        x_T = x_T_for(schedule, 1.0, n=16)
        a = dl.ddim(D, schedule, x_T, ts, eta=1.0, generator=gen(5))
        b = dl.ddpm_ancestral(D, schedule, x_T, ts, generator=gen(5))
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-10)


def test_pc_without_corrector_is_its_predictor():
    schedule = dl.VPLinear()
    D = GM.as_denoiser(schedule)
    x_T, ts = x_T_for(schedule, 1.0), dl.timesteps(schedule, 15)
    out = dl.predictor_corrector(D, schedule, x_T, ts, corrector_steps=0, generator=gen(1))
    assert torch.equal(out, dl.ddpm_ancestral(D, schedule, x_T, ts, generator=gen(1)))
    out = dl.predictor_corrector(D, schedule, x_T, ts, predictor="euler_maruyama", corrector_steps=0, generator=gen(1))
    assert torch.equal(out, dl.euler_maruyama(D, schedule, x_T, ts, generator=gen(1)))


def test_heun_churn_outside_its_window_is_deterministic_heun():
    schedule = dl.VPLinear()
    D = GM.as_denoiser(schedule)
    x_T, ts = x_T_for(schedule, 1.0), dl.timesteps(schedule, 8, spacing="karras", t_min=0.01)
    plain = dl.heun(D, schedule, x_T, ts)
    assert torch.equal(dl.heun(D, schedule, x_T, ts, churn=5.0, s_tmin=1e3, generator=gen(0)), plain)
    noisy = dl.heun(D, schedule, x_T, ts, churn=5.0, generator=gen(0))
    assert not torch.allclose(noisy, plain) and torch.equal(noisy, dl.heun(D, schedule, x_T, ts, churn=5.0,
                                                                           generator=gen(0)))


def test_euler_maruyama_step_is_the_reverse_sde_step():
    # one step t -> s of dx = [f x - g^2 score] dt + g dW_bar with the VP SDE's f = -beta/2, g^2 = beta
    schedule, t, s = dl.VPLinear(), 0.6, 0.55
    D = GM.as_denoiser(schedule)
    x = x_T_for(schedule, t, n=6)
    beta = schedule.beta_min + t * (schedule.beta_max - schedule.beta_min)
    a, sig = float(schedule.alpha(t)), float(schedule.sigma(t))
    score = (a * D(x, t) - x) / sig ** 2
    z = torch.randn(x.shape, generator=gen(7), dtype=F64)
    expect = x - (t - s) * (-0.5 * beta * x - beta * score) + math.sqrt(beta * (t - s)) * z
    assert torch.allclose(dl.euler_maruyama(D, schedule, x, [t, s], generator=gen(7)), expect, rtol=1e-12, atol=1e-12)
    # the last step to sigma = 0 returns the denoiser output, without noise
    assert torch.equal(dl.euler_maruyama(D, schedule, x, [t, 0.0], generator=gen(7)), D(x, t))
    with pytest.raises(ValueError, match="^ts: the reverse SDE is singular at t = 1.0"):
        dl.euler_maruyama(D, dl.Cosine(), x, [1.0, 0.5])


# ----------------------------------------------------------------------------- convergence orders
ORDERS = {"euler": (0.9, 1.1), "heun": (1.8, 2.3), "dpmpp_2m": (1.8, 2.3), "dpmpp_3m": (2.6, 3.8)}


def test_ode_samplers_converge_with_their_order():
    # VPLinear from exact samples of p_1 to t = 0.01 (sigma > 0, so every step is a full-order step) on a
    # grid uniform in logsnr; ddim(eta = 0) is euler (tested above)
    schedule = dl.VPLinear()
    D = GM.as_denoiser(schedule)
    x_T = x_T_for(schedule, 1.0, n=64)
    ref = reference_pf_ode(D, schedule, x_T, 1.0, 0.01)
    ns, errs = [20, 40, 80, 160], {}
    for name, (lo, hi) in ORDERS.items():
        e = [rms(dl.get_sampler(name)(D, schedule, x_T, dl.timesteps(schedule, n, spacing="logsnr", t_min=0.01)), ref)
             for n in ns]
        slope = -np.polyfit(np.log(ns), np.log(e), 1)[0]
        assert lo < slope < hi, (name, slope, e)
        errs[name] = e
    assert errs["dpmpp_3m"][-1] < errs["dpmpp_2m"][-1] < errs["euler"][-1] / 10
    assert errs["heun"][-1] < errs["euler"][-1] / 10


def test_ode_samplers_converge_from_zero_terminal_snr():
    # Cosine starts at alpha = 0, where x_T carries no information and D is the data mean: euler and DPM-Solver++
    # start there (heun cannot: sigma / alpha = inf) and converge to the exact flow from t = 1 with their orders
    schedule = dl.Cosine()
    D = GM.as_denoiser(schedule)
    x_T = x_T_for(schedule, 1.0, n=32)
    ref = reference_pf_ode(D, schedule, x_T, 1.0, 0.05)
    ns = [20, 40, 80, 160]
    for name, (lo, hi) in [("euler", (0.9, 1.1)), ("dpmpp_2m", (1.8, 2.3)), ("dpmpp_3m", (2.6, 3.8))]:
        e = [rms(dl.get_sampler(name)(D, schedule, x_T, dl.timesteps(schedule, n, "logsnr", 0.05)), ref) for n in ns]
        slope = -np.polyfit(np.log(ns), np.log(e), 1)[0]
        assert lo < slope < hi, (name, slope, e)


# ----------------------------------------------------------------------------- stochastic samplers
def sliced(x, y):
    return dl.sliced_wasserstein(x, y, n_projections=256, generator=gen(99)).item()


@pytest.mark.parametrize("name,kw", [("ddpm", {}), ("ddim", {"eta": 0.5}), ("euler_maruyama", {}), ("pc", {}),
                                     ("pc", {"predictor": "euler_maruyama"}), ("heun", {"churn": 10.0})])
def test_stochastic_samplers_converge_in_distribution(name, kw):
    schedule, t_min, n = dl.VPLinear(), 1e-3, 3000
    D = GM.as_denoiser(schedule)
    target = GM.at(schedule, t_min)
    ref = target.sample(n, gen(1))
    floor = sum(sliced(target.sample(n, gen(10 + k)), ref) for k in range(2)) / 2
    x_T = GM.at(schedule, 1.0).sample(n, gen(0))
    coarse, fine = (dl.get_sampler(name)(D, schedule, x_T, dl.timesteps(schedule, steps, t_min=t_min),
                                         generator=gen(2), **kw) for steps in (3, 200))
    sw_coarse, sw_fine = sliced(coarse, ref), sliced(fine, ref)
    assert sw_coarse > max(3 * floor, sw_fine + 0.2), (sw_coarse, sw_fine, floor)
    assert sw_fine < 1.6 * floor + 0.02, (sw_fine, floor)
    assert (fine.mean(0) - target.mean()).norm() < 0.15
    assert (torch.cov(fine.T) - target.cov()).norm() < 0.3


def test_seeding_and_dtype():
    schedule = dl.VPLinear()
    D = GM.as_denoiser(schedule)
    x_T, ts = x_T_for(schedule, 1.0, n=8), dl.timesteps(schedule, 6, t_min=0.01)
    for name, kw in [("ddpm", {}), ("ddim", {"eta": 1.0}), ("euler_maruyama", {}), ("pc", {}), ("heun", {"churn": 1.0})]:
        f = dl.get_sampler(name)
        a, b = f(D, schedule, x_T, ts, generator=gen(4), **kw), f(D, schedule, x_T, ts, generator=gen(4), **kw)
        assert torch.equal(a, b) and not torch.equal(a, f(D, schedule, x_T, ts, generator=gen(5), **kw)), name
    for name in dl.SAMPLERS:  # float32 in, float32 out, every state of the trajectory
        out, traj = dl.get_sampler(name)(D, schedule, x_T.float(), ts, generator=gen(0), return_trajectory=True)
        assert out.dtype == torch.float32 and len(traj) == len(ts) and bool(torch.isfinite(out).all()), name
        assert all(s.dtype == torch.float32 and s.shape == x_T.shape for s in traj), name


# ----------------------------------------------------------------------------- registry, NFE, sample()
def counting(D):
    calls = []

    def wrapped(x, t):
        assert isinstance(t, float)
        calls.append(t)
        return D(x, t)

    return wrapped, calls


@pytest.mark.parametrize("schedule,t_min", [(dl.VPLinear(), 0.0), (dl.VPLinear(), 0.01), (dl.VE(), 0.0)])
def test_nfe_counts_denoiser_calls(schedule, t_min):
    zero = float(schedule.sigma(t_min)) == 0
    x_T = x_T_for(schedule, 1.0, n=4)
    for name in dl.SAMPLERS:
        for kw in ([{}, {"corrector_steps": 2}] if name == "pc" else [{}]):
            D, calls = counting(GM.as_denoiser(schedule))
            dl.get_sampler(name)(D, schedule, x_T, dl.timesteps(schedule, 5, t_min=t_min), generator=gen(0), **kw)
            assert len(calls) == dl.nfe(name, 5, final_sigma_zero=zero, **kw), (name, kw)
    assert dl.nfe("heun", 10) == 19 and dl.nfe("heun", 10, final_sigma_zero=False) == 20
    assert dl.nfe("pc", 10) == 19 and dl.nfe("pc", 10, corrector_steps=3, final_sigma_zero=False) == 40
    assert dl.nfe("dpmpp_3m", 7, eta=0.3) == 7


def test_sample_fits_the_budget():
    schedule = dl.VPLinear()
    x_T = x_T_for(schedule, 1.0, n=4)
    for name, budget, steps, t_min in [("heun", 10, 5, 0.0), ("heun", 10, 5, 0.01), ("heun", 9, 5, 0.0),
                                       ("pc", 7, 4, 0.0), ("euler", 7, 7, 0.0), ("dpmpp_2m", 1, 1, 0.0)]:
        D, calls = counting(GM.as_denoiser(schedule))
        out = dl.sample(name, D, schedule, x_T, nfe=budget, t_min=t_min, spacing="karras", generator=gen(0))
        assert len(calls) <= budget and len(calls) == dl.nfe(name, steps, final_sigma_zero=t_min == 0.0), name
        ts = dl.timesteps(schedule, steps, spacing="karras", t_min=t_min)
        assert torch.equal(out, dl.get_sampler(name)(GM.as_denoiser(schedule), schedule, x_T, ts, generator=gen(0)))
    out = dl.sample("ddim", GM.as_denoiser(schedule), schedule, x_T, nfe=3, eta=1.0, generator=gen(1))
    ts = dl.timesteps(schedule, 3)
    assert torch.equal(out, dl.ddim(GM.as_denoiser(schedule), schedule, x_T, ts, eta=1.0, generator=gen(1)))


# ----------------------------------------------------------------------------- bad inputs
def test_bad_inputs_name_the_parameter():
    schedule = dl.VPLinear()
    D = GM.as_denoiser(schedule)
    x, ts = torch.zeros(4, 2, dtype=F64), [1.0, 0.5, 0.0]
    for f in dl.SAMPLERS.values():
        for bad in ([0.0, 0.5, 1.0], [1.0, 0.2, 0.4, 0.0], [1.2, 0.0], [1.0, -0.1], [0.5]):
            with pytest.raises(ValueError, match="^ts must"):
                f(D, schedule, x, bad)
        with pytest.raises(ValueError, match=r"^denoiser must return a tensor of x's shape \(4, 2\), got \(4, 1\)"):
            f(lambda z, t: z[:, :1], schedule, x, ts)
        with pytest.raises(TypeError, match="^x_T must be a torch tensor"):
            f(D, schedule, [[0.0, 0.0]], ts)
    for eta in (-0.1, 1.5, float("nan"), "1", True):
        with pytest.raises(ValueError, match=r"^eta must be a number in \[0.0, 1.0\]"):
            dl.ddim(D, schedule, x, ts, eta=eta)
    for kw, what in [({"churn": -1.0}, "churn"), ({"churn": float("inf")}, "churn"), ({"s_noise": -1.0}, "s_noise"),
                     ({"s_tmin": 2.0, "s_tmax": 1.0}, "s_tmax"), ({"s_tmin": float("nan")}, "s_tmin")]:
        with pytest.raises(ValueError, match=f"^{what} must be a number"):
            dl.heun(D, schedule, x, ts, **kw)
    with pytest.raises(ValueError, match="^ts: alpha = 0 at t = 1.0 .*t_max < 1"):
        dl.heun(D, dl.Cosine(), x, ts)
    with pytest.raises(ValueError, match="^ts: the reverse SDE is singular at t = 1.0"):
        dl.euler_maruyama(D, dl.Cosine(), x, ts)
    with pytest.raises(ValueError, match="^predictor must be one of"):
        dl.predictor_corrector(D, schedule, x, ts, predictor="heun")
    with pytest.raises(ValueError, match="^corrector_steps must be an integer >= 0"):
        dl.predictor_corrector(D, schedule, x, ts, corrector_steps=-1)
    with pytest.raises(ValueError, match="^snr must be a number"):
        dl.predictor_corrector(D, schedule, x, ts, snr=-0.1)
    with pytest.raises(TypeError, match="^per_sample must be a bool"):
        dl.predictor_corrector(D, schedule, x, ts, per_sample=1)
    with pytest.raises(TypeError, match="^lower_order_final must be a bool"):
        dl.dpmpp_2m(D, schedule, x, ts, lower_order_final="yes")
    with pytest.raises(ValueError, match=r"^name must be one of \['ddim', 'ddpm', 'dpmpp_2m'"):
        dl.get_sampler("nope")
    with pytest.raises(ValueError, match="^name must be one of"):
        dl.nfe("nope", 3)
    with pytest.raises(ValueError, match="^name must be one of"):
        dl.sample("nope", D, schedule, x, nfe=3)
    with pytest.raises(ValueError, match="^steps must be an integer >= 1"):
        dl.nfe("euler", 0)
    for bad in (0, -3, 2.5, True, None):
        with pytest.raises(ValueError, match="^nfe must be an integer >= 1"):
            dl.sample("euler", D, schedule, x, nfe=bad)
    with pytest.raises(ValueError, match=r"^nfe must be >= 2 for sampler 'heun' \(one step\), got 1"):
        dl.sample("heun", D, schedule, x, nfe=1, t_min=0.01)
    with pytest.raises(ValueError, match=r"^nfe must be >= 3 for sampler 'pc' \(one step\), got 2"):
        dl.sample("pc", D, schedule, x, nfe=2, t_min=0.01, corrector_steps=2)
    with pytest.raises(ValueError, match="^spacing must be one of"):
        dl.sample("euler", D, schedule, x, nfe=4, spacing="cubic")
