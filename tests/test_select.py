"""Choosing deployable variants: Pareto fronts, smallest/fastest within the budget (seed means), flash fit,
fine-tune vs scratch and the sparsity evidence, on a small synthetic grid with answers worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from eegslim.metrics import metrics_record
from eegslim.report import select
from eegslim.report.collect import aggregate, load_records
from eegslim.stages import report

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
            path = root / ds / model / f"{method}-{ratio}-{recovery}" / variant / f"seed{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(rec))
            files.append(str(path))
    return files


@pytest.fixture
def grid(tmp_path):
    records = load_records(write_grid(tmp_path))
    agg = aggregate(records)
    return records, agg


def label(row):
    return (row["configuration"], row["variant"])


def test_pareto_front_by_hand():
    cost = pd.Series([1, 2, 3, 4, 2, np.nan, 5])
    score = pd.Series([0.5, 0.7, 0.6, 0.9, 0.7, 0.99, np.nan])
    # 2 is dominated by 1; 1 and 4 are identical (both kept); missing cost or score is never on the front
    assert select.pareto_front(cost, score).tolist() == [True, True, False, True, True, False, False]
    assert select.pareto_front(pd.Series([3.0]), pd.Series([0.1])).tolist() == [True]


def test_deployable_rows_budget_flash_and_fronts(grid):
    records, agg = grid
    rows = select.deployable(records, agg, budget=0.01, flash_mbit=650 * 8 / select.MBIT)  # 650 bytes of flash
    rows = {label(r): r for _, r in rows.iterrows()}
    assert all(v != "torch" for _, v in rows)  # only ONNX variants are deployable
    assert len(rows) == 7
    within = {k for k, r in rows.items() if r["within_budget"]}
    assert within == {("baseline", "fp32"), ("baseline", "int8_dynamic"), ("l1 0.5 finetune", "fp32"),
                      ("l1 0.5 finetune", "int8_static"), ("mag 0.5 finetune", "fp32")}
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


def test_smallest_and_fastest_within_budget_use_seed_means(grid):
    records, agg = grid
    chosen = select.select(select.deployable(records, agg, 0.01, 128), agg).set_index("criterion")
    small, fast = chosen.loc["smallest"], chosen.loc["fastest"]
    # int8_dynamic at 0.5 is smaller (600 B) but its mean over seeds is 0.015 below the baseline
    assert label(small) == ("l1 0.5 finetune", "int8_static")
    assert small["file_reduction"] == pytest.approx(4000 / 700) and small["params_reduction"] == pytest.approx(2.0)
    assert small["gzip_reduction"] == pytest.approx(3600 / 550) and small["fits_flash"]
    assert label(fast) == ("l1 0.5 finetune", "fp32")  # 0.75 is faster but loses 0.11
    assert fast["latency_b1_speedup"] == pytest.approx(2.0) and fast["latency_b64_speedup"] == pytest.approx(2.0)
    assert small["baseline_balanced_accuracy"] == pytest.approx(0.81)
    # a looser budget admits the inaccurate but tiny and fast models; a zero budget only the baseline's accuracy
    loose = select.select(select.deployable(records, agg, 0.2, 128), agg).set_index("criterion")
    assert label(loose.loc["smallest"]) == ("l1 0.5 finetune", "int8_dynamic")
    assert label(loose.loc["fastest"]) == ("l1 0.75 finetune", "fp32")
    strict = select.select(select.deployable(records, agg, 0.0, 128), agg).set_index("criterion")
    assert label(strict.loc["smallest"]) == ("mag 0.5 finetune", "fp32")  # same dense file; gzip breaks the tie
    assert label(strict.loc["fastest"]) == ("baseline", "fp32")


def test_finetune_vs_scratch_and_sparsity_evidence(grid):
    records, agg = grid
    fvs = select.finetune_vs_scratch(agg)
    assert len(fvs) == 1  # 0.75 has no scratch run
    row = fvs.iloc[0]
    assert (row["method"], row["ratio"], row["finetune_n"], row["scratch_n"]) == ("l1", 0.5, 2, 2)
    assert row["finetune_minus_scratch"] == pytest.approx(0.08)
    assert row["scratch_std"] == pytest.approx(np.std([0.70, 0.74], ddof=1))
    evidence = select.sparsity_evidence(select.deployable(records, agg, 0.01, 128))
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
    assert page.count("data:image/png;base64,") == 4  # ratio, size, Pareto, fine-tune vs scratch
    assert "<td class=t>smallest</td><td class=t>l1 0.5 finetune</td><td class=t>int8_static</td>" in page
    assert "5.71×" in page and "fits 0.0045 Mbit" in page  # 4000 / 700; the column names the flash size
    selection = pd.read_csv(tmp_path / "t" / "selection.csv")
    assert selection[["criterion", "configuration", "variant"]].values.tolist() == [
        ["smallest", "l1 0.5 finetune", "int8_static"], ["fastest", "l1 0.5 finetune", "fp32"]]
    assert selection["fits_flash"].tolist() == [False, False]  # 700 B > 0.0045 Mbit = 589.8 B
    variants = pd.read_csv(tmp_path / "t" / "variants.csv")
    assert len(variants) == 7 and variants["fits_flash"].sum() == 0
    assert pd.read_csv(tmp_path / "t" / "finetune_vs_scratch.csv")["finetune_minus_scratch"].round(3).tolist() == [0.08]
    with pytest.raises(ValueError, match="report.flash_mbit"):
        report.run(files, {}, tmp_path / "x.html", tmp_path / "x", {"flash_mbit": 0})
