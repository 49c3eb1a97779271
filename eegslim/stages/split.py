"""Rules `split` and `split_fold`: windows.h5 -> a split file under `split.protocol`
(subject | kfold | official | subjects | segment_kfold).

subject, official and subjects: one splits.json; kfold and segment_kfold: one split file per fold (rule
`split_fold`). subject, kfold and subjects splits refuse subject overlap and carry the dataset's caveat for
subject-wise splits, if its adapter has one; official and segment_kfold splits report overlap (`leaks_subjects`,
`caveat`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from eegslim.catalog import FOLDED_PROTOCOLS, PROTOCOLS
from eegslim.splits import (kfold_split, official_split, save_split, segment_kfold_split, subject_list_split,
                            subject_split)
from eegslim.store import load_windows

logger = logging.getLogger(__name__)


def published_protocol(windows, windows_h5) -> dict | None:
    """windows.h5's `protocol` attr ({"name", "description", "caveat"} as JSON or decoded), or None."""
    value = windows.attrs.get("protocol")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(f"{windows_h5}: attr 'protocol' is not valid JSON ({err})") from None
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"{windows_h5}: attr 'protocol' must be a JSON object or null, got {value!r}")
    return value


def make_split(windows, windows_h5, val_fraction: float, test_fraction: float, seed: int, protocol: str,
               n_folds: int, fold: int | None, lists: dict | None = None, description: str | None = None) -> dict:
    """The split of loaded `windows` under `protocol` (`fold`: the k-fold test fold; `lists`: the subject lists
    {"train", "val", "test"} of protocol subjects, with its `description`); errors name `windows_h5`."""
    meta = dict(sessions=windows.session, recordings=windows.recording)
    published = published_protocol(windows, windows_h5)
    try:
        if protocol == "official":
            return official_split(windows.fold, windows.subject, windows.y, val_fraction, seed,
                                  published=published, **meta)
        if protocol == "subjects":
            split = subject_list_split(windows.subject, windows.y, **(lists or {}), seed=seed,
                                       description=description, **meta)
        elif protocol == "subject":
            split = subject_split(windows.subject, windows.y, val_fraction, test_fraction, seed, **meta)
        elif protocol == "segment_kfold":
            return segment_kfold_split(windows.subject, windows.y, n_folds, fold, val_fraction, seed, **meta)
        else:
            split = kfold_split(windows.subject, windows.y, n_folds, fold, val_fraction, seed, **meta)
    except ValueError as err:
        raise ValueError(f"{windows_h5}: {err}") from None
    split["caveat"] = (published or {}).get("subject_caveat")
    return split


def run(windows_h5: str | Path, out_json: str | Path, val_fraction: float, test_fraction: float, seed: int,
        protocol: str = "subject", n_folds: int = 5, fold: int | None = None, train: list | None = None,
        val: list | None = None, test: list | None = None, description: str | None = None) -> dict:
    """Split the windows of `windows_h5` under `protocol` and write the split to `out_json`; return it.

    subject: whole subjects, test_fraction / val_fraction of them. kfold: test = fold `fold` of `n_folds`
    seeded subject groups, val = val_fraction of the other subjects (test_fraction unused). segment_kfold: the
    same with windows pooled instead of subjects (leaky, labelled so). official: the
    windows' published `fold` column; val carved from its train part when none is published (test_fraction
    and n_folds unused). subjects: the windows of the subject ids listed in `train`, `val` and `test` (the
    config's split.train/val/test), the others left out; `description` names the protocol (fractions and
    n_folds unused). `fold` is given for kfold and segment_kfold only.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"split.protocol: expected one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    lists = {"train": train, "val": val, "test": test}
    given = [f"split.{part}" for part, ids in lists.items() if ids is not None]
    if protocol != "subjects" and (given or description is not None):
        raise ValueError(f"{out_json}: {', '.join(given) or 'split.description'} only for split.protocol "
                         f"'subjects' (protocol is {protocol!r})")
    if (protocol in FOLDED_PROTOCOLS) != (fold is not None):
        raise ValueError(f"{out_json}: split.protocol {protocol!r} " + (
            "writes one split file per fold (results/<dataset>/splits/fold<k>.json), so it needs a fold"
            if fold is None else f"has no folds, got fold {fold!r}"))
    windows = load_windows(windows_h5, signals=False)
    split = make_split(windows, windows_h5, val_fraction, test_fraction, seed, protocol, n_folds, fold,
                       lists, description)
    save_split(split, out_json)
    logger.info("split (%s) written to %s: %s", protocol, out_json,
                {part: len(split[part]) for part in ("train", "val", "test")})
    if split["caveat"]:
        logger.warning("%s: %s", out_json, split["caveat"])
    return split
