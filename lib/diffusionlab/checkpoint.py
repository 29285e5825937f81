"""Checkpoints as a ``safetensors`` state dict plus a JSON card; never pickle.

Offers ``save_checkpoint(path, model, card=)`` and ``load_checkpoint(path, model=, registry=)``.

A checkpoint ``path`` is two files: ``<path>.safetensors`` (the tensors) and ``<path>.json`` (the card:
format, net class and config, tensor shapes, the sha256 of the tensor file, plus anything the caller
adds such as the training command, data and metrics). safetensors holds raw tensors only, so loading a
checkpoint cannot run code, unlike ``torch.load`` of a pickle. Loading validates everything (hash,
class, config, every tensor's name and shape) and fails with a ValueError that names what differs.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save

from . import nets

__all__ = ["CARD_FORMAT", "SHIPPED", "load_checkpoint", "pretrained", "save_checkpoint", "shipped_dir"]

CARD_FORMAT = 1
_RESERVED = ("format", "class", "config", "tensors", "sha256")
_SUFFIXES = (".safetensors", ".json")


def _paths(path):
    """``(<stem>.safetensors, <stem>.json)`` for ``path`` given with or without one of the two suffixes."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    p = os.fspath(path)
    for suffix in _SUFFIXES:
        if p.endswith(suffix):
            p = p[: -len(suffix)]
            break
    if not p or p.endswith(os.sep):
        raise ValueError(f"path must name a file (stem), got {path!r}")
    # suffixes are appended, not swapped with with_suffix, so stems like "unet_v1.2" survive
    return Path(p + ".safetensors"), Path(p + ".json")


def _atomic_write(target: Path, data: bytes):
    """Write ``data`` to ``target`` via a temp file in the same folder and ``os.replace``.

    ``os.replace`` is atomic within one file system, so a reader (or a crash) sees either the old file or
    the complete new one, never half a file; the temp file is removed if anything fails."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        # the file object owns fd from the start, so an error in fchmod (or anywhere below) still closes it;
        # calling fchmod on the raw fd before fdopen leaked the descriptor when fchmod failed
        with os.fdopen(fd, "wb") as f:
            # mkstemp creates the file private (0600); give it the usual permissions (0666 minus the umask)
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(f.fileno(), 0o666 & ~umask)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _config_dict(model, name):
    config = getattr(model, "config", None)
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"{name} must carry a dataclass instance as .config (as the nets in dl.nets do), "
                        f"got {type(config).__name__}")
    return dataclasses.asdict(config)


def save_checkpoint(path, model: torch.nn.Module, *, card: dict | None = None) -> dict:
    """Save ``model`` as ``<path>.safetensors`` + ``<path>.json``; returns the card written.

    ``path`` may be given with or without the ``.safetensors`` / ``.json`` suffix; missing folders are
    created. The tensors are ``model.state_dict()`` moved to the CPU, made contiguous and copied (safetensors
    refuses views that share storage). The card is ``{"format": 1, "class": type(model).__name__,
    "config": asdict(model.config), "tensors": {name: shape}, "sha256": hex digest of the tensor file}``
    plus every key of ``card`` (JSON-serialisable; the keys above are reserved). The tensor file is
    written first and the card last, each atomically, so a card on disk always describes a complete file.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    config = _config_dict(model, "model")
    card = {} if card is None else card
    if not isinstance(card, dict):
        raise TypeError(f"card must be a dict or None, got {type(card).__name__}")
    clash = sorted(set(card) & set(_RESERVED))
    if clash:
        raise ValueError(f"card must not set the reserved keys {list(_RESERVED)}, got {clash}")
    st_path, json_path = _paths(path)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    blob = _st_save(tensors)
    full = {"format": CARD_FORMAT, "class": type(model).__name__, "config": config,
            "tensors": {k: list(v.shape) for k, v in tensors.items()},
            "sha256": hashlib.sha256(blob).hexdigest(), **card}
    try:  # serialise before touching the disk, so a bad card writes nothing
        text = json.dumps(full, indent=2, sort_keys=False, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(f"card must be JSON-serialisable (str, numbers, lists, dicts; no NaN): {err}") from None
    st_path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(st_path, blob)
    _atomic_write(json_path, (text + "\n").encode())
    return full


def _read_card(json_path):
    if not json_path.is_file():
        raise FileNotFoundError(f"checkpoint card not found: {json_path}")
    try:
        card = json.loads(json_path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"checkpoint card {json_path} is not valid JSON: {err}") from None
    missing = [k for k in _RESERVED if k not in (card if isinstance(card, dict) else {})]
    if missing:
        raise ValueError(f"checkpoint card {json_path} lacks the keys {missing}")
    if card["format"] != CARD_FORMAT:
        raise ValueError(f"checkpoint card {json_path} has format {card['format']!r}; this version reads {CARD_FORMAT}")
    # a hand-edited card with, say, "config": [] would otherwise fail later with an AttributeError or a TypeError
    # from Net(**config) that names neither the card nor the field
    if not isinstance(card["class"], str) or not isinstance(card["config"], dict):
        # ValueError, like every other defect of the card's contents (path itself has the right type)
        raise ValueError(f"checkpoint card {json_path} must hold a class name (string) and a config (object), "  # noqa: TRY004
                         f"got class={card['class']!r}, config={card['config']!r}")
    return card


def _check_model(model, card, json_path):
    """``model``'s class and config must equal the card's; name the first field that differs."""
    if type(model).__name__ != card["class"]:
        raise ValueError(f"model is a {type(model).__name__} but checkpoint {json_path} holds a {card['class']}")
    mine, theirs = _config_dict(model, "model"), card["config"]
    for key in sorted(set(mine) | set(theirs)):
        a, b = mine.get(key, "<absent>"), theirs.get(key, "<absent>")
        # JSON turns tuples into lists: compare through one JSON round trip
        if json.loads(json.dumps(a)) != b:
            raise ValueError(f"model config field {key!r} is {a!r} but checkpoint {json_path} has {key}={b!r}")


def _check_state(model, tensors, st_path):
    """Same tensor names and shapes as ``model.state_dict()``, else a ValueError naming the tensor."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    # sorted: safetensors hands the tensors back in no fixed order, so the message would differ from run to run
    unexpected = sorted(k for k in tensors if k not in expected)
    if missing or unexpected:
        raise ValueError(f"checkpoint {st_path} does not fit {type(model).__name__}: missing tensors {missing}, "
                         f"unexpected tensors {unexpected}")
    for name, value in expected.items():
        if tuple(value.shape) != tuple(tensors[name].shape):
            raise ValueError(f"tensor {name!r} has shape {tuple(tensors[name].shape)} in checkpoint {st_path} "
                             f"but {tuple(value.shape)} in the model")


def load_checkpoint(path, model: torch.nn.Module | None = None, *, registry: dict | None = None):
    """Load a checkpoint written by ``save_checkpoint``; returns ``(model, card)``.

    Checks, in order: both files exist (FileNotFoundError with the path); the tensor file's sha256
    equals the card's (else the file is corrupted or was modified); then either builds the model as
    ``registry[card["class"]](**card["config"])`` when ``model`` is None (``registry`` maps class names
    to classes, default ``dl.nets.NETS``), or checks that the given ``model`` has the card's class and
    config. Finally every tensor name and shape must match the model's state dict (strict); the tensors
    are copied into the model on the model's device. The model's train/eval mode is left as it was.
    """
    st_path, json_path = _paths(path)
    card = _read_card(json_path)
    if not st_path.is_file():
        raise FileNotFoundError(f"checkpoint tensors not found: {st_path}")
    blob = st_path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != card["sha256"]:
        raise ValueError(f"checkpoint {st_path} is corrupted or was modified: sha256 {digest} != "
                         f"{card['sha256']} recorded in {json_path}")
    if model is None:
        registry = nets.NETS if registry is None else registry
        if not isinstance(registry, dict):
            raise TypeError(f"registry must be a dict from class names to classes, got {type(registry).__name__}")
        if card["class"] not in registry:
            raise ValueError(f"checkpoint class {card['class']!r} is not in registry {sorted(registry)}")
        model = registry[card["class"]](**card["config"])
    elif not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module or None, got {type(model).__name__}")
    else:
        _check_model(model, card, json_path)
    tensors = _st_load(blob)
    _check_state(model, tensors, st_path)
    model.load_state_dict(tensors, strict=True)
    return model, card


# ----------------------------------------------------------------------------- checkpoints shipped in data/
SHIPPED = ("digits_classifier", "digits_ddpm")  # every checkpoint data/make_data.py writes
_PRETRAINED = {}


def shipped_dir() -> Path:
    """The folder of the shipped checkpoints: the checkout's ``data/`` (a clone, ``pip install -e``), else the
    copy that ``pip install`` puts inside the package as ``diffusionlab/shipped`` (see pyproject.toml)."""
    here = Path(__file__).resolve().parent
    candidates = (here.parents[1] / "data", here / "shipped")
    for folder in candidates:
        if any((folder / f"{name}.json").is_file() for name in SHIPPED):
            return folder
    raise FileNotFoundError(f"no shipped checkpoints in {[str(c) for c in candidates]}; run `make data` in the "
                            f"repository to build them")


def pretrained(name: str, device=None):
    """A checkpoint shipped with the course, loaded with ``load_checkpoint`` (all validations) from
    ``shipped_dir()``: ``(model, card)``, the model in eval mode, without gradients, on ``device`` (default
    CPU). ``name``: one of ``SHIPPED`` ("digits_classifier": the feature network of ``dl.digits_frechet``;
    "digits_ddpm": chapter 2's eps-prediction ``TinyUNet`` on ``dl.digits("train")`` with ``dl.VPLinear()``).
    The card says how it was trained and what it scores. Cached per (name, device): treat it as read-only."""
    if name not in SHIPPED:
        raise ValueError(f"name must be one of {SHIPPED}, got {name!r}")
    key = (name, str(torch.device("cpu") if device is None else torch.device(device)))
    if key not in _PRETRAINED:
        model, card = load_checkpoint(shipped_dir() / name)
        _PRETRAINED[key] = (model.to(key[1]).eval().requires_grad_(False), card)
    return _PRETRAINED[key]
