"""Rule `report`: aggregate every metrics.json into CSV tables and one self-contained HTML page."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import pandas as pd

from eegslim.atomic import atomic_open, read_json
from eegslim.report import compression_figures, compression_html, figures, headline, html, inference, select, tables
from eegslim.report.collect import CONFIG_KEYS, aggregate, baseline_rows, load_dataset_facts, load_records
from eegslim.report.sensitivity import load_sensitivity
from eegslim.runs import POOLED_SCOPE

log = logging.getLogger(__name__)


def _budget(report_cfg: dict) -> float:
    budget = report_cfg.get("accuracy_budget", 0.01)
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 0 <= budget < 1 or math.isnan(budget):
        raise ValueError(f"report.accuracy_budget: expected a number in [0, 1), got {budget!r}")
    return float(budget)


def _flash_mbit(report_cfg: dict) -> float:
    mbit = report_cfg.get("flash_mbit", 128)
    if isinstance(mbit, bool) or not isinstance(mbit, (int, float)) or not mbit > 0 or math.isinf(mbit):
        raise ValueError(f"report.flash_mbit: expected a positive number of megabits, got {mbit!r}")
    return float(mbit)


def run(metrics_files: list[str], dataset_files: dict[str, dict], out_html, tables_dir,
        report_cfg: dict, sensitivity_files: list[str] = (), pretrain_histories: list[str] = (),
        model_labels: dict[str, str] | None = None) -> None:
    """Write `tables_dir/results.csv`, `summary_{dataset}.csv`, `datasets.csv`, `variants.csv`, `selection.csv`,
    `finetune_vs_scratch.csv`, `headline.csv` (the first screen: `report.headline`), `protocols.csv` (datasets that
    read the same recordings under different split protocols, `tables.protocol_table`) and the page `out_html`.

    dataset_files: dataset key → {"summary": summary.json, "split": splits.json or the list of a k-fold's
    per-fold split files}, either may be missing.
    report_cfg: `accuracy_budget` (default 0.01), `flash_mbit` (default 128), `bootstrap` ({n_boot, level, seed}
    of every CI, `inference.Bootstrap`) and optional `published` {dataset: [{model, metric, value, source}]}.
    Every metrics.json needs its predictions.npz beside it: the CIs, paired Δs, verdicts and per-subject scores
    come from them. sensitivity_files: `sensitivity.csv` tables (rule `sensitivity`), drawn as heatmaps.
    pretrain_histories: history.json files of the pretrain rule (loss curve section); model_labels: model name ->
    how it was initialised, shown in the comparison table.
    """
    budget, flash_mbit = _budget(report_cfg), _flash_mbit(report_cfg)
    published = report_cfg.get("published") or {}
    boot = inference.Bootstrap.from_config(report_cfg.get("bootstrap"))
    records = load_records(metrics_files)
    sensitivity = load_sensitivity(sensitivity_files)
    started = time.perf_counter()
    preds = inference.load_predictions(records)
    log.info("read %d predictions files in %.1f s", len(preds), time.perf_counter() - started)
    started = time.perf_counter()
    agg = inference.with_confidence(aggregate(records), inference.confidence(records, budget, boot, preds))
    log.info("confidence intervals of %d configurations in %.1f s", len(agg), time.perf_counter() - started)
    variants = select.deployable(records, agg, flash_mbit, budget)
    selection = select.select(variants, agg)
    verdicts = select.budget_verdicts(variants)
    subjects = inference.subject_table(records, _subject_configs(agg, selection), preds)
    fvs = select.finetune_vs_scratch(agg)
    evidence = select.sparsity_evidence(variants)
    datasets = sorted(set(dataset_files) | set(records["dataset"]))
    for ds in datasets:
        if "/" in ds or "\\" in ds or ds.startswith("."):
            raise ValueError(f"dataset key {ds!r}: not usable in a file name (summary_{{dataset}}.csv)")
    facts = [load_dataset_facts(ds, dataset_files.get(ds)) for ds in datasets]
    log.info("%d records, %d configurations, datasets %s", len(records), len(agg), datasets)

    tables_dir = Path(tables_dir)
    tables.write_csv(tables.results_table(records), tables_dir / "results.csv")
    tables.write_csv(tables.datasets_table(facts, agg), tables_dir / "datasets.csv")
    tables.write_csv(variants, tables_dir / "variants.csv")
    tables.write_csv(selection, tables_dir / "selection.csv")
    tables.write_csv(fvs, tables_dir / "finetune_vs_scratch.csv")
    answer = headline.headline_table(agg, selection, verdicts, budget)
    tables.write_csv(answer, tables_dir / "headline.csv")
    sections = []
    for index, (ds, ds_facts) in enumerate(zip(datasets, facts)):
        rows = tables.summary_table(agg, ds)
        tables.write_csv(rows, tables_dir / f"summary_{ds}.csv")
        mine = agg[agg["dataset"] == ds]
        pictures = {"ratio": figures.ratio_figure(mine, budget, published.get(ds, [])),
                    "size": figures.size_figure(mine),
                    "sensitivity": figures.sensitivity_figure(sensitivity[sensitivity["dataset"] == ds]),
                    "subjects": figures.subject_figure(subjects[subjects["dataset"] == ds], mine)}
        part = _compression(ds, mine, variants[variants["dataset"] == ds], selection[selection["dataset"] == ds],
                            evidence[evidence["dataset"] == ds], fvs[fvs["dataset"] == ds],
                            verdicts[verdicts["dataset"] == ds], budget, flash_mbit)
        comparison = html.comparison_html(mine, published.get(ds, []), model_labels,
                                          subjects[subjects["dataset"] == ds], ds_facts.split_description,
                                          html.per_fold_scores(records[records["dataset"] == ds]),
                                          anchor=html.anchor(index, ds))
        sections.append((ds, html.dataset_section(index, ds_facts, rows, part, pictures, budget,
                                                  published.get(ds, []), comparison)))
    protocols = tables.protocol_table(facts, agg)
    tables.write_csv(protocols, tables_dir / "protocols.csv")
    histories = [pretrain_history(path) for path in pretrain_histories]
    extra = html.protocols_html(protocols) + html.pretrain_html(figures.pretrain_figure(histories), histories)
    with atomic_open(out_html, "w", encoding="utf-8") as fh:
        anchors = {ds: html.anchor(i, ds) for i, ds in enumerate(datasets)}
        fh.write(html.render_page(sections, budget, len(records), extra, boot,
                                  headline.headline_html(answer, anchors, budget, flash_mbit)))
    log.info("wrote %s and %s", out_html, tables_dir)


def pretrain_history(path) -> dict:
    """A pretrain checkpoint's history.json with its `label`: the size, and the scope unless pooled
    (results/pretrain/{size}/{scope}/history.json: 'tiny', or 'tiny eegmat-fold2'; a benchmark's
    .../{size}/history.json: 'tiny')."""
    history = read_json(path)
    size, scope = str(history.get("size")), Path(path).parent.name
    return {**history, "label": size if scope in (POOLED_SCOPE, size) else f"{size} {scope}"}


def _subject_configs(agg, selection):
    """The configurations drawn per subject: every model's baseline and the chosen variants."""
    baselines = agg[agg["method"].isna() & (agg["stage"] == "baseline")]
    return pd.concat([baselines[list(CONFIG_KEYS)], selection[list(CONFIG_KEYS)]], ignore_index=True)


def _compression(ds, agg, variants, selection, evidence, fvs, verdicts, budget: float,
                 flash_mbit: float) -> dict[str, str]:
    """One dataset's compression part of the page: selection, Pareto plots, sparsity, fine-tune vs scratch."""
    base = baseline_rows(agg).set_index("model")["balanced_accuracy_mean"].to_dict()
    pictures = {"pareto": compression_figures.pareto_figure(variants, base, budget, figures.reference_score(agg)),
                "finetune_scratch": compression_figures.finetune_scratch_figure(fvs)}
    return compression_html.compression_parts(ds, selection, variants, evidence, fvs, verdicts, pictures, budget,
                                              flash_mbit)
