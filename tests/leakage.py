"""The leakage check the adapter tests share: a subject-wise split of a dataset's windows that shares nothing."""

from __future__ import annotations

import numpy as np

from eegslim.splits import subject_split


def clean_subject_split(w) -> dict:
    """The subject-wise split (seed 0) of windows `w` (`eegslim.store.load_windows`), after asserting that no
    subject and no recording (trial) is in two of train/val/test and that the split's own audit is empty."""
    split = subject_split(w.subject, w.y, 0.2, 0.25, seed=0, sessions=w.session, recordings=w.recording)
    parts = {part: np.asarray(split[part]) for part in ("train", "val", "test")}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not set(w.subject[parts[a]]) & set(w.subject[parts[b]])
        assert not set(w.recording[parts[a]]) & set(w.recording[parts[b]])
    assert not any(ids for kind in split["audit"].values() for ids in kind.values())
    return split
