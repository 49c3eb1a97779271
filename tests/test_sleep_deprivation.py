"""The ds004902 adapter: session labels, eyes option, a truncated .fdt and a 5 kHz recording."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from eegslim.datasets import ADAPTERS
from eegslim.io import RecordingError
from eegslim.simulate.bids_rest import CHANNELS, write_eeglab
from eegslim.stages.preprocess import run
from eegslim.store import load_windows

CREATED = dt.datetime(2021, 3, 1)


def ds004902(root: Path, seconds: float = 12.0) -> Path:
    """sub-01 (SD->NS order) and sub-02, both sessions eyes open; sub-01 also eyes closed.

    sub-02 ses-2 eyes open is recorded at 5 kHz; sub-01 ses-2 eyes closed has a truncated .fdt.
    """
    rng = np.random.default_rng(0)
    (root / "participants.tsv").parent.mkdir(parents=True, exist_ok=True)
    (root / "participants.tsv").write_text("participant_id\tSessionOrder\nsub-01\tSD->NS\nsub-02\tNS->SD\n")
    for sub, ses, task, sfreq in [
        ("01", 1, "eyesopen", 500), ("01", 2, "eyesopen", 500), ("01", 1, "eyesclosed", 500),
        ("01", 2, "eyesclosed", 500), ("02", 1, "eyesopen", 500), ("02", 2, "eyesopen", 5000),
    ]:  # fmt: skip
        path = root / f"sub-{sub}/ses-{ses}/eeg/sub-{sub}_ses-{ses}_task-{task}_eeg.set"
        path.parent.mkdir(parents=True, exist_ok=True)
        t = np.arange(int(seconds * sfreq)) / sfreq
        data_uv = 10 * np.sin(2 * np.pi * 10 * t) + rng.normal(0, 1, (len(CHANNELS), len(t)))  # 10 Hz, 10 µV
        write_eeglab(path, data_uv, float(sfreq), sub, ses, CREATED)
    fdt = root / "sub-01/ses-2/eeg/sub-01_ses-2_task-eyesclosed_eeg.fdt"
    fdt.write_bytes(fdt.read_bytes()[: fdt.stat().st_size * 3 // 4 + 2])  # not even a multiple of 4·nbchan
    return root


def test_find_by_eyes_option(tmp_path):
    root = ds004902(tmp_path)
    adapter = ADAPTERS["sleep_deprivation"]
    assert adapter.class_names({}) == ["normal_sleep", "sleep_deprived"]
    found = {eyes: adapter.find(root, {"eyes": eyes}) for eyes in ("open", "closed", "both")}
    assert [(i.subject, i.session, i.label) for i in found["open"][0]] == [
        ("01", "1", "normal_sleep"), ("01", "2", "sleep_deprived"),  # SessionOrder SD->NS is ignored
        ("02", "1", "normal_sleep"), ("02", "2", "sleep_deprived"),
    ]  # fmt: skip
    assert adapter.find(root, {})[0] == found["open"][0]
    assert all("eyesclosed" in i.path.name for i in found["closed"][0]) and len(found["closed"][0]) == 2
    assert len(found["both"][0]) == 6
    assert all(i.sources[1].suffix == ".fdt" for i in found["both"][0])
    with pytest.raises(ValueError, match=r"options.eyes: 'shut' is not one of"):
        adapter.find(root, {"eyes": "shut"})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['task'\]"):
        adapter.find(root, {"task": "eyesopen"})
    truncated = next(i for i in found["closed"][0] if i.session == "2")
    with pytest.raises(RecordingError, match=r"truncated sub-01_ses-2_task-eyesclosed_eeg\.fdt"):
        adapter.read(truncated, {})


def test_stage_resamples_5khz_and_lists_truncated(tmp_path):
    root = ds004902(tmp_path / "ds004902")
    cfg = {
        "adapter": "sleep_deprivation", "root": str(root), "channels": None, "sfreq": 200, "l_freq": 0.5,
        "h_freq": 45.0, "notch": 50.0, "window_s": 4, "options": {"eyes": "both"},
    }  # fmt: skip
    run("sd", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    w = load_windows(tmp_path / "w.h5")
    assert w.sfreq == 200.0 and w.X.shape == (5 * 3, len(CHANNELS), 800) and w.ch_names == list(CHANNELS)
    fast = w.recording == "sub-02/ses-2/eeg/sub-02_ses-2_task-eyesopen_eeg.set"
    assert fast.sum() == 3 and (w.y[fast] == 1).all()
    rms = w.X.std(axis=2).mean(axis=1)  # per window; a 10 µV 10-Hz sine: 7.07 µV = 0.0707 (0.1 mV)
    assert np.allclose(rms, 0.0707, atol=0.004)  # same amplitude whether recorded at 500 Hz or 5 kHz
    summary = json.loads((tmp_path / "s.json").read_text())
    (skip,) = summary["recordings"]["skipped"]
    assert skip["path"] == "sub-01/ses-2/eeg/sub-01_ses-2_task-eyesclosed_eeg.set"
    assert skip["reason"].startswith("truncated sub-01_ses-2_task-eyesclosed_eeg.fdt")
    assert summary["windows_per_class"] == {"normal_sleep": 9, "sleep_deprived": 6}
    assert summary["windows_per_subject"] == {"01": 9, "02": 6}
