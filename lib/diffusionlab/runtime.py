"""Where and how big a notebook runs: device, seeding, CPU/GPU budgets, Colab detection.

Offers ``device()``, ``seed()``, ``budget()``, ``in_colab()``, ``in_notebook()`` and ``setup()``,
the one call every notebook's setup cell makes. No dependency on the rest of the library.
"""
from __future__ import annotations

import os
import random
import sys

import numpy as np

__all__ = ["DEFAULT_SEED", "budget", "device", "in_colab", "in_notebook", "on_gpu", "seed", "setup"]

DEFAULT_SEED = 0


def _torch():
    # torch is imported lazily so that `import diffusionlab` stays cheap and the library
    # can be installed (e.g. on Colab) without declaring torch as a dependency.
    import torch

    return torch


def device(prefer: str | None = None):
    """Return the ``torch.device`` notebooks should use.

    ``prefer`` forces a device ("cpu", "cuda", "mps"); the environment variable ``DL_DEVICE`` does the
    same for a whole run (e.g. ``DL_DEVICE=cpu`` to time the CPU path on a GPU machine). Otherwise
    CUDA if available, else CPU. (Apple's MPS is opt-in: several float64 ops the course relies on are
    missing there.)
    """
    torch = _torch()
    choice = prefer or os.environ.get("DL_DEVICE")
    if choice is not None:
        if choice not in ("cpu", "cuda", "mps"):
            raise ValueError(f"prefer must be 'cpu', 'cuda' or 'mps' (or None), got {choice!r}")
        if choice == "cuda" and not torch.cuda.is_available():
            raise ValueError("prefer='cuda' but torch.cuda.is_available() is False")
        return torch.device(choice)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def on_gpu() -> bool:
    """True when ``device()`` is a GPU, i.e. when ``budget`` picks its ``gpu`` value."""
    return device().type != "cpu"


def seed(value: int = DEFAULT_SEED):
    """Seed Python, NumPy and torch (all devices) and return a seeded ``torch.Generator`` on the CPU.

    Notebooks pass explicit generators to samplers; the global seeds make everything else
    (network initialisation, data shuffling) repeatable too.
    """
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"value must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"value must be >= 0, got {value}")
    torch = _torch()
    random.seed(int(value))
    np.random.seed(int(value) % 2**32)
    torch.manual_seed(int(value))
    return torch.Generator().manual_seed(int(value))


def budget(cpu, gpu):
    """Pick a size by runtime: ``cpu`` on a CPU (the path CI runs), ``gpu`` on a GPU.

    Used for the few numbers that make a notebook bigger on a GPU (training steps, samples,
    network width). Both values must have the same type, so the CPU path is never a "fast mode"
    of a different kind: it is the same code with smaller numbers.
    """
    if type(cpu) is not type(gpu):
        raise TypeError(
            f"cpu and gpu must have the same type, got {type(cpu).__name__} and {type(gpu).__name__}"
        )
    return gpu if on_gpu() else cpu


_seed = seed  # `setup` takes a parameter named `seed`, which hides the function inside it


def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where widgets can be interactive), False in a plain script."""
    try:
        from ipykernel.zmqshell import ZMQInteractiveShell
        from IPython import get_ipython
    except ImportError:
        return False
    # isinstance, not the class name: Colab's shell is a subclass of ZMQInteractiveShell
    return isinstance(get_ipython(), ZMQInteractiveShell)


def setup(seed: int = DEFAULT_SEED, *, verbose: bool = True):
    """What every notebook's setup cell calls: seed, apply the house plot style, report the runtime.

    Returns the seeded CPU ``torch.Generator`` from :func:`seed`.
    """
    torch = _torch()
    value = seed
    gen = _seed(value)
    from . import plot

    plot.use_style()
    if verbose:
        where = "Colab" if in_colab() else ("Jupyter" if in_notebook() else "script")
        budget_name = "gpu" if on_gpu() else "cpu"
        print(f"diffusionlab {__import__('diffusionlab').__version__} | torch {torch.__version__} | "
              f"device {device()} | budget {budget_name} | running in {where} | seed {value}")
    return gen
