"""benchmarks/compression_summary.py on the report tables of a synthetic grid, with a fake side-by-side timer."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from eegslim.stages import report
from smk import REPO
from test_report import write_grid

spec = importlib.util.spec_from_file_location("compression_summary", REPO / "benchmarks/compression_summary.py")
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)

FAST = "magnitude_global 0.3 finetune (fp32)"  # the fake timer's fastest, not the pipeline's (int8 is faster there)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """The report's tables of one dataset (EEGNet and LaBraM, 2 methods × 3 ratios, torch/fp32/int8)."""
    root = tmp_path_factory.mktemp("run") / "results"
    report.run(write_grid(root, "sleep_edf"), {}, root / "report.html", root / "tables", {"accuracy_budget": 0.01})
    return summary.read_tables(root)


class FakeTimer:
    """Records what it was asked to time; every model takes 10 ms except FAST (1 ms)."""

    def __init__(self):
        self.calls = []

    def __call__(self, base: Path, chosen: dict[str, Path]) -> dict[str, dict[int, float]]:
        self.calls.append((base, set(chosen)))
        ms = {name: 1.0 if name == FAST else 10.0 for name in chosen}
        return {"base": {1: 10.0, 64: 10.0}, **{n: {1: v, 64: v} for n, v in ms.items()}}


def rows(lines: list[str]) -> list[list[str]]:
    """The cells of each Markdown data row."""
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:] if line.startswith("|")]


def test_every_within_budget_variant_is_retimed_and_the_fastest_comes_from_the_retimings(tables):
    variants = tables["variants"]
    paths = summary.onnx_paths(tables["results"], Path("/unused"))
    timer = FakeTimer()
    table = rows(summary.chosen_table(variants, tables["selection"], paths, timer))
    for model in ("eegnet", "labram"):
        mine = variants[(variants["model"] == model) & variants["within_budget"]]
        expected = {f"{r['configuration']} ({r['variant']})" for _, r in mine.iterrows()}
        assert (paths[("sleep_edf", model, "baseline", "fp32")], expected) in timer.calls
    by = {(r[1], r[2]): r for r in table}
    assert by[("eegnet", "fastest")][3] == FAST and by[("eegnet", "fastest")][10] == "10.00×"
    assert by[("eegnet", "fastest")][4] != FAST  # selection.csv chose by the pipeline's timings
    assert by[("eegnet", "smallest")][3] == by[("eegnet", "smallest")][4]  # size does not depend on timing


def test_both_transformers_are_judged_against_the_targets(tables):
    variants = tables["variants"]
    pt = variants[variants["model"] == "labram"].assign(model="labram_pt")
    both = pd.concat([variants, pt], ignore_index=True)
    paths = summary.onnx_paths(tables["results"], Path("/unused"))
    paths |= {(d, "labram_pt", c, v): p for (d, m, c, v), p in paths.items() if m == "labram"}
    verdicts = {(r[1], r[2]): r[-1] for r in rows(summary.chosen_table(both, tables["selection"], paths, FakeTimer()))}
    assert verdicts[("eegnet", "smallest")] == "—"
    for model in ("labram", "labram_pt"):
        assert verdicts[(model, "smallest")] == verdicts[("labram", "smallest")] != "—"


def test_a_baseline_without_fp32_is_a_clear_error(tables):
    variants = tables["variants"]
    no_fp32 = variants[~((variants["configuration"] == "baseline") & (variants["variant"] == "fp32"))]
    with pytest.raises(SystemExit, match="sleep_edf/eegnet: the baseline has no fp32 ONNX variant"):
        summary.best_table(no_fp32)
    with pytest.raises(SystemExit, match="sleep_edf/eegnet: the baseline has no fp32 ONNX variant in results.csv"):
        summary.baseline_fp32({}, "sleep_edf", "eegnet")


def test_metrics_files_resolve_against_the_workdir(tmp_path):
    results = pd.DataFrame({"stage": ["quantize"] * 2, "seed": [0, 0], "dataset": ["ds", "ds"],
                            "model": ["eegnet"] * 2, "method": [None, None], "ratio": [None, None],
                            "recovery": [None, None], "variant": ["fp32", "int8_dynamic"],
                            "metrics_file": ["results/ds/eegnet/baseline/fp32/metrics.json",
                                             "/abs/int8/metrics.json"]})
    paths = summary.onnx_paths(results, tmp_path)
    assert paths[("ds", "eegnet", "baseline", "fp32")] == tmp_path / "results/ds/eegnet/baseline/fp32/model.onnx"
    assert paths[("ds", "eegnet", "baseline", "int8_dynamic")] == Path("/abs/int8/model.onnx")


def test_missing_table_names_the_file(tmp_path):
    with pytest.raises(SystemExit, match=r"variants\.csv: not found; run the report rule"):
        summary.read_tables(tmp_path)


def test_finetune_vs_scratch_mean_std_and_count(tmp_path):
    path = tmp_path / "finetune_vs_scratch.csv"
    pd.DataFrame({"dataset": ["ds"] * 3, "model": ["eegnet"] * 3, "method": ["l1_filter"] * 3,
                  "ratio": [0.5, 0.25, 0.75], "finetune_mean": [0.80, 0.82, 0.70], "finetune_std": [0.01, 0.02, None],
                  "finetune_n": [3, 3, 1], "scratch_mean": [0.80, 0.78, 0.74], "scratch_std": [0.03, 0.01, None],
                  "scratch_n": [3, 3, 1]}).to_csv(path, index=False)
    lines = summary.finetune_scratch_table(pd.read_csv(path))
    assert rows(lines)[0] == ["ds", "eegnet", "l1_filter", "0.25", "0.820 ± 0.020 (n=3)", "0.780 ± 0.010 (n=3)",
                              "+0.040"]
    assert rows(lines)[2][4:] == ["0.700 (n=1)", "0.740 (n=1)", "-0.040"]
    assert lines[-1] == "Scratch ≥ fine-tune in 2 of 3 cells."
    assert "No pruning ratio" in summary.finetune_scratch_table(pd.read_csv(path).iloc[:0])[0]
