"""EEG stored as arrays: `.npy`, `.npz`, `.mat` (MATLAB v5) or text (`.txt`, `.csv`), one recording or a stack
of trials per file.

Options:
- `pattern`: glob or list of globs relative to root (default `**/*`); of the matches, files whose extension is one
  of `.npy .npz .mat .txt .csv` in any case (`Z001.txt`, `N001.TXT`) are read; hidden folders are not searched.
- `layout` (required): the array's axes in order, from `trials`, `channels`, `samples`, e.g. `channels samples`,
  `samples channels`, `trials channels samples`, `samples` (one channel). An array with another number of axes,
  or whose channel axis contradicts `ch_names`, is skipped naming the file (fatal under `strict`).
- `key`: the array's name inside `.npz` / `.mat` (default: the file's only array); not used for `.npy` and text.
- `sfreq` (required): Hz. `unit_scale` (required): volts per stored unit (1e-6 for µV, 1 for volts; the name the
  other adapters use).
- `ch_names`: the channel names in array order; else `channel_prefix` (default 'EEG'): 'EEG001', 'EEG002', ...
- `label_from` (required): `path` / `table` (as the `folder` adapter: `label_regex`, `table`, `label_map`,
  `classes`), `key` (`label_key`: an array in the same file with one label per trial, or one for the file), or
  `events`: `stim_key`, an array of event codes per sample (the data's shape without its channel axis), `events`
  {code: class name} and `epoch_s`: one window of `epoch_s` from each sample where a listed code starts
  (P300-style epochs; config `window_s` must equal `epoch_s`; codes not listed are ignored).
- `subject_regex` / `session_regex`: as `folder` (default subject = file stem, session '1').

A file without trials is one recording (labelled windows are cut as from any recording); each trial of a stack is
one recording `file#trial-NN`, so its windows stay together in any split. Subject ids come only from the path: a
dataset whose files name no person (the Bonn sets) is split by file, not by person.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mne
import numpy as np
import scipy.io
from scipy.io.matlab import MatReadError

from eegslim.datasets import Adapter, RecordingItem, Skipped, check_options
from eegslim.datasets.folder import FileLabels, class_order, find_files, option_mapping
from eegslim.io import RecordingError

SUFFIXES = (".npy", ".npz", ".mat", ".txt", ".csv")
AXES = ("trials", "channels", "samples")
MODES = ("path", "table", "key", "events")
_OPTIONS = {"pattern", "layout", "key", "sfreq", "unit_scale", "ch_names", "channel_prefix", "label_from",
            "label_regex", "table", "label_map", "classes", "label_key", "stim_key", "events", "epoch_s",
            "subject_regex", "session_regex"}  # fmt: skip
# What numpy / scipy raise on a damaged file (NotImplementedError: a MATLAB v7.3 HDF5 file).
_READ_ERRORS = (MatReadError, ValueError, TypeError, IndexError, OSError, EOFError, NotImplementedError, KeyError)


def _mode(options: Mapping[str, Any]) -> str:
    check_options(options, _OPTIONS, "arrays")
    mode = options.get("label_from")
    if mode not in MODES:
        raise ValueError(f"options.label_from: {mode!r} is not one of {list(MODES)}")
    return mode


def layout(options: Mapping[str, Any]) -> tuple[str, ...]:
    """The axes named by `options.layout`, checked: distinct names from AXES, `samples` among them."""
    value = options.get("layout")
    axes = tuple(str(value).split()) if isinstance(value, str) else ()
    if not axes or len(set(axes)) != len(axes) or not set(axes) <= set(AXES) or "samples" not in axes:
        raise ValueError(f"options.layout: distinct axis names from {list(AXES)} with `samples` among them, e.g. "
                         f"'channels samples', got {value!r}")  # fmt: skip
    return axes


def _positive(options: Mapping[str, Any], key: str) -> float:
    value = options.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"options.{key}: required, a positive number, got {value!r}")
    return float(value)


def class_names(options: Mapping[str, Any]) -> list[str]:
    """`options.classes`, else the sorted class names of `events` (label_from: events) or `label_map`."""
    mode = _mode(options)
    source = option_mapping(options, "events" if mode == "events" else "label_map")
    if mode == "events" and source is None:
        raise ValueError("options.events: required with label_from: events ({code: class name})")
    return class_order(options, source, mode)


def _named(arrays: Mapping[str, Any], key: str | None) -> np.ndarray:
    """The array `key` of a .npz / .mat file (None: its only array); ValueError naming the arrays it holds."""
    names = sorted(k for k in arrays if not k.startswith("__"))
    if key is None and len(names) != 1:
        raise ValueError(f"holds the arrays {names}; name one with options.key")
    if key is not None and key not in arrays:
        raise ValueError(f"has no array {key!r} (arrays: {names})")
    return np.asarray(arrays[key or names[0]])


def _load(path: Path, keys: tuple[str | None, ...], ndim: int) -> list[np.ndarray]:
    """The arrays named `keys` (None: the only one) of one file; text files hold one array of `ndim` axes."""
    suffix = path.suffix.lower()
    if suffix in (".txt", ".csv", ".npy") and len(keys) > 1:
        raise ValueError(f"a {suffix} file holds one array; label_key and stim_key need .npz or .mat files")
    if suffix in (".txt", ".csv"):
        return [np.loadtxt(path, delimiter="," if suffix == ".csv" else None, ndmin=ndim)]
    if suffix == ".npy":
        return [np.load(path, allow_pickle=False)]
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            return [_named(npz, key) for key in keys]
    wanted = None if None in keys else list(keys)
    mat = scipy.io.loadmat(path, variable_names=wanted)
    return [_named(mat, key) for key in keys]


@functools.lru_cache(maxsize=1)  # `find` and then `read` go through the files in order
def _load_cached(path: Path, mtime_ns: int, size: int, keys: tuple[str | None, ...], ndim: int) -> list[np.ndarray]:
    try:
        return _load(path, keys, ndim)
    except _READ_ERRORS as err:
        raise ValueError(f"{path}: {str(err).removeprefix(f'{path}: ') or type(err).__name__}") from err


def _squeeze_to(x: np.ndarray, ndim: int) -> np.ndarray:
    """Drop length-1 axes when that gives `ndim` axes (MATLAB stores vectors as 1 × n or n × 1)."""
    squeezed = np.squeeze(x)
    return squeezed if x.ndim > ndim and squeezed.ndim == ndim else x


def to_trials(x: np.ndarray, axes: tuple[str, ...], path: Path) -> np.ndarray:
    """An array laid out as `axes` → (trials, channels, samples) float64; ValueError naming the file."""
    x = _squeeze_to(x, len(axes))
    if x.ndim != len(axes) or not np.issubdtype(x.dtype, np.number):
        expected = f"{len(axes)} numeric {'axis' if len(axes) == 1 else 'axes'}"
        raise ValueError(f"{path}: array of shape {x.shape} ({x.dtype}) does not fit layout {' '.join(axes)!r} "
                         f"({expected})")  # fmt: skip
    missing = [a for a in AXES if a not in axes]
    full = x.reshape(x.shape + (1,) * len(missing))
    return np.transpose(full, [(*axes, *missing).index(a) for a in AXES]).astype(np.float64)


def _stim_trials(stim: np.ndarray, axes: tuple[str, ...], shape: tuple[int, int, int], path: Path) -> np.ndarray:
    """Event codes (trials, samples) int64 from the stim array laid out as `axes` without `channels`."""
    stim_axes = tuple(a for a in axes if a != "channels")
    codes = to_trials(stim, stim_axes, path)[:, 0]
    if codes.shape != (shape[0], shape[2]):
        raise ValueError(f"{path}: stim array of shape {stim.shape} does not match the data's {shape[0]} trial(s) × "
                         f"{shape[2]} samples")  # fmt: skip
    return codes.astype(np.int64)


def _label_text(value: Any) -> str:
    """A stored label as text: 3.0 → '3', b'rest' → 'rest'."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _channel_names(options: Mapping[str, Any], n: int, path: Path) -> list[str]:
    names = options.get("ch_names")
    if names is None:
        return [f"{options.get('channel_prefix', 'EEG')}{i + 1:03d}" for i in range(n)]
    if len(names) != n:
        raise ValueError(f"{path}: {n} channel(s) on the channels axis, options.ch_names lists {len(names)}")
    return [str(c) for c in names]


def _keys(options: Mapping[str, Any], mode: str) -> tuple[str | None, ...]:
    """The array names read from each file: the data, then the labels or the event codes."""
    extra = {"key": "label_key", "events": "stim_key"}.get(mode)
    if extra and not options.get(extra):
        raise ValueError(f"options.{extra}: required with label_from: {mode}")
    return (options.get("key"), *([str(options[extra])] if extra else []))


def read_file(path: Path, options: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """(signals (trials, channels, samples) in stored units, labels (trials,) or codes (trials, samples) or None).

    ValueError naming the file when it cannot be read or contradicts the layout, ch_names or trial count.
    """
    mode, axes = _mode(options), layout(options)
    stat = path.stat()
    data, *rest = _load_cached(path, stat.st_mtime_ns, stat.st_size, _keys(options, mode), len(axes))
    x = to_trials(data, axes, path)
    _channel_names(options, x.shape[1], path)
    if mode == "events":
        return x, _stim_trials(rest[0], axes, x.shape, path)
    if mode == "key":
        labels = np.asarray(rest[0]).ravel()
        if len(labels) != len(x):
            raise ValueError(f"{path}: {len(labels)} label(s) in {options['label_key']!r} for {len(x)} trial(s)")
        return x, labels
    return x, None


def _trial_label(value: Any, labels: FileLabels) -> tuple[str | None, str | None]:
    """(class name, None) or (None, why not) for a label read from the file."""
    text = _label_text(value)
    if labels.label_map is not None:
        if text not in labels.label_map:
            return None, f"label {text!r} not in label_map {sorted(labels.label_map)}"
        text = labels.label_map[text]
    return (text, None) if text in labels.classes else (None, f"unknown label {text!r} (classes: {labels.classes})")


def _file_items(path: Path, rel: str, root: Path, options: Mapping[str, Any], labels: FileLabels,
                who: tuple[str, str], label: str | None) -> tuple[list[RecordingItem], list[Skipped]]:
    """The items of one readable file: itself, or one per trial; trials whose label is unknown are skipped."""
    mode, stacked = _mode(options), "trials" in layout(options)
    x, values = read_file(path, options)
    width = max(2, len(str(len(x))))
    epoch_s = _positive(options, "epoch_s") if mode == "events" else None
    items, skipped = [], []
    for trial in range(len(x)):
        trial_path = root / f"{rel}#trial-{trial + 1:0{width}d}" if stacked else path
        if mode == "key":
            label, problem = _trial_label(values[trial], labels)
            if label is None:
                skipped.append(Skipped(trial_path, problem))
                continue
        items.append(RecordingItem(
            path=trial_path, subject=who[0], session=who[1], sources=(path,), label=label,
            event_classes={c: c for c in labels.classes} if mode == "events" else None, epoch_s=epoch_s,
            extra={"file": path, "trial": trial},
        ))  # fmt: skip
    return items, skipped


def find(root: Path, options: Mapping[str, Any]) -> tuple[list[RecordingItem], list[Skipped]]:
    """One item per file, or per trial of a file with a `trials` axis; labelled as `label_from` says."""
    classes, mode = class_names(options), _mode(options)
    layout(options), _positive(options, "sfreq"), _positive(options, "unit_scale"), _keys(options, mode)
    if mode == "events":
        _positive(options, "epoch_s")
    labels = FileLabels.from_options(root, options, mode, classes)
    items, skipped = [], []
    for path in find_files(root, options, SUFFIXES):
        rel = path.relative_to(root).as_posix()
        label, problem = labels.label(rel, path.stem)
        who = labels.subject_session(rel, path.stem) if problem is None else problem
        try:
            if isinstance(who, str):
                raise ValueError(who)
            found, bad = _file_items(path, rel, root, options, labels, who, label)
        except ValueError as err:
            skipped.append(Skipped(path, str(err).removeprefix(f"{path}: ")))
            continue
        items += found
        skipped += bad
    labels.warn_unused()
    return items, skipped


def event_annotations(codes: np.ndarray, sfreq: float, events: Mapping[str, str], epoch_s: float) -> mne.Annotations:
    """One `epoch_s` annotation, named by class, at each sample where a code listed in `events` starts.

    codes (samples,) int; a code starts where it differs from the sample before. Epochs that run past the last
    sample are left out. Onsets sit a millionth of a sample past the event sample, so that MNE (which truncates
    seconds × sfreq) finds that very sample.
    """
    starts = np.flatnonzero((codes != 0) & (np.diff(codes, prepend=0) != 0))
    fits = starts + epoch_s * sfreq <= len(codes) + 1e-6
    starts = np.array([s for s in starts[fits] if str(codes[s]) in events], dtype=np.int64)
    classes = [events[str(codes[s])] for s in starts]
    return mne.Annotations((starts + 1e-6) / sfreq, epoch_s, classes, orig_time=None)


def read(item: RecordingItem, options: Mapping[str, Any]) -> mne.io.BaseRaw:
    """One recording (or trial) as a RawArray in volts; label_from: events adds its event annotations."""
    path, trial = item.extra["file"], item.extra["trial"]
    try:
        x, codes = read_file(path, options)
    except ValueError as err:  # the file changed since `find` read it
        raise RecordingError(f"{item.path}: {str(err).removeprefix(f'{path}: ')}") from err
    sfreq = _positive(options, "sfreq")
    info = mne.create_info(_channel_names(options, x.shape[1], path), sfreq, "eeg")
    raw = mne.io.RawArray(x[trial] * _positive(options, "unit_scale"), info, verbose="error")
    if item.event_classes is not None:
        events = option_mapping(options, "events")
        annotations = event_annotations(codes[trial], sfreq, events, item.epoch_s)
        if not len(annotations):
            raise RecordingError(f"{item.path}: no event code of options.events {sorted(events)} "
                                 f"in {options['stim_key']!r}")  # fmt: skip
        raw.set_annotations(annotations)
    return raw


ADAPTER = Adapter(name="arrays", find=find, class_names=class_names, read=read)
