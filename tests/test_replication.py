"""benchmarks/replication.py on the report tables of a synthetic grid: per seed group, the report's paired Δs."""

from __future__ import annotations

import importlib.util
import sys

import pandas as pd
import pytest

from eegslim.stages import report
from smk import REPO
from test_report import write_grid

sys.path.insert(0, str(REPO / "benchmarks"))  # replication.py imports paired_models as its sibling
spec = importlib.util.spec_from_file_location("replication", REPO / "benchmarks/replication.py")
replication = importlib.util.module_from_spec(spec)
spec.loader.exec_module(replication)

EEGNET_TWO_SEEDS = ("l1_structured", 0.5, "finetune")  # write_grid's configuration with seeds 0 and 1


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished run's working directory (results/tables written by the report) and its variants table."""
    workdir = tmp_path_factory.mktemp("run")
    root = workdir / "results"
    report.run(write_grid(root, "sleep_edf"), {}, root / "report.html", root / "tables", {"accuracy_budget": 0.01})
    return workdir, pd.read_csv(root / "tables" / "variants.csv")


def table(workdir, capsys, monkeypatch, *groups) -> list[list[str]]:
    """The cells of each Markdown data row replication.py prints for eegnet and these seed groups."""
    monkeypatch.setattr(sys, "argv", ["replication.py", "--workdir", str(workdir), "--dataset", "sleep_edf",
                                      "--model", "eegnet", "--groups", *groups])
    replication.main()
    lines = capsys.readouterr().out.splitlines()
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:] if line.startswith("|")]


def test_all_seeds_give_the_reports_paired_delta_and_verdict(run, capsys, monkeypatch):
    workdir, variants = run
    rows = table(workdir, capsys, monkeypatch, "0,1")
    method, ratio, recovery = EEGNET_TWO_SEEDS
    for variant in ("fp32", "int8_dynamic"):
        mine = [r for r in rows if r[:4] == [method, f"{ratio:g}", recovery, variant]]
        assert len(mine) == 1 and mine[0][5] == "2"
        expected = variants[(variants["model"] == "eegnet") & (variants["method"] == method)
                            & (variants["ratio"] == ratio) & (variants["variant"] == variant)].iloc[0]
        delta = expected["delta_balanced_accuracy"]
        low, high = expected["delta_balanced_accuracy_low"], expected["delta_balanced_accuracy_high"]
        assert mine[0][7] == f"{delta:+.3f} [{low:+.3f}, {high:+.3f}]"
        assert mine[0][9] == expected["verdict"]


def test_each_seed_group_counts_only_its_seeds(run, capsys, monkeypatch):
    workdir, _ = run
    rows = table(workdir, capsys, monkeypatch, "0", "1", "7")
    two_seeds = [r for r in rows if r[:3] == ["l1_structured", "0.5", "finetune"]]
    assert sorted((r[3], r[4], r[5]) for r in two_seeds) == [("fp32", "0", "1"), ("fp32", "1", "1"),
                                                             ("int8_dynamic", "0", "1"), ("int8_dynamic", "1", "1")]
    assert not [r for r in rows if r[4] == "7"]  # a group with no runs prints nothing
    one_seed = [r for r in rows if r[:2] == ["magnitude_global", "0.3"]]
    assert one_seed and {r[4] for r in one_seed} == {"0"}
