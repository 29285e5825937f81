"""Training loop: ``fit`` (AdamW, gradient clipping, EMA, seeded minibatches, a tqdm.auto progress bar),
the ``EMA`` of parameters and the ``FitResult`` it returns.

A loss is any ``loss_fn(model, batch, generator) -> scalar tensor``, e.g.
``lambda m, x, g: dl.losses.dsm_loss(m, x, schedule, generator=g)``; ``fit`` knows nothing about diffusion.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

__all__ = ["EMA", "FitResult", "fit"]


class EMA:
    """Exponential moving average of a model's parameters (Polyak & Juditsky 1992; used for diffusion by
    Ho et al. 2020, Appendix B, and Song & Ermon 2020, "Technique 5"): after each ``update(model)``,

    ``theta_ema <- d theta_ema + (1 - d) theta``, with ``d = decay``, or with ``warmup=True``
    ``d_n = min(decay, (1 + n) / (10 + n))`` at the n-th update (n = 0, 1, ...; the warm-up of TensorFlow's
    ExponentialMovingAverage ``num_updates``), so that early on the average forgets the random initial weights
    quickly instead of keeping weight ``decay^n`` on them. Buffers (e.g. batch-norm statistics) and
    non-float parameters are copied, not averaged. ``.model`` is a deep copy in eval mode, without gradients.
    """

    def __init__(self, model: torch.nn.Module, decay: float = 0.999, warmup: bool = False):
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be a number in [0, 1), got {decay!r}")
        self.decay, self.warmup, self.num_updates = float(decay), bool(warmup), 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        """The ``d`` the next ``update`` will use."""
        n = self.num_updates
        return min(self.decay, (1.0 + n) / (10.0 + n)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Move the average towards ``model``'s current parameters (same architecture as at construction)."""
        d = self.current_decay()
        ema_p, new_p = dict(self.model.named_parameters()), dict(model.named_parameters())
        if ema_p.keys() != new_p.keys() or any(ema_p[k].shape != v.shape for k, v in new_p.items()):
            raise ValueError("model must have the same parameters as the model the EMA was built from")
        for name, p in new_p.items():
            q = ema_p[name]
            if q.is_floating_point():
                q.lerp_(p.detach().to(q.device), 1.0 - d)  # q + (1 - d)(p - q) = d q + (1 - d) p
            else:
                q.copy_(p)
        for q, b in zip(self.model.buffers(), model.buffers()):
            q.copy_(b)  # running statistics are already averages; averaging them again would lag
        self.num_updates += 1


@dataclass
class FitResult:
    """What ``fit`` returns: the trained ``model`` (eval mode), its ``ema_model`` (eval mode, or None),
    ``losses`` (1-D float64 tensor, the loss of every step) and the wall time in ``seconds``."""

    model: torch.nn.Module
    ema_model: torch.nn.Module | None
    losses: torch.Tensor
    seconds: float


def _as_batchable(data):
    """``data`` as a tuple of tensors sharing the first dimension, plus whether it was a single tensor."""
    single = isinstance(data, torch.Tensor)
    parts = (data,) if single else tuple(data) if isinstance(data, (tuple, list)) else None
    if not parts or not all(isinstance(p, torch.Tensor) and p.dim() >= 1 for p in parts):
        raise ValueError("data must be a tensor or a tuple of tensors (each with a first, batch dimension)")
    n = parts[0].shape[0]
    if n < 1 or any(p.shape[0] != n for p in parts):
        raise ValueError(f"data tensors must share a non-empty first dimension, got {[tuple(p.shape) for p in parts]}")
    return parts, single


def _check(name, value, ok, allowed):
    if isinstance(value, bool) or not ok(value):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _train_step(model, loss_fn, batch, generator, opt, params, grad_clip, where):
    """One AdamW step; returns the loss as a float. Checks happen before ``opt.step()``, so a NaN never
    reaches the weights."""
    loss = loss_fn(model, batch, generator)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError("loss_fn must return a scalar tensor")
    value = loss.item()
    if not math.isfinite(value):
        raise FloatingPointError(f"loss is {value} at {where}: lower lr, check the data and loss_fn "
                                 "(no update was made at this step)")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip is not None:
        norm = torch.nn.utils.clip_grad_norm_(params, grad_clip).item()
        if not math.isfinite(norm):
            raise FloatingPointError(f"gradient norm is {norm} at {where} (no update was made at this step)")
    opt.step()
    return value


def fit(model, loss_fn, data, *, steps, batch_size=256, lr=1e-3, weight_decay=0.0, ema=0.999, grad_clip=1.0,
        seed=0, progress=True, desc="training", log_every=None) -> FitResult:
    """Minimise ``loss_fn(model, batch, generator)`` with AdamW (Loshchilov & Hutter 2019, Alg. 2) for ``steps`` steps.

    * ``data``: a tensor or a tuple of tensors with the same first dimension (e.g. ``(images, labels)``);
      ``batch`` has the same structure, ``batch_size`` rows, on the model's device. Minibatches are a seeded
      reshuffle: each epoch is a fresh permutation of the rows, consumed ``batch_size`` at a time and
      continued into the next epoch, so every row is seen equally often (a batch larger than the data
      repeats rows).
    * ``seed`` seeds the shuffling and ``generator``, a ``torch.Generator`` on the model's device that
      ``loss_fn`` must use for its noise and times: then two runs from the same initial weights give the
      same losses. The global RNG (weight initialisation, dropout) is left to the caller: call
      ``dl.seed(...)`` before building the model.
    * ``grad_clip``: clip the global gradient norm to this value (None: no clipping).
    * ``ema``: the decay of an ``EMA(model, ema, warmup=True)`` updated after every step (None: no EMA);
      the warm-up keeps short runs from averaging in the random initial weights.
    * ``progress``: a tqdm.auto bar showing the smoothed loss; ``log_every``: also write a line every that
      many steps. With ``progress=False`` and ``log_every=None`` nothing is printed.

    Raises FloatingPointError naming the step when the loss or the gradient norm is NaN or infinite
    (before that step's update, so ``model`` keeps the last finite weights).
    """
    _check("steps", steps, lambda v: isinstance(v, int) and v >= 1, "an integer >= 1")
    _check("batch_size", batch_size, lambda v: isinstance(v, int) and v >= 1, "an integer >= 1")
    _check("lr", lr, lambda v: isinstance(v, (int, float)) and math.isfinite(v) and v > 0, "a finite number > 0")
    _check("weight_decay", weight_decay, lambda v: isinstance(v, (int, float)) and math.isfinite(v) and v >= 0,
           "a finite number >= 0")
    _check("grad_clip", grad_clip, lambda v: v is None or (isinstance(v, (int, float)) and math.isfinite(v) and v > 0),
           "None or a finite number > 0")
    _check("seed", seed, lambda v: isinstance(v, int) and v >= 0, "an integer >= 0")
    _check("log_every", log_every, lambda v: v is None or (isinstance(v, int) and v >= 1), "None or an integer >= 1")
    parts, single = _as_batchable(data)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model must have trainable parameters")
    device = params[0].device
    _check("ema", ema, lambda v: v is None or (isinstance(v, (int, float)) and 0 <= v < 1), "None or a number in [0, 1)")
    ema_tracker = None if ema is None else EMA(model, ema, warmup=True)

    # two streams from one seed: row order on the CPU, noise for loss_fn on the model's device
    g_rows = torch.Generator().manual_seed(seed)
    generator = torch.Generator(device=device).manual_seed(int(torch.randint(2**62, (1,), generator=g_rows)))
    n, order = parts[0].shape[0], torch.empty(0, dtype=torch.long)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    losses, smooth = torch.empty(steps, dtype=torch.float64), None
    start = time.perf_counter()
    model.train()
    bar = tqdm(range(1, steps + 1), desc=desc, disable=not progress, leave=True)
    try:
        for step in bar:
            while order.numel() < batch_size:
                order = torch.cat([order, torch.randperm(n, generator=g_rows)])
            idx, order = order[:batch_size], order[batch_size:]
            batch = tuple(p[idx.to(p.device)].to(device) for p in parts)
            value = _train_step(model, loss_fn, batch[0] if single else batch, generator, opt, params, grad_clip,
                                f"step {step} of {steps}")
            if ema_tracker is not None:
                ema_tracker.update(model)
            losses[step - 1] = value
            # running mean of the loss (started at the first loss), for display only: one step is too noisy
            smooth = value if smooth is None else 0.98 * smooth + 0.02 * value
            if progress and (step % max(1, steps // 200) == 0 or step == steps):
                bar.set_postfix(loss=f"{smooth:.4g}", refresh=False)
            if log_every is not None and (step % log_every == 0 or step == steps):
                tqdm.write(f"{desc}: step {step}/{steps}, loss {smooth:.4g}")
    finally:
        bar.close()  # also on FloatingPointError, so a notebook is not left with a half-drawn bar
    model.eval()
    return FitResult(model=model, ema_model=None if ema_tracker is None else ema_tracker.model,
                     losses=losses, seconds=time.perf_counter() - start)
