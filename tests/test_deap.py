"""The `deap` adapter on files written here as DEAP ships them: Python-2 pickles of numpy arrays (protocol 2,
latin-1 strings), {'data': (trials, 40, samples) µV at 128 Hz, 'labels': (trials, 4)}."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import types
from pathlib import Path

import numpy as np
import pytest

from eegslim.datasets import ADAPTERS
from eegslim.datasets.deap import BASELINE_SAMPLES, CHANNELS, PERIPHERAL, class_ids
from eegslim.io import RecordingError
from eegslim.stages.preprocess import run
from eegslim.store import load_windows
from leakage import clean_subject_split

deap = ADAPTERS["deap"]
GENEVA = ["Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1", "Oz", "Pz",
          "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2", "P4", "P8", "PO4", "O2"]


class Py2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2's cPickle wrote DEAP's files: every str and bytes a BINSTRING (latin-1), numpy's
    `numpy.core.multiarray._reconstruct`; the pure-Python pickler with those two changes."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_string(self, obj):
        data = obj if isinstance(obj, bytes) else obj.encode("latin1")
        short = len(data) < 256
        self.write((pickle.SHORT_BINSTRING + bytes([len(data)])) if short else
                   (pickle.BINSTRING + struct.pack("<i", len(data))))  # fmt: skip
        self.write(data)
        self.memoize(obj)

    def save_global(self, obj, name=None):
        module = {"numpy._core.multiarray": "numpy.core.multiarray"}.get(obj.__module__, obj.__module__)
        self.write(pickle.GLOBAL + f"{module}\n{name or obj.__qualname__}\n".encode("ascii"))
        self.memoize(obj)

    dispatch[bytes] = save_string
    dispatch[str] = save_string
    dispatch[types.FunctionType] = save_global


def write_dat(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    path.write_bytes(buffer.getvalue())
    return path


def subject(n_trials: int = 3, n_samples: int = 8064, seed: int = 0, ratings=None) -> dict:
    """{'labels': (n_trials, 4), 'data': (n_trials, 40, n_samples) float64 µV}: 20 µV noise on a per-channel
    offset, the baseline (first 384 samples) offset by +30 µV more."""
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 20, (n_trials, 40, n_samples)) + np.arange(40)[None, :, None]
    data[:, :, :BASELINE_SAMPLES] += 30.0
    labels = rng.uniform(1, 9, (n_trials, 4)) if ratings is None else np.asarray(ratings, dtype=float)
    return {"labels": labels, "data": data}  # the key order of DEAP's own files


def dataset(root: Path, n_subjects: int = 4, n_trials: int = 3, n_samples: int = BASELINE_SAMPLES + 128 * 12):
    files = {}
    for s in range(1, n_subjects + 1):
        files[s] = subject(n_trials, n_samples, seed=s)
        write_dat(root / "data_preprocessed_python" / f"s{s:02d}.dat", files[s])
    return files


def test_reads_a_python2_pickle_of_the_published_shape(tmp_path):
    content = subject(n_trials=40, n_samples=8064, ratings=np.full((40, 4), 7.0))
    path = write_dat(tmp_path / "data_preprocessed_python" / "s01.dat", content)
    assert b"numpy.core.multiarray\n_reconstruct" in path.read_bytes() and b"U\x04data" in path.read_bytes()
    items, skipped = deap.find(tmp_path, {})
    assert skipped == [] and len(items) == 40
    assert {(i.subject, i.session, i.label, i.fold) for i in items} == {("s01", "1", "valence>=5", None)}
    assert [i.path.relative_to(tmp_path).as_posix() for i in items[:2]] == [
        "data_preprocessed_python/s01.dat#trial-01", "data_preprocessed_python/s01.dat#trial-02"]
    assert items[0].sources == (path,)
    raw = deap.read(items[1], {})
    assert raw.ch_names == list(CHANNELS) == GENEVA and raw.info["sfreq"] == 128.0
    assert raw.n_times == 7680 == 60 * 128  # the 3-s baseline is dropped
    trial = content["data"][1, :32]
    expected = (trial[:, BASELINE_SAMPLES:] - trial[:, :BASELINE_SAMPLES].mean(axis=1, keepdims=True)) * 1e-6
    np.testing.assert_allclose(raw.get_data(), expected)  # µV in the file, volts in the raw


def test_baseline_subtract_drop_keep(tmp_path):
    content = subject(n_trials=2, n_samples=BASELINE_SAMPLES + 640)
    write_dat(tmp_path / "s07.dat", content)  # root may be the data_preprocessed_python folder itself
    item = deap.find(tmp_path, {})[0][0]
    trial = content["data"][0, :32] * 1e-6
    subtracted = deap.read(item, {"baseline": "subtract"}).get_data()
    np.testing.assert_allclose(subtracted.mean(axis=1), trial[:, BASELINE_SAMPLES:].mean(axis=1)
                               - trial[:, :BASELINE_SAMPLES].mean(axis=1))  # fmt: skip
    np.testing.assert_allclose(deap.read(item, {"baseline": "drop"}).get_data(), trial[:, BASELINE_SAMPLES:])
    kept = deap.read(item, {"baseline": "keep"})
    assert kept.n_times == BASELINE_SAMPLES + 640
    np.testing.assert_allclose(kept.get_data(), trial)


def test_labels_binarised_at_the_threshold_and_quadrants(tmp_path):
    #            valence arousal dominance liking
    ratings = [[4.99, 5.00, 1.0, 9.0],
               [5.00, 4.99, 5.0, 5.0],
               [5.01, 9.00, 9.0, 1.0],
               [1.00, 1.00, 4.0, 6.0]]  # fmt: skip
    assert class_ids(np.array(ratings), {}).tolist() == [0, 1, 1, 0]  # 5.0 itself is high (>=, TorchEEG Binary)
    assert class_ids(np.array(ratings), {"target": "arousal"}).tolist() == [1, 0, 1, 0]
    assert class_ids(np.array(ratings), {"target": "liking", "threshold": 6}).tolist() == [1, 0, 0, 1]
    assert class_ids(np.array(ratings), {"classes": 4}).tolist() == [1, 2, 3, 0]  # 2 * high valence + high arousal
    assert deap.class_names({}) == ["valence<5", "valence>=5"]
    assert deap.class_names({"target": "dominance", "threshold": 4.5}) == ["dominance<4.5", "dominance>=4.5"]
    assert deap.class_names({"classes": 4}) == ["valence<5 arousal<5", "valence<5 arousal>=5",
                                                "valence>=5 arousal<5", "valence>=5 arousal>=5"]  # fmt: skip
    write_dat(tmp_path / "s01.dat", subject(n_trials=4, n_samples=BASELINE_SAMPLES + 128, ratings=ratings))
    assert [i.label for i in deap.find(tmp_path, {"classes": 4})[0]] == [
        "valence<5 arousal>=5", "valence>=5 arousal<5", "valence>=5 arousal>=5", "valence<5 arousal<5"]


def test_peripheral_channels_dropped_unless_asked(tmp_path):
    dataset(tmp_path, n_subjects=1, n_trials=1)
    item = deap.find(tmp_path, {})[0][0]
    assert len(deap.read(item, {}).ch_names) == 32
    raw = deap.read(item, {"peripheral": True})
    assert raw.ch_names == [*GENEVA, "hEOG", "vEOG", "zEMG", "tEMG", "GSR", "Respiration belt", "Plethysmograph",
                            "Temperature"]  # fmt: skip
    assert raw.get_channel_types()[32:] == list(PERIPHERAL.values()) == ["eog", "eog", "emg", "emg", "gsr", "resp",
                                                                         "bio", "temperature"]  # fmt: skip
    cfg = {"adapter": "deap", "root": str(tmp_path), "sfreq": 128, "window_s": 4, "options": {"peripheral": True}}
    run("d", cfg, tmp_path / "all.h5", tmp_path / "all.json")  # channels: null keeps the EEG only
    assert load_windows(tmp_path / "all.h5", signals=False).ch_names == GENEVA
    run("d", {**cfg, "channels": ["Cz", "hEOG"]}, tmp_path / "eog.h5", tmp_path / "eog.json")
    assert load_windows(tmp_path / "eog.h5", signals=False).ch_names == ["Cz", "hEOG"]


class Touch:
    """Pickles as a call of os.system: what a malicious .dat would run on load."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


def test_pickle_with_a_non_numpy_global_is_refused_naming_it(tmp_path):
    dataset(tmp_path, n_subjects=3, n_trials=1)
    marker = tmp_path / "pwned"
    evil = write_dat(tmp_path / "data_preprocessed_python" / "s04.dat", {"data": Touch(marker), "labels": None})
    items, skipped = deap.find(tmp_path, {})
    assert len(items) == 3 and [s.path for s in skipped] == [evil]
    assert skipped[0].reason.startswith(f"refused global {os.system.__module__}.system: only numpy array")
    assert not marker.exists()
    cfg = {"adapter": "deap", "root": str(tmp_path), "sfreq": 128, "window_s": 4}
    run("d", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    summary = json.loads((tmp_path / "s.json").read_text())
    assert [s["path"] for s in summary["recordings"]["skipped"]] == ["data_preprocessed_python/s04.dat"]
    with pytest.raises(RecordingError, match=rf"s04\.dat: refused global {os.system.__module__}\.system.*strict"):
        run("d", {**cfg, "strict": True}, tmp_path / "w2.h5", tmp_path / "s2.json")
    assert not marker.exists() and not (tmp_path / "w2.h5").exists()


def test_unreadable_and_misshapen_files_are_skipped_with_the_reason(tmp_path):
    folder = tmp_path / "data_preprocessed_python"
    write_dat(folder / "s01.dat", subject(n_trials=2, n_samples=BASELINE_SAMPLES + 512))
    (folder / "s02.dat").write_bytes(write_dat(folder / "s02.dat", subject(1)).read_bytes()[:5000])
    write_dat(folder / "s03.dat", {"data": np.zeros((2, 32, 8064)), "labels": np.zeros((2, 4))})
    write_dat(folder / "s04.dat", {"data": np.zeros((2, 40, 8064)), "labels": np.zeros((2, 2))})
    write_dat(folder / "s05.dat", {"eeg": np.zeros(3)})
    write_dat(folder / "s06.dat", subject(n_trials=2, n_samples=600, ratings=[[5, 5, 5, 5], [np.nan, 5, 5, 5]]))
    write_dat(folder / "subject7.dat", subject(1))
    write_dat(folder / "s08.dat", {"data": np.zeros((2, 40, 400)), "labels": np.full((2, 4), "5", dtype=object)})
    items, skipped = deap.find(tmp_path, {})
    assert [(i.subject, i.extra["trial"]) for i in items] == [("s01", 0), ("s01", 1), ("s06", 0)]
    reasons = {s.path.name: s.reason for s in skipped}
    assert reasons["s02.dat"].startswith("not a readable pickle")
    assert reasons["s03.dat"] == "'data' is (2, 32, 8064), expected numbers (trials, 40, samples > 384)"
    assert reasons["s04.dat"] == "'labels' is (2, 2), expected numbers (2, 4)"
    assert reasons["s08.dat"] == "'labels' is (2, 4), expected numbers (2, 4)"  # an object array of strings
    assert reasons["s05.dat"] == "not a DEAP subject file (expected a dict with 'data' and 'labels', got ['eeg'])"
    assert reasons["s06.dat#trial-02"] == "ratings [nan, 5.0, 5.0, 5.0] are not finite"
    assert reasons["subject7.dat"] == "name does not follow sNN.dat"


def test_unknown_and_invalid_options_are_refused(tmp_path):
    dataset(tmp_path, n_subjects=1, n_trials=1)
    for options, match in [
        ({"targte": "valence"}, r"unknown key\(s\) \['targte'\] for adapter 'deap'"),
        ({"target": "happiness"}, r"options.target: 'happiness' is not one of"),
        ({"classes": 3}, r"options.classes: 2 .* or 4"),
        ({"classes": 4, "target": "valence"}, r"options.target: not used with classes: 4"),
        ({"threshold": 10}, r"options.threshold: a rating between 1 and 9"),
        ({"baseline": "remove"}, r"options.baseline: 'remove' is not one of \['subtract', 'drop', 'keep'\]"),
        ({"peripheral": "yes"}, r"options.peripheral: true or false"),
    ]:
        with pytest.raises(ValueError, match=match):
            deap.find(tmp_path, options)


def test_trials_stay_whole_through_preprocess_and_a_subject_wise_split(tmp_path):
    """Leakage audit: each trial is one recording of 3 windows; no subject or trial is in two parts."""
    files = dataset(tmp_path, n_subjects=4, n_trials=3)
    cfg = {"adapter": "deap", "root": str(tmp_path), "sfreq": 128, "window_s": 4, "options": {}}
    run("deap", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    w = load_windows(tmp_path / "w.h5")
    assert w.sfreq == 128.0 and w.ch_names == GENEVA and w.class_names == ["valence<5", "valence>=5"]
    assert len(w.y) == 4 * 3 * 3 and len(set(w.recording)) == 12
    first = w.recording == "data_preprocessed_python/s01.dat#trial-01"
    trial = files[1]["data"][0, :32]
    expected = (trial[:, BASELINE_SAMPLES:] - trial[:, :BASELINE_SAMPLES].mean(axis=1, keepdims=True)) * 1e-6 * 1e4
    np.testing.assert_allclose(w.X[first][0], expected[:, :512], rtol=1e-5, atol=1e-6)  # 0.1 mV in windows.h5
    for recording in set(w.recording):
        rows = w.recording == recording
        assert len(set(w.y[rows])) == 1 and len(set(w.subject[rows])) == 1
        assert w.y[rows][0] == int(files[int(recording[26:28])]["labels"][int(recording[-2:]) - 1, 0] >= 5)
    clean_subject_split(w)
