"""The `simulate` stage: demo datasets in the real layouts (MNE-readable, weights_only .pth), seeded, learnable."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import mne
import numpy as np
import pytest
import torch
from scipy.signal import welch

from eegslim.simulate import bids_rest, eeg_imagenet, sleep_edf
from eegslim.stages import simulate

N_EPOCHS = 60
SLEEP_SUBJECTS = 3
BIDS_SUBJECTS = 4
DURATION_S = 20.0
BIDS_SFREQ = 500.0
DS004902_CHANNELS = ("Fp1 AF3 AF7 Fz F1 F3 F5 F7 FC1 FC3 FC5 FT7 Cz C1 C3 C5 T7 CP1 CP3 CP5 TP7 TP9 Pz P1 P3 P5 P7 PO3 "
                     "PO7 Oz O1 Fpz Fp2 AF4 AF8 F2 F4 F6 F8 FC2 FC4 FC6 FT8 C2 C4 C6 T8 CPz CP2 CP4 CP6 TP8 TP10 P2 P4 "
                     "P6 P8 POz PO4 PO8 O2")
IMAGENET_SUBJECTS = 3
TRIALS_PER_CLASS = 2
SPAMPINATO_SUBJECTS = 2
IMAGES_PER_CLASS = 2
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


@pytest.fixture(scope="module")
def imagenet_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_imagenet")
    simulate.run("eeg_imagenet_2024", out, n_subjects=IMAGENET_SUBJECTS, seed=7, trials_per_class=TRIALS_PER_CLASS)
    return out


@pytest.fixture(scope="module")
def spampinato_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_spampinato")
    simulate.run("eeg_imagenet_2020", out, n_subjects=SPAMPINATO_SUBJECTS, seed=7, images_per_class=IMAGES_PER_CLASS)
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
    assert [c["name"] for c in channels] == DS004902_CHANNELS.split()  # FCz is the reference: absent
    assert {(c["type"], c["units"]) for c in channels} == {("EEG", "uV")}
    sidecar = json.loads(Path(f"{stem}_eeg.json").read_text())
    assert (sidecar["SamplingFrequency"], sidecar["EEGChannelCount"]) == (BIDS_SFREQ, 61)
    assert sidecar["PowerLineFrequency"] == 50.0
    assert sidecar["RecordingDuration"] == DURATION_S and sidecar["EEGReference"] == "FCz"


def test_eeglab_pair_reads_back_with_the_generated_samples(bids_dir):
    set_path = bids_dir / "sub-02/ses-1/eeg/sub-02_ses-1_task-eyesopen_eeg.set"
    fdt_path = set_path.with_suffix(".fdt")
    assert fdt_path.stat().st_size == 4 * 61 * int(DURATION_S * BIDS_SFREQ)
    raw = mne.io.read_raw_eeglab(set_path, preload=True, verbose="error")
    assert raw.ch_names == list(bids_rest.CHANNELS) and raw.info["sfreq"] == BIDS_SFREQ
    assert raw.n_times == DURATION_S * BIDS_SFREQ
    traits = bids_rest.SubjectTraits.draw(np.random.default_rng([7, 1]))
    expected = bids_rest.recording_signals(np.random.default_rng([7, 1, 1]), traits, False, DURATION_S, BIDS_SFREQ)
    np.testing.assert_allclose(raw.get_data() * 1e6, expected, rtol=1e-5, atol=1e-4)  # order and µV scale


def test_sleep_deprivation_shifts_theta_over_alpha(bids_dir):
    log_ratio = {}
    for set_path in sorted(bids_dir.rglob("*_eeg.set")):
        data = mne.io.read_raw_eeglab(set_path, preload=True, verbose="error").get_data() * 1e6
        log_ratio[set_path.name] = np.log(_band_power(data, BIDS_SFREQ, 4, 8) / _band_power(data, BIDS_SFREQ, 8, 13))
    shifts = [log_ratio[name.replace("ses-1", "ses-2")] - value for name, value in log_ratio.items() if "ses-1" in name]
    assert len(shifts) == BIDS_SUBJECTS and np.mean(shifts) > 0.1
    assert max(shifts) - min(shifts) > 0.2  # the effect size differs between subjects


def test_demo_json_lists_the_dataset(sleep_dir, bids_dir, imagenet_dir, spampinato_dir):
    for folder, kind, params in ((sleep_dir, "sleep_edf", {"n_epochs": N_EPOCHS}),
                                 (bids_dir, "bids_rest", {"duration_s": DURATION_S}),
                                 (imagenet_dir, "eeg_imagenet_2024", {"trials_per_class": TRIALS_PER_CLASS}),
                                 (spampinato_dir, "eeg_imagenet_2020", {"images_per_class": IMAGES_PER_CLASS})):
        marker = json.loads((folder / "demo.json").read_text())
        assert (marker["kind"], marker["seed"], marker["params"]) == (kind, 7, params)
        assert marker["files"] == sorted(_files_under(folder) - {"demo.json"})


@pytest.mark.parametrize(("kind", "params"), [
    ("sleep_edf", {"n_epochs": 40}), ("bids_rest", {"duration_s": 10.0}),
    ("eeg_imagenet_2024", {"trials_per_class": 1}), ("eeg_imagenet_2020", {"images_per_class": 1})])
def test_same_seed_same_bytes_other_seed_other_data(tmp_path, kind, params):
    """Byte-identical files for one seed, torch.save's zips included (written via a buffer: no name or time inside)."""
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        simulate.run(kind, tmp_path / name, n_subjects=2, seed=seed, **params)
    files = _files_under(tmp_path / "a")
    assert files == _files_under(tmp_path / "b")
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    data_suffix = {"sleep_edf": "-PSG.edf", "bids_rest": ".fdt", "eeg_imagenet_2024": ".pth"}.get(kind, "_std.pth")
    data_files = sorted(name for name in files if name.endswith(data_suffix))
    assert data_files and all((tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()
                              for name in data_files)


def test_unknown_kind_and_bad_params_raise(tmp_path):
    with pytest.raises(ValueError, match="'tuab'"):
        simulate.run("tuab", tmp_path, n_subjects=2, seed=0)
    with pytest.raises(ValueError, match="n_epochs"):
        simulate.run("sleep_edf", tmp_path, n_subjects=2, seed=0, n_epochs=10)
    with pytest.raises(ValueError, match="n_subjects"):
        simulate.run("eeg_imagenet_2024", tmp_path, n_subjects=1, seed=0)  # one subject cannot fill two parts
    with pytest.raises(TypeError, match="trials_per_class"):
        simulate.run("eeg_imagenet_2020", tmp_path, n_subjects=1, seed=0, trials_per_class=3)
    assert not (tmp_path / "demo.json").exists()


def _load(path: Path) -> dict:
    return torch.load(path, weights_only=True)  # builtins and tensors only, like the published files should be


def _f_ratio(features: np.ndarray, labels: np.ndarray) -> float:
    """Variance of class means over the variance trial noise alone gives a class mean (≈ 1 without a class effect)."""
    classes = np.unique(labels)
    means = np.stack([features[labels == c].mean(0) for c in classes])
    noise = np.mean([features[labels == c].var(0, ddof=1).mean() / (labels == c).sum() for c in classes])
    return float(means.var(0, ddof=1).mean() / noise)


def _binned(eeg: torch.Tensor, rows: list[int], start: int, stop: int) -> np.ndarray:
    """Rows of `eeg` between samples start:stop, averaged in 20-ms bins (a low-pass), flattened."""
    return eeg[rows, start:stop].numpy().reshape(len(rows), -1, 20).mean(-1).ravel()


def test_eeg_imagenet_files_have_the_published_structure(imagenet_dir):
    parts = [_load(imagenet_dir / f"EEG-ImageNet_{part}.pth") for part in (1, 2)]
    labels, images = parts[0]["labels"], parts[0]["images"]
    assert all(set(part) == {"dataset", "labels", "images"} for part in parts)
    assert parts[1]["labels"] == labels and parts[1]["images"] == images
    assert len(labels) == len(set(labels)) == 80 and all(re.fullmatch(r"n\d{8}", wnid) for wnid in labels)
    assert [{entry["subject"] for entry in part["dataset"]} for part in parts] == [{0, 1}, {2}]  # first half in part 1
    entries = parts[0]["dataset"] + parts[1]["dataset"]
    assert len(entries) == IMAGENET_SUBJECTS * 80 * TRIALS_PER_CLASS
    for entry in entries:
        assert list(entry) == ["eeg_data", "label", "granularity", "subject", "image"]
        assert entry["eeg_data"].dtype == torch.float32 and entry["eeg_data"].shape == (62, 501)
        assert type(entry["subject"]) is int and entry["image"].endswith(".JPEG")
        assert entry["image"].split("_")[0] == entry["label"] and entry["image"] in images
        assert entry["granularity"] == ("fine" if labels.index(entry["label"]) < 40 else "coarse")
    assert len(images) == len(set(images)) == 80 * TRIALS_PER_CLASS
    for group in range(5):  # the official `fine{k}` selector: 8 classes of one group
        fine = {e["label"] for e in entries if e["granularity"] == "fine" and labels.index(e["label"]) in
                range(8 * group, 8 * group + 8)}
        assert fine == set(labels[8 * group: 8 * group + 8])
    std_volts = np.array([entry["eeg_data"].std().item() for entry in entries])
    assert np.all((std_volts > 2e-6) & (std_volts < 2e-4))  # volts, not µV


def test_eeg_imagenet_trials_come_in_class_blocks(imagenet_dir):
    entries = [e for part in (1, 2) for e in _load(imagenet_dir / f"EEG-ImageNet_{part}.pth")["dataset"]]
    for subject in range(IMAGENET_SUBJECTS):
        mine = [e for e in entries if e["subject"] == subject]
        blocks = [mine[i: i + TRIALS_PER_CLASS] for i in range(0, len(mine), TRIALS_PER_CLASS)]
        assert all(len({e["label"] for e in block}) == 1 for block in blocks)
        assert len({block[0]["label"] for block in blocks}) == 80  # every class once, in one block
        assert len({e["image"] for e in mine}) == len(mine)  # every image once per subject
    orders = [[e["label"] for e in entries if e["subject"] == s][::TRIALS_PER_CLASS] for s in range(2)]
    assert orders[0] != orders[1]  # block order differs between subjects: class is not confounded with time


def test_eeg_imagenet_class_is_in_the_evoked_response(imagenet_dir):
    labels = _load(imagenet_dir / "EEG-ImageNet_1.pth")["labels"]
    entries = [e for part in (1, 2) for e in _load(imagenet_dir / f"EEG-ImageNet_{part}.pth")["dataset"]]
    rows = [i for i, name in enumerate(eeg_imagenet.CHANNELS) if name.startswith(("O", "PO", "CB"))]
    x = np.stack([_binned(e["eeg_data"], rows, 40, 440) for e in entries]) * 1e6  # the official 40:440 crop
    y = np.array([labels.index(e["label"]) for e in entries])
    subjects = np.array([e["subject"] for e in entries])
    assert _f_ratio(x, y) > 1.3
    assert _f_ratio(x, np.random.default_rng(0).permutation(y)) < 1.2
    # The fine group transfers to an unseen subject (nearest class-mean, 5-way): learnable, yet far from perfect.
    group = y // 8
    train, test = (y < 40) & (subjects < 2), (y < 40) & (subjects == 2)
    centroids = np.stack([x[train & (group == g)].mean(0) for g in range(5)])
    predicted = np.argmin(((x[test][:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    assert 0.3 < np.mean(predicted == group[test]) < 0.95  # chance: 0.2


def test_spampinato_file_has_the_published_structure(spampinato_dir):
    data = _load(spampinato_dir / "eeg_5_95_std.pth")
    assert set(data) == {"dataset", "labels", "images"}
    labels, images, entries = data["labels"], data["images"], data["dataset"]
    assert len(labels) == len(set(labels)) == 40 and len(images) == len(set(images)) == 40 * IMAGES_PER_CLASS
    assert all(re.fullmatch(r"n\d{8}_\d+", name) for name in images)
    assert len(entries) == SPAMPINATO_SUBJECTS * len(images)
    for entry in entries:
        assert list(entry) == ["eeg", "image", "label", "subject"]
        assert all(type(entry[key]) is int for key in ("image", "label", "subject"))
        assert entry["eeg"].dtype == torch.float32 and entry["eeg"].shape[0] == 128
        assert labels[entry["label"]] == images[entry["image"]].split("_")[0]
    assert {e["subject"] for e in entries} == set(range(1, SPAMPINATO_SUBJECTS + 1))
    for subject in range(1, SPAMPINATO_SUBJECTS + 1):
        assert sorted(e["image"] for e in entries if e["subject"] == subject) == list(range(len(images)))
    lengths = np.array([e["eeg"].shape[1] for e in entries])
    assert lengths.min() >= 440 and lengths.max() <= 620
    assert np.sum(lengths < 450) >= 1 and np.sum(lengths > 600) >= 1  # exercise the 450–600 length filter
    samples = torch.cat([e["eeg"] for e in entries], dim=1)
    assert samples.mean(1).abs().max() < 1e-3 and torch.allclose(samples.std(1), torch.ones(128), atol=1e-3)


def test_spampinato_splits_are_disjoint_by_image(spampinato_dir):
    entries = _load(spampinato_dir / "eeg_5_95_std.pth")["dataset"]
    splits = _load(spampinato_dir / "block_splits_by_image_all.pth")
    assert set(splits) == {"splits"} and len(splits["splits"]) == 6
    n_images = 40 * IMAGES_PER_CLASS
    for split in splits["splits"]:
        assert list(split) == ["train", "val", "test"]
        indices = split["train"] + split["val"] + split["test"]
        assert sorted(indices) == list(range(len(entries)))  # disjoint and covering every segment
        images = {part: {entries[i]["image"] for i in split[part]} for part in split}
        assert not (images["train"] & images["val"] or images["train"] & images["test"]
                    or images["val"] & images["test"])
        held = round(0.1 * n_images)
        assert [len(images[part]) for part in split] == [n_images - 2 * held, held, held]
    assert len({tuple(split["test"]) for split in splits["splits"]}) == 6


def test_spampinato_class_is_in_the_evoked_response(spampinato_dir):
    entries = _load(spampinato_dir / "eeg_5_95_std.pth")["dataset"]
    rows = list(np.flatnonzero(eeg_imagenet.spiral_xy(128)[:, 1] < -0.4))  # the back of the cap
    x = np.stack([_binned(e["eeg"], rows, 20, 440) for e in entries])
    y = np.array([e["label"] for e in entries])
    assert _f_ratio(x, y) > 1.3
    assert _f_ratio(x, np.random.default_rng(0).permutation(y)) < 1.2
