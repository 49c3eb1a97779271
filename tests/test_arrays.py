"""The `arrays` adapter on files written here in published shapes: the Bonn epilepsy sets (folders Z, O, N, F, S of
single-column text files, 4097 samples at 173.61 Hz, names in mixed case such as Z001.txt and N001.TXT), a NumPy
`.npz` with `data` (samples × channels) and P300-style `stim` codes, trial stacks in `.npz` and MATLAB `.mat`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from eegslim.datasets import ADAPTERS
from eegslim.io import RecordingError
from eegslim.stages.preprocess import run
from eegslim.store import load_windows
from leakage import clean_subject_split

arrays = ADAPTERS["arrays"]
BONN = {"layout": "samples", "sfreq": 173.61, "unit_scale": 1e-6, "label_from": "path",
        "label_regex": "^(?P<label>[ZONFS])/", "classes": ["Z", "O", "N", "F", "S"]}  # fmt: skip
SUFFIX = {"Z": ".txt", "O": ".txt", "N": ".TXT", "F": ".txt", "S": ".TXT"}  # mixed case, as the sets unpack
STIM = {"layout": "samples channels", "key": "data", "sfreq": 256, "unit_scale": 1e-6,
        "ch_names": ["Fz", "Cz", "Pz", "Oz"], "label_from": "events", "stim_key": "stim",
        "events": {1: "target", 2: "nontarget"}, "epoch_s": 0.5}  # fmt: skip


def bonn(root: Path, per_set: int = 3) -> dict[str, np.ndarray]:
    """Folders Z, O, N, F, S of `per_set` files each: one integer per line (µV), 4097 lines."""
    written = {}
    for k, name in enumerate("ZONFS"):
        for i in range(1, per_set + 1):
            rel = f"{name}/{name}{i:03d}{SUFFIX[name]}"
            x = np.round(np.random.default_rng(10 * k + i).normal(0, 40 * (k + 1), 4097)).astype(int)
            (root / name).mkdir(parents=True, exist_ok=True)
            (root / rel).write_text("".join(f"{v}\n" for v in x))
            written[rel] = x
    return written


def p300(path: Path, n: int = 256 * 10) -> np.ndarray:
    """data (n, 4) µV: channel 0 a ramp (value = sample index / 10), the others noise; stim (n,) codes: 1 or 2
    held for 8 samples at each flash, 3 (not listed in `events`) once; returns the flash samples."""
    flashes = np.array([100, 400, 700, 1000, 1300, 2500])  # the last one's epoch runs past the end
    data = np.random.default_rng(0).normal(0, 20, (n, 4))
    data[:, 0] = np.arange(n) / 10
    stim = np.zeros(n, dtype=np.int16)
    for k, s in enumerate(flashes):
        stim[s : s + 8] = 1 if k % 3 == 0 else 2
    stim[1900:1908] = 3
    np.savez(path, data=data, stim=stim)
    return flashes


def test_bonn_sets_labelled_by_folder_in_mixed_case(tmp_path):
    written = bonn(tmp_path)
    items, skipped = arrays.find(tmp_path, BONN)
    assert skipped == [] and len(items) == 15
    assert {i.path.relative_to(tmp_path).as_posix(): i.label for i in items} == {r: r[0] for r in written}
    assert {(i.subject, i.session) for i in items if i.label == "N"} == {("N001", "1"), ("N002", "1"), ("N003", "1")}
    raw = arrays.read(next(i for i in items if i.path.name == "N001.TXT"), BONN)
    assert raw.info["sfreq"] == 173.61 and raw.n_times == 4097 and raw.ch_names == ["EEG001"]
    np.testing.assert_allclose(raw.get_data()[0], written["N/N001.TXT"] * 1e-6)  # µV in the file, volts read
    raw = arrays.read(items[0], {**BONN, "unit_scale": 1.0, "channel_prefix": "ch"})
    assert raw.ch_names == ["ch001"] and np.abs(raw.get_data()).max() > 1  # unit_scale: volts per stored unit
    assert arrays.find(tmp_path, {**BONN, "pattern": "*/*.txt"})[0][0].path.name == "F001.txt"
    assert len(arrays.find(tmp_path, {**BONN, "pattern": "*/*.txt"})[0]) == 9  # a pattern is case-sensitive


def test_stim_codes_give_one_epoch_per_flash(tmp_path):
    flashes = p300(tmp_path / "s01_run1.npz")
    assert arrays.class_names(STIM) == ["nontarget", "target"]
    items, skipped = arrays.find(tmp_path, STIM)
    assert skipped == [] and len(items) == 1 and items[0].epoch_s == 0.5 and items[0].label is None
    raw = arrays.read(items[0], STIM)
    assert raw.ch_names == ["Fz", "Cz", "Pz", "Oz"]
    onsets = raw.time_as_index(raw.annotations.onset)
    # code 3 is not listed; a code held 8 samples is one event; the last flash's epoch runs past the end
    assert onsets.tolist() == flashes[:5].tolist()
    assert list(raw.annotations.description) == ["target", "nontarget", "nontarget", "target", "nontarget"]
    cfg = {"adapter": "arrays", "root": str(tmp_path), "sfreq": 256, "window_s": 0.5, "options": STIM}
    run("p300", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    w = load_windows(tmp_path / "w.h5")
    assert w.X.shape == (5, 4, 128) and w.ch_names == ["Fz", "Cz", "Pz", "Oz"]
    assert [w.class_names[k] for k in w.y] == ["target", "nontarget", "nontarget", "target", "nontarget"]
    # each window starts at its flash: the ramp's first value (index / 10 µV, stored in 0.1 mV) is the sample
    np.testing.assert_allclose(w.X[:, 0, 0] * 100 * 10, flashes[:5], atol=1e-2)


def test_trial_stacks_with_labels_from_a_key_and_matlab_vectors(tmp_path):
    X = np.random.default_rng(1).normal(0, 20, (4, 3, 200))
    np.savez(tmp_path / "sub-01.npz", X=X, y=np.array([1.0, 0.0, 1.0, 7.0]))
    scipy.io.savemat(tmp_path / "sub-02.mat", {"eeg": X.transpose(0, 2, 1), "labels": np.array([[0, 1, 1, 0]])})
    options = {"layout": "trials channels samples", "key": "X", "sfreq": 100, "unit_scale": 1e-6, "label_from": "key",
               "label_key": "y", "label_map": {"0": "rest", "1": "task"}, "pattern": "*.npz"}  # fmt: skip
    items, skipped = arrays.find(tmp_path, options)
    assert [(i.path.name, i.label) for i in items] == [("sub-01.npz#trial-01", "task"), ("sub-01.npz#trial-02", "rest"),
                                                       ("sub-01.npz#trial-03", "task")]  # fmt: skip
    assert [(s.path.name, s.reason) for s in skipped] == [
        ("sub-01.npz#trial-04", "label '7' not in label_map ['0', '1']")]
    np.testing.assert_allclose(arrays.read(items[2], options).get_data(), X[2] * 1e-6)
    mat = {**options, "layout": "trials samples channels", "key": "eeg", "label_key": "labels", "pattern": "*.mat"}
    items, _ = arrays.find(tmp_path, mat)  # labels saved as a 1 × 4 MATLAB row
    assert [i.label for i in items] == ["rest", "task", "task", "rest"]
    np.testing.assert_allclose(arrays.read(items[1], mat).get_data(), X[1] * 1e-6)


def test_labels_from_a_table_and_csv_columns(tmp_path):
    for name in ("a", "b", "c"):
        np.savetxt(tmp_path / f"{name}.csv", np.random.default_rng(2).normal(0, 5, (300, 2)), delimiter=",")
    (tmp_path / "labels.csv").write_text("file,label\na.csv,ctrl\nb,patient\n")
    options = {"layout": "samples channels", "sfreq": 100, "unit_scale": 1e-6, "ch_names": ["C3", "C4"],
               "label_from": "table", "table": "labels.csv", "classes": ["ctrl", "patient"],
               "pattern": "[abc].csv"}  # fmt: skip
    items, skipped = arrays.find(tmp_path, options)
    assert [(i.path.name, i.label) for i in items] == [("a.csv", "ctrl"), ("b.csv", "patient")]
    assert [(s.path.name, s.reason) for s in skipped] == [("c.csv", "not listed in table labels.csv")]
    assert arrays.read(items[0], options).get_data().shape == (2, 300)


def test_arrays_that_contradict_the_layout_are_reported_naming_the_file(tmp_path):
    bonn(tmp_path, per_set=1)
    np.savetxt(tmp_path / "S" / "S002.txt", np.zeros((4097, 2)))  # two columns for a one-channel layout
    np.save(tmp_path / "Z" / "Z002.npy", np.zeros((2, 3, 4097)))
    np.savez(tmp_path / "O" / "O002.npz", a=np.zeros(4097), b=np.zeros(4097))
    items, skipped = arrays.find(tmp_path, BONN)
    assert len(items) == 5
    assert {s.path.name: s.reason for s in skipped} == {
        "S002.txt": "array of shape (4097, 2) (float64) does not fit layout 'samples' (1 numeric axis)",
        "Z002.npy": "array of shape (2, 3, 4097) (float64) does not fit layout 'samples' (1 numeric axis)",
        "O002.npz": "holds the arrays ['a', 'b']; name one with options.key",
    }  # fmt: skip
    stacked = arrays.find(tmp_path, {**BONN, "layout": "channels samples", "pattern": "Z/*.npy"})[1]
    assert [s.reason for s in stacked] == [
        "array of shape (2, 3, 4097) (float64) does not fit layout 'channels samples' (2 numeric axes)"]
    named = arrays.find(tmp_path, {**BONN, "key": "c", "pattern": "O/*"})[1]
    assert [s.reason for s in named] == ["has no array 'c' (arrays: ['a', 'b'])"]
    few = arrays.find(tmp_path, {**BONN, "ch_names": ["Cz", "Pz"], "pattern": "Z/*.txt"})[1]
    assert [s.reason for s in few] == ["1 channel(s) on the channels axis, options.ch_names lists 2"]
    cfg = {"adapter": "arrays", "root": str(tmp_path), "sfreq": 128, "window_s": 4, "options": BONN, "strict": True}
    with pytest.raises(RecordingError, match=r"O002\.npz: holds the arrays \['a', 'b'\].*strict"):
        run("bonn", cfg, tmp_path / "w.h5", tmp_path / "s.json")


def test_unknown_and_invalid_options_are_refused(tmp_path):
    bonn(tmp_path, per_set=1)
    for options, match in [
        ({"lable_from": "path"}, r"unknown key\(s\) \['lable_from'\] for adapter 'arrays'"),
        ({"layout": "channels time"}, r"options.layout: distinct axis names from \['trials', 'channels', 'samples'\]"),
        ({"layout": "samples samples"}, r"options.layout"),
        ({"sfreq": None}, r"options.sfreq: required, a positive number"),
        ({"unit_scale": 0}, r"options.unit_scale: required, a positive number"),
        ({"label_from": "folder"}, r"options.label_from: 'folder' is not one of \['path', 'table', 'key', 'events'\]"),
        ({"label_from": "key"}, r"options.label_key: required with label_from: key"),
        ({"label_from": "events", "events": {1: "Z"}}, r"options.stim_key: required with label_from: events"),
        ({"label_from": "events", "stim_key": "stim"}, r"options.events: required with label_from: events"),
    ]:
        with pytest.raises(ValueError, match=match):
            arrays.find(tmp_path, {**BONN, **options})
    skipped = arrays.find(tmp_path, {**BONN, "label_from": "key", "label_key": "y"})[1]
    assert skipped[0].reason == "a .txt file holds one array; label_key and stim_key need .npz or .mat files"


def test_bonn_through_preprocess_and_a_split_by_file(tmp_path):
    """Leakage audit: each Bonn segment (one file, the only id the sets give) stays in one part."""
    bonn(tmp_path)
    cfg = {"adapter": "arrays", "root": str(tmp_path), "sfreq": 128, "h_freq": 40.0, "window_s": 4, "options": BONN}
    run("bonn", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    w = load_windows(tmp_path / "w.h5")
    assert w.sfreq == 128 and w.X.shape == (15 * 5, 1, 512) and w.class_names == ["Z", "O", "N", "F", "S"]
    assert json.loads((tmp_path / "s.json").read_text())["windows_per_class"] == dict.fromkeys("ZONFS", 15)
    for recording in set(w.recording):
        assert {w.class_names[k] for k in w.y[w.recording == recording]} == {recording[0]}
    clean_subject_split(w)


# --- real recordings ----------------------------------------------------------------------------


@pytest.mark.shared_data
def test_real_eegmat_stored_as_arrays_gives_the_windows_of_its_edf_files(shared_data, tmp_path):
    """Real EEG (EEGMAT subjects 00 and 01) written as `.npy` arrays (samples × channels, µV, a folder per class)
    preprocesses to the windows the folder adapter makes from the EDF files: same labels, subjects and signals."""
    import mne

    names = [f"Subject{s:02d}_{k}.edf" for s in (0, 1) for k in (1, 2)]
    settings = {"sfreq": 200, "l_freq": 0.5, "h_freq": 45.0, "notch": 50.0, "window_s": 4, "channels": None}
    edf_options = {"label_from": "path", "label_regex": r"_(?P<label>[12])\.edf$",
                   "label_map": {"1": "rest", "2": "arithmetic"}, "classes": ["rest", "arithmetic"],
                   "subject_regex": r"Subject(?P<subject>\d+)", "pattern": names}  # fmt: skip
    run("edf", {"adapter": "folder", "root": str(shared_data / "eegmat"), **settings, "options": edf_options},
        tmp_path / "edf.h5", tmp_path / "edf.json")
    edf = load_windows(tmp_path / "edf.h5")
    for name in names:
        raw = mne.io.read_raw_edf(shared_data / "eegmat" / name, verbose="error")
        raw.pick([f"EEG {ch}" for ch in edf.ch_names])
        folder = tmp_path / "arrays" / ("rest" if name.endswith("_1.edf") else "arithmetic")
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / name.replace(".edf", ".npy"), raw.get_data().T * 1e6)   # (samples, channels) in µV
    array_options = {"layout": "samples channels", "sfreq": 500, "unit_scale": 1e-6, "ch_names": edf.ch_names,
                     "label_from": "path", "label_regex": r"^(?P<label>rest|arithmetic)/",
                     "classes": ["rest", "arithmetic"], "subject_regex": r"Subject(?P<subject>\d+)"}  # fmt: skip
    run("arrays", {"adapter": "arrays", "root": str(tmp_path / "arrays"), **settings, "options": array_options},
        tmp_path / "arrays.h5", tmp_path / "arrays.json")
    arr = load_windows(tmp_path / "arrays.h5")
    assert arr.X.shape == edf.X.shape and arr.X.shape[1:] == (19, 800) and len(arr.X) > 100
    order = np.lexsort((arr.y, arr.subject)), np.lexsort((edf.y, edf.subject))   # recordings may come in any order
    assert (arr.subject[order[0]] == edf.subject[order[1]]).all() and (arr.y[order[0]] == edf.y[order[1]]).all()
    assert arr.class_names == edf.class_names == ["rest", "arithmetic"]
    np.testing.assert_allclose(arr.X[order[0]], edf.X[order[1]], rtol=1e-4, atol=1e-4 * np.abs(edf.X).max())
