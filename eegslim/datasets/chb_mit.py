"""CHB-MIT Scalp EEG (PhysioNet `chbmit` 1.0.0; Shoeb 2009): cases chb01-chb24 of paediatric patients, 256 Hz.

Files under `root` (or `root` is one case's folder): one folder per case, `chbNN/chbNN_MM.edf` (also
`chb17a_03.edf`, `chb02_16+.edf`) and `chbNN/chbNN-summary.txt`, whose blocks name each file and its seizures in
seconds from the file's start:

    File Name: chb01_03.edf
    File Start Time: 13:43:04
    File End Time: 14:43:04
    Number of Seizures in File: 1
    Seizure Start Time: 2996 seconds        (later cases: "Seizure 1 Start Time: ...")
    Seizure End Time: 3036 seconds

Starts and ends are paired by position, not by the printed number (chb09_08 prints "Seizure 1 End Time" for its
second seizure); clock times are not used (some pass 24:00:00). A summary naming a missing EDF, an EDF the
summary does not list, or a summary that does not parse is reported (skipped, fatal under `strict`).

Windows: each file is tiled from its start by `epoch_s`-long windows (no overlap). A window is `seizure` when at
least `min_overlap_s` of it lies inside a seizure, `background` when none of it does, and left out otherwise (it
straddles a seizure edge: neither label is sure). Per subject, `background_ratio` × (its seizure windows)
background windows are kept, drawn at random (seed `seed` and the subject's name: reproducible, and independent
of the other subjects). The chosen windows reach `eegslim.preprocess` as `epoch_s`-long annotations named by
class (the `event_classes` + `epoch_s` mechanism that Sleep-EDF uses): config `window_s` must equal `epoch_s`.

Channels: bipolar pairs as the file names them (`FP1-F7` → `Fp1-F7`); a label repeated in the header (`T8-P8`
twice) keeps its first occurrence (MNE would read them as `T8-P8-0`, `T8-P8-1`); dummy channels (`-`, `.`) are
dropped; channels that are not a pair of 10-20 positions (`ECG`, `VNS`, `LOC-ROC`, `01`) are typed misc, so
`channels: null` does not keep them.

Subject = the case folder, session = the case. Case chb21 was recorded 1.5 years after chb01 from the same girl
(PhysioNet's description): `same_people` (default true) files chb21 under subject chb01, so subject-wise splits
keep the two cases together.

Options: `epoch_s` (default 4), `min_overlap_s` (default `epoch_s`: only windows wholly inside a seizure are
`seizure`), `background_ratio` (default 1; null keeps every background window), `seed` (default 0),
`same_people` (default true).
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mne
import numpy as np

from eegslim.datasets import Adapter, RecordingItem, Skipped, check_options
from eegslim.io import RecordingError, read_raw
from eegslim.io.channels import mark_non_electrodes

log = logging.getLogger(__name__)

CLASSES = ["background", "seizure"]
SAME_PERSON = {"chb21": "chb01"}  # case → the case of the same person
_OPTIONS = {"epoch_s", "min_overlap_s", "background_ratio", "seed", "same_people"}
_CASE = re.compile(r"^chb\d{2}$")
_FILE_NAME = re.compile(r"^File Name:\s*(?P<name>\S+)\s*$", re.IGNORECASE)
_COUNT = re.compile(r"^Number of Seizures in File:\s*(?P<n>\d+)\s*$", re.IGNORECASE)
_SEIZURE = re.compile(r"^Seizure(?:\s+\d+)?\s+(?P<edge>Start|End)\s+Time:\s*(?P<s>\d+(?:\.\d+)?)\s*(?:seconds?)?\s*$",
                      re.IGNORECASE)  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """The options, checked. Durations in seconds; background_ratio None keeps every background window."""

    epoch_s: float
    min_overlap_s: float
    background_ratio: float | None
    seed: int
    same_people: bool


def _number(options: Mapping[str, Any], key: str, default: Any) -> Any:
    value = options.get(key, default)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
        raise ValueError(f"options.{key}: a number >= 0, got {value!r}")
    return value


def settings(options: Mapping[str, Any]) -> Settings:
    """Settings from `options`; ValueError naming the option."""
    check_options(options, _OPTIONS, "chb_mit")
    epoch_s = _number(options, "epoch_s", 4.0)
    if not epoch_s:
        raise ValueError(f"options.epoch_s: a positive number of seconds, got {epoch_s!r}")
    min_overlap_s = _number(options, "min_overlap_s", epoch_s)
    if min_overlap_s is None or not 0 < min_overlap_s <= epoch_s:
        raise ValueError(f"options.min_overlap_s: seconds in (0, epoch_s = {epoch_s:g}], got {min_overlap_s!r}")
    seed, same_people = options.get("seed", 0), options.get("same_people", True)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"options.seed: an integer >= 0, got {seed!r}")
    if not isinstance(same_people, bool):
        raise ValueError(f"options.same_people: true or false, got {same_people!r}")
    ratio = _number(options, "background_ratio", 1.0)
    return Settings(float(epoch_s), float(min_overlap_s), None if ratio is None else float(ratio), seed, same_people)


def class_names(options: Mapping[str, Any]) -> list[str]:
    """['background', 'seizure']."""
    settings(options)
    return list(CLASSES)


def read_summary(path: Path) -> dict[str, tuple[tuple[float, float], ...]]:
    """{EDF file name: ((start_s, end_s), ...)} from a chbNN-summary.txt; ValueError naming file:line."""
    seizures: dict[str, tuple[tuple[float, float], ...]] = {}
    name, declared, edges, where = None, 0, [], 0

    def close() -> None:
        if name is None:
            return
        starts, ends = edges[0::2], edges[1::2]
        kinds = [kind for kind, _ in edges]
        if kinds != ["start", "end"] * (len(edges) // 2) or len(starts) != declared:
            raise ValueError(f"{path}:{where}: {name} declares {declared} seizure(s) but lists the times {kinds}")
        pairs = tuple((s, e) for (_, s), (_, e) in zip(starts, ends, strict=True))
        if any(e <= s for s, e in pairs):
            raise ValueError(f"{path}:{where}: {name}: a seizure ends before it starts {list(pairs)}")
        seizures[name] = pairs

    for line_no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        line = line.strip()
        if m := _FILE_NAME.match(line):
            close()
            name, declared, edges, where = m.group("name"), 0, [], line_no
            if name in seizures:
                raise ValueError(f"{path}:{line_no}: {name} listed twice")
        elif (m := _COUNT.match(line)) and name is not None:
            declared = int(m.group("n"))
        elif (m := _SEIZURE.match(line)) and name is not None:
            edges.append((m.group("edge").lower(), float(m.group("s"))))
    close()
    return seizures


def edf_duration(path: Path) -> float:
    """Recorded seconds from an EDF header (data records × record duration); ValueError naming the file."""
    with open(path, "rb") as fh:
        head = fh.read(256)
    try:
        n_records, record_s = int(head[236:244]), float(head[244:252])
    except ValueError as err:
        raise ValueError(f"{path}: corrupt EDF header ({err})") from err
    return n_records * record_s


def label_windows(duration_s: float, seizures, epoch_s: float, min_overlap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Onsets (n,) s of the windows tiling [0, duration_s) and their labels (n,) str.

    'seizure': at least `min_overlap_s` inside a seizure; 'background': no overlap; '' (left out): in between.
    """
    onsets = np.arange(int(np.floor(duration_s / epoch_s + 1e-9))) * epoch_s
    overlap = np.zeros(len(onsets))
    for start, end in seizures:
        overlap += np.clip(np.minimum(onsets + epoch_s, end) - np.maximum(onsets, start), 0.0, None)
    labels = np.where(overlap >= min_overlap_s - 1e-9, "seizure", np.where(overlap > 0, "", "background"))
    return onsets, labels


def _subject(case: str, same_people: bool) -> str:
    return SAME_PERSON.get(case, case) if same_people else case


@dataclass
class _File:
    path: Path
    summary: Path
    subject: str
    onsets: np.ndarray
    labels: np.ndarray


def _case_files(folder: Path, s: Settings) -> tuple[list[_File], list[Skipped]]:
    """The labelled windows of every EDF of one case folder, and what cannot be used."""
    summary = folder / f"{folder.name}-summary.txt"
    edfs = {p.name: p for p in folder.iterdir() if p.suffix.lower() == ".edf" and p.is_file()}
    if not summary.is_file():
        return [], [Skipped(p, f"no {summary.name} beside it (the seizure times)") for _, p in sorted(edfs.items())]
    try:
        seizures = read_summary(summary)
    except (ValueError, OSError) as err:
        return [], [Skipped(p, str(err)) for _, p in sorted(edfs.items())]
    files, skipped = [], []
    for name in sorted(set(edfs) | set(seizures)):
        path = folder / name
        if name not in edfs:
            skipped.append(Skipped(path, f"listed in {summary} but missing"))
        elif name not in seizures:
            skipped.append(Skipped(path, f"not listed in {summary.name}"))
        else:
            try:
                duration = edf_duration(path)
            except (ValueError, OSError) as err:
                skipped.append(Skipped(path, str(err).removeprefix(f"{path}: ")))
                continue
            if any(end > duration for _, end in seizures[name]):
                log.warning("%s: a seizure of %s ends after the recording (%g s)", path, summary.name, duration)
            onsets, labels = label_windows(duration, seizures[name], s.epoch_s, s.min_overlap_s)
            files.append(_File(path, summary, _subject(folder.name, s.same_people), onsets, labels))
    return files, skipped


def _subsample(files: list[_File], s: Settings) -> None:
    """Keep background_ratio × (seizure windows) background windows per subject, drawn at random; in place."""
    if s.background_ratio is None:
        return
    for subject in sorted({f.subject for f in files}):
        mine = [f for f in files if f.subject == subject]
        background = [(i, j) for i, f in enumerate(mine) for j in np.flatnonzero(f.labels == "background")]
        n_seizure = sum(int((f.labels == "seizure").sum()) for f in mine)
        keep = min(len(background), round(s.background_ratio * n_seizure))
        rng = np.random.default_rng([s.seed, zlib.crc32(subject.encode())])
        chosen = {background[k] for k in rng.choice(len(background), size=keep, replace=False)}
        for i, j in background:
            if (i, j) not in chosen:
                mine[i].labels[j] = ""
        log.info("%s: %d seizure and %d of %d background windows kept", subject, n_seizure, keep, len(background))


def find(root: Path, options: Mapping[str, Any]) -> tuple[list[RecordingItem], list[Skipped]]:
    """One item per EDF with at least one kept window; its windows' onsets and classes in `extra`."""
    s = settings(options)
    files, skipped = [], []
    cases = [root] if _CASE.match(root.name) else [p for p in root.iterdir() if p.is_dir() and _CASE.match(p.name)]
    for folder in sorted(cases):
        found, bad = _case_files(folder, s)
        files += found
        skipped += bad
    _subsample(files, s)
    items = []
    for f in files:
        kept = f.labels != ""
        if kept.any():
            items.append(RecordingItem(
                path=f.path, subject=f.subject, session=f.path.parent.name, sources=(f.path, f.summary),
                event_classes={c: c for c in CLASSES}, epoch_s=s.epoch_s,
                extra={"onsets": tuple(f.onsets[kept].tolist()), "labels": tuple(f.labels[kept].tolist())},
            ))  # fmt: skip
    log.info("chb_mit: %d of %d files hold kept windows", len(items), len(files))
    return items, skipped


def _header_labels(path: Path) -> list[str]:
    """The signal labels as the EDF header spells them (MNE renames repeated ones)."""
    with open(path, "rb") as fh:
        head = fh.read(256)
        n = int(head[252:256])
        return [fh.read(16).decode("ascii", "replace").strip() for _ in range(n)]


def resolve_channels(raw: mne.io.BaseRaw, path: Path) -> list[str]:
    """Drop dummy channels and repeated labels (the first one stays, with its header label), in place.

    Channels that are no pair of 10-20 positions are typed misc. Returns the names of the dropped channels.
    """
    labels = _header_labels(path)
    if len(labels) != len(raw.ch_names):
        raise RecordingError(f"{path}: {len(labels)} header labels for {len(raw.ch_names)} channels read")
    seen, drop, rename = set(), [], {}
    for label, name in zip(labels, raw.ch_names, strict=True):
        if not re.search(r"[A-Za-z0-9]", label) or label in seen:
            drop.append(name)
        elif name != label:
            rename[name] = label
        seen.add(label)
    raw.drop_channels(drop)
    raw.rename_channels(rename)
    mark_non_electrodes(raw)
    return drop


def read(item: RecordingItem, options: Mapping[str, Any]) -> mne.io.BaseRaw:
    """The EDF (preload=False) with one class-named `epoch_s` annotation per kept window."""
    raw = read_raw(item.path, preload=False)
    dropped = resolve_channels(raw, item.path)
    if dropped:
        log.info("%s: dropped dummy or repeated channels %s", item.path.name, dropped)
    onsets, labels = item.extra["onsets"], item.extra["labels"]
    raw.set_annotations(mne.Annotations(onsets, item.epoch_s, labels, orig_time=None))
    return raw


ADAPTER = Adapter(name="chb_mit", find=find, class_names=class_names, read=read)
