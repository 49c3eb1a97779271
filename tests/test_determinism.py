"""Two runs of the same config and seeds on CPU give the same metrics.json, and seeds aggregate as mean ± std.

Excluded from the comparison: TIMING_KEYS of metrics.json (latency medians and IQRs, measured wall-clock) and
`seconds` of history.json (epoch wall time). Everything else must match exactly, weights included.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eegslim.metrics import TIMING_KEYS
from eegslim.predictions import FIELDS, read_predictions
from mini import SEEDS, mini_workdir, run

pytestmark = pytest.mark.e2e


def outputs(workdir: Path) -> dict[str, object]:
    """Every metrics.json and history.json without wall-clock fields, a hash of every weights file and the arrays
    of every predictions file."""
    found = {}
    for path in sorted((workdir / "results").rglob("*")):
        rel = path.relative_to(workdir).as_posix()
        if path.name == "metrics.json":
            found[rel] = {k: v for k, v in json.loads(path.read_text()).items() if k not in TIMING_KEYS}
        elif path.name == "history.json":
            found[rel] = {k: v for k, v in json.loads(path.read_text()).items() if k != "seconds"}
        elif path.name == "model.safetensors":
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.name == "predictions.npz":  # the arrays (the zip's member times differ between runs)
            preds = read_predictions(path)
            found[rel] = [getattr(preds, name).tolist() for name in FIELDS]
    return found


def test_same_config_and_seed_give_identical_metrics(mini_run, tmp_path):
    again = mini_workdir(tmp_path / "again")
    run(again, "results/report.html")
    first, second = outputs(mini_run), outputs(again)
    assert sum(name.endswith("metrics.json") for name in first) == 12
    assert first.keys() == second.keys()
    differing = [name for name in first if first[name] != second[name]]
    assert differing == [], differing


def test_seeds_are_aggregated_as_mean_and_std(mini_run):
    records = [json.loads(p.read_text()) for p in (mini_run / "results").rglob("metrics.json")]
    baseline = [r["balanced_accuracy"] for r in records if r["stage"] == "baseline"]
    assert sorted(r["seed"] for r in records if r["stage"] == "baseline") == SEEDS
    table = pd.read_csv(mini_run / "results/tables/summary_demo_sleep.csv")
    row = table[(table["stage"] == "baseline") & (table["variant"] == "torch")].iloc[0]
    assert row["n_runs"] == len(SEEDS)
    assert row["balanced_accuracy_mean"] == pytest.approx(np.mean(baseline))
    assert row["balanced_accuracy_std"] == pytest.approx(np.std(baseline, ddof=1))
    html = (mini_run / "results/report.html").read_text()
    accuracy = [r["accuracy"] for r in records if r["stage"] == "baseline"]
    assert f"{np.mean(accuracy):.3f} ± {np.std(accuracy, ddof=1):.3f}" in html  # accuracy: mean ± std over seeds
    # balanced accuracy: the mini split tests one subject, so there is no interval to print, and the report says so
    assert f"{np.mean(baseline):.3f}</td>" in html and "no interval: one test subject per fold" in html
