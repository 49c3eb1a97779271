"""The report's statistics layer: predictions read beside every metrics.json, runs paired by fold and seed,
chance flags, and a missing predictions file named."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from eegslim.metrics import metrics_record
from eegslim.report import html
from eegslim.report.collect import aggregate, load_records
from eegslim.report.inference import Bootstrap, confidence, subject_table, with_confidence
from fake_predictions import write_fake_predictions


def write(root, model, method, fold, seed, ba, variant=None):
    variant = variant or ("torch" if method is None else "fp32")
    stage = "baseline" if method is None else "quantize"
    path = root / model / str(method) / variant / f"fold{fold}-seed{seed}" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(metrics_record(
        dataset="d", model=model, stage=stage, method=method, ratio=0.5 if method else None,
        recovery="finetune" if method else None, variant=variant, seed=seed, fold=fold, balanced_accuracy=ba,
        accuracy=ba, n_classes=2, chance_balanced_accuracy=0.5, chance_accuracy=0.5, split_protocol="kfold")))
    write_fake_predictions(path, ba, seed=10 * fold + seed, n_subjects=6)
    return str(path)


def test_runs_are_paired_by_fold_and_seed_and_chance_is_flagged(tmp_path):
    files = []
    for fold in (0, 1):
        for seed in (0, 1):
            files.append(write(tmp_path, "net", None, fold, seed, 0.80 + 0.05 * fold))
            files.append(write(tmp_path, "net", "l1", fold, seed, 0.80 + 0.05 * fold - 0.02 * seed))
            files.append(write(tmp_path, "flat", None, fold, seed, 0.5))
    records = load_records(files)
    conf = confidence(records, 0.01, Bootstrap(n_boot=500)).set_index(["model", "variant"])
    pruned = conf.loc[("net", "fp32")]
    assert pruned["delta_balanced_accuracy"] == pytest.approx(-0.01) and pruned["n_paired"] == 4
    assert pruned["delta_balanced_accuracy_low"] < -0.01 < pruned["delta_balanced_accuracy_high"] <= 0
    assert pruned["verdict"] == "inconclusive"
    base = conf.loc[("net", "torch")]
    assert base["above_chance"] and base["balanced_accuracy_low"] > 0.5 and pd.isna(base["verdict"])
    assert not conf.loc[("flat", "torch"), "above_chance"]
    agg = with_confidence(aggregate(records), conf.reset_index())
    row = agg[(agg["model"] == "flat")].iloc[0]
    assert "not above chance" in html.chance_flag(row) and html.chance_flag(agg[agg["model"] == "net"].iloc[0]) == ""
    subjects = subject_table(records, agg[agg["model"] == "net"])
    # two configurations × subjects s0-s5 (the fake folds reuse the names), each tested by 2 folds × 2 seeds
    assert len(subjects) == 2 * 6 and set(subjects["n_runs"]) == {4}


def test_a_missing_predictions_file_is_named(tmp_path):
    path = write(tmp_path, "net", None, 0, 0, 0.8)
    (tmp_path / "net" / "None" / "torch" / "fold0-seed0" / "predictions.npz").unlink()
    with pytest.raises(ValueError, match=r"fold0-seed0/predictions.npz: missing"):
        confidence(load_records([path]), 0.01)


def test_bootstrap_settings_are_checked():
    assert Bootstrap.from_config({"n_boot": 500}).kwargs() == {"n_boot": 500, "seed": 0, "level": 0.95}
    with pytest.raises(ValueError, match="report.bootstrap: unknown keys"):
        Bootstrap.from_config({"reps": 5})
    with pytest.raises(ValueError, match="n_boot >= 100"):
        Bootstrap.from_config({"n_boot": 10})
