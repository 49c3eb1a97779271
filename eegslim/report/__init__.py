"""Report: every metrics.json → CSV tables, figures and one self-contained HTML page.

`collect` reads and aggregates, `select` picks deployable variants and Pareto fronts, `tables` builds the CSVs,
`figures` and `compression_figures` draw, `html` and `compression_html` render;
`eegslim.stages.report.run` ties them together.
"""

from eegslim.report.collect import aggregate, load_dataset_facts, load_records

__all__ = ["aggregate", "load_dataset_facts", "load_records"]
