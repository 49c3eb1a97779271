"""The self-contained HTML page: plain string building, every text escaped, figures as base64 data URIs."""

from __future__ import annotations

import math
import re
from html import escape

import numpy as np
import pandas as pd

from eegslim.catalog import RECORD_VARIANTS, SUBJECT_WISE_PROTOCOLS
from eegslim.report.collect import SPLIT_FOLDS, DatasetFacts, config_label
from eegslim.report.tables import leakage_text

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 86rem; margin: 1rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.45rem; margin: 0.3rem 0; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.45rem; text-align: right; }
th { background: #f2f2f2; } td.t, th.t { text-align: left; }
caption { caption-side: top; text-align: left; color: #444; padding: 0.2rem 0; }
tr.base td { background: #eef4fb; font-weight: 600; }
tr.pub td { background: #f7f3e8; font-style: italic; }
.ok { color: #11703a; } .bad { color: #c00; font-weight: 600; } .neg { color: #c00; }
.note { color: #666; font-style: italic; } img { max-width: 100%; }
section { border-top: 2px solid #ddd; margin-top: 2rem; }
.warn { border: 2px solid #c00; background: #fff3f3; padding: 0.2rem 0.8rem; margin: 0.5rem 0; }
nav.bar { position: sticky; top: 0; z-index: 2; background: #fff; border-bottom: 1px solid #ccc; padding: 0.3rem 0;
          font-size: 0.9rem; }
nav.bar a { margin-right: 0.9rem; white-space: nowrap; }
.scroll { overflow-x: auto; max-width: 100%; }
table.headline { font-size: 0.76rem; } table.headline td { white-space: nowrap; padding: 0.15rem 0.3rem; }
table.headline td.why { color: #555; font-style: italic; white-space: normal; } tr.ref td { background: #f7f7f7; }
#answer { border-top: none; margin-top: 0.5rem; } #answer h2 { margin: 0.3rem 0; font-size: 1.2rem; }
figcaption { color: #444; font-size: 0.9rem; margin: 0.2rem 0 1rem; }
@media print { nav.bar { position: static; } .scroll { overflow: visible; } }
"""

INTRO = """
<p>Each model is evaluated on the test part of its dataset's split: held-out subjects (a subject-wise hold-out,
a published protocol's subject lists or one fold of a subject-wise k-fold), unless the dataset's section says it uses the dataset's published protocol;
a published protocol that shares subjects between train and test is marked in red, and its scores are optimistic. <b>Balanced accuracy</b> (the mean of per-class recall)
and <b>macro-F1</b> are reported beside plain accuracy because EEG classes are rarely balanced; the
<b>chance level</b> is what always guessing the majority class scores (accuracy) or 1/classes (balanced accuracy).
Cohen's kappa corrects accuracy for chance agreement.</p>
<p>Models are pruned with several methods and ratios, then recovered by fine-tuning the pruned weights, by
training the pruned architecture from scratch, or by distillation (fine-tuning the pruned weights on the unpruned
model's softened outputs as well as the labels). <b>Structured</b> pruning removes whole filters, heads or hidden
units, so the dense model, its file and its latency shrink. <b>Unstructured</b> sparsity only zeroes weights: the
dense file and the latency stay the same and only the compressed (gzip) size shrinks. Each model is exported
to fp32 ONNX and converted with onnxruntime to <b>int8 dynamic</b> (int8 MatMul weights, activations quantized at
run time; convolutions stay fp32), <b>int8 static</b> (QDQ, per-channel weights, activation ranges calibrated on
training windows, the classifier kept in fp32) and <b>fp16</b>; every variant is scored through onnxruntime on
the test set, with its agreement with the fp32 export, and timed at batch size 1 (and 64 with
<code>quantize.latency_b64</code>; median and IQR over interleaved repeats, pinned threads; the CPU's int8 flags are
in results.csv).</p>
<p>Numbers are means over runs (n = number of runs: training seeds, times the folds of a subject-wise k-fold),
with <b>[95 % confidence intervals]</b> where shown. Every interval comes from the test predictions kept beside each
result (predictions.npz) by a <b>cluster bootstrap over test subjects</b>: {n_boot} replicates, each drawing the test
subjects of every fold with replacement (a subject's windows move together; folds are strata; the seeds of a fold
share the draw), recomputing each run's score and averaging over runs; the interval is the {level_pct} percentile
range. <b>Δ</b> is <b>paired</b>: the compressed model minus its own baseline on the same test windows of the same fold and
seed, resampled together. The accuracy budget for “small and fast without losing accuracy” is {budget}: a variant is
<b>within budget</b> only when its Δ interval's lower bound is at least −budget, <b>inconclusive</b> when only its mean is,
and <b>over budget</b> otherwise; only variants within budget are recommended. A model whose interval reaches down to
chance is flagged <span class="bad">not above chance</span>: compressing it answers nothing. The <b>classical
reference</b> (band power + logistic regression, not pruned and not exported) is a row in every table and a dash-dot line
in every accuracy figure.</p>
"""

FIGURE_NUMBER = "\x00figure\x00"  # replaced by 1, 2, ... in page order (render_page)
TABLE_NUMBER = "\x00table\x00"    # likewise, for numbered (captioned) tables


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_num(value, digits: int = 3) -> str:
    """A float with `digits` decimals, or an em dash when missing."""
    return "—" if _missing(value) else f"{value:.{digits}f}"


def fmt_mean_std(mean, std, digits: int = 3) -> str:
    """'mean ± std', or just the mean when std is undefined (one run)."""
    if _missing(mean):
        return "—"
    return fmt_num(mean, digits) if _missing(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def fmt_ci(mean, low, high, digits: int = 3, signed: bool = False) -> str:
    """'mean [low, high]' ('+' signs when `signed`), the mean alone without bounds, '—' without a mean."""
    if _missing(mean):
        return "—"
    sign = "+" if signed else ""
    text = f"{mean:{sign}.{digits}f}"
    if _missing(low) or _missing(high):
        return text
    return f"{text} [{low:{sign}.{digits}f}, {high:{sign}.{digits}f}]"


def chance_flag(row) -> str:
    """A red 'not above chance' when the row's balanced-accuracy CI reaches chance, else ''."""
    above = row.get("above_chance")
    if isinstance(above, (bool, np.bool_)) and not above:
        return ' <span class="bad">not above chance</span>'
    return ""


def accuracy_html(row) -> str:
    """Plain accuracy (mean ± std), flagged when below the majority-class share (always guessing the largest class
    scores more)."""
    text = fmt_mean_std(row["accuracy_mean"], row["accuracy_std"])
    majority = row.get("chance_accuracy_mean")
    if not _missing(majority) and not _missing(row["accuracy_mean"]) and row["accuracy_mean"] < majority:
        text += f' <span class="bad">below the majority class ({majority:.3f})</span>'
    return text


def fmt_int(value) -> str:
    return "—" if _missing(value) else f"{round(value):,}"


def fmt_kb(value) -> str:
    return "—" if _missing(value) else f"{value / 1000:,.1f}"


def fmt_ratio(value) -> str:
    return "n/a" if _missing(value) else f"{value:.2f}×"


def _table(header: list[str], rows: list[list[str]], text_cols: int = 1, row_classes: list[str] | None = None,
           caption: str = "", row_ids: list[str | None] | None = None) -> str:
    """An HTML table of already-escaped cells; the first `text_cols` columns are left-aligned. `caption` (plain
    text) makes it a numbered table; `row_ids`: an anchor per row (None for none)."""
    def cells(tag, values):
        return "".join(f'<{tag}{" class=t" if i < text_cols else ""}>{v}</{tag}>' for i, v in enumerate(values))
    def attrs(css, row_id):
        return (f" class={css}" if css else "") + (f' id="{row_id}"' if row_id else "")
    body = "".join(f"<tr{attrs(c, i)}>{cells('td', r)}</tr>"
                   for r, c, i in zip(rows, row_classes or [""] * len(rows), row_ids or [None] * len(rows)))
    title = f"<caption><b>Table {TABLE_NUMBER}.</b> {escape(caption)}</caption>" if caption else ""
    return (f"<div class=scroll><table>{title}<thead><tr>{cells('th', header)}</tr></thead><tbody>{body}</tbody>"
            "</table></div>")


def _counts_table(counts: dict[str, int], label: str) -> str:
    return _table([escape(label), "windows"], [[escape(k), fmt_int(v)] for k, v in sorted(counts.items())])


def _protocol(facts: DatasetFacts, rows: pd.DataFrame | None) -> tuple[str | None, str | None]:
    """(protocol, caveat) from splits.json, else from the metrics rows."""
    if facts.split_protocol is not None or rows is None or rows.empty:
        return facts.split_protocol, facts.split_caveat
    first = rows.iloc[0]
    caveat = first.get("split_caveat")
    protocol = first.get("split_protocol")
    return (protocol if isinstance(protocol, str) else None), (caveat if isinstance(caveat, str) else None)


def warning_box(protocol: str | None, caveat: str | None, n_shared: int) -> str:
    """A red box with the caveat and the number of subjects in both train and test; '' when neither applies."""
    if not caveat and not n_shared:
        return ""
    if n_shared and protocol == "official":
        headline = "Published protocol, not leakage-safe: test scores are optimistic."
    elif n_shared:
        headline = "Subjects shared between train and test: not leakage-safe."
    else:
        headline = "Caveat of this split protocol."
    parts = [f'<p class="bad">{escape(headline)}</p>']
    if caveat:
        parts.append(f"<p>Caveat: {escape(caveat)}</p>")
    if n_shared:
        parts.append(f'<p class="bad">subjects shared between train and test: {n_shared}</p>')
    return f'<div class="warn">{"".join(parts)}</div>'


def protocol_html(facts: DatasetFacts, rows: pd.DataFrame | None = None) -> str:
    """The split protocol, its description, excluded windows and the warning box."""
    protocol, caveat = _protocol(facts, rows)
    if protocol is None:
        return ""
    text = f"<p>Split protocol: <b>{escape(protocol)}</b>"
    if facts.split_description:
        text += f" ({escape(facts.split_description)})"
    text += "."
    if facts.excluded_windows:
        where = "of subjects in none of its lists" if protocol == "subjects" else "outside the published split"
        text += f" {fmt_int(facts.excluded_windows)} windows {where} are left out."
    return text + "</p>" + warning_box(protocol, caveat, len(facts.shared_train_test))


MAX_LISTED_CLASSES = 12  # longer class lists are summarised (min/median/max windows) with the full list folded


def dataset_summary(facts: DatasetFacts, rows: pd.DataFrame | None = None) -> str:
    """(a) windows per class and subject, recordings and skips, channels, split sizes and the leakage audit."""
    parts = [f'<p class="note">{escape(n)}</p>' for n in facts.notes]
    if facts.windows_per_class is not None:
        parts.append(f"<p>{fmt_int(facts.n_windows)} windows from "
                     f"{fmt_int(len(facts.windows_per_subject or {}))} subjects, "
                     f"{len(facts.windows_per_class)} classes; recordings read: {fmt_int(facts.recordings_read)}, "
                     f"skipped: {len(facts.skipped or [])}.</p>")
        counts = facts.windows_per_class
        if len(counts) > MAX_LISTED_CLASSES:
            values = np.array(list(counts.values()))
            parts.append(f"<p>Windows per class: min {fmt_int(values.min())}, median {fmt_int(np.median(values))}, "
                         f"max {fmt_int(values.max())}.</p>"
                         + _folded(f"Windows per class ({len(counts)})", _counts_table(counts, "class")))
        else:
            parts.append(_counts_table(counts, "class"))
    if facts.windows_per_subject:
        parts.append(f"<details><summary>Windows per subject ({len(facts.windows_per_subject)})</summary>"
                     f"{_counts_table(facts.windows_per_subject, 'subject')}</details>")
    if facts.skipped:
        items = "".join(f"<li>{escape(r)}: {escape(why) or 'no reason given'}</li>" for r, why in facts.skipped)
        parts.append(f"<p>Skipped recordings:</p><ul>{items}</ul>")
    if facts.channels_kept:
        parts.append(f"<p>Channels ({len(facts.channels_kept)}): {escape(', '.join(facts.channels_kept))}</p>")
    if facts.channels_dropped:
        parts.append(f"<p>Channels dropped: {escape(', '.join(facts.channels_dropped))}</p>")
    if facts.split_windows is not None:
        subjects = facts.split_subjects or {}
        parts.append(_table(["part", "windows", "subjects"],
                            [[f, fmt_int(facts.split_windows[f]), fmt_int(subjects.get(f))] for f in SPLIT_FOLDS],
                            caption="Windows and subjects per split part."))
    if facts.folds:
        parts.append(_table(["fold", *(f"{p} windows (subjects)" for p in SPLIT_FOLDS)],
                            [[str(f["fold"]), *(f"{fmt_int(f['windows'][p])} ({fmt_int(f['subjects'].get(p))})"
                                                for p in SPLIT_FOLDS)] for f in facts.folds],
                            caption="Windows (subjects) per part of each k-fold fold."))
    if facts.split_windows is not None or facts.folds:
        clean = not any((facts.shared or {}).values())
        parts.append(f'<p class="{"ok" if clean else "bad"}">Leakage audit: {escape(leakage_text(facts))}</p>')
    return "".join(parts)


def results_note(facts: DatasetFacts, rows: pd.DataFrame) -> str:
    """One line above the results: which split's test part the scores come from."""
    protocol, _ = _protocol(facts, rows)
    if protocol is None:
        return '<p class="note">Split protocol unknown.</p>'
    leaky = bool(facts.shared_train_test)
    flag = ' <span class="bad">(not leakage-safe: subjects shared between train and test)</span>' if leaky else ""
    if facts.folds:
        return (f"<p>Scores are means over the test parts of {len(facts.folds)} folds of the "
                f"<b>{escape(protocol)}</b> split (every run is one seed on one fold){flag}.</p>")
    return f"<p>Scores on the test part of the <b>{escape(protocol)}</b> split{flag}.</p>"


def summary_html(rows: pd.DataFrame, budget: float) -> str:
    """(b) the summary table of one dataset; baselines highlighted, Δ below −budget in red."""
    header = ["model", "configuration", "variant", "n", "accuracy", "balanced acc. [95 % CI]", "macro-F1 [95 % CI]",
              "kappa", "params", "nonzero params", "file kB", "gzip kB", "latency b1 ms", "Δ bal. acc. [95 % CI]",
              "verdict"]
    cells, classes = [], []
    for _, r in rows.iterrows():
        delta = fmt_ci(r["delta_balanced_accuracy"], r.get("delta_balanced_accuracy_low"),
                       r.get("delta_balanced_accuracy_high"), signed=True)
        verdict = r.get("verdict")
        cells.append([
            escape(r["model"]), escape(config_label(r)), escape(r["variant"]), str(r["n_runs"]),
            accuracy_html(r),
            fmt_ci(r["balanced_accuracy_mean"], r.get("balanced_accuracy_low"), r.get("balanced_accuracy_high"))
            + chance_flag(r),
            fmt_ci(r["macro_f1_mean"], r.get("macro_f1_low"), r.get("macro_f1_high")),
            fmt_mean_std(r["cohen_kappa_mean"], r["cohen_kappa_std"]),
            fmt_int(r["params_mean"]), fmt_int(r["nonzero_params_mean"]),
            fmt_kb(r["file_bytes_mean"]), fmt_kb(r["gzip_bytes_mean"]),
            fmt_mean_std(r["latency_ms_b1_mean"], r["latency_ms_b1_std"]),
            f'<span class="neg">{delta}</span>' if verdict == "over budget" else delta,
            verdict_html(verdict),
        ])
        classes.append("base" if not isinstance(r["method"], str) and r["stage"] == "baseline" else "")
    return _table(header, cells, text_cols=3, row_classes=classes,
                  caption="Every configuration and variant, mean over runs, with its paired Δ and budget verdict.")


def verdict_html(verdict) -> str:
    """The budget verdict, coloured: within budget green, over budget red, inconclusive plain; '—' for none."""
    if not isinstance(verdict, str):
        return "—"
    css = {"within budget": "ok", "over budget": "bad"}.get(verdict)
    return f'<span class="{css}">{escape(verdict)}</span>' if css else escape(verdict)


PUBLISHED_NOTE = ("<b>Published results</b> come from the literature, on the real dataset under its own protocol "
                  "(subjects, windows, preprocessing): a guide, not a paired comparison; on demo data they do not "
                  "apply at all.")


def published_html(entries: list[dict]) -> str:
    rows = [[escape(str(e.get(k, ""))) for k in ("model", "metric", "value", "source")] for e in entries]
    return (f"<p>{PUBLISHED_NOTE}</p>" + _table(["model", "metric", "value", "source"], rows, text_cols=4,
                                                        caption="Published results on the real data."))


def _share_above_chance(subjects: pd.DataFrame, model: str, chance: float) -> str:
    """'k/n' test subjects of `model`'s baseline whose balanced accuracy (mean over runs) is above chance."""
    mine = subjects[(subjects["model"] == model) & subjects["method"].isna()
                    & subjects["variant"].isin(RECORD_VARIANTS)]
    if mine.empty or _missing(chance):
        return "—"
    above = int((mine["balanced_accuracy"] > chance).sum())
    return f"{above}/{len(mine)} ({above / len(mine):.0%})"


def reference_sentence(base: pd.DataFrame) -> str:
    """Whether any deep model's baseline beats the classical reference by a paired CI above 0; '' without one."""
    deep = base[base["vs_reference"].notna()] if "vs_reference" in base else base.iloc[:0]
    if deep.empty:
        return ""
    winners = deep[deep["vs_reference_low"] > 0]["model"].tolist()
    if winners:
        return (f'<p class="ok">Beats the classical reference (paired 95 % CI above 0): '
                f"{escape(', '.join(winners))}.</p>")
    return ('<p class="bad">No deep model beats the classical reference here (no paired 95 % CI of deep − '
            "reference lies above 0): compressing a deep model that is not shown to beat a band-power logistic "
            "regression answers little.</p>")


def per_fold_scores(records: pd.DataFrame) -> dict[str, str]:
    """Model → its baseline's balanced accuracy per fold (mean over seeds), '0.742, 0.698, …'; {} without folds.
    records: one dataset's metrics records."""
    base = records[records["method"].isna() & records["variant"].isin(RECORD_VARIANTS) & records["fold"].notna()]
    return {model: ", ".join(f"{v:.3f}" for v in group.groupby("fold")["balanced_accuracy"].mean())
            for model, group in base.groupby("model")}


def comparison_html(rows: pd.DataFrame, published: list[dict], labels: dict[str, str] | None = None,
                    subjects: pd.DataFrame | None = None, protocol: str | None = None,
                    folds: dict[str, str] | None = None, anchor: str | None = None) -> str:
    """Every model's unpruned baseline (CI, above-chance flag, share of subjects above chance, paired Δ against the
    classical reference) beside the published results on the real data and chance.

    rows: one dataset's aggregated rows (`collect.aggregate` + `inference.with_confidence`); subjects: its
    per-subject scores (`inference.subject_table`); protocol: this run's split (e.g. a published protocol scaled
    to the subjects at hand), named in each of its rows so they are not read as the published protocol; folds:
    `per_fold_scores` of the dataset, a column when given; anchor: the dataset section's id, from which each
    model's row gets its `model_anchor`."""
    labels, folds = labels or {}, folds or {}
    subjects = subjects if subjects is not None else pd.DataFrame(columns=["model", "method", "variant",
                                                                           "balanced_accuracy"])
    base = rows[rows["method"].isna() & (rows["stage"] == "baseline")]
    cells, classes, ids = [], [], []
    for _, r in base.iterrows():
        ids.append(model_anchor(anchor, r["model"]) if anchor else None)
        reference = fmt_ci(r.get("vs_reference"), r.get("vs_reference_low"), r.get("vs_reference_high"), signed=True)
        cells.append([escape(r["model"]), escape(labels.get(r["model"], "")),
                      fmt_ci(r["balanced_accuracy_mean"], r.get("balanced_accuracy_low"),
                             r.get("balanced_accuracy_high")) + chance_flag(r),
                      accuracy_html(r),
                      _share_above_chance(subjects, r["model"], r["chance_balanced_accuracy_mean"]), reference,
                      f"this run, n = {r['n_runs']} runs, {fmt_int(r.get('n_subjects'))} test subjects"
                      + (f"; {escape(protocol)}" if protocol else "")]
                     + ([escape(folds.get(r["model"], "—"))] if folds else []))
        classes.append("")
    for e in published:
        metric = str(e.get("metric", "")).lower().replace(" ", "_")
        value = fmt_num(e.get("value")) if isinstance(e.get("value"), (int, float)) else escape(str(e.get("value")))
        cells.append([escape(str(e.get("model", ""))), "published, on the real data",
                      value if metric == "balanced_accuracy" else "—", value if metric == "accuracy" else "—",
                      "—", "—", escape(f"{e.get('metric')}: {e.get('source', '')}")] + (["—"] if folds else []))
        classes.append("pub")
        ids.append(None)
    if not base.empty:
        cells.append(["chance", "", fmt_num(base["chance_balanced_accuracy_mean"].mean()),
                      fmt_num(base["chance_accuracy_mean"].mean()), "", "", "1/classes; majority-class share"]
                     + ([""] if folds else []))
        classes.append("")
        ids.append(None)
    if not cells:
        return ""
    note = f"<p>{PUBLISHED_NOTE}</p>" if published else ""
    return note + reference_sentence(base) + _table(
        ["model", "variant", "balanced acc. [95 % CI]", "accuracy", "subjects above chance",
         "Δ vs classical reference [95 % CI]", "note"] + (["bal. acc. per fold (mean over seeds)"] if folds else []),
        cells, text_cols=2, row_classes=classes, row_ids=ids,
        caption="Each model's unpruned baseline beside the classical reference, published results and chance.")


def protocols_html(table: pd.DataFrame) -> str:
    """The section comparing split protocols on the same recordings (`tables.protocol_table`); '' without any."""
    if table.empty:
        return ""
    rows = [[escape(str(r["model"])), escape(str(r["dataset"])), escape(str(r["split_protocol"])),
             fmt_int(r["n_runs"]), fmt_int(r["n_subjects"]),
             fmt_ci(r["balanced_accuracy_mean"], r["balanced_accuracy_low"], r["balanced_accuracy_high"]),
             fmt_num(r["macro_f1_mean"]), fmt_num(r["chance_balanced_accuracy_mean"]),
             "" if r["split_protocol"] in SUBJECT_WISE_PROTOCOLS
             else fmt_ci(r["vs_subject_wise"], None, None, signed=True)]
            for _, r in table.iterrows()]
    header = ["model", "dataset", "split protocol", "runs", "test subjects", "bal. acc. [95% CI]", "macro-F1",
              "chance", "vs subject-wise"]
    caption = ("The same recordings and preprocessing under different split protocols: each model's unpruned "
               "baseline. 'vs subject-wise' is the difference of means from the subject-wise protocol, not paired "
               "(the protocols test different windows); a leaky protocol's gain is how much it overstates accuracy "
               "on people the model has never seen.")
    return ("<section id=protocols><h2>Split protocols compared</h2>"
            + _table(header, rows, text_cols=3, caption=caption) + "</section>")


def pretrain_html(b64: str | None, histories: list[dict]) -> str:
    """The pretraining section: datasets, windows, first and last epoch loss, and the loss curve."""
    if not histories:
        return ""
    items = "".join(
        f"<li>{escape(h['label'])}: pretrained on {escape(', '.join(map(str, h.get('datasets', []))))} "
        f"({fmt_int(sum((h.get('windows') or {}).values()))} train windows, {len(h['train_loss'])} epochs); "
        f"train loss {fmt_num(h['train_loss'][0])} → {fmt_num(h['train_loss'][-1])}</li>" for h in histories)
    return ("<section id=pretrain><h2>Masked pretraining</h2><p>Masked EEG modelling on the train parts of the "
            "listed datasets (mask ratio and symmetric masking as LaBraM; targets: z-scored Fourier amplitude and "
            f"phase of each patch; loss: MSE on the masked patches).</p><ul>{items}</ul>"
            + _figure(b64, "pretraining loss per epoch", "No pretraining history.",
                      "Masked-patch loss per epoch, train solid and held-out validation dashed: a falling validation "
                      "loss means the encoder learned structure it can pass to fine-tuning.") + "</section>")


def _figure(b64: str | None, alt: str, missing: str, caption: str = "") -> str:
    """An embedded PNG with a numbered caption saying what to read from it; the `missing` note without one."""
    if b64 is None:
        return f'<p class="note">{escape(missing)}</p>' if missing else ""
    return (f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{b64}"><figcaption><b>Figure '
            f"{FIGURE_NUMBER}.</b> {escape(caption or alt)}</figcaption></figure>")


def sensitivity_html(b64: str | None, dataset: str) -> str:
    """The per-layer sensitivity heatmap with a one-line explanation; '' when the analysis was not run."""
    if b64 is None:
        return ""
    return ("<h3>Per-layer pruning sensitivity</h3><p>Each row prunes only one layer (units: the lowest-L1 units "
            "of a unit group, removed exactly; weights: the smallest weights of one weight tensor) at the ratio of the column "
            "and evaluates on the validation split without retraining. Red cells lose balanced accuracy: those "
            "layers are the sensitive ones.</p>"
            + _figure(b64, f"{dataset}: per-layer pruning sensitivity", "",
                      "Change of validation balanced accuracy when only one layer (row) is pruned at the column's "
                      "ratio, without retraining: red rows are the layers to prune least."))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def anchor(index: int, dataset: str) -> str:
    """A safe, unique id for a dataset's section."""
    return f"ds{index}-{_slug(dataset)}"


def model_anchor(dataset_anchor: str, model: str) -> str:
    """The id of a model's row in its dataset's comparison table (model names are catalogue keys: unique)."""
    return f"{dataset_anchor}-{_slug(model)}"


def _folded(summary: str, body: str) -> str:
    return f"<details><summary>{summary}</summary>{body}</details>"


def _data_summary_line(facts: DatasetFacts) -> str:
    """'N windows, S subjects, K classes' for the folded data section's title."""
    if facts.windows_per_class is None:
        return "Data"
    return (f"Data: {fmt_int(facts.n_windows)} windows, {fmt_int(len(facts.windows_per_subject or {}))} subjects, "
            f"{len(facts.windows_per_class)} classes, channels, split sizes and the leakage audit")


def dataset_section(index: int, facts: DatasetFacts, rows: pd.DataFrame, compression: dict[str, str],
                    figures: dict[str, str | None], budget: float, published: list[dict],
                    comparison: str = "") -> str:
    """One dataset's section, the answer first: the protocol line, the accuracy-vs-ratio curve, the Pareto fronts
    and the pick (`compression`: `compression_html.compression_parts`), the models beside published results and
    the classical reference, per-subject scores, sensitivity, size; then folded: every configuration's row and
    the data. Parts that were not run are left out and named in one line."""
    name = escape(facts.dataset)
    parts = [f'<section id="{anchor(index, facts.dataset)}"><h2>{name}</h2>', protocol_html(facts, rows)]
    if rows.empty:
        parts.append('<p class="note">No metrics for this dataset.</p>')
        if published:
            parts += ["<h3>Published results</h3>", published_html(published)]
        parts += [_folded(_data_summary_line(facts), dataset_summary(facts, rows)), "</section>"]
        return "".join(parts)
    not_run = [what for what, present in (("pruning (see prune.models and prune.datasets)", figures.get("ratio")),
                                          ("per-layer sensitivity", figures.get("sensitivity")),
                                          ("fine-tune vs scratch recovery", compression.get("finetune_scratch")))
               if not present]
    parts += [results_note(facts, rows)]
    if figures.get("ratio"):
        parts += ["<h3>Balanced accuracy vs pruning ratio</h3>",
                  _figure(figures["ratio"], f"{facts.dataset}: balanced accuracy vs pruning ratio", "",
                          "Balanced accuracy of the pruned models (mean over runs, shaded: 95 % subject-bootstrap CI), "
                          "one line per method and recovery; grey band: the baseline ± the accuracy budget, dashed: "
                          "chance, dash-dot: the classical reference. Where a line leaves the band, that method "
                          "starts losing accuracy.")]
    parts += [compression.get("pareto", ""), compression.get("selection", ""),
              "<h3>Models beside the classical reference and published results</h3>", comparison,
              "<h3>Balanced accuracy per test subject</h3>",
              _figure(figures.get("subjects"), f"{facts.dataset}: balanced accuracy per test subject",
                      "No per-subject scores.",
                      "One dot per test subject (mean over the runs that tested it), bar: the mean; baselines first, "
                      "then the recommended variants. The spread across subjects is the uncertainty that matters."),
              sensitivity_html(figures.get("sensitivity"), facts.dataset),
              "<h3>Balanced accuracy vs file size</h3>",
              _figure(figures.get("size"), f"{facts.dataset}: balanced accuracy vs file size",
                      "No file sizes recorded.",
                      "Every configuration and ONNX variant: filled markers are baselines, hollow ones pruned; "
                      "further left is smaller, higher is better."),
              compression.get("sparsity", ""), compression.get("finetune_scratch", "")]
    if not_run:
        parts.append(f'<p class="note">Not run for this dataset: {escape("; ".join(not_run))}.</p>')
    parts += [_folded(f"Every configuration ({len(rows)} rows: accuracy, macro-F1, kappa, size, latency, Δ and "
                      "verdict)", results_note(facts, rows) + summary_html(rows, budget)),
              _folded(_data_summary_line(facts), dataset_summary(facts, rows)), "</section>"]
    return "".join(parts)


def render_page(sections: list[tuple[str, str]], budget: float, n_records: int, extra: str = "",
                boot=None, headline: str = "") -> str:
    """The whole page: the title, `headline` (`headline.headline_html`, the answer), a contents bar that stays in
    view, how to read the report (folded), then the (dataset name, section HTML) pairs in order and `extra`.
    Figures and captioned tables are numbered in page order. `boot`: the `inference.Bootstrap` used."""
    n_boot, level = (boot.n_boot, boot.level) if boot is not None else (2000, 0.95)
    links = [("answer", "The answer")] if headline else []
    links += [(anchor(i, name), name) for i, (name, _) in enumerate(sections)]
    links += [("protocols", "Split protocols")] if 'id=protocols' in extra else []
    links += [("pretrain", "Masked pretraining")] if 'id=pretrain' in extra else []
    contents = "".join(f'<a href="#{a}">{escape(label)}</a>' for a, label in links)
    title = "eegslim: how small and fast can an EEG classifier get before it loses accuracy?"
    intro = (INTRO.replace("{budget}", f"{budget:g} balanced accuracy").replace("{n_boot}", f"{n_boot:,}")
             .replace("{level_pct}", f"{level:.0%}") + f"<p>{n_records} evaluated models in this report.</p>")
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f'<nav class="bar">{contents}</nav>' + headline
        + _folded("How to read this report: splits, balanced accuracy, confidence intervals, verdicts, variants",
                  intro)
        + "".join(html for _, html in sections)
        + extra
        + "</body></html>\n"
    )
    for placeholder in (FIGURE_NUMBER, TABLE_NUMBER):
        number = iter(range(1, page.count(placeholder) + 1))
        page = re.sub(re.escape(placeholder), lambda _: str(next(number)), page)
    return page
