"""SEED (Zheng & Lu, IEEE TAMD 2015), `Preprocessed_EEG/`: 15 subjects × 3 sessions × 15 film clips, 62 ch, 200 Hz.

Files in `root` (or in `root/Preprocessed_EEG`): 45 MATLAB v5 files `{subject}_{YYYYMMDD}.mat`, each holding 15
arrays `<initials>_eeg1 … <initials>_eeg15` (62 channels × samples, about 4 min each), and `label.mat` whose
`label` is the clips' emotion, the same in every session: 1 positive, 0 neutral, −1 negative. SEED downsampled
to 200 Hz and band-passed 0–75 Hz. Channels in the order of SEED's `channel-order` file (`CHANNELS`).

Each clip (trial) is one recording (`1_20131027.mat#trial-01`) labelled as a whole, so its sliding windows
stay together. Subject = the number before `_`, session = the date. Files are listed with `scipy.io.whosmat`
(names and shapes only); one trial at a time is read with `scipy.io.loadmat`. A file without the 15 trial
arrays is skipped with the reason (fatal under `strict`).

Option `unit_scale`: volts per stored unit, default 1e-6 (µV; SEED's readme names no unit, check it on the data).

Published protocol (`split.protocol: official`): Zheng & Lu's within-subject split, trials 1–9 of each session
train and 10–15 test (the `fold` column). Every subject is in train and test, and this pipeline fits one model
on all subjects' training trials, where the paper fits one per subject and session: not a subject-wise result.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mne
import numpy as np
import scipy.io
from scipy.io.matlab import MatReadError

from eegslim.datasets import Adapter, RecordingItem, Skipped, check_options
from eegslim.io import RecordingError

log = logging.getLogger(__name__)

SFREQ = 200.0
CHANNELS = (
    "FP1", "FPZ", "FP2", "AF3", "AF4", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8", "FT7", "FC5", "FC3",
    "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "T7", "C5", "C3", "C1", "CZ", "C2", "C4", "C6", "T8", "TP7", "CP5",
    "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6", "TP8", "P7", "P5", "P3", "P1", "PZ", "P2", "P4", "P6", "P8", "PO7",
    "PO5", "PO3", "POZ", "PO4", "PO6", "PO8", "CB1", "O1", "OZ", "O2", "CB2",
)  # fmt: skip
N_TRIALS = 15
TRAIN_TRIALS = 9  # published protocol: trials 1-9 of each session train, 10-15 test
LABELS = {-1: "negative", 0: "neutral", 1: "positive"}  # label.mat value → class name
CLASSES = [LABELS[k] for k in sorted(LABELS)]
FOLDER = "Preprocessed_EEG"
LABEL_FILE = "label.mat"
_OPTIONS = {"unit_scale"}
_FILE = re.compile(r"^(?P<subject>\d+)_(?P<date>\d{8})\.mat$")
_TRIAL = re.compile(r"^(?P<initials>[A-Za-z]+)_eeg(?P<trial>\d+)$")
# What scipy raises on a damaged file (IndexError: a short header; NotImplementedError: a v7.3 HDF5 file).
_MAT_ERRORS = (MatReadError, ValueError, TypeError, IndexError, OSError, EOFError, NotImplementedError)
CAVEAT = (
    "within-subject: trials 1-9 of every session train, 10-15 test, so every subject and session is in train "
    "and test (Zheng & Lu 2015 fit one model per subject and session; here one model fits all subjects)"
)


def _unit_scale(options: Mapping[str, Any]) -> float:
    check_options(options, _OPTIONS, "seed")
    scale = options.get("unit_scale", 1e-6)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
        raise ValueError(f"options.unit_scale: volts per stored unit, a positive number, got {scale!r}")
    return float(scale)


def class_names(options: Mapping[str, Any]) -> list[str]:
    """['negative', 'neutral', 'positive']: class id = label.mat value + 1 (as TorchEEG)."""
    _unit_scale(options)
    return list(CLASSES)


def read_labels(path: Path) -> list[str]:
    """Class name of trials 1-15 from label.mat; ValueError naming the file if it is missing or malformed."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file (SEED's clip labels; it ships in Preprocessed_EEG/)")
    try:
        labels = scipy.io.loadmat(path).get("label")
    except _MAT_ERRORS as err:
        raise ValueError(f"{path}: not a readable MATLAB file ({type(err).__name__}: {err})") from err
    values = None if labels is None else np.asarray(labels).ravel()
    if values is None or len(values) != N_TRIALS or not set(values.tolist()) <= set(LABELS):
        raise ValueError(f"{path}: expected `label` with {N_TRIALS} values in {sorted(LABELS)}, got "
                         f"{'no `label`' if values is None else values.tolist()}")  # fmt: skip
    return [LABELS[int(v)] for v in values]


def trial_keys(path: Path) -> dict[int, str]:
    """{trial number 1-15: variable name} of one session file, from its header; ValueError naming the problem."""
    try:
        variables = scipy.io.whosmat(path)
    except _MAT_ERRORS as err:
        raise ValueError(f"{path}: not a readable MATLAB v5 file ({type(err).__name__}: {err})") from err
    keys: dict[int, str] = {}
    for name, shape, _ in variables:
        if not (m := _TRIAL.match(name)):
            continue
        trial = int(m.group("trial"))
        if trial in keys:
            raise ValueError(f"{path}: two arrays for trial {trial}: {keys[trial]}, {name}")
        if len(shape) != 2 or shape[0] != len(CHANNELS) or shape[1] < 1:
            raise ValueError(f"{path}: {name} is {shape}, expected ({len(CHANNELS)} channels, samples)")
        keys[trial] = name
    missing = sorted(set(range(1, N_TRIALS + 1)) - set(keys))
    if missing:
        names = [name for name, _, _ in variables]
        raise ValueError(f"{path}: no arrays <initials>_eeg{{n}} for trials {missing} (variables: {names})")
    return {t: keys[t] for t in range(1, N_TRIALS + 1)}


def _files(root: Path) -> tuple[Path, list[Path]]:
    """(the data folder, its .mat files other than label.mat)."""
    folder = root / FOLDER if (root / FOLDER).is_dir() else root
    return folder, sorted(p for p in folder.glob("*.mat") if p.name != LABEL_FILE)


def find(root: Path, options: Mapping[str, Any]) -> tuple[list[RecordingItem], list[Skipped]]:
    """One item per trial of every `{subject}_{date}.mat`; fold 'train' for trials 1-9, 'test' for 10-15."""
    _unit_scale(options)
    folder, files = _files(root)
    if not files:
        return [], []
    labels = read_labels(folder / LABEL_FILE)
    items, skipped = [], []
    for path in sorted(files, key=lambda p: (len(p.name), p.name)):  # 1_, 2_, ..., 10_
        if not (m := _FILE.match(path.name)):
            skipped.append(Skipped(path, "name does not follow {subject}_{YYYYMMDD}.mat"))
            continue
        try:
            keys = trial_keys(path)
        except ValueError as err:
            skipped.append(Skipped(path, str(err).removeprefix(f"{path}: ")))
            continue
        rel = path.relative_to(root).as_posix()
        for trial, key in keys.items():
            items.append(RecordingItem(
                path=root / f"{rel}#trial-{trial:02d}", subject=m.group("subject"), session=m.group("date"),
                sources=(path,), label=labels[trial - 1], fold="train" if trial <= TRAIN_TRIALS else "test",
                extra={"file": path, "key": key},
            ))  # fmt: skip
    return items, skipped


def read(item: RecordingItem, options: Mapping[str, Any]) -> mne.io.BaseRaw:
    """One trial as a RawArray (62 channels at 200 Hz) in volts; only its array is read from the file."""
    path, key = item.extra["file"], item.extra["key"]
    try:
        x = scipy.io.loadmat(path, variable_names=[key])[key]
    except (*_MAT_ERRORS, KeyError) as err:
        raise RecordingError(f"{item.path}: cannot read {key} from {path.name} ({type(err).__name__}: {err})") from err
    info = mne.create_info(list(CHANNELS), SFREQ, "eeg")
    return mne.io.RawArray(np.asarray(x, dtype=np.float64) * _unit_scale(options), info, verbose="error")


def protocol(options: Mapping[str, Any]) -> dict[str, Any]:
    """Zheng & Lu's within-subject split (the `fold` column), labelled as sharing subjects."""
    return {
        "name": "within-subject",
        "split": f"trials 1-{TRAIN_TRIALS} train, {TRAIN_TRIALS + 1}-{N_TRIALS} test, per session",
        "description": f"SEED's published within-subject protocol (Zheng & Lu 2015): in every session trials "
        f"1-{TRAIN_TRIALS} train and {TRAIN_TRIALS + 1}-{N_TRIALS} test",
        "caveat": CAVEAT,
    }


ADAPTER = Adapter(name="seed", find=find, class_names=class_names, read=read, protocol=protocol)
