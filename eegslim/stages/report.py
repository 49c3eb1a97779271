"""Rule `report`: aggregate every metrics.json into CSV tables and one self-contained HTML page."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from eegslim.atomic import atomic_open, read_json
from eegslim.report import figures, html, tables
from eegslim.report.collect import aggregate, best_within_budget, load_dataset_facts, load_records

log = logging.getLogger(__name__)


def _budget(report_cfg: dict) -> float:
    budget = report_cfg.get("accuracy_budget", 0.01)
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 0 <= budget < 1 or math.isnan(budget):
        raise ValueError(f"report.accuracy_budget: expected a number in [0, 1), got {budget!r}")
    return float(budget)


def run(metrics_files: list[str], dataset_files: dict[str, dict[str, str]], out_html, tables_dir,
        report_cfg: dict, pretrain_histories: list[str] = (), model_labels: dict[str, str] | None = None) -> None:
    """Write `tables_dir/results.csv`, `summary_{dataset}.csv`, `datasets.csv` and the page `out_html`.

    dataset_files: dataset key → {"summary": summary.json, "split": splits.json}, either may be missing.
    report_cfg: `accuracy_budget` (default 0.01) and optional `published` {dataset: [{model, metric, value,
    source}]}. pretrain_histories: history.json files of the pretrain rule (loss curve section);
    model_labels: model name -> how it was initialised, shown in the comparison table.
    """
    budget = _budget(report_cfg)
    published = report_cfg.get("published") or {}
    records = load_records(metrics_files)
    agg = aggregate(records)
    best = best_within_budget(agg, budget)
    datasets = sorted(set(dataset_files) | set(records["dataset"]))
    for ds in datasets:
        if "/" in ds or "\\" in ds or ds.startswith("."):
            raise ValueError(f"dataset key {ds!r}: not usable in a file name (summary_{{dataset}}.csv)")
    facts = [load_dataset_facts(ds, dataset_files.get(ds)) for ds in datasets]
    log.info("%d records, %d configurations, datasets %s", len(records), len(agg), datasets)

    tables_dir = Path(tables_dir)
    tables.write_csv(tables.results_table(records), tables_dir / "results.csv")
    tables.write_csv(tables.datasets_table(facts, agg), tables_dir / "datasets.csv")
    sections = []
    for index, (ds, ds_facts) in enumerate(zip(datasets, facts)):
        rows = tables.summary_table(agg, ds)
        tables.write_csv(rows, tables_dir / f"summary_{ds}.csv")
        mine = agg[agg["dataset"] == ds]
        pictures = {"ratio": figures.ratio_figure(mine), "size": figures.size_figure(mine)}
        sections.append((ds, html.dataset_section(index, ds_facts, rows, best[best["dataset"] == ds], pictures,
                                                  budget, published.get(ds, []),
                                                  html.comparison_html(mine, published.get(ds, []), model_labels))))
    histories = [read_json(path) for path in pretrain_histories]
    extra = html.pretrain_html(figures.pretrain_figure(histories), histories)
    with atomic_open(out_html, "w", encoding="utf-8") as fh:
        fh.write(html.render_page(sections, budget, len(records), extra))
    log.info("wrote %s and %s", out_html, tables_dir)
