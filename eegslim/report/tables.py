"""The report's CSV tables: every record, the per-dataset summary and the datasets overview."""

from __future__ import annotations

import json
import os

import pandas as pd

from eegslim.atomic import atomic_open
from eegslim.catalog import SUBJECT_WISE_PROTOCOLS
from eegslim.report.collect import CONFIG_KEYS, SPLIT_FOLDS, DatasetFacts
from eegslim.report.inference import CONFIDENCE_COLUMNS

INT_KEYS = ("seed", "fold", "params", "nonzero_params", "macs", "file_bytes", "gzip_bytes", "n_test", "n_classes")
# summary_{dataset}.csv: (column, source column of the aggregate); `_mean`/`_std` pairs for run-varying metrics.
SUMMARY_COLUMNS = (
    ["model", "stage", "method", "ratio", "recovery", "variant", "split_protocol", "n_runs"]
    + [f"{k}_{s}" for k in ("accuracy", "balanced_accuracy", "macro_f1", "cohen_kappa") for s in ("mean", "std")]
    + ["params_mean", "nonzero_params_mean", "macs_mean", "file_bytes_mean", "gzip_bytes_mean",
       "latency_ms_b1_mean", "latency_ms_b1_std", "latency_ms_b64_mean"]
    + list(CONFIDENCE_COLUMNS)
)
DATASET_COLUMNS = (
    "dataset", "windows", "subjects", "classes", "recordings_read", "recordings_skipped",
    "chance_accuracy", "chance_balanced_accuracy",
    *(f"{f}_windows" for f in SPLIT_FOLDS), *(f"{f}_subjects" for f in SPLIT_FOLDS),
    "n_folds", "split_protocol", "split_caveat", "leakage_audit", "notes",
)
MAX_IDS = 10  # shared ids listed per pair of parts; the rest are counted


def _cell(value):
    """Lists and objects (e.g. cpu_flags) as compact JSON so that one record stays one CSV row."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def results_table(records: pd.DataFrame) -> pd.DataFrame:
    """Every record, one row, in the records' column order, sorted by configuration, fold and seed."""
    table = records.copy()
    for key in INT_KEYS:
        table[key] = pd.array(table[key].astype(float).round(), dtype="Int64")
    for key in table.columns:
        if table[key].dtype == object:
            table[key] = table[key].map(_cell)
    return table.sort_values(list(CONFIG_KEYS) + ["stage", "fold", "seed", "metrics_file"], na_position="first",
                             kind="stable").reset_index(drop=True)


def summary_table(agg: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """One dataset's aggregate rows (already ordered per model: baseline, pruned configurations, variants)."""
    return agg.loc[agg["dataset"] == dataset, list(SUMMARY_COLUMNS)].reset_index(drop=True)


def leakage_text(facts: DatasetFacts) -> str:
    """'no subject shared between train/val/test', the overlaps found, or 'not audited' without splits.json."""
    if facts.shared is None:
        return "not audited"
    overlaps = {k: v for k, v in facts.shared.items() if v}
    if not overlaps:
        return "no subject shared between train/val/test"
    return "; ".join(f"{k} shared: {_ids(v)}" for k, v in sorted(overlaps.items()))


def _ids(ids: list[str]) -> str:
    """Up to MAX_IDS ids, then how many there are in all."""
    shown = ", ".join(ids[:MAX_IDS])
    return shown if len(ids) <= MAX_IDS else f"{shown}, … ({len(ids)} in all)"


def split_of(facts: DatasetFacts, agg: pd.DataFrame) -> tuple[str | None, str | None]:
    """(protocol, caveat) of a dataset: from its splits.json, else from its metrics records, else (None, None).

    A records' protocol that disagrees with splits.json is added to `facts.notes`.
    """
    recs = agg[agg["dataset"] == facts.dataset]
    from_records = None
    if len(recs) and isinstance(recs["split_protocol"].iloc[0], str):
        caveat = recs["split_caveat"].iloc[0]
        from_records = (recs["split_protocol"].iloc[0], caveat if isinstance(caveat, str) else None)
    if facts.split_protocol is None:
        return from_records or (None, None)
    mine = (facts.split_protocol, facts.split_caveat)
    if from_records and from_records != mine:
        note = (f"metrics were computed under split protocol {from_records[0]!r} (caveat {from_records[1]!r}), "
                f"but splits.json now says {mine[0]!r} (caveat {mine[1]!r}): re-run the stale stages")
        if note not in facts.notes:
            facts.notes.append(note)
    return mine


def datasets_table(facts: list[DatasetFacts], agg: pd.DataFrame) -> pd.DataFrame:
    """Per dataset: windows, subjects, classes, recordings, chance levels (of the test set, from its first
    configuration), split sizes (empty under k-fold: `n_folds` folds, their sizes are in the report), split
    protocol and caveat, leakage audit and notes about missing files."""
    rows = []
    for f in facts:
        recs = agg[agg["dataset"] == f.dataset]
        protocol, caveat = split_of(f, agg)
        rows.append({
            "dataset": f.dataset,
            "windows": f.n_windows,
            "subjects": None if f.windows_per_subject is None else len(f.windows_per_subject),
            "classes": None if f.windows_per_class is None else len(f.windows_per_class),
            "recordings_read": f.recordings_read,
            "recordings_skipped": None if f.skipped is None else len(f.skipped),
            "chance_accuracy": recs["chance_accuracy_mean"].iloc[0] if len(recs) else None,
            "chance_balanced_accuracy": recs["chance_balanced_accuracy_mean"].iloc[0] if len(recs) else None,
            **{f"{k}_windows": (f.split_windows or {}).get(k) for k in SPLIT_FOLDS},
            **{f"{k}_subjects": (f.split_subjects or {}).get(k) for k in SPLIT_FOLDS},
            "n_folds": None if f.folds is None else len(f.folds),
            "split_protocol": protocol,
            "split_caveat": caveat,
            "leakage_audit": leakage_text(f),
            "notes": "; ".join(f.notes),
        })
    table = pd.DataFrame(rows, columns=list(DATASET_COLUMNS))
    for key in DATASET_COLUMNS:
        if key.endswith(("windows", "subjects", "classes", "recordings_read", "recordings_skipped", "n_folds")):
            table[key] = pd.array(table[key].astype(float), dtype="Int64")
    return table


PROTOCOL_COLUMNS = ("recordings", "dataset", "split_protocol", "model", "n_runs", "n_subjects",
                    "balanced_accuracy_mean", "balanced_accuracy_low", "balanced_accuracy_high", "macro_f1_mean",
                    "chance_balanced_accuracy_mean", "vs_subject_wise")


def protocol_table(facts: list[DatasetFacts], agg: pd.DataFrame) -> pd.DataFrame:
    """Datasets that read the same recordings with the same preprocessing (`DatasetFacts.source`) under different
    split protocols, side by side: every model's baseline per dataset, and `vs_subject_wise`, its mean balanced
    accuracy minus the same model's under the group's subject-wise protocol (catalog.SUBJECT_WISE_PROTOCOLS).
    Not paired: the protocols test different windows. `recordings`: the group's first dataset. Empty without
    such a group."""
    groups: dict[str, list[DatasetFacts]] = {}
    for f in facts:
        if f.source is not None:
            groups.setdefault(f.source, []).append(f)
    rows = []
    for members in groups.values():
        protocols = {f.dataset: split_of(f, agg)[0] for f in members}
        if len(set(protocols.values())) < 2:
            continue
        base = agg[(agg["stage"] == "baseline") & agg["method"].isna()
                   & agg["dataset"].isin(protocols) & agg["model"].notna()]
        subject_wise = base[base["dataset"].map(protocols).isin(SUBJECT_WISE_PROTOCOLS)]
        reference = subject_wise.groupby("model")["balanced_accuracy_mean"].first()
        for _, row in base.sort_values(["model", "dataset"]).iterrows():
            gain = row["balanced_accuracy_mean"] - reference.get(row["model"], float("nan"))
            rows.append({**{key: row.get(key) for key in PROTOCOL_COLUMNS if key in row.index},
                         "recordings": members[0].dataset, "split_protocol": protocols[row["dataset"]],
                         "vs_subject_wise": gain})
    return pd.DataFrame(rows, columns=list(PROTOCOL_COLUMNS))


def write_csv(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a table as UTF-8 CSV with '\\n' line ends, atomically."""
    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        table.to_csv(fh, index=False, lineterminator="\n")
