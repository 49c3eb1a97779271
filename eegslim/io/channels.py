"""Channel names in standard 10-20/10-10 spelling, and picking a fixed channel list."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path

import mne

from eegslim.io.readers import RecordingError

# Names outside the 10-05 montage that EEG files use: old temporal names are in the montage
# (T3-T6), these are not: TUH's T1/T2, the 10-20 O9/O10, Neuroscan's cerebellar CB1/CB2.
_EXTRA = ("T1", "T2", "O9", "O10", "CB1", "CB2")
# Channels typed 'eeg' by the reader whose name says they are not EEG (BDF 'EOG', 'Event marker').
# TUH's 'EEG ...' channels that are not scalp EEG: photic stimulus, burst-suppression metrics, eye leads.
_NOT_EEG = re.compile(
    r"^(EEG\s+)?(EOG|ECG|EKG|EMG|RESP|TEMP|EVENT|TRIGGER|STATUS|STI|ACC|PHOTIC|IBI|BURSTS|SUPPR|ROC|LOC)",
    re.IGNORECASE,
)
# Ear/mastoid sites: a derivation between two of them ('EEG A2-A1' in EEGMAT) carries no scalp signal.
_REFERENCE_SITES = {"A1", "A2", "M1", "M2"}


@functools.cache
def _standard() -> dict[str, str]:
    """Upper-case name → standard spelling, from MNE's 10-05 montage."""
    names = mne.channels.make_standard_montage("colin27_1005").ch_names
    return {n.upper(): n for n in (*names, *_EXTRA)}


def _electrode(name: str) -> str | None:
    return _standard().get(name.strip().upper())


def normalize_name(name: str) -> str:
    """Standard spelling of an EEG channel name; unknown names come back unchanged but trimmed.

    'EEG Fp1' → 'Fp1', 'FP1-REF' → 'Fp1', 'EEG T3-LE' → 'T3', 'Fc5.' → 'FC5', 'CZ' → 'Cz',
    'EEG Fpz-Cz' → 'Fpz-Cz' (a bipolar pair stays a pair), 'EEG 001' → 'EEG 001'.
    """
    base = name.strip().rstrip(".").strip()
    base = re.sub(r"^EEG\s+", "", base, flags=re.IGNORECASE)
    base = re.sub(r"-(REF|LE)$", "", base, flags=re.IGNORECASE)
    if (single := _electrode(base)) is not None:
        return single
    parts = base.split("-")
    if len(parts) == 2 and all(_electrode(p) for p in parts):
        return "-".join(_electrode(p) for p in parts)
    return name.strip().rstrip(".").strip()


def is_reference_pair(name: str) -> bool:
    """True for a derivation between two ear/mastoid sites ('A2-A1', 'EEG M1-M2'): not scalp EEG."""
    parts = normalize_name(name).split("-")
    return len(parts) == 2 and set(parts) <= _REFERENCE_SITES


def is_electrode(name: str) -> bool:
    """True when `name` is a 10-20/10-10 position or a pair of them ('EEG FP1-REF', 'Fpz-Cz', 'T1').

    False for EEG-typed leads without a scalp position: TUH's 'SP1-REF', 'PG1-REF', 'C3P-REF', 'LUC-REF',
    'EEG 20-REF', 'EKG1-REF'; also for generic names such as 'EEG 001'.
    """
    return all(_electrode(part) for part in normalize_name(name).split("-"))


def mark_non_electrodes(raw: mne.io.BaseRaw) -> list[str]:
    """Retype as 'misc', in place, the EEG channels that are no 10-20/10-10 position; returns their names.

    For files that type every channel EEG (TUH EDFs), so that `eeg_channels` (channels: null) keeps
    only scalp positions.
    """
    names = [raw.ch_names[i] for i in mne.pick_types(raw.info, eeg=True, exclude=[])]
    others = [n for n in names if not is_electrode(n)]
    if others:
        raw.set_channel_types(dict.fromkeys(others, "misc"), on_unit_change="ignore")
    return others


def eeg_channels(raw: mne.io.BaseRaw) -> list[str]:
    """Names of the EEG-type channels, less EOG/ECG/EMG/markers/photic by name and ear-to-ear pairs."""
    picks = mne.pick_types(raw.info, eeg=True, exclude=[])
    names = [raw.ch_names[i] for i in picks]
    return [n for n in names if not _NOT_EEG.match(n) and not is_reference_pair(n)]


def pick_channels(raw: mne.io.BaseRaw, wanted: Sequence[str] | None, path: str | Path) -> mne.io.BaseRaw:
    """Keep `wanted` channels (any spelling) in that order and rename them to standard names, in place.

    wanted=None keeps every EEG channel (`eeg_channels`) in file order. Missing channels, or two file
    channels that normalise to the same name, raise RecordingError naming `path`.
    """
    candidates = eeg_channels(raw) if wanted is None else list(raw.ch_names)
    by_name: dict[str, list[str]] = {}
    for ch in candidates:
        by_name.setdefault(normalize_name(ch), []).append(ch)
    targets = list(by_name) if wanted is None else [normalize_name(w) for w in wanted]
    missing = [t for t in targets if t not in by_name]
    if missing:
        raise RecordingError(f"{path}: missing channels {missing} (has {list(raw.ch_names)})")
    clashes = {t: by_name[t] for t in targets if len(by_name[t]) > 1}
    if clashes:
        raise RecordingError(f"{path}: channels with the same standard name: {clashes}")
    if not targets:
        raise RecordingError(f"{path}: no EEG channels (has {list(raw.ch_names)})")
    originals = [by_name[t][0] for t in targets]
    raw.pick(originals)
    raw.reorder_channels(originals)
    raw.rename_channels(dict(zip(originals, targets, strict=True)))
    return raw


def common_channels(channel_lists: dict[str, Sequence[str]]) -> list[str]:
    """The channels every dataset has, in the order of the first dataset's list.

    channel_lists: dataset name → its standard channel names (windows.h5 `ch_names`). For pooled work
    (pretraining on several datasets) restricted to one channel set. Raises ValueError naming the
    datasets when they share none (bipolar pairs such as 'Fpz-Cz' only match the same pair).
    """
    if not channel_lists:
        raise ValueError("common channel set: no datasets given")
    first, *rest = channel_lists.values()
    shared = [ch for ch in first if all(ch in other for other in rest)]
    if not shared:
        raise ValueError(f"datasets {sorted(channel_lists)} share no channel: {dict(channel_lists)}")
    return shared
