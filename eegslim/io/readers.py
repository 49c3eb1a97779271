"""One MNE reader per recording format, chosen by file extension.

Every problem with a file (unknown extension, missing, unreadable or truncated) is raised as
`RecordingError("{path}: {problem}")`, so a stage can skip that recording and name it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import mne

log = logging.getLogger(__name__)


class RecordingError(ValueError):
    """A recording that cannot be used; the message starts with its path."""


def _edf(path: Path, preload: bool) -> mne.io.BaseRaw:
    # infer_types: 'EEG Fp1' → eeg 'Fp1', 'ECG ECG' → ecg, 'EOG horizontal' → eog.
    return mne.io.read_raw_edf(path, preload=preload, infer_types=True, verbose="error")


def _bdf(path: Path, preload: bool) -> mne.io.BaseRaw:
    return mne.io.read_raw_bdf(path, preload=preload, infer_types=True, verbose="error")


def _eeglab(path: Path, preload: bool) -> mne.io.BaseRaw:
    return mne.io.read_raw_eeglab(path, preload=preload, verbose="error")


def _brainvision(path: Path, preload: bool) -> mne.io.BaseRaw:
    return mne.io.read_raw_brainvision(path, preload=preload, verbose="error")


def _fif(path: Path, preload: bool) -> mne.io.BaseRaw:
    return mne.io.read_raw_fif(path, preload=preload, verbose="error")


READERS: dict[str, Callable[[Path, bool], mne.io.BaseRaw]] = {
    ".edf": _edf,
    ".bdf": _bdf,
    ".set": _eeglab,
    ".vhdr": _brainvision,
    ".fif": _fif,
}

# Companion files that hold a recording's samples or markers, by the header's extension.
COMPANIONS: dict[str, tuple[str, ...]] = {".set": (".fdt",), ".vhdr": (".vmrk", ".eeg")}


def source_files(path: str | Path) -> list[Path]:
    """The header file and the companions that exist beside it (.fdt; .vmrk, .eeg)."""
    path = Path(path)
    extra = [path.with_suffix(ext) for ext in COMPANIONS.get(path.suffix.lower(), ())]
    return [path, *(p for p in extra if p.is_file())]


def _check_edf_size(path: Path) -> None:
    """Raise if an EDF/BDF file is shorter than its header promises (MNE would read it shorter)."""
    with open(path, "rb") as fh:
        head = fh.read(256)
        try:
            header_bytes, n_records, n_signals = int(head[184:192]), int(head[236:244]), int(head[252:256])
            fh.seek(256 + n_signals * 216)  # per-signal 'samples per record' fields (8 bytes each)
            samples = [int(fh.read(8)) for _ in range(n_signals)]
        except ValueError as err:
            raise RecordingError(f"{path}: corrupt EDF/BDF header ({err})") from err
    if n_records < 0:  # -1: "recording not stopped", length unknown by design
        return
    sample_bytes = 3 if path.suffix.lower() == ".bdf" else 2
    expected = header_bytes + n_records * sum(samples) * sample_bytes
    actual = path.stat().st_size
    if actual < expected:
        raise RecordingError(
            f"{path}: truncated: {actual} bytes, the header promises {expected} ({n_records} records)"
        )


def _check_fdt_size(raw: mne.io.BaseRaw, path: Path) -> None:
    """Raise if an EEGLAB .fdt holds fewer than nbchan·pnts float32 samples."""
    data_file = Path(raw.filenames[0])
    if data_file.resolve() == path.resolve():  # samples embedded in the .set
        return
    expected = len(raw.ch_names) * raw.n_times * 4
    actual = data_file.stat().st_size
    if actual < expected:
        raise RecordingError(
            f"{path}: truncated {data_file.name}: {actual} bytes, the header's nbchan·pnts·4 = "
            f"{len(raw.ch_names)}·{raw.n_times}·4 = {expected}"
        )


def read_raw(path: str | Path, *, preload: bool = True) -> mne.io.BaseRaw:
    """Read one recording (.edf/.bdf incl. EDF+/BDF+, .set, .vhdr, .fif) with MNE; data in volts.

    With `preload=False` only the header is read (sizes already checked); call `load_raw` later.
    """
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise RecordingError(f"{path}: unsupported extension {path.suffix!r} (known: {', '.join(READERS)})")
    if not path.is_file():
        raise RecordingError(f"{path}: no such file")
    if path.suffix.lower() in (".edf", ".bdf"):
        _check_edf_size(path)
    try:
        raw = reader(path, False)
    except Exception as err:  # MNE raises many types for a bad header; all mean "unusable file"
        raise RecordingError(f"{path}: cannot read the header ({type(err).__name__}: {err})") from err
    if path.suffix.lower() == ".set":
        _check_fdt_size(raw, path)
    if preload:
        load_raw(raw, path)
    log.debug("read %s: %d channels, %.1f Hz, %.1f s", path, len(raw.ch_names), raw.info["sfreq"], raw.times[-1])
    return raw


def load_raw(raw: mne.io.BaseRaw, path: str | Path) -> mne.io.BaseRaw:
    """Load the samples of a raw read with `preload=False`, naming `path` if that fails."""
    try:
        return raw.load_data(verbose="error")
    except Exception as err:
        raise RecordingError(f"{path}: cannot read the samples ({type(err).__name__}: {err})") from err
