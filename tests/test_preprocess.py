"""eegslim.preprocess and the preprocess stage: windows, labels, units, skipping and failures."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import mne
import numpy as np
import pytest
from test_io import MEAS_DATE, write_bids, write_hypnogram

from eegslim.datasets import RecordingItem
from eegslim.io import RecordingError
from eegslim.preprocess import Params, preprocess_recording
from eegslim.stages.preprocess import run
from eegslim.store import load_windows

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
STAGES = [(0, 90, "Sleep stage W"), (90, 60, "Sleep stage 1"), (150, 30, "Sleep stage ?"), (180, 60, "Sleep stage 3"),
          (240, 30, "Sleep stage 4"), (270, 60, "Sleep stage R")]  # fmt: skip
SLEEP_CFG = {
    "adapter": "sleep_edf", "channels": ["EEG Fpz-Cz", "Pz-Oz"], "sfreq": 100, "l_freq": None, "h_freq": None,
    "notch": None, "window_s": 30, "stride_s": 30, "strict": False,
    "options": {"stage_mapping": "5class", "trim_wake_min": 1},
}  # fmt: skip


def write_stepped_psg(path: Path, seconds: int = 330, names=("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")) -> Path:
    """EDF at 100 Hz whose 30-s epoch k holds k µV (+ 5 µV noise) on every channel: shows alignment."""
    t = np.arange(seconds * 100)
    steps = (t // 3000).astype(float) * 1e-6
    data = steps + np.random.default_rng(2).normal(0, 5e-6, (len(names), len(t)))
    raw = mne.io.RawArray(data, mne.create_info(list(names), 100.0, "eeg"), verbose="error")
    raw.set_meas_date(MEAS_DATE)
    mne.export.export_raw(path, raw, fmt="edf", verbose="error")
    return path


def sleep_tree(root: Path, nights=("SC4001E", "SC4011E")) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for prefix in nights:
        write_stepped_psg(root / f"{prefix}0-PSG.edf")
        write_hypnogram(root / f"{prefix}C-Hypnogram.edf", STAGES)
    return root


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- per recording ---------------------------------------------------------------------------------

def test_params_from_config_checks_keys():
    p = Params.from_config({"window_s": 4, "channels": ["EEG FP1-REF"], "notch": [50, 100], "sfreq": 200})
    assert p.channels == ("Fp1",) and p.notch == (50.0, 100.0) and p.as_dict()["notch"] == [50.0, 100.0]
    with pytest.raises(ValueError, match="window_s: must be a positive"):
        Params.from_config({"window_s": 0})
    with pytest.raises(ValueError, match="sfreq: must be positive"):
        Params.from_config({"window_s": 4, "sfreq": -1})


def _rest_raw(data: np.ndarray, sfreq: float = 100.0) -> mne.io.RawArray:
    return mne.io.RawArray(data, mne.create_info(["Fz", "Cz", "Pz"], sfreq, "eeg"), verbose="error")


def test_sliding_windows_units_and_nan_or_flat_windows_dropped():
    rng = np.random.default_rng(3)
    data = rng.normal(0, 30e-6, (3, 2000))  # 20 s at 100 Hz, 30 µV std
    data[1, 250:350] = np.nan  # 2.5–3.5 s: the windows starting at 1, 2, 3 s go
    data[2, 1500:1700] = 0.0  # 15–17 s flat
    item = RecordingItem(Path("rec.fif"), "07", "1", (), label="b")
    params = Params(window_s=2.0, stride_s=1.0)
    rec = preprocess_recording(_rest_raw(data), item, ["a", "b"], params)
    starts_ok = [s for s in range(19) if not (s + 2 > 2.5 and s < 3.5) and not (s >= 15 and s + 2 <= 17)]
    assert rec.X.shape == (len(starts_ok), 3, 200) and rec.X.dtype == np.float32
    assert rec.dropped["bad_annotation"] == 3 and rec.dropped["flat"] == 1 and rec.dropped["nan"] == 0
    assert (rec.y == 1).all() and rec.ch_names == ["Fz", "Cz", "Pz"] and rec.sfreq == 100.0
    assert np.isfinite(rec.X).all()
    assert np.allclose(rec.X[0], data[:, :200] * 1e4, atol=1e-5)  # volts → 0.1 mV, unfiltered
    assert 0.25 < rec.X[:, 0].std() < 0.35  # 30 µV = 0.3 (0.1 mV)


def test_filter_notch_resample_and_nan_with_filter():
    t = np.arange(3000) / 250.0
    data = np.vstack([np.sin(2 * np.pi * 10 * t) + np.sin(2 * np.pi * 50 * t)] * 3) * 20e-6
    data[0, 1000:1010] = np.nan
    item = RecordingItem(Path("rec.fif"), "1", "1", (), label="a")
    params = Params(window_s=2.0, sfreq=125.0, l_freq=1.0, h_freq=40.0, notch=50.0)
    rec = preprocess_recording(_rest_raw(data, 250.0), item, ["a"], params)
    assert rec.sfreq == 125.0 and rec.X.shape[1:] == (3, 250)
    assert len(rec.X) == 5 and rec.dropped["bad_annotation"] == 1  # 12 s → 6 windows, one held NaN
    spectrum = np.abs(np.fft.rfft(rec.X[0, 1]))
    freqs = np.fft.rfftfreq(250, 1 / 125)
    assert spectrum[freqs == 10] > 50 * spectrum[np.argmin(np.abs(freqs - 50))]


def test_window_must_match_annotation_epochs():
    raw = _rest_raw(np.zeros((3, 6000)))
    raw.set_annotations(mne.Annotations([0], [60], ["W"]))
    item = RecordingItem(Path("SC.edf"), "1", "1", (), event_classes={"W": "W"}, epoch_s=30.0)
    with pytest.raises(ValueError, match=r"window_s: 10.0 s, but SC.edf is labelled in 30.0-s .* set window_s to 30"):
        preprocess_recording(raw, item, ["W"], Params(window_s=10.0))


# --- the stage -------------------------------------------------------------------------------------

def test_stage_sleep_edf_end_to_end(tmp_path):
    root = sleep_tree(tmp_path / "raw")
    out, summary_path = tmp_path / "out" / "windows.h5", tmp_path / "out" / "summary.json"
    run("sleep", {**SLEEP_CFG, "root": str(root)}, out, summary_path)
    w = load_windows(out)
    # 5class, ? dropped, 1 min of wake kept before the first sleep epoch (W at 30, 60 s; 0 s trimmed)
    expected = [0, 0, 1, 1, 3, 3, 3, 4, 4]
    onsets = [30, 60, 90, 120, 180, 210, 240, 270, 300]
    assert w.X.shape == (18, 2, 3000) and w.X.dtype == np.float32
    assert w.y.tolist() == expected * 2
    assert w.subject.tolist() == ["00"] * 9 + ["01"] * 9 and set(w.session) == {"1"}
    assert w.recording.tolist()[0] == "SC4001E0-PSG.edf"
    assert np.allclose(w.X[:9].mean(axis=(1, 2)) * 100, np.array(onsets) / 30, atol=0.3)  # k µV in epoch k
    assert w.ch_names == ["Fpz-Cz", "Pz-Oz"] and w.class_names == ["W", "N1", "N2", "N3", "REM"]
    assert w.sfreq == 100.0 and w.attrs["unit"] == "0.1 mV" and w.attrs["dataset"] == "sleep"
    assert w.attrs["preprocessing"]["window_s"] == 30.0
    assert w.attrs["source_hashes"] == {p.name: sha256(p) for p in sorted(root.iterdir())}
    summary = json.loads(summary_path.read_text())
    assert summary["windows_per_class"] == {"W": 4, "N1": 4, "N2": 0, "N3": 6, "REM": 4}
    assert summary["windows_per_subject"] == {"00": 9, "01": 9}
    assert summary["channels"] == {"kept": ["Fpz-Cz", "Pz-Oz"], "dropped": ["horizontal"]}
    assert summary["window_shape"] == [2, 3000] and summary["sfreq"] == 100.0
    assert [r["n_windows"] for r in summary["recordings"]["read"]] == [9, 9]
    assert summary["recordings"]["skipped"] == []
    assert leftovers(out.parent) == ["summary.json", "windows.h5"]


def test_stage_bids_end_to_end(tmp_path):
    write_bids(tmp_path / "bids", subjects=("01", "02"), sessions=("1", "2"), seconds=20.0)
    cfg = {
        "adapter": "bids", "root": str(tmp_path / "bids"), "channels": None, "sfreq": 125, "l_freq": 0.5,
        "h_freq": 45.0, "notch": 50.0, "window_s": 4, "stride_s": 2,
        "options": {"task": "eyesopen", "session_classes": {"1": "normal_sleep", "2": "sleep_deprived"}},
    }  # fmt: skip
    run("rest", cfg, tmp_path / "windows.h5", tmp_path / "summary.json")
    w = load_windows(tmp_path / "windows.h5")
    assert w.X.shape == (4 * 9, 3, 500) and w.sfreq == 125.0 and w.ch_names == ["Fp1", "Cz", "O1"]
    assert w.y.tolist() == ([0] * 9 + [1] * 9) * 2
    assert w.session.tolist() == (["1"] * 9 + ["2"] * 9) * 2
    assert w.recording[0] == "sub-01/ses-1/eeg/sub-01_ses-1_task-eyesopen_eeg.set"
    assert 0.03 < w.X.std() < 0.15  # 10 µV noise band-passed, in 0.1 mV
    assert len(w.attrs["source_hashes"]) == 4
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["windows_per_class"] == {"normal_sleep": 18, "sleep_deprived": 18}
    assert summary["preprocessing"]["channels"] == ["Fp1", "Cz", "O1"]


def test_stage_missing_root_and_empty_folder(tmp_path):
    cfg = {**SLEEP_CFG, "root": str(tmp_path / "nowhere")}
    with pytest.raises(FileNotFoundError, match=r"nowhere: no such folder \(config key `root`\)"):
        run("s", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty: no recordings found"):
        run("s", {**cfg, "root": str(tmp_path / "empty")}, tmp_path / "w.h5", tmp_path / "s.json")
    with pytest.raises(ValueError, match=r"adapter: unknown adapter"):
        run("s", {**cfg, "adapter": "edf_folder"}, tmp_path / "w.h5", tmp_path / "s.json")
    assert leftovers(tmp_path) == ["empty"]


def test_stage_missing_channels_skipped_or_fatal(tmp_path, caplog):
    root = sleep_tree(tmp_path / "raw", nights=("SC4001E",))
    write_stepped_psg(root / "SC4021E0-PSG.edf", names=("EEG Pz-Oz", "EOG horizontal"))
    write_hypnogram(root / "SC4021EC-Hypnogram.edf", STAGES)
    write_stepped_psg(root / "SC4031E0-PSG.edf")                           # no hypnogram
    out = tmp_path / "out"
    with caplog.at_level("INFO", logger="eegslim.stages.preprocess"):
        run("s", {**SLEEP_CFG, "root": str(root)}, out / "w.h5", out / "s.json")
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]  # one, at the end
    assert caplog.records[-1].levelname == "WARNING" and warning.startswith("s: 2 recording(s) skipped:")
    assert f"\n  {root / 'SC4021E0-PSG.edf'}: missing channels ['Fpz-Cz']" in warning
    assert f"\n  {root / 'SC4031E0-PSG.edf'}: no hypnogram" in warning
    (root / "SC4031E0-PSG.edf").unlink()
    run("s", {**SLEEP_CFG, "root": str(root)}, out / "w.h5", out / "s.json")
    skipped = json.loads((out / "s.json").read_text())["recordings"]["skipped"]
    assert skipped == [{"path": "SC4021E0-PSG.edf", "reason": skipped[0]["reason"]}]
    assert skipped[0]["reason"].startswith("missing channels ['Fpz-Cz']")
    assert len(load_windows(out / "w.h5").y) == 9
    with pytest.raises(RecordingError, match=r"SC4021E0-PSG\.edf: missing channels \['Fpz-Cz'\].*strict"):
        run("s", {**SLEEP_CFG, "root": str(root), "strict": True}, out / "w2.h5", out / "s2.json")
    (root / "SC4001E0-PSG.edf").unlink()
    all_skipped = r"every recording was skipped: .*SC4021E0-PSG\.edf: missing channels \['Fpz-Cz'\]"
    with pytest.raises(ValueError, match=all_skipped):
        run("s", {**SLEEP_CFG, "root": str(root)}, out / "w3.h5", out / "s3.json")
    assert leftovers(out) == ["s.json", "w.h5"]


@pytest.mark.parametrize("damage", ["truncate", "header"])
def test_stage_corrupt_edf_skipped_reported_or_fatal(tmp_path, damage):
    root = sleep_tree(tmp_path / "raw")
    bad = root / "SC4011E0-PSG.edf"
    data = bytearray(bad.read_bytes())
    bad.write_bytes(bytes(data[: len(data) // 2]) if damage == "truncate" else bytes(data[:252] + b"?!  " + data[256:]))
    out = tmp_path / "out"
    run("s", {**SLEEP_CFG, "root": str(root)}, out / "w.h5", out / "s.json")
    summary = json.loads((out / "s.json").read_text())
    (entry,) = summary["recordings"]["skipped"]
    assert entry["path"] == "SC4011E0-PSG.edf"
    assert ("truncated" if damage == "truncate" else "corrupt EDF/BDF header") in entry["reason"]
    assert [r["path"] for r in summary["recordings"]["read"]] == ["SC4001E0-PSG.edf"]
    assert set(load_windows(out / "w.h5").subject) == {"00"}
    with pytest.raises(RecordingError, match=r"SC4011E0-PSG\.edf: .*\(strict: true\)"):
        run("s", {**SLEEP_CFG, "root": str(root), "strict": True}, out / "w2.h5", out / "s2.json")
    assert leftovers(out) == ["s.json", "w.h5"]


def test_stage_psg_without_hypnogram(tmp_path):
    root = sleep_tree(tmp_path / "raw", nights=("SC4001E",))
    write_stepped_psg(root / "SC4002E0-PSG.edf")
    run("s", {**SLEEP_CFG, "root": str(root)}, tmp_path / "w.h5", tmp_path / "s.json")
    (entry,) = json.loads((tmp_path / "s.json").read_text())["recordings"]["skipped"]
    assert entry["path"] == "SC4002E0-PSG.edf" and entry["reason"].startswith("no hypnogram")
    with pytest.raises(RecordingError, match=r"SC4002E0-PSG\.edf: no hypnogram.*strict"):
        run("s", {**SLEEP_CFG, "root": str(root), "strict": True}, tmp_path / "w2.h5", tmp_path / "s2.json")
    assert not (tmp_path / "w2.h5").exists()


def test_trials_pick_filter_resample_and_drop():
    from eegslim.datasets import TrialBlock
    from eegslim.preprocess import preprocess_trials

    t = np.arange(400) / 1000.0
    X = np.tile(np.sin(2 * np.pi * 10 * t) + np.sin(2 * np.pi * 200 * t), (5, 3, 1)) * 20e-6
    X[1, 0, 7] = np.nan
    X[2, 2] = 0.0  # a flat channel
    block = TrialBlock(X=X, sfreq=1000.0, ch_names=["FZ", "CZ", "PZ"], y=np.arange(5) % 2, class_names=["a", "b"],
                       subject=np.array([f"s{i}" for i in range(5)]), session="1", recording="f.pth#s",
                       fold=np.array(["train", "train", "test", "test", "test"]))  # fmt: skip
    params = Params(window_s=0.4, channels=("Pz", "Fz"), sfreq=250.0, h_freq=40.0)
    rec = preprocess_trials(block, params)
    assert rec.X.shape == (3, 2, 100) and rec.ch_names == ["Pz", "Fz"] and rec.sfreq == 250.0
    assert rec.dropped == {"nan": 1, "flat": 1} and rec.dropped_channels == ["Cz"]
    assert rec.subject.tolist() == ["s0", "s3", "s4"] and rec.fold.tolist() == ["train", "test", "test"]
    assert rec.y.tolist() == [0, 1, 0]
    spectrum = np.abs(np.fft.rfft(rec.X[0, 1]))
    assert spectrum[4] > 0.5 * 0.2 * 50  # 10 Hz kept: 0.2 (0.1 mV) amplitude over 100 samples
    with pytest.raises(RecordingError, match=r"f\.pth#s: missing channels \['O1'\]"):
        preprocess_trials(block, Params(window_s=0.4, channels=("O1",)))
    with pytest.raises(ValueError, match=r"window_s: 0.5 s, but the trials of f\.pth#s are 400 samples at 1000 Hz"):
        preprocess_trials(block, Params(window_s=0.5))
