"""Train/val/test splits of windows.h5 rows under five protocols (the config key `split.protocol`).

- `subject` (default): whole subjects go to exactly one part (hold-out by subject).
- `kfold`: subjects in `n_folds` seeded groups balanced by windows and classes; test = group `fold`,
  val = `val_fraction` of the other subjects; one split file per fold (the pipeline trains every fold).
- `official`: the dataset's published split (windows.h5 `fold` column). It may share subjects between
  parts; the split then says so (`leaks_subjects`, `caveat`, `audit`) instead of refusing.
- `subjects`: a published protocol given as subject lists (`split.train`, `split.val`, `split.test`); subjects
  in no list are left out (`excluded_windows`). Like `subject` and `kfold`, it refuses a subject in two parts.
- `segment_kfold`: the emotion pruning study's protocol (TorchEEG `KFold(shuffle=True)` over all windows pooled,
  val by `train_test_split`): windows of one trial and one subject land in train and test. Leaky by design and
  labelled so (`caveat`), to measure how much it inflates a score next to a subject-wise split.

A split is the JSON object of docs/contracts.md: window indices per part, the subjects of each part,
the protocol's name, description and caveat, and an audit of subjects, sessions and recordings shared
between parts, always computed from the data.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np

from .atomic import read_json, write_json
from .catalog import FOLDED_PROTOCOLS, PROTOCOLS, SUBJECT_WISE_PROTOCOLS

logger = logging.getLogger(__name__)

PARTS = ("train", "val", "test")
N_CANDIDATES = 256   # random subject assignments scored for class coverage
N_FOLD_ORDERS = 32   # random subject orders tried by the greedy k-fold grouping


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
    per_part = np.stack([counts[assignment == p].sum(0) for p in range(len(targets))])   # (parts, n_classes)
    shares = per_part.sum(1) / max(per_part.sum(), 1)
    return int((per_part > 0).sum()), -float(np.abs(shares - targets).sum())


def _best_assignment(counts: np.ndarray, sizes, targets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Part id per group (row of `counts`): the best of N_CANDIDATES random assignments with these part sizes."""
    base = np.repeat(np.arange(len(sizes)), sizes)
    best, best_score = None, None
    for _ in range(N_CANDIDATES):
        assignment = rng.permutation(base)
        score = _score(assignment, counts, targets)
        if best_score is None or score > best_score:
            best, best_score = assignment, score
    return best


def _class_counts(groups: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(unique group ids, windows per group and class)."""
    unique, group_of = np.unique(groups, return_inverse=True)
    counts = np.zeros((len(unique), n_classes), dtype=np.int64)
    np.add.at(counts, (group_of, y), 1)
    return unique, counts


def _audit(keys: dict[str, np.ndarray], parts: dict[str, np.ndarray]) -> dict[str, dict[str, list[str]]]:
    """For each kind of id (subjects, sessions, recordings): the ids shared by each pair of parts."""
    audit = {}
    for kind, ids in keys.items():
        sets = {part: set(ids[idx].tolist()) for part, idx in parts.items()}
        audit[f"shared_{kind}"] = {f"{a}-{b}": sorted(sets[a] & sets[b]) for a, b in itertools.combinations(PARTS, 2)}
    return audit


def _audit_keys(subjects: np.ndarray, sessions, recordings) -> dict[str, np.ndarray]:
    """Ids per window for the audit; sessions and recordings are qualified by subject."""
    keys = {"subjects": subjects}
    if sessions is not None:
        keys["sessions"] = np.char.add(np.char.add(subjects, "/"), np.asarray(sessions).astype(str))
    if recordings is not None:
        keys["recordings"] = np.char.add(np.char.add(subjects, "/"), np.asarray(recordings).astype(str))
    return keys


def _check_inputs(subjects, y) -> tuple[np.ndarray, np.ndarray]:
    subjects = np.asarray(subjects).astype(str)
    y = np.asarray(y, dtype=np.int64)
    if subjects.shape != y.shape or subjects.ndim != 1:
        raise ValueError(f"split: subjects {subjects.shape} and y {y.shape} must be equal-length 1-D arrays")
    return subjects, y


def _finish(split: dict, subjects: np.ndarray, y: np.ndarray, parts: dict[str, np.ndarray], keys) -> dict:
    """Add window indices, per-part subjects, audit and `leaks_subjects`; log the part sizes."""
    split.update({part: parts[part].tolist() for part in PARTS})
    split["subjects"] = {part: sorted(set(subjects[parts[part]].tolist())) for part in PARTS}
    split["audit"] = _audit(keys, parts)
    split["leaks_subjects"] = any(split["audit"]["shared_subjects"].values())
    n_classes = int(y.max()) + 1 if len(y) else 0
    for part in PARTS:
        present = np.flatnonzero(np.bincount(y[parts[part]], minlength=n_classes))
        logger.info("split %s: %d subjects, %d windows, classes %s", part, len(split["subjects"][part]),
                    len(parts[part]), present.tolist())
    return split


def subject_split(subjects: np.ndarray, y: np.ndarray, val_fraction: float, test_fraction: float, seed: int,
                  sessions: np.ndarray | None = None, recordings: np.ndarray | None = None) -> dict:
    """Assign whole subjects to train/val/test; return the split dict of docs/contracts.md.

    The numbers of val and test subjects are round(fraction * n_subjects), at least 1 each. Among
    N_CANDIDATES seeded random assignments the one whose parts contain the most classes (then whose window
    shares are closest to the fractions) wins, so each part has every class where the subjects allow it.
    `sessions` and `recordings` (per window, like `subjects`) feed the audit; they are qualified by subject.
    """
    subjects, y = _check_inputs(subjects, y)
    unique, counts = _class_counts(subjects, y, int(y.max()) + 1)
    if len(unique) < 3:
        raise ValueError(f"split: a subject-wise train/val/test split needs at least 3 subjects, got {len(unique)}")
    sizes = _part_sizes(len(unique), val_fraction, test_fraction)
    targets = np.array([1 - val_fraction - test_fraction, val_fraction, test_fraction])
    best = _best_assignment(counts, sizes, targets, np.random.default_rng(seed))
    subject_of = np.searchsorted(unique, subjects)
    parts = {part: np.flatnonzero(best[subject_of] == p) for p, part in enumerate(PARTS)}
    split = {
        "protocol": "subject",
        "protocol_description": (f"subject-wise hold-out: whole subjects in train/val/test ({sizes[0]}/{sizes[1]}/"
                                 f"{sizes[2]} subjects), seed {seed}"),
        "caveat": None,
        "seed": int(seed),
    }
    _finish(split, subjects, y, parts, _audit_keys(subjects, sessions, recordings))
    check_no_leakage(split)
    return split


def _fold_cost(totals: np.ndarray, target: np.ndarray) -> float:
    return float(((totals - target) ** 2).sum())


def _check_n_folds(n_folds) -> None:
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise ValueError(f"split.n_folds: expected an integer of at least 2, got {n_folds!r}")


def subject_folds(subjects: np.ndarray, y: np.ndarray, n_folds: int, seed: int) -> list[list[str]]:
    """`n_folds` disjoint, non-empty groups of subjects covering all of them, balanced by windows per class.

    Each of N_FOLD_ORDERS seeded subject orders is assigned greedily (each subject to the group whose
    per-class window counts then stay closest to total / n_folds; groups that would otherwise stay empty
    take the last subjects); the order with the smallest squared deviation wins. Lists are sorted.
    """
    subjects, y = _check_inputs(subjects, y)
    unique, counts = _class_counts(subjects, y, int(y.max()) + 1)
    _check_n_folds(n_folds)
    if n_folds > len(unique):
        raise ValueError(f"split.n_folds: {n_folds} folds need at least {n_folds} subjects, got {len(unique)}")
    target = counts.sum(0) / n_folds
    rng = np.random.default_rng(seed)
    best, best_cost = None, None
    for _ in range(N_FOLD_ORDERS):
        totals = np.zeros((n_folds, counts.shape[1]))
        members = np.zeros(n_folds, dtype=np.int64)
        group = np.empty(len(unique), dtype=np.int64)
        for placed, s in enumerate(rng.permutation(len(unique))):
            left = len(unique) - placed - 1          # subjects still to place after s
            empty = np.flatnonzero(members == 0)
            choices = empty if len(empty) > left else np.arange(n_folds)
            deltas = (((totals[choices] + counts[s] - target) ** 2) - (totals[choices] - target) ** 2).sum(1)
            g = choices[int(np.argmin(deltas))]
            group[s], members[g] = g, members[g] + 1
            totals[g] += counts[s]
        cost = _fold_cost(totals, target)
        if best_cost is None or cost < best_cost:
            best, best_cost = group, cost
    return [sorted(unique[best == g].tolist()) for g in range(n_folds)]


def kfold_split(subjects: np.ndarray, y: np.ndarray, n_folds: int, fold: int, val_fraction: float, seed: int,
                sessions: np.ndarray | None = None, recordings: np.ndarray | None = None) -> dict:
    """Subject-wise k-fold: test = the subjects of fold `fold` (0-based) of `subject_folds`; val =
    round(val_fraction * n) of the other n subjects (at least 1, chosen for class coverage); train = the rest.

    The split records `n_folds`, `fold` and `folds` (every fold's subjects): every fold of one seed is a
    different part of the same partition.
    """
    subjects, y = _check_inputs(subjects, y)
    _check_n_folds(n_folds)
    if isinstance(fold, bool) or not isinstance(fold, (int, np.integer)) or not 0 <= fold < n_folds:
        raise ValueError(f"split.folds: expected integers in 0..{n_folds - 1} (split.n_folds = {n_folds}), "
                         f"got {fold!r}")
    folds = subject_folds(subjects, y, n_folds, seed)
    rest = np.array(sorted(set(subjects.tolist()) - set(folds[fold])))
    if len(rest) < 2:
        raise ValueError(f"split: fold {fold} leaves {len(rest)} subject(s) for train and val; need at least 2")
    n_val = min(max(1, round(val_fraction * len(rest))), len(rest) - 1)
    in_rest = np.isin(subjects, rest)
    _, counts = _class_counts(subjects[in_rest], y[in_rest], int(y.max()) + 1)
    assignment = _best_assignment(counts, (len(rest) - n_val, n_val), np.array([1 - val_fraction, val_fraction]),
                                  np.random.default_rng([seed, fold]))
    part_of = {str(s): PARTS[a] for s, a in zip(rest, assignment)} | {s: "test" for s in folds[fold]}
    labels = np.array([part_of[s] for s in subjects.tolist()])
    parts = {part: np.flatnonzero(labels == part) for part in PARTS}
    split = {
        "protocol": "kfold",
        "protocol_description": (f"subject-wise {n_folds}-fold cross-validation: test = fold {fold} "
                                 f"({len(folds[fold])} subjects), val = {n_val} of the other {len(rest)} subjects, "
                                 f"seed {seed}"),
        "caveat": None,
        "seed": int(seed),
        "n_folds": int(n_folds),
        "fold": int(fold),
        "folds": folds,
    }
    _finish(split, subjects, y, parts, _audit_keys(subjects, sessions, recordings))
    check_no_leakage(split)
    return split


SEGMENT_CAVEAT = ("leaky by design (segment-level k-fold, the emotion pruning study's protocol): windows of the same "
                  "trial and subject are in train and test, so neighbouring, correlated windows are scored as unseen "
                  "data; compare with a subject-wise split of the same recordings")


def segment_kfold_split(subjects: np.ndarray, y: np.ndarray, n_folds: int, fold: int, val_fraction: float,
                        seed: int, sessions: np.ndarray | None = None,
                        recordings: np.ndarray | None = None) -> dict:
    """Segment-level k-fold, as TorchEEG's `KFold(n_splits, shuffle=True)` that the emotion pruning study used:
    every window pooled and shuffled (seeded) into `n_folds` folds; test = fold `fold`, val = `val_fraction` of
    the other windows (`train_test_split`, seeded), train = the rest. Subjects and trials are shared between
    the parts: the split says so (`caveat`, `leaks_subjects`, `audit`) and is never called subject-wise.
    """
    from sklearn.model_selection import KFold, train_test_split

    subjects, y = _check_inputs(subjects, y)
    _check_n_folds(n_folds)
    if isinstance(fold, bool) or not isinstance(fold, (int, np.integer)) or not 0 <= fold < n_folds:
        raise ValueError(f"split.folds: expected integers in 0..{n_folds - 1} (split.n_folds = {n_folds}), "
                         f"got {fold!r}")
    if n_folds > len(y):
        raise ValueError(f"split.n_folds: {n_folds} folds need at least {n_folds} windows, got {len(y)}")
    rest, test = list(KFold(n_folds, shuffle=True, random_state=seed).split(y))[fold]
    train, val = train_test_split(rest, test_size=val_fraction, random_state=seed)
    parts = {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}
    split = {
        "protocol": "segment_kfold",
        "protocol_description": (f"segment-level {n_folds}-fold cross-validation over all {len(y)} windows pooled: "
                                 f"test = fold {fold}, val = {val_fraction:g} of the other windows, seed {seed}"),
        "caveat": SEGMENT_CAVEAT,
        "seed": int(seed),
        "n_folds": int(n_folds),
        "fold": int(fold),
    }
    _finish(split, subjects, y, parts, _audit_keys(subjects, sessions, recordings))
    check_split(split)
    return split


def _shorten(ids, limit: int = 12) -> str:
    """`ids` as 'a, b, c, ... (n ids)' when there are more than `limit`."""
    ids = list(ids)
    text = ", ".join(map(str, ids[:limit]))
    return f"{text}, ... ({len(ids)} ids)" if len(ids) > limit else text


def subject_list_split(subjects: np.ndarray, y: np.ndarray, train, val, test, seed: int = 0,
                       sessions: np.ndarray | None = None, recordings: np.ndarray | None = None,
                       description: str | None = None) -> dict:
    """A published protocol given by subject lists: the windows of the subjects in `train`, `val` and `test`
    (ids as in windows.h5's `subject`) form those parts.

    A subject in two lists, a listed subject absent from the data, an empty list, or a part without windows is
    refused (the config keys `split.train`, `split.val`, `split.test` are named). Windows of subjects in no
    list are left out and counted (`excluded_windows`, `excluded_subjects`). `description` (e.g. "CBraMod's
    EEGMAT protocol") becomes `protocol_description`. `seed` is recorded only: nothing here is random.
    """
    subjects, y = _check_inputs(subjects, y)
    lists = {"train": train, "val": val, "test": test}
    for part, ids in lists.items():
        if ids is None or isinstance(ids, str) or not len(ids):
            raise ValueError(f"split.{part}: protocol 'subjects' needs a non-empty list of subject ids, got {ids!r}")
    lists = {part: [str(s) for s in ids] for part, ids in lists.items()}
    for part, ids in lists.items():
        if dup := sorted({s for s in ids if ids.count(s) > 1}):
            raise ValueError(f"split.{part}: subjects {dup} are listed more than once")
    for a, b in itertools.combinations(PARTS, 2):
        if shared := sorted(set(lists[a]) & set(lists[b])):
            raise ValueError(f"split: subjects {shared} are listed in both split.{a} and split.{b}")
    known = sorted(set(subjects.tolist()))
    for part, ids in lists.items():
        if missing := sorted(set(ids) - set(known)):
            raise ValueError(f"split.{part}: subjects {missing} are not in the data; its subject ids are "
                             f"{_shorten(known)}")
    part_of = {s: part for part, ids in lists.items() for s in ids}
    labels = np.array([part_of.get(s, "") for s in subjects.tolist()])
    parts = {part: np.flatnonzero(labels == part) for part in PARTS}
    empty = [part for part in ("train", "test") if not len(parts[part])]
    if empty:
        raise ValueError(f"split: protocol 'subjects' leaves no windows in {empty}")
    excluded = sorted(set(subjects[labels == ""].tolist()))
    n_excluded = int((labels == "").sum())
    sizes = "/".join(str(len(lists[part])) for part in PARTS)
    split = {
        "protocol": "subjects",
        "protocol_description": description or f"subject lists of the config: {sizes} subjects in train/val/test",
        "caveat": None,
        "seed": int(seed),
        "excluded_windows": n_excluded,
        "excluded_subjects": excluded,
    }
    if n_excluded:
        logger.info("split: %d windows of %d subjects in no list left out (%s)", n_excluded, len(excluded),
                    _shorten(excluded))
    _finish(split, subjects, y, parts, _audit_keys(subjects, sessions, recordings))
    check_no_leakage(split)
    return split


def _carve_val(train_idx: np.ndarray, subjects, recordings, y, val_fraction: float, seed: int):
    """Split the published train rows into (train, val, how): whole subjects when the train part has at
    least 2 of them, else whole recordings (at least 2 needed); val_fraction of the groups, seeded."""
    subj = subjects[train_idx]
    if len(np.unique(subj)) >= 2:
        by, groups = "subject", subj
    else:
        by, groups = "recording", np.char.add(np.char.add(subj, "/"), recordings[train_idx].astype(str))
    unique, counts = _class_counts(groups, y[train_idx], int(y.max()) + 1)
    if len(unique) < 2:
        raise ValueError("split: the published split has no 'val' part and its 'train' part has a single "
                         "recording of a single subject, so no validation part can be carved from it")
    n_val = min(max(1, round(val_fraction * len(unique))), len(unique) - 1)
    assignment = _best_assignment(counts, (len(unique) - n_val, n_val), np.array([1 - val_fraction, val_fraction]),
                                  np.random.default_rng(seed))
    is_val = assignment[np.searchsorted(unique, groups)] == 1
    how = {"by": by, "groups": int(n_val), "of": int(len(unique)), "val_fraction": val_fraction, "seed": int(seed)}
    return train_idx[~is_val], train_idx[is_val], how


def _caveat(published: str | None, audit: dict) -> str | None:
    """The published caveat, plus a plain statement of the subjects shared between train and test."""
    shared = audit["shared_subjects"]
    notes = [published] if published else []
    if any(shared.values()):
        pairs = ", ".join(f"{pair} {len(ids)}" for pair, ids in shared.items() if ids)
        notes.append(f"not leakage-safe: subjects shared between parts ({pairs}); "
                     f"subjects shared between train and test: {len(shared['train-test'])}")
    return "; ".join(notes) or None


def official_split(folds: np.ndarray, subjects: np.ndarray, y: np.ndarray, val_fraction: float, seed: int,
                   published: dict | None = None, sessions: np.ndarray | None = None,
                   recordings: np.ndarray | None = None) -> dict:
    """The dataset's published split: each window's part is its `fold` ('train' | 'val' | 'test').

    Windows whose fold is '' are left out (counted in `excluded_windows`). Without a published 'val'
    part, val is carved from the published train part by `_carve_val` (recorded in `val_carved`).
    `published`: {"name", "description", "caveat"} from windows.h5's `protocol` attr, or None. Subjects
    shared between parts are reported (`audit`, `leaks_subjects`, `caveat`), not refused.
    """
    subjects, y = _check_inputs(subjects, y)
    folds = np.asarray(folds).astype(str)
    if folds.shape != y.shape:
        raise ValueError(f"split: fold column {folds.shape} and y {y.shape} differ in length")
    unknown = sorted(set(folds.tolist()) - {*PARTS, ""})
    if unknown:
        raise ValueError(f"split: fold column has values {unknown}; expected 'train', 'val', 'test' or ''")
    if not (folds != "").any():
        raise ValueError("split.protocol 'official': this dataset has no published split (its windows' `fold` "
                         "column is empty); use split.protocol 'subject' or 'kfold'")
    missing = [part for part in ("train", "test") if not (folds == part).any()]
    if missing:
        raise ValueError(f"split.protocol 'official': the published split has no {missing} windows")
    recordings = np.asarray(recordings if recordings is not None else subjects).astype(str)
    parts = {part: np.flatnonzero(folds == part) for part in PARTS}
    val_carved = None
    if not len(parts["val"]):
        parts["train"], parts["val"], val_carved = _carve_val(parts["train"], subjects, recordings, y,
                                                              val_fraction, seed)
    published = published or {}
    name = published.get("name")
    description = published.get("description") or "the dataset's published train/val/test split"
    val_text = ("published val part" if val_carved is None else
                f"val = {val_carved['groups']} of the {val_carved['of']} {val_carved['by']}s of the published "
                f"train part (val_fraction {val_fraction}, seed {seed})")
    split = {
        "protocol": "official",
        "published_protocol": name,
        "protocol_description": f"published protocol{f' {name}' if name else ''}: {description}; {val_text}",
        "seed": int(seed),
        "excluded_windows": int((folds == "").sum()),
        "val_carved": val_carved,
    }
    _finish(split, subjects, y, parts, _audit_keys(subjects, sessions, recordings))
    split["caveat"] = _caveat(published.get("caveat"), split["audit"])
    check_split(split)
    if split["leaks_subjects"]:
        logger.warning("split: %s", split["caveat"])
    return split


def check_no_leakage(split: dict) -> None:
    """Raise ValueError if a subject or a window index belongs to more than one part, or a part is empty."""
    for a, b in itertools.combinations(PARTS, 2):
        shared = sorted(set(split["subjects"][a]) & set(split["subjects"][b]))
        if shared:
            raise ValueError(f"split: subjects {shared} are in both {a} and {b}")
    _check_windows(split)


def _check_windows(split: dict) -> None:
    for a, b in itertools.combinations(PARTS, 2):
        overlap = set(split[a]) & set(split[b])
        if overlap:
            raise ValueError(f"split: {len(overlap)} windows are in both {a} and {b}")
    empty = [part for part in PARTS if not split[part]]
    if empty:
        raise ValueError(f"split: no windows in {empty}")


def check_split(split: dict) -> None:
    """Check a split by its protocol: subject, kfold and subjects splits must not share a subject between parts
    (`check_no_leakage`); an official or segment_kfold split may, but then `leaks_subjects` must say so. Windows
    are never in two parts and no part is empty."""
    protocol = split.get("protocol")
    if protocol not in PROTOCOLS:
        raise ValueError(f"split: protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if protocol in SUBJECT_WISE_PROTOCOLS:
        check_no_leakage(split)
        return
    _check_windows(split)
    shares = any(set(split["subjects"][a]) & set(split["subjects"][b]) for a, b in itertools.combinations(PARTS, 2))
    if shares != bool(split.get("leaks_subjects")):
        raise ValueError(f"split: leaks_subjects is {split.get('leaks_subjects')!r} but the parts "
                         f"{'do' if shares else 'do not'} share subjects")


def split_fields(split: dict) -> dict:
    """The metrics.json fields that name a split: `split_protocol`, `split_caveat` and `fold` (k-fold only)."""
    fold = split.get("fold") if split["protocol"] in FOLDED_PROTOCOLS else None
    return {"split_protocol": split["protocol"], "split_caveat": split.get("caveat"), "fold": fold}


def save_split(split: dict, path: str | Path) -> None:
    check_split(split)
    write_json(path, split)


def load_split(path: str | Path) -> dict:
    """Read a splits.json, checking its keys and, by its protocol, that it has no subject overlap."""
    split = read_json(path)
    missing = [key for key in (*PARTS, "subjects", "protocol") if key not in split]
    if missing:
        raise ValueError(f"{path}: not a split file (missing {missing})")
    try:
        check_split(split)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    return split
