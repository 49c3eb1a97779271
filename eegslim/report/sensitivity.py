"""Read the per-layer sensitivity tables (rule `sensitivity`) for the report; errors name the file."""

from __future__ import annotations

import pandas as pd

COLUMNS = ("dataset", "model", "seed", "kind", "layer", "ratio", "delta_balanced_accuracy")


def load_sensitivity(paths: list[str]) -> pd.DataFrame:
    """All `sensitivity.csv` rows in one table (columns at least COLUMNS); empty when no paths."""
    tables = []
    for path in paths:
        table = pd.read_csv(path)
        missing = [c for c in COLUMNS if c not in table.columns]
        if missing:
            raise ValueError(f"{path}: missing columns {missing}")
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(COLUMNS))
