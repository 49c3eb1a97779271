"""The `folder` adapter: labels from paths, a table or annotations; bad inputs; real EEGMAT / EEGMMIDB."""

from __future__ import annotations

import json
from pathlib import Path

import mne
import numpy as np
import pytest

from eegslim.datasets import ADAPTERS
from eegslim.io import RecordingError
from eegslim.stages.preprocess import run
from eegslim.store import load_windows

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
folder = ADAPTERS["folder"]
EEGMAT = {
    "label_from": "path", "label_regex": r"_(?P<label>[12])\.edf$", "label_map": {"1": "rest", "2": "arithmetic"},
    "subject_regex": r"Subject(?P<subject>\d+)",
}  # fmt: skip


def write_edf(path: Path, seconds: float = 10.0, annotations=(), names=("EEG Fp1", "EEG Cz", "ECG ECG")) -> Path:
    """An EDF(+) of ~20 µV noise at 100 Hz with optional (onset, duration, description) annotations."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(len(str(path))).normal(0, 20e-6, (len(names), int(seconds * 100)))
    raw = mne.io.RawArray(data, mne.create_info(list(names), 100.0, "eeg"), verbose="error")
    if annotations:
        raw.set_annotations(mne.Annotations(*zip(*annotations, strict=True)))
    mne.export.export_raw(path, raw, fmt="edf", verbose="error")
    return path


def test_path_labels_subject_session_and_unknown_values(tmp_path):
    for rel in ("p01/day1/p01_rest.edf", "p01/day2/p01_task.edf", "p02/day1/p02_task.edf", "p02/day1/p02_nap.edf",
                "p03/notes/readme.txt", ".hidden/p09_rest.edf"):  # fmt: skip
        write_edf(tmp_path / rel) if rel.endswith(".edf") else (tmp_path / rel).parent.mkdir(parents=True)
    options = {"label_from": "path", "label_regex": r"_(?P<label>[a-z]+)\.edf$",
               "label_map": {"rest": "rest", "task": "task"}, "subject_regex": r"^(?P<subject>p\d+)/",
               "session_regex": r"/day(?P<session>\d)/"}  # fmt: skip
    assert folder.class_names(options) == ["rest", "task"]
    items, skipped = folder.find(tmp_path, options)
    assert [(i.path.name, i.subject, i.session, i.label) for i in items] == [
        ("p01_rest.edf", "p01", "1", "rest"), ("p01_task.edf", "p01", "2", "task"), ("p02_task.edf", "p02", "1", "task")
    ]  # fmt: skip
    assert [(s.path.name, s.reason) for s in skipped] == [
        ("p02_nap.edf", "label 'nap' not in label_map ['rest', 'task']")
    ]
    no_map = {**options, "label_map": None, "classes": ["task", "rest"]}
    assert folder.class_names(no_map) == ["task", "rest"]
    assert [s.reason for s in folder.find(tmp_path, no_map)[1]] == ["unknown label 'nap' (classes: ['task', 'rest'])"]
    items, _ = folder.find(tmp_path, {**options, "pattern": ["p01/**/*.edf"], "subject_regex": None})
    assert [(i.subject, i.session) for i in items] == [("p01_rest", "1"), ("p01_task", "2")]
    for bad, match in [
        ({"label_regex": "(?P<lab>x)"}, r"options.label_regex: .* no named group \(\?P<label>"),
        ({"label_map": None}, r"options.classes: required with label_from: path and no label_map"),
        ({"label_from": "folder"}, r"options.label_from: 'folder' is not one of"),
        ({"classes": ["rest"]}, r"options.classes: \['task'\] \(from events/label_map\) are not listed"),
        ({"labels": {}}, r"unknown key\(s\) \['labels'\]"),
    ]:
        with pytest.raises(ValueError, match=match):
            folder.find(tmp_path, {**options, **bad})


def test_table_labels_unknown_and_unlisted(tmp_path):
    for name in ("a.edf", "b.edf", "sub/c.edf", "d.edf"):
        write_edf(tmp_path / name)
    (tmp_path / "labels.tsv").write_text("file\tlabel\na\tgood\nsub/c.edf\tbad\nb.edf\tugly\nzz.edf\tgood\n")
    options = {"label_from": "table", "table": "labels.tsv", "classes": ["good", "bad"]}
    items, skipped = folder.find(tmp_path, options)
    assert [(i.path.name, i.label, i.subject) for i in items] == [("a.edf", "good", "a"), ("c.edf", "bad", "c")]
    assert sorted((s.path.name, s.reason) for s in skipped) == [
        ("b.edf", "unknown label 'ugly' (classes: ['good', 'bad'])"), ("d.edf", "not listed in table labels.tsv")
    ]
    run("t", {"adapter": "folder", "root": str(tmp_path), "window_s": 5, "options": options},
        tmp_path / "w.h5", tmp_path / "s.json")  # fmt: skip
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["windows_per_class"] == {"good": 2, "bad": 2}
    assert {s["path"] for s in summary["recordings"]["skipped"]} == {"b.edf", "d.edf"}
    assert summary["channels"] == {"kept": ["Fp1", "Cz"], "dropped": ["ECG"]}
    with pytest.raises(RecordingError, match=r"b\.edf: unknown label 'ugly'.*strict"):
        run("t", {"adapter": "folder", "root": str(tmp_path), "window_s": 5, "options": options, "strict": True},
            tmp_path / "w2.h5", tmp_path / "s2.json")  # fmt: skip
    (tmp_path / "bad.csv").write_text("path,label\na.edf,good\n")
    with pytest.raises(ValueError, match=r"bad\.csv: needs columns 'file' and 'label'"):
        folder.find(tmp_path, {**options, "table": "bad.csv"})


def test_annotations_absent_class_corrupt_header_missing_channels(tmp_path):
    events = [(1.0, 2.0, "left"), (4.0, 2.0, "right"), (7.0, 2.0, "left"), (0.0, 0.5, "noise")]
    write_edf(tmp_path / "r1.edf", annotations=events)
    write_edf(tmp_path / "r2.edf", annotations=events[:1])
    bad = write_edf(tmp_path / "r3.edf", annotations=events)
    data = bytearray(bad.read_bytes())
    bad.write_bytes(bytes(data[:184] + b"\x00garbage" + data[192:]))  # header-length field
    write_edf(tmp_path / "r4.edf", annotations=events, names=("EEG Fp1", "EEG Pz"))
    options = {"label_from": "annotations", "events": {"left": "left_hand", "right": "right_hand", "feet": "feet"},
               "epoch_s": 2}  # fmt: skip
    assert folder.class_names(options) == ["feet", "left_hand", "right_hand"]
    cfg = {"adapter": "folder", "root": str(tmp_path), "window_s": 2, "channels": ["Fp1", "Cz"], "options": options}
    run("a", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    w = load_windows(tmp_path / "w.h5")
    assert [w.class_names[k] for k in w.y] == ["left_hand", "right_hand", "left_hand", "left_hand"]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["windows_per_class"] == {"feet": 0, "left_hand": 3, "right_hand": 1}
    reasons = {s["path"]: s["reason"] for s in summary["recordings"]["skipped"]}
    assert reasons["r3.edf"].startswith("corrupt EDF/BDF header")
    assert reasons["r4.edf"].startswith("missing channels ['Cz']")
    with pytest.raises(ValueError, match=r"options.epoch_s: required"):
        folder.find(tmp_path, {**options, "epoch_s": None})


# --- real recordings ----------------------------------------------------------------------------


@pytest.mark.shared_data
def test_eegmat_by_path(shared_data, tmp_path):
    # Every SubjectNN_{1,2}.edf on disk is found and labelled (counted, not assumed: subjects get added; 24 today).
    root = shared_data / "eegmat"
    on_disk = sorted(p.name for p in root.glob("Subject*_[12].edf"))
    subjects = {name[len("Subject") : -len("_1.edf")] for name in on_disk}
    items, skipped = folder.find(root, EEGMAT)
    assert sorted(i.path.name for i in items) == on_disk and not skipped and len(on_disk) >= 24
    assert {i.subject for i in items} == subjects
    assert [sum(i.label == c for i in items) for c in ("rest", "arithmetic")] == [len(subjects)] * 2
    # Preprocessing: subjects 00-11 only (`pattern`), the first set, whose recording lengths the exact window
    # counts below were worked out from; subjects added later would change them (and lengthen the test).
    first = [f"Subject{s:02d}_{k}.edf" for s in range(12) for k in (1, 2)]
    cfg = {"adapter": "folder", "root": str(root), "window_s": 2, "channels": None,
           "options": {**EEGMAT, "pattern": first}}  # fmt: skip
    run("eegmat", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    summary = json.loads((tmp_path / "s.json").read_text())
    # rest: 10 × 182 s + 170 s + 188 s = 2178 s → 1089 windows; arithmetic: 12 × 62 s → 372, less one window
    # of Subject03_2 where a channel is flat (std < 0.1 µV)
    assert summary["windows_per_class"] == {"arithmetic": 371, "rest": 1089}
    assert summary["windows_dropped"] == {"bad_annotation": 0, "flat": 1, "incomplete": 0, "nan": 0}
    assert summary["windows_per_subject"]["00"] == 91 + 31 and len(summary["windows_per_subject"]) == 12
    assert len(summary["channels"]["kept"]) == 19 and summary["channels"]["dropped"] == ["A2-A1", "ECG"]
    assert summary["window_shape"] == [19, 1000] and summary["recordings"]["skipped"] == []


@pytest.mark.shared_data
def test_eegmmidb_imagery_runs_by_annotation(shared_data, tmp_path):
    options = {"label_from": "annotations", "pattern": ["S001R04.edf", "S001R08.edf", "S001R12.edf"],
               "events": {"T1": "left_fist", "T2": "right_fist"}, "epoch_s": 4, "session_regex": r"R(?P<session>\d+)",
               "subject_regex": r"(?P<subject>S\d+)R"}  # fmt: skip
    items, _ = folder.find(shared_data / "eegmmidb/S001", options)
    assert [(i.subject, i.session) for i in items] == [("S001", "04"), ("S001", "08"), ("S001", "12")]
    cfg = {"adapter": "folder", "root": str(shared_data / "eegmmidb/S001"), "window_s": 4, "options": options}
    run("mi", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    w = load_windows(tmp_path / "w.h5")
    assert w.X.shape == (45, 64, 640) and w.class_names == ["left_fist", "right_fist"]
    assert np.bincount(w.y).tolist() == [23, 22]  # T1: 8+8+7, T2: 7+7+8; the 45 T0 rest periods ignored
    assert w.ch_names[:3] == ["FC5", "FC3", "FC1"]
