"""The `seed` adapter on files written here as SEED ships them: `Preprocessed_EEG/{subject}_{date}.mat` (MATLAB
v5) with 15 arrays `<initials>_eeg1 … _eeg15` (62 × samples at 200 Hz) and `label.mat`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from eegslim.datasets import ADAPTERS
from eegslim.datasets.seed import CHANNELS
from eegslim.io import RecordingError
from eegslim.splits import official_split
from eegslim.stages.preprocess import run
from eegslim.stages.split import published_protocol
from eegslim.store import load_windows
from leakage import clean_subject_split

seed = ADAPTERS["seed"]
LABELS = [1, 0, -1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 0, 1, -1]
ORDER = ["FP1", "FPZ", "FP2", "AF3", "AF4", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8", "FT7", "FC5", "FC3",
         "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "T7", "C5", "C3", "C1", "CZ", "C2", "C4", "C6", "T8", "TP7", "CP5",
         "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6", "TP8", "P7", "P5", "P3", "P1", "PZ", "P2", "P4", "P6", "P8", "PO7",
         "PO5", "PO3", "POZ", "PO4", "PO6", "PO8", "CB1", "O1", "OZ", "O2", "CB2"]  # SEED's channel-order file
STANDARD = ["Fp1", "Fpz", "Fp2", "AF3", "AF4", "F7", "F5", "F3", "F1", "Fz", "F2", "F4", "F6", "F8", "FT7", "FC5",
            "FC3", "FC1", "FCz", "FC2", "FC4", "FC6", "FT8", "T7", "C5", "C3", "C1", "Cz", "C2", "C4", "C6", "T8",
            "TP7", "CP5", "CP3", "CP1", "CPz", "CP2", "CP4", "CP6", "TP8", "P7", "P5", "P3", "P1", "Pz", "P2", "P4",
            "P6", "P8", "PO7", "PO5", "PO3", "POz", "PO4", "PO6", "PO8", "CB1", "O1", "Oz", "O2", "CB2"]  # windows.h5
SESSIONS = {"1_20131027.mat": "djc", "1_20131030.mat": "djc", "2_20140404.mat": "jl", "3_20140603.mat": "jj",
            "10_20131130.mat": "wsf"}


def trials(n_samples: int = 800, seed_: int = 0) -> list[np.ndarray]:
    """15 arrays (62, n_samples + trial) of 20 µV noise, each a few samples longer than the last (as SEED's clips
    differ in length)."""
    rng = np.random.default_rng(seed_)
    return [rng.normal(0, 20, (62, n_samples + t)) for t in range(15)]


def write_session(folder: Path, name: str, initials: str, arrays=None, extra=None) -> Path:
    """One session file; subject 2's is zlib-compressed (MATLAB's default since v7, still the v5 layout)."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = trials(seed_=len(name)) if arrays is None else arrays
    content = {f"{initials}_eeg{t}": x for t, x in enumerate(arrays, 1)}
    scipy.io.savemat(folder / name, {**content, **(extra or {})}, format="5", do_compression=name.startswith("2_"))
    return folder / name


def write_seed(root: Path, sessions=SESSIONS) -> Path:
    """Preprocessed_EEG/ with label.mat (1 × 15 doubles, as MATLAB saves them) and the session files."""
    folder = root / "Preprocessed_EEG"
    folder.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(folder / "label.mat", {"label": np.array([LABELS], dtype=float)}, format="5")
    (folder / "readme.txt").write_text("SEED")
    for name, initials in sessions.items():
        write_session(folder, name, initials)
    return folder


def test_finds_every_trial_with_subject_session_label_and_published_part(tmp_path):
    folder = write_seed(tmp_path)
    items, skipped = seed.find(tmp_path, {})
    assert skipped == [] and len(items) == 5 * 15
    assert [(i.subject, i.session) for i in items[::15]] == [
        ("1", "20131027"), ("1", "20131030"), ("2", "20140404"), ("3", "20140603"), ("10", "20131130")]
    first = items[:15]
    assert [i.label for i in first] == [{1: "positive", 0: "neutral", -1: "negative"}[v] for v in LABELS]
    assert [i.fold for i in first] == ["train"] * 9 + ["test"] * 6
    assert first[0].path.relative_to(tmp_path).as_posix() == "Preprocessed_EEG/1_20131027.mat#trial-01"
    assert [i.extra["key"] for i in first[8:10]] == ["djc_eeg9", "djc_eeg10"]
    assert first[0].sources == (folder / "1_20131027.mat",)
    assert seed.class_names({}) == ["negative", "neutral", "positive"]


def test_reads_one_trial_in_volts_with_the_channel_order(tmp_path):
    write_seed(tmp_path, {"2_20140404.mat": "jl"})
    item = seed.find(tmp_path, {})[0][4]  # jl_eeg5
    raw = seed.read(item, {})
    assert raw.ch_names == list(CHANNELS) == ORDER and raw.info["sfreq"] == 200.0
    np.testing.assert_allclose(raw.get_data(), trials(seed_=len("2_20140404.mat"))[4] * 1e-6)  # µV → V
    np.testing.assert_allclose(seed.read(item, {"unit_scale": 1.0}).get_data(), raw.get_data() * 1e6)


def test_published_protocol_and_subject_wise_split_through_preprocess(tmp_path):
    """Leakage audit: trials are recordings of 2 windows each; the published split shares subjects (and says
    so), trials 1-9 train and 10-15 test; a subject-wise split shares no subject and no trial."""
    write_seed(tmp_path)
    cfg = {"adapter": "seed", "root": str(tmp_path), "sfreq": 200, "window_s": 2, "options": {}}
    run("seed", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    w = load_windows(tmp_path / "w.h5")
    assert w.ch_names == STANDARD and w.sfreq == 200.0 and w.class_names == ["negative", "neutral", "positive"]
    assert len(w.y) == 5 * 15 * 2 and len(set(w.recording)) == 75
    trial = np.array([int(r.rsplit("-", 1)[1]) for r in w.recording])
    assert set(w.fold[trial <= 9]) == {"train"} and set(w.fold[trial >= 10]) == {"test"}
    assert (w.y == np.array(LABELS)[trial - 1] + 1).all()
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["windows_per_fold"] == {"train": 5 * 9 * 2, "test": 5 * 6 * 2}
    assert summary["protocol"]["name"] == "within-subject"

    published = published_protocol(w, tmp_path / "w.h5")
    split = official_split(w.fold, w.subject, w.y, 0.2, 0, published=published, sessions=w.session,
                           recordings=w.recording)  # fmt: skip
    assert split["leaks_subjects"] and "within-subject: trials 1-9 of every session train" in split["caveat"]
    assert "not leakage-safe" in split["caveat"]
    assert set(trial[split["test"]]) == set(range(10, 16)) and set(trial[split["train"] + split["val"]]) <= set(
        range(1, 10))
    assert not any(split["audit"]["shared_recordings"].values())  # a trial is never on both sides

    clean_subject_split(w)


def test_a_mat_without_the_trial_arrays_is_skipped_or_fatal_under_strict(tmp_path):
    folder = write_seed(tmp_path, {"1_20131027.mat": "djc", "2_20140404.mat": "jl", "3_20140603.mat": "jj"})
    scipy.io.savemat(folder / "4_20140621.mat", {"eeg": np.zeros((62, 10))}, format="5")
    write_session(folder, "5_20140411.mat", "ly", trials()[:14])
    write_session(folder, "6_20130712.mat", "mhw", [x.T if t == 2 else x for t, x in enumerate(trials())])
    write_session(folder, "7_20131027.mat", "sxy", extra={"xx_eeg3": np.zeros((62, 5))})
    (folder / "8_20140511.mat").write_bytes(b"MATLAB 5.0 MAT-file, garbage")
    (folder / "subject9.mat").write_bytes((folder / "1_20131027.mat").read_bytes())
    items, skipped = seed.find(tmp_path, {})
    assert len(items) == 3 * 15
    reasons = {s.path.name: s.reason for s in skipped}
    assert reasons["4_20140621.mat"] == ("no arrays <initials>_eeg{n} for trials [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, "
                                         "12, 13, 14, 15] (variables: ['eeg'])")  # fmt: skip
    assert reasons["5_20140411.mat"].startswith("no arrays <initials>_eeg{n} for trials [15] (variables: ['ly_eeg1'")
    assert reasons["6_20130712.mat"] == "mhw_eeg3 is (802, 62), expected (62 channels, samples)"
    assert reasons["7_20131027.mat"] in ("two arrays for trial 3: sxy_eeg3, xx_eeg3",
                                         "two arrays for trial 3: xx_eeg3, sxy_eeg3")
    assert reasons["8_20140511.mat"].startswith("not a readable MATLAB v5 file")
    assert reasons["subject9.mat"] == "name does not follow {subject}_{YYYYMMDD}.mat"
    cfg = {"adapter": "seed", "root": str(tmp_path), "sfreq": 200, "window_s": 4}
    run("seed", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    summary = json.loads((tmp_path / "s.json").read_text())
    assert len(summary["recordings"]["read"]) == 45 and len(summary["recordings"]["skipped"]) == 6
    only_bad = tmp_path / "bad"
    write_seed(only_bad, {})
    scipy.io.savemat(only_bad / "Preprocessed_EEG" / "4_20140621.mat", {"eeg": np.zeros((62, 10))}, format="5")
    with pytest.raises(RecordingError, match=r"4_20140621\.mat: no arrays <initials>_eeg\{n\} for trials \[1, 2,"):
        run("seed", {**cfg, "root": str(only_bad), "strict": True}, tmp_path / "w2.h5", tmp_path / "s2.json")
    assert not (tmp_path / "w2.h5").exists()


def test_label_mat_missing_or_malformed_names_the_file(tmp_path):
    folder = write_seed(tmp_path, {"1_20131027.mat": "djc"})
    (folder / "label.mat").unlink()
    with pytest.raises(ValueError, match=r"label\.mat: no such file"):
        seed.find(tmp_path, {})
    scipy.io.savemat(folder / "label.mat", {"labels": np.array([LABELS])}, format="5")
    with pytest.raises(ValueError, match=r"label\.mat: expected `label` with 15 values in \[-1, 0, 1\], got no"):
        seed.find(tmp_path, {})
    scipy.io.savemat(folder / "label.mat", {"label": np.array([LABELS[:14] + [2]])}, format="5")
    with pytest.raises(ValueError, match=r"label\.mat: expected `label` with 15 values"):
        seed.find(tmp_path, {})


def test_unknown_and_invalid_options_are_refused(tmp_path):
    write_seed(tmp_path, {"1_20131027.mat": "djc"})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['unit'\] for adapter 'seed'"):
        seed.find(tmp_path, {"unit": 1e-6})
    with pytest.raises(ValueError, match=r"options.unit_scale: volts per stored unit, a positive number"):
        seed.find(tmp_path, {"unit_scale": 0})
