"""Tiny networks that train in seconds on a CPU: a time-conditioned MLP for 2-D toys, a small U-Net for
8x8 digits (optionally class-conditional, with a null class for classifier-free guidance) and a digits
classifier whose features drive a Frechet distance.

Offers ``TimeEmbedding``, ``MLP`` / ``MLPConfig``, ``TinyUNet`` / ``TinyUNetConfig``,
``DigitsClassifier`` / ``DigitsClassifierConfig``, the registry ``NETS`` (class name -> class) and
``build(name_or_config, **fields)``.

One construction pattern for every net: ``Net(**fields)``, e.g. ``MLP(hidden=64)``. The fields are those
of the net's config dataclass (``Net.config_class``), validated at construction; the net keeps them as
``net.config``, so ``type(net)(**dataclasses.asdict(net.config))`` rebuilds it (this is what
``dl.checkpoint`` does from a card).

Time-conditioned nets are called as ``net(x, t)`` or ``net(x, t, y)`` with ``t`` a floating tensor of
shape [batch] in [0, 1] (what ``dl.predictions.denoiser`` passes); what they predict (eps, x0, v) is
decided by the loss, not by the net.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "MLP", "NETS", "DigitsClassifier", "DigitsClassifierConfig", "MLPConfig", "TimeEmbedding", "TinyUNet",
    "TinyUNetConfig", "build",
]


# ----------------------------------------------------------------------------- validation helpers
def _check_int(name, value, lo=1):
    if not isinstance(value, int) or isinstance(value, bool) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")


def _check_even(name, value, lo=4):
    _check_int(name, value, lo)
    if value % 2:
        raise ValueError(f"{name} must be even (half sines, half cosines), got {value!r}")


def _check_x(x, shape, what):
    """``x`` must be a floating tensor whose shape matches ``shape`` (None = any size) after the batch dim."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating torch tensor, got {type(x).__name__}"
                        + (f" of dtype {x.dtype}" if isinstance(x, torch.Tensor) else ""))
    if x.dim() != len(shape) + 1 or any(s is not None and s != d for s, d in zip(shape, x.shape[1:])):
        raise ValueError(f"x must have shape {what}, got {tuple(x.shape)}")


def _check_t(t, batch):
    """``t`` must be a floating tensor of shape [batch] with values in [0, 1]."""
    if not isinstance(t, torch.Tensor) or not t.is_floating_point():
        raise TypeError(f"t must be a floating torch tensor of shape [batch], got {type(t).__name__}"
                        + (f" of dtype {t.dtype}" if isinstance(t, torch.Tensor) else ""))
    if t.dim() != 1 or (batch is not None and t.shape[0] != batch):
        raise ValueError(f"t must have shape [batch] = [{batch}], got {tuple(t.shape)}")
    # NaN fails both comparisons, so it is rejected too
    if t.numel() and not bool(((t >= 0) & (t <= 1)).all()):
        raise ValueError(f"t must be in [0, 1] (data at t = 0, noise at t = 1), got values in "
                         f"[{t.min().item():.4g}, {t.max().item():.4g}]")


def _fields_error(cls, err):
    names = [f.name for f in dataclasses.fields(cls)]
    return TypeError(f"{cls.__name__} fields are {names}: {err}")


# ----------------------------------------------------------------------------- time features
class TimeEmbedding(nn.Module):
    """Sinusoidal features of t (Vaswani et al. 2017, Sec. 3.5; as in Ho et al. 2020's U-Net).

    ``emb(t) = [sin(1000 t w_k), cos(1000 t w_k)]_{k < dim/2}`` with ``w_k = 10000^(-k / (dim/2 - 1))``,
    frequencies geometric from 1 down to 1/10000. The factor 1000 puts continuous t in [0, 1] on DDPM's
    step scale 0..1000, so the fastest feature still resolves steps of 1/1000. No learned parameters.
    """

    def __init__(self, dim: int):
        super().__init__()
        _check_even("dim", dim)
        self.dim = dim
        half = dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / (half - 1))
        # a buffer follows .to(device); not persistent, so checkpoints only hold learned weights
        self.register_buffer("freqs", freqs.float(), persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """Features (B, dim) of ``t`` (B,), in ``t``'s dtype."""
        _check_t(t, None)
        args = 1000.0 * t[:, None] * self.freqs.to(t.dtype)
        return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class _ConfiguredNet(nn.Module):
    """Base: ``Net(**fields)`` validates the fields through ``config_class`` and stores ``self.config``."""

    config_class: type = None

    def __init__(self, **fields):
        super().__init__()
        try:
            self.config = self.config_class(**fields)
        except TypeError as err:
            raise _fields_error(self.config_class, err) from None

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in dataclasses.asdict(self.config).items())


# ----------------------------------------------------------------------------- MLP for 2-D toys
@dataclass(frozen=True)
class MLPConfig:
    """Fields of ``MLP``: data ``dim``, ``hidden`` width, ``depth`` hidden layers, ``time_dim`` features."""

    dim: int = 2
    hidden: int = 128
    depth: int = 3
    time_dim: int = 32

    def __post_init__(self):
        _check_int("dim", self.dim)
        _check_int("hidden", self.hidden)
        _check_int("depth", self.depth)
        _check_even("time_dim", self.time_dim)


class MLP(_ConfiguredNet):
    """A time-conditioned MLP ``f(x, t)`` for low-dimensional data, output shaped like ``x`` (B, dim).

    ``[x, emb(t)] -> Linear -> SiLU``, then ``depth - 1`` residual layers ``h + SiLU(Linear(h))`` (the
    skip keeps gradients healthy at any depth), then ``Linear -> dim``. The time features are the
    sinusoidal ``TimeEmbedding``, concatenated to the input as in the toy models of Song et al.
    The last layer keeps PyTorch's default initialisation (outputs start O(0.1), which a target of unit
    scale like eps learns quickly). ``MLP(dim=2, hidden=128, depth=3, time_dim=32)``: fields of ``MLPConfig``.
    """

    config_class = MLPConfig

    def __init__(self, **fields):
        super().__init__(**fields)
        c = self.config
        self.time = TimeEmbedding(c.time_dim)
        self.inp = nn.Linear(c.dim + c.time_dim, c.hidden)
        self.hidden = nn.ModuleList(nn.Linear(c.hidden, c.hidden) for _ in range(c.depth - 1))
        self.out = nn.Linear(c.hidden, c.dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``f(x, t)``: ``x`` (B, dim), ``t`` (B,) in [0, 1] -> (B, dim)."""
        _check_x(x, (self.config.dim,), f"(batch, dim) = (B, {self.config.dim})")
        _check_t(t, x.shape[0])
        h = F.silu(self.inp(torch.cat([x, self.time(t.to(x.dtype))], dim=1)))
        for layer in self.hidden:
            h = h + F.silu(layer(h))
        return self.out(h)


# ----------------------------------------------------------------------------- U-Net for 8x8 images
@dataclass(frozen=True)
class TinyUNetConfig:
    """Fields of ``TinyUNet``: ``channels`` at 8x8 (twice that at 4x4; a multiple of 8, for GroupNorm's
    8 groups), ``n_classes`` (None: unconditional; an int: class-conditional with a null class),
    ``time_dim`` (even). The default width 16 (about 50k parameters) is set by the CPU budget: a training
    step at batch 128 costs about 4x more at channels=32 (about 190k parameters)."""

    channels: int = 16
    n_classes: int | None = None
    time_dim: int = 64

    def __post_init__(self):
        _check_int("channels", self.channels, lo=8)
        if self.channels % 8:
            raise ValueError(f"channels must be a multiple of 8 (GroupNorm with 8 groups), got {self.channels!r}")
        if self.n_classes is not None:
            _check_int("n_classes", self.n_classes)
        _check_even("time_dim", self.time_dim)


class _ResBlock(nn.Module):
    """GroupNorm -> SiLU -> conv, add the (time + class) embedding, GroupNorm -> SiLU -> conv, plus a skip.

    The embedding enters as a per-channel bias between the convolutions, as in Ho et al. 2020's U-Net."""

    def __init__(self, c_in, c_out, emb_dim):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(8, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class TinyUNet(_ConfiguredNet):
    """A small U-Net ``f(x, t, y)`` for (B, 1, 8, 8) images (after Ho et al. 2020, App. B, scaled down).

    conv -> residual block at 8x8 (C channels) -> stride-2 conv -> residual block at 4x4 (2C) ->
    transposed conv back to 8x8 (C), concatenated with the 8x8 activations (the skip connection) ->
    residual block -> GroupNorm -> SiLU -> conv to 1 channel. Every residual block receives the
    embedding ``MLP(emb(t)) (+ class embedding)`` of width 4C (DDPM's choice). With ``n_classes = K`` the class table has K + 1 rows:
    row K is the NULL class, used when ``y`` is None or ``y == K``; training with labels randomly
    replaced by K gives the unconditional model needed by classifier-free guidance (Ho & Salimans 2022,
    Sec. 3.2). ``TinyUNet(channels=16, n_classes=None, time_dim=64)``: fields of ``TinyUNetConfig``.
    """

    config_class = TinyUNetConfig

    def __init__(self, **fields):
        super().__init__(**fields)
        c, emb = self.config.channels, 4 * self.config.channels
        self.time = TimeEmbedding(self.config.time_dim)
        self.time_mlp = nn.Sequential(nn.Linear(self.config.time_dim, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.label = None if self.config.n_classes is None else nn.Embedding(self.config.n_classes + 1, emb)
        self.inp = nn.Conv2d(1, c, 3, padding=1)
        self.down_block = _ResBlock(c, c, emb)
        self.down = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.mid_block = _ResBlock(2 * c, 2 * c, emb)
        self.up = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.up_block = _ResBlock(2 * c, c, emb)
        self.out_norm, self.out = nn.GroupNorm(8, c), nn.Conv2d(c, 1, 3, padding=1)

    @property
    def null_class(self) -> int | None:
        """The label of the null (unconditional) class, ``n_classes``; None for an unconditional net."""
        return self.config.n_classes

    def _labels(self, y, batch, device):
        k = self.config.n_classes
        if k is None:
            if y is not None:
                raise ValueError("y must be None: this TinyUNet is unconditional (n_classes=None)")
            return None
        if y is None:
            return torch.full((batch,), k, dtype=torch.long, device=device)
        if not isinstance(y, torch.Tensor) or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
            raise TypeError(f"y must be None or an integer tensor of shape [batch], got {y!r:.60}")
        if y.shape != (batch,):
            raise ValueError(f"y must have shape [batch] = [{batch}], got {tuple(y.shape)}")
        if y.numel() and not bool(((y >= 0) & (y <= k)).all()):
            raise ValueError(f"y must be in 0..{k} (0..{k - 1} the classes, {k} the null class), "
                             f"got values in [{y.min().item()}, {y.max().item()}]")
        return y.to(device=device, dtype=torch.long)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``f(x, t, y)``: ``x`` (B, 1, 8, 8), ``t`` (B,) in [0, 1], ``y`` None or (B,) ints -> (B, 1, 8, 8)."""
        _check_x(x, (1, 8, 8), "(B, 1, 8, 8)")
        _check_t(t, x.shape[0])
        labels = self._labels(y, x.shape[0], x.device)
        emb = self.time_mlp(self.time(t.to(x.dtype)))
        if labels is not None:
            emb = emb + self.label(labels)
        h0 = self.down_block(self.inp(x), emb)                 # 8x8, C: kept for the skip connection
        h = self.mid_block(self.down(h0), emb)                 # 4x4, 2C: the coarse, global view
        h = self.up(h)                                         # back to 8x8, C (each pixel -> 2x2)
        h = self.up_block(torch.cat([h, h0], dim=1), emb)      # fine detail from the skip
        return self.out(F.silu(self.out_norm(h)))


# ----------------------------------------------------------------------------- digits classifier
@dataclass(frozen=True)
class DigitsClassifierConfig:
    """Fields of ``DigitsClassifier``: conv ``channels``, ``feature_dim`` of ``features(x)``, ``n_classes``."""

    channels: int = 32
    feature_dim: int = 64
    n_classes: int = 10

    def __post_init__(self):
        _check_int("channels", self.channels)
        _check_int("feature_dim", self.feature_dim)
        _check_int("n_classes", self.n_classes, lo=2)


class DigitsClassifier(_ConfiguredNet):
    """A small CNN for (B, 1, 8, 8) digits: ``forward(x)`` -> logits (B, n_classes).

    conv 8x8 (C) -> stride-2 conv 4x4 (2C) -> conv 4x4 (2C) -> flatten -> Linear -> SiLU = ``features(x)``
    (B, feature_dim) -> Linear -> logits. ``features`` plays the role of Inception's pool features in
    the Frechet distance (FID, Heusel et al. 2017, eq. 6), at the scale of 8x8 digits.
    ``DigitsClassifier(channels=32, feature_dim=64, n_classes=10)``: fields of ``DigitsClassifierConfig``.
    """

    config_class = DigitsClassifierConfig

    def __init__(self, **fields):
        super().__init__(**fields)
        c = self.config.channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.SiLU(),
            nn.Flatten(), nn.Linear(2 * c * 16, self.config.feature_dim), nn.SiLU(),
        )
        self.head = nn.Linear(self.config.feature_dim, self.config.n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (B, feature_dim) of ``x`` (B, 1, 8, 8), for Frechet distances."""
        _check_x(x, (1, 8, 8), "(B, 1, 8, 8)")
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, n_classes) of ``x`` (B, 1, 8, 8) in [-1, 1] (as ``dl.data.digits`` returns)."""
        return self.head(self.features(x))


# ----------------------------------------------------------------------------- registry
NETS = {"MLP": MLP, "TinyUNet": TinyUNet, "DigitsClassifier": DigitsClassifier}
_BY_CONFIG = {cls.config_class: cls for cls in NETS.values()}


def build(name_or_config, **fields) -> nn.Module:
    """A fresh net from a class name in ``NETS`` plus fields (``build("MLP", hidden=64)``) or from a config
    instance (``build(MLPConfig(hidden=64))``; no extra fields then)."""
    if isinstance(name_or_config, str):
        if name_or_config not in NETS:
            raise ValueError(f"name_or_config must be one of {tuple(NETS)} or a config, got {name_or_config!r}")
        return NETS[name_or_config](**fields)
    cls = _BY_CONFIG.get(type(name_or_config))
    if cls is None:
        raise TypeError(f"name_or_config must be a net name {tuple(NETS)} or one of "
                        f"{[c.__name__ for c in _BY_CONFIG]}, got {type(name_or_config).__name__}")
    if fields:
        raise TypeError(f"build(config) takes no extra fields, got {sorted(fields)}")
    return cls(**dataclasses.asdict(name_or_config))
