"""Build the shipped checkpoints in data/ (``make data``), each with a JSON card of recipe and metrics.

    python data/make_data.py                       # both, in order
    python data/make_data.py --only digits_ddpm    # one of them

* ``digits_classifier``: ``dl.nets.DigitsClassifier`` trained with ``dl.fit`` on the 1500 training digits of
  ``dl.digits("train")`` (cross-entropy, AdamW, random one-pixel shifts as augmentation), about a minute on
  two CPU cores. Its test accuracy on the 297 held-out digits and the Frechet distance between the train
  and test sets in its features (the baseline of every digits FD in the course) go into the card.
* ``digits_ddpm``: chapter 2's recipe trained longer: a ``dl.TinyUNet`` predicting eps under ``dl.VPLinear()``
  with ``dl.dsm_loss``, 8000 steps (4-11 minutes on two cores); the card records the Frechet distance of 297
  ancestral samples (250 steps, x0 clipped) to the test set. Chapters 4 and 5 load it with
  ``dl.pretrained("digits_ddpm")`` instead of training for minutes.
Everything is seeded; the classifier must exist before the DDPM is scored.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import diffusionlab as dl
import torch
from torch.nn import functional as F

HERE = Path(__file__).resolve().parent
RECIPE = {"steps": 3000, "batch_size": 128, "lr": 2e-3, "weight_decay": 1e-4, "seed": 0}
DDPM_RECIPE = {"steps": 8000, "batch_size": 128, "lr": 2e-3, "seed": 0}


def shift(x, generator):
    """Random shifts of -1, 0 or +1 pixel in each direction (zero padding is -1, the background)."""
    padded = F.pad(x, (1, 1, 1, 1), value=-1.0)
    dx, dy = torch.randint(0, 3, (2,), generator=generator).tolist()
    return padded[:, :, dy:dy + 8, dx:dx + 8]


def ce_loss(model, batch, generator):
    x, y = batch
    return F.cross_entropy(model(shift(x, generator)), y)


@torch.no_grad()
def accuracy(model, x, y):
    return (model(x).argmax(1) == y).double().mean().item()


def build_classifier(out):
    x_train, y_train = dl.digits("train")
    x_test, y_test = dl.digits("test")
    dl.seed(RECIPE["seed"])
    model = dl.DigitsClassifier()
    start = time.perf_counter()
    result = dl.fit(model, ce_loss, (x_train, y_train), ema=0.999, desc="digits classifier", **RECIPE)
    seconds = time.perf_counter() - start
    net = result.ema_model
    acc_test, acc_train = accuracy(net, x_test, y_test), accuracy(net, x_train, y_train)
    feats = net.features
    fd_train_test = dl.frechet_distance_features(x_train, x_test, feats).item()
    card = {
        "command": "python data/make_data.py",
        "data": "dl.digits('train'): 1500 of scikit-learn's 8x8 digits (fixed split, seed-0 permutation)",
        "recipe": {**RECIPE, "loss": "cross-entropy", "augmentation": "random shift by -1..1 px", "ema": 0.999,
                   "weights": "EMA"},
        "metrics": {"test_accuracy": round(acc_test, 4), "train_accuracy": round(acc_train, 4),
                    "n_test": int(y_test.numel()), "frechet_train_vs_test": round(fd_train_test, 4)},
        "train_seconds": round(seconds, 1),
        "torch": torch.__version__,
    }
    dl.save_checkpoint(out, net, card=card)
    print(f"test accuracy {acc_test:.4f}, train accuracy {acc_train:.4f}, FD(train, test) {fd_train_test:.3f}, "
          f"{seconds:.0f} s -> {out}.safetensors/.json")


def build_ddpm(out):
    x_train, _ = dl.digits("train")
    x_test, _ = dl.digits("test")
    schedule = dl.VPLinear()
    dl.seed(DDPM_RECIPE["seed"])
    model = dl.TinyUNet()
    start = time.perf_counter()
    result = dl.fit(model, lambda m, b, g: dl.dsm_loss(m, b, schedule, target="eps", generator=g), x_train,
                    ema=0.999, desc="digits DDPM", **DDPM_RECIPE)
    seconds = time.perf_counter() - start
    net = result.ema_model
    gen = torch.Generator().manual_seed(0)
    x_T = torch.randn(x_test.shape, generator=gen)
    with torch.no_grad():
        samples = dl.ddpm_ancestral(dl.denoiser(net, schedule, target="eps"), schedule, x_T,
                                    dl.timesteps(schedule, 250), clip=(-1.0, 1.0), generator=gen)
    fd = dl.digits_frechet(samples, x_test).item()
    fd_base = dl.digits_frechet(x_train[: len(x_test)], x_test).item()
    card = {
        "command": "python data/make_data.py --only digits_ddpm",
        "data": "dl.digits('train'): 1500 of scikit-learn's 8x8 digits (fixed split, seed-0 permutation)",
        "recipe": {**DDPM_RECIPE, "loss": "dl.dsm_loss, target eps, uniform weighting, t ~ U(1e-3, 1)",
                   "schedule": "dl.VPLinear() (beta_min 0.1, beta_max 20)", "ema": 0.999, "weights": "EMA"},
        "usage": "dl.denoiser(model, dl.VPLinear(), target='eps')",
        "metrics": {"frechet_vs_test": round(fd, 2), "frechet_train297_vs_test": round(fd_base, 2),
                    "sampler": "dl.ddpm_ancestral, 250 uniform steps, x0 clipped to [-1, 1], seed 0, 297 samples"},
        "train_seconds": round(seconds, 1),
        "torch": torch.__version__,
    }
    dl.save_checkpoint(out, net, card=card)
    print(f"digits DDPM: FD {fd:.1f} (297 training digits: {fd_base:.1f}), {seconds:.0f} s -> {out}")


BUILDERS = {"digits_classifier": build_classifier, "digits_ddpm": build_ddpm}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(BUILDERS), help="build one checkpoint (default: all, in order)")
    parser.add_argument("--out-dir", default=str(HERE), help="folder to write to (default: data/)")
    args = parser.parse_args(argv)
    for name, build in BUILDERS.items():
        if args.only in (None, name):
            build(str(Path(args.out_dir) / name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
