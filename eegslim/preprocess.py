"""One recording → labelled windows: pick channels, filter, notch, resample, scale, window, clean.

Windows are float32 (n, C, T) in units of 0.1 mV (µV/100, LaBraM's input scale: X = volts·1e4).
Already-epoched trials (`TrialBlock`) take the same chain on arrays; each trial is one window.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import mne
import numpy as np

from eegslim.datasets import RecordingItem, TrialBlock
from eegslim.io import RecordingError, load_raw, normalize_name, pick_channels

log = logging.getLogger(__name__)

SCALE = 1e4  # volts → 0.1 mV
UNIT = "0.1 mV"
# A channel whose std within a window is below 0.1 µV is dead or disconnected (EEG noise floor ≈ 1 µV).
FLAT_STD = 0.1 / 100  # in 0.1 mV


@dataclass(frozen=True)
class Params:
    """Preprocessing settings (config keys of the same names). Frequencies in Hz, durations in s.

    channels: wanted channels in order (None: every EEG channel of the first recording);
    sfreq: target rate (None: the first recording's rate); l_freq/h_freq: band-pass edges (None: no
    edge); notch: mains frequency or list (None: no notch); stride_s None means window_s.
    """

    window_s: float
    channels: tuple[str, ...] | None = None
    sfreq: float | None = None
    l_freq: float | None = None
    h_freq: float | None = None
    notch: float | tuple[float, ...] | None = None
    stride_s: float | None = None

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Params:
        """Read the keys named like the fields from a dataset config, checking their values."""
        if not isinstance(cfg.get("window_s"), (int, float)) or cfg["window_s"] <= 0:
            raise ValueError(f"window_s: must be a positive number of seconds, got {cfg.get('window_s')!r}")
        for key in ("sfreq", "stride_s"):
            if cfg.get(key) is not None and cfg[key] <= 0:
                raise ValueError(f"{key}: must be positive, got {cfg[key]!r}")
        channels, notch = cfg.get("channels"), cfg.get("notch")
        return cls(
            window_s=float(cfg["window_s"]),
            channels=None if channels is None else tuple(normalize_name(c) for c in channels),
            sfreq=None if cfg.get("sfreq") is None else float(cfg["sfreq"]),
            l_freq=cfg.get("l_freq"),
            h_freq=cfg.get("h_freq"),
            notch=tuple(float(f) for f in notch) if isinstance(notch, (list, tuple)) else notch,
            stride_s=cfg.get("stride_s"),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready settings (stored in windows.h5 attrs 'preprocessing')."""
        out = dataclasses.asdict(self)
        out.update(channels=None if self.channels is None else list(self.channels))
        out.update(notch=list(self.notch) if isinstance(self.notch, tuple) else self.notch)
        return out


@dataclass
class RecordingWindows:
    """Windows of one recording. X (n, C, T) float32 in 0.1 mV, y (n,) int64 class ids."""

    X: np.ndarray
    y: np.ndarray
    ch_names: list[str]
    sfreq: float
    dropped_channels: list[str]  # standard names of the file's channels that were not kept
    dropped: dict[str, int]  # windows dropped, by reason


def _zero_nan(x: np.ndarray) -> np.ndarray:
    return np.nan_to_num(x, nan=0.0)


def prepare(raw: mne.io.BaseRaw, path: Any, params: Params) -> list[str]:
    """Pick/rename channels, load, filter, notch and resample `raw` in place; return dropped channels.

    NaN samples are set to 0 for filtering and marked with 'BAD_NAN' annotations, so windows that
    overlap them are dropped later.
    """
    before = [normalize_name(c) for c in raw.ch_names]
    if params.sfreq is not None and params.sfreq > raw.info["sfreq"]:
        raise RecordingError(f"{path}: sfreq {params.sfreq:g} Hz is above the recording's {raw.info['sfreq']:g} Hz; "
                             f"upsampling adds no information (set sfreq to at most {raw.info['sfreq']:g})")
    if params.window_s * raw.info["sfreq"] > raw.n_times:
        raise RecordingError(f"{path}: window_s {params.window_s:g} s is longer than the recording "
                             f"({raw.n_times / raw.info['sfreq']:g} s)")
    pick_channels(raw, params.channels, path)
    load_raw(raw, path)
    if np.isnan(raw._data).any():  # annotate_nan is slow (a distance transform); most files have no NaN
        raw.set_annotations(raw.annotations + mne.preprocessing.annotate_nan(raw))
        raw.apply_function(_zero_nan, picks="all", channel_wise=False)
    try:
        if params.l_freq is not None or params.h_freq is not None:
            raw.filter(params.l_freq, params.h_freq, picks="all", verbose="error")
        if params.notch is not None:
            raw.notch_filter(params.notch, picks="all", verbose="error")
        if params.sfreq is not None and raw.info["sfreq"] != params.sfreq:
            raw.resample(params.sfreq, verbose="error")
    except ValueError as err:  # e.g. a cut-off at or above this recording's Nyquist frequency
        raise RecordingError(f"{path}: filter/notch/resample settings do not fit ({err})") from err
    return [c for c in before if c not in raw.ch_names]


def _events(raw: mne.io.BaseRaw, item: RecordingItem, class_names: Sequence[str], params: Params) -> np.ndarray:
    """MNE events (sample, 0, class id + 1) marking where each window starts."""
    sfreq, n_win = raw.info["sfreq"], round(params.window_s * raw.info["sfreq"])
    if item.label is not None:
        stride = round((params.stride_s or params.window_s) * sfreq)
        if stride < 1:
            raise ValueError(f"stride_s: {params.stride_s} s is shorter than one sample at {sfreq} Hz")
        starts = np.arange(0, raw.n_times - n_win + 1, stride) + raw.first_samp
        return np.column_stack([starts, np.zeros_like(starts), np.full_like(starts, class_names.index(item.label) + 1)])
    if item.epoch_s is None or not np.isclose(item.epoch_s, params.window_s):
        raise ValueError(
            f"window_s: {params.window_s} s, but {item.path} is labelled in {item.epoch_s}-s annotation "
            f"epochs; set window_s to {item.epoch_s}"
        )
    event_id = {desc: class_names.index(cls) + 1 for desc, cls in (item.event_classes or {}).items()}
    present = {d: i for d, i in event_id.items() if d in set(raw.annotations.description)}
    if not present:
        return np.zeros((0, 3), dtype=int)
    events, _ = mne.events_from_annotations(raw, event_id=present, chunk_duration=item.epoch_s, verbose="error")
    return events


def cut_windows(
    raw: mne.io.BaseRaw, item: RecordingItem, class_names: Sequence[str], params: Params
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Windows X (n, C, T) float32 in 0.1 mV, labels y (n,), and counts of dropped windows by reason.

    Reasons: 'bad_annotation' (overlaps a BAD_* span, incl. NaN samples), 'incomplete' (runs past
    the data), 'nan' (non-finite values), 'flat' (a channel with std < FLAT_STD).
    """
    sfreq = raw.info["sfreq"]
    n_win = params.window_s * sfreq
    if not np.isclose(n_win, round(n_win)):
        raise ValueError(f"window_s: {params.window_s} s is not a whole number of samples at {sfreq} Hz")
    events = _events(raw, item, class_names, params)
    dropped = dict.fromkeys(("bad_annotation", "incomplete", "nan", "flat"), 0)
    empty = np.zeros((0, len(raw.ch_names), round(n_win)), dtype=np.float32), np.zeros(0, dtype=np.int64)
    if not len(events):
        return *empty, dropped
    epochs = mne.Epochs(
        raw, events, event_id=None, tmin=0.0, tmax=(round(n_win) - 1) / sfreq, baseline=None, picks="all",
        preload=True, reject_by_annotation=True, proj=False, event_repeated="drop", verbose="error",
    )  # fmt: skip
    for reasons in epochs.drop_log:
        if reasons:
            key = "incomplete" if {"NO_DATA", "TOO_SHORT"} & set(reasons) else "bad_annotation"
            dropped[key] += 1
    if not len(epochs):
        return *empty, dropped
    X = (epochs.get_data(picks="all") * SCALE).astype(np.float32)
    y = epochs.events[:, 2].astype(np.int64) - 1
    finite = np.isfinite(X).all(axis=(1, 2))
    flat = np.zeros_like(finite)
    flat[finite] = (X[finite].std(axis=2) < FLAT_STD).any(axis=1)
    dropped["nan"], dropped["flat"] = int((~finite).sum()), int(flat.sum())
    keep = finite & ~flat
    return X[keep], y[keep], dropped


def preprocess_recording(
    raw: mne.io.BaseRaw, item: RecordingItem, class_names: Sequence[str], params: Params
) -> RecordingWindows:
    """The whole per-recording chain on `raw` (read with preload=False or True); modifies `raw`."""
    dropped_channels = prepare(raw, item.path, params)
    X, y, dropped = cut_windows(raw, item, class_names, params)
    log.info(
        "%s: %d windows (%s dropped), %d channels at %g Hz",
        item.path.name, len(X), sum(dropped.values()), len(raw.ch_names), raw.info["sfreq"],
    )  # fmt: skip
    return RecordingWindows(X, y, list(raw.ch_names), float(raw.info["sfreq"]), dropped_channels, dropped)


@dataclass
class TrialWindows(RecordingWindows):
    """Windows of one TrialBlock, with the per-trial columns of the trials kept."""

    subject: np.ndarray  # (n,) str
    fold: np.ndarray  # (n,) str, '' where the dataset has no published part


def _pick_trial_channels(block: TrialBlock, params: Params) -> tuple[list[int], list[str], list[str]]:
    """Indices into block.ch_names, their standard names and the dropped names (same rules as raws)."""
    probe = mne.io.RawArray(
        np.zeros((len(block.ch_names), 1)), mne.create_info(list(block.ch_names), block.sfreq, "eeg"), verbose="error"
    )
    pick_channels(probe, params.channels, block.recording)
    names = [normalize_name(c) for c in block.ch_names]
    idx = [names.index(c) for c in probe.ch_names]
    return idx, list(probe.ch_names), [c for c in names if c not in probe.ch_names]


def _filter_trials(X: np.ndarray, sfreq: float, params: Params, recording: str) -> tuple[np.ndarray, float]:
    """Band-pass, notch and resample X (n, C, T) volts with MNE; returns X and its rate."""
    try:
        if params.l_freq is not None or params.h_freq is not None:
            X = mne.filter.filter_data(X, sfreq, params.l_freq, params.h_freq, verbose="error")
        if params.notch is not None:
            X = mne.filter.notch_filter(X, sfreq, np.atleast_1d(params.notch), verbose="error")
        if params.sfreq is not None and sfreq != params.sfreq:
            X, sfreq = mne.filter.resample(X, up=params.sfreq, down=sfreq, axis=-1, verbose="error"), params.sfreq
    except ValueError as err:  # e.g. a cut-off at or above the Nyquist frequency
        raise RecordingError(f"{recording}: filter/notch/resample settings do not fit ({err})") from err
    return X, sfreq


def preprocess_trials(block: TrialBlock, params: Params) -> TrialWindows:
    """Trials (n, C, T) volts → windows (n', C', T') float32 in 0.1 mV, one per usable trial.

    `params.window_s` must equal the trial length (T / block.sfreq); stride_s is not used. Trials
    with non-finite values ('nan') or a flat channel ('flat', std < FLAT_STD) are dropped, counted
    with the adapter's own `block.dropped` reasons.
    """
    n, _, n_times = block.X.shape
    if not np.isclose(params.window_s * block.sfreq, n_times):
        raise ValueError(
            f"window_s: {params.window_s} s, but the trials of {block.recording} are {n_times} samples at "
            f"{block.sfreq:g} Hz = {n_times / block.sfreq:g} s after the adapter's crop; set window_s to "
            f"{n_times / block.sfreq:g}"
        )
    idx, ch_names, dropped_channels = _pick_trial_channels(block, params)
    finite = np.isfinite(block.X[:, idx]).all(axis=(1, 2))
    X = block.X[np.ix_(np.flatnonzero(finite), idx)]
    X, sfreq = _filter_trials(X, block.sfreq, params, block.recording) if len(X) else (X, params.sfreq or block.sfreq)
    if not np.isclose(params.window_s * sfreq, round(params.window_s * sfreq)):
        raise ValueError(f"window_s: {params.window_s} s is not a whole number of samples at {sfreq} Hz")
    X = (X * SCALE).astype(np.float32)
    flat = (X.std(axis=2) < FLAT_STD).any(axis=1)
    fold = np.full(n, "", dtype=object) if block.fold is None else np.asarray(block.fold, dtype=object)
    keep = np.flatnonzero(finite)[~flat]
    dropped = {**block.dropped, "nan": int(n - finite.sum()), "flat": int(flat.sum())}
    log.info(
        "%s: %d trials kept of %d (%s dropped), %d channels at %g Hz",
        block.recording, len(keep), n, sum(dropped.values()), len(ch_names), sfreq,
    )  # fmt: skip
    return TrialWindows(
        X=X[~flat], y=np.asarray(block.y, dtype=np.int64)[keep], ch_names=ch_names, sfreq=float(sfreq),
        dropped_channels=dropped_channels, dropped=dropped,
        subject=np.asarray(block.subject, dtype=object)[keep], fold=fold[keep],
    )  # fmt: skip
