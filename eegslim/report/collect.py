"""Read every metrics.json and dataset file, check them, and aggregate runs into one row per configuration."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from eegslim.atomic import read_json
from eegslim.catalog import FOLDED_PROTOCOLS
from eegslim.metrics import METRIC_KEYS

log = logging.getLogger(__name__)

STAGES = ("baseline", "prune", "quantize")
# A configuration: records that differ only in seed and fold (eegslim.runs) are runs of it.
CONFIG_KEYS = ("dataset", "model", "method", "ratio", "recovery", "variant")
TEXT_KEYS = ("dataset", "model", "stage", "variant", "split_protocol")
OPTIONAL_TEXT_KEYS = ("method", "recovery", "split_caveat")
NUMBER_KEYS = tuple(k for k in METRIC_KEYS if k not in TEXT_KEYS + OPTIONAL_TEXT_KEYS)
# Taken from a configuration's first record (all its records share them: load_records checks the split keys).
FIRST_KEYS = ("stage", "split_protocol", "split_caveat")
# Averaged over runs (mean, std); everything else of a configuration is taken from its first record.
AGG_KEYS = (
    "accuracy", "balanced_accuracy", "macro_f1", "cohen_kappa",
    "params", "nonzero_params", "macs", "file_bytes", "gzip_bytes",
    "latency_ms_b1", "latency_ms_b64", "chance_accuracy", "chance_balanced_accuracy",
)
SPLIT_FOLDS = ("train", "val", "test")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_record(path: str, record) -> dict:
    """The record if it follows the metrics.json contract, else a ValueError naming `path`."""
    if not isinstance(record, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(record).__name__}")
    missing = [k for k in METRIC_KEYS if k not in record]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}")
    for key in TEXT_KEYS:
        if not isinstance(record[key], str) or not record[key]:
            raise ValueError(f"{path}: {key!r} must be a non-empty string, got {record[key]!r}")
    for key in OPTIONAL_TEXT_KEYS:
        if record[key] is not None and not isinstance(record[key], str):
            raise ValueError(f"{path}: {key!r} must be a string or null, got {record[key]!r}")
    for key in NUMBER_KEYS:
        if record[key] is not None and not _is_number(record[key]):
            raise ValueError(f"{path}: {key!r} must be a number or null, got {record[key]!r}")
    if record["stage"] not in STAGES:
        raise ValueError(f"{path}: stage must be one of {STAGES}, got {record['stage']!r}")
    if record["balanced_accuracy"] is None:
        raise ValueError(f"{path}: 'balanced_accuracy' is null")
    if record["stage"] == "prune" and (record["method"] is None or record["ratio"] is None):
        raise ValueError(f"{path}: a prune record needs 'method' and 'ratio'")
    if record["stage"] == "baseline" and record["method"] is not None:
        raise ValueError(f"{path}: a baseline record has method {record['method']!r}, expected null")
    return record


def _check_same_split(path, record: dict, splits: dict) -> None:
    """Every record of a dataset must come from the same split protocol and caveat (same test set)."""
    split = (record["split_protocol"], record["split_caveat"])
    first = splits.setdefault(record["dataset"], (split, str(path)))
    if first[0] != split:
        raise ValueError(f"{path}: split protocol {split[0]!r} (caveat {split[1]!r}) differs from "
                         f"{first[0][0]!r} (caveat {first[0][1]!r}) of {first[1]}; re-run the stale stages")


def load_records(paths: list[str]) -> pd.DataFrame:
    """One row per metrics.json (columns: METRIC_KEYS, extra keys, `metrics_file`); errors name the file."""
    rows, seen, splits = [], {}, {}
    for path in paths:
        record = dict(_check_record(str(path), read_json(path)))
        key = tuple(record[k] for k in CONFIG_KEYS + ("seed", "fold"))
        if key in seen:
            raise ValueError(f"{path}: same configuration, seed and fold as {seen[key]}")
        seen[key] = str(path)
        _check_same_split(path, record, splits)
        record["metrics_file"] = str(path)
        rows.append(record)
    columns = list(METRIC_KEYS) + sorted({k for r in rows for k in r} - set(METRIC_KEYS) - {"metrics_file"})
    return pd.DataFrame(rows, columns=columns + ["metrics_file"])


def variant_rank(variant: str) -> tuple[int, str]:
    """Sort key: torch, fp32, then the other variants by name."""
    return ({"torch": 0, "fp32": 1}.get(variant, 2), variant)


def config_label(row) -> str:
    """'baseline' or 'method ratio recovery' of an aggregated or raw row."""
    if not isinstance(row["method"], str):
        return "baseline"
    parts = [row["method"]]
    if _is_number(row["ratio"]) and not math.isnan(row["ratio"]):
        parts.append(f"{row['ratio']:g}")
    if isinstance(row["recovery"], str):
        parts.append(row["recovery"])
    return " ".join(parts)


def aggregate(records: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration: `{key}_mean`/`{key}_std` of AGG_KEYS over runs (seeds × folds), `n_runs`, the
    stage and `delta_balanced_accuracy` (mean minus the mean of the same model's torch baseline).

    Rows are ordered by dataset, model, baseline first, then method, ratio, recovery, then variant
    (torch, fp32, the others by name).
    """
    out_cols = (list(CONFIG_KEYS) + list(FIRST_KEYS) + ["n_runs"]
                + [f"{k}_{s}" for k in AGG_KEYS for s in ("mean", "std")])
    if records.empty:
        return pd.DataFrame(columns=out_cols + ["delta_balanced_accuracy"])
    frame = records[list(AGG_KEYS)].astype(float).assign(**{k: records[k] for k in FIRST_KEYS})
    grouped = frame.groupby([records[k] for k in CONFIG_KEYS], dropna=False, sort=False)
    agg = pd.concat([
        grouped[list(AGG_KEYS)].mean().add_suffix("_mean"),
        grouped[list(AGG_KEYS)].std(ddof=1).add_suffix("_std"),
        grouped[list(FIRST_KEYS)].first(),
        grouped.size().rename("n_runs"),
    ], axis=1).reset_index()[out_cols]
    agg["_base"] = agg["method"].isna()
    agg["_variant"] = agg["variant"].map(variant_rank)
    agg = agg.sort_values(
        ["dataset", "model", "_base", "method", "ratio", "recovery", "_variant"],
        ascending=[True, True, False, True, True, True, True], na_position="first", kind="stable",
    ).drop(columns=["_base", "_variant"]).reset_index(drop=True)
    baseline = baseline_rows(agg).set_index(["dataset", "model"])["balanced_accuracy_mean"]
    ref = pd.Series([baseline.get((d, m), np.nan) for d, m in zip(agg["dataset"], agg["model"])], dtype=float)
    agg["delta_balanced_accuracy"] = agg["balanced_accuracy_mean"] - ref
    return agg


def baseline_rows(agg: pd.DataFrame, variant: str = "torch") -> pd.DataFrame:
    """The baseline (unpruned) rows of one variant, one per (dataset, model)."""
    return agg[agg["method"].isna() & (agg["variant"] == variant)]


@dataclass
class DatasetFacts:
    """What the report says about one dataset's data; None where its file is missing."""

    dataset: str
    notes: list[str] = field(default_factory=list)  # missing or unreadable pieces, shown as such
    windows_per_class: dict[str, int] | None = None
    windows_per_subject: dict[str, int] | None = None
    recordings_read: int | None = None
    skipped: list[tuple[str, str]] | None = None  # (recording, reason)
    channels_kept: list[str] | None = None
    channels_dropped: list[str] | None = None
    split_windows: dict[str, int] | None = None
    split_subjects: dict[str, int] | None = None
    folds: list[dict] | None = None  # k-fold: [{"fold", "windows": {part: n}, "subjects": {part: n}}] per fold
    shared: dict[str, list[str]] | None = None  # audit key ('subjects: train/test') -> shared ids; empty = clean
    split_protocol: str | None = None  # catalog.PROTOCOLS
    source: str | None = None  # the recordings and their preprocessing (adapter, root, settings) as JSON
    split_description: str | None = None
    split_caveat: str | None = None
    excluded_windows: int | None = None  # official / subjects: windows outside the published split / the lists

    @property
    def shared_train_test(self) -> list[str]:
        """Subjects in both train and test, from the subject lists and the audit."""
        return (self.shared or {}).get("subjects: train-test", [])

    @property
    def n_windows(self) -> int | None:
        return None if self.windows_per_class is None else sum(self.windows_per_class.values())


def _counts(path, summary: dict, key: str) -> dict[str, int] | None:
    value = summary.get(key)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(_is_number(v) for v in value.values()):
        raise ValueError(f"{path}: {key!r} must map names to counts")
    return {str(k): int(v) for k, v in value.items()}


def _read_summary(facts: DatasetFacts, path) -> None:
    """summary.json as eegslim.stages.preprocess writes it (recordings.read/skipped, channels.kept/dropped)."""
    summary = read_json(path)
    if not isinstance(summary, dict):
        raise ValueError(f"{path}: expected a JSON object")
    recordings, channels = summary.get("recordings", {}), summary.get("channels", {})
    if not isinstance(recordings, dict) or not isinstance(channels, dict):
        raise ValueError(f"{path}: 'recordings' and 'channels' must be objects")
    facts.windows_per_class = _counts(path, summary, "windows_per_class")
    facts.windows_per_subject = _counts(path, summary, "windows_per_subject")
    facts.recordings_read = len(recordings.get("read", []))
    facts.skipped = [(str(item.get("path", "?")), str(item.get("reason", ""))) for item in recordings.get("skipped", [])]
    facts.channels_kept = [str(c) for c in channels.get("kept", [])]
    facts.channels_dropped = [str(c) for c in channels.get("dropped", [])]
    if summary.get("adapter") is not None:
        facts.source = json.dumps({key: summary.get(key) for key in ("adapter", "root", "preprocessing")},
                                  sort_keys=True, default=str)


def _split_parts(path) -> tuple[dict, dict[str, int], dict[str, int] | None, dict[str, list[str]]]:
    """(split, windows per part, subjects per part or None, shared ids per audit key) of one split file."""
    split = read_json(path)
    if not isinstance(split, dict) or not all(isinstance(split.get(f), list) for f in SPLIT_FOLDS):
        raise ValueError(f"{path}: expected an object with 'train', 'val' and 'test' index lists")
    windows, n_subjects, shared = {f: len(split[f]) for f in SPLIT_FOLDS}, None, {}
    subjects = split.get("subjects") or {}
    if all(isinstance(subjects.get(f), list) for f in SPLIT_FOLDS):
        n_subjects = {f: len(subjects[f]) for f in SPLIT_FOLDS}
        shared = {f"subjects: {a}-{b}": sorted(set(map(str, subjects[a])) & set(map(str, subjects[b])))
                  for a, b in (("train", "val"), ("train", "test"), ("val", "test"))}
    for kind, found in (split.get("audit") or {}).items():  # {"shared_subjects": {"train/test": [ids]}, ...}
        pairs = found if isinstance(found, dict) else {"any folds": found}
        for pair, ids in pairs.items():
            name = f"{kind.removeprefix('shared_')}: {pair}"
            shared[name] = sorted(set(shared.get(name, [])) | set(map(str, ids or [])))
    return split, windows, n_subjects, shared


def _read_split(facts: DatasetFacts, paths) -> None:
    """One splits.json, or the per-fold files of a k-fold (a list): part sizes per fold, audits merged."""
    if isinstance(paths, (str, Path)):
        split, facts.split_windows, facts.split_subjects, facts.shared = _split_parts(paths)
        _read_protocol(facts, paths, split)
        return
    facts.folds, facts.shared = [], {}
    for path in paths:
        split, windows, subjects, shared = _split_parts(path)
        if split.get("protocol") not in FOLDED_PROTOCOLS or not _is_number(split.get("fold")):
            raise ValueError(f"{path}: one of several split files of a dataset, but not a k-fold fold")
        facts.folds.append({"fold": int(split["fold"]), "windows": windows, "subjects": subjects or {}})
        for key, ids in shared.items():
            facts.shared[key] = sorted(set(facts.shared.get(key, [])) | set(ids))
        _read_protocol(facts, path, split)
    kind = "subject-wise" if split["protocol"] == "kfold" else "segment-level (windows pooled, leaky)"
    facts.split_description = (f"{kind} {split.get('n_folds', '?')}-fold cross-validation, seed "
                               f"{split.get('seed', '?')}; scores are means over the test parts of folds "
                               f"{', '.join(str(f['fold']) for f in facts.folds)}")


def _text(path, split: dict, key: str) -> str | None:
    value = split.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{path}: {key!r} must be a string or null, got {value!r}")
    return value


def _read_protocol(facts: DatasetFacts, path, split: dict) -> None:
    """Protocol name, description, caveat and excluded windows; files older than them are subject splits."""
    facts.split_protocol = _text(path, split, "protocol") or "subject"
    facts.split_description = _text(path, split, "protocol_description")
    facts.split_caveat = _text(path, split, "caveat")
    excluded = split.get("excluded_windows")
    if excluded is not None and not _is_number(excluded):
        raise ValueError(f"{path}: 'excluded_windows' must be a number or null, got {excluded!r}")
    facts.excluded_windows = None if excluded is None else int(excluded)


def load_dataset_facts(dataset: str, files: dict[str, str] | None) -> DatasetFacts:
    """Facts from a dataset's summary.json and split file (or list of k-fold split files); a missing file becomes
    a note, a malformed one an error."""
    facts = DatasetFacts(dataset)
    for kind, reader in (("summary", _read_summary), ("split", _read_split)):
        path = (files or {}).get(kind)
        missing = [p for p in ([path] if isinstance(path, (str, Path)) else path or []) if not Path(p).is_file()]
        if not path:
            facts.notes.append(f"no {kind} file given")
        elif missing:
            facts.notes.append(f"{kind} file not found: {', '.join(map(str, missing))}")
            log.warning("%s: %s file not found: %s", dataset, kind, missing)
        else:
            reader(facts, path)
    return facts
