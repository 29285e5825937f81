"""Interactive explorers that degrade to a static figure where no kernel is running.

Offers ``Slider``, ``Choice`` and ``Checkbox`` (plain descriptions of controls), ``explore(draw,
controls)`` (sliders + a live figure in Jupyter, one figure at the default values elsewhere) and
``schedule_explorer()`` for chapter 1. In the rendered book the widgets show their saved default
state (the notebooks are executed with widget state stored); in a plain script (CI, GPU machines)
the static fallback draws the same figure once.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt

from . import analytic, runtime
from . import schedules as S

__all__ = ["EXPLORER_SCHEDULES", "Checkbox", "Choice", "Slider", "explore", "schedule_explorer"]


@dataclass(frozen=True)
class Slider:
    """A float slider from ``low`` to ``high``; ``value`` is the default."""
    low: float
    high: float
    value: float
    step: float = 0.01
    label: str | None = None

    def __post_init__(self):
        if not self.low < self.high:
            raise ValueError(f"low must be < high, got low={self.low}, high={self.high}")
        if not self.low <= self.value <= self.high:
            raise ValueError(f"value must lie in [low, high] = [{self.low}, {self.high}], got {self.value}")
        if self.step <= 0:
            raise ValueError(f"step must be > 0, got {self.step}")

    def widget(self, name):
        import ipywidgets as w
        return w.FloatSlider(value=self.value, min=self.low, max=self.high, step=self.step,
                             description=self.label or name, continuous_update=False)


@dataclass(frozen=True)
class Choice:
    """A drop-down over ``options``; ``value`` (default: the first option) is the default."""
    options: tuple
    value: object = None
    label: str | None = None

    def __post_init__(self):
        if len(self.options) == 0:
            raise ValueError("options must not be empty")
        if self.value is None:
            object.__setattr__(self, "value", self.options[0])
        if self.value not in self.options:
            raise ValueError(f"value must be one of options {list(self.options)}, got {self.value!r}")

    def widget(self, name):
        import ipywidgets as w
        width = f"{max(len(str(o)) for o in self.options) * 0.6 + 8:.0f}em"  # room for the longest option
        return w.Dropdown(options=list(self.options), value=self.value, description=self.label or name,
                          layout=w.Layout(width=width))


@dataclass(frozen=True)
class Checkbox:
    """An on/off switch; ``value`` is the default."""
    value: bool = False
    label: str | None = None

    def widget(self, name):
        import ipywidgets as w
        return w.Checkbox(value=self.value, description=self.label or name)


def _widgets_available() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def explore(draw, controls: dict, *, interactive: bool | None = None):
    """Show ``draw(**values)`` with one control per entry of ``controls``.

    ``controls`` maps ``draw``'s keyword names to ``Slider`` / ``Choice`` / ``Checkbox``. With a
    Jupyter kernel and ipywidgets (or ``interactive=True``) this returns an ipywidgets box whose figure
    redraws when a control moves; otherwise (``interactive=False``, a plain script, no ipywidgets) it
    calls ``draw`` once with the default values and returns None: the static fallback.
    """
    if not controls:
        raise ValueError("controls must not be empty")
    for name, spec in controls.items():
        if not isinstance(spec, (Slider, Choice, Checkbox)):
            raise TypeError(f"controls[{name!r}] must be a Slider, Choice or Checkbox, got {type(spec).__name__}")
    if interactive is None:
        interactive = runtime.in_notebook() and _widgets_available()
    if not interactive:
        draw(**{name: spec.value for name, spec in controls.items()})
        plt.show()
        return None
    import ipywidgets as w

    widgets = {name: spec.widget(name) for name, spec in controls.items()}

    def redraw(**values):
        draw(**values)
        plt.show()

    out = w.interactive_output(redraw, widgets)
    return w.VBox([w.HBox(list(widgets.values())), out])


# The schedules the explorer offers: label -> constructor (built on demand, with default parameters).
EXPLORER_SCHEDULES = {
    "VP linear (Song et al. 2021)": lambda: S.VPLinear(),
    "cosine (Nichol & Dhariwal 2021)": lambda: S.Cosine(),
    "sigmoid (Chen 2023)": lambda: S.Sigmoid(),
    "DDPM linear table, T=1000": lambda: S.Discrete.linear(1000),
    "scaled linear (Stable Diffusion)": lambda: S.Discrete.scaled_linear(1000),
    "EDM / Karras (VE form)": lambda: S.EDM(),
}


def schedule_explorer(x0=None, *, interactive: bool | None = None):
    """Chapter 1's explorer: pick a schedule, optionally rescale it to zero terminal SNR, move t.

    Left: logSNR(t) of the chosen schedule (dot at t). Right: the 2D data ``x0`` (default: samples of
    the 8-mode ring mixture) pushed through the forward marginal x_t = alpha_t x0 + sigma_t eps.
    """
    import torch

    if x0 is None:
        x0 = analytic.GaussianMixture.ring().sample(600, generator=torch.Generator().manual_seed(0))
    x0 = torch.as_tensor(x0, dtype=torch.float64)
    if x0.ndim != 2 or x0.shape[1] != 2:
        raise ValueError(f"x0 must have shape (n, 2), got {tuple(x0.shape)}")
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    grid = torch.linspace(0, 1, 301, dtype=torch.float64)

    def draw(schedule, zero_terminal_snr, t):
        sched = EXPLORER_SCHEDULES[schedule]()
        if zero_terminal_snr and sched.is_vp:
            sched = S.ZeroTerminalSNR(sched)
        fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(7.0, 3.0))
        ax0.plot(grid, sched.logsnr(grid))
        ax0.plot([t], [float(sched.logsnr(t))], "o", color="#D55E00")
        ax0.set(xlabel="t", ylabel=r"$\lambda_t$", title="logSNR", ylim=(-16, 16))
        a, s = float(sched.alpha(t)), float(sched.sigma(t))
        xt = a * x0 + s * eps
        lim = max(4.0, 3.5 * s + 3.0 * a)
        ax1.scatter(xt[:, 0], xt[:, 1], s=2, alpha=0.5, linewidths=0)
        ax1.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal",
                title=rf"$x_t$ at t={t:.2f}: $\alpha$={a:.3f}, $\sigma$={s:.3f}")
        if zero_terminal_snr and not sched.is_vp:
            ax0.text(0.5, 0.05, "not VP: no rescaling", transform=ax0.transAxes, ha="center")
        return fig

    controls = {
        "schedule": Choice(tuple(EXPLORER_SCHEDULES), "cosine (Nichol & Dhariwal 2021)"),
        "zero_terminal_snr": Checkbox(False, label="zero terminal SNR"),
        "t": Slider(0.0, 1.0, 0.3, step=0.01),
    }
    return explore(draw, controls, interactive=interactive)
