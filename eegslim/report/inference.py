"""The report's statistics, computed from the predictions.npz beside every metrics.json (`eegslim.stats`).

Per configuration (CONFIG_KEYS): a cluster-bootstrap CI of its own balanced accuracy and macro-F1 over test
subjects; for a pruned or exported model, the paired Δ against its own baseline (same fold, seed and test
windows) with its CI and the verdict against the accuracy budget; for a deep model's baseline, the paired Δ
against the classical reference (`bandpower_lr`) on the same runs. "Above chance" = the CI's lower bound is
above 1/classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from eegslim import stats
from eegslim.catalog import REFERENCE_MODEL
from eegslim.predictions import Predictions, predictions_path, read_predictions
from eegslim.report.collect import CONFIG_KEYS

METRICS = ("balanced_accuracy", "macro_f1")  # with a CI (and a paired Δ) for every configuration
CONFIDENCE_COLUMNS = (
    "n_subjects", "balanced_accuracy_low", "balanced_accuracy_high", "macro_f1_low", "macro_f1_high",
    "above_chance", "delta_balanced_accuracy", "delta_balanced_accuracy_low", "delta_balanced_accuracy_high",
    "delta_macro_f1", "delta_macro_f1_low", "delta_macro_f1_high", "n_paired", "verdict",
    "vs_reference", "vs_reference_low", "vs_reference_high",
)


@dataclass(frozen=True)
class Bootstrap:
    """report.bootstrap: replicates, CI level and seed of every interval in the report."""

    n_boot: int = 2000
    level: float = 0.95
    seed: int = 0

    @classmethod
    def from_config(cls, cfg: dict | None) -> Bootstrap:
        cfg = dict(cfg or {})
        unknown = sorted(set(cfg) - {"n_boot", "level", "seed"})
        if unknown:
            raise ValueError(f"report.bootstrap: unknown keys {unknown}")
        boot = cls(**cfg)
        if not (isinstance(boot.n_boot, int) and boot.n_boot >= 100 and 0.5 <= boot.level < 1):
            raise ValueError(f"report.bootstrap: need n_boot >= 100 and level in [0.5, 1), got {cfg}")
        return boot

    def kwargs(self) -> dict:
        return {"n_boot": self.n_boot, "seed": self.seed, "level": self.level}


def _run_key(row) -> tuple:
    fold = row["fold"]
    return (None if pd.isna(fold) else int(fold), int(row["seed"]))


def load_predictions(records: pd.DataFrame) -> dict[int, Predictions]:
    """Every record's predictions (by row index of `records`); a missing file is an error naming it."""
    out = {}
    for index, path in records["metrics_file"].items():
        pred_file = predictions_path(path)
        if not pred_file.is_file():
            raise ValueError(f"{pred_file}: missing (every metrics.json needs its predictions; rerun the stage "
                             "that wrote the metrics)")
        out[index] = read_predictions(pred_file)
    return out


def _baseline_variant(rows: pd.DataFrame) -> pd.DataFrame:
    """The baseline records of one (dataset, model): unpruned and unexported (torch or sklearn)."""
    return rows[rows["method"].isna() & (rows["stage"] == "baseline")]


def _paired(rows, other, preds) -> list[tuple]:
    """(stratum, preds of a row, preds of `other`'s record of the same fold and seed) for every matching run."""
    by_run = {_run_key(r): i for i, r in other.iterrows()}
    return [(_run_key(r)[0], preds[i], preds[by_run[_run_key(r)]]) for i, r in rows.iterrows()
            if _run_key(r) in by_run]


def _estimate(prefix: str, est: stats.Estimate | None) -> dict:
    if est is None:
        return {prefix: np.nan, f"{prefix}_low": np.nan, f"{prefix}_high": np.nan}
    return {prefix: est.mean, f"{prefix}_low": est.low, f"{prefix}_high": est.high}


def confidence(records: pd.DataFrame, budget: float, boot: Bootstrap = Bootstrap(),
               preds: dict[int, Predictions] | None = None) -> pd.DataFrame:
    """One row per configuration: CONFIG_KEYS + CONFIDENCE_COLUMNS (see the module docstring).

    `records`: `collect.load_records` (one row per metrics.json, with `metrics_file`); `preds`: their
    `load_predictions` (read here when not given).
    """
    if records.empty:
        return pd.DataFrame(columns=list(CONFIG_KEYS) + list(CONFIDENCE_COLUMNS))
    preds = load_predictions(records) if preds is None else preds
    out = []
    for (dataset, model), rows in records.groupby(["dataset", "model"], sort=True):
        baseline = _baseline_variant(rows)
        reference = _baseline_variant(records[(records["dataset"] == dataset)
                                              & (records["model"] == REFERENCE_MODEL)])
        for key, config in rows.groupby([rows[k] for k in CONFIG_KEYS], dropna=False, sort=False):
            runs = [(_run_key(r)[0], preds[i]) for i, r in config.iterrows()]
            scores = stats.bootstrap_scores(runs, METRICS, **boot.kwargs())
            bacc, mf1 = scores["balanced_accuracy"], scores["macro_f1"]
            chance = 1.0 / preds[config.index[0]].n_classes
            row = dict(zip(CONFIG_KEYS, key), n_subjects=bacc.n_subjects, balanced_accuracy_low=bacc.low,
                       balanced_accuracy_high=bacc.high, macro_f1_low=mf1.low, macro_f1_high=mf1.high,
                       above_chance=stats.above_chance(bacc, chance))
            is_baseline = config.index.isin(baseline.index).all()
            pairs = [] if is_baseline else _paired(config, baseline, preds)
            deltas = stats.bootstrap_deltas(pairs, METRICS, **boot.kwargs()) if pairs else {}
            delta, delta_f1 = deltas.get("balanced_accuracy"), deltas.get("macro_f1")
            row.update(_estimate("delta_balanced_accuracy", delta), **_estimate("delta_macro_f1", delta_f1),
                       n_paired=len(pairs), verdict=None if delta is None else stats.verdict(delta, budget))
            ref_pairs = (_paired(config, reference, preds) if is_baseline and model != REFERENCE_MODEL else [])
            row.update(_estimate("vs_reference", stats.bootstrap_delta(ref_pairs, "balanced_accuracy",
                                                                       **boot.kwargs()) if ref_pairs else None))
            out.append(row)
    return pd.DataFrame(out, columns=list(CONFIG_KEYS) + list(CONFIDENCE_COLUMNS))


def with_confidence(agg: pd.DataFrame, conf: pd.DataFrame) -> pd.DataFrame:
    """`agg` (collect.aggregate) with CONFIDENCE_COLUMNS joined by configuration; `delta_balanced_accuracy` becomes
    the paired Δ (the difference of the means where a configuration has no paired baseline run)."""
    merged = agg.drop(columns=["delta_balanced_accuracy"]).merge(conf, on=list(CONFIG_KEYS), how="left",
                                                                 validate="one_to_one")
    unpaired = merged["delta_balanced_accuracy"].isna()
    merged.loc[unpaired, "delta_balanced_accuracy"] = agg.loc[unpaired.to_numpy(), "delta_balanced_accuracy"].to_numpy()
    return merged


def subject_table(records: pd.DataFrame, configs: pd.DataFrame,
                  preds: dict[int, Predictions] | None = None) -> pd.DataFrame:
    """Per-subject balanced accuracy of the configurations in `configs` (rows with CONFIG_KEYS), averaged over the
    runs that tested each subject: columns CONFIG_KEYS, subject, balanced_accuracy, n_runs. `preds`: the records'
    `load_predictions` (read here, for those configurations only, when not given)."""
    if records.empty or configs.empty:
        return pd.DataFrame(columns=list(CONFIG_KEYS) + ["subject", "balanced_accuracy", "n_runs"])
    wanted = set(map(tuple, configs[list(CONFIG_KEYS)].astype(object).where(configs[list(CONFIG_KEYS)].notna(),
                                                                             None).itertuples(index=False)))
    frames = []
    for key, config in records.groupby([records[k] for k in CONFIG_KEYS], dropna=False, sort=False):
        key = tuple(None if pd.isna(v) else v for v in key)
        if key not in wanted:
            continue
        mine = load_predictions(config) if preds is None else preds
        runs = [(_run_key(r)[0], mine[i]) for i, r in config.iterrows()]
        scores = stats.subject_scores(runs, "balanced_accuracy")
        per_subject = scores.groupby("subject")["score"].agg(["mean", "size"]).reset_index()
        frame = pd.DataFrame({"subject": per_subject["subject"], "balanced_accuracy": per_subject["mean"],
                              "n_runs": per_subject["size"]})
        for name, value in zip(CONFIG_KEYS, key):
            frame[name] = value
        frames.append(frame)
    columns = list(CONFIG_KEYS) + ["subject", "balanced_accuracy", "n_runs"]
    return pd.concat(frames)[columns].reset_index(drop=True) if frames else pd.DataFrame(columns=columns)
