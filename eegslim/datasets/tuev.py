"""TUH EEG Events corpus (TUEV v2): 6 event classes from `.rec` files (specs/datasets.md §5).

Files: `[edf/]{train,eval}/**/<subject>_<n>.edf`, each with a same-stem `.rec` CSV of rows
`channel,start_s,end_s,label` (label 1–6 → SPSW, GPED, PLED, EYEM, ARTF, BCKG). Each event becomes
one window spanning [start − 2 s, end + 2 s] (5 s for TUEV's 1-s events; config window_s must be 5):
read() sets an annotation (onset start − 2, duration end − start + 4, class name) per event.
Differences from LaBraM's make_TUEV.py (documented, counted in the log):
- rows are per channel; rows with the same (start, end, label) make one window, not one per channel;
- events whose window runs past the recording's start or end are dropped (LaBraM tiles the signal ×3).
fold: eval → 'test', train → 'train'; subject = file name up to the first '_'.
A row with a label outside 1–6, or unparsable, raises RecordingError naming the file and line (the
stage skips the recording, or stops with `strict: true`).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mne
import numpy as np

from eegslim.datasets import Adapter, RecordingItem, Skipped, check_options
from eegslim.datasets.tuab import read_tuh, tuh_fold
from eegslim.io import RecordingError

log = logging.getLogger(__name__)

CLASSES = ["SPSW", "GPED", "PLED", "EYEM", "ARTF", "BCKG"]  # .rec label code 1..6
PAD_S = 2.0
EPOCH_S = 5.0  # a 1-s event + 2 s either side
_OPTIONS: set[str] = set()


def class_names(options: Mapping[str, Any]) -> list[str]:
    """The six TUEV classes in code order (SPSW = 0 … BCKG = 5)."""
    return list(CLASSES)


def find(root: Path, options: Mapping[str, Any]) -> tuple[list[RecordingItem], list[Skipped]]:
    """Every `*.edf` under `root` with a `.rec` beside it and a `train`/`eval` folder on its path."""
    check_options(options, _OPTIONS, "tuev")
    items, skipped = [], []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() == ".edf" and p.is_file()):
        rec, fold = path.with_suffix(".rec"), tuh_fold(path, root)
        if fold is None:
            skipped.append(Skipped(path, "not under a train/ or eval/ folder"))
        elif not rec.is_file():
            skipped.append(Skipped(path, f"no {rec.name} beside it"))
        else:
            subject, _, rest = path.stem.partition("_")
            items.append(
                RecordingItem(
                    path, subject, rest or "1", (path, rec), fold=fold,
                    event_classes={c: c for c in CLASSES}, epoch_s=EPOCH_S, extra={"rec": rec},
                )  # fmt: skip
            )
    return items, skipped


def read_rec(rec: Path) -> list[tuple[int, float, float, str]]:
    """Rows (channel, start_s, end_s, class name) of a .rec file; RecordingError naming file:line."""
    rows = []
    with open(rec, newline="", encoding="utf-8", errors="replace") as fh:
        for line_no, row in enumerate(csv.reader(fh), 1):
            if not row or not "".join(row).strip():
                continue
            try:
                channel, start, end, code = int(float(row[0])), float(row[1]), float(row[2]), float(row[3])
            except (ValueError, IndexError) as err:
                raise RecordingError(f"{rec}:{line_no}: expected channel,start_s,end_s,label, got {row}") from err
            if code not in range(1, len(CLASSES) + 1):
                raise RecordingError(f"{rec}:{line_no}: unknown label code {row[3].strip()!r} (known: 1–6)")
            if not end > start:
                raise RecordingError(f"{rec}:{line_no}: end {end} s is not after start {start} s")
            rows.append((channel, start, end, CLASSES[int(code) - 1]))
    return rows


def event_annotations(rows: list[tuple[int, float, float, str]], duration_s: float) -> tuple[mne.Annotations, dict]:
    """One annotation per distinct (start, end, class), padded by PAD_S; counts of rows not kept."""
    events = sorted({(start, end, cls) for _, start, end, cls in rows})
    inside = [(s, e, c) for s, e, c in events if s - PAD_S >= 0 and e + PAD_S <= duration_s]
    counts = {"duplicate_rows": len(rows) - len(events), "edge_events": len(events) - len(inside)}
    onsets = np.array([s - PAD_S for s, _, _ in inside])
    durations = np.array([e - s + 2 * PAD_S for s, e, _ in inside])
    return mne.Annotations(onsets, durations, [c for _, _, c in inside], orig_time=None), counts


def read(item: RecordingItem, options: Mapping[str, Any]) -> mne.io.BaseRaw:
    """EDF header (`read_tuh`: scalp positions only by default) with one class-named annotation per .rec event."""
    rec: Path = item.extra["rec"]
    rows = read_rec(rec)
    raw = read_tuh(item.path)
    annotations, counts = event_annotations(rows, raw.n_times / raw.info["sfreq"])
    if not len(annotations):
        raise RecordingError(f"{item.path}: no event of {rec.name} fits in the recording ({len(rows)} rows, {counts})")
    raw.set_annotations(annotations)
    if counts["edge_events"]:
        log.warning("%s: %d event(s) within %g s of the recording's edge dropped", item.path, counts["edge_events"],
                    PAD_S)
    log.info("%s: %d events from %d rows (%s)", item.path.name, len(annotations), len(rows), counts)
    return raw


ADAPTER = Adapter(name="tuev", find=find, class_names=class_names, read=read)
