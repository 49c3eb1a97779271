"""Confidence intervals and paired differences of test scores, from the stored predictions (numpy, vectorised).

The method is a cluster bootstrap stratified by fold with percentile intervals:

- the resampled unit is the test *subject* (cluster): a subject's windows are drawn or left out together, since
  windows of one subject are strongly correlated and the question is how a score generalises to new subjects;
- strata are the k-fold folds: each replicate draws, independently within each fold, as many test subjects as the
  fold has, with replacement, from that fold's test subjects only (folds have disjoint test subjects);
- runs of one fold (its seeds) are scored on the same subjects, so a replicate applies the SAME subject draw to every
  run of the fold and averages the runs: the interval covers the sampling of test subjects for the seed-averaged
  score; seed-to-seed (training) variability is averaged over, not resampled;
- the interval is the percentile interval of the replicates (np.percentile, linear interpolation).

scipy.stats.bootstrap is not used: it resamples observations independently and has no notion of clusters or strata.

A replicate's confusion matrix is not built from resampled windows but from multiplicity weights: with a run's
per-subject confusion matrices conf (S, N, N) and the number of times each subject was drawn w (B, S), the
replicates' confusions are w @ conf = einsum("bs,sij->bij"), exactly the confusion of the concatenated windows.
Per-subject confusions are computed once per `Predictions` object (cached while the object lives).

Scores are fractions in [0, 1] (balanced accuracy, macro-F1, accuracy); differences are variant − baseline in the
same units (negative = the variant lost accuracy).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eegslim.predictions import Predictions

VERDICTS = ("within budget", "inconclusive", "over budget")
_TOLERANCE = 1e-12


# ----------------------------------------------------------------------------------------------- confusions, metrics

def confusion_by_subject(y_true, y_pred, subject, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-subject confusion matrices.

    y_true, y_pred: (n,) integer class ids in [0, n_classes); subject: (n,) subject ids.
    Returns (subjects, conf): subjects (S,) str, sorted and unique; conf (S, N, N) int64 window counts with
    conf[s, i, j] = windows of subject s whose true class is i and predicted class j (rows true, columns predicted).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    subject = np.asarray(subject, dtype=str)
    n = len(y_true)
    if y_true.ndim != 1 or y_pred.shape != (n,) or subject.shape != (n,):
        raise ValueError(f"confusion_by_subject: need equal 1-D arrays, got y_true {y_true.shape}, "
                         f"y_pred {y_pred.shape}, subject {subject.shape}")
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if n and (labels.min() < 0 or labels.max() >= n_classes):
            raise ValueError(f"confusion_by_subject: {name} has class ids outside [0, {n_classes})")
    subjects, inverse = np.unique(subject, return_inverse=True)
    flat = (inverse.reshape(-1) * n_classes + y_true) * n_classes + y_pred
    conf = np.bincount(flat, minlength=len(subjects) * n_classes * n_classes)
    return subjects, conf.reshape(len(subjects), n_classes, n_classes).astype(np.int64)


def _class_first(conf) -> np.ndarray:
    """(..., N, N) confusion → a (N, N, ...) float64 view/copy (reductions over leading axes are the fast ones)."""
    conf = np.asarray(conf)
    if conf.ndim < 2 or conf.shape[-1] != conf.shape[-2]:
        raise ValueError(f"need a (..., N, N) confusion, got shape {conf.shape}")
    return np.moveaxis(conf.astype(np.float64, copy=False), (-2, -1), (0, 1))


def _parts(c: np.ndarray):
    """From a class-first (N, N, ...) confusion: per-class (N, ...) true positives, row sums (true windows), column
    sums (predicted windows) and which classes are present in y_true."""
    idx = np.arange(c.shape[0])
    rows = c.sum(axis=1)
    return c[idx, idx], rows, c.sum(axis=0), rows > 0


def _mean_over_present(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return values.sum(axis=0) / present.sum(axis=0)


def _balanced_accuracy_cf(c: np.ndarray) -> np.ndarray:
    diag, rows, _, present = _parts(c)
    return _mean_over_present(np.divide(diag, rows, out=np.zeros_like(diag), where=present), present)


def _macro_f1_cf(c: np.ndarray) -> np.ndarray:
    diag, rows, cols, present = _parts(c)
    return _mean_over_present(np.divide(2.0 * diag, rows + cols, out=np.zeros_like(diag), where=present), present)


def _accuracy_cf(c: np.ndarray) -> np.ndarray:
    diag, rows, _, _ = _parts(c)
    with np.errstate(invalid="ignore", divide="ignore"):
        return diag.sum(axis=0) / rows.sum(axis=0)


def balanced_accuracy(conf: np.ndarray) -> np.ndarray:
    """Mean per-class recall over the classes present in y_true (row sum > 0), over the leading axes.

    conf: (..., N, N) confusion counts (rows true, columns predicted; ints or float weights).
    Returns (...) float64 (a 0-d array for one matrix); NaN where the confusion is empty.
    Equals sklearn.metrics.balanced_accuracy_score (as eegslim.metrics.classification_metrics uses it).
    """
    return _balanced_accuracy_cf(_class_first(conf))


def macro_f1(conf: np.ndarray) -> np.ndarray:
    """Mean F1 over the classes present in y_true, zero_division 0, over the leading axes of (..., N, N).

    F1 of class i = 2 tp / (2 tp + fp + fn) = 2 conf[i, i] / (row sum + column sum). Equals
    sklearn.metrics.f1_score(labels=<classes present in y_true>, average="macro", zero_division=0), as
    eegslim.metrics.classification_metrics computes it. Returns (...) float64; NaN where the confusion is empty.
    """
    return _macro_f1_cf(_class_first(conf))


def accuracy(conf: np.ndarray) -> np.ndarray:
    """Share of windows predicted correctly, over the leading axes of (..., N, N); NaN where empty."""
    return _accuracy_cf(_class_first(conf))


# class-first implementations, by the name used in metrics.json
_METRICS_CF: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "balanced_accuracy": _balanced_accuracy_cf, "macro_f1": _macro_f1_cf, "accuracy": _accuracy_cf}
METRICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "balanced_accuracy": balanced_accuracy, "macro_f1": macro_f1, "accuracy": accuracy}


def _metric(name: str, class_first: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    try:
        return (_METRICS_CF if class_first else METRICS)[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}; known: {sorted(METRICS)}") from None


# ---------------------------------------------------------------------------------------------------- estimates

@dataclass(frozen=True)
class Estimate:
    """A point estimate with its bootstrap percentile interval.

    mean: the point estimate (mean over runs of the metric on all of each run's windows; for a delta, the mean over
    runs of variant − baseline); low, high: the percentile interval at `level` (e.g. 0.95) of `n_boot` replicates;
    n_runs: runs (or pairs) averaged; n_subjects: test subjects resampled, summed over strata.
    """
    mean: float
    low: float
    high: float
    n_runs: int
    n_subjects: int
    n_boot: int
    level: float

    @property
    def width(self) -> float:
        return self.high - self.low


# Per-subject confusions, computed once per Predictions object: keyed by id(), each entry holds a weak reference
# so that a new object reusing a dead object's id is never served the old result.
_CACHE: dict[int, tuple[weakref.ref, np.ndarray, np.ndarray]] = {}


def _subject_confusion(pred: Predictions, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    key = id(pred)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is pred:
        subjects, conf = hit[1], hit[2]
        if conf.shape[-1] >= n_classes:
            return subjects, conf[:, :n_classes, :n_classes] if conf.shape[-1] > n_classes else conf
    subjects, conf = confusion_by_subject(pred.y_true, pred.y_pred, pred.subject, n_classes)
    subjects.setflags(write=False)
    conf.setflags(write=False)
    try:
        ref = weakref.ref(pred, lambda _, key=key: _CACHE.pop(key, None))
    except TypeError:  # an object without weak reference support: compute, do not cache
        return subjects, conf
    _CACHE[key] = (ref, subjects, conf)
    return subjects, conf


def _n_classes(preds: Iterable[Predictions]) -> int:
    n = 0
    for p in preds:
        n = max(n, p.proba.shape[1] if np.ndim(p.proba) == 2 else 0,
                int(p.y_true.max()) + 1 if len(p.y_true) else 0, int(p.y_pred.max()) + 1 if len(p.y_pred) else 0)
    return n


def _sorted_strata(strata: Iterable[Hashable]) -> list:
    strata = list(dict.fromkeys(strata))
    try:
        return sorted(strata)
    except TypeError:  # mixed types (e.g. None and ints): any fixed order will do
        return sorted(strata, key=lambda s: (type(s).__name__, repr(s)))


def _order_free_mean(values: np.ndarray) -> np.ndarray:
    """Mean over axis 0, bit-identical for any order of the rows (they are sorted before summing)."""
    return np.sort(values, axis=0).sum(axis=0) / values.shape[0]


def _draw_weights(rng: np.random.Generator, n_boot: int, n_subjects: int) -> np.ndarray:
    """(n_boot, S) float64: how often each subject is drawn when drawing S subjects with replacement."""
    idx = rng.integers(0, n_subjects, size=(n_boot, n_subjects))
    idx += np.arange(n_boot)[:, None] * n_subjects
    return np.bincount(idx.ravel(), minlength=n_boot * n_subjects).reshape(n_boot, n_subjects).astype(np.float64)


def _check_args(n_boot: int, level: float) -> None:
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")


def _replicates(groups: dict, metrics: tuple[str, ...], n_boot: int, seed) -> tuple[dict, int, int]:
    """{metric: (point estimate, (n_boot,) replicates of the mean over runs)}, number of runs, number of subjects;
    every metric is computed on the same draws.

    groups: {stratum: list of runs}, a run being [Predictions] (a score) or [variant, baseline] (a paired difference,
    valued metric(variant) − metric(baseline)).
    """
    fns = {name: _metric(name, class_first=True) for name in metrics}
    n_classes = _n_classes(p for runs in groups.values() for run in runs for p in run)
    k = len(next(iter(groups.values()))[0])
    rng = np.random.default_rng(seed)
    fulls, boots, n_subjects, resampled = [], [], 0, False
    for stratum in _sorted_strata(groups):
        confs, subjects = [], None
        for run in groups[stratum]:
            for pred in run:
                subj, conf = _subject_confusion(pred, n_classes)
                if subjects is None:
                    subjects = subj
                elif not np.array_equal(subj, subjects):
                    raise ValueError(f"stratum {stratum!r}: runs test different subjects "
                                     f"({list(subjects)} vs {list(subj)}); runs of one stratum must share them")
                confs.append(conf)
        n_s = len(subjects)
        if n_s == 0:
            raise ValueError(f"stratum {stratum!r}: no test windows to resample")
        n_subjects += n_s
        resampled |= n_s > 1
        # (S, N·N·R_s·k): subject s's window counts per (true, predicted, run, member)
        flat = np.stack(confs, axis=-1).astype(np.float64).reshape(n_s, -1)
        w = _draw_weights(rng, n_boot, n_s)                          # (B, S) draw multiplicities
        fulls.append(flat.sum(axis=0).reshape(n_classes, n_classes, -1))
        # replicate confusions einsum("bs,sijr->ijrb"), class-first so the metric reduces over leading axes
        boots.append((flat.T @ w.T).reshape(n_classes, n_classes, -1, n_boot))
    full_conf = np.concatenate(fulls, axis=2).reshape(n_classes, n_classes, -1, k)
    boot_conf = np.concatenate(boots, axis=2).reshape(n_classes, n_classes, -1, k, n_boot)
    out = {}
    for name, fn in fns.items():
        full, boot = fn(full_conf), fn(boot_conf)                                          # (R, k), (R, k, B)
        full, boot = (full[:, 0] - full[:, 1], boot[:, 0] - boot[:, 1]) if k == 2 else (full[:, 0], boot[:, 0])
        out[name] = (float(_order_free_mean(full)), _order_free_mean(boot))
    return out, full_conf.shape[2], n_subjects, resampled


def _estimate(point: float, reps: np.ndarray, n_runs: int, n_subjects: int, n_boot: int, level: float,
              resampled: bool) -> Estimate:
    """The percentile interval of `reps`; NaN bounds when no stratum had two subjects to resample (one test
    subject per fold: every replicate repeats the point, which is no interval)."""
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(reps, [tail, 100.0 - tail]) if resampled else (np.nan, np.nan)
    return Estimate(mean=point, low=float(low), high=float(high), n_runs=n_runs, n_subjects=n_subjects,
                    n_boot=int(n_boot), level=float(level))


def _group_runs(runs: Sequence[tuple[Hashable, Predictions]]) -> dict:
    groups: dict = {}
    for stratum, pred in runs:
        groups.setdefault(stratum, []).append([pred])
    if not groups:
        raise ValueError("no runs to bootstrap")
    return groups


def _group_pairs(pairs: Sequence[tuple[Hashable, Predictions, Predictions]]) -> dict:
    groups: dict = {}
    for i, (stratum, variant, baseline) in enumerate(pairs):
        for field in ("window", "y_true", "subject"):
            a, b = np.asarray(getattr(variant, field)), np.asarray(getattr(baseline, field))
            if not np.array_equal(a, b):
                what = (f"{len(a)} vs {len(b)} windows" if a.shape != b.shape
                        else f"{int(np.sum(a != b))} of {len(a)} entries differ")
                raise ValueError(f"stratum {stratum!r}, pair {i}: variant and baseline differ in {field} ({what}); "
                                 "a paired difference needs both scored on the same windows")
        groups.setdefault(stratum, []).append([variant, baseline])
    if not groups:
        raise ValueError("no pairs to bootstrap")
    return groups


def score_replicates(runs: Sequence[tuple[Hashable, Predictions]], metric: str = "balanced_accuracy",
                     n_boot: int = 2000, seed=0) -> tuple[float, np.ndarray]:
    """(point estimate, (n_boot,) float64 replicates) of the mean score over runs; see bootstrap_score."""
    _check_args(n_boot, 0.5)
    return _replicates(_group_runs(runs), (metric,), n_boot, seed)[0][metric]


def delta_replicates(pairs: Sequence[tuple[Hashable, Predictions, Predictions]], metric: str = "balanced_accuracy",
                     n_boot: int = 2000, seed=0) -> tuple[float, np.ndarray]:
    """(point estimate, (n_boot,) float64 replicates) of the mean paired difference; see bootstrap_delta."""
    _check_args(n_boot, 0.5)
    return _replicates(_group_pairs(pairs), (metric,), n_boot, seed)[0][metric]


def bootstrap_score(runs: Sequence[tuple[Hashable, Predictions]], metric: str = "balanced_accuracy",
                    n_boot: int = 2000, seed=0, level: float = 0.95) -> Estimate:
    """Mean test score over runs with a subject-clustered, fold-stratified bootstrap percentile interval.

    runs: (stratum, Predictions) per run; stratum is the fold (any hashable; None for a single split). Runs of one
    stratum must test the same subjects (ValueError naming the stratum otherwise).
    metric: "balanced_accuracy" | "macro_f1" | "accuracy".
    mean = mean over runs of the metric on all of the run's windows (= the mean of the runs' metrics.json values).
    Each of the n_boot replicates draws, for each stratum in sorted order with rng = np.random.default_rng(seed),
    that stratum's subjects with replacement, applies the same draw to every run of the stratum, scores each run on
    the drawn subjects' windows and averages over all runs; low/high are the replicates' percentiles at
    (1 ∓ level) / 2. The result does not depend on the order of `runs`.
    """
    return bootstrap_scores(runs, (metric,), n_boot, seed, level)[metric]


def bootstrap_delta(pairs: Sequence[tuple[Hashable, Predictions, Predictions]], metric: str = "balanced_accuracy",
                    n_boot: int = 2000, seed=0, level: float = 0.95) -> Estimate:
    """Paired difference variant − baseline of the mean score over runs, with the bootstrap of bootstrap_score.

    pairs: (stratum, variant, baseline) per run, both scored on the same windows (equal `window`, `y_true` and
    `subject` arrays; ValueError naming the stratum and what differs otherwise). Each replicate scores variant and
    baseline on the SAME subject draw and averages metric(variant) − metric(baseline) over runs, so what both get
    right or wrong on a subject cancels. Identical predictions give mean 0 and low = high = 0 exactly.
    """
    return bootstrap_deltas(pairs, (metric,), n_boot, seed, level)[metric]


def bootstrap_scores(runs: Sequence[tuple[Hashable, Predictions]], metrics: Sequence[str] = ("balanced_accuracy",),
                     n_boot: int = 2000, seed=0, level: float = 0.95) -> dict[str, Estimate]:
    """bootstrap_score of several metrics at once, on the same draws (each Estimate equals bootstrap_score's)."""
    _check_args(n_boot, level)
    results, n_runs, n_subjects, resampled = _replicates(_group_runs(runs), tuple(metrics), n_boot, seed)
    return {name: _estimate(point, reps, n_runs, n_subjects, n_boot, level, resampled)
            for name, (point, reps) in results.items()}


def bootstrap_deltas(pairs: Sequence[tuple[Hashable, Predictions, Predictions]],
                     metrics: Sequence[str] = ("balanced_accuracy",), n_boot: int = 2000, seed=0,
                     level: float = 0.95) -> dict[str, Estimate]:
    """bootstrap_delta of several metrics at once, on the same draws (each Estimate equals bootstrap_delta's)."""
    _check_args(n_boot, level)
    results, n_runs, n_subjects, resampled = _replicates(_group_pairs(pairs), tuple(metrics), n_boot, seed)
    return {name: _estimate(point, reps, n_runs, n_subjects, n_boot, level, resampled)
            for name, (point, reps) in results.items()}


# ------------------------------------------------------------------------------------------- per-subject scores

def subject_scores(runs: Sequence[tuple[Hashable, Predictions]], metric: str = "balanced_accuracy") -> pd.DataFrame:
    """One row per run and test subject: columns stratum, run (index of the run in `runs`), subject, n_windows,
    score (the metric on that subject's windows of that run, a fraction in [0, 1]); for per-subject strip plots."""
    fn = _metric(metric)
    runs = list(runs)
    n_classes = _n_classes(pred for _, pred in runs)
    frames = []
    for i, (stratum, pred) in enumerate(runs):
        subjects, conf = _subject_confusion(pred, n_classes)
        frames.append(pd.DataFrame({"stratum": [stratum] * len(subjects), "run": i, "subject": subjects,
                                    "n_windows": conf.sum(axis=(1, 2)).astype(np.int64),
                                    "score": np.asarray(fn(conf), dtype=np.float64)}))
    if not frames:
        return pd.DataFrame({"stratum": pd.Series(dtype=object), "run": pd.Series(dtype=np.int64),
                             "subject": pd.Series(dtype=str), "n_windows": pd.Series(dtype=np.int64),
                             "score": pd.Series(dtype=np.float64)})
    return pd.concat(frames, ignore_index=True)


def share_above_chance(scores: pd.DataFrame, chance: float) -> float:
    """Share of subjects (in [0, 1]) whose score, averaged over the runs that tested them, is > chance.

    scores: a subject_scores() frame. NaN when it has no rows."""
    if len(scores) == 0:
        return float("nan")
    per_subject = scores.groupby("subject")["score"].mean()
    return float((per_subject > chance).mean())


# ------------------------------------------------------------------------------------------------------ verdicts

def verdict(delta: Estimate, budget: float) -> str:
    """Judge a paired difference (variant − baseline) against an accuracy budget (a tolerated loss ≥ 0, same units).

    "within budget": the whole interval is above −budget (delta.low ≥ −budget, tolerance 1e-12);
    "inconclusive": the point estimate is within the budget but the interval reaches below it;
    "over budget": the point estimate itself lost more than the budget.
    Without an interval (NaN bounds: one test subject per stratum) a difference is never "within budget".
    """
    if delta.low >= -budget - _TOLERANCE:
        return VERDICTS[0]
    if delta.mean >= -budget - _TOLERANCE:
        return VERDICTS[1]
    return VERDICTS[2]


def above_chance(est: Estimate, chance: float) -> bool | None:
    """True when the whole interval lies above chance (est.low > chance); None without an interval."""
    return None if np.isnan(est.low) else bool(est.low > chance)
