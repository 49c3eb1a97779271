"""Every rule's log starts with its inputs and settings; long rules log their progress; `make demo` shows Snakemake's."""

from __future__ import annotations

import re
import subprocess

from smk import REPO

PROGRESS = {  # rule: a line that shows progress (files, epochs, batches are logged as they go)
    "simulate": r"simulate sleep_edf: \d+ files",
    "preprocess": r"\[1/\d+\] .*PSG\.edf",
    "split": r"split \(subject\) written",
    "train": r"epoch 1/\d+ .*val bacc",
    "prune": r"epoch 1/\d+ .*val bacc",
    "quantize": r"measuring latency",
    "report": r"\d+ records",
}


def test_every_log_starts_with_rule_inputs_outputs_settings_and_shows_progress(mini_run):
    logs = sorted(p for p in (mini_run / "logs").rglob("*.log") if "benchmarks" not in p.parts)
    seen = set()
    for path in logs:
        lines = path.read_text().splitlines()
        rule = re.search(r"INFO eegslim: rule (\w+), wildcards", lines[0]).group(1)
        assert [line.split("eegslim: ", 1)[1].split(":", 1)[0] for line in lines[1:4]] == ["inputs", "outputs",
                                                                                         "settings"], path
        assert re.search(PROGRESS[rule], "\n".join(lines[4:])), f"{path}: no progress line"
        seen.add(rule)
    assert seen == set(PROGRESS)


def test_make_demo_shows_snakemake_progress():
    recipe = subprocess.run(["make", "-n", "demo", "VENV=.venv-none"], cwd=REPO, capture_output=True, text=True).stdout
    demo = next(line for line in recipe.splitlines() if "snakemake" in line and "results/report.html" in line)
    assert not re.search(r"\s(--quiet|-q)(\s|$)", demo) and "--show-failed-logs" in demo
