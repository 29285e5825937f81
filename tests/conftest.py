"""Shared test set-up: the repository root, the book manifest (book/manifest.py), one torch thread."""
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT / "book", ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import manifest  # noqa: E402,F401  (re-exported for the tests)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """The library tests use tiny tensors: torch's thread pool costs more than the arithmetic, and with
    several pytest workers on few cores the pools spin against each other. One thread each, restored after."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
