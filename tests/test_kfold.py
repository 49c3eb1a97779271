"""split.protocol kfold through the DAG: one split file and one run per fold, the report averages over folds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mini import mini_config, mini_workdir, run

pytestmark = pytest.mark.e2e
N_FOLDS = 3


def kfold_config(**split) -> dict:
    """mini_config with a 3-fold subject-wise split, one seed, no pruning, fp32 only, sensitivity at 0.5."""
    cfg = mini_config()
    cfg["split"].update(protocol="kfold", n_folds=N_FOLDS, **split)
    cfg["seeds"] = [0]
    cfg["prune"]["methods"] = []
    cfg["quantize"]["variants"] = ["fp32"]
    cfg["sensitivity"].update(ratios=[0.5], max_windows=50)
    return cfg


@pytest.fixture(scope="module")
def kfold_run(tmp_path_factory) -> Path:
    workdir = mini_workdir(tmp_path_factory.mktemp("kfold"), kfold_config())
    run(workdir, "results/report.html")
    return workdir


def test_every_fold_has_its_split_file_and_the_test_parts_partition_the_subjects(kfold_run):
    results = kfold_run / "results/demo_sleep"
    assert not (results / "splits.json").exists()
    splits = [json.loads((results / f"splits/fold{k}.json").read_text()) for k in range(N_FOLDS)]
    tests = [set(s["subjects"]["test"]) for s in splits]
    assert all((s["protocol"], s["fold"], s["n_folds"]) == ("kfold", k, N_FOLDS) for k, s in enumerate(splits))
    assert sum(len(t) for t in tests) == len(set().union(*tests)) == 5  # disjoint, every subject tested once
    for s in splits:
        assert not set(s["subjects"]["test"]) & set(s["subjects"]["train"] + s["subjects"]["val"])


def test_each_fold_trains_its_own_model_and_the_report_averages_them(kfold_run):
    results = kfold_run / "results/demo_sleep/eegnet/baseline"
    records = [json.loads((results / f"fold{k}-seed0/metrics.json").read_text()) for k in range(N_FOLDS)]
    assert [(r["fold"], r["seed"], r["split_protocol"]) for r in records] == [(k, 0, "kfold") for k in range(N_FOLDS)]
    assert len({r["n_test"] for r in records}) > 1 or len({r["balanced_accuracy"] for r in records}) > 1
    table = pd.read_csv(kfold_run / "results/tables/summary_demo_sleep.csv")
    base = table[(table["variant"] == "torch") & table["method"].isna()].iloc[0]
    assert base["n_runs"] == N_FOLDS
    assert base["balanced_accuracy_mean"] == pytest.approx(np.mean([r["balanced_accuracy"] for r in records]))
    results_csv = pd.read_csv(kfold_run / "results/tables/results.csv")
    assert sorted(results_csv.loc[results_csv["variant"] == "fp32", "fold"]) == list(range(N_FOLDS))
    datasets = pd.read_csv(kfold_run / "results/tables/datasets.csv").iloc[0]
    assert datasets["n_folds"] == N_FOLDS and datasets["leakage_audit"] == "no subject shared between train/val/test"
    html = (kfold_run / "results/report.html").read_text(encoding="utf-8")
    assert f"means over the test parts of {N_FOLDS} folds" in html and "3-fold cross-validation" in html


def test_sensitivity_measures_every_fold_on_its_own_validation_part(kfold_run):
    table = pd.read_csv(kfold_run / "results/demo_sleep/eegnet/sensitivity.csv")
    assert sorted(table["fold"].unique()) == list(range(N_FOLDS))
    meta = json.loads((kfold_run / "results/demo_sleep/eegnet/sensitivity.json").read_text())
    assert meta["runs"] == [f"fold{k}-seed0" for k in range(N_FOLDS)]


def test_a_subset_of_folds_and_a_fold_that_does_not_exist(tmp_path):
    workdir = mini_workdir(tmp_path / "subset", kfold_config(folds=[2]))
    planned = run(workdir, "-n", "results/report.html").stdout
    assert "splits/fold2.json" in planned and "splits/fold0.json" not in planned and "fold2-seed0" in planned
    bad = mini_workdir(tmp_path / "bad", kfold_config(folds=[0, 3]))
    proc = run(bad, "-n", "results/report.html", check=False)
    assert proc.returncode != 0
    assert "config key 'split.folds': folds [3] do not exist: n_folds is 3" in proc.stdout + proc.stderr
