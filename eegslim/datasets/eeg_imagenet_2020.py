"""Spampinato/Palazzo "perceived ImageNet" EEG (CVPR 2017, TPAMI 2020): 6 subjects × 40 classes, 128 ch, 1 kHz.

Files in `root`: the EEG file (option `file`, default `eeg_5_95_std.pth`): {dataset: [{eeg Tensor
(128, L), image int, label int 0–39, subject int 1–6}], labels: [40 wnids], images: [...]}, and the
split file (option `splits_file`, default `block_splits_by_image_all.pth`): {splits: [{train, val,
test: [indices into dataset]}, ...]}; option `split_index` (default 0, as the official code).
Segments with L outside 450–600 are dropped ('length_out_of_range', as the official Splitter); the
rest are cropped to samples [20, 460) (option `crop_samples`) → 440 samples. Class names: `labels`.
Option `allowed_globals`: extra pickle globals to trust (see eegslim.io.pth). Option `unit_scale`: volts per
stored unit (default 1.0); the `_std` files are z-scored per channel, so set it (e.g. 1e-5: one unit = 10 µV).

Channels: the files carry no names and the 128-channel actiCAP layout is not in them: `CHANNELS`
is EEG001…EEG128, so models that embed 10-20 positions cannot use standard channel embeddings.
Protocol: the official split (`fold` column; an index in no split gets '' and is counted). It is
block-confounded (Li et al., TPAMI 2020); leave-subjects-out (the subject-wise split stage) is the
alternative, itself confounded if the class order was the same for every subject.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from eegslim.datasets import Adapter, RecordingItem, Skipped, TrialBlock, check_options
from eegslim.io.pth import load_pth

log = logging.getLogger(__name__)

SFREQ = 1000.0
N_CHANNELS = 128
CHANNELS = tuple(f"EEG{i:03d}" for i in range(1, N_CHANNELS + 1))
LENGTH_RANGE = (450, 600)  # official Splitter: keep 450 <= L <= 600
PARTS = ("train", "val", "test")
_OPTIONS = {"file", "splits_file", "split_index", "crop_samples", "unit_scale", "allowed_globals"}
CAVEAT = (
    "block-confounded (Li et al., IEEE TPAMI 2020): all images of a class were shown in one block; trials in "
    "test share blocks with training trials"
)
# Held-out subjects remove the shared blocks, not the block design: every subject saw each class in one block,
# so a class still goes with a time since the session start (inferred, not published; Li et al. 2020 discuss it).
SUBJECT_CAVEAT = (
    "block design: each subject saw all images of a class in one block, so held-out subjects still tie classes "
    "to time since the session start if the class order was the same for every subject (Li et al., TPAMI 2020)"
)


def _crop(options: Mapping[str, Any]) -> tuple[int, int]:
    crop = options.get("crop_samples", [20, 460])
    if not (isinstance(crop, (list, tuple)) and len(crop) == 2 and 0 <= int(crop[0]) < int(crop[1])):
        raise ValueError(f"options.crop_samples: must be [start, stop] with 0 <= start < stop, got {crop!r}")
    return int(crop[0]), int(crop[1])


def _split_index(options: Mapping[str, Any]) -> int:
    index = options.get("split_index", 0)
    if not isinstance(index, int) or index < 0:
        raise ValueError(f"options.split_index: must be a non-negative integer, got {index!r}")
    return index


def find(root: Path, options: Mapping[str, Any]) -> tuple[list[RecordingItem], list[Skipped]]:
    """The EEG file as one item (its sources: it and the split file)."""
    check_options(options, _OPTIONS, "eeg_imagenet_2020")
    _crop(options), _split_index(options)
    eeg = root / options.get("file", "eeg_5_95_std.pth")
    splits = root / options.get("splits_file", "block_splits_by_image_all.pth")
    for path, key in ((eeg, "file"), (splits, "splits_file")):
        if not path.is_file():
            return [], [Skipped(path, f"no such file (options.{key})")]
    name = eeg.relative_to(root).as_posix()
    return [RecordingItem(path=eeg, subject="", session="1", sources=(eeg, splits),
                          extra={"splits": splits, "name": name})], []  # fmt: skip


def _folds(path: Path, options: Mapping[str, Any], n: int) -> np.ndarray:
    """Part name per dataset index from split `split_index` of the split file ('' = in no part)."""
    loaded = load_pth(path, options.get("allowed_globals") or ())
    splits = loaded.get("splits") if isinstance(loaded, dict) else None
    if not isinstance(splits, list) or not all(isinstance(s, dict) and set(PARTS) <= set(s) for s in splits):
        raise ValueError(f"{path}: not a split file (expected {{'splits': [{{'train', 'val', 'test'}}, ...]}})")
    index = _split_index(options)
    if index >= len(splits):
        raise ValueError(f"options.split_index: {index}, but {path} holds {len(splits)} splits")
    fold = np.full(n, "", dtype=object)
    for part in PARTS:
        idx = np.asarray([int(i) for i in splits[index][part]], dtype=np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"{path}: split {index} '{part}' has indices outside 0..{n - 1}")
        clash = idx[fold[idx] != ""]
        if len(clash):
            raise ValueError(f"{path}: split {index}: indices {clash[:5].tolist()} are in two parts")
        fold[idx] = part
    return fold


def read_trials(item: RecordingItem, options: Mapping[str, Any]) -> Iterator[TrialBlock]:
    """Per-subject blocks: X (n, 128, stop - start) volts, folds from the split file."""
    start, stop = _crop(options)
    loaded = load_pth(item.path, options.get("allowed_globals") or ())
    if not isinstance(loaded, dict) or not {"dataset", "labels"} <= set(loaded):
        raise ValueError(f"{item.path}: not a Spampinato EEG file (expected a dict with 'dataset' and 'labels')")
    dataset, class_names = loaded["dataset"], [str(x) for x in loaded["labels"]]
    fold = _folds(item.extra["splits"], options, len(dataset))
    by_subject: dict[int, list[int]] = {}
    for i, entry in enumerate(dataset):
        by_subject.setdefault(int(entry["subject"]), []).append(i)
    for subject, indices in sorted(by_subject.items()):
        block = _block(item, dataset, indices, subject, class_names, fold, (start, stop))
        block.X *= float(options.get("unit_scale", 1.0))
        yield block
        for i in indices:  # drop the tensors already turned into a block
            dataset[i] = None


def _block(item: RecordingItem, dataset: list[Any], indices: list[int], subject: int, class_names: list[str],
           fold: np.ndarray, crop: tuple[int, int]) -> TrialBlock:  # fmt: skip
    """One subject's segments of length 450–600 (others dropped), cropped; '' folds counted."""
    start, stop = crop
    lengths = [_length(dataset[i]["eeg"]) for i in indices]
    good = [i for i, n in zip(indices, lengths, strict=True) if LENGTH_RANGE[0] <= n <= LENGTH_RANGE[1] and n >= stop]
    X = np.empty((len(good), N_CHANNELS, stop - start))
    for row, i in enumerate(good):
        X[row] = dataset[i]["eeg"][:, start:stop].double().numpy()
    y = np.array([int(dataset[i]["label"]) for i in good], dtype=np.int64)
    if len(y) and (y.min() < 0 or y.max() >= len(class_names)):
        raise ValueError(f"{item.path}: labels outside 0..{len(class_names) - 1}")
    sub = f"sub-{subject:02d}"
    no_split = int((fold[good] == "").sum())
    log.info("%s %s: %d segments kept, %d dropped (length or shape), %d in no split", item.path.name, sub, len(good),
             len(indices) - len(good), no_split)  # fmt: skip
    return TrialBlock(
        X=X, sfreq=SFREQ, ch_names=list(CHANNELS), y=y, class_names=class_names,
        subject=np.full(len(good), sub, dtype=object), session="1", recording=f"{item.extra['name']}#{sub}",
        fold=fold[good], dropped={"length_out_of_range": len(indices) - len(good)},
    )  # fmt: skip


def _length(eeg: Any) -> int:
    """L of a (128, L) tensor; -1 (dropped) for anything else."""
    import torch  # loaded by load_pth already; not at module level, so other adapters' preprocessing skips it

    ok = isinstance(eeg, torch.Tensor) and eeg.ndim == 2 and eeg.shape[0] == N_CHANNELS
    return int(eeg.shape[1]) if ok else -1


def protocol(options: Mapping[str, Any]) -> dict[str, Any]:
    """The official split `split_index` (the `fold` column), flagged block-confounded; `subject_caveat`: what
    subject-wise splits of these windows still carry."""
    index = _split_index(options)
    return {
        "name": "official",
        "split": f"official split {index}",
        "split_index": index,
        "description": f"official split {index} of {options.get('splits_file', 'block_splits_by_image_all.pth')} "
        "(by image, 6 subjects pooled)",
        "caveat": CAVEAT,
        "subject_caveat": SUBJECT_CAVEAT,
    }


ADAPTER = Adapter(name="eeg_imagenet_2020", find=find, read_trials=read_trials, protocol=protocol)
