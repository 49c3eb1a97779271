"""OpenNeuro ds004902 (sleep-deprivation resting EEG): BIDS + EEGLAB, the class is the session.

ses-1 = normal sleep (class 0, `normal_sleep`), ses-2 = sleep deprived (class 1, `sleep_deprived`);
never participants.tsv's SessionOrder, which is only the chronological order. Option `eyes`: `open`
(default, task-eyesopen: all 71 subjects), `closed` (task-eyesclosed: 38 subjects) or `both`.
Discovery is the `bids` adapter's. Truncated `.fdt` files (smaller than the header's 4·nbchan·pnts)
are rejected by `eegslim.io.read_raw`, so the stage skips them and lists them in summary.json;
the 5 kHz recordings are resampled by preprocessing (config `sfreq`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mne

from eegslim.datasets import Adapter, RecordingItem, Skipped, bids, check_options

CLASSES = ["normal_sleep", "sleep_deprived"]
SESSIONS = {"1": CLASSES[0], "2": CLASSES[1]}
EYES = {"open": ["eyesopen"], "closed": ["eyesclosed"], "both": ["eyesopen", "eyesclosed"]}
_OPTIONS = {"eyes"}


def _bids_options(options: Mapping[str, Any]) -> dict[str, Any]:
    check_options(options, _OPTIONS, "sleep_deprivation")
    eyes = options.get("eyes", "open")
    if eyes not in EYES:
        raise ValueError(f"options.eyes: {eyes!r} is not one of {sorted(EYES)}")
    return {"session_classes": SESSIONS, "task": EYES[eyes]}


def class_names(options: Mapping[str, Any]) -> list[str]:
    """['normal_sleep', 'sleep_deprived'] (ses-1, ses-2)."""
    _bids_options(options)
    return list(CLASSES)


def find(root: Path, options: Mapping[str, Any]) -> tuple[list[RecordingItem], list[Skipped]]:
    """Every ses-1/ses-2 recording of the chosen eyes condition(s) under `root`."""
    return bids.find(root, _bids_options(options))


def read(item: RecordingItem, options: Mapping[str, Any]) -> mne.io.BaseRaw:
    """The recording's header (preload=False); RecordingError if its .fdt is truncated."""
    return bids.read(item, _bids_options(options))


ADAPTER = Adapter(name="sleep_deprivation", find=find, class_names=class_names, read=read)
