"""Dataset adapters: find a dataset's recordings and say how each one is labelled.

An adapter turns `root` + `options` into `RecordingItem`s (and `Skipped` files), names the classes,
and reads one item into an MNE raw (preload=False) carrying the annotations its labels come from.
Registry: `ADAPTERS[cfg["adapter"]]`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mne


@dataclass(frozen=True)
class RecordingItem:
    """One recording to read.

    path: the signal file given to `eegslim.io.read_raw`; sources: every file it depends on (hashed).
    Labels: either `label` (one class for the whole recording: sliding windows) or `event_classes`
    (annotation description → class name, one window per `epoch_s`-long labelled epoch).
    """

    path: Path
    subject: str
    session: str
    sources: tuple[Path, ...]
    label: str | None = None
    event_classes: Mapping[str, str] | None = None
    epoch_s: float | None = None
    fold: str | None = None  # the published protocol's part ('train' | 'val' | 'test'), if the dataset has one
    extra: Mapping[str, Any] = field(default_factory=dict)  # adapter-private (e.g. hypnogram path)


@dataclass(frozen=True)
class Skipped:
    """A file the adapter found but cannot use."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Adapter:
    """find(root, options) → (items, skipped); class_names(options); read(item, options) → raw."""

    name: str
    find: Callable[[Path, Mapping[str, Any]], tuple[list[RecordingItem], list[Skipped]]]
    class_names: Callable[[Mapping[str, Any]], list[str]]
    read: Callable[[RecordingItem, Mapping[str, Any]], mne.io.BaseRaw]


def check_options(options: Mapping[str, Any], known: set[str], adapter: str) -> None:
    """Reject option keys the adapter does not know (catches typos in config.yaml)."""
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"options: unknown key(s) {unknown} for adapter {adapter!r} (known: {sorted(known)})")


def _discover() -> dict[str, Adapter]:
    """Every module of this package that defines `ADAPTER` (adding an adapter = adding a module)."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        adapter = getattr(importlib.import_module(f"{__name__}.{info.name}"), "ADAPTER", None)
        if isinstance(adapter, Adapter):
            found[adapter.name] = adapter
    return found


ADAPTERS: dict[str, Adapter] = _discover()


def get_adapter(cfg: Mapping[str, Any]) -> Adapter:
    """The adapter named by `cfg["adapter"]`; ValueError naming the key and the known names."""
    name = cfg.get("adapter")
    if name not in ADAPTERS:
        raise ValueError(f"adapter: unknown adapter {name!r} (known: {', '.join(sorted(ADAPTERS))})")
    return ADAPTERS[name]
