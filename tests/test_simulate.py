"""The `simulate` stage: demo datasets readable with MNE, in the real layouts, seeded and stage-dependent."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import mne
import numpy as np
import pytest
from scipy.signal import welch

from eegslim.simulate import bids_rest, sleep_edf
from eegslim.stages import simulate

N_EPOCHS = 60
SLEEP_SUBJECTS = 3
BIDS_SUBJECTS = 4
DURATION_S = 20.0
REAL_HYPNOGRAM = Path(__file__).resolve().parents[2] / "shared/data/formats/edf/SC4001EC-Hypnogram.edf"


@pytest.fixture(scope="module")
def sleep_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_sleep")
    simulate.run("sleep_edf", out, n_subjects=SLEEP_SUBJECTS, seed=7, n_epochs=N_EPOCHS)
    return out


@pytest.fixture(scope="module")
def bids_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_bids")
    simulate.run("bids_rest", out, n_subjects=BIDS_SUBJECTS, seed=7, duration_s=DURATION_S)
    return out


def _pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(PSG, hypnogram) per subject, paired by the 7-character prefix `SC4ssN`."""
    hypnograms = {path.name[:7]: path for path in folder.glob("*-Hypnogram.edf")}
    return [(psg, hypnograms[psg.name[:7]]) for psg in sorted(folder.glob("*-PSG.edf"))]


def _edf_header(path: Path) -> dict[str, str]:
    head = path.read_bytes()[:256].decode("ascii")
    return {"start": head[168:184], "reserved": head[192:236].strip(), "n_signals": head[252:256].strip()}


def _files_under(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def _epochs_by_stage(psg: Path, hypnogram: Path) -> dict[str, np.ndarray]:
    """Stage description → PSG epochs (n, 3, 3000) in µV."""
    data = mne.io.read_raw_edf(psg, preload=True, verbose="error").get_data() * 1e6
    annotations = mne.read_annotations(hypnogram)
    epochs: dict[str, list[np.ndarray]] = {}
    for onset, duration, description in zip(annotations.onset, annotations.duration, annotations.description):
        for start in np.arange(onset, onset + duration, 30.0):
            epochs.setdefault(description, []).append(data[:, int(start * 100): int(start * 100) + 3000])
    return {description: np.stack(chunks) for description, chunks in epochs.items()}


def _band_power(x: np.ndarray, sfreq: float, low: float, high: float) -> float:
    freqs, psd = welch(x, sfreq, nperseg=int(2 * sfreq), axis=-1)
    return float(psd[..., (freqs >= low) & (freqs < high)].mean())


def test_psg_reads_back_with_mne(sleep_dir):
    pairs = _pairs(sleep_dir)
    assert [psg.name for psg, _ in pairs] == [f"SC4{s:02d}1E0-PSG.edf" for s in range(SLEEP_SUBJECTS)]
    for psg, _ in pairs:
        raw = mne.io.read_raw_edf(psg, preload=True, verbose="error")
        assert raw.ch_names == ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]
        assert raw.info["sfreq"] == 100.0
        assert raw.n_times == N_EPOCHS * 3000
        eeg_std_uv = raw.get_data(picks=["EEG Fpz-Cz", "EEG Pz-Oz"]).std(axis=1) * 1e6
        assert np.all((eeg_std_uv > 5) & (eeg_std_uv < 150))
        assert _edf_header(psg)["reserved"] == "EDF+C"


def test_hypnogram_is_annotations_only_edf_plus_like_the_real_one(sleep_dir):
    allowed = set(sleep_edf.STAGE_DESCRIPTIONS.values())
    for psg, hypnogram in _pairs(sleep_dir):
        header = _edf_header(hypnogram)
        assert header["reserved"] == "EDF+C" and header["n_signals"] == "1"  # only the annotation signal
        assert header["start"] == _edf_header(psg)["start"]  # dd.mm.yyhh.mm.ss
        annotations = mne.read_annotations(hypnogram)
        assert set(annotations.description) <= allowed
        assert np.all(annotations.duration % 30 == 0) and np.all(annotations.onset % 30 == 0)
        assert annotations.onset[0] == 0 and np.array_equal(annotations.onset[1:], np.cumsum(annotations.duration)[:-1])
        assert annotations.duration.sum() == N_EPOCHS * 30
        assert all(a != b for a, b in zip(annotations.description, annotations.description[1:]))  # merged runs
        assert annotations.description[0] == "Sleep stage W" and annotations.description[-1] == "Sleep stage ?"
        assert {"Sleep stage 2", "Sleep stage R"} <= set(annotations.description)
    if REAL_HYPNOGRAM.exists():
        real = _edf_header(REAL_HYPNOGRAM)
        assert (real["reserved"], real["n_signals"]) == (header["reserved"], header["n_signals"])


def test_hypnogram_suffix_letters_differ_between_subjects(sleep_dir):
    letters = [hypnogram.name[7] for _, hypnogram in _pairs(sleep_dir)]
    assert len(letters) == SLEEP_SUBJECTS and len(set(letters)) == SLEEP_SUBJECTS


def test_stage_signatures_in_the_signal(sleep_dir):
    epochs = {"Sleep stage W": [], "Sleep stage 2": [], "Sleep stage 3": [], "Sleep stage R": []}
    for psg, hypnogram in _pairs(sleep_dir):
        for stage, chunk in _epochs_by_stage(psg, hypnogram).items():
            if stage in epochs:
                epochs[stage].append(chunk)
    wake, light, deep, rem = (np.concatenate(epochs[stage]) for stage in epochs)
    assert _band_power(deep[:, 0], 100, 0.5, 2) > 3 * _band_power(wake[:, 0], 100, 0.5, 2)  # slow waves at Fpz-Cz
    assert _band_power(wake[:, 1], 100, 8, 12) > 3 * _band_power(deep[:, 1], 100, 8, 12)  # alpha at Pz-Oz
    assert _band_power(wake[:, 1], 100, 8, 12) > _band_power(wake[:, 0], 100, 8, 12)  # alpha is posterior
    assert _band_power(light[:, 0], 100, 12, 16) > 3 * _band_power(rem[:, 0], 100, 12, 16)  # spindles in N2
    assert _band_power(rem[:, 2], 100, 0.3, 3) > 1.5 * _band_power(light[:, 2], 100, 0.3, 3)  # saccades in EOG
    assert _band_power(wake[:, 2], 100, 20, 45) > 2 * _band_power(rem[:, 2], 100, 20, 45)  # REM atonia


def test_hypnogram_model_is_a_plausible_night():
    stages = sleep_edf.hypnogram(np.random.default_rng(0), 150)
    assert len(stages) == 150 and stages[0] == "W" and stages[-1] == "?"
    first_sleep = next(i for i, stage in enumerate(stages) if stage != "W")
    assert stages[first_sleep] == "1"
    deep = [i for i, stage in enumerate(stages) if stage in "34"]
    rem = [i for i, stage in enumerate(stages) if stage == "R"]
    assert deep and rem and np.mean(deep) < np.mean(rem)  # deep sleep early, REM late


def test_bids_tree_has_the_ds004902_files(bids_dir):
    expected = {"dataset_description.json", "participants.tsv", "participants.json", "demo.json"}
    for subject in range(1, BIDS_SUBJECTS + 1):
        for session in (1, 2):
            stem = f"sub-{subject:02d}/ses-{session}/eeg/sub-{subject:02d}_ses-{session}_task-eyesopen"
            expected |= {f"{stem}_eeg.set", f"{stem}_eeg.fdt", f"{stem}_eeg.json", f"{stem}_channels.tsv"}
    assert _files_under(bids_dir) == expected  # and no temporary files left behind
    with open(bids_dir / "participants.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert [row["participant_id"] for row in rows] == [f"sub-{s:02d}" for s in range(1, BIDS_SUBJECTS + 1)]
    assert sorted(row["SessionOrder"] for row in rows) == ["NS->SD"] * 2 + ["SD->NS"] * 2
    stem = bids_dir / "sub-01/ses-2/eeg/sub-01_ses-2_task-eyesopen"
    with open(f"{stem}_channels.tsv", encoding="utf-8") as fh:
        channels = list(csv.DictReader(fh, delimiter="\t"))
    assert [c["name"] for c in channels] == list(bids_rest.CHANNELS)
    assert {(c["type"], c["units"]) for c in channels} == {("EEG", "uV")}
    sidecar = json.loads(Path(f"{stem}_eeg.json").read_text())
    assert (sidecar["SamplingFrequency"], sidecar["EEGChannelCount"]) == (250.0, 19)
    assert sidecar["PowerLineFrequency"] == 50.0
    assert sidecar["RecordingDuration"] == DURATION_S and sidecar["EEGReference"] == "FCz"


def test_eeglab_pair_reads_back_with_the_generated_samples(bids_dir):
    set_path = bids_dir / "sub-02/ses-1/eeg/sub-02_ses-1_task-eyesopen_eeg.set"
    fdt_path = set_path.with_suffix(".fdt")
    assert fdt_path.stat().st_size == 4 * 19 * int(DURATION_S * 250)
    raw = mne.io.read_raw_eeglab(set_path, preload=True, verbose="error")
    assert raw.ch_names == list(bids_rest.CHANNELS) and raw.info["sfreq"] == 250.0
    assert raw.n_times == DURATION_S * 250
    traits = bids_rest.SubjectTraits.draw(np.random.default_rng([7, 1]))
    expected = bids_rest.recording_signals(np.random.default_rng([7, 1, 1]), traits, False, DURATION_S, 250.0)
    np.testing.assert_allclose(raw.get_data() * 1e6, expected, rtol=1e-5, atol=1e-4)  # order and µV scale


def test_sleep_deprivation_shifts_theta_over_alpha(bids_dir):
    log_ratio = {}
    for set_path in sorted(bids_dir.rglob("*_eeg.set")):
        data = mne.io.read_raw_eeglab(set_path, preload=True, verbose="error").get_data() * 1e6
        log_ratio[set_path.name] = np.log(_band_power(data, 250, 4, 8) / _band_power(data, 250, 8, 13))
    shifts = [log_ratio[name.replace("ses-1", "ses-2")] - value for name, value in log_ratio.items() if "ses-1" in name]
    assert len(shifts) == BIDS_SUBJECTS and np.mean(shifts) > 0.1
    assert max(shifts) - min(shifts) > 0.2  # the effect size differs between subjects


def test_demo_json_lists_the_dataset(sleep_dir, bids_dir):
    for folder, kind, params in ((sleep_dir, "sleep_edf", {"n_epochs": N_EPOCHS}),
                                 (bids_dir, "bids_rest", {"duration_s": DURATION_S})):
        marker = json.loads((folder / "demo.json").read_text())
        assert (marker["kind"], marker["seed"], marker["params"]) == (kind, 7, params)
        assert marker["files"] == sorted(_files_under(folder) - {"demo.json"})


@pytest.mark.parametrize(("kind", "params"), [("sleep_edf", {"n_epochs": 40}), ("bids_rest", {"duration_s": 10.0})])
def test_same_seed_same_bytes_other_seed_other_data(tmp_path, kind, params):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        simulate.run(kind, tmp_path / name, n_subjects=2, seed=seed, **params)
    files = _files_under(tmp_path / "a")
    assert files == _files_under(tmp_path / "b")
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    data_suffix = "-PSG.edf" if kind == "sleep_edf" else ".fdt"
    data_files = sorted(name for name in files if name.endswith(data_suffix))
    assert data_files and all((tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()
                              for name in data_files)


def test_unknown_kind_and_bad_params_raise(tmp_path):
    with pytest.raises(ValueError, match="'tuab'"):
        simulate.run("tuab", tmp_path, n_subjects=2, seed=0)
    with pytest.raises(ValueError, match="n_epochs"):
        simulate.run("sleep_edf", tmp_path, n_subjects=2, seed=0, n_epochs=10)
    assert not (tmp_path / "demo.json").exists()
