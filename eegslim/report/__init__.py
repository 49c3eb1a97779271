"""Report: every metrics.json → CSV tables, figures and one self-contained HTML page.

`collect` reads and aggregates, `tables` builds the CSVs, `figures` draws, `html` renders;
`eegslim.stages.report.run` ties them together.
"""

from eegslim.report.collect import aggregate, best_within_budget, load_dataset_facts, load_records

__all__ = ["aggregate", "best_within_budget", "load_dataset_facts", "load_records"]
