"""EEG-ImageNet (Zhu et al. 2024, arXiv 2406.07151): 16 subjects × 80 ImageNet classes, 62 ch, 1 kHz.

Files in `root`: `EEG-ImageNet_1.pth` + `EEG-ImageNet_2.pth` (their `dataset` lists concatenated)
or one merged `EEG-ImageNet.pth`; a dict {dataset: [{eeg_data Tensor (62, 501), label wnid,
granularity 'coarse'|'fine', subject int, image str}], labels: [80 wnids], images: [...]}.

Options:
- `files`: file names under root (default: the parts, else the merged file; both present is an error).
- `granularity`: 'all' (80-way, default) | 'coarse' (40) | 'fine0'…'fine4' (8-way: entries with
  granularity 'fine' whose `labels.index(label)` is in 8k…8k+7, exactly as the official code).
  Class names: the wnids of `labels` in that order, restricted to those the selected entries use
  ('all': every wnid); ids are contiguous (the official code remaps to contiguous ids too).
- `crop_ms`: [start, stop) in ms = samples at 1 kHz (default [40, 440] → 400 samples).
- `unit_scale`: volts per stored unit (default 1.0; the file's unit is undocumented — check the
  stored std the log reports: EEG is tens of µV).
- `allowed_globals`: extra pickle globals to trust ('module.name'; see eegslim.io.pth).
- `same_people`: false (default) | true: treat subject ids s and s + 8 as one person recorded in two stages
  (subject 'sub-0{s % 8}', session 'stage1' | 'stage2'), so a subject-wise split keeps both stages of a person
  on one side. A third party reports that ids 0–7 and 8–15 are the same 8 people (unverified).

Official protocol: per subject, within each (subject, class) block in stored order, trial i with
i % 50 < 30 → train, else test (2400/1600 per subject for 'all'); a block of m < 50 trials (scaled-
down data) puts its first floor(0.6·m) in train — the same rule on 50-trial blocks. No validation part.
Subjects are 'sub-00'…'sub-15' (0–7 and 8–15 may be the same people in two stages — unverified; see
`same_people`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from eegslim.datasets import Adapter, RecordingItem, Skipped, TrialBlock, check_options, choice_option
from eegslim.io.pth import load_pth

log = logging.getLogger(__name__)

SFREQ = 1000.0
# Channel order (Neuroscan 64 cap minus M1/M2/HEO/VEO/EKG/EMG/Trigger), as in the official rgnn.py.
CHANNELS = (
    "FP1 FPZ FP2 AF3 AF4 F7 F5 F3 F1 FZ F2 F4 F6 F8 FT7 FC5 FC3 FC1 FCZ FC2 FC4 FC6 FT8 T7 C5 C3 C1 CZ C2 C4 C6 T8 "
    "TP7 CP5 CP3 CP1 CPZ CP2 CP4 CP6 TP8 P7 P5 P3 P1 PZ P2 P4 P6 P8 PO7 PO5 PO3 POZ PO4 PO6 PO8 CB1 O1 OZ O2 CB2"
).split()
PARTS = ("EEG-ImageNet_1.pth", "EEG-ImageNet_2.pth")
MERGED = "EEG-ImageNet.pth"
GRANULARITIES = ("all", "coarse", *(f"fine{k}" for k in range(5)))
BLOCK, TRAIN_PER_BLOCK = 50, 30
_OPTIONS = {"files", "granularity", "crop_ms", "unit_scale", "allowed_globals", "same_people"}
PEOPLE = 8  # subject ids s and s + PEOPLE: the same person in stage 1 and 2, if `same_people`
_ENTRY_KEYS = {"eeg_data", "label", "granularity", "subject"}
PROTOCOL = {
    "name": "official",
    "description": "per-subject 30/20 split within each 50-trial class block (first 30 train, last 20 test); "
    "no validation part",
    "caveat": "block design: train and test trials come from the same block (temporal confound); the official "
    "script also reports the best test accuracy over epochs",
    "subject_caveat": "block design: each class was shown in one block per stage, so held-out subjects still tie "
    "classes to time since the stage start if the class order was the same for every subject",
}


def _granularity(options: Mapping[str, Any]) -> str:
    return choice_option(options, "granularity", "all", GRANULARITIES)


def _crop(options: Mapping[str, Any]) -> tuple[int, int]:
    crop = options.get("crop_ms", [40, 440])
    if not (isinstance(crop, (list, tuple)) and len(crop) == 2 and 0 <= int(crop[0]) < int(crop[1])):
        raise ValueError(f"options.crop_ms: must be [start, stop] in ms with 0 <= start < stop, got {crop!r}")
    return int(crop[0]), int(crop[1])


def _files(root: Path, options: Mapping[str, Any]) -> list[Path]:
    if options.get("files") is not None:
        return [root / f for f in options["files"]]
    parts = [root / p for p in PARTS if (root / p).is_file()]
    if parts and (root / MERGED).is_file():
        raise ValueError(f"{root}: holds both {MERGED} and the parts {[p.name for p in parts]}; choose with "
                         "options.files")  # fmt: skip
    return parts or [root / MERGED]


def find(root: Path, options: Mapping[str, Any]) -> tuple[list[RecordingItem], list[Skipped]]:
    """One item per `.pth` file (subject = '' : a file holds several subjects)."""
    check_options(options, _OPTIONS, "eeg_imagenet_2024")
    _granularity(options), _crop(options)
    items, skipped = [], []
    for path in _files(root, options):
        if path.is_file():
            name = path.relative_to(root).as_posix()
            items.append(RecordingItem(path=path, subject="", session="1", sources=(path,), extra={"name": name}))
        else:
            skipped.append(Skipped(path, "no such file (options.files, or EEG-ImageNet_1.pth/_2.pth/.pth)"))
    if len(items) == 1 and items[0].path.name in PARTS:
        log.warning("%s: only one of the two EEG-ImageNet parts (8 of 16 subjects)", items[0].path)
    return items, skipped


def _load(path: Path, options: Mapping[str, Any]) -> tuple[list[Any], list[str]]:
    """The file's `dataset` list and `labels`, checked for the published structure."""
    loaded = load_pth(path, options.get("allowed_globals") or ())
    if not isinstance(loaded, dict) or not {"dataset", "labels"} <= set(loaded):
        keys = sorted(loaded) if isinstance(loaded, dict) else type(loaded).__name__
        raise ValueError(f"{path}: not an EEG-ImageNet file (expected a dict with 'dataset' and 'labels', got {keys})")
    dataset, labels = loaded["dataset"], [str(x) for x in loaded["labels"]]
    if dataset and not (isinstance(dataset[0], dict) and _ENTRY_KEYS <= set(dataset[0])):
        raise ValueError(f"{path}: dataset entries lack the keys {sorted(_ENTRY_KEYS)}")
    return dataset, labels


def _selected(entry: Mapping[str, Any], granularity: str, labels: list[str]) -> bool:
    if granularity == "all":
        return True
    if granularity == "coarse":
        return entry["granularity"] == "coarse"
    k = int(granularity[-1])
    return entry["granularity"] == "fine" and labels.index(entry["label"]) in range(8 * k, 8 * k + 8)


def official_folds(y: np.ndarray) -> np.ndarray:
    """'train' | 'test' per trial of one subject (stored order), by class block: see the module doc."""
    fold = np.empty(len(y), dtype=object)
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        pos = np.arange(len(idx))
        train = pos % BLOCK < TRAIN_PER_BLOCK if len(idx) >= BLOCK else pos < (3 * len(idx)) // 5
        fold[idx] = np.where(train, "train", "test")
    return fold


def read_trials(item: RecordingItem, options: Mapping[str, Any]) -> Iterator[TrialBlock]:
    """Per-subject blocks of `item`'s file: X (n, 62, stop - start) volts, official folds."""
    granularity, (start, stop) = _granularity(options), _crop(options)
    unit_scale = float(options.get("unit_scale", 1.0))
    dataset, labels = _load(item.path, options)
    unknown = sorted({str(e["label"]) for e in dataset} - set(labels))
    if unknown:
        raise ValueError(f"{item.path}: entry labels {unknown[:5]} are not in the file's `labels`")
    chosen = [i for i, e in enumerate(dataset) if _selected(e, granularity, labels)]
    used = {dataset[i]["label"] for i in chosen}
    class_names = labels if granularity == "all" else [w for w in labels if w in used]
    if not class_names:
        raise ValueError(f"{item.path}: no entry matches options.granularity {granularity!r}")
    by_subject: dict[int, list[int]] = {}
    for i in chosen:
        by_subject.setdefault(int(dataset[i]["subject"]), []).append(i)
    for subject, indices in sorted(by_subject.items()):
        yield _block(item, dataset, indices, subject, class_names, (start, stop), unit_scale,
                     bool(options.get("same_people", False)))
        for i in indices:  # drop the tensors already turned into a block
            dataset[i] = None


def _block(item: RecordingItem, dataset: list[Any], indices: list[int], subject: int, class_names: list[str],
           crop: tuple[int, int], unit_scale: float, same_people: bool) -> TrialBlock:  # fmt: skip
    """One subject's trials; entries whose eeg_data is not (62, ≥ crop stop) are dropped ('bad_shape').
    same_people: subject = the person (id % 8), session = the stage (module doc)."""
    start, stop = crop
    good = [i for i in indices if _shape_ok(dataset[i]["eeg_data"], stop)]
    if len(good) < len(indices):
        bad = {tuple(getattr(dataset[i]["eeg_data"], "shape", ())) for i in set(indices) - set(good)}
        log.warning("%s subject %d: %d entries dropped, eeg_data shape %s is not (62, >= %d)",
                    item.path.name, subject, len(indices) - len(good), sorted(bad), stop)  # fmt: skip
    X = np.empty((len(good), len(CHANNELS), stop - start))
    for row, i in enumerate(good):
        X[row] = dataset[i]["eeg_data"][:, start:stop].double().numpy()
    y = np.array([class_names.index(dataset[i]["label"]) for i in good], dtype=np.int64)
    sub = f"sub-{subject:02d}"
    if len(X):
        log.info("%s %s: %d trials, stored values std %.3g (× unit_scale %g = volts)", item.path.name, sub, len(X),
                 X.std(), unit_scale)  # fmt: skip
    X *= unit_scale
    person, session = (f"sub-{subject % PEOPLE:02d}", f"stage{subject // PEOPLE + 1}") if same_people else (sub, "1")
    return TrialBlock(
        X=X, sfreq=SFREQ, ch_names=list(CHANNELS), y=y, class_names=list(class_names),
        subject=np.full(len(good), person, dtype=object), session=session, recording=f"{item.extra['name']}#{sub}",
        fold=official_folds(y), dropped={"bad_shape": len(indices) - len(good)},
    )  # fmt: skip


def _shape_ok(eeg: Any, stop: int) -> bool:
    import torch  # loaded by load_pth already; not at module level, so other adapters' preprocessing skips it

    return isinstance(eeg, torch.Tensor) and eeg.ndim == 2 and eeg.shape[0] == len(CHANNELS) and eeg.shape[1] >= stop


def protocol(options: Mapping[str, Any]) -> dict[str, Any]:
    """The official per-subject split (the `fold` column), with its block-design caveat."""
    return {**PROTOCOL, "granularity": _granularity(options)}


ADAPTER = Adapter(name="eeg_imagenet_2024", find=find, read_trials=read_trials, protocol=protocol)
