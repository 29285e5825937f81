"""diffusionlab: the helper library of *Diffusion Models, Step by Step* (``import diffusionlab as dl``).

Modules depend downward only (see DESIGN.md):

    runtime      device(), seed(), budget(cpu=, gpu=), in_colab(), setup()
    schedules    noise schedules as objects: alpha(t), sigma(t), logsnr(t), t_of_logsnr(); time grids
    predictions  eps <-> x0 <-> v <-> score conversions; wrapping a net into a denoiser D(x, t)
    analytic     Gaussian mixtures with exact samples, log-density, score and denoiser at every t;
                 the empirical distribution of a training set and its optimal denoiser
    data         2-D toys and scikit-learn's 8x8 digits (offline, seeded, fixed split)
    nets         a time-conditioned MLP, a tiny U-Net for 8x8 digits, a digits classifier
    checkpoint   safetensors + JSON checkpoints with validated loading
    losses       denoising / sliced / explicit score matching, the DDPM posterior and ELBO
    sde          forward SDE of any schedule, sub-VP, reverse SDE, probability-flow ODE, likelihood, bits/dim
    train        fit(): seeded training loop with EMA and a progress bar
    samplers     stochastic samplers (DDPM ancestral, DDIM(eta), Euler-Maruyama, predictor-corrector), the
                 sampler registry, nfe() and sample(nfe=)
    solvers      probability-flow ODE samplers: Euler (= DDIM), Heun with EDM churn, DPM-Solver++(2M), (3M)
    metrics      sliced Wasserstein, MMD, energy distance, exact mixture NLL, Frechet distances
    plot         the house style, small figures, trajectory animations that work in the book
    widgets      ipywidgets explorers with a static fallback (book, plain scripts)
    exercises    checkers for the exercises in the notebooks

Conventions: continuous time t in [0, 1], data at t = 0, noise at t = 1,
x_t = alpha_t x_0 + sigma_t eps, logsnr(t) = log(alpha_t^2 / sigma_t^2).
"""
__version__ = "0.1.0"

# submodules in dependency order (not alphabetical: I001), then the flat API as star imports of each __all__
from . import runtime, schedules, predictions, analytic, plot, widgets, exercises  # noqa: F401, I001
from . import data, nets, checkpoint, losses, sde, train, samplers, solvers, metrics  # noqa: F401
from .runtime import *
from .schedules import *
from .predictions import *
from .analytic import *
from .data import *
from .nets import *
from .checkpoint import *
from .losses import *
from .sde import *
from .train import *
from .samplers import *
from .solvers import *
from .metrics import *
