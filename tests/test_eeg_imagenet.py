"""EEG-ImageNet 2024 and Spampinato (eeg_imagenet_2020) adapters, in the published .pth structures, end to end."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from eegslim.datasets import ADAPTERS
from eegslim.datasets.eeg_imagenet_2024 import CHANNELS, official_folds
from eegslim.io.pth import UnsafePickleError
from eegslim.stages.preprocess import run
from eegslim.store import load_windows

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
WNIDS = [f"n{i:08d}" for i in range(80)]  # fine groups at indices 0–39, coarse at 40–79 (the spec's inference)
RNG = np.random.default_rng(0)


def _eeg(shape, std=20e-6):
    return torch.from_numpy(RNG.normal(0, std, shape).astype(np.float32))


def write_imagenet_part(path, subjects, per_class=5, bad=0, std=20e-6):
    """One part: each subject sees fine classes 0–15 and coarse classes 40–47 in blocks of `per_class`."""
    dataset = []
    for s in subjects:
        for c in [*range(16), *range(40, 48)]:
            for k in range(per_class):
                shape = (62, 300) if (bad and k == 0 and c == 0) else (62, 501)
                eeg = _eeg(shape, std)
                eeg[:, 40] = k  # sample 40 = the crop's first sample: shows order and crop start
                dataset.append({"eeg_data": eeg, "label": WNIDS[c], "granularity": "fine" if c < 40 else "coarse",
                                "subject": s, "image": f"{WNIDS[c]}_{k}.JPEG"})  # fmt: skip
    torch.save({"dataset": dataset, "labels": WNIDS, "images": [d["image"] for d in dataset]}, path)


def imagenet_cfg(root, **options):
    return {"adapter": "eeg_imagenet_2024", "root": str(root), "channels": None, "sfreq": None, "l_freq": None,
            "h_freq": None, "notch": None, "window_s": 0.4, "options": options}  # fmt: skip


def test_official_folds_30_20_of_50_and_60_percent_of_small_blocks():
    y = np.repeat([3, 1], 50)
    fold = official_folds(y)
    assert (fold[:30] == "train").all() and (fold[30:50] == "test").all() and (fold[50:80] == "train").all()
    assert official_folds(np.repeat([0, 1], 10)).tolist() == (["train"] * 6 + ["test"] * 4) * 2
    assert official_folds(np.array([0] * 100)).tolist() == (["train"] * 30 + ["test"] * 20) * 2


@pytest.mark.parametrize(("granularity", "n_classes", "n_per_subject"), [("all", 80, 24 * 5), ("coarse", 8, 8 * 5),
                                                                          ("fine0", 8, 8 * 5)])  # fmt: skip
def test_imagenet_parts_end_to_end(tmp_path, granularity, n_classes, n_per_subject):
    root = tmp_path / "raw"
    root.mkdir()
    write_imagenet_part(root / "EEG-ImageNet_1.pth", [0, 1])
    write_imagenet_part(root / "EEG-ImageNet_2.pth", [8], bad=1)
    out = tmp_path / "out"
    run("imnet", imagenet_cfg(root, granularity=granularity), out / "windows.h5", out / "summary.json")
    w = load_windows(out / "windows.h5")
    bad = 1 if granularity != "coarse" else 0  # the short entry is fine class 0 of subject 8
    assert w.X.shape == (3 * n_per_subject - bad, 62, 400) and w.sfreq == 1000.0
    assert w.ch_names[:3] == ["Fp1", "Fpz", "Fp2"] and w.ch_names[-1] == "CB2" and len(w.ch_names) == len(CHANNELS)
    assert len(w.class_names) == n_classes
    expected_names = {"all": WNIDS, "coarse": WNIDS[40:48], "fine0": WNIDS[:8]}[granularity]
    assert w.class_names == expected_names
    assert w.subject.tolist() == ["sub-00"] * n_per_subject + ["sub-01"] * n_per_subject + ["sub-08"] * (
        n_per_subject - bad)  # fmt: skip
    assert w.recording[0] == "EEG-ImageNet_1.pth#sub-00" and w.recording[-1] == "EEG-ImageNet_2.pth#sub-08"
    assert np.allclose(w.X[:5, 0, 0], np.arange(5) * 1e4)  # crop starts at sample 40; stored order; unit_scale 1
    assert (w.y[:5] == 0).all()
    assert w.fold[:5].tolist() == ["train"] * 3 + ["test"] * 2  # 60 % of a 5-trial block
    assert w.attrs["protocol"]["name"] == "official" and "temporal confound" in w.attrs["protocol"]["caveat"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["protocol"] == w.attrs["protocol"]
    assert summary["windows_per_subject"] == {"sub-00": n_per_subject, "sub-01": n_per_subject,
                                              "sub-08": n_per_subject - bad}  # fmt: skip
    assert summary["windows_dropped"]["bad_shape"] == bad
    assert set(summary["windows_per_fold"]) == {"train", "test"}
    assert summary["window_shape"] == [62, 400]
    assert set(w.attrs["source_hashes"]) == {"EEG-ImageNet_1.pth", "EEG-ImageNet_2.pth"}


def test_same_people_merges_the_two_stages_of_a_person(tmp_path):
    root = tmp_path / "raw"
    root.mkdir()
    write_imagenet_part(root / "EEG-ImageNet_1.pth", [0, 1])
    write_imagenet_part(root / "EEG-ImageNet_2.pth", [8])
    run("imnet", imagenet_cfg(root, same_people=True), tmp_path / "w.h5", tmp_path / "s.json")
    w = load_windows(tmp_path / "w.h5")
    n = 24 * 5
    assert w.subject.tolist() == ["sub-00"] * n + ["sub-01"] * n + ["sub-00"] * n       # subject 8 is person 0
    assert w.session.tolist() == ["stage1"] * 2 * n + ["stage2"] * n
    assert w.recording[-1] == "EEG-ImageNet_2.pth#sub-08"                               # recordings stay apart
    with pytest.raises(ValueError, match="same_peopel"):
        run("imnet", imagenet_cfg(root, same_peopel=True), tmp_path / "w2.h5", tmp_path / "s2.json")


def test_imagenet_50_trial_blocks_and_unit_scale(tmp_path):
    write_imagenet_part(tmp_path / "EEG-ImageNet.pth", [3], per_class=50, std=20.0)  # stored in µV
    run("imnet", imagenet_cfg(tmp_path, granularity="fine1", unit_scale=1e-6, crop_ms=[40, 440]),
        tmp_path / "w.h5", tmp_path / "s.json")  # fmt: skip
    w = load_windows(tmp_path / "w.h5")
    assert w.X.shape == (400, 62, 400) and w.class_names == WNIDS[8:16] and set(w.subject) == {"sub-03"}
    assert (np.bincount(w.y) == 50).all()
    for c in range(8):
        assert w.fold[w.y == c].tolist() == ["train"] * 30 + ["test"] * 20
    assert np.allclose(w.X[:50, 0, 0], np.arange(50) * 1e-6 * 1e4)  # stored units × 1e-6 V, in 0.1 mV
    with pytest.raises(ValueError, match=r"window_s: 0.5 s, but the trials of EEG-ImageNet.pth#sub-03 are 400 "
                                         r"samples at 1000 Hz = 0.4 s"):  # fmt: skip
        run("imnet", {**imagenet_cfg(tmp_path), "window_s": 0.5}, tmp_path / "w2.h5", tmp_path / "s2.json")
    with pytest.raises(ValueError, match=r"options.granularity: 'fine9'"):
        run("imnet", imagenet_cfg(tmp_path, granularity="fine9"), tmp_path / "w2.h5", tmp_path / "s2.json")
    assert not (tmp_path / "w2.h5").exists()


class Touch:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


def test_imagenet_disallowed_global_refused_and_nothing_written(tmp_path):
    root = tmp_path / "raw"
    root.mkdir()
    write_imagenet_part(root / "EEG-ImageNet_1.pth", [0])
    torch.save({"dataset": [{"eeg_data": Touch(tmp_path / "pwned")}], "labels": WNIDS}, root / "EEG-ImageNet_2.pth")
    with pytest.raises(UnsafePickleError, match=rf"EEG-ImageNet_2\.pth: .*'{os.system.__module__}\.system'"):
        run("imnet", imagenet_cfg(root), tmp_path / "out" / "w.h5", tmp_path / "out" / "s.json")
    assert not (tmp_path / "pwned").exists()
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def write_spampinato(root, lengths_by_subject):
    """EEG file + split file; segment i of subject s has length from the list and label i % 4."""
    dataset = []
    for s, lengths in lengths_by_subject.items():
        for i, n in enumerate(lengths):
            eeg = _eeg((128, n))
            eeg[:, 20] = len(dataset)  # sample 20 = crop start: the dataset index
            dataset.append({"eeg": eeg, "image": len(dataset), "label": i % 4, "subject": s})
    labels = [f"n{i:08d}" for i in range(40)]
    torch.save({"dataset": dataset, "labels": labels, "images": [f"{labels[0]}_{i}" for i in range(len(dataset))]},
               root / "eeg_5_95_std.pth")  # fmt: skip
    n = len(dataset)
    splits = [{"train": list(range(0, n - 4)), "val": [n - 4, n - 3], "test": [n - 2]},
              {"train": [0], "val": [1], "test": [2]}]  # fmt: skip
    torch.save({"splits": splits}, root / "block_splits_by_image_all.pth", _use_new_zipfile_serialization=False)
    return dataset


def test_spampinato_end_to_end(tmp_path):
    root = tmp_path / "raw"
    root.mkdir()
    lengths = {1: [500, 449, 460, 600, 601, 512], 2: [480, 500, 520, 440, 590, 500]}
    write_spampinato(root, lengths)
    cfg = {"adapter": "eeg_imagenet_2020", "root": str(root), "channels": None, "sfreq": None, "l_freq": None,
           "h_freq": None, "notch": None, "window_s": 0.44, "options": {}}  # fmt: skip
    run("spamp", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    w = load_windows(tmp_path / "w.h5")
    kept = [0, 2, 3, 5, 6, 7, 8, 10, 11]  # 449, 601 (subject 1) and 440 (subject 2) are outside 450–600
    assert w.X.shape == (len(kept), 128, 440) and w.ch_names[0] == "EEG001" and len(w.class_names) == 40
    assert np.allclose(w.X[:, 0, 0] / 1e4, kept)  # crop starts at sample 20
    assert w.y.tolist() == [k % 6 % 4 for k in kept]
    assert w.subject.tolist() == ["sub-01"] * 4 + ["sub-02"] * 5
    assert w.fold.tolist() == ["train"] * 6 + ["val", "test", ""]  # split 0: 0–7 train, 8–9 val, 10 test, 11 none
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["windows_per_fold"] == {"": 1, "test": 1, "train": 6, "val": 1}
    assert summary["windows_dropped"]["length_out_of_range"] == 3
    for protocol in (w.attrs["protocol"], summary["protocol"]):
        assert protocol["split"] == "official split 0" and "Li et al., IEEE TPAMI 2020" in protocol["caveat"]
    run("spamp", {**cfg, "options": {"split_index": 1}}, tmp_path / "w1.h5", tmp_path / "s1.json")
    assert load_windows(tmp_path / "w1.h5").fold.tolist() == ["train", "test"] + [""] * 7  # 1 (val) was dropped
    with pytest.raises(ValueError, match=r"options.split_index: 2, but .*block_splits_by_image_all\.pth holds 2"):
        run("spamp", {**cfg, "options": {"split_index": 2}}, tmp_path / "w2.h5", tmp_path / "s2.json")
    assert not (tmp_path / "w2.h5").exists()
    assert ADAPTERS["eeg_imagenet_2020"].read_trials is not None
    run("spamp", {**cfg, "options": {"unit_scale": 10.0}}, tmp_path / "w3.h5", tmp_path / "s3.json")
    assert np.allclose(load_windows(tmp_path / "w3.h5").X, 10 * w.X, rtol=1e-5)
