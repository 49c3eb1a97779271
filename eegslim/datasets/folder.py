"""Any folder of MNE-readable recordings (.edf .bdf .set .vhdr .fif, searched recursively).

Options:
- `pattern`: glob (or list of globs) relative to root choosing the files (default every readable file).
- `label_from` (required): `annotations` | `path` | `table`.
  - annotations: `events` {annotation description: class name} and `epoch_s` (one window per
    epoch_s-long piece of each such annotation; other annotations ignored).
  - path: `label_regex`, a regex with a named group `label`, searched in the path relative to root.
  - table: `table`, a CSV/TSV file (path relative to root, or absolute) with columns `file` (path
    relative to root, or file stem) and `label`.
  - path/table: optional `label_map` {captured value: class name}; without it the value is the class.
- `classes`: class order (index = class id); default the sorted distinct class names of `events` /
  `label_map` (required for path/table without a label_map).
- `subject_regex` / `session_regex`: named group `subject` / `session` searched in the relative path
  (default: subject = file stem, session '1').
Files whose label cannot be found or is not a known class are returned as Skipped with the reason
(the stage lists them in summary.json, or stops with `strict: true`).
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mne

from eegslim.datasets import Adapter, RecordingItem, Skipped, check_options
from eegslim.io import READERS, read_raw, source_files

log = logging.getLogger(__name__)

MODES = ("annotations", "path", "table")
_OPTIONS = {"pattern", "label_from", "events", "epoch_s", "label_regex", "table", "label_map", "classes",
            "subject_regex", "session_regex"}  # fmt: skip


def _mode(options: Mapping[str, Any]) -> str:
    mode = options.get("label_from")
    if mode not in MODES:
        raise ValueError(f"options.label_from: {mode!r} is not one of {list(MODES)}")
    return mode


def option_mapping(options: Mapping[str, Any], key: str) -> dict[str, str] | None:
    """options[key] as a {str: str} mapping, or None when absent; ValueError naming the key for anything else."""
    value = options.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"options.{key}: must be a non-empty mapping, got {value!r}")
    return {str(k): str(v) for k, v in value.items()}


def _regex(options: Mapping[str, Any], key: str, group: str, required: bool = False) -> re.Pattern | None:
    value = options.get(key)
    if value is None:
        if required:
            raise ValueError(f"options.{key}: required with label_from: {options.get('label_from')}")
        return None
    try:
        pattern = re.compile(str(value))
    except re.error as err:
        raise ValueError(f"options.{key}: invalid regex {value!r} ({err})") from err
    if group not in pattern.groupindex:
        raise ValueError(f"options.{key}: {value!r} has no named group (?P<{group}>...)")
    return pattern


def class_names(options: Mapping[str, Any]) -> list[str]:
    """`options.classes`, else the sorted distinct class names of `events` / `label_map`."""
    check_options(options, _OPTIONS, "folder")
    mode = _mode(options)
    source = option_mapping(options, "events" if mode == "annotations" else "label_map")
    if mode == "annotations" and source is None:
        raise ValueError("options.events: required with label_from: annotations ({description: class name})")
    return class_order(options, source, mode)


def class_order(options: Mapping[str, Any], source: Mapping[str, str] | None, mode: str) -> list[str]:
    """`options.classes` (checked to hold every class of `source`), else the sorted distinct classes of `source`.

    source: value → class name (`events` or `label_map`); mode: the `label_from` named in errors.
    """
    if options.get("classes") is not None:
        classes = [str(c) for c in options["classes"]]
        if len(set(classes)) != len(classes) or not classes:
            raise ValueError(f"options.classes: must be distinct names, got {classes}")
        unknown = sorted(set((source or {}).values()) - set(classes))
        if unknown:
            raise ValueError(f"options.classes: {unknown} (from events/label_map) are not listed")
        return classes
    if source is None:
        raise ValueError(f"options.classes: required with label_from: {mode} and no label_map")
    return sorted(set(source.values()))


def find_files(root: Path, options: Mapping[str, Any], suffixes) -> list[Path]:
    """Files under `root` matching `options.pattern` (a glob or a list; default every file) whose suffix, lower
    case, is in `suffixes`, hidden files and folders left out, sorted."""
    patterns = options.get("pattern") or "**/*"
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    found = {p for pat in patterns for p in root.glob(pat)}
    return sorted(
        p for p in found
        if p.is_file() and p.suffix.lower() in suffixes
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )  # fmt: skip


def _read_table(root: Path, options: Mapping[str, Any]) -> dict[str, str]:
    """{file as written: label} from the table sidecar (CSV, or TSV when the name ends in .tsv)."""
    if not options.get("table"):
        raise ValueError("options.table: required with label_from: table (CSV/TSV with columns file,label)")
    path = Path(options["table"])
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        raise ValueError(f"{path}: no such table (options.table)")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        if not {"file", "label"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: needs columns 'file' and 'label', has {reader.fieldnames}")
        table = {}
        for line_no, row in enumerate(reader, 2):
            key = (row["file"] or "").strip()
            if key in table:
                raise ValueError(f"{path}:{line_no}: {key!r} listed twice")
            table[key] = (row["label"] or "").strip()
    return table


def _table_label(table: dict[str, str], rel: str, stem: str) -> str | None:
    return table.get(rel, table.get(stem))


@dataclass(frozen=True)
class FileLabels:
    """How a file's path (or a sidecar table) gives its class, subject and session; shared with `arrays`.

    mode: 'path' | 'table' give a class per file; any other mode gives none (`label` returns (None, None)).
    """

    mode: str
    classes: list[str]
    label_map: dict[str, str] | None = None
    label_regex: re.Pattern | None = None
    table: dict[str, str] | None = None
    table_name: str | None = None
    subject_regex: re.Pattern | None = None
    session_regex: re.Pattern | None = None
    used: set[str] = field(default_factory=set)  # table rows matched so far

    @classmethod
    def from_options(cls, root: Path, options: Mapping[str, Any], mode: str, classes: list[str]) -> FileLabels:
        """Checked regexes, label_map and (mode 'table') the table read from `root`."""
        return cls(
            mode, classes, option_mapping(options, "label_map"),
            _regex(options, "label_regex", "label", required=mode == "path"),
            _read_table(root, options) if mode == "table" else None, options.get("table"),
            _regex(options, "subject_regex", "subject"), _regex(options, "session_regex", "session"),
        )  # fmt: skip

    def label(self, rel: str, stem: str) -> tuple[str | None, str | None]:
        """(class name, None), or (None, why the file is skipped); (None, None) in modes without a file label."""
        if self.mode == "path":
            m = self.label_regex.search(rel)
            if m is None or m.group("label") is None:
                return None, f"path does not match label_regex {self.label_regex.pattern!r}"
            label = m.group("label")
        elif self.mode == "table":
            label = _table_label(self.table, rel, stem)
            if label is None:
                return None, f"not listed in table {self.table_name}"
            self.used.update({rel, stem})
        else:
            return None, None
        if self.label_map is not None:
            if label not in self.label_map:
                return None, f"label {label!r} not in label_map {sorted(self.label_map)}"
            label = self.label_map[label]
        if label not in self.classes:
            return None, f"unknown label {label!r} (classes: {self.classes})"
        return label, None

    def subject_session(self, rel: str, stem: str) -> tuple[str, str] | str:
        """(subject, session) from the regexes (default: the file stem, '1'), or why the path does not match."""
        subject = _group(self.subject_regex, rel, "subject", stem)
        session = _group(self.session_regex, rel, "session", "1")
        if subject is None or session is None:
            return f"path does not match {'subject_regex' if subject is None else 'session_regex'}"
        return subject, session

    def warn_unused(self) -> None:
        """Log the table rows that matched no file."""
        if self.table is not None and (unused := sorted(set(self.table) - self.used)):
            log.warning("%s rows of table %s match no file: %s", len(unused), self.table_name, unused[:10])


def find(root: Path, options: Mapping[str, Any]) -> tuple[list[RecordingItem], list[Skipped]]:
    """Every readable file matching `pattern`, labelled as `label_from` says."""
    classes, mode = class_names(options), _mode(options)
    labels = FileLabels.from_options(root, options, mode, classes)
    events, epoch_s = None, None
    if mode == "annotations":
        events = option_mapping(options, "events")
        epoch_s = options.get("epoch_s")
        if not isinstance(epoch_s, (int, float)) or epoch_s <= 0:
            raise ValueError(f"options.epoch_s: required with label_from: annotations, positive s, got {epoch_s!r}")
    items, skipped = [], []
    for path in find_files(root, options, READERS):
        rel = path.relative_to(root).as_posix()
        label, problem = labels.label(rel, path.stem)
        who = labels.subject_session(rel, path.stem) if problem is None else problem
        if isinstance(who, str):
            skipped.append(Skipped(path, who))
            continue
        items.append(
            RecordingItem(
                path, *who, tuple(source_files(path)), label=label,
                event_classes=events, epoch_s=None if epoch_s is None else float(epoch_s),
            )  # fmt: skip
        )
    labels.warn_unused()
    return items, skipped


def _group(pattern: re.Pattern | None, rel: str, group: str, default: str) -> str | None:
    if pattern is None:
        return default
    m = pattern.search(rel)
    return None if m is None or m.group(group) is None else m.group(group)


def read(item: RecordingItem, options: Mapping[str, Any]) -> mne.io.BaseRaw:
    """The recording's header (preload=False), with the file's own annotations."""
    return read_raw(item.path, preload=False)


ADAPTER = Adapter(name="folder", find=find, class_names=class_names, read=read)
