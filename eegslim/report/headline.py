"""The report's first screen: per dataset and model, the baseline and the variant to deploy, or why there is none."""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from eegslim.catalog import RECORD_VARIANTS, REFERENCE_MODEL
from eegslim.report.html import TABLE_NUMBER, chance_flag, fmt_ci, fmt_ratio, model_anchor
from eegslim.stats import VERDICTS

HEADLINE_COLUMNS = (
    "dataset", "model", "n_runs", "balanced_accuracy_mean", "balanced_accuracy_low", "balanced_accuracy_high",
    "chance_balanced_accuracy", "above_chance", "vs_reference", "vs_reference_low", "vs_reference_high",
    "status", "recommended", "delta_balanced_accuracy", "delta_balanced_accuracy_low",
    "delta_balanced_accuracy_high", "params_reduction", "file_reduction", "latency_b1_speedup", "file_mbit",
    "fits_flash", "why",
)
# status: what the row says, in the order the checks run
REFERENCE, NO_INTERVAL, AT_CHANCE, RECOMMENDED, UNRESOLVED, NOT_COMPRESSED = (
    "classical reference", "no interval", "at chance", "recommended", "none within budget", "not compressed")


def _why(status: str, verdict_row: pd.Series | None, budget: float) -> str:
    """The plain sentence for a row without a recommendation."""
    if status == REFERENCE:
        return "band power + logistic regression: the score a deep model must beat; not pruned, not exported"
    if status == NO_INTERVAL:
        return ("one test subject per fold gives no confidence interval, so neither accuracy above chance nor a "
                "variant within budget can be shown; test on more subjects")
    if status == AT_CHANCE:
        return "its balanced-accuracy interval reaches chance: it learned nothing to compress"
    if status == NOT_COMPRESSED:
        return "no compressed variant in this run (see prune.models, prune.datasets and quantize.variants)"
    inconclusive, over = int(verdict_row["inconclusive"]), int(verdict_row["over budget"])
    text = (f"no variant is confidently within the {budget:g} budget ({inconclusive} inconclusive, {over} over "
            "budget)")
    if inconclusive:
        text += "; more test subjects (folds) or seeds would narrow the intervals"
    return text


def headline_table(agg: pd.DataFrame, selection: pd.DataFrame, verdicts: pd.DataFrame,
                   budget: float) -> pd.DataFrame:
    """HEADLINE_COLUMNS, one row per (dataset, model) baseline: its balanced accuracy with CI, chance, its paired Δ
    against the classical reference, and the smallest variant within budget (selection's `smallest` row) with its
    reductions, or the status and a sentence saying why there is none."""
    base = agg[agg["method"].isna() & agg["variant"].isin(RECORD_VARIANTS)]
    smallest = selection[selection["criterion"] == "smallest"].set_index(["dataset", "model"])
    verdict_by = verdicts.set_index(["dataset", "model"])
    rows = []
    for _, b in base.sort_values(["dataset", "model"]).iterrows():
        key = (b["dataset"], b["model"])
        row = {c: b.get(c, np.nan) for c in HEADLINE_COLUMNS}
        row["chance_balanced_accuracy"] = b.get("chance_balanced_accuracy_mean", np.nan)
        candidates = verdict_by.loc[key] if key in verdict_by.index else None
        if b["model"] == REFERENCE_MODEL:
            status = REFERENCE
        elif pd.isna(b.get("balanced_accuracy_low")):
            status = NO_INTERVAL
        elif b.get("above_chance") is not None and not b.get("above_chance"):
            status = AT_CHANCE
        elif key in smallest.index:
            status = RECOMMENDED
        elif candidates is None or candidates[list(VERDICTS)].sum() == 0:
            status = NOT_COMPRESSED
        else:
            status = UNRESOLVED
        row.update(status=status, why="" if status == RECOMMENDED else _why(status, candidates, budget))
        if status == RECOMMENDED:
            pick = smallest.loc[key]
            row.update(recommended=f"{pick['configuration']} · {pick['variant']}",
                       file_mbit=pick["file_bytes_mean"] * 8 / 2**20, fits_flash=bool(pick["fits_flash"]),
                       **{c: pick[c] for c in ("delta_balanced_accuracy", "delta_balanced_accuracy_low",
                                               "delta_balanced_accuracy_high", "params_reduction", "file_reduction",
                                               "latency_b1_speedup")})
        else:
            row.update(recommended="", fits_flash=np.nan)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(HEADLINE_COLUMNS))


def headline_html(table: pd.DataFrame, anchors: dict[str, str], budget: float, flash_mbit: float) -> str:
    """The first-screen table: a row per dataset and model; rows without a recommendation say why in one cell."""
    header = ["dataset", "model", "baseline bal. acc. [95 % CI]", "Δ vs classical ref.",
              "deploy (smallest within budget)", "Δ bal. acc. [95 % CI]", "params ↓", "file ↓", "b1 speed-up",
              f"Mbit (fits {flash_mbit:g})"]
    body = []
    for _, r in table.iterrows():
        section = anchors.get(r["dataset"])
        link = f'<a href="#{section}">{escape(r["dataset"])}</a>' if section else escape(r["dataset"])
        model = (f'<a href="#{model_anchor(section, r["model"])}">{escape(r["model"])}</a>' if section
                 else escape(r["model"]))
        reference = fmt_ci(r["vs_reference"], r["vs_reference_low"], r["vs_reference_high"], signed=True)
        if not pd.isna(r["vs_reference_low"]) and r["vs_reference_low"] > 0:
            reference = f'<span class="ok">{reference}</span>'
        score = fmt_ci(r["balanced_accuracy_mean"], r["balanced_accuracy_low"], r["balanced_accuracy_high"])
        cells = [link, model, score if chance_flag(r) == "" else f'<span class="bad">{score}</span>',
                 reference if r["model"] != REFERENCE_MODEL else "—"]
        tds = "".join(f"<td{' class=t' if i < 2 else ''}>{c}</td>" for i, c in enumerate(cells))
        if r["status"] == RECOMMENDED:
            fits = '<span class="ok">yes</span>' if r["fits_flash"] else '<span class="bad">no</span>'
            rest = [f'<b>{escape(r["recommended"])}</b>',
                    fmt_ci(r["delta_balanced_accuracy"], r["delta_balanced_accuracy_low"],
                           r["delta_balanced_accuracy_high"], signed=True),
                    fmt_ratio(r["params_reduction"]), fmt_ratio(r["file_reduction"]),
                    fmt_ratio(r["latency_b1_speedup"]), f"{r['file_mbit']:.3f} {fits}"]
            tds += "".join(f"<td{' class=t' if i == 0 else ''}>{c}</td>" for i, c in enumerate(rest))
            css = ""
        else:
            tds += f'<td class="t why" colspan="6">{escape(r["status"])}: {escape(r["why"])}</td>'
            css = ' class="ref"' if r["status"] == REFERENCE else ""
        body.append(f"<tr{css}>{tds}</tr>")
    head = "".join(f"<th{' class=t' if i < 2 or i == 4 else ''}>{h}</th>" for i, h in enumerate(header))
    return (f'<section id="answer"><h2>The answer: what to deploy</h2><p>Per dataset and model, the baseline and '
            f"the smallest ONNX variant whose paired Δ balanced accuracy has a 95 % CI lower bound ≥ −{budget:g} "
            "(reductions against the baseline's fp32 export), else why there is none. <span class=bad>Red</span>: not "
            "above chance; <span class=ok>green</span>: beats the classical reference (paired CI above 0). A "
            "dataset's name leads to its curve and details, a model's to its row beside the reference.</p>"
            f"<div class=scroll><table class=headline><caption><b>Table {TABLE_NUMBER}.</b> What to deploy, per "
            "dataset and model.</caption><thead>"
            f"<tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div></section>")
