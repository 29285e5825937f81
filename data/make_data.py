"""Build the shipped assets in data/ (``make data``): the digits classifier behind ``dl.digits_frechet``.

    python data/make_data.py            # writes data/digits_classifier.{safetensors,json}

The classifier is ``dl.nets.DigitsClassifier`` trained with ``dl.fit`` on the 1500 training digits of
``dl.digits("train")`` (cross-entropy, AdamW, random one-pixel shifts as augmentation), seeded, on the CPU
in about a minute. Its test accuracy on the 297 held-out digits, and the Frechet distance between the
train and test sets in its features (the baseline every digits FD in the course is compared with), go
into the JSON card.
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "digits_classifier"), help="checkpoint stem")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
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
    dl.save_checkpoint(args.out, net, card=card)
    print(f"test accuracy {acc_test:.4f}, train accuracy {acc_train:.4f}, FD(train, test) {fd_train_test:.3f}, "
          f"{seconds:.0f} s -> {args.out}.safetensors/.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
