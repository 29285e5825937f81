"""dl.data: the 2-D toys (seeded, centred, unit scale, exact mixtures) and the fixed 8x8 digits split."""
import pytest
import torch

from diffusionlab import data
from diffusionlab.analytic import GaussianMixture


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", data.TOY2D)
def test_toy2d_shape_dtype_determinism_scale(name):
    a = data.toy2d(name, 4000, generator=gen(1))
    assert a.shape == (4000, 2) and a.dtype == torch.float32 and torch.isfinite(a).all()
    assert torch.equal(a, data.toy2d(name, 4000, generator=gen(1)))
    assert not torch.allclose(a, data.toy2d(name, 4000, generator=gen(2)))
    assert data.toy2d(name, 7, generator=gen(1), dtype=torch.float64).dtype == torch.float64
    # centred (4000 samples: standard error of the mean ~0.02) and roughly unit scale per coordinate
    assert a.mean(0).abs().max() < 0.1
    std = a.std(0)
    assert ((std > 0.5) & (std < 2)).all(), std
    # one common scale: the mean per-coordinate variance is 1 by construction
    assert abs(a.var(0).mean().item() - 1) < 0.1


def test_toy2d_global_rng_when_no_generator():
    torch.manual_seed(3)
    a = data.toy2d("rings", 10)
    torch.manual_seed(3)
    assert torch.equal(a, data.toy2d("rings", 10))


def test_checkerboard_only_dark_squares():
    x = data.toy2d("checkerboard", 2000, generator=gen(0), dtype=torch.float64) / (3 ** 0.5 / 2)
    cells = torch.floor(x).long()
    assert (x.abs() <= 2).all()
    assert ((cells[:, 0] + cells[:, 1]) % 2 == 0).all()  # x-column parity matches y-row parity


@pytest.mark.parametrize("name", ["eight_gaussians", "gmm"])
def test_toy2d_mixture_matches_samples(name):
    mix = data.toy2d_mixture(name)
    assert isinstance(mix, GaussianMixture) and mix.d == 2
    x = data.toy2d(name, 20000, generator=gen(5), dtype=torch.float64)
    assert torch.allclose(x.mean(0), mix.mean(), atol=0.05)
    assert torch.allclose(torch.cov(x.T), mix.cov(), atol=0.05)
    # exactly the mixture's own sampler, so the exact log-density is the right NLL
    assert torch.equal(x, mix.sample(20000, generator=gen(5)))
    assert torch.isfinite(mix.log_prob(x)).all()
    assert mix.mean().abs().max() < 1e-12
    assert abs(mix.cov().diagonal().mean().item() - 1) < 0.02


def test_gmm_is_asymmetric():
    mix = data.toy2d_mixture("gmm")
    assert mix.K == 3 and len(set(mix.weights.tolist())) == 3
    assert abs(mix.cov()[0, 1].item()) > 0.1


def test_toy2d_bad_inputs():
    with pytest.raises(ValueError, match="two_moons"):
        data.toy2d("moons", 10)
    for n in (0, -1, 2.5, True, "10"):
        with pytest.raises(ValueError, match="n must"):
            data.toy2d("rings", n)
    with pytest.raises(TypeError, match="dtype"):
        data.toy2d("rings", 10, dtype=torch.int64)
    with pytest.raises(TypeError, match="generator"):
        data.toy2d("rings", 10, generator=0)
    with pytest.raises(ValueError, match="eight_gaussians"):
        data.toy2d_mixture("two_moons")
    with pytest.raises(ValueError, match="name must be one of"):
        data.toy2d_mixture("nope")


def test_digits_splits():
    xtr, ytr = data.digits("train")
    xte, yte = data.digits("test")
    xall, yall = data.digits("all")
    assert xtr.shape == (1500, 1, 8, 8) and xte.shape == (297, 1, 8, 8) and xall.shape == (1797, 1, 8, 8)
    assert xtr.dtype == torch.float32 and ytr.dtype == torch.int64
    for x, y in ((xtr, ytr), (xte, yte)):
        assert x.min() >= -1 and x.max() <= 1 and x.min() == -1 and x.max() == 1
        assert set(y.tolist()) == set(range(10))
    # the pixel values are the integers 0..16 mapped by x / 8 - 1
    assert torch.equal((xall + 1) * 8, torch.round((xall + 1) * 8))
    # train and test are disjoint and together are "all" in some order: match rows (image + label)
    rows = lambda x, y: {tuple(r) for r in torch.cat([x.flatten(1), y[:, None].float()], 1).tolist()}
    all_rows = rows(xall, yall)
    assert rows(xtr, ytr) | rows(xte, yte) <= all_rows
    perm = torch.randperm(1797, generator=gen(0))
    assert torch.equal(xte, xall[perm[:297]]) and torch.equal(ytr, yall[perm[297:]])
    assert len(set(perm[:297].tolist()) & set(perm[297:].tolist())) == 0


def test_digits_copies_and_dtype():
    x, y = data.digits("test")
    x.fill_(5.0)
    y.fill_(-1)
    x2, y2 = data.digits("test", dtype=torch.float64)
    assert x2.dtype == torch.float64 and x2.max() <= 1 and y2.min() >= 0


def test_digits_bad_inputs():
    with pytest.raises(ValueError, match="split must be one of"):
        data.digits("valid")
    with pytest.raises(TypeError, match="dtype"):
        data.digits(dtype=torch.int32)
