"""The report's figures, drawn with matplotlib's Agg canvas and returned as base64 PNG for embedding."""

from __future__ import annotations

import base64
import io

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from eegslim.catalog import REFERENCE_MODEL
from eegslim.report.collect import config_label, variant_rank

# Same inputs → same PNG bytes: no software metadata (Agg writes no date), fixed SVG hash salt.
RC = {"svg.hashsalt": "eegslim", "font.size": 9, "axes.grid": True, "grid.alpha": 0.3}
RECOVERY_STYLE = {"finetune": "-", "scratch": ":", "distill": "--", "none": "-."}
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


def reference_score(agg: pd.DataFrame) -> float | None:
    """Mean balanced accuracy of one dataset's classical reference baseline (`catalog.REFERENCE_MODEL`), or None."""
    rows = agg[(agg["model"] == REFERENCE_MODEL) & agg["method"].isna()]
    return None if rows.empty else float(rows["balanced_accuracy_mean"].iloc[0])


def _reference(ax, score: float | None) -> None:
    if score is not None and not np.isnan(score):
        ax.axhline(score, color="#b15928", linestyle="-.", linewidth=1.2, label=f"classical reference ({score:.3f})")


def ci_errors(rows: pd.DataFrame, prefix: str = "balanced_accuracy") -> np.ndarray:
    """(2, n) error-bar lengths below and above `{prefix}_mean` to the CI bounds `{prefix}_low`/`_high` (0 where
    a bound is missing)."""
    mean = rows[f"{prefix}_mean"].to_numpy(float)
    low = rows.get(f"{prefix}_low", pd.Series(np.nan, index=rows.index)).to_numpy(float)
    high = rows.get(f"{prefix}_high", pd.Series(np.nan, index=rows.index)).to_numpy(float)
    return np.nan_to_num(np.clip(np.vstack([mean - low, high - mean]), 0, None))


def _ci_band(ax, line: pd.DataFrame, color) -> None:
    """The 95 % CI of balanced accuracy along a line (x = `ratio`) as a translucent band; gaps where a bound is
    missing (no interval: fewer than two test subjects per stratum)."""
    low, high = line.get("balanced_accuracy_low"), line.get("balanced_accuracy_high")
    if low is None or high is None:
        return
    ax.fill_between(line["ratio"].to_numpy(float), low.to_numpy(float), high.to_numpy(float), color=color,
                    alpha=0.15, linewidth=0)


def _published(ax, published) -> None:
    """Published balanced accuracies on the real data (report.published entries) as dotted lines."""
    for entry in published:
        if str(entry.get("metric", "")).lower().replace(" ", "_") == "balanced_accuracy":
            ax.axhline(entry["value"], color="#6a3d9a", linestyle=":", linewidth=1,
                       label=f"published: {entry.get('model')} ({entry['value']:.3f})")


def ratio_figure(agg: pd.DataFrame, budget: float = 0.0, published=()) -> str | None:
    """Balanced accuracy vs pruning ratio of the pruned checkpoints of one dataset, one panel per model and one
    line per (method, recovery) with its 95 % subject-bootstrap CI as a shaded band, the baseline mean ± `budget` as a
    band, chance as a dashed line, the classical reference as a dash-dot line and published balanced accuracies
    (`published`: report.published entries of the dataset) as dotted lines. Models without pruned checkpoints get
    no panel.
    None when the dataset has no pruned checkpoint."""
    torch = agg[agg["variant"] == "torch"]
    pruned = torch[torch["method"].notna()]
    if pruned.empty:
        return None
    models = sorted(pruned["model"].unique())  # a model that was not pruned gets no empty panel
    colors = _colors(pruned["method"])
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(4.6 * len(models), 5.0), layout="constrained")
        axes = fig.subplots(1, len(models), sharey=True, squeeze=False)[0]
        for ax, model in zip(axes, models):
            rows = torch[torch["model"] == model]
            for _, base in rows[rows["method"].isna()].iterrows():
                mean = base["balanced_accuracy_mean"]
                ax.axhspan(mean - budget, mean + budget, color="0.85", zorder=0, label=f"baseline ± {budget:g}")
                ax.axhline(mean, color="0.5", linewidth=1, label=f"baseline (n={base['n_runs']})")
            _chance(ax, rows)
            _reference(ax, reference_score(agg))
            _published(ax, published)
            mine = rows[rows["method"].notna()]
            for (method, recovery), line in mine.groupby(["method", "recovery"], dropna=False, sort=True):
                line = line.sort_values("ratio")
                ax.plot(line["ratio"], line["balanced_accuracy_mean"], color=colors[method],
                        linestyle=RECOVERY_STYLE.get(recovery, "--"), marker="o", markersize=4,
                        label=f"{method} · {recovery}" if isinstance(recovery, str) else method)
                _ci_band(ax, line, colors[method])
            ax.set_title(model)
            ax.set_xlabel("pruning ratio")
            ax.set_xlim(0, 1)
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)  # below: never on a line
        axes[0].set_ylabel("balanced accuracy")
        return _png_base64(fig)


def size_figure(agg: pd.DataFrame) -> str | None:
    """Balanced accuracy (95 % CI bars) vs file size (log x) of every configuration and variant of one dataset;
    colour = model, marker = variant, filled = baseline, hollow = pruned; chance and the classical reference as
    lines. None when no row has a file size."""
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
                            yerr=ci_errors(part), linestyle="none",
                            marker=markers[variant], markersize=7 if is_base else 5, capsize=2,
                            color=colors[model], markerfacecolor=colors[model] if is_base else "none",
                            label=f"{model} {variant}" + (" baseline" if is_base else " pruned"))
        _chance(ax, rows)
        _reference(ax, reference_score(agg))
        ax.set_xscale("log")
        ax.set_xlabel("file size (kB, log scale)")
        ax.set_ylabel("balanced accuracy")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        return _png_base64(fig)


def subject_figure(subjects: pd.DataFrame, agg: pd.DataFrame) -> str | None:
    """Per-subject balanced accuracy (mean over the runs that tested the subject) as a strip plot: one column per
    model and configuration (baselines, then the chosen variants), one dot per test subject, the mean as a bar;
    chance dashed. None without rows."""
    if subjects.empty:
        return None
    columns = list(subjects.groupby(["model", subjects["method"].notna(), "method", "ratio", "recovery", "variant"],
                                    dropna=False, sort=True))
    colors = _colors(subjects["model"])
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(max(4.0, 0.9 * len(columns) + 1.5), 3.6), layout="constrained")
        ax = fig.subplots()
        jitter = np.random.default_rng(0)
        labels = []
        for i, ((model, _, *_), rows) in enumerate(columns):
            x = i + jitter.uniform(-0.18, 0.18, len(rows))
            ax.scatter(x, rows["balanced_accuracy"], s=14, color=colors[model], alpha=0.8, zorder=3)
            ax.hlines(rows["balanced_accuracy"].mean(), i - 0.3, i + 0.3, color="0.2", linewidth=1.5, zorder=4)
            first = rows.iloc[0]
            labels.append(f"{model}\n{config_label(first)}\n{first['variant']}")
        _chance(ax, agg)
        ax.set_xticks(range(len(columns)), labels, fontsize=7)
        ax.set_ylabel("balanced accuracy per test subject")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7, loc="lower right")
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
    """Masked-modelling loss per epoch (train solid, held-out val dashed), one colour per checkpoint (`label`)."""
    histories = [h for h in histories if h.get("train_loss")]
    if not histories:
        return None
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(5.2, 3.4), layout="constrained")
        ax = fig.subplots()
        for i, h in enumerate(histories):
            color = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][i % 10]
            ax.plot(h["epoch"], h["train_loss"], marker="o", markersize=3, color=color, label=f"{h['label']} train")
            val = [np.nan if v is None else v for v in h.get("val_loss", [])]
            if val and not all(np.isnan(val)):
                ax.plot(h["epoch"], val, linestyle="--", color=color, label=f"{h['label']} val (held out)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("masked-patch MSE (amplitude + phase, both masks)")
        ax.legend(fontsize=7)
        return _png_base64(fig)
