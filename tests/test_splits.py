"""Splits: subject hold-out (no subject in two parts, class coverage, determinism), subject-wise k-fold,
the published (official) protocol with its audit and caveat, published subject lists (protocol subjects), file
round trip and the split stage."""

import json
import re

import h5py
import numpy as np
import pytest

from eegslim.splits import (check_no_leakage, check_split, kfold_split, load_split, official_split, save_split,
                            segment_kfold_split, split_fields, subject_folds, subject_list_split, subject_split)


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


# --- k-fold --------------------------------------------------------------------------------------------

def test_kfold_folds_are_disjoint_cover_every_subject_and_test_is_the_chosen_fold():
    subjects, y, sessions, recordings = _windows(11, seed=4)
    splits = [kfold_split(subjects, y, 4, k, 0.25, seed=2, sessions=sessions, recordings=recordings)
              for k in range(4)]
    folds = splits[0]["folds"]
    assert all(s["folds"] == folds for s in splits)            # one partition, whatever the fold
    assert sorted(sum(folds, [])) == sorted(set(subjects)) and len(sum(folds, [])) == 11
    assert sorted(len(f) for f in folds) == [2, 3, 3, 3]        # balanced by windows (equal per subject)
    for k, split in enumerate(splits):
        assert split["subjects"]["test"] == folds[k] and (split["protocol"], split["fold"]) == ("kfold", k)
        assert split_fields(split) == {"split_protocol": "kfold", "split_caveat": None, "fold": k}
        assert set(split["subjects"]["val"]).isdisjoint(split["subjects"]["train"] + folds[k])
        assert len(split["subjects"]["val"]) == round(0.25 * (11 - len(folds[k])))
        assert sorted(split["train"] + split["val"] + split["test"]) == list(range(len(y)))
        assert set(subjects[split["test"]]) == set(folds[k])
        assert split["leaks_subjects"] is False and split["caveat"] is None
        assert all(ids == [] for kind in split["audit"].values() for ids in kind.values())
        assert "4-fold" in split["protocol_description"] and f"fold {k}" in split["protocol_description"]
    assert kfold_split(subjects, y, 4, 1, 0.25, seed=2) == kfold_split(subjects, y, 4, 1, 0.25, seed=2)
    assert len({tuple(map(tuple, subject_folds(subjects, y, 4, s))) for s in range(5)}) > 1


def test_kfold_balances_classes_and_leave_one_subject_out():
    # 8 subjects, one class each (4 + 4): every one of 4 folds gets one subject of each class
    subjects = np.repeat([f"s{i}" for i in range(8)], 10)
    y = np.repeat([0, 0, 0, 0, 1, 1, 1, 1], 10)
    for seed in range(3):
        for fold in subject_folds(subjects, y, 4, seed):
            assert sorted(y[np.isin(subjects, fold)][::10]) == [0, 1]
    loso = subject_folds(subjects, y, 8, 0)
    assert sorted(len(f) for f in loso) == [1] * 8


def test_kfold_errors_name_the_config_key():
    subjects, y, *_ = _windows(6)
    with pytest.raises(ValueError, match=r"split.folds: expected integers in 0..4 \(split.n_folds = 5\), got 5"):
        kfold_split(subjects, y, 5, 5, 0.2, 0)
    with pytest.raises(ValueError, match="split.folds"):
        kfold_split(subjects, y, 5, -1, 0.2, 0)
    with pytest.raises(ValueError, match="split.n_folds: expected an integer of at least 2"):
        kfold_split(subjects, y, 1, 0, 0.2, 0)
    with pytest.raises(ValueError, match="split.n_folds: 7 folds need at least 7 subjects, got 6"):
        kfold_split(subjects, y, 7, 0, 0.2, 0)


# --- segment_kfold (leaky by design) -------------------------------------------------------------------------
def test_segment_kfold_pools_windows_into_folds_and_says_it_leaks(tmp_path):
    subjects, y, sessions, recordings = _windows(5, per_subject=40, seed=1)
    splits = [segment_kfold_split(subjects, y, 4, k, 0.2, seed=3, sessions=sessions, recordings=recordings)
              for k in range(4)]
    tests = [set(split["test"]) for split in splits]
    assert set().union(*tests) == set(range(len(y))) and sum(map(len, tests)) == len(y)   # a partition
    assert sorted(map(len, tests)) == [50, 50, 50, 50]
    for k, split in enumerate(splits):
        assert sorted(split["train"] + split["val"] + split["test"]) == list(range(len(y)))
        assert len(split["val"]) == round(0.2 * 150)
        assert split_fields(split) == {"split_protocol": "segment_kfold", "split_caveat": split["caveat"], "fold": k}
        # every subject and every recording is in train and test: the audit and the caveat say so
        assert split["leaks_subjects"] and "leaky" in split["caveat"]
        assert split["audit"]["shared_subjects"]["train-test"] == sorted(set(subjects))
        assert len(split["audit"]["shared_recordings"]["train-test"]) == len(set(recordings)) == 10
        assert "segment-level 4-fold" in split["protocol_description"]
        save_split(split, tmp_path / f"fold{k}.json")
        assert load_split(tmp_path / f"fold{k}.json") == split
    assert segment_kfold_split(subjects, y, 4, 1, 0.2, 3) == segment_kfold_split(subjects, y, 4, 1, 0.2, 3)
    other_seed = segment_kfold_split(subjects, y, 4, 1, 0.2, 4)
    assert segment_kfold_split(subjects, y, 4, 1, 0.2, 3)["test"] != other_seed["test"]
    with pytest.raises(ValueError, match=r"split.folds: expected integers in 0..3"):
        segment_kfold_split(subjects, y, 4, 4, 0.2, 0)
    with pytest.raises(ValueError, match="split.n_folds: 300 folds need at least 300 windows, got 200"):
        segment_kfold_split(subjects, y, 300, 0, 0.2, 0)
    tampered = dict(splits[0], leaks_subjects=False)        # a leaky split cannot claim to be clean
    with pytest.raises(ValueError, match="leaks_subjects is False but the parts do share subjects"):
        check_split(tampered)


# --- official -------------------------------------------------------------------------------------------

def _published(n_subjects=4, val=False):
    """Every subject in every part (block design): 10 windows each of train, [val,] test per subject."""
    per = ["train"] * 10 + (["val"] * 4 if val else []) + ["test"] * 6 + [""] * 2
    subjects = np.repeat([f"s{i}" for i in range(n_subjects)], len(per))
    folds = np.tile(per, n_subjects)
    y = np.tile(np.arange(len(per)) % 3, n_subjects)
    recordings = np.char.add(subjects, "_run-1")
    return folds, subjects, y, recordings


PUBLISHED = {"name": "split 0", "description": "by image, subjects pooled",
             "caveat": "block-confounded (Li et al., IEEE TPAMI 2020)"}


def test_official_uses_the_fold_column_and_reports_the_sharing():
    folds, subjects, y, recordings = _published(val=True)
    split = official_split(folds, subjects, y, 0.2, 0, published=PUBLISHED, recordings=recordings)
    for part in ("train", "val", "test"):
        assert split[part] == np.flatnonzero(folds == part).tolist()
    assert split["excluded_windows"] == 8 and split["val_carved"] is None
    assert split["protocol"] == "official" and split["published_protocol"] == "split 0"
    assert split["leaks_subjects"] is True
    assert split["audit"]["shared_subjects"]["train-test"] == ["s0", "s1", "s2", "s3"]
    assert split["audit"]["shared_recordings"]["train-test"] == [f"s{i}/s{i}_run-1" for i in range(4)]
    assert split["caveat"].startswith("block-confounded (Li et al., IEEE TPAMI 2020); not leakage-safe")
    assert "subjects shared between train and test: 4" in split["caveat"]
    assert "by image, subjects pooled" in split["protocol_description"]
    assert split_fields(split) == {"split_protocol": "official", "split_caveat": split["caveat"], "fold": None}
    with pytest.raises(ValueError, match="are in both train and val"):
        check_no_leakage(split)                                # would be refused as a subject split
    check_split(split)                                         # reported, not enforced


def test_official_without_val_carves_it_from_train_by_subject_then_by_recording():
    folds, subjects, y, recordings = _published(n_subjects=5)
    split = official_split(folds, subjects, y, 0.2, seed=3, recordings=recordings)
    train_rows = set(np.flatnonzero(folds == "train").tolist())
    assert set(split["train"]) | set(split["val"]) == train_rows and not set(split["train"]) & set(split["val"])
    assert split["test"] == np.flatnonzero(folds == "test").tolist()
    assert split["val_carved"] == {"by": "subject", "groups": 1, "of": 5, "val_fraction": 0.2, "seed": 3}
    assert len(split["subjects"]["val"]) == 1 and split["subjects"]["val"][0] not in split["subjects"]["train"]
    assert official_split(folds, subjects, y, 0.2, seed=3, recordings=recordings) == split
    # one subject with three recordings: val = whole recordings
    one = subjects == "s0"
    recs = np.array([f"run-{i % 3}" for i in range(one.sum())])
    split = official_split(folds[one], subjects[one], y[one], 0.34, 0, recordings=recs)
    assert split["val_carved"]["by"] == "recording" and split["val_carved"]["groups"] == 1
    val_recs, train_recs = set(recs[split["val"]]), set(recs[split["train"]])
    assert len(val_recs) == 1 and val_recs.isdisjoint(train_recs)
    assert split["caveat"].startswith("not leakage-safe") and split["published_protocol"] is None


def test_official_errors():
    folds, subjects, y, recordings = _published()
    with pytest.raises(ValueError, match="split.protocol 'official': this dataset has no published split"):
        official_split(np.full(len(y), ""), subjects, y, 0.2, 0)
    with pytest.raises(ValueError, match=r"no \['test'\] windows"):
        official_split(np.where(folds == "test", "train", folds), subjects, y, 0.2, 0)
    with pytest.raises(ValueError, match="'eval'"):
        official_split(np.where(folds == "test", "eval", folds), subjects, y, 0.2, 0)
    one = (subjects == "s0")
    with pytest.raises(ValueError, match="single recording of a single subject"):
        official_split(folds[one], subjects[one], y[one], 0.2, 0, recordings=recordings[one])


def test_official_split_file_round_trip_and_tampering(tmp_path):
    folds, subjects, y, recordings = _published(val=True)
    split = official_split(folds, subjects, y, 0.2, 0, published=PUBLISHED, recordings=recordings)
    save_split(split, tmp_path / "splits.json")
    assert load_split(tmp_path / "splits.json") == split
    hidden = dict(split, leaks_subjects=False)              # a file that hides its sharing is refused
    (tmp_path / "hidden.json").write_text(json.dumps(hidden))
    with pytest.raises(ValueError, match="hidden.json.*leaks_subjects is False but the parts do share"):
        load_split(tmp_path / "hidden.json")
    relabelled = dict(split, protocol="subject")            # and so is one relabelled as a subject split
    (tmp_path / "relabelled.json").write_text(json.dumps(relabelled))
    with pytest.raises(ValueError, match="relabelled.json.*in both"):
        load_split(tmp_path / "relabelled.json")


# --- the stage ------------------------------------------------------------------------------------------

def _windows_h5(path, folds, subjects, y, protocol="unset"):
    from eegslim.store import WindowWriter

    X = np.random.default_rng(0).standard_normal((len(y), 2, 64)).astype(np.float32)
    with WindowWriter(path, ["C3", "C4"], 64.0, ["a", "b", "c"], "demo", {}) as writer:
        for s in np.unique(subjects):
            rows = subjects == s
            writer.append(X[rows], y[rows], subject=s, session="1", recording=f"{s}_run-1", fold=folds[rows])
    if protocol != "unset":
        with h5py.File(path, "a") as h5:
            h5.attrs["protocol"] = json.dumps(protocol)
    return path


def test_stage_protocols_and_errors(tmp_path):
    from eegslim.stages import split as stage

    folds, subjects, y, _ = _published(n_subjects=6, val=True)
    h5 = _windows_h5(tmp_path / "windows.h5", folds, subjects, y, protocol=PUBLISHED)
    split = stage.run(h5, tmp_path / "official.json", 0.2, 0.25, 0, protocol="official")
    assert load_split(tmp_path / "official.json") == split and split["leaks_subjects"]
    assert split["caveat"].startswith(PUBLISHED["caveat"]) and split["excluded_windows"] == 12
    kfold = stage.run(h5, tmp_path / "kfold.json", 0.2, 0.25, 0, protocol="kfold", n_folds=3, fold=2)
    assert kfold["subjects"]["test"] == kfold["folds"][2] and len(kfold["test"]) == 2 * len(y) // 6
    segments = stage.run(h5, tmp_path / "segments.json", 0.2, 0.25, 0, protocol="segment_kfold", n_folds=3, fold=0)
    assert segments["leaks_subjects"] and segments["caveat"].startswith("leaky by design")
    with pytest.raises(ValueError, match="x.json: split.protocol 'segment_kfold' writes one split file per fold"):
        stage.run(h5, tmp_path / "x.json", 0.2, 0.25, 0, protocol="segment_kfold", n_folds=3)
    subject = stage.run(h5, tmp_path / "subject.json", 0.2, 0.25, 0)
    assert subject["protocol"] == "subject" and not subject["leaks_subjects"] and subject["caveat"] is None
    with pytest.raises(ValueError, match=re.escape(str(h5)) + ".*split.fold"):
        stage.run(h5, tmp_path / "x.json", 0.2, 0.25, 0, protocol="kfold", n_folds=3, fold=3)
    with pytest.raises(ValueError, match="x.json: split.protocol 'kfold' writes one split file per fold"):
        stage.run(h5, tmp_path / "x.json", 0.2, 0.25, 0, protocol="kfold", n_folds=3)
    with pytest.raises(ValueError, match="x.json: split.protocol 'subject' has no folds, got fold 1"):
        stage.run(h5, tmp_path / "x.json", 0.2, 0.25, 0, fold=1)
    with pytest.raises(ValueError, match="split.protocol: expected one of subject, kfold, official"):
        stage.run(h5, tmp_path / "x.json", 0.2, 0.25, 0, protocol="loso")
    bare = _windows_h5(tmp_path / "bare.h5", np.full(len(y), ""), subjects, y)
    with pytest.raises(ValueError, match=re.escape(str(bare)) + r".*split\.protocol 'official'.*no published split"):
        stage.run(bare, tmp_path / "x.json", 0.2, 0.25, 0, protocol="official")
    assert not (tmp_path / "x.json").exists()
    null = _windows_h5(tmp_path / "null.h5", folds, subjects, y, protocol=None)  # no published name: still labelled
    split = stage.run(null, tmp_path / "null.json", 0.2, 0.25, 0, protocol="official")
    assert split["published_protocol"] is None and "not leakage-safe" in split["caveat"]


def test_subject_wise_splits_carry_the_datasets_subject_caveat(tmp_path):
    from eegslim.stages import split as stage

    folds, subjects, y, _ = _published(n_subjects=6, val=True)
    published = {**PUBLISHED, "subject_caveat": "block design: class order may be the same for every subject"}
    h5 = _windows_h5(tmp_path / "windows.h5", folds, subjects, y, protocol=published)
    subject = stage.run(h5, tmp_path / "subject.json", 0.2, 0.25, 0)
    kfold = stage.run(h5, tmp_path / "kfold.json", 0.2, 0.25, 0, protocol="kfold", n_folds=3, fold=0)
    official = stage.run(h5, tmp_path / "official.json", 0.2, 0.25, 0, protocol="official")
    assert subject["caveat"] == kfold["caveat"] == published["subject_caveat"]
    assert official["caveat"].startswith(PUBLISHED["caveat"]) and "class order" not in official["caveat"]
    assert load_split(tmp_path / "kfold.json")["caveat"] == published["subject_caveat"]


def test_run_names_carry_the_fold_and_the_seed():
    from eegslim.runs import parse_run, run_name

    assert run_name(3) == "seed3" and run_name(0, fold=4) == "fold4-seed0"
    assert parse_run("seed3") == (None, 3) and parse_run("fold4-seed0") == (4, 0)
    for bad in ("seed", "fold1", "fold1_seed0", "seed1-fold0", "seed01x"):
        with pytest.raises(ValueError, match=re.escape(f"run {bad!r}")):
            parse_run(bad)


def test_official_caveat_reaches_the_train_metrics(tmp_path):
    from eegslim.metrics import METRIC_KEYS
    from eegslim.stages import split as split_stage
    from eegslim.stages import train as train_stage

    folds, subjects, y, _ = _published(n_subjects=3, val=True)
    h5 = _windows_h5(tmp_path / "windows.h5", folds, subjects, y, protocol=PUBLISHED)
    split = split_stage.run(h5, tmp_path / "splits.json", 0.2, 0.25, 0, protocol="official")
    record = train_stage.run("demo", "eegnet", h5, tmp_path / "splits.json", tmp_path / "model",
                             model_cfg={"F1": 2, "D": 1, "F2": 2}, train_cfg={"epochs": 1, "batch_size": 16}, seed=0)
    saved = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert set(METRIC_KEYS) <= set(saved) and saved == record
    assert (saved["split_protocol"], saved["split_caveat"]) == ("official", split["caveat"])
    assert "block-confounded" in saved["split_caveat"] and "not leakage-safe" in saved["split_caveat"]


# --- protocol subjects: a published protocol as subject lists -------------------------------------------

LISTS = {"train": ["sub-00", "sub-01", "sub-02", "sub-03"], "val": ["sub-04"], "test": ["sub-05", "sub-06"]}


def test_subject_lists_are_honoured_and_unlisted_subjects_excluded_and_counted(caplog):
    subjects, y, sessions, recordings = _windows(9)          # sub-07 and sub-08 are in no list
    with caplog.at_level("INFO", logger="eegslim.splits"):
        split = subject_list_split(subjects, y, **LISTS, seed=3, sessions=sessions, recordings=recordings,
                                   description="a paper's protocol")
    for part in ("train", "val", "test"):
        assert split["subjects"][part] == LISTS[part]
        assert split[part] == np.flatnonzero(np.isin(subjects, LISTS[part])).tolist()
    assert (split["protocol"], split["protocol_description"], split["seed"]) == ("subjects", "a paper's protocol", 3)
    assert split["excluded_windows"] == 40 and split["excluded_subjects"] == ["sub-07", "sub-08"]
    assert not split["leaks_subjects"] and not any(split["audit"]["shared_recordings"].values())
    assert "40 windows of 2 subjects in no list left out (sub-07, sub-08)" in caplog.text
    default = subject_list_split(subjects, y, **LISTS)
    assert default["protocol_description"] == "subject lists of the config: 4/1/2 subjects in train/val/test"
    check_split(split)


def test_subject_lists_refuse_overlaps_unknown_subjects_and_empty_parts():
    subjects, y, _, _ = _windows(9)
    with pytest.raises(ValueError, match=re.escape("subjects ['sub-01'] are listed in both split.train and "
                                                   "split.test")):
        subject_list_split(subjects, y, **{**LISTS, "test": ["sub-05", "sub-01"]})
    with pytest.raises(ValueError, match=re.escape("split.val: subjects ['sub-42'] are not in the data; its "
                                                   "subject ids are sub-00, sub-01, ")):
        subject_list_split(subjects, y, **{**LISTS, "val": ["sub-42"]})
    many, y_many, _, _ = _windows(30, per_subject=2)
    with pytest.raises(ValueError, match=r"sub-11, \.\.\. \(30 ids\)$"):     # the known ids, shortened
        subject_list_split(many, y_many, **{**LISTS, "test": ["5"]})
    with pytest.raises(ValueError, match=re.escape("split.test: protocol 'subjects' needs a non-empty list")):
        subject_list_split(subjects, y, **{**LISTS, "test": []})
    with pytest.raises(ValueError, match=re.escape("split.train: subjects ['sub-00'] are listed more than once")):
        subject_list_split(subjects, y, **{**LISTS, "train": ["sub-00", "sub-00"]})


def test_subject_lists_are_leak_checked_on_load(tmp_path):
    subjects, y, _, _ = _windows(9)
    split = subject_list_split(subjects, y, **LISTS)
    save_split(split, tmp_path / "s.json")
    assert load_split(tmp_path / "s.json") == split
    split["subjects"]["test"].append("sub-00")
    (tmp_path / "bad.json").write_text(json.dumps(split))
    with pytest.raises(ValueError, match=r"bad\.json: split: subjects \['sub-00'\] are in both train and test"):
        load_split(tmp_path / "bad.json")


def test_stage_protocol_subjects(tmp_path):
    from eegslim.stages import split as stage

    subjects, y, _, _ = _windows(9)
    h5 = _windows_h5(tmp_path / "windows.h5", np.full(len(y), ""), subjects, y)
    split = stage.run(h5, tmp_path / "s.json", 0.2, 0.25, 0, protocol="subjects", **LISTS, description="d")
    assert load_split(tmp_path / "s.json") == split and split["subjects"]["val"] == ["sub-04"]
    assert split["protocol_description"] == "d" and split["excluded_windows"] == 40
    with pytest.raises(ValueError, match=re.escape(str(h5)) + r".*split\.val: subjects \['x'\] are not in the data"):
        stage.run(h5, tmp_path / "x.json", 0.2, 0.25, 0, protocol="subjects", **{**LISTS, "val": ["x"]})
    with pytest.raises(ValueError, match=re.escape(str(h5)) + r".*split\.train: protocol 'subjects' needs"):
        stage.run(h5, tmp_path / "x.json", 0.2, 0.25, 0, protocol="subjects")
    with pytest.raises(ValueError, match=r"x\.json: split\.train, split\.val, split\.test only for split\.protocol "
                                         r"'subjects' \(protocol is 'subject'\)"):
        stage.run(h5, tmp_path / "x.json", 0.2, 0.25, 0, **LISTS)
    assert not (tmp_path / "x.json").exists()


def test_real_eegmat_ids_and_the_scaled_cbramod_protocol(shared_data, tmp_path):
    """The folder adapter's subject_regex gives EEGMAT's ids as '00'..'23'; configs/eegmat_scaled.yaml's `split`
    block (the scaled CBraMod protocol) names exactly those subjects."""
    import yaml

    from eegslim.datasets.folder import ADAPTER
    from smk import REPO

    cfg = yaml.safe_load((REPO / "configs/eegmat_scaled.yaml").read_text())
    ds = cfg["datasets"]["eegmat"]
    items, _ = ADAPTER.find(shared_data / "eegmat", ds["options"])
    ids = sorted({item.subject for item in items})
    assert ids == [f"{i:02d}" for i in range(24)]
    protocol = cfg["split"]
    assert protocol["protocol"] == "subjects" and "CBraMod" in protocol["description"]
    assert protocol["train"] == ids[:18] and protocol["val"] == ids[18:20] and protocol["test"] == ids[20:]
