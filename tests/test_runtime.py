import pytest
import torch

import diffusionlab as dl


def test_device_is_cpu_here_and_follows_override(monkeypatch):
    monkeypatch.setenv("DL_DEVICE", "cpu")
    assert dl.device().type == "cpu"
    assert dl.budget(cpu=3, gpu=7) == 3
    with pytest.raises(ValueError, match="prefer"):
        dl.device("tpu")


def test_budget_requires_same_types():
    with pytest.raises(TypeError, match="cpu and gpu"):
        dl.budget(cpu=1, gpu=2.0)


def test_seed_makes_runs_repeatable():
    g1 = dl.seed(123)
    a = torch.randn(5), torch.randn(3, generator=g1)
    g2 = dl.seed(123)
    b = torch.randn(5), torch.randn(3, generator=g2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.parametrize("bad,err", [(-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_seed_rejects_bad_values(bad, err):
    with pytest.raises(err, match="value"):
        dl.seed(bad)


def test_setup_reports_runtime(capsys):
    gen = dl.setup(seed=4)
    out = capsys.readouterr().out
    assert "device cpu" in out and "budget cpu" in out and "seed 4" in out
    assert isinstance(gen, torch.Generator)
    assert not dl.in_colab() and not dl.in_notebook()
