"""One house style for every figure, and the few figure helpers the chapters share.

Offers ``use_style()``, ``figure()``, ``scatter2d()``, ``image_grid()``, ``schedule_panels()`` and
``animate()`` (an HTML/JS animation that plays in JupyterLab, Colab and the static book).
Figures are small on purpose: every .ipynb is committed with its outputs.
"""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["COLORS", "animate", "figure", "image_grid", "scatter2d", "schedule_panels", "use_style"]

# Colour-blind safe (Okabe & Ito 2008), in the order lines are drawn.
COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]

_STYLE = {
    "figure.dpi": 80,  # small PNGs: the executed notebooks are committed
    "savefig.dpi": 80,
    "figure.figsize": (6.0, 3.2),
    "figure.constrained_layout.use": True,
    "axes.prop_cycle": mpl.cycler(color=COLORS),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "image.cmap": "viridis",
    "animation.embed_limit": 8.0,  # MB; our animations are far smaller
}


def use_style():
    """Apply the house style to matplotlib (called by ``dl.setup()``)."""
    mpl.rcParams.update(_STYLE)


def figure(ncols: int = 1, nrows: int = 1, *, width: float | None = None, height: float | None = None,
           **kwargs):
    """``plt.subplots`` with the house size: about 3 inches per panel, wrapped at 6-ish inches wide."""
    if ncols < 1 or nrows < 1:
        raise ValueError(f"ncols and nrows must be >= 1, got ncols={ncols}, nrows={nrows}")
    width = width if width is not None else min(3.0 * ncols, 9.0)
    height = height if height is not None else 2.8 * nrows
    return plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, **kwargs)


def _numpy(x):
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def scatter2d(ax, x, *, title: str | None = None, lim: float | None = None, s: float = 2.0,
              alpha: float = 0.5, **kwargs):
    """Scatter an (n, 2) point cloud on ``ax`` with equal axes; ``lim`` fixes a symmetric window."""
    x = _numpy(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2), got {x.shape}")
    ax.scatter(x[:, 0], x[:, 1], s=s, alpha=alpha, linewidths=0, **kwargs)
    ax.set_aspect("equal")
    if lim is not None:
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
    if title:
        ax.set_title(title)
    return ax


def image_grid(ax, images, *, nrow: int | None = None, vmin: float = -1.0, vmax: float = 1.0,
               title: str | None = None, pad: int = 1):
    """Tile a batch of grey images (n, h, w) or (n, 1, h, w) into one panel on ``ax``."""
    images = _numpy(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, h, w) or (n, 1, h, w), got {images.shape}")
    n, h, w = images.shape
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    ncol = int(np.ceil(n / nrow))
    canvas = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad), vmin, dtype=float)  # white gaps
    for k in range(n):
        r, c = divmod(k, ncol)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = images[k]
    ax.imshow(canvas, cmap="gray_r", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def schedule_panels(schedules: dict, *, n: int = 501, axes=None):
    """Plot alpha(t), sigma(t) and logSNR(t) of several named schedules side by side.

    ``schedules`` maps a label to a schedule object. Returns the three axes.
    """
    import torch

    if axes is None:
        _, axes = figure(3, width=9.0, height=2.6)
        axes = axes[0]
    t = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    for label, sched in schedules.items():
        axes[0].plot(t, sched.alpha(t), label=label)
        axes[1].plot(t, sched.sigma(t), label=label)
        axes[2].plot(t, sched.logsnr(t), label=label)
    for ax, name in zip(axes, [r"$\alpha_t$", r"$\sigma_t$", r"$\lambda_t = \log(\alpha_t^2/\sigma_t^2)$"]):
        ax.set_xlabel("t")
        ax.set_title(name)
    axes[2].set_ylim(-16, 16)  # the interesting range; the library clips logSNR to [-30, 30] at the edges
    axes[2].legend(loc="upper right")
    return axes


def animate(frames, draw, *, interval: int = 120, figsize=(3.2, 3.2)):
    """Animate ``draw(ax, frame)`` over ``frames`` and return it as self-contained HTML/JS.

    Uses matplotlib's ``to_jshtml`` (frames embedded as PNGs with a JS player): it plays in
    JupyterLab, Colab and the static book without a running kernel or any external script.
    Display it with ``IPython.display.HTML(...)``.
    """
    from matplotlib import animation

    frames = list(frames)
    if not frames:
        raise ValueError("frames must not be empty")
    fig, ax = plt.subplots(figsize=figsize)

    def update(frame):
        ax.clear()
        draw(ax, frame)
        return []

    anim = animation.FuncAnimation(fig, update, frames=frames, interval=interval, blit=False)
    html = anim.to_jshtml(default_mode="once")
    plt.close(fig)
    return html
