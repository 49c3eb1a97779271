"""Speed of eegslim.stats on a report-sized synthetic grid.

    PYTHONPATH=. .venv/bin/python benchmarks/bootstrap_speed.py [--variants 1000] [--n-boot 2000]

Builds one baseline and `--variants` variants, each with 6 folds × 3 seeds = 18 runs over 24 subjects (4 test
subjects per fold, ~60 windows per subject, 2 classes), then times bootstrap_delta (variant vs baseline, paired per
run) for every variant plus bootstrap_score for every variant, and prints the seconds. Building the synthetic
Predictions is not timed; computing their per-subject confusions (first use) is.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from eegslim import stats
from eegslim.predictions import make_predictions

N_SUBJECTS, N_FOLDS, N_SEEDS, N_CLASSES = 24, 6, 3, 2


def fold_windows(rng: np.random.Generator):
    """Per fold: (window rows, y_true, subject) of its 4 test subjects, 50-70 windows each."""
    folds, start = [], 0
    for fold in range(N_FOLDS):
        subjects = [f"sub-{fold * 4 + i:02d}" for i in range(N_SUBJECTS // N_FOLDS)]
        counts = rng.integers(50, 71, len(subjects))
        subject = np.repeat(subjects, counts)
        window = np.arange(start, start + len(subject))
        start += len(subject)
        folds.append((window, rng.integers(0, N_CLASSES, len(subject)), subject))
    return folds


def model_runs(rng, folds, skill: float):
    """18 (fold, Predictions) runs of one model; per-subject skill varies around `skill`."""
    runs = []
    for fold, (window, y_true, subject) in enumerate(folds):
        for _ in range(N_SEEDS):
            logit = rng.normal(skill, 1.0, len(y_true))
            proba = np.empty((len(y_true), N_CLASSES), dtype=np.float32)
            p_true = 1.0 / (1.0 + np.exp(-logit))
            proba[np.arange(len(y_true)), y_true] = p_true
            proba[np.arange(len(y_true)), 1 - y_true] = 1.0 - p_true
            runs.append((fold, make_predictions(window, y_true, proba, subject, subject)))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=int, default=1000)
    parser.add_argument("--n-boot", type=int, default=2000)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    folds = fold_windows(rng)
    baseline = model_runs(rng, folds, 1.5)
    variants = [model_runs(rng, folds, float(rng.uniform(0.5, 1.6))) for _ in range(args.variants)]
    n_windows = sum(len(f[0]) for f in folds)
    print(f"{args.variants} variants × {len(baseline)} runs, {N_SUBJECTS} subjects, {n_windows} test windows, "
          f"n_boot={args.n_boot}")

    start = time.perf_counter()
    deltas = [stats.bootstrap_delta([(f, v, b) for (f, v), (_, b) in zip(runs, baseline)], n_boot=args.n_boot)
              for runs in variants]
    t_delta = time.perf_counter() - start
    start = time.perf_counter()
    scores = [stats.bootstrap_score(runs, n_boot=args.n_boot) for runs in variants]
    t_score = time.perf_counter() - start

    verdicts = [stats.verdict(d, 0.02) for d in deltas]
    print(f"bootstrap_delta: {t_delta:.2f} s ({1e3 * t_delta / len(variants):.2f} ms/variant)")
    print(f"bootstrap_score: {t_score:.2f} s ({1e3 * t_score / len(variants):.2f} ms/variant)")
    print(f"total: {t_delta + t_score:.2f} s")
    print("verdicts (budget 0.02):", {name: verdicts.count(name) for name in stats.VERDICTS},
          f"| median CI width: delta {np.median([d.width for d in deltas]):.4f}, "
          f"score {np.median([s.width for s in scores]):.4f}")


if __name__ == "__main__":
    main()
