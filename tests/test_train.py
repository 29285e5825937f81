"""fit() and EMA: learning, determinism, NaN detection, the EMA recursion in closed form, quiet mode, validation."""
import diffusionlab as dl
import pytest
import torch
from diffusionlab import losses, train


class TinyMLP(torch.nn.Module):
    """A small time-conditioned MLP net(x, t) for the tests (independent of dl.nets)."""

    def __init__(self, d=2, width=32):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(d + 1, width), torch.nn.SiLU(), torch.nn.Linear(width, d))

    def forward(self, x, t):
        return self.body(torch.cat([x, t[:, None].to(x.dtype)], 1))


def _regression(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(512, 1, generator=g) * 6 - 3
    return x, torch.sin(x)


def _mse(model, batch, generator):
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))


def test_fit_decreases_the_loss_and_returns_eval_models():
    res = train.fit(_net(), _mse, _regression(), steps=300, batch_size=64, lr=1e-2, progress=False)
    assert isinstance(res, train.FitResult)
    assert res.losses.shape == (300,) and res.losses.dtype == torch.float64
    assert res.losses[-30:].mean() < res.losses[:30].mean() / 5
    assert not res.model.training and not res.ema_model.training and res.ema_model is not res.model
    assert res.seconds > 0
    x, y = _regression(1)
    with torch.no_grad():
        assert ((res.ema_model(x) - y) ** 2).mean() < 0.1
    assert train.fit(_net(), _mse, _regression(), steps=2, ema=None, progress=False).ema_model is None


def test_fit_is_deterministic_given_the_seed_and_the_initial_weights():
    sch = dl.Cosine()
    data = torch.randn(300, 2, generator=torch.Generator().manual_seed(3))

    def loss_fn(model, x, g):  # a diffusion loss: its t and eps come from fit's generator
        return losses.dsm_loss(model, x, sch, generator=g)

    runs = []
    for seed in (7, 7, 8):
        torch.manual_seed(0)
        runs.append(train.fit(TinyMLP(), loss_fn, data, steps=25, batch_size=32, seed=seed, progress=False).losses)
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_fit_reshuffles_every_row_equally_often():
    data = torch.arange(10.0)[:, None]
    seen = []

    def loss_fn(model, x, g):
        seen.append(x[:, 0].long())
        return model(x).sum() * 0

    model = torch.nn.Linear(1, 1)
    train.fit(model, loss_fn, data, steps=6, batch_size=5, ema=None, progress=False)
    counts = torch.bincount(torch.cat(seen), minlength=10)
    assert torch.equal(counts, torch.full((10,), 3))  # 6 batches of 5 = 3 epochs of 10


def test_fit_raises_on_nan_naming_the_step():
    calls = []

    def loss_fn(model, batch, g):
        calls.append(1)
        loss = _mse(model, batch, g)
        return loss * float("nan") if len(calls) == 3 else loss

    model = _net()
    with pytest.raises(FloatingPointError, match="step 3"):
        train.fit(model, loss_fn, _regression(), steps=10, progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())  # no NaN update was made


def test_fit_prints_nothing_when_quiet(capsys):
    train.fit(_net(), _mse, _regression(), steps=5, progress=False)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    train.fit(_net(), _mse, _regression(), steps=4, progress=False, log_every=2, desc="toy")
    assert "toy: step 2/4" in capsys.readouterr().out


@pytest.mark.parametrize("kw,name", [({"steps": 0}, "steps"), ({"batch_size": 0}, "batch_size"),
                                     ({"lr": 0.0}, "lr"), ({"ema": 1.0}, "ema"), ({"grad_clip": -1.0}, "grad_clip"),
                                     ({"seed": -1}, "seed"), ({"log_every": 0}, "log_every")])
def test_fit_bad_input_names_the_parameter(kw, name):
    args = {"steps": 1, **kw}
    with pytest.raises(ValueError, match=name):
        train.fit(_net(), _mse, _regression(), progress=False, **args)


def test_fit_data_must_share_the_first_dimension():
    with pytest.raises(ValueError, match="data"):
        train.fit(_net(), _mse, (torch.zeros(4, 1), torch.zeros(5, 1)), steps=1, progress=False)


@pytest.mark.parametrize("warmup", [False, True])
def test_ema_matches_the_closed_form_average(warmup):
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(2.0)
    ema, decay = train.EMA(model, decay=0.9, warmup=warmup), 0.9
    expected = 2.0
    for n, value in enumerate([1.0, -3.0, 0.5, 4.0, 7.0]):
        with torch.no_grad():
            model.weight.fill_(value)
        ema.update(model)
        d = min(decay, (1 + n) / (10 + n)) if warmup else decay
        expected = d * expected + (1 - d) * value
    assert ema.model.weight.item() == pytest.approx(expected, rel=1e-6)
    if not warmup:  # the unrolled sum: d^n theta_0 + sum_k (1 - d) d^(n - k) theta_k
        vals = [1.0, -3.0, 0.5, 4.0, 7.0]
        closed = 0.9**5 * 2.0 + sum(0.1 * 0.9 ** (4 - k) * v for k, v in enumerate(vals))
        assert ema.model.weight.item() == pytest.approx(closed, rel=1e-6)
    assert not ema.model.training and not ema.model.weight.requires_grad


def test_ema_copies_buffers_and_validates():
    model = torch.nn.BatchNorm1d(2)
    ema = train.EMA(model, decay=0.5)
    model.running_mean.fill_(3.0)
    ema.update(model)
    assert torch.equal(ema.model.running_mean, torch.full((2,), 3.0))
    for bad in (1.0, -0.1, True):
        with pytest.raises(ValueError, match="decay"):
            train.EMA(model, decay=bad)
    with pytest.raises(ValueError, match="same parameters"):
        ema.update(torch.nn.Linear(2, 2))
