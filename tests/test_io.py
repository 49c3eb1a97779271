"""eegslim.io and the dataset adapters: real files of every format, names, pairing, BIDS discovery."""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from pathlib import Path

import edfio
import mne
import numpy as np
import pytest

from eegslim.datasets import ADAPTERS, get_adapter
from eegslim.datasets.sleep_edf import stage_epochs
from eegslim.io import RecordingError, normalize_name, pick_channels, read_raw

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
MEAS_DATE = dt.datetime(2001, 9, 9, 1, 46, 40, tzinfo=dt.timezone.utc)


def write_psg(path: Path, seconds: float = 300.0, names=("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")) -> Path:
    """A small PSG-like EDF written with MNE (100 Hz, ~20 µV noise)."""
    info = mne.create_info(list(names), 100.0, "eeg")
    data = np.random.default_rng(0).normal(0, 20e-6, (len(names), int(seconds * 100)))
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_meas_date(MEAS_DATE)
    mne.export.export_raw(path, raw, fmt="edf", verbose="error")
    return path


def write_hypnogram(path: Path, stages: list[tuple[float, float, str]], start: dt.datetime = MEAS_DATE) -> Path:
    """An annotations-only EDF+ hypnogram, as Sleep-EDF ships it."""
    annotations = [edfio.EdfAnnotation(on, dur, desc) for on, dur, desc in stages]
    edf = edfio.Edf(
        [], annotations=annotations, starttime=start.time().replace(tzinfo=None),
        recording=edfio.Recording(startdate=start.date()),
    )  # fmt: skip
    edf.write(path)
    return path


# --- readers on the real recordings -------------------------------------------------------------

@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("rel", "n_channels", "sfreq", "seconds", "n_annotations"),
    [
        ("eegmat/Subject00_1.edf", 21, 500.0, 182.0, 0),
        ("eegmat/Subject00_2.edf", 21, 500.0, 62.0, 0),
        ("eegmmidb/S001/S001R03.edf", 64, 160.0, 125.0, 30),
        ("formats/edf/test_edf_overlapping_annotations.edf", 64, 128.0, 124.0, 38),
        ("formats/bdf/multiple_annotation_chans.bdf", 19, 125.0, 247.0, 10),
        ("formats/eeglab/test_raw.set", 32, 128.0, 238.3125, 154),
        ("formats/brainvision/test.vhdr", 32, 1000.0, 7.9, 13),
        ("formats/fif/resting_EO_200Hz_raw.fif", 2, 200.0, 360.0, 0),
    ],
)
def test_read_raw_real_formats(shared_data, rel, n_channels, sfreq, seconds, n_annotations):
    raw = read_raw(shared_data / rel)
    assert raw.preload
    assert len(raw.ch_names) == n_channels
    assert raw.info["sfreq"] == sfreq
    assert raw.n_times / sfreq == pytest.approx(seconds)
    assert len(raw.annotations) == n_annotations
    assert np.isfinite(raw.get_data()).all()


@pytest.mark.shared_data
def test_eegmat_types_and_amplitude_in_volts(shared_data):
    raw = read_raw(shared_data / "eegmat/Subject00_1.edf")
    assert raw.ch_names[:3] == ["Fp1", "Fp2", "F3"] and raw.get_channel_types()[-1] == "ecg"
    eeg = raw.get_data(picks="eeg")
    assert 1e-6 < np.median(eeg.std(axis=1)) < 1e-3  # tens of µV, in volts


@pytest.mark.shared_data
def test_eegmmidb_annotations_and_names(shared_data):
    raw = read_raw(shared_data / "eegmmidb/S001/S001R04.edf")
    assert set(raw.annotations.description) == {"T0", "T1", "T2"}
    pick_channels(raw, ["Fc5.", "Cz..", "Af7."], "S001R04.edf")
    assert raw.ch_names == ["FC5", "Cz", "AF7"]


@pytest.mark.shared_data
def test_real_hypnogram_epoch_counts(shared_data):
    annotations = mne.read_annotations(shared_data / "formats/edf/SC4001EC-Hypnogram.edf")
    _, classes = stage_epochs(annotations, "raw", trim_wake_min=None)
    assert Counter(classes) == {"W": 1997, "S1": 58, "S2": 250, "S3": 101, "S4": 119, "R": 125, "?": 230}
    onsets, classes = stage_epochs(annotations, "5class", trim_wake_min=30)
    counts = Counter(classes)
    assert {k: counts[k] for k in ("N1", "N2", "N3", "REM")} == {"N1": 58, "N2": 250, "N3": 220, "REM": 125}
    assert np.all(np.diff(onsets) >= 30) and np.all(onsets % 30 == 0)
    sleep = [o for o, c in zip(onsets, classes) if c != "W"]
    assert sum(o < min(sleep) for o in onsets) == 60 and sum(o > max(sleep) for o in onsets) == 60


@pytest.mark.shared_data
def test_truncated_fdt_is_rejected_before_reading(shared_data, tmp_path):
    for name in ("test_raw.set", "test_raw.fdt"):
        shutil.copy(shared_data / "formats/eeglab" / name, tmp_path / name)
    fdt = tmp_path / "test_raw.fdt"
    fdt.write_bytes(fdt.read_bytes()[:-1000])
    with pytest.raises(RecordingError, match=r"test_raw\.set: truncated test_raw\.fdt.*32·30504·4 = 3904512"):
        read_raw(tmp_path / "test_raw.set")


# --- readers: bad input ----------------------------------------------------------------------------

def test_read_raw_bad_inputs(tmp_path):
    with pytest.raises(RecordingError, match=r"x\.txt: unsupported extension"):
        read_raw(tmp_path / "x.txt")
    with pytest.raises(RecordingError, match=r"missing\.edf: no such file"):
        read_raw(tmp_path / "missing.edf")
    (tmp_path / "junk.edf").write_bytes(b"not an edf file at all" * 5)
    with pytest.raises(RecordingError, match=r"junk\.edf: corrupt EDF/BDF header"):
        read_raw(tmp_path / "junk.edf")


def test_truncated_and_corrupt_edf(tmp_path):
    psg = write_psg(tmp_path / "ok.edf")
    data = psg.read_bytes()
    (tmp_path / "cut.edf").write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordingError, match=r"cut\.edf: truncated: \d+ bytes, the header promises \d+"):
        read_raw(tmp_path / "cut.edf")
    bad = bytearray(data)
    bad[252:256] = b"xx  "  # number of signals
    (tmp_path / "hdr.edf").write_bytes(bytes(bad))
    with pytest.raises(RecordingError, match=r"hdr\.edf: corrupt EDF/BDF header"):
        read_raw(tmp_path / "hdr.edf")
    raw = read_raw(psg, preload=False)
    assert not raw.preload and raw.ch_names == ["Fpz-Cz", "Pz-Oz", "horizontal"]


# --- channel names ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("EEG Fp1", "Fp1"), ("FP1", "Fp1"), ("EEG FP1-REF", "Fp1"), ("EEG T3-LE", "T3"), ("T4", "T4"),
        ("Fc5.", "FC5"), ("Cz..", "Cz"), ("Fpz.", "Fpz"), ("Af7.", "AF7"), ("Poz.", "POz"), ("CZ", "Cz"),
        ("fz", "Fz"), ("EEG Fpz-Cz", "Fpz-Cz"), ("CZ-A2", "Cz-A2"), ("EEG A2-A1", "A2-A1"), ("EEG T1-REF", "T1"),
        ("EEG 001", "EEG 001"), ("Event marker", "Event marker"), (" O2 ", "O2"),
        ("FP2-REF", "Fp2"), ("EEG FZ-LE", "Fz"), ("EEG A1-REF", "A1"), ("T2-LE", "T2"), ("EEG 20-REF", "EEG 20-REF"),
    ],
)  # fmt: skip
def test_normalize_name(name, expected):
    assert normalize_name(name) == expected


def _raw(names, types="eeg"):
    info = mne.create_info(names, 100.0, types)
    return mne.io.RawArray(np.zeros((len(names), 100)), info, verbose="error")


def test_pick_channels_order_rename_and_errors():
    raw = pick_channels(_raw(["EEG FP1-REF", "EEG CZ-REF", "EEG O1-REF"]), ["o1", "Fp1"], "a.edf")
    assert raw.ch_names == ["O1", "Fp1"]
    mixed = _raw(["EMG", "EEG Cz", "ECG", "Event marker", "C3"], ["eeg", "eeg", "ecg", "eeg", "eeg"])
    raw = pick_channels(mixed, None, "b.edf")
    assert raw.ch_names == ["Cz", "C3"]
    tuh = _raw(["FP1-REF", "A2-A1", "M1-M2", "A1-REF", "PHOTIC-REF", "IBI", "BURSTS", "EEG ROC-REF", "EKG1-REF"])
    assert pick_channels(tuh, None, "e.edf").ch_names == ["Fp1", "A1"]  # ear-to-ear pairs and TUH extras are not EEG
    with pytest.raises(RecordingError, match=r"c\.edf: missing channels \['Pz', 'Oz'\]"):
        pick_channels(_raw(["Cz", "Fz"]), ["Cz", "Pz", "Oz"], "c.edf")
    with pytest.raises(RecordingError, match=r"d\.edf: channels with the same standard name"):
        pick_channels(_raw(["Cz", "CZ-REF"]), None, "d.edf")


# --- adapters --------------------------------------------------------------------------------------

def test_registry_unknown_adapter():
    assert set(ADAPTERS) >= {"sleep_edf", "bids", "sleep_deprivation", "tuab", "tuev", "folder"}
    known = r"\(known: .*bids, .*folder, .*sleep_edf, tuab, tuev"
    with pytest.raises(ValueError, match=rf"adapter: unknown adapter 'nope' {known}"):
        get_adapter({"adapter": "nope"})


def test_sleep_edf_pairs_by_prefix(tmp_path):
    night = tmp_path / "sleep-cassette"
    night.mkdir()
    write_psg(night / "SC4001E0-PSG.edf")
    write_hypnogram(night / "SC4001EC-Hypnogram.edf", [(0, 120, "Sleep stage W"), (120, 90, "Sleep stage 2")])
    write_psg(night / "SC4012E0-PSG.edf")
    write_hypnogram(night / "SC4012EH-Hypnogram.edf", [(0, 300, "Sleep stage W")])
    write_psg(night / "SC4021E0-PSG.edf")  # no hypnogram
    write_hypnogram(tmp_path / "SC4031EC-Hypnogram.edf", [(0, 30, "Sleep stage W")])  # no PSG: ignored
    adapter = ADAPTERS["sleep_edf"]
    items, skipped = adapter.find(tmp_path, {})
    assert [(i.path.name, i.extra["hypnogram"].name, i.subject, i.session) for i in items] == [
        ("SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf", "00", "1"),
        ("SC4012E0-PSG.edf", "SC4012EH-Hypnogram.edf", "01", "2"),
    ]
    assert [s.path.name for s in skipped] == ["SC4021E0-PSG.edf"] and "no hypnogram" in skipped[0].reason
    telemetry = tmp_path / "sleep-telemetry"
    telemetry.mkdir()
    write_psg(telemetry / "ST7001J0-PSG.edf", seconds=60)
    write_hypnogram(telemetry / "ST7001JP-Hypnogram.edf", [(0, 60, "Sleep stage W")])
    both, _ = adapter.find(tmp_path, {})  # SC4 00 and ST7 00 are different people: never one subject
    assert sorted((i.subject, i.session) for i in both) == [("00", "1"), ("01", "2"), ("ST7-00", "1")]
    raw = adapter.read(items[0], {"stage_mapping": "5class", "trim_wake_min": None})
    assert list(raw.annotations.description) == ["W"] * 4 + ["N2"] * 3
    assert np.allclose(raw.annotations.onset - raw.first_time, np.arange(7) * 30)
    assert adapter.class_names({"stage_mapping": "raw"}) == ["W", "S1", "S2", "S3", "S4", "R", "?", "MT"]
    with pytest.raises(ValueError, match="options.stage_mapping"):
        adapter.find(tmp_path, {"stage_mapping": "4class"})
    with pytest.raises(ValueError, match=r"options: unknown key\(s\) \['trim_wake'\]"):
        adapter.find(tmp_path, {"trim_wake": 10})


def test_sleep_edf_start_time_mismatch(tmp_path):
    write_psg(tmp_path / "SC4001E0-PSG.edf")
    write_hypnogram(tmp_path / "SC4001EC-Hypnogram.edf", [(0, 120, "Sleep stage W")], MEAS_DATE + dt.timedelta(hours=1))
    adapter = ADAPTERS["sleep_edf"]
    (item,), _ = adapter.find(tmp_path, {})
    with pytest.raises(RecordingError, match=r"SC4001E0-PSG\.edf: starts at 2001-09-09 01:46:40 but SC4001EC"):
        adapter.read(item, {})


def write_bids(root: Path, subjects=("01", "02"), sessions=("1", "2"), tasks=("eyesopen",), seconds=20.0) -> None:
    """A BIDS tree of EEGLAB (.set) recordings written with MNE."""
    rng = np.random.default_rng(1)
    for sub in subjects:
        for ses in sessions:
            for task in tasks:
                folder = root / f"sub-{sub}" / f"ses-{ses}" / "eeg"
                folder.mkdir(parents=True, exist_ok=True)
                info = mne.create_info(["Fp1", "Cz", "O1"], 250.0, "eeg")
                raw = mne.io.RawArray(rng.normal(0, 10e-6, (3, int(seconds * 250))), info, verbose="error")
                mne.export.export_raw(folder / f"sub-{sub}_ses-{ses}_task-{task}_eeg.set", raw, verbose="error")


def test_bids_adapter_labels_by_session(tmp_path):
    write_bids(tmp_path, subjects=("01", "02"), sessions=("1", "2", "3"), tasks=("eyesopen", "eyesclosed"))
    (tmp_path / "derivatives" / "sub-01" / "ses-1" / "eeg").mkdir(parents=True)
    derived = tmp_path / "derivatives/sub-01/ses-1/eeg/sub-01_ses-1_task-eyesopen_eeg.set"
    shutil.copy(next(tmp_path.rglob("*.set")), derived)
    adapter = ADAPTERS["bids"]
    options = {"task": "eyesopen", "session_classes": {"ses-2": "sleep_deprived", "1": "normal_sleep"}}
    assert adapter.class_names(options) == ["sleep_deprived", "normal_sleep"]
    items, skipped = adapter.find(tmp_path, options)
    assert not skipped
    assert [(i.subject, i.session, i.label) for i in items] == [
        ("01", "1", "normal_sleep"), ("01", "2", "sleep_deprived"),
        ("02", "1", "normal_sleep"), ("02", "2", "sleep_deprived"),
    ]  # fmt: skip
    assert all("derivatives" not in i.path.parts and "eyesopen" in i.path.name for i in items)
    assert len(adapter.find(tmp_path, {**options, "task": None})[0]) == 8
    raw = adapter.read(items[0], options)
    assert raw.ch_names == ["Fp1", "Cz", "O1"] and raw.info["sfreq"] == 250.0
    with pytest.raises(ValueError, match="options.session_classes: required"):
        adapter.find(tmp_path, {})
