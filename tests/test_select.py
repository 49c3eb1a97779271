"""Choosing deployable variants: Pareto fronts, smallest/fastest within the budget (by the paired CI's verdict),
flash fit, fine-tune vs scratch and the sparsity evidence, on a small synthetic grid with answers worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from eegslim.metrics import metrics_record
from eegslim.report import select
from eegslim.report.collect import CONFIG_KEYS, aggregate, load_records
from eegslim.report.inference import CONFIDENCE_COLUMNS, with_confidence
from eegslim.stages import report
from eegslim.stats import Estimate, verdict
from fake_predictions import write_fake_predictions

# (method, ratio, recovery, variant) → (params, nonzero, file bytes, gzip bytes, latency b1 ms, bacc per seed)
GRID = {
    (None, None, None, "torch"): (1000, 1000, 100, 90, None, (0.80, 0.82)),  # tiny file: must not be a candidate
    (None, None, None, "fp32"): (1000, 1000, 4000, 3600, 1.0, (0.80, 0.82)),
    (None, None, None, "int8_dynamic"): (1000, 1000, 1200, 1000, 2.0, (0.80, 0.81)),
    ("l1", 0.5, "finetune", "torch"): (500, 500, 50, 45, None, (0.79, 0.81)),
    ("l1", 0.5, "finetune", "fp32"): (500, 500, 2000, 1800, 0.5, (0.79, 0.81)),       # Δ = −0.010: in
    ("l1", 0.5, "finetune", "int8_dynamic"): (500, 500, 600, 500, 0.8, (0.81, 0.78)),  # seed 0 in, mean −0.015 out
    ("l1", 0.5, "finetune", "int8_static"): (500, 500, 700, 550, 0.6, (0.80, 0.81)),   # Δ = −0.005: in
    ("l1", 0.5, "scratch", "torch"): (500, 500, 50, 45, None, (0.70, 0.74)),
    ("l1", 0.75, "finetune", "torch"): (250, 250, 25, 22, None, (0.70,)),
    ("l1", 0.75, "finetune", "fp32"): (250, 250, 1000, 900, 0.25, (0.70,)),            # fast, small, inaccurate
    ("mag", 0.5, "finetune", "fp32"): (1000, 500, 4000, 2000, 1.01, (0.81,)),          # unstructured
}
# Half-width of each variant's constructed paired-Δ CI around its Δ of the means; at budget 0.01 the verdicts are
# within (baseline int8_dynamic −0.005 ± 0.002, l1 0.5 int8_static −0.005 ± 0.003), inconclusive (l1 0.5 fp32
# −0.010 ± 0.004, mag 0.5 fp32 0.000 ± 0.02) and over (l1 0.5 int8_dynamic −0.015, l1 0.75 fp32 −0.11).
HALF_WIDTH = {(None, "fp32"): 0.0, (None, "int8_dynamic"): 0.002, ("l1", "int8_static"): 0.003,
              ("mag", "fp32"): 0.02}


def write_grid(root, ds="d", model="m"):
    files = []
    for (method, ratio, recovery, variant), (params, nnz, fbytes, gbytes, lat, baccs) in GRID.items():
        for seed, ba in enumerate(baccs):
            stage = "quantize" if variant != "torch" else "baseline" if method is None else "prune"
            rec = metrics_record(
                dataset=ds, model=model, stage=stage, method=method, ratio=ratio, recovery=recovery, variant=variant,
                seed=seed, params=params, nonzero_params=nnz, macs=params * 10, file_bytes=fbytes, gzip_bytes=gbytes,
                accuracy=ba, balanced_accuracy=ba, macro_f1=ba, cohen_kappa=ba - 0.5, n_test=100, latency_ms_b1=lat,
                latency_ms_b64=None if lat is None else 40 * lat, n_classes=2, chance_accuracy=0.5,
                chance_balanced_accuracy=0.5, split_protocol="subject")
            if variant != "torch":
                rec.update(latency_iqr_ms_b1=0.01, latency_iqr_ms_b64=0.2, agreement_fp32=1.0 if variant == "fp32"
                           else 0.9 + 0.05 * seed)
            path = root / ds / model / f"{method}-{ratio}-{recovery}" / variant / f"seed{seed}" / "metrics.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(rec))
            write_fake_predictions(path, ba, seed)
            files.append(str(path))
    return files


def constructed_confidence(agg, budget):
    """CONFIDENCE_COLUMNS with a paired-Δ CI of HALF_WIDTH (0.004 unless listed) around each Δ of the means."""
    rows = []
    for _, r in agg.iterrows():
        row = {k: r[k] for k in CONFIG_KEYS}
        row.update({c: np.nan for c in CONFIDENCE_COLUMNS}, above_chance=True)
        if r["stage"] != "baseline":
            half = HALF_WIDTH.get((r["method"] if isinstance(r["method"], str) else None, r["variant"]), 0.004)
            delta = r["delta_balanced_accuracy"]
            est = Estimate(delta, delta - half, delta + half, 1, 8, 100, 0.95)
            row.update(delta_balanced_accuracy=delta, delta_balanced_accuracy_low=est.low,
                       delta_balanced_accuracy_high=est.high, verdict=verdict(est, budget))
        rows.append(row)
    return pd.DataFrame(rows, columns=list(CONFIG_KEYS) + list(CONFIDENCE_COLUMNS))


@pytest.fixture
def grid(tmp_path):
    records = load_records(write_grid(tmp_path))
    agg = aggregate(records)
    return records, agg


def judged(records, agg, budget, flash_mbit=128):
    """(variants, selection) with the constructed CIs at `budget`."""
    agg = with_confidence(agg, constructed_confidence(agg, budget))
    variants = select.deployable(records, agg, flash_mbit)
    return variants, select.select(variants, agg)


def label(row):
    return (row["configuration"], row["variant"])


def test_pareto_front_by_hand():
    cost = pd.Series([1, 2, 3, 4, 2, np.nan, 5])
    score = pd.Series([0.5, 0.7, 0.6, 0.9, 0.7, 0.99, np.nan])
    # 2 is dominated by 1; 1 and 4 are identical (both kept); missing cost or score is never on the front
    assert select.pareto_front(cost, score).tolist() == [True, True, False, True, True, False, False]
    assert select.pareto_front(pd.Series([3.0]), pd.Series([0.1])).tolist() == [True]
    # within the accuracy budget a costlier row's higher score is noise: 7x slower for +0.005 is off the front
    latency, accuracy = pd.Series([1.0, 6.8]), pd.Series([0.700, 0.705])
    assert select.pareto_front(latency, accuracy).tolist() == [True, True]
    assert select.pareto_front(latency, accuracy, tolerance=0.01).tolist() == [True, False]
    assert select.pareto_front(latency, pd.Series([0.70, 0.75]), tolerance=0.01).tolist() == [True, True]


def test_deployable_rows_verdicts_flash_and_fronts(grid):
    records, agg = grid
    rows, _ = judged(records, agg, 0.01, flash_mbit=650 * 8 / select.MBIT)  # 650 bytes of flash
    rows = {label(r): r for _, r in rows.iterrows()}
    assert all(v != "torch" for _, v in rows)  # only ONNX variants are deployable
    assert len(rows) == 7
    verdicts = {k: r["verdict"] for k, r in rows.items()}
    assert verdicts == {("baseline", "fp32"): "within budget", ("baseline", "int8_dynamic"): "within budget",
                        ("l1 0.5 finetune", "int8_static"): "within budget",
                        ("l1 0.5 finetune", "fp32"): "inconclusive", ("mag 0.5 finetune", "fp32"): "inconclusive",
                        ("l1 0.5 finetune", "int8_dynamic"): "over budget", ("l1 0.75 finetune", "fp32"): "over budget"}
    assert {k for k, r in rows.items() if r["within_budget"]} == {k for k, v in verdicts.items() if v == "within budget"}
    assert {k for k, r in rows.items() if r["fits_flash"]} == {("l1 0.5 finetune", "int8_dynamic")}
    size = {k for k, r in rows.items() if r["pareto_size"]}
    # the unstructured model ties the baseline's fp32 (same dense file, same accuracy): both stay on the front
    assert size == {("l1 0.5 finetune", "int8_dynamic"), ("l1 0.5 finetune", "int8_static"), ("baseline", "fp32"),
                    ("mag 0.5 finetune", "fp32")}
    latency = {k for k, r in rows.items() if r["pareto_latency"]}
    assert latency == {("l1 0.75 finetune", "fp32"), ("l1 0.5 finetune", "fp32"), ("l1 0.5 finetune", "int8_static"),
                       ("baseline", "fp32")}
    dyn = rows[("l1 0.5 finetune", "int8_dynamic")]
    assert dyn["balanced_accuracy_mean"] == pytest.approx(0.795) and dyn["agreement_fp32_mean"] == pytest.approx(0.925)
    assert dyn["latency_iqr_ms_b1_mean"] == pytest.approx(0.01) and dyn["n_runs"] == 2


def test_smallest_and_fastest_are_within_budget_by_the_ci_never_inconclusive(grid):
    records, agg = grid
    variants, chosen = judged(records, agg, 0.01)
    chosen = chosen.set_index("criterion")
    small, fast = chosen.loc["smallest"], chosen.loc["fastest"]
    # int8_dynamic at 0.5 is smaller (600 B) but over budget; fp32 at 0.5 is faster (0.5 ms) but inconclusive
    assert label(small) == label(fast) == ("l1 0.5 finetune", "int8_static")
    assert small["file_reduction"] == pytest.approx(4000 / 700) and small["params_reduction"] == pytest.approx(2.0)
    assert small["gzip_reduction"] == pytest.approx(3600 / 550) and small["fits_flash"]
    assert fast["latency_b1_speedup"] == pytest.approx(1 / 0.6) and small["verdict"] == "within budget"
    assert small["delta_balanced_accuracy_low"] == pytest.approx(-0.008)
    assert small["baseline_balanced_accuracy"] == pytest.approx(0.81)
    # a looser budget admits the inaccurate but tiny and fast models
    _, loose = judged(records, agg, 0.2)
    loose = loose.set_index("criterion")
    assert label(loose.loc["smallest"]) == ("l1 0.5 finetune", "int8_dynamic")
    assert label(loose.loc["fastest"]) == ("l1 0.75 finetune", "fp32")
    # a zero budget: only the baseline's own fp32 export (the reference, never a candidate) has a CI at 0
    variants, strict = judged(records, agg, 0.0)
    assert strict.empty
    counts = select.budget_verdicts(variants).iloc[0]
    assert (counts["within budget"], counts["inconclusive"], counts["over budget"]) == (0, 1, 5)
    assert counts["best_inconclusive_low"] == pytest.approx(-0.02)  # mag 0.5 fp32: Δ 0 ± 0.02


def test_finetune_vs_scratch_and_sparsity_evidence(grid):
    records, agg = grid
    fvs = select.finetune_vs_scratch(agg)
    assert len(fvs) == 1  # 0.75 has no scratch run
    row = fvs.iloc[0]
    assert (row["method"], row["ratio"], row["finetune_n"], row["scratch_n"]) == ("l1", 0.5, 2, 2)
    assert row["finetune_minus_scratch"] == pytest.approx(0.08)
    assert row["scratch_std"] == pytest.approx(np.std([0.70, 0.74], ddof=1))
    evidence = select.sparsity_evidence(judged(records, agg, 0.01)[0])
    assert evidence[["configuration", "zero_fraction", "file_fraction"]].values.tolist() == \
        [["mag 0.5 finetune", 0.5, 1.0]]
    assert evidence["gzip_fraction"].iloc[0] == pytest.approx(2000 / 3600)


def test_report_has_selection_pareto_sparsity_and_finetune_scratch(tmp_path):
    files = write_grid(tmp_path)
    report.run(files, {}, tmp_path / "r.html", tmp_path / "t", {"accuracy_budget": 0.01, "flash_mbit": 0.0045})
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    for heading in ("Smallest and fastest within the accuracy budget", "Pareto fronts: accuracy vs size and vs "
                    "latency", "What unstructured sparsity buys", "Fine-tune vs scratch"):
        assert f"<h3>{heading}</h3>" in page
    assert "only the compressed (gzip) size shrinks" in page
    assert page.count("data:image/png;base64,") == 5  # subjects, ratio, size, Pareto, fine-tune vs scratch
    assert "<td class=t>smallest</td><td class=t>l1 0.5 finetune</td><td class=t>int8_static</td>" in page
    assert "5.71×" in page and "fits 0.0045 Mbit" in page  # 4000 / 700; the column names the flash size
    assert "cluster bootstrap over test subjects" in page and "-0.005 [-0.009, -0.002]" in page
    # the fake predictions' errors are nested (fake_predictions.py): the paired CIs are narrow, and the l1 0.5
    # fp32 (Δ −0.010 [−0.013, −0.006]) is faster but inconclusive, so it is never chosen
    selection = pd.read_csv(tmp_path / "t" / "selection.csv")
    assert selection[["criterion", "configuration", "variant", "verdict"]].values.tolist() == [
        ["smallest", "l1 0.5 finetune", "int8_static", "within budget"],
        ["fastest", "l1 0.5 finetune", "int8_static", "within budget"]]
    assert selection["fits_flash"].tolist() == [False, False]  # 700 B > 0.0045 Mbit = 589.8 B
    variants = pd.read_csv(tmp_path / "t" / "variants.csv").set_index(["configuration", "variant"])
    assert len(variants) == 7 and variants["fits_flash"].sum() == 0
    assert variants.loc[("l1 0.5 finetune", "fp32"), "verdict"] == "inconclusive"
    assert variants.loc[("l1 0.5 finetune", "fp32"), "delta_balanced_accuracy_low"] < -0.01
    assert variants.loc[("mag 0.5 finetune", "fp32"), "delta_balanced_accuracy"] == pytest.approx(0.01)  # paired
    assert pd.read_csv(tmp_path / "t" / "finetune_vs_scratch.csv")["finetune_minus_scratch"].round(3).tolist() == [0.08]
    with pytest.raises(ValueError, match="report.flash_mbit"):
        report.run(files, {}, tmp_path / "x.html", tmp_path / "x", {"flash_mbit": 0})
