"""Leakage-safe train/val/test splits: whole subjects go to exactly one part.

A split is the JSON object of docs/contracts.md: window indices per part, the subjects of each part and
an audit of subjects, sessions and recordings shared between parts (all empty for the subject protocol).
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np

from .atomic import read_json, write_json

logger = logging.getLogger(__name__)

PARTS = ("train", "val", "test")
N_CANDIDATES = 256   # random subject assignments scored for class coverage


def _part_sizes(n_subjects: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    n_val = max(1, round(val_fraction * n_subjects))
    n_test = max(1, round(test_fraction * n_subjects))
    n_train = n_subjects - n_val - n_test
    if n_train < 1:
        raise ValueError(f"split: val_fraction={val_fraction} and test_fraction={test_fraction} leave no "
                         f"training subject out of {n_subjects}")
    return n_train, n_val, n_test


def _score(assignment: np.ndarray, counts: np.ndarray, targets: np.ndarray) -> tuple[int, float]:
    """(classes present summed over parts, -distance of the window shares from the target shares)."""
    per_part = np.stack([counts[assignment == p].sum(0) for p in range(3)])   # (3, n_classes)
    shares = per_part.sum(1) / per_part.sum()
    return int((per_part > 0).sum()), -float(np.abs(shares - targets).sum())


def _audit(keys: dict[str, np.ndarray], parts: dict[str, np.ndarray]) -> dict[str, dict[str, list[str]]]:
    """For each kind of id (subjects, sessions, recordings): the ids shared by each pair of parts."""
    audit = {}
    for kind, ids in keys.items():
        sets = {part: set(ids[idx].tolist()) for part, idx in parts.items()}
        audit[f"shared_{kind}"] = {f"{a}-{b}": sorted(sets[a] & sets[b]) for a, b in itertools.combinations(PARTS, 2)}
    return audit


def subject_split(subjects: np.ndarray, y: np.ndarray, val_fraction: float, test_fraction: float, seed: int,
                  sessions: np.ndarray | None = None, recordings: np.ndarray | None = None) -> dict:
    """Assign whole subjects to train/val/test; return the split dict of docs/contracts.md.

    The numbers of val and test subjects are round(fraction * n_subjects), at least 1 each. Among
    N_CANDIDATES seeded random assignments the one whose parts contain the most classes (then whose window
    shares are closest to the fractions) wins, so each part has every class where the subjects allow it.
    `sessions` and `recordings` (per window, like `subjects`) feed the audit; they are qualified by subject.
    """
    subjects = np.asarray(subjects).astype(str)
    y = np.asarray(y, dtype=np.int64)
    if subjects.shape != y.shape or subjects.ndim != 1:
        raise ValueError(f"split: subjects {subjects.shape} and y {y.shape} must be equal-length 1-D arrays")
    unique, subject_of = np.unique(subjects, return_inverse=True)
    if len(unique) < 3:
        raise ValueError(f"split: a subject-wise train/val/test split needs at least 3 subjects, got {len(unique)}")
    sizes = _part_sizes(len(unique), val_fraction, test_fraction)
    counts = np.zeros((len(unique), y.max() + 1), dtype=np.int64)
    np.add.at(counts, (subject_of, y), 1)
    targets = np.array([1 - val_fraction - test_fraction, val_fraction, test_fraction])

    rng = np.random.default_rng(seed)
    base = np.repeat(np.arange(3), sizes)
    best, best_score = None, None
    for _ in range(N_CANDIDATES):
        assignment = rng.permutation(base)
        score = _score(assignment, counts, targets)
        if best_score is None or score > best_score:
            best, best_score = assignment, score

    parts = {part: np.flatnonzero(best[subject_of] == p) for p, part in enumerate(PARTS)}
    keys = {"subjects": subjects}
    if sessions is not None:
        keys["sessions"] = np.char.add(np.char.add(subjects, "/"), np.asarray(sessions).astype(str))
    if recordings is not None:
        keys["recordings"] = np.char.add(np.char.add(subjects, "/"), np.asarray(recordings).astype(str))
    split = {
        "protocol": "subject",
        "seed": int(seed),
        **{part: parts[part].tolist() for part in PARTS},
        "subjects": {part: sorted(unique[best == p].tolist()) for p, part in enumerate(PARTS)},
        "audit": _audit(keys, parts),
    }
    check_no_leakage(split)
    for part in PARTS:
        present = np.flatnonzero(np.bincount(y[parts[part]], minlength=counts.shape[1]))
        logger.info("split %s: %d subjects, %d windows, classes %s", part, len(split["subjects"][part]),
                    len(parts[part]), present.tolist())
    return split


def check_no_leakage(split: dict) -> None:
    """Raise ValueError if a subject or a window index belongs to more than one part, or a part is empty."""
    for a, b in itertools.combinations(PARTS, 2):
        shared = sorted(set(split["subjects"][a]) & set(split["subjects"][b]))
        if shared:
            raise ValueError(f"split: subjects {shared} are in both {a} and {b}")
        overlap = set(split[a]) & set(split[b])
        if overlap:
            raise ValueError(f"split: {len(overlap)} windows are in both {a} and {b}")
    empty = [part for part in PARTS if not split[part]]
    if empty:
        raise ValueError(f"split: no windows in {empty}")


def save_split(split: dict, path: str | Path) -> None:
    check_no_leakage(split)
    write_json(path, split)


def load_split(path: str | Path) -> dict:
    """Read a splits.json, checking its keys and that it has no subject overlap."""
    split = read_json(path)
    missing = [key for key in (*PARTS, "subjects", "protocol") if key not in split]
    if missing:
        raise ValueError(f"{path}: not a split file (missing {missing})")
    try:
        check_no_leakage(split)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    return split
