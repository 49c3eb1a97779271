"""Subject-wise splits: no subject in two parts, class coverage, determinism, audit, file round trip."""

import json

import numpy as np
import pytest

from eegslim.splits import check_no_leakage, load_split, save_split, subject_split


def _windows(n_subjects, per_subject=20, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    subjects = np.repeat([f"sub-{i:02d}" for i in range(n_subjects)], per_subject)
    y = rng.integers(0, n_classes, len(subjects))
    sessions = np.tile(np.repeat(["1", "2"], per_subject // 2), n_subjects)
    recordings = np.char.add(subjects, np.char.add("_ses-", sessions))
    return subjects, y, sessions, recordings


def test_subject_split_has_no_overlap_and_covers_every_window():
    subjects, y, sessions, recordings = _windows(10)
    split = subject_split(subjects, y, 0.2, 0.2, seed=1, sessions=sessions, recordings=recordings)
    parts = [set(split[p]) for p in ("train", "val", "test")]
    assert sorted(set.union(*parts)) == list(range(len(y))) and sum(map(len, parts)) == len(y)
    assert [len(split["subjects"][p]) for p in ("train", "val", "test")] == [6, 2, 2]
    for part in ("train", "val", "test"):
        assert set(subjects[split[part]]) == set(split["subjects"][part])
    assert set(split["subjects"]["train"]).isdisjoint(split["subjects"]["test"])
    assert split["protocol"] == "subject" and split["seed"] == 1
    assert set(split["audit"]) == {"shared_subjects", "shared_sessions", "shared_recordings"}
    assert all(shared == [] for kind in split["audit"].values() for shared in kind.values())
    json.dumps(split)


def test_subject_split_is_seeded():
    subjects, y, *_ = _windows(12)
    assert subject_split(subjects, y, 0.25, 0.25, 3) == subject_split(subjects, y, 0.25, 0.25, 3)
    tests = {tuple(subject_split(subjects, y, 0.25, 0.25, s)["subjects"]["test"]) for s in range(6)}
    assert len(tests) > 1


def test_subject_split_puts_every_class_in_every_part():
    # one class per subject (patients vs controls): a careless split leaves a part with one class
    subjects = np.repeat([f"s{i}" for i in range(9)], 10)
    y = np.repeat([0, 0, 0, 0, 0, 1, 1, 1, 1], 10)
    for seed in range(5):
        split = subject_split(subjects, y, 0.25, 0.25, seed)
        for part in ("train", "val", "test"):
            assert set(y[split[part]]) == {0, 1}, (seed, part)


def test_subject_split_refuses_too_few_subjects():
    subjects, y, *_ = _windows(2)
    with pytest.raises(ValueError, match="at least 3 subjects, got 2"):
        subject_split(subjects, y, 0.2, 0.2, 0)
    subjects, y, *_ = _windows(3)
    split = subject_split(subjects, y, 0.1, 0.1, 0)
    assert [len(split["subjects"][p]) for p in ("train", "val", "test")] == [1, 1, 1]
    with pytest.raises(ValueError, match="no training subject"):
        subject_split(subjects, y, 0.5, 0.5, 0)


def test_check_no_leakage_and_file_round_trip(tmp_path):
    subjects, y, *_ = _windows(6)
    split = subject_split(subjects, y, 0.2, 0.2, 0)
    save_split(split, tmp_path / "splits.json")
    assert load_split(tmp_path / "splits.json") == split
    leaky = json.loads(json.dumps(split))
    leaky["subjects"]["test"].append(leaky["subjects"]["train"][0])
    with pytest.raises(ValueError, match="in both train and test"):
        check_no_leakage(leaky)
    (tmp_path / "leaky.json").write_text(json.dumps(leaky))
    with pytest.raises(ValueError, match="leaky.json"):
        load_split(tmp_path / "leaky.json")
    with pytest.raises(ValueError, match="in both"):
        save_split(leaky, tmp_path / "never.json")
    assert not (tmp_path / "never.json").exists()
