"""BIDS EEG trees (ds004902 layout): one class per session, e.g. normal sleep vs sleep deprived.

Files: `sub-XX/[ses-Y/]eeg/sub-XX_[ses-Y_]task-T_[run-R_]eeg.{set,edf,bdf,vhdr,fif}`.
Options: `session_classes` (required; session label → class name, class ids in this order; keys
'1' or 'ses-1'), `task` (str or list; default every task). The class is the session entity,
never participants.tsv's SessionOrder (chronological order only).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mne

from eegslim.datasets import Adapter, RecordingItem, Skipped, check_options
from eegslim.io import READERS, read_raw, source_files

log = logging.getLogger(__name__)

_OPTIONS = {"session_classes", "task"}
_ENTITY = re.compile(r"(sub|ses|task|run)-([A-Za-z0-9]+)")
_SKIP_DIRS = {"derivatives", "sourcedata", "code", "stimuli"}


def _session_classes(options: Mapping[str, Any]) -> dict[str, str]:
    classes = options.get("session_classes")
    if not isinstance(classes, Mapping) or not classes:
        raise ValueError("options.session_classes: required, a mapping session label → class name")
    return {str(k).removeprefix("ses-"): str(v) for k, v in classes.items()}


def class_names(options: Mapping[str, Any]) -> list[str]:
    """Distinct class names of `options.session_classes`, in order (index = class id)."""
    return list(dict.fromkeys(_session_classes(options).values()))


def _tasks(options: Mapping[str, Any]) -> set[str] | None:
    task = options.get("task")
    if task is None:
        return None
    return {str(task)} if isinstance(task, str) else {str(t) for t in task}


def find(root: Path, options: Mapping[str, Any]) -> tuple[list[RecordingItem], list[Skipped]]:
    """Every `*_eeg.<ext>` under `root` (not in derivatives/sourcedata) of a wanted task and session."""
    check_options(options, _OPTIONS, "bids")
    sessions, tasks = _session_classes(options), _tasks(options)
    items, skipped = [], []
    for path in sorted(p for ext in READERS for p in root.rglob(f"sub-*_eeg{ext}")):
        if any(part in _SKIP_DIRS or part.startswith(".") for part in path.relative_to(root).parts):
            continue
        entities = dict(_ENTITY.findall(path.name))
        if "ses" not in entities:
            skipped.append(Skipped(path, "no ses- entity: the bids adapter labels recordings by session"))
            continue
        if tasks is not None and entities.get("task") not in tasks:
            continue
        if entities["ses"] not in sessions:
            log.debug("%s: session %s not in options.session_classes, ignored", path, entities["ses"])
            continue
        items.append(
            RecordingItem(
                path=path,
                subject=entities["sub"],
                session=entities["ses"],
                sources=tuple(source_files(path)),
                label=sessions[entities["ses"]],
            )
        )
    return items, skipped


def read(item: RecordingItem, options: Mapping[str, Any]) -> mne.io.BaseRaw:
    """The recording's header (preload=False); its class comes from `item.label`."""
    return read_raw(item.path, preload=False)


ADAPTER = Adapter(name="bids", find=find, class_names=class_names, read=read)
