"""DEAP (Koelstra et al., IEEE TAC 2012), preprocessed Python release: 32 subjects × 40 music-video trials, 128 Hz.

Files: `data_preprocessed_python/s01.dat … s32.dat` under `root` (or `root` is that folder), one per subject;
each a Python-2 pickle {'data': (40 trials, 40 channels, 8064 samples) float, 'labels': (40, 4) float} read
with `eegslim.io.pth.load_restricted_pickle` (numpy arrays only; anything else is refused, naming the global).
DEAP already downsampled to 128 Hz, removed EOG artefacts, band-passed 4–45 Hz and re-referenced to the common
average. Channels 0–31: EEG in the Geneva order (`CHANNELS`); 32–39: peripheral (`PERIPHERAL`). Samples: 3 s
pre-trial baseline (384 samples) + 60 s of video. Amplitudes in µV; windows are read in volts.

Each trial is one recording (`…/s01.dat#trial-01`) labelled as a whole, so its sliding windows stay
together in one part of any split by recording or subject. Subject = file ('s01'), session '1'.

Options:
- `target`: `valence` (default) | `arousal` | `dominance` | `liking`: the rating (1–9) binarised at `threshold`.
- `classes`: 2 (default) or 4: the valence × arousal quadrants (`target` then not allowed).
- `threshold`: default 5.0; a rating `>=` threshold is the high class (TorchEEG's `Binary(5.0)`). Class names
  carry the rule, e.g. 'valence<5' / 'valence>=5', so every result records it.
- `baseline`: `subtract` (default: each channel's mean over the 3-s baseline is subtracted, then the baseline
  is dropped) | `drop` | `keep` (the baseline stays in the recording, labelled like the trial).
- `peripheral`: false (default) | true: add the 8 peripheral channels (typed eog/emg/gsr/resp/bio/temperature,
  scaled like EEG although DEAP gives GSR, respiration, plethysmograph and temperature in their own units);
  list them in `channels` to keep them (`channels: null` keeps EEG only).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mne
import numpy as np

from eegslim.datasets import Adapter, RecordingItem, Skipped, check_options, choice_option
from eegslim.io import RecordingError
from eegslim.io.pth import load_restricted_pickle

log = logging.getLogger(__name__)

SFREQ = 128.0
BASELINE_SAMPLES = 384  # 3 s pre-trial baseline at 128 Hz
UNIT = 1e-6  # volts per stored unit (µV)
CHANNELS = (
    "Fp1", "AF3", "F3", "F7", "FC5", "FC1", "C3", "T7", "CP5", "CP1", "P3", "P7", "PO3", "O1", "Oz", "Pz",
    "Fp2", "AF4", "Fz", "F4", "F8", "FC6", "FC2", "Cz", "C4", "T8", "CP6", "CP2", "P4", "P8", "PO4", "O2",
)  # fmt: skip
PERIPHERAL = {
    "hEOG": "eog", "vEOG": "eog", "zEMG": "emg", "tEMG": "emg", "GSR": "gsr", "Respiration belt": "resp",
    "Plethysmograph": "bio", "Temperature": "temperature",
}  # fmt: skip
N_CHANNELS = len(CHANNELS) + len(PERIPHERAL)
RATINGS = ("valence", "arousal", "dominance", "liking")  # columns of 'labels'
BASELINES = ("subtract", "drop", "keep")
FOLDER = "data_preprocessed_python"
_OPTIONS = {"target", "classes", "threshold", "baseline", "peripheral"}
_FILE = re.compile(r"^s\d{2}\.dat$")


def _labelling(options: Mapping[str, Any]) -> tuple[str | None, int, float]:
    """(target or None for quadrants, number of classes, threshold), checked."""
    check_options(options, _OPTIONS, "deap")
    classes = options.get("classes", 2)
    if classes not in (2, 4):
        raise ValueError(f"options.classes: 2 (one rating binarised) or 4 (valence × arousal), got {classes!r}")
    threshold = options.get("threshold", 5.0)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 1 <= threshold <= 9:
        raise ValueError(f"options.threshold: a rating between 1 and 9, got {threshold!r}")
    if classes == 4:
        if "target" in options:
            raise ValueError("options.target: not used with classes: 4 (the quadrants of valence × arousal)")
        return None, 4, float(threshold)
    target = options.get("target", "valence")
    if target not in RATINGS:
        raise ValueError(f"options.target: {target!r} is not one of {list(RATINGS)}")
    return target, 2, float(threshold)


def _baseline(options: Mapping[str, Any]) -> str:
    return choice_option(options, "baseline", "subtract", BASELINES)


def _channels(options: Mapping[str, Any]) -> dict[str, str]:
    """Channel name → MNE type of the channels read: the 32 EEG, plus the peripheral ones if asked."""
    peripheral = options.get("peripheral", False)
    if not isinstance(peripheral, bool):
        raise ValueError(f"options.peripheral: true or false, got {peripheral!r}")
    return dict.fromkeys(CHANNELS, "eeg") | (PERIPHERAL if peripheral else {})


def class_names(options: Mapping[str, Any]) -> list[str]:
    """'valence<5', 'valence>=5' (2 classes) or the 4 quadrants 'valence<5 arousal<5' … 'valence>=5 arousal>=5'."""
    target, classes, t = _labelling(options)
    if classes == 2:
        return [f"{target}<{t:g}", f"{target}>={t:g}"]
    return [f"valence{v}{t:g} arousal{a}{t:g}" for v in ("<", ">=") for a in ("<", ">=")]


def class_ids(ratings: np.ndarray, options: Mapping[str, Any]) -> np.ndarray:
    """Class id per trial from ratings (n, 4) [valence, arousal, dominance, liking]: rating >= threshold is high."""
    target, classes, threshold = _labelling(options)
    high = (ratings >= threshold).astype(np.int64)
    return 2 * high[:, 0] + high[:, 1] if classes == 4 else high[:, RATINGS.index(target)]


def _numeric(x: Any) -> bool:
    return isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.number)


@functools.lru_cache(maxsize=1)  # one subject, about 100 MB
def _load_cached(path: Path, mtime_ns: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """`load_subject`'s work; mtime and size make a rewritten file a new entry."""
    loaded = load_restricted_pickle(path)
    if not isinstance(loaded, dict) or not {"data", "labels"} <= set(loaded):
        keys = sorted(map(str, loaded)) if isinstance(loaded, dict) else type(loaded).__name__
        raise ValueError(f"{path}: not a DEAP subject file (expected a dict with 'data' and 'labels', got {keys})")
    data, labels = loaded["data"], loaded["labels"]
    if not _numeric(data) or data.ndim != 3 or data.shape[1] != N_CHANNELS or data.shape[2] <= BASELINE_SAMPLES:
        shape = getattr(data, "shape", type(data).__name__)
        raise ValueError(f"{path}: 'data' is {shape}, expected numbers (trials, {N_CHANNELS}, samples > "
                         f"{BASELINE_SAMPLES})")  # fmt: skip
    if not _numeric(labels) or labels.shape != (len(data), len(RATINGS)):
        shape = getattr(labels, "shape", type(labels).__name__)
        raise ValueError(f"{path}: 'labels' is {shape}, expected numbers ({len(data)}, {len(RATINGS)})")
    return data, labels.astype(np.float64)


def load_subject(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """data (trials, 40, samples) µV and ratings (trials, 4) of one sNN.dat; ValueError naming the file.

    The last file read is kept: `find` and then `read` go through the files in order.
    """
    stat = path.stat()
    return _load_cached(path, stat.st_mtime_ns, stat.st_size)


def _files(root: Path) -> list[Path]:
    folder = root / FOLDER if (root / FOLDER).is_dir() else root
    return sorted(folder.glob("s*.dat"))


def find(root: Path, options: Mapping[str, Any]) -> tuple[list[RecordingItem], list[Skipped]]:
    """One item per trial of every sNN.dat (each file unpickled once, for its ratings)."""
    names = class_names(options)
    _baseline(options), _channels(options)
    items, skipped = [], []
    for path in _files(root):
        if not _FILE.match(path.name):
            skipped.append(Skipped(path, "name does not follow sNN.dat"))
            continue
        try:
            _, ratings = load_subject(path)
        except (ValueError, OSError) as err:  # ValueError includes UnsafePickleError: nothing in the file was run
            skipped.append(Skipped(path, str(err).removeprefix(f"{path}: ")))
            continue
        rel = path.relative_to(root).as_posix()
        ids = class_ids(ratings, options)
        for trial, (y, rating) in enumerate(zip(ids, ratings, strict=True)):
            trial_path = root / f"{rel}#trial-{trial + 1:02d}"
            if not np.isfinite(rating).all():
                skipped.append(Skipped(trial_path, f"ratings {rating.tolist()} are not finite"))
                continue
            items.append(RecordingItem(path=trial_path, subject=path.stem, session="1", sources=(path,),
                                       label=names[y], extra={"file": path, "trial": trial}))  # fmt: skip
    return items, skipped


def trial_signals(data: np.ndarray, trial: int, options: Mapping[str, Any]) -> np.ndarray:
    """One trial (C, T) in volts: EEG (+ peripheral if asked), the baseline handled as `options.baseline` says."""
    x = data[trial, : len(_channels(options))].astype(np.float64) * UNIT
    baseline = _baseline(options)
    if baseline == "keep":
        return x
    signal = x[:, BASELINE_SAMPLES:]
    if baseline == "subtract":
        signal = signal - x[:, :BASELINE_SAMPLES].mean(axis=1, keepdims=True)
    return signal


def read(item: RecordingItem, options: Mapping[str, Any]) -> mne.io.BaseRaw:
    """The trial as a RawArray at 128 Hz, in volts."""
    try:
        data, _ = load_subject(item.extra["file"])
    except (ValueError, OSError) as err:  # the file changed since `find` read it
        raise RecordingError(f"{item.path}: {err}") from err
    channels = _channels(options)
    info = mne.create_info(list(channels), SFREQ, list(channels.values()))
    return mne.io.RawArray(trial_signals(data, item.extra["trial"], options), info, verbose="error")


ADAPTER = Adapter(name="deap", find=find, class_names=class_names, read=read)
