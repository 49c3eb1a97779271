"""TUAB and TUEV adapters on tiny trees of MNE-exported EDFs with TUH channel names."""

from __future__ import annotations

import json
from pathlib import Path

import mne
import numpy as np
import pytest

from eegslim.datasets import ADAPTERS
from eegslim.datasets.tuev import read_rec
from eegslim.io import RecordingError, read_raw
from eegslim.io.channels import is_electrode
from eegslim.stages.preprocess import run
from eegslim.store import load_windows

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

LABRAM = ("FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 A1 A2 FZ CZ PZ T1 T2").split()
TUH_NAMES = [f"EEG {c}-REF" for c in LABRAM] + ["EEG EKG1-REF", "PHOTIC-REF", "IBI", "EEG 20-REF"]
LABRAM_CFG = {"channels": LABRAM, "l_freq": 0.1, "h_freq": 75.0, "notch": 50.0, "sfreq": 200}


def write_tuh_edf(path: Path, seconds: float = 25.0, names=TUH_NAMES, sfreq: float = 250.0, seed: int = 0) -> Path:
    """An EDF with TUH-style channel labels ('EEG FP1-REF'), ~20 µV noise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(seed).normal(0, 20e-6, (len(names), int(seconds * sfreq)))
    raw = mne.io.RawArray(data, mne.create_info(list(names), sfreq, "eeg"), verbose="error")
    mne.export.export_raw(path, raw, fmt="edf", verbose="error")
    return path


def tuab_tree(root: Path) -> Path:
    """2 train subjects (normal, abnormal), 1 eval subject, a LE-montage decoy, a file lacking T1/T2."""
    write_tuh_edf(root / "edf/train/normal/01_tcp_ar/aaaaaaaa_s001_t000.edf", seed=1)
    write_tuh_edf(root / "edf/train/abnormal/01_tcp_ar/aaaaaaab_s002_t001.edf", seed=2)
    write_tuh_edf(root / "edf/eval/abnormal/01_tcp_ar/aaaaaaac_s001_t000.edf", seed=3, seconds=31)
    write_tuh_edf(root / "edf/train/normal/02_tcp_le/aaaaaaad_s001_t000.edf", seed=4)  # not searched
    no_t1 = [n for n in TUH_NAMES if n not in ("EEG T1-REF", "EEG T2-REF")]
    write_tuh_edf(root / "edf/eval/normal/01_tcp_ar/aaaaaaae_s003_t002.edf", names=no_t1, seed=5)
    return root


def test_tuh_names_normalise_to_labram_channels(tmp_path):
    raw = read_raw(write_tuh_edf(tmp_path / "x.edf", seconds=2), preload=False)
    assert raw.ch_names[:3] == ["FP1-REF", "FP2-REF", "F3-REF"]  # MNE strips 'EEG ' with infer_types
    from eegslim.io import eeg_channels, pick_channels

    assert "PHOTIC-REF" not in eeg_channels(raw) and "EKG1-REF" not in eeg_channels(raw)
    pick_channels(raw, LABRAM, tmp_path / "x.edf")
    assert raw.ch_names == ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T3", "T4",
                            "T5", "T6", "A1", "A2", "Fz", "Cz", "Pz", "T1", "T2"]  # fmt: skip


TUH_EXTRAS = ["EEG SP1-REF", "EEG SP2-REF", "EEG PG1-REF", "EEG C3P-REF", "EEG LUC-REF", "EEG RLC-REF", "EEG 20-REF",
              "EEG 127-REF", "EEG EKG1-REF", "EMG-REF", "PHOTIC-REF", "IBI", "BURSTS", "SUPPR", "EEG ROC-REF"]


def test_is_electrode_only_for_scalp_positions():
    assert all(is_electrode(n) for n in ("EEG FP1-REF", "T1-REF", "A2", "EEG T3-LE", "Fpz-Cz", "OZ"))
    assert not any(is_electrode(n) for n in TUH_EXTRAS + ["EEG 001", "A1-X"])


@pytest.mark.parametrize(("adapter", "window_s"), [("tuab", 10), ("tuev", 5)])
def test_tuh_channels_null_keeps_only_scalp_positions(tmp_path, adapter, window_s):
    """channels: null on a TUH file with sphenoidal, numbered, EKG, photic and burst leads keeps the 23 positions."""
    names = TUH_NAMES[:23] + TUH_EXTRAS
    if adapter == "tuab":
        write_tuh_edf(tmp_path / "edf/train/normal/01_tcp_ar/aaaaaaaa_s001_t000.edf", names=names)
    else:
        write_tuh_edf(tmp_path / "train/aaaaaaar/aaaaaaar_00000001.edf", seconds=30.0, names=names).with_suffix(
            ".rec").write_text("0,10.0,11.0,2\n")
    cfg = {"adapter": adapter, "root": str(tmp_path), "window_s": window_s, **LABRAM_CFG, "channels": None}
    run(adapter, cfg, tmp_path / "w.h5", tmp_path / "s.json")
    kept = load_windows(tmp_path / "w.h5").ch_names
    assert sorted(kept) == sorted(["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T3",
                                   "T4", "T5", "T6", "A1", "A2", "Fz", "Cz", "Pz", "T1", "T2"])  # fmt: skip


def test_tuab_find_labels_folds_subjects(tmp_path):
    root = tuab_tree(tmp_path)
    items, skipped = ADAPTERS["tuab"].find(root, {})
    assert not skipped
    assert [(i.path.name, i.subject, i.session, i.label, i.fold) for i in items] == [
        ("aaaaaaac_s001_t000.edf", "aaaaaaac", "s001", "abnormal", "test"),
        ("aaaaaaae_s003_t002.edf", "aaaaaaae", "s003", "normal", "test"),
        ("aaaaaaab_s002_t001.edf", "aaaaaaab", "s002", "abnormal", "train"),
        ("aaaaaaaa_s001_t000.edf", "aaaaaaaa", "s001", "normal", "train"),
    ]  # fmt: skip
    assert ADAPTERS["tuab"].class_names({}) == ["normal", "abnormal"]
    assert len(ADAPTERS["tuab"].find(root, {"montage_dir": "02_tcp_le"})[0]) == 1
    with pytest.raises(ValueError, match="unknown key"):
        ADAPTERS["tuab"].find(root, {"montage": "x"})


def test_tuab_stage_labram_preprocessing(tmp_path):
    root = tuab_tree(tmp_path / "tuab")
    cfg = {"adapter": "tuab", "root": str(root), "window_s": 10, **LABRAM_CFG}
    run("tuab", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    w = load_windows(tmp_path / "w.h5")
    assert w.X.shape == (2 + 2 + 3, 23, 2000) and w.sfreq == 200.0 and w.ch_names[16:18] == ["A1", "A2"]
    assert w.fold.tolist() == ["test"] * 3 + ["train"] * 4 and w.y.tolist() == [1, 1, 1, 1, 1, 0, 0]
    summary = json.loads((tmp_path / "s.json").read_text())
    (skip,) = summary["recordings"]["skipped"]
    assert skip["path"] == "edf/eval/normal/01_tcp_ar/aaaaaaae_s003_t002.edf"
    assert skip["reason"].startswith("missing channels ['T1', 'T2']")
    assert summary["windows_per_class"] == {"normal": 2, "abnormal": 5}
    assert summary["channels"]["dropped"] == ["20-REF", "EKG1-REF", "IBI", "PHOTIC-REF"]


def write_tuev(root: Path, rec_rows: str, name: str = "train/aaaaaaar/aaaaaaar_00000001") -> Path:
    edf = write_tuh_edf(root / f"{name}.edf", seconds=30.0)
    edf.with_suffix(".rec").write_text(rec_rows)
    return edf


def test_tuev_rec_to_event_windows(tmp_path):
    rows = (
        "0,10.0,11.0,1\n"  # SPSW
        "1,10.0,11.0,1\n"  # same event on another channel: one window
        "2,15.0,16.0,6\n"  # BCKG
        "3,20.0,21.0,4\n"  # EYEM
        "4,1.0,2.0,5\n"  # ARTF 1 s after the start: window would begin at -1 s, dropped
        "5,28.5,29.5,5\n"  # ARTF whose window runs past the 30-s end: dropped
    )
    write_tuev(tmp_path / "edf", rows)
    write_tuev(tmp_path / "edf", "7,5.0,6.0,3\n", name="eval/aaaaaaas/aaaaaaas_00000002")
    write_tuh_edf(tmp_path / "edf/train/aaaaaaat/aaaaaaat_00000001.edf", seconds=5)  # no .rec
    adapter = ADAPTERS["tuev"]
    items, skipped = adapter.find(tmp_path, {})
    assert [(i.subject, i.session, i.fold, i.epoch_s) for i in items] == [
        ("aaaaaaas", "00000002", "test", 5.0), ("aaaaaaar", "00000001", "train", 5.0)
    ]
    assert [s.reason for s in skipped] == ["no aaaaaaat_00000001.rec beside it"]
    raw = adapter.read(items[1], {})
    assert list(raw.annotations.description) == ["SPSW", "BCKG", "EYEM"]
    assert np.allclose(raw.annotations.onset, [8, 13, 18]) and np.allclose(raw.annotations.duration, 5)
    cfg = {"adapter": "tuev", "root": str(tmp_path), "window_s": 5, **LABRAM_CFG}
    run("tuev", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    w = load_windows(tmp_path / "w.h5")
    assert w.X.shape == (4, 23, 1000)
    assert [w.class_names[k] for k in w.y] == ["PLED", "SPSW", "BCKG", "EYEM"]
    assert w.fold.tolist() == ["test", "train", "train", "train"]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["windows_per_class"] == {"SPSW": 1, "GPED": 0, "PLED": 1, "EYEM": 1, "ARTF": 0, "BCKG": 1}


def test_tuev_bad_rec_lines(tmp_path):
    rec = tmp_path / "a_1.rec"
    rec.write_text("0,1.0,2.0,6\n0,3.0,4.0,7\n")
    with pytest.raises(RecordingError, match=r"a_1\.rec:2: unknown label code '7'"):
        read_rec(rec)
    rec.write_text("0,1.0,2.0\n")
    with pytest.raises(RecordingError, match=r"a_1\.rec:1: expected channel,start_s,end_s,label"):
        read_rec(rec)


def test_tuev_stage_skips_bad_rec_unless_strict(tmp_path):
    write_tuev(tmp_path, "0,10.0,11.0,2\n")
    write_tuev(tmp_path, "0,10.0,11.0,9\n", name="train/aaaaaaaz/aaaaaaaz_00000001")
    cfg = {"adapter": "tuev", "root": str(tmp_path), "window_s": 5, **LABRAM_CFG}
    run("tuev", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    (skip,) = json.loads((tmp_path / "s.json").read_text())["recordings"]["skipped"]
    assert skip["path"] == "train/aaaaaaaz/aaaaaaaz_00000001.edf"
    assert skip["reason"].endswith("aaaaaaaz_00000001.rec:1: unknown label code '9' (known: 1–6)")
    with pytest.raises(RecordingError, match="unknown label code '9'.*strict"):
        run("tuev", {**cfg, "strict": True}, tmp_path / "w2.h5", tmp_path / "s2.json")


@pytest.mark.parametrize(("name", "window_s"), [("tuab", 10), ("tuev", 5)])
def test_shipped_labram_config_is_valid_and_matches_the_tested_preprocessing(name, window_s):
    """configs/{tuab,tuev}.yaml validate as complete configs and hold LaBraM's preprocessing exactly."""
    import yaml

    from eegslim.config import config_errors
    from eegslim.io import normalize_name
    from smk import REPO

    cfg = yaml.safe_load((REPO / "configs" / f"{name}.yaml").read_text())
    assert config_errors(cfg, REPO / "workflow/schemas/config.schema.yaml") == []
    (key, ds), = cfg["datasets"].items()
    assert key == name and ds["adapter"] == name and ds["window_s"] == window_s
    assert ds["channels"] == [normalize_name(c) for c in LABRAM]
    assert {k: ds[k] for k in ("l_freq", "h_freq", "notch", "sfreq")} == {k: v for k, v in LABRAM_CFG.items()
                                                                          if k != "channels"}
    assert cfg["split"]["protocol"] == "official"
