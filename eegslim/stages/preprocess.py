"""Stage `preprocess`: a dataset's raw recordings → results/{ds}/windows.h5 + summary.json.

Config keys (one dataset's entry): adapter, root, channels, sfreq, l_freq, h_freq, notch, window_s,
stride_s, strict, options (see eegslim.preprocess.Params and the adapters). A recording that cannot
be used is logged and listed in summary.json under `skipped` with its reason; with `strict: true`
it stops the stage instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from eegslim.atomic import write_json
from eegslim.datasets import RecordingItem, Skipped, get_adapter
from eegslim.io import RecordingError
from eegslim.preprocess import UNIT, Params, preprocess_recording
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
    log.warning("skipped %s: %s", path, reason)
    skipped.append(Skipped(path, reason))


def run(dataset: str, cfg: dict[str, Any], out_h5: str | Path, out_summary: str | Path) -> None:
    """Read every recording of `dataset`, write its windows to `out_h5` and the summary JSON."""
    adapter = get_adapter(cfg)
    root, strict, options = _root(cfg), bool(cfg.get("strict", False)), cfg.get("options") or {}
    params = Params.from_config(cfg)
    class_names = adapter.class_names(options)
    items, found_skipped = adapter.find(root, options)
    if not items and not found_skipped:
        raise ValueError(f"{root}: no recordings found for adapter {adapter.name!r} (config key `root`)")
    skipped: list[Skipped] = []
    for s in found_skipped:
        _skip(skipped, s.path, s.reason, strict)
    read: list[dict[str, Any]] = []
    per_class, per_subject, dropped = Counter(), Counter(), Counter()
    dropped_channels: set[str] = set()
    writer: WindowWriter | None = None
    with contextlib.ExitStack() as stack:
        for i, item in enumerate(items, 1):
            log.info("[%d/%d] %s", i, len(items), item.path)
            try:
                rec = preprocess_recording(adapter.read(item, options), item, class_names, params)
            except RecordingError as err:
                _skip(skipped, item.path, str(err), strict)
                continue
            if not len(rec.X):
                _skip(skipped, item.path, f"no usable window (dropped: {rec.dropped})", strict)
                continue
            if writer is None:  # the first usable recording fixes channels and rate if the config does not
                params = dataclasses.replace(params, channels=tuple(rec.ch_names), sfreq=rec.sfreq)
                writer = stack.enter_context(
                    WindowWriter(out_h5, rec.ch_names, rec.sfreq, class_names, dataset, params.as_dict(), UNIT, root)
                )
            writer.append(
                rec.X, rec.y, subject=item.subject, session=item.session,
                recording=_relative(item.path, root), fold=item.fold or "", sources=item.sources,
            )  # fmt: skip
            read.append(_read_entry(item, root, rec.dropped, len(rec.X)))
            per_class.update(class_names[k] for k in rec.y)
            per_subject[item.subject] += len(rec.X)
            dropped.update(rec.dropped)
            dropped_channels.update(rec.dropped_channels)
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
        "windows_dropped": dict(dropped),
        "channels": {"kept": list(params.channels), "dropped": sorted(dropped_channels - set(params.channels))},
        "class_names": class_names,
        "sfreq": params.sfreq,
        "unit": UNIT,
        "window_shape": [len(params.channels), round(params.window_s * params.sfreq)],
        "preprocessing": params.as_dict(),
    }
    write_json(out_summary, summary)
    log.info("%s: %d windows from %d recordings, %d skipped", dataset, writer.n_rows, len(read), len(skipped))


def _read_entry(item: RecordingItem, root: Path, dropped: dict[str, int], n: int) -> dict[str, Any]:
    return {
        "path": _relative(item.path, root),
        "subject": item.subject,
        "session": item.session,
        "n_windows": n,
        "windows_dropped": dropped,
    }

