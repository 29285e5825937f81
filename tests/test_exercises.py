import numpy as np
import pytest
import torch

import diffusionlab as dl

CASES = [(0.5,), (torch.tensor([0.1, 0.9]),)]


def reference(t):
    return torch.as_tensor(t) ** 2


def test_correct_answer_passes(capsys):
    assert dl.exercises.check(lambda t: torch.as_tensor(t) * torch.as_tensor(t), reference, CASES, name="sq")
    assert "[PASS] sq" in capsys.readouterr().out


@pytest.mark.parametrize("stub", [lambda t: None, lambda t: (_ for _ in ()).throw(NotImplementedError())])
def test_unfilled_stub_is_not_attempted(stub, capsys):
    assert not dl.exercises.check(stub, reference, CASES, name="sq")
    assert "[TODO] sq: not attempted yet" in capsys.readouterr().out


def test_wrong_answer_says_what_differs(capsys):
    assert not dl.exercises.check(lambda t: torch.as_tensor(t) ** 3, reference, CASES, name="sq")
    out = capsys.readouterr().out
    assert "[FAIL] sq" in out and "case 0" in out and "expected 0.25" in out


def test_shape_and_nan_and_exceptions_are_reported(capsys):
    assert not dl.exercises.check(lambda t: torch.zeros(3), reference, CASES, name="a")
    assert not dl.exercises.check(lambda t: torch.as_tensor(t) * np.nan, reference, CASES, name="b")
    assert not dl.exercises.check(lambda t: 1 / 0, reference, CASES, name="c")
    out = capsys.readouterr().out
    assert "shape" in out and "NaN" in out and "ZeroDivisionError" in out


def test_keyword_cases_and_tuples():
    ref = lambda a, b: (a + b, a - b)  # noqa: E731
    assert dl.exercises.check(lambda a, b: (a + b, a - b), ref, [dict(a=1.0, b=2.0)], name="kw")
    assert not dl.exercises.check(lambda a, b: a + b, ref, [dict(a=1.0, b=2.0)], name="kw")


def test_check_value(capsys):
    assert not dl.exercises.check_value(None, 1.0, name="v")
    assert dl.exercises.check_value(1.0004, 1.0, name="v", rtol=1e-3)
    assert not dl.exercises.check_value(1.1, 1.0, name="v")
    with pytest.raises(ValueError, match="cases"):
        dl.exercises.check(reference, reference, [], name="x")
