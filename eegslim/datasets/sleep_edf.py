"""Sleep-EDF Expanded (PhysioNet sleep-edfx): SC4ssN / ST7ssN PSG + hypnogram pairs, 30-s stages.

Options: `stage_mapping` '5class' (default; W, N1, N2, N3 = R&K stages 3+4, REM; '?' and movement
time dropped) or 'raw' (the 8 R&K labels in the order W, S1, S2, S3, S4, R, ?, MT);
`trim_wake_min` (default 30; null keeps all): minutes of wake kept before the first and after the
last sleep epoch (AttnSleep/DeepSleepNet), everything outside that span is dropped.

Subjects: cassette (SC4ssN) subject `ss` keeps its bare id ('00'); telemetry (ST7ssN) subjects are
'ST7-ss', so SC and ST files under one root never merge (SC4 00 and ST7 01 are different people).
Session = night N.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mne
import numpy as np

from eegslim.datasets import Adapter, RecordingItem, Skipped, check_options
from eegslim.io import RecordingError, read_raw

log = logging.getLogger(__name__)

EPOCH_S = 30.0
# R&K annotation description → raw stage label.
STAGES = {
    "Sleep stage W": "W",
    "Sleep stage 1": "S1",
    "Sleep stage 2": "S2",
    "Sleep stage 3": "S3",
    "Sleep stage 4": "S4",
    "Sleep stage R": "R",
    "Sleep stage ?": "?",
    "Movement time": "MT",
}
SLEEP = ("S1", "S2", "S3", "S4", "R")
CLASSES = {
    "5class": ["W", "N1", "N2", "N3", "REM"],
    "raw": ["W", "S1", "S2", "S3", "S4", "R", "?", "MT"],
}
_TO_CLASS = {
    "5class": {"W": "W", "S1": "N1", "S2": "N2", "S3": "N3", "S4": "N3", "R": "REM"},
    "raw": {s: s for s in CLASSES["raw"]},
}
_OPTIONS = {"stage_mapping", "trim_wake_min"}
_PSG = re.compile(r"^(S[CT]\d{4}[A-Z])[A-Z0-9]-PSG\.edf$")
_HYPNOGRAM = re.compile(r"^(S[CT]\d{4}[A-Z])[A-Z0-9]-Hypnogram\.edf$")


def _mapping(options: Mapping[str, Any]) -> str:
    mapping = options.get("stage_mapping", "5class")
    if mapping not in CLASSES:
        raise ValueError(f"options.stage_mapping: {mapping!r} is not one of {sorted(CLASSES)}")
    return mapping


def class_names(options: Mapping[str, Any]) -> list[str]:
    """Class names (index = class id) for `options.stage_mapping`."""
    return list(CLASSES[_mapping(options)])


def find(root: Path, options: Mapping[str, Any]) -> tuple[list[RecordingItem], list[Skipped]]:
    """Pair every `*-PSG.edf` under `root` with the `*-Hypnogram.edf` sharing its 7-char prefix."""
    check_options(options, _OPTIONS, "sleep_edf")
    _mapping(options)
    hypnograms: dict[str, list[Path]] = {}
    for hyp in sorted(root.rglob("*-Hypnogram.edf")):
        if m := _HYPNOGRAM.match(hyp.name):
            hypnograms.setdefault(m.group(1), []).append(hyp)
    items, skipped = [], []
    for psg in sorted(root.rglob("*-PSG.edf")):
        m = _PSG.match(psg.name)
        if m is None:
            skipped.append(Skipped(psg, "name does not follow SC4ssNE0-PSG.edf / ST7ssNJ0-PSG.edf"))
            continue
        matches = hypnograms.get(m.group(1), [])
        if len(matches) != 1:
            problem = "no hypnogram" if not matches else f"{len(matches)} hypnograms {[p.name for p in matches]}"
            skipped.append(Skipped(psg, f"{problem} matching {m.group(1)}?-Hypnogram.edf"))
            continue
        hyp = matches[0]
        items.append(
            RecordingItem(
                path=psg,
                subject=subject_id(psg.name),
                session=psg.name[5],
                sources=(psg, hyp),
                event_classes={c: c for c in CLASSES[_mapping(options)]},
                epoch_s=EPOCH_S,
                extra={"hypnogram": hyp},
            )
        )
    return items, skipped


def subject_id(name: str) -> str:
    """'SC4001E0-PSG.edf' → '00'; 'ST7011J0-PSG.edf' → 'ST7-01' (the two studies number subjects separately)."""
    return name[3:5] if name.startswith("SC") else f"{name[:3]}-{name[3:5]}"


def stage_epochs(
    annotations: mne.Annotations,
    stage_mapping: str = "5class",
    trim_wake_min: float | None = 30.0,
    t0: float = 0.0,
) -> tuple[np.ndarray, list[str]]:
    """Split hypnogram annotations into 30-s epochs; return their onsets (s, minus `t0`) and classes.

    Descriptions other than the R&K stages are ignored; stages without a class under
    `stage_mapping` are dropped after wake trimming.
    """
    onsets, stages = [], []
    for onset, duration, desc in zip(annotations.onset, annotations.duration, annotations.description, strict=True):
        if desc not in STAGES:
            continue
        n = int(np.floor(duration / EPOCH_S + 1e-6))
        onsets.extend(onset - t0 + EPOCH_S * np.arange(n))
        stages.extend([STAGES[desc]] * n)
    onsets_arr, stages_arr = np.asarray(onsets, dtype=float), np.asarray(stages, dtype=object)
    asleep = np.isin(stages_arr, SLEEP)
    keep = np.ones(len(onsets_arr), dtype=bool)
    if trim_wake_min is not None and asleep.any():
        lo = onsets_arr[asleep].min() - 60.0 * trim_wake_min
        hi = onsets_arr[asleep].max() + EPOCH_S + 60.0 * trim_wake_min
        keep = (onsets_arr >= lo) & (onsets_arr + EPOCH_S <= hi)
    to_class = _TO_CLASS[stage_mapping]
    keep &= np.array([s in to_class for s in stages_arr], dtype=bool)
    return onsets_arr[keep], [to_class[s] for s in stages_arr[keep]]


def _edf_start(path: Path) -> dt.datetime | None:
    """Start date-time in an EDF header (bytes 168–184, 'dd.mm.yyhh.mm.ss'); None if unparsable."""
    with open(path, "rb") as fh:
        field = fh.read(184)[168:184].decode("ascii", "replace")
    try:
        start = dt.datetime.strptime(field, "%d.%m.%y%H.%M.%S")
    except ValueError:
        return None
    return start.replace(year=start.year - 100) if start.year >= 2085 else start  # EDF: 85–99 → 19xx


def read(item: RecordingItem, options: Mapping[str, Any]) -> mne.io.BaseRaw:
    """PSG (preload=False) with 30-s class-named annotations, cropped to the labelled span."""
    hyp: Path = item.extra["hypnogram"]
    raw = read_raw(item.path, preload=False)
    meas, start = raw.info["meas_date"], _edf_start(hyp)
    if meas is not None and start is not None and meas.replace(tzinfo=None) != start:
        raise RecordingError(f"{item.path}: starts at {meas:%Y-%m-%d %H:%M:%S} but {hyp.name} at {start}")
    try:
        hyp_annotations = mne.read_annotations(hyp)
    except Exception as err:
        raise RecordingError(f"{hyp}: cannot read the hypnogram ({type(err).__name__}: {err})") from err
    raw.set_annotations(hyp_annotations, emit_warning=False)  # clips to the recorded span
    t0 = raw.first_time if raw.annotations.orig_time is not None else 0.0
    onsets, classes = stage_epochs(
        raw.annotations, _mapping(options), options.get("trim_wake_min", 30.0), t0=t0
    )
    if not len(onsets):
        raise RecordingError(f"{item.path}: no labelled 30-s epochs in {hyp.name}")
    raw.set_annotations(mne.Annotations(onsets, EPOCH_S, classes, orig_time=None))
    raw.crop(onsets.min(), min(onsets.max() + EPOCH_S, raw.times[-1]))
    log.info("%s: %d labelled epochs from %s", item.path.name, len(onsets), hyp.name)
    return raw


ADAPTER = Adapter(name="sleep_edf", find=find, class_names=class_names, read=read)
