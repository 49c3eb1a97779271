"""TUH Abnormal EEG corpus (TUAB v3): normal vs abnormal, whole-recording labels (specs/datasets.md §5).

Files: `[edf/]{train,eval}/{normal,abnormal}/01_tcp_ar/<subject>_s<sss>_t<ttt>.edf`; only the
`01_tcp_ar` (average-reference) folders are searched, as LaBraM/BIOT do. Class from the folder
(normal = 0, abnormal = 1); subject = file name up to the first '_'; session = the `s<sss>` token;
fold: eval → 'test', train → 'train' (the split stage carves val out of train by subject).
TUH channel names (`EEG FP1-REF`, `EEG T3-LE`) are normalised by `eegslim.io` (→ Fp1, T3), so
config `channels:` picks LaBraM's 23; files lacking one of them are skipped with the missing names.
With `channels: null`, leads without a 10-20/10-10 position (SP1, PG1, C3P, LUC, 'EEG 20-REF', EKG,
PHOTIC, IBI, BURSTS, SUPPR) are not kept.
Option `montage_dir` (default '01_tcp_ar').
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mne

from eegslim.datasets import Adapter, RecordingItem, Skipped, check_options
from eegslim.io import read_raw
from eegslim.io.channels import mark_non_electrodes

CLASSES = ["normal", "abnormal"]
FOLDS = {"train": "train", "eval": "test"}
_OPTIONS = {"montage_dir"}


def class_names(options: Mapping[str, Any]) -> list[str]:
    """['normal', 'abnormal']."""
    return list(CLASSES)


def tuh_ids(path: Path) -> tuple[str, str]:
    """(subject, session) from a TUH file name: 'aaaaaaav_s004_t000.edf' → ('aaaaaaav', 's004')."""
    parts = path.stem.split("_")
    session = next((p for p in parts[1:] if p.startswith("s") and p[1:].isdigit()), "1")
    return parts[0], session


def tuh_fold(path: Path, root: Path) -> str | None:
    """'test' / 'train' from the `eval` / `train` folder on the path below `root`; None if neither."""
    folds = [FOLDS[p] for p in path.relative_to(root).parts[:-1] if p in FOLDS]
    return folds[0] if len(folds) == 1 else None


def find(root: Path, options: Mapping[str, Any]) -> tuple[list[RecordingItem], list[Skipped]]:
    """Every `*.edf` directly inside a `01_tcp_ar` folder under `root`."""
    check_options(options, _OPTIONS, "tuab")
    montage = str(options.get("montage_dir", "01_tcp_ar"))
    items, skipped = [], []
    for path in sorted(p for d in root.rglob(montage) if d.is_dir() for p in d.iterdir()):
        if path.suffix.lower() != ".edf":
            continue
        label, fold = path.parent.parent.name, tuh_fold(path, root)
        if label not in CLASSES or fold is None:
            skipped.append(Skipped(path, f"not under {{train,eval}}/{{normal,abnormal}}/{montage}/"))
            continue
        subject, session = tuh_ids(path)
        items.append(RecordingItem(path, subject, session, (path,), label=label, fold=fold))
    return items, skipped


def read_tuh(path: Path) -> mne.io.BaseRaw:
    """A TUH EDF header (preload=False), channels without a 10-20/10-10 position typed 'misc'."""
    raw = read_raw(path, preload=False)
    mark_non_electrodes(raw)
    return raw


def read(item: RecordingItem, options: Mapping[str, Any]) -> mne.io.BaseRaw:
    """The EDF header (`read_tuh`); its class comes from `item.label`."""
    return read_tuh(item.path)


ADAPTER = Adapter(name="tuab", find=find, class_names=class_names, read=read)
