"""Prediction targets: conversions against the definitions, round trips, edges, denoiser wrapper, noisy()."""
import itertools

import diffusionlab as dl
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

F64 = torch.float64
PAIRS = list(itertools.permutations(dl.TARGETS, 2))


def _setup(alpha, sigma, seed=0, shape=(4, 3)):
    g = torch.Generator().manual_seed(seed)
    x0, eps = torch.randn(shape, generator=g, dtype=F64), torch.randn(shape, generator=g, dtype=F64)
    x = alpha * x0 + sigma * eps
    truth = {"eps": eps, "x0": x0, "v": alpha * eps - sigma * x0, "score": -eps / sigma}
    return x, truth


@pytest.mark.parametrize("src,dst", PAIRS)
def test_convert_matches_the_definitions(src, dst):
    for alpha, sigma in [(0.8, 0.6), (0.3, 0.95), (1.0, 4.0)]:  # VP and one VE-like point
        x, truth = _setup(alpha, sigma)
        out = dl.convert(truth[src], src, dst, x, alpha, sigma)
        torch.testing.assert_close(out, truth[dst], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("src,dst", PAIRS)
@settings(max_examples=15, deadline=None)
@given(alpha=st.floats(1e-3, 1 - 1e-3), seed=st.integers(0, 2**16))
def test_round_trips_on_vp_schedules(src, dst, alpha, seed):
    sigma = (1 - alpha**2) ** 0.5
    x, truth = _setup(alpha, sigma, seed)
    there = dl.convert(truth[src], src, dst, x, alpha, sigma)
    back = dl.convert(there, dst, src, x, alpha, sigma)
    # dividing by alpha or sigma down to 1e-3 amplifies rounding by up to ~1e3 (then squared on a round trip)
    torch.testing.assert_close(back, truth[src], rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(there, truth[dst], rtol=1e-7, atol=1e-7)


def test_per_sample_coefficients_broadcast():
    alpha = torch.tensor([0.9, 0.5, 0.2, 0.99], dtype=F64)
    sigma = (1 - alpha**2).sqrt()
    g = torch.Generator().manual_seed(1)
    x0, eps = torch.randn(4, 3, 2, generator=g, dtype=F64), torch.randn(4, 3, 2, generator=g, dtype=F64)
    a, s = alpha[:, None, None], sigma[:, None, None]
    x = a * x0 + s * eps
    torch.testing.assert_close(dl.convert(eps, "eps", "x0", x, alpha, sigma), x0)
    torch.testing.assert_close(dl.convert(x0, "x0", "v", x, alpha, sigma), a * eps - s * x0)
    assert dl.broadcast_to(alpha, x).shape == (4, 1, 1)
    assert dl.broadcast_to(0.5, x.float()).dtype == torch.float32
    with pytest.raises(ValueError, match="broadcast"):
        dl.broadcast_to(torch.ones(3), torch.zeros(4, 5))


def test_v_at_zero_alpha_still_gives_x0():
    x, truth = _setup(0.0, 1.0)  # zero terminal SNR: x_t = eps
    x0 = dl.convert(truth["v"], "v", "x0", x, 0.0, 1.0)
    torch.testing.assert_close(x0, truth["x0"])  # x0 = alpha x - sigma v = -v
    torch.testing.assert_close(dl.convert(truth["v"], "v", "eps", x, 0.0, 1.0), truth["eps"])


@pytest.mark.parametrize("src", ["eps", "score"])
@pytest.mark.parametrize("dst", ["x0", "v"])
def test_eps_cannot_give_x0_at_zero_alpha(src, dst):
    alpha = torch.tensor([0.5, 0.0], dtype=F64)
    x = torch.randn(2, 3, dtype=F64)
    with pytest.raises(ValueError, match=r"alpha_t = 0.*use v or x0 prediction"):
        dl.convert(torch.randn(2, 3, dtype=F64), src, dst, x, alpha, (1 - alpha**2).sqrt())


@pytest.mark.parametrize("src,dst", [("x0", "eps"), ("x0", "v"), ("x0", "score"), ("eps", "score"),
                                     ("v", "score"), ("score", "eps"), ("score", "x0")])
def test_noise_not_identifiable_at_zero_sigma(src, dst):
    x = torch.randn(2, 3, dtype=F64)
    with pytest.raises(ValueError, match=r"sigma_t = 0.*not identifiable"):
        dl.convert(x, src, dst, x, 1.0, 0.0)


def test_what_remains_defined_at_zero_sigma():
    x = torch.randn(2, 3, dtype=F64)
    torch.testing.assert_close(dl.convert(torch.randn(2, 3, dtype=F64), "eps", "x0", x, 1.0, 0.0), x)
    torch.testing.assert_close(dl.convert(x, "v", "x0", x, 1.0, 0.0), x)  # x0 = alpha x - sigma v = x
    with pytest.raises(ValueError, match="both 0"):
        dl.convert(x, "v", "x0", x, 0.0, 0.0)


@pytest.mark.parametrize("kw,name", [({"src": "noise"}, "src"), ({"dst": "x_0"}, "dst")])
def test_unknown_targets_raise_listing_the_names(kw, name):
    args = {"src": "eps", "dst": "x0", **kw}
    x = torch.zeros(2)
    with pytest.raises(ValueError, match=rf"{name} must be one of .*'eps', 'x0', 'v', 'score'"):
        dl.convert(x, args["src"], args["dst"], x, 0.5, 0.5)
    with pytest.raises(ValueError, match="target"):
        dl.denoiser(lambda x, t: x, dl.Cosine(), target="epsilon")


@pytest.mark.parametrize("target", dl.TARGETS)
def test_denoiser_with_an_oracle_net_recovers_x0(target):
    sched = dl.VPLinear()
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(5, 2, generator=g)
    t = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9])
    x_t, eps = dl.noisy(x0, t, sched, generator=g)
    a, s = sched.alpha(t)[:, None], sched.sigma(t)[:, None]
    truth = {"eps": eps, "x0": x0, "v": a * eps - s * x0, "score": -eps / s}
    seen = []

    def net(x, tt):
        seen.append(tt)
        return truth[target]

    D = dl.denoiser(net, sched, target)
    torch.testing.assert_close(D(x_t, t), x0, rtol=1e-4, atol=1e-5)  # float32 net
    assert seen[-1].shape == (5,) and seen[-1].dtype == torch.float32
    x_half, eps_half = dl.noisy(x0, 0.5, sched, generator=g)
    truth.update(eps=eps_half, v=sched.alpha(0.5).float() * eps_half - sched.sigma(0.5).float() * x0,
                 score=-eps_half / sched.sigma(0.5).float())
    torch.testing.assert_close(D(x_half, 0.5), x0, rtol=1e-4, atol=1e-5)
    assert torch.equal(seen[-1], torch.full((5,), 0.5))  # a float t is expanded to [batch]


def test_denoiser_eps_fails_at_zero_terminal_snr_but_v_works():
    sched = dl.ZeroTerminalSNR(dl.Discrete.linear())
    x0 = torch.randn(3, 2, dtype=F64)
    x1, eps = dl.noisy(x0, 1.0, sched)
    torch.testing.assert_close(x1, eps)  # alpha(1) = 0: pure noise
    with pytest.raises(ValueError, match="alpha_t = 0"):
        dl.denoiser(lambda x, t: eps, sched, "eps")(x1, 1.0)
    torch.testing.assert_close(dl.denoiser(lambda x, t: -x0, sched, "v")(x1, 1.0), x0)


def test_noisy_forward_marginal():
    sched = dl.Cosine()
    x0 = torch.randn(4, 3, dtype=F64)
    eps = torch.randn(4, 3, dtype=F64)
    t = torch.tensor([0.0, 0.2, 0.6, 1.0], dtype=F64)
    x_t, e = dl.noisy(x0, t, sched, eps=eps)
    assert e is eps
    torch.testing.assert_close(x_t, sched.alpha(t)[:, None] * x0 + sched.sigma(t)[:, None] * eps)
    torch.testing.assert_close(x_t[0], x0[0]) and torch.testing.assert_close(x_t[3], eps[3])
    a = dl.noisy(x0, 0.3, sched, generator=torch.Generator().manual_seed(5))
    b = dl.noisy(x0, 0.3, sched, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0])
    with pytest.raises(ValueError, match="eps"):
        dl.noisy(x0, 0.3, sched, eps=torch.zeros(4))
    with pytest.raises(ValueError, match="t must"):
        dl.noisy(x0, torch.rand(3), sched)
    with pytest.raises(ValueError, match=r"t must be in \[0, 1\]"):
        dl.noisy(x0, 1.5, sched)
