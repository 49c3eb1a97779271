"""HTML of the compression trade-off of one dataset: selection, Pareto fronts, sparsity, fine-tune vs scratch."""

from __future__ import annotations

from html import escape

import pandas as pd

from eegslim.report.html import (_figure, _missing, _table, chance_flag, fmt_ci, fmt_int, fmt_kb, fmt_num,
                                 fmt_ratio, verdict_html)

SPARSITY_NOTE = ("Unstructured sparsity only zeroes weights: ONNX stores them dense and onnxruntime runs them "
                 "dense, so the file and the latency stay those of the unpruned model and only the compressed "
                 "(gzip) size shrinks. Only structured pruning and quantization make the dense file smaller.")


def fmt_ms(mean, iqr) -> str:
    """'median ms (IQR x)', or '—'; marked unreliable when the IQR exceeds the median (a noisy machine)."""
    if _missing(mean):
        return "—"
    if _missing(iqr):
        return f"{mean:.3f}"
    flag = ' <span class="bad">unreliable</span>' if iqr > mean else ""
    return f"{mean:.3f} (IQR {iqr:.3f}){flag}"


def _yes(value) -> str:
    return '<span class="ok">yes</span>' if bool(value) else '<span class="bad">no</span>'


def unresolved_html(verdicts: pd.DataFrame, selection: pd.DataFrame, budget: float) -> str:
    """Per model with no variant confidently within the budget: a plain statement of the verdicts and what would
    resolve them, instead of a pick."""
    parts = []
    for _, r in verdicts.iterrows():
        if r["model"] in set(selection["model"]):
            continue
        text = (f"<b>{escape(r['model'])}: no compressed variant is confidently within the {budget:g} budget</b> "
                f"({r['inconclusive']} inconclusive, {r['over budget']} over budget), so none is recommended.")
        if r["inconclusive"]:
            text += (f" The best inconclusive variant's Δ interval reaches {r['best_inconclusive_low']:+.3f}: its mean "
                     "is inside the budget but the interval is too wide to say so. More test subjects (more folds, "
                     "or a larger dataset) narrow a subject-resampled interval most; more seeds average out training "
                     "noise; a larger budget is a different question.")
        parts.append(f'<p class="warn">{text}</p>')
    return "".join(parts)


def selection_html(selection: pd.DataFrame, budget: float, flash_mbit: float) -> str:
    """Per model, the smallest and the fastest ONNX variant within the budget (by the paired CI), as reductions
    of the baseline."""
    if selection.empty:
        return '<p class="note">No variant is confidently within the budget, so nothing is recommended.</p>'
    rows = [[escape(r["model"]), escape(r["criterion"]), escape(r["configuration"]), escape(r["variant"]),
             str(int(r["n_runs"])), fmt_num(r["baseline_balanced_accuracy"]),
             fmt_ci(r["balanced_accuracy_mean"], r["balanced_accuracy_low"], r["balanced_accuracy_high"])
             + chance_flag(r),
             fmt_ci(r["delta_balanced_accuracy"], r["delta_balanced_accuracy_low"], r["delta_balanced_accuracy_high"],
                    signed=True), fmt_num(r["agreement_fp32_mean"]), fmt_int(r["params_mean"]),
             fmt_kb(r["file_bytes_mean"]), fmt_kb(r["gzip_bytes_mean"]),
             fmt_ms(r["latency_ms_b1_mean"], r["latency_iqr_ms_b1_mean"]), fmt_ratio(r["params_reduction"]),
             fmt_ratio(r["file_reduction"]), fmt_ratio(r["gzip_reduction"]), fmt_ratio(r["latency_b1_speedup"]),
             fmt_ratio(r["latency_b64_speedup"]), _yes(r["fits_flash"])] for _, r in selection.iterrows()]
    return (f"<p>Among the ONNX variants run through onnxruntime, the smallest file and the lowest batch-1 latency "
            f"whose paired Δ balanced accuracy has a 95 % CI lower bound of at least −{budget:g} (verdict “within "
            "budget”). Reductions are "
            "the baseline's fp32 ONNX export ÷ the chosen variant (2.00× = half); “fits” = the dense file fits "
            f"in {flash_mbit:g} Mbit of flash.</p>"
            + _table(["model", "criterion", "configuration", "variant", "n", "baseline bal. acc.",
                      "bal. acc. [95 % CI]", "Δ [95 % CI]",
                      "agreement fp32", "params", "file kB", "gzip kB", "b1 ms", "params ↓", "file ↓", "gzip ↓",
                      "b1 speed-up", "b64 speed-up", f"fits {flash_mbit:g} Mbit"], rows, text_cols=4,
                     caption="The smallest and the fastest variant within budget, per model."))


def variants_html(variants: pd.DataFrame, flash_mbit: float) -> str:
    """Every ONNX variant with its size, speed, budget, flash and Pareto flags, folded away."""
    rows = [[escape(r["model"]), escape(r["configuration"]), escape(r["variant"]), str(int(r["n_runs"])),
             fmt_ci(r["balanced_accuracy_mean"], r["balanced_accuracy_low"], r["balanced_accuracy_high"])
             + chance_flag(r),
             fmt_ci(r["delta_balanced_accuracy"], r["delta_balanced_accuracy_low"], r["delta_balanced_accuracy_high"],
                    signed=True), fmt_num(r["agreement_fp32_mean"]), fmt_int(r["params_mean"]),
             fmt_int(r["nonzero_params_mean"]), fmt_int(r["macs_mean"]), fmt_kb(r["file_bytes_mean"]),
             fmt_kb(r["gzip_bytes_mean"]), fmt_ms(r["latency_ms_b1_mean"], r["latency_iqr_ms_b1_mean"]),
             fmt_ms(r["latency_ms_b64_mean"], r["latency_iqr_ms_b64_mean"]),
             verdict_html(r["verdict"]), "yes" if r["fits_flash"] else "no",
             ("size " if r["pareto_size"] else "") + ("latency" if r["pareto_latency"] else "")]
            for _, r in variants.iterrows()]
    table = _table(["model", "configuration", "variant", "n", "bal. acc. [95 % CI]", "Δ [95 % CI]", "agreement fp32",
                    "params", "nonzero params", "MACs", "file kB", "gzip kB", "b1 ms", "b64 ms", "verdict",
                    f"fits {flash_mbit:g} Mbit", "Pareto"], rows, text_cols=3,
                   caption="Every ONNX variant: size, speed, budget verdict, flash fit and Pareto fronts.")
    return f"<details><summary>All ONNX variants ({len(rows)})</summary>{table}</details>"


def sparsity_html(evidence: pd.DataFrame) -> str:
    """The plain statement on unstructured sparsity, with the measured file and gzip fractions."""
    parts = [f"<p><b>{escape(SPARSITY_NOTE)}</b></p>"]
    if not evidence.empty:
        rows = [[escape(r["model"]), escape(r["configuration"]), f"{r['zero_fraction']:.0%}",
                 f"{r['file_fraction']:.2f}", f"{r['gzip_fraction']:.2f}"] for _, r in evidence.iterrows()]
        parts.append("<p>Measured (fp32 ONNX, fraction of the baseline's):</p>"
                     + _table(["model", "configuration", "zero weights", "file size", "gzip size"], rows, text_cols=2,
                              caption="What unstructured sparsity does to file and gzip size."))
    return "".join(parts)


def finetune_scratch_html(fvs: pd.DataFrame, figure: str | None) -> str:
    """Fine-tune vs scratch table (mean ± std over runs) and figure; '' when no ratio has both recoveries."""
    if fvs.empty:
        return ""

    def ms(mean, std, n):
        return f"{mean:.3f}" + ("" if _missing(std) else f" ± {std:.3f}") + f" (n={int(n)})"

    rows = [[escape(r["model"]), escape(r["method"]), f"{r['ratio']:g}",
             ms(r["finetune_mean"], r["finetune_std"], r["finetune_n"]),
             ms(r["scratch_mean"], r["scratch_std"], r["scratch_n"]), f"{r['finetune_minus_scratch']:+.3f}"]
            for _, r in fvs.iterrows()]
    return ("<h3>Fine-tune vs scratch</h3>"
            + _table(["model", "method", "ratio", "fine-tune bal. acc.", "scratch bal. acc.", "fine-tune − scratch"],
                     rows, text_cols=2, caption="Pruned weights fine-tuned vs the pruned structure trained from "
                     "scratch (mean ± std over runs).")
            + _figure(figure, "fine-tune minus scratch balanced accuracy vs pruning ratio", "",
                      "Fine-tuned minus from-scratch balanced accuracy per pruning ratio: above 0, keeping the "
                      "pruned weights helped; below 0, retraining the pruned structure from scratch was better."))


def compression_parts(dataset: str, selection: pd.DataFrame, variants: pd.DataFrame, evidence: pd.DataFrame,
                      fvs: pd.DataFrame, verdicts: pd.DataFrame, figures: dict[str, str | None], budget: float,
                      flash_mbit: float) -> dict[str, str]:
    """One dataset's compression HTML in the pieces the section orders: `pareto` (figure), `selection` (the pick,
    or why there is none, and every variant folded), `sparsity` and `finetune_scratch` ('' when not run).
    verdicts: `select.budget_verdicts` of the dataset."""
    pareto = _figure(figures.get("pareto"), f"{dataset}: Pareto fronts of balanced accuracy vs size and latency",
                     "No ONNX variants for this dataset.",
                     "Balanced accuracy of every ONNX variant against its file size (top) and batch-1 latency "
                     "(bottom): filled points are on the Pareto front, black-edged points are within the accuracy "
                     "budget by the paired CI; read the leftmost black-edged point as the variant to deploy.")
    return {
        "pareto": "<h3>Pareto fronts: accuracy vs size and vs latency</h3>" + pareto,
        "selection": ("<h3>Smallest and fastest within the accuracy budget</h3>"
                      + unresolved_html(verdicts, selection, budget) + selection_html(selection, budget, flash_mbit)
                      + (variants_html(variants, flash_mbit) if len(variants) else "")),
        "sparsity": "<h3>What unstructured sparsity buys</h3>" + sparsity_html(evidence) if len(evidence) else "",
        "finetune_scratch": finetune_scratch_html(fvs, figures.get("finetune_scratch")),
    }
