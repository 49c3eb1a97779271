"""The report's figures, drawn with matplotlib's Agg canvas and returned as base64 PNG for embedding."""

from __future__ import annotations

import base64
import io

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from eegslim.report.collect import variant_rank

# Same inputs → same PNG bytes: no software metadata (Agg writes no date), fixed SVG hash salt.
RC = {"svg.hashsalt": "eegslim", "font.size": 9, "axes.grid": True, "grid.alpha": 0.3}
RECOVERY_STYLE = {"finetune": "-", "scratch": ":", "none": "-."}
VARIANT_MARKER = {"torch": "o", "fp32": "s", "int8_dynamic": "^", "int8_static": "v"}
OTHER_MARKERS = "DPX*hp<>"


def _png_base64(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _colors(names) -> dict:
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    return {name: cycle[i % len(cycle)] for i, name in enumerate(sorted(set(names)))}


def _chance(ax, rows: pd.DataFrame) -> None:
    chance = rows["chance_balanced_accuracy_mean"].mean()
    if not np.isnan(chance):
        ax.axhline(chance, color="0.3", linestyle="--", linewidth=1, label="chance")


def ratio_figure(agg: pd.DataFrame, budget: float = 0.0) -> str | None:
    """Balanced accuracy vs pruning ratio of the pruned checkpoints of one dataset, one panel per model and one
    line per (method, recovery), with the baseline mean ± `budget` as a band and chance as a dashed line.
    None when the dataset has no pruned checkpoint."""
    torch = agg[agg["variant"] == "torch"]
    pruned = torch[torch["method"].notna()]
    if pruned.empty:
        return None
    models = sorted(torch["model"].unique())
    colors = _colors(pruned["method"])
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(4.2 * len(models), 3.4), layout="constrained")
        axes = fig.subplots(1, len(models), sharey=True, squeeze=False)[0]
        for ax, model in zip(axes, models):
            rows = torch[torch["model"] == model]
            for _, base in rows[rows["method"].isna()].iterrows():
                mean = base["balanced_accuracy_mean"]
                ax.axhspan(mean - budget, mean + budget, color="0.85", zorder=0, label=f"baseline ± {budget:g}")
                ax.axhline(mean, color="0.5", linewidth=1, label=f"baseline (n={base['n_runs']})")
            _chance(ax, rows)
            mine = rows[rows["method"].notna()]
            for (method, recovery), line in mine.groupby(["method", "recovery"], dropna=False, sort=True):
                line = line.sort_values("ratio")
                ax.errorbar(line["ratio"], line["balanced_accuracy_mean"],
                            yerr=np.nan_to_num(line["balanced_accuracy_std"]), color=colors[method],
                            linestyle=RECOVERY_STYLE.get(recovery, "--"), marker="o", markersize=4, capsize=2,
                            label=f"{method} · {recovery}" if isinstance(recovery, str) else method)
            ax.set_title(model)
            ax.set_xlabel("pruning ratio")
            ax.set_xlim(0, 1)
            ax.legend(fontsize=7, loc="lower left")
        axes[0].set_ylabel("balanced accuracy")
        return _png_base64(fig)


def size_figure(agg: pd.DataFrame) -> str | None:
    """Balanced accuracy vs file size (log x) of every configuration and variant of one dataset; colour = model,
    marker = variant, filled = baseline, hollow = pruned. None when no row has a file size."""
    rows = agg[agg["file_bytes_mean"].notna()]
    if rows.empty:
        return None
    colors = _colors(rows["model"])
    extra = sorted(set(rows["variant"]) - set(VARIANT_MARKER))
    markers = {**VARIANT_MARKER, **{v: OTHER_MARKERS[i % len(OTHER_MARKERS)] for i, v in enumerate(extra)}}
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(6.4, 4.0), layout="constrained")
        ax = fig.subplots()
        for (model, _, variant), group in rows.groupby(["model", rows["variant"].map(variant_rank), "variant"]):
            for is_base, part in group.groupby(group["method"].isna(), sort=True):
                ax.errorbar(part["file_bytes_mean"] / 1000, part["balanced_accuracy_mean"],
                            yerr=np.nan_to_num(part["balanced_accuracy_std"]), linestyle="none",
                            marker=markers[variant], markersize=7 if is_base else 5, capsize=2,
                            color=colors[model], markerfacecolor=colors[model] if is_base else "none",
                            label=f"{model} {variant}" + (" baseline" if is_base else " pruned"))
        _chance(ax, rows)
        ax.set_xscale("log")
        ax.set_xlabel("file size (kB, log scale)")
        ax.set_ylabel("balanced accuracy")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        return _png_base64(fig)


SENSITIVITY_PREFIX = {"structured": "units", "unstructured": "weights"}


def sensitivity_figure(table: pd.DataFrame) -> str | None:
    """Per-layer sensitivity heatmaps of one dataset, one panel per model: rows = layer or unit group (kind
    prefixed), columns = pruning ratio, colour = change of validation balanced accuracy (mean over runs) when
    only that layer is pruned, without retraining. None when the table is empty."""
    if table.empty:
        return None
    models = sorted(table["model"].unique())
    means = {m: (table[table["model"] == m]
                 .assign(row=lambda t: t["kind"].map(SENSITIVITY_PREFIX).fillna(t["kind"]) + ": " + t["layer"].astype(str))
                 .pivot_table(index="row", columns="ratio", values="delta_balanced_accuracy", aggfunc="mean",
                              sort=False)) for m in models}
    limit = max(0.01, max(float(np.nanmax(np.abs(g.to_numpy()))) for g in means.values()))
    height = max(2.4, 0.22 * max(len(g) for g in means.values()) + 1.2)
    with matplotlib.rc_context({**RC, "axes.grid": False}):
        fig = Figure(figsize=(4.4 * len(models) + 0.8, height), layout="constrained")
        axes = fig.subplots(1, len(models), squeeze=False)[0]
        for ax, model in zip(axes, models):
            grid = means[model]
            image = ax.imshow(grid.to_numpy(), cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
            ax.set_xticks(range(grid.shape[1]), [f"{r:g}" for r in grid.columns])
            ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=7)
            ax.set_xlabel("ratio pruned in this layer only")
            ax.set_title(model)
        fig.colorbar(image, ax=list(axes), label="Δ balanced accuracy (val)")
        return _png_base64(fig)


def pretrain_figure(histories: list[dict]) -> str | None:
    """Masked-modelling loss per epoch (train solid, held-out val dashed), one colour per pretrained size."""
    histories = [h for h in histories if h.get("train_loss")]
    if not histories:
        return None
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(5.2, 3.4), layout="constrained")
        ax = fig.subplots()
        for i, h in enumerate(histories):
            color = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][i % 10]
            ax.plot(h["epoch"], h["train_loss"], marker="o", markersize=3, color=color, label=f"{h.get('size')} train")
            val = [np.nan if v is None else v for v in h.get("val_loss", [])]
            if val and not all(np.isnan(val)):
                ax.plot(h["epoch"], val, linestyle="--", color=color, label=f"{h.get('size')} val (held out)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("masked-patch MSE (amplitude + phase, both masks)")
        ax.legend(fontsize=7)
        return _png_base64(fig)
