"""Stage `preprocess`: a dataset's raw recordings → results/{ds}/windows.h5 + summary.json.

Config keys (one dataset's entry): adapter, root, channels, sfreq, l_freq, h_freq, notch, window_s,
stride_s, strict, options (see eegslim.preprocess.Params and the adapters). A recording that cannot
be used is listed in summary.json under `skipped` with its reason, and in one warning at the end of
the stage; with `strict: true` it stops the stage instead. Adapters with `read_trials` (epoched
datasets) give one window per trial and per-window subject/fold; an adapter's `protocol` goes to
windows.h5 attrs and summary.json.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eegslim.atomic import write_json
from eegslim.datasets import Adapter, Skipped, get_adapter
from eegslim.io import RecordingError
from eegslim.preprocess import UNIT, Params, RecordingWindows, preprocess_recording, preprocess_trials
from eegslim.store import WindowWriter

log = logging.getLogger(__name__)


def _root(cfg: dict[str, Any]) -> Path:
    if not cfg.get("root"):
        raise ValueError("root: missing; set it to the folder that holds the recordings")
    root = Path(cfg["root"])
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (config key `root`)")
    return root


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _skip(skipped: list[Skipped], path: Path, reason: str, strict: bool) -> None:
    """Record a skipped recording (reason without the path prefix); fatal when strict."""
    reason = reason.removeprefix(f"{path}: ")
    if strict:
        raise RecordingError(f"{path}: {reason} (strict: true)")
    log.info("skipped %s: %s", path, reason)
    skipped.append(Skipped(path, reason))


def _warn_skipped(dataset: str, skipped: list[Skipped]) -> None:
    """One warning listing every skipped recording with its reason (nothing when none was skipped)."""
    if skipped:
        lines = "".join(f"\n  {s.path}: {s.reason}" for s in skipped)
        log.warning("%s: %d recording(s) skipped:%s", dataset, len(skipped), lines)


@dataclass
class _Unit:
    """One block of windows to append: a recording, or one TrialBlock of a file."""

    path: Path  # for skips and the summary (a TrialBlock: root / its recording name)
    recording: str
    subject: str | np.ndarray  # one, or one per window
    session: str
    fold: str | np.ndarray
    sources: tuple[Path, ...]
    rec: RecordingWindows
    class_names: list[str]


def _raw_units(adapter: Adapter, items, options, root: Path, params: Params, skip) -> Iterator[_Unit]:
    """Continuous recordings: read, preprocess and window each item."""
    class_names = adapter.class_names(options)
    for i, item in enumerate(items, 1):
        log.info("[%d/%d] %s", i, len(items), item.path)
        try:
            rec = preprocess_recording(adapter.read(item, options), item, class_names, params)
        except RecordingError as err:
            skip(item.path, str(err))
            continue
        yield _Unit(item.path, _relative(item.path, root), item.subject, item.session, item.fold or "",
                    item.sources, rec, class_names)  # fmt: skip


def _trial_units(adapter: Adapter, items, options, root: Path, params: Params, skip) -> Iterator[_Unit]:
    """Epoched trials: each item (a file) yields blocks (one per subject); one window per trial.

    A file's sources are hashed with its first block only. Memory: one block at a time.
    """
    for i, item in enumerate(items, 1):
        log.info("[%d/%d] %s", i, len(items), item.path)
        sources = item.sources
        for block in adapter.read_trials(item, options):
            path = root / block.recording
            try:
                rec = preprocess_trials(block, params)
            except RecordingError as err:
                skip(path, str(err))
                continue
            yield _Unit(path, block.recording, rec.subject, block.session, rec.fold, sources, rec,
                        list(block.class_names))  # fmt: skip
            sources = ()
            del block, rec


def run(dataset: str, cfg: dict[str, Any], out_h5: str | Path, out_summary: str | Path) -> None:
    """Read every recording (or trial file) of `dataset`, write its windows to `out_h5` and the summary."""
    adapter = get_adapter(cfg)
    root, strict, options = _root(cfg), bool(cfg.get("strict", False)), cfg.get("options") or {}
    params = Params.from_config(cfg)
    protocol = adapter.protocol(options) if adapter.protocol else None
    items, found_skipped = adapter.find(root, options)
    if not items and not found_skipped:
        raise ValueError(f"{root}: no recordings found for adapter {adapter.name!r} (config key `root`)")
    skipped: list[Skipped] = []

    def skip(path: Path, reason: str) -> None:
        _skip(skipped, path, reason, strict)

    for s in found_skipped:
        skip(s.path, s.reason)
    units = (_trial_units if adapter.read_trials else _raw_units)(adapter, items, options, root, params, skip)
    read: list[dict[str, Any]] = []
    per_class, per_subject, per_fold, dropped = Counter(), Counter(), Counter(), Counter()
    dropped_channels: set[str] = set()
    writer: WindowWriter | None = None
    class_names: list[str] = []
    with contextlib.ExitStack() as stack:
        for unit in units:
            rec = unit.rec
            if not len(rec.X):
                skip(unit.path, f"no usable window (dropped: {rec.dropped})")
                continue
            if writer is None:  # the first usable block fixes channels, rate and classes if the config does not
                params = dataclasses.replace(params, channels=tuple(rec.ch_names), sfreq=rec.sfreq)
                class_names = unit.class_names
                writer = stack.enter_context(WindowWriter(
                    out_h5, rec.ch_names, rec.sfreq, class_names, dataset, params.as_dict(), UNIT, root, protocol
                ))  # fmt: skip
            elif unit.class_names != class_names:
                raise ValueError(f"{unit.path}: class names {unit.class_names} differ from {class_names} (earlier)")
            writer.append(
                rec.X, rec.y, subject=unit.subject, session=unit.session,
                recording=unit.recording, fold=unit.fold, sources=unit.sources,
            )  # fmt: skip
            subjects = np.broadcast_to(np.asarray(unit.subject, dtype=object), len(rec.y))
            read.append(_read_entry(unit, rec.dropped, len(rec.X)))
            per_class.update(class_names[k] for k in rec.y)
            per_subject.update(subjects.tolist())
            per_fold.update(np.broadcast_to(np.asarray(unit.fold, dtype=object), len(rec.y)).tolist())
            dropped.update(rec.dropped)
            dropped_channels.update(rec.dropped_channels)
            del unit, rec  # before the next block is read: one block in memory at a time
        if writer is None:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped)
            raise ValueError(f"{root}: every recording was skipped: {reasons}")
    summary = {
        "dataset": dataset,
        "adapter": adapter.name,
        "root": str(root),
        "recordings": {
            "read": read,
            "skipped": [{"path": _relative(s.path, root), "reason": s.reason} for s in skipped],
        },
        "n_windows": writer.n_rows,
        "windows_per_class": {c: per_class[c] for c in class_names},
        "windows_per_subject": dict(sorted(per_subject.items())),
        "windows_per_fold": dict(sorted(per_fold.items())),
        "windows_dropped": dict(dropped),
        "channels": {"kept": list(params.channels), "dropped": sorted(dropped_channels - set(params.channels))},
        "class_names": class_names,
        "sfreq": params.sfreq,
        "unit": UNIT,
        "window_shape": [len(params.channels), round(params.window_s * params.sfreq)],
        "preprocessing": params.as_dict(),
        "protocol": protocol,
    }
    write_json(out_summary, summary)
    log.info("%s: %d windows from %d recordings, %d skipped", dataset, writer.n_rows, len(read), len(skipped))
    _warn_skipped(dataset, skipped)


def _read_entry(unit: _Unit, dropped: dict[str, int], n: int) -> dict[str, Any]:
    return {
        "path": unit.recording,
        "subject": ",".join(sorted(set(np.atleast_1d(unit.subject).tolist()))),
        "session": unit.session,
        "n_windows": n,
        "windows_dropped": dropped,
    }
