"""Choosing what to deploy: Pareto fronts, the smallest and the fastest variant within an accuracy budget,
flash fit, and fine-tune vs scratch.

Candidates are the ONNX variants (stage `quantize`): the artefacts that onnxruntime ran, timed and scored, less
the baseline's own fp32 export, which is the reference. Accuracy is compared with the model's torch baseline by
the paired Δ and its subject-bootstrap CI (`eegslim.report.inference`): a variant is `within budget` only when
the CI's lower bound is ≥ −budget, `inconclusive` when only its mean is, `over budget` otherwise, and only
variants within budget are chosen. Sizes and latencies are compared with the baseline's fp32 ONNX export.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eegslim.report.collect import CONFIG_KEYS, baseline_rows, config_label
from eegslim.stats import VERDICTS

# Per-record keys of the quantize stage averaged over runs beside collect.AGG_KEYS.
DEPLOY_KEYS = ("latency_iqr_ms_b1", "latency_iqr_ms_b64", "agreement_fp32")
MBIT = 2**20  # bits in one Mbit of flash (memory parts are sized in binary megabits)
VARIANT_COLUMNS = (
    "dataset", "model", "configuration", "method", "ratio", "recovery", "variant", "n_runs",
    "balanced_accuracy_mean", "balanced_accuracy_std", "balanced_accuracy_low", "balanced_accuracy_high",
    "above_chance", "delta_balanced_accuracy", "delta_balanced_accuracy_low", "delta_balanced_accuracy_high",
    "delta_macro_f1", "delta_macro_f1_low", "delta_macro_f1_high", "verdict", "agreement_fp32_mean",
    "params_mean", "nonzero_params_mean", "macs_mean", "file_bytes_mean", "gzip_bytes_mean",
    "latency_ms_b1_mean", "latency_iqr_ms_b1_mean", "latency_ms_b64_mean", "latency_iqr_ms_b64_mean",
    "within_budget", "fits_flash", "pareto_size", "pareto_latency",
)
SELECTION_COLUMNS = (
    "dataset", "model", "criterion", "configuration", "method", "ratio", "recovery", "variant", "n_runs",
    "baseline_balanced_accuracy", "balanced_accuracy_mean", "balanced_accuracy_std", "balanced_accuracy_low",
    "balanced_accuracy_high", "above_chance", "delta_balanced_accuracy", "delta_balanced_accuracy_low",
    "delta_balanced_accuracy_high", "verdict", "agreement_fp32_mean", "params_mean", "nonzero_params_mean", "macs_mean", "file_bytes_mean", "gzip_bytes_mean",
    "latency_ms_b1_mean", "latency_iqr_ms_b1_mean", "latency_ms_b64_mean", "params_reduction", "file_reduction",
    "gzip_reduction", "latency_b1_speedup", "latency_b64_speedup", "fits_flash",
)
FVS_COLUMNS = (
    "dataset", "model", "method", "ratio", "finetune_mean", "finetune_std", "finetune_n", "scratch_mean",
    "scratch_std", "scratch_n", "finetune_minus_scratch",
)


def _key(frame: pd.DataFrame) -> pd.Series:
    """The configuration of each row as a hashable tuple, missing values as None."""
    return pd.Series([tuple(None if pd.isna(v) else v for v in row) for row in frame[list(CONFIG_KEYS)].itertuples(
        index=False)], index=frame.index)


def pareto_front(cost: pd.Series, score: pd.Series, tolerance: float = 0.0) -> pd.Series:
    """True where no other row has lower-or-equal cost and a score at most `tolerance` lower, with the cost
    lower or the score higher. `tolerance` (the accuracy budget) keeps a costlier row off the front when its
    higher score is within noise: an int8 variant 7× slower does not make the latency front by +0.005.

    Rows with a missing cost or score are never on the front; identical rows are all on it.
    """
    c, s = cost.to_numpy(float), score.to_numpy(float)
    valid = ~(np.isnan(c) | np.isnan(s))
    front = np.zeros(len(c), bool)
    for i in np.flatnonzero(valid):
        dominated = valid & (c <= c[i]) & (s >= s[i] - tolerance) & ((c < c[i]) | (s > s[i]))
        front[i] = not dominated.any()
    return pd.Series(front, index=cost.index)


def deployable(records: pd.DataFrame, agg: pd.DataFrame, flash_mbit: float, budget: float = 0.0) -> pd.DataFrame:
    """One row per ONNX configuration (VARIANT_COLUMNS): run means of size, speed, accuracy and agreement, the
    CIs and `verdict` of `agg` (`inference.with_confidence`), `within_budget` (verdict 'within budget'), `fits_flash`
    (file_bytes × 8 ≤ flash_mbit × 2^20) and Pareto membership per (dataset, model) for accuracy vs file
    size (`pareto_size`) and vs batch-1 latency (`pareto_latency`), accuracy differences within `budget`
    counting as ties (`pareto_front`)."""
    rows = agg[agg["stage"] == "quantize"].copy()
    quantized = records[records["stage"] == "quantize"]
    keys = _key(quantized)
    for col in DEPLOY_KEYS:
        values = quantized[col].astype(float) if col in quantized else pd.Series(np.nan, index=quantized.index)
        means = values.groupby(keys).mean()
        rows[f"{col}_mean"] = _key(rows).map(means).astype(float)
    rows["configuration"] = [config_label(r) for _, r in rows.iterrows()]
    rows["within_budget"] = rows["verdict"] == "within budget"
    rows["fits_flash"] = rows["file_bytes_mean"] * 8 <= flash_mbit * MBIT
    rows["pareto_size"] = rows["pareto_latency"] = False
    for _, group in rows.groupby(["dataset", "model"]):
        score = group["balanced_accuracy_mean"]
        rows.loc[group.index, "pareto_size"] = pareto_front(group["file_bytes_mean"], score, budget)
        rows.loc[group.index, "pareto_latency"] = pareto_front(group["latency_ms_b1_mean"], score, budget)
    return rows[list(VARIANT_COLUMNS)].reset_index(drop=True)


def _pick(candidates: pd.DataFrame, order: list[str]) -> pd.Series | None:
    """The first row after sorting by `order` (ascending; balanced accuracy descending last), rows with a
    missing first key left out."""
    ok = candidates[candidates[order[0]].notna()]
    if ok.empty:
        return None
    ranked = ok.assign(_neg_ba=-ok["balanced_accuracy_mean"]).sort_values(order + ["_neg_ba"], kind="stable")
    return ranked.iloc[0].drop("_neg_ba")


def is_reference(variants: pd.DataFrame) -> pd.Series:
    """True for the baseline's own fp32 export: what every variant is compared with, not a candidate."""
    return variants["method"].isna() & (variants["variant"] == "fp32")


def select(variants: pd.DataFrame, agg: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, model), SELECTION_COLUMNS rows: the `smallest` (file bytes, then gzip bytes) and the
    `fastest` (batch-1 latency, then file bytes) ONNX variant whose verdict is 'within budget' (the baseline's
    fp32 export excluded), ties to the higher balanced accuracy; no row when none is. Reductions are baseline
    fp32 ÷ chosen (2.0 = half the size or latency; > 1 is better)."""
    out = []
    for (dataset, model), group in variants.groupby(["dataset", "model"], sort=True):
        base = baseline_rows(agg[(agg["dataset"] == dataset) & (agg["model"] == model)])
        ref = group[group["method"].isna() & (group["variant"] == "fp32")]
        if base.empty or ref.empty:
            continue
        ref = ref.iloc[0]
        ok = group[group["within_budget"] & ~is_reference(group)]
        for criterion, order in (("smallest", ["file_bytes_mean", "gzip_bytes_mean"]),
                                 ("fastest", ["latency_ms_b1_mean", "file_bytes_mean"])):
            chosen = _pick(ok, order)
            if chosen is None:
                continue
            chosen = chosen.copy()
            chosen["criterion"] = criterion
            chosen["baseline_balanced_accuracy"] = base["balanced_accuracy_mean"].iloc[0]
            for name, col in (("params_reduction", "params_mean"), ("file_reduction", "file_bytes_mean"),
                              ("gzip_reduction", "gzip_bytes_mean"), ("latency_b1_speedup", "latency_ms_b1_mean"),
                              ("latency_b64_speedup", "latency_ms_b64_mean")):
                chosen[name] = ref[col] / chosen[col] if chosen[col] else np.nan
            out.append(chosen)
    return pd.DataFrame(out, columns=list(SELECTION_COLUMNS)).reset_index(drop=True)


def budget_verdicts(variants: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, model): how many candidate variants are within budget, inconclusive and over budget, and the
    lowest Δ CI bound among the inconclusive ones (how far the CI must narrow)."""
    candidates = variants[~is_reference(variants)]
    rows = []
    for (dataset, model), group in candidates.groupby(["dataset", "model"], sort=True):
        counts = group["verdict"].value_counts()
        inconclusive = group[group["verdict"] == "inconclusive"]
        rows.append({"dataset": dataset, "model": model, **{v: int(counts.get(v, 0)) for v in VERDICTS},
                     "best_inconclusive_low": inconclusive["delta_balanced_accuracy_low"].max()
                     if len(inconclusive) else np.nan})
    return pd.DataFrame(rows, columns=["dataset", "model", *VERDICTS, "best_inconclusive_low"])


def finetune_vs_scratch(agg: pd.DataFrame) -> pd.DataFrame:
    """FVS_COLUMNS per (dataset, model, method, ratio) whose torch checkpoints were recovered both by
    fine-tuning and from scratch: mean, std and run count of each and the difference of the means."""
    torch = agg[(agg["variant"] == "torch") & agg["method"].notna() & agg["recovery"].isin(["finetune", "scratch"])]
    rows = []
    for (dataset, model, method, ratio), group in torch.groupby(["dataset", "model", "method", "ratio"], sort=True):
        by = group.set_index("recovery")
        if not {"finetune", "scratch"} <= set(by.index):
            continue
        ft, sc = by.loc["finetune"], by.loc["scratch"]
        rows.append({"dataset": dataset, "model": model, "method": method, "ratio": ratio,
                     "finetune_mean": ft["balanced_accuracy_mean"], "finetune_std": ft["balanced_accuracy_std"],
                     "finetune_n": ft["n_runs"], "scratch_mean": sc["balanced_accuracy_mean"],
                     "scratch_std": sc["balanced_accuracy_std"], "scratch_n": sc["n_runs"],
                     "finetune_minus_scratch": ft["balanced_accuracy_mean"] - sc["balanced_accuracy_mean"]})
    return pd.DataFrame(rows, columns=list(FVS_COLUMNS))


def sparsity_evidence(variants: pd.DataFrame) -> pd.DataFrame:
    """fp32 rows of unstructured pruning (same parameter count as the baseline, fewer non-zeros) with their dense
    and gzip file sizes as fractions of the baseline fp32's: `file_fraction` ≈ 1, `gzip_fraction` < 1."""
    out = []
    for (_, _), group in variants[variants["variant"] == "fp32"].groupby(["dataset", "model"], sort=True):
        ref = group[group["method"].isna()]
        if ref.empty:
            continue
        ref = ref.iloc[0]
        sparse = group[group["method"].notna() & (group["params_mean"] == ref["params_mean"])
                       & (group["nonzero_params_mean"] < group["params_mean"])].copy()
        sparse["zero_fraction"] = 1 - sparse["nonzero_params_mean"] / sparse["params_mean"]
        sparse["file_fraction"] = sparse["file_bytes_mean"] / ref["file_bytes_mean"]
        sparse["gzip_fraction"] = sparse["gzip_bytes_mean"] / ref["gzip_bytes_mean"]
        out.append(sparse)
    cols = ["dataset", "model", "configuration", "zero_fraction", "file_fraction", "gzip_fraction"]
    return pd.concat(out)[cols].reset_index(drop=True) if out else pd.DataFrame(columns=cols)
