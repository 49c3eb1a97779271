"""What reruns after each change a user makes, planned with `snakemake -n` on a completed small run.

The run (tests/mini.py, fixture `mini_run`): demo_sleep, EEGNet, seeds 0 and 1, one pruned configuration:
simulate, preprocess, split, 2 train, 2 prune, 4 quantize, report. Snakemake 9's rerun triggers: params (each
stage's settings are its own flat params), input (files updated upstream), mtime, and code: for a `script:`
rule only the script file's time counts; the eegslim package is not tracked (see the last tests).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

import pytest
import yaml

from eegslim.catalog import VARIANTS
from mini import mini_config, run
from smk import REPO, planned_jobs

pytestmark = pytest.mark.e2e

TARGET = "results/report.html"
ALL = {"simulate": 1, "preprocess": 1, "split": 1, "train": 2, "prune": 2, "quantize": 4, "report": 1}
FROM_SPLIT = {"split": 1, "train": 2, "prune": 2, "quantize": 4, "report": 1}
FROM_TRAIN = {"train": 2, "prune": 2, "quantize": 4, "report": 1}


def plan(workdir: Path, *extra: str, overlay: dict | None = None, tmp_path: Path | None = None) -> str:
    """The dry-run output (stdout) of the report target, with an optional overlay config."""
    configs = ()
    if overlay is not None:
        path = tmp_path / "overlay.yaml"
        path.write_text(yaml.safe_dump(overlay))
        configs = (path,)
    return run(workdir, "-n", TARGET, *extra, configs=configs).stdout


def planned_datasets(output: str) -> set[str]:
    return set(re.findall(r"wildcards: .*?\bds=([\w-]+)", output))


@contextlib.contextmanager
def edited(path: Path):
    """Append a comment to `path` (its time becomes now, after every output); restore text and times after."""
    text, stat = path.read_text(), path.stat()
    try:
        path.write_text(text + "# edited by a test\n")
        later = time.time() + 5
        os.utime(path, (later, later))
        yield path
    finally:
        path.write_text(text)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_nothing_changed_plans_nothing(mini_run):
    assert planned_jobs(plan(mini_run)) == {}


@pytest.mark.parametrize(
    ("stage", "overlay", "expected"),
    [
        ("simulate", {"datasets": {"demo_sleep": {"simulate": {"seed": 7}}}}, ALL),
        ("preprocess", {"datasets": {"demo_sleep": {"h_freq": 30.0}}}, {"preprocess": 1, **FROM_SPLIT}),
        ("split", {"split": {"seed": 1}}, FROM_SPLIT),
        ("train", {"train": {"lr": 0.002}}, FROM_TRAIN),
        ("model", {"eegnet": {"dropout": 0.5}}, FROM_TRAIN),
        ("prune", {"prune": {"epochs": 2}}, {"prune": 2, "quantize": 2, "report": 1}),
        ("quantize", {"quantize": {"latency_repeats": 4}}, {"quantize": 4, "report": 1}),
        ("report", {"report": {"accuracy_budget": 0.02}}, {"report": 1}),
    ],
)
def test_a_stage_setting_reruns_that_stage_and_what_follows(mini_run, tmp_path, stage, overlay, expected):
    out = plan(mini_run, overlay=overlay, tmp_path=tmp_path)
    assert planned_jobs(out) == expected, out[-3000:]
    first = next(rule for rule in ALL if rule in expected)
    assert re.search(rf"rule {first}:(?:(?!\nrule ).)*?reason: Params have changed", out, flags=re.S), out[-3000:]


def test_a_new_dataset_plans_only_its_jobs(mini_run, tmp_path):
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    demo_rest = cfg["datasets"]["demo_rest"]
    demo_rest["simulate"]["params"] = {"duration_s": 60}
    out = plan(mini_run, overlay={"datasets": {"demo_rest": demo_rest}}, tmp_path=tmp_path)
    assert planned_jobs(out) == ALL
    assert planned_datasets(out) == {"demo_rest"}


def test_a_new_ratio_plans_only_its_jobs(mini_run, tmp_path):
    out = plan(mini_run, overlay={"prune": {"ratios": [0.5, 0.25]}}, tmp_path=tmp_path)
    assert planned_jobs(out) == {"prune": 2, "quantize": 2, "report": 1}
    assert set(re.findall(r"ratio=([0-9.]+)", out)) == {"0.25"}


def test_a_new_variant_reruns_each_quantize_job_and_never_training(mini_run, tmp_path):
    """One quantize job per trained model writes every variant, so a new variant reruns those jobs only."""
    variants = mini_config()["quantize"]["variants"]
    new = next(v for v in VARIANTS if v not in variants)
    out = plan(mini_run, overlay={"quantize": {"variants": [*variants, new]}}, tmp_path=tmp_path)
    assert planned_jobs(out) == {"quantize": 4, "report": 1}
    assert f"onnx/{new}/model.onnx" in out


def test_distillation_settings_rerun_only_the_distill_recovery(mini_run, tmp_path):
    """Adding the distill recovery, with its own settings, plans its jobs and leaves the fine-tuned ones alone."""
    overlay = {"prune": {"recoveries": ["finetune", "distill"], "distill": {"alpha": 0.9, "temperature": 3.0}}}
    out = plan(mini_run, overlay=overlay, tmp_path=tmp_path)
    assert planned_jobs(out) == {"prune": 2, "quantize": 2, "report": 1}
    assert set(re.findall(r"recovery=(\w+)", out)) == {"distill"}


def test_a_new_seed_plans_only_its_jobs(mini_run, tmp_path):
    out = plan(mini_run, overlay={"seeds": [*mini_config()["seeds"], 2]}, tmp_path=tmp_path)
    assert planned_jobs(out) == {"train": 1, "prune": 1, "quantize": 2, "report": 1}
    assert set(re.findall(r"run=seed(\d+)", out)) == {"2"}


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("preprocess.py", {"preprocess": 1, **FROM_SPLIT}),
        ("train.py", FROM_TRAIN),
        ("quantize.py", {"quantize": 4, "report": 1}),
        ("report.py", {"report": 1}),
    ],
)
def test_an_edited_script_reruns_its_rule_and_what_follows(mini_run, script, expected):
    with edited(mini_run / "scripts" / script):
        out = plan(mini_run)
    assert planned_jobs(out) == expected, out[-3000:]
    assert "Code has changed since last execution" in out
    assert planned_jobs(plan(mini_run)) == {}  # the restored time is older than the outputs again


def test_an_edited_eegslim_module_is_not_tracked_use_forcerun(mini_run):
    """Snakemake's code trigger sees the `script:` file only: a library edit plans nothing; `-R rule` reruns it."""
    with edited(mini_run / "eegslim" / "stages" / "quantize.py"):
        assert planned_jobs(plan(mini_run)) == {}
        assert planned_jobs(plan(mini_run, "-R", "quantize")) == {"quantize": 4, "report": 1}


def test_touch_accepts_an_edit_without_rerunning(mini_run):
    with edited(mini_run / "scripts" / "report.py") as script:
        assert planned_jobs(plan(mini_run)) == {"report": 1}
        time.sleep(max(0.0, script.stat().st_mtime - time.time() + 1))  # touched outputs must be newer than the edit
        run(mini_run, "--touch", TARGET)
        assert planned_jobs(plan(mini_run)) == {}
    assert planned_jobs(plan(mini_run)) == {}


def test_rerun_triggers_mtime_ignores_setting_changes(mini_run, tmp_path):
    out = plan(mini_run, "--rerun-triggers", "mtime", overlay={"prune": {"epochs": 2}}, tmp_path=tmp_path)
    assert planned_jobs(out) == {}


def test_a_deleted_intermediate_stays_put_until_forced(mini_run):
    """Snakemake 9 does not rerun for a missing intermediate when the final target is up to date."""
    split = mini_run / "results/demo_sleep/splits.json"
    saved, stat = split.read_bytes(), split.stat()
    split.unlink()
    try:
        assert planned_jobs(plan(mini_run)) == {}
        assert planned_jobs(plan(mini_run, "-R", "split")) == FROM_SPLIT
    finally:
        split.write_bytes(saved)
        os.utime(split, ns=(stat.st_atime_ns, stat.st_mtime_ns))
