"""Figures of the compression trade-off: Pareto fronts and fine-tune vs scratch (base64 PNG, see figures.py)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter

from eegslim.report.figures import OTHER_MARKERS, RC, VARIANT_MARKER, _colors, _png_base64, _reference, ci_errors

PLAIN = FuncFormatter(lambda value, _: f"{value:g}")
AXES = (("file_bytes_mean", "pareto_size", "ONNX file size (kB, log scale)", 1e-3),
        ("latency_ms_b1_mean", "pareto_latency", "latency, batch 1 (ms, log scale)", 1.0))


# How a variant's budget verdict is drawn: (alpha, marker edge width); within budget is outlined in black.
VERDICT_STYLE = {"within budget": (1.0, 1.6), "inconclusive": (0.8, 0.6), "over budget": (0.3, 0.6)}


def pareto_figure(variants: pd.DataFrame, baseline_ba: dict[str, float], budget: float,
                  reference: float | None = None) -> str | None:
    """Balanced accuracy vs file size (top) and vs batch-1 latency (bottom) of every ONNX variant of one
    dataset, one column per model. Marker = variant, colour = method (baseline = unpruned); the Pareto front is
    joined by a step line and its points are filled; error bars are the 95 % subject-bootstrap CI; the verdict
    is drawn as outline and opacity (within budget: black outline; over budget: faint); the band is the
    baseline's balanced accuracy ± budget and the dash-dot line the classical reference. None when there are no
    variants."""
    if variants.empty:
        return None
    models = sorted(variants["model"].unique())
    methods = variants["method"].astype(object).fillna("baseline")
    colors = _colors(methods)
    extra = sorted(set(variants["variant"]) - set(VARIANT_MARKER))
    markers = {**VARIANT_MARKER, **{v: OTHER_MARKERS[i % len(OTHER_MARKERS)] for i, v in enumerate(extra)}}
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(4.6 * len(models), 7.0), layout="constrained")
        axes = fig.subplots(2, len(models), squeeze=False)
        for col, model in enumerate(models):
            mine = variants[variants["model"] == model]
            for row, (x, front_col, label, scale) in enumerate(AXES):
                ax = axes[row][col]
                base = baseline_ba.get(model)
                if base is not None and not np.isnan(base):
                    ax.axhspan(base - budget, base + budget, color="0.88", zorder=0, label=f"baseline ± {budget:g}")
                _reference(ax, reference)
                for (method, variant), part in mine.groupby([methods[mine.index], "variant"], sort=True):
                    on = part[front_col].astype(bool)
                    for (filled, verdict), pts in part.groupby([on, part["verdict"].fillna("inconclusive")]):
                        alpha, edge = VERDICT_STYLE.get(verdict, (0.8, 0.6))
                        ax.errorbar(pts[x] * scale, pts["balanced_accuracy_mean"], yerr=ci_errors(pts),
                                    linestyle="none", marker=markers[variant], color=colors[method], markersize=6,
                                    capsize=2, alpha=alpha, markeredgewidth=edge,
                                    markeredgecolor="black" if verdict == "within budget" else colors[method],
                                    markerfacecolor=colors[method] if filled else "none")
                front = mine[mine[front_col].astype(bool)].sort_values(x)
                ax.step(front[x] * scale, front["balanced_accuracy_mean"], where="post", color="0.3", linewidth=1,
                        label="Pareto front (filled)")
                ax.set_xscale("log")
                ax.xaxis.set_major_formatter(PLAIN)
                ax.xaxis.set_minor_formatter(NullFormatter())
                ax.set_xlabel(label)
                ax.set_ylabel("balanced accuracy")
                ax.set_title(model)
        handles, labels = axes[0][0].get_legend_handles_labels()
        handles += [Patch(color=c, label=m) for m, c in colors.items()]
        handles += [Line2D([], [], linestyle="none", marker=markers[v], color="0.4", label=v)
                    for v in sorted(set(variants["variant"]))]
        handles += [Line2D([], [], linestyle="none", marker="o", color="0.5", alpha=alpha, markeredgewidth=edge,
                           markeredgecolor="black" if verdict == "within budget" else "0.5", label=verdict)
                    for verdict, (alpha, edge) in VERDICT_STYLE.items()]
        fig.legend(handles=handles, fontsize=7, loc="outside right center")
        return _png_base64(fig)


def finetune_scratch_figure(fvs: pd.DataFrame) -> str | None:
    """Fine-tune minus from-scratch balanced accuracy vs pruning ratio, one panel per model and one line per
    method; error bars combine both standard deviations. None when no ratio has both recoveries."""
    if fvs.empty:
        return None
    models = sorted(fvs["model"].unique())
    colors = _colors(fvs["method"])
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(4.2 * len(models), 3.2), layout="constrained")
        axes = fig.subplots(1, len(models), sharey=True, squeeze=False)[0]
        for ax, model in zip(axes, models):
            for method, line in fvs[fvs["model"] == model].groupby("method", sort=True):
                line = line.sort_values("ratio")
                err = np.sqrt(np.nan_to_num(line["finetune_std"]) ** 2 + np.nan_to_num(line["scratch_std"]) ** 2)
                ax.errorbar(line["ratio"], line["finetune_minus_scratch"], yerr=err, marker="o", markersize=4,
                            capsize=2, color=colors[method], label=method)
            ax.axhline(0, color="0.3", linewidth=1)
            ax.set_title(model)
            ax.set_xlabel("pruning ratio")
            ax.set_xlim(0, 1)
            ax.legend(fontsize=7)
        axes[0].set_ylabel("fine-tune − scratch (balanced acc.)")
        return _png_base64(fig)
