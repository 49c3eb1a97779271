"""Dataset adapters: find a dataset's recordings and say how each one is labelled.

An adapter turns `root` + `options` into `RecordingItem`s (and `Skipped` files), names the classes,
and reads one item into an MNE raw (preload=False) carrying the annotations its labels come from.
Datasets shipped as already-epoched trials (EEG-ImageNet, Spampinato) give `read_trials` instead:
one item (a file) → `TrialBlock`s, one per subject, whose class names come from the file.
An adapter may also describe the dataset's published evaluation protocol (`protocol`).
Registry: `ADAPTERS[cfg["adapter"]]`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mne
import numpy as np


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


@dataclass
class TrialBlock:
    """Already-epoched trials (usually one subject of one file); each trial becomes one window.

    X (n, C, T) float64 in volts, cropped as the dataset's protocol says; sfreq in Hz; y (n,) int64
    ids into `class_names`; subject (n,) str; fold (n,) str ('train' | 'val' | 'test' | '') or None
    when the dataset has no published split; recording: name relative to the root, e.g.
    'EEG-ImageNet_1.pth#sub-03'; dropped: trials the adapter left out, by reason.
    """

    X: np.ndarray
    sfreq: float
    ch_names: list[str]
    y: np.ndarray
    class_names: list[str]
    subject: np.ndarray
    session: str
    recording: str
    fold: np.ndarray | None = None
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Adapter:
    """find(root, options) → (items, skipped), and either

    - class_names(options) + read(item, options) → raw (continuous recordings), or
    - read_trials(item, options) → iterable of TrialBlock (epoched trials; class names per block).

    protocol(options) → None or {"name", "description", "caveat", ...}: the published evaluation
    protocol whose parts the windows' `fold` column holds (stored as windows.h5 attr `protocol`).
    """

    name: str
    find: Callable[[Path, Mapping[str, Any]], tuple[list[RecordingItem], list[Skipped]]]
    class_names: Callable[[Mapping[str, Any]], list[str]] | None = None
    read: Callable[[RecordingItem, Mapping[str, Any]], mne.io.BaseRaw] | None = None
    read_trials: Callable[[RecordingItem, Mapping[str, Any]], Iterable[TrialBlock]] | None = None
    protocol: Callable[[Mapping[str, Any]], dict[str, Any] | None] | None = None

    def __post_init__(self) -> None:
        if (self.read is None) == (self.read_trials is None) or (self.read is not None) != (self.class_names is not None):
            raise TypeError(f"adapter {self.name!r}: give class_names + read, or read_trials alone")


def check_options(options: Mapping[str, Any], known: set[str], adapter: str) -> None:
    """Reject option keys the adapter does not know (catches typos in config.yaml)."""
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"options: unknown key(s) {unknown} for adapter {adapter!r} (known: {sorted(known)})")


def choice_option(options: Mapping[str, Any], key: str, default: str, choices: Iterable[str]) -> str:
    """options[key] (default `default`), refused with a ValueError naming the key unless it is one of `choices`."""
    value = options.get(key, default)
    if value not in choices:
        raise ValueError(f"options.{key}: {value!r} is not one of {list(choices)}")
    return value


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
