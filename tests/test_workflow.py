"""The Snakemake workflow without running jobs: lint, DAG shape, config validation, profiles, pins."""

from __future__ import annotations

import re
import subprocess
import tomllib
import types

import pytest
import yaml

from eegslim.config import config_errors
from eegslim.store import load_windows
from smk import REPO, SNAKEMAKE, planned_jobs, snakemake

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def default_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_lint_is_clean(tmp_path):
    proc = subprocess.run([str(SNAKEMAKE), "--lint"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dry_run_plans_the_whole_demo_dag(tmp_path):
    proc = snakemake(tmp_path, "-n", "results/report.html")
    from eegslim.catalog import models_where

    cfg = default_config()
    n_ds, models = len(cfg["datasets"]), cfg["models"]
    n_pruned = len(models_where(cfg["prune"]["models"] or models, pruned=True))
    n_pruned_ds = len(cfg["prune"]["datasets"] or cfg["datasets"])
    grid = len(cfg["prune"]["methods"]) * len(cfg["prune"]["ratios"]) * len(cfg["prune"]["recoveries"])
    assert "bandpower_lr" in models  # the classical reference: fitted by `classical`, never pruned or quantized
    assert planned_jobs(proc.stdout) == {
        "simulate": n_ds,
        "preprocess": n_ds,
        "split": n_ds,
        "pretrain": int("labram_pt" in models),
        "train": n_ds * len(models_where(models, rule="train")),
        "finetune": n_ds * len(models_where(models, rule="finetune")),
        "classical": n_ds * len(models_where(models, rule="classical")),
        "prune": n_pruned_ds * n_pruned * grid,
        "quantize": n_ds * len(models_where(models, exported=True)) + n_pruned_ds * n_pruned * grid,
        "sensitivity": n_pruned_ds * n_pruned,
        "report": 1,
    }
    assert "results/demo_rest/bandpower_lr/baseline/seed0/predictions.npz" in proc.stdout
    assert not re.search(r"bandpower_lr/(prune|baseline/seed0/onnx)|bandpower_lr/sensitivity", proc.stdout)


def test_full_grid_dry_run_plans_over_1000_jobs_and_skips_cells_that_do_not_apply(tmp_path):
    from eegslim.catalog import applies, models_where

    overlay = REPO / "configs/full_grid.yaml"
    proc = snakemake(tmp_path, "results/report.html", "-n", "-q", "rules", configs=(overlay,))
    cfg = default_config()
    grid = yaml.safe_load(overlay.read_text())
    n_ds, seeds, prune = len(cfg["datasets"]), len(grid["seeds"]), grid["prune"]
    cells = sum(applies(method, model) for method in prune["methods"] for model in cfg["models"])
    n_pruned = n_ds * cells * len(prune["ratios"]) * len(prune["recoveries"]) * seeds
    jobs = planned_jobs(proc.stdout)
    assert jobs["prune"] == n_pruned
    assert jobs["quantize"] == n_pruned + n_ds * len(models_where(cfg["models"], exported=True)) * seeds
    assert sum(jobs.values()) > 1000
    assert "depth x eegnet" in proc.stderr and "bn_slimming x labram" in proc.stderr


@pytest.mark.parametrize("profile", ["local", "slurm", "slurm-generic"])
def test_profiles_dry_run(tmp_path, profile):
    proc = subprocess.run(
        [str(SNAKEMAKE), "--profile", str(REPO / "profiles" / profile), "-s", str(REPO / "Snakefile"),
         "-d", str(tmp_path), "--configfile", str(REPO / "config.yaml"), "-n", "results/report.html"],
        capture_output=True, text=True, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert planned_jobs(proc.stdout)["report"] == 1


def test_default_config_is_valid():
    assert config_errors(default_config(), SCHEMA) == []


def test_schema_defaults_give_the_measured_transformer_recipe_and_keep_train_plain():
    """Snakemake's validate (set_default) fills a missing `finetune` block with the transformer recipe that
    configs/eegmat.yaml runs on real data (BENCHMARKS.md's ablation); `train` (EEGNet) stays plain."""
    from snakemake.utils import validate

    measured = yaml.safe_load((REPO / "configs" / "eegmat.yaml").read_text())
    cfg = default_config()
    cfg.pop("finetune")
    cfg.pop("pretrain")
    cfg["train"] = {"epochs": 3}
    validate(cfg, schema=str(SCHEMA))
    assert {k: cfg["finetune"][k] for k in measured["finetune"]} == measured["finetune"]
    assert cfg["finetune"]["layer_decay_from_scratch"] is False and cfg["finetune"]["augment"]["time_shift"] > 0
    assert {k: cfg["pretrain"][k] for k in ("epochs", "lr", "target")} == \
        {k: measured["pretrain"][k] for k in ("epochs", "lr", "target")}
    assert cfg["train"]["epochs"] == 3 and cfg["train"]["layer_decay"] is None and "augment" not in cfg["train"]
    assert cfg["train"]["label_smoothing"] == 0.0 and cfg["train"]["weight_decay"] == 0.01


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda c: c["prune"].update(ratioz=[0.5]), "prune.ratioz"),
        (lambda c: c["prune"].update(ratios=[0.5, 1.5]), "prune.ratios[1]"),
        (lambda c: c["prune"].update(ratios=[0.0]), "prune.ratios[0]"),
        (lambda c: c["prune"].update(methods=["magnitude_globl"]), "prune.methods[0]"),
        (lambda c: c["train"].update(epochs="ten"), "train.epochs"),
        (lambda c: c["datasets"].update({"my data": c["datasets"]["demo_rest"]}), "datasets.my data"),
        (lambda c: c["datasets"]["demo_rest"].update(sfreq=-1), "datasets.demo_rest.sfreq"),
        (lambda c: c["datasets"]["demo_sleep"].update(adapter="edf_folder"), "datasets.demo_sleep.adapter"),
        (lambda c: c.update(modles=["eegnet"]), "modles"),
        (lambda c: c["split"].update(protocol="subjects", train=[0], val=["1"], test=["2"]), "split.train[0]"),
        (lambda c: c["split"].update(protocol="subjects", train=["0"], val=["1", "1"], test=["2"]), "split.val"),
        (lambda c: c["train"].update(select="best"), "train.select"),
        (lambda c: c["prune"].update(select=None), "prune.select"),
    ],
)
def test_config_errors_name_the_key(edit, key):
    cfg = default_config()
    edit(cfg)
    problems = config_errors(cfg, SCHEMA)
    assert problems, "the broken config was accepted"
    assert any(f"config key '{key}'" in p for p in problems), problems


def test_workflow_refuses_a_bad_config_before_running(tmp_path):
    overlay = tmp_path / "bad.yaml"
    overlay.write_text("prune:\n  ratios: [0.5, 2]\n")
    proc = snakemake(tmp_path, "-n", "results/report.html", configs=(overlay,), check=False)
    assert proc.returncode != 0
    assert "config key 'prune.ratios[1]'" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_prune_models_picks_the_pruned_models_and_notes_unconfigured_ones(tmp_path):
    overlay = tmp_path / "eegnet.yaml"
    overlay.write_text("prune:\n  models: [eegnet]\n")
    jobs = planned_jobs(snakemake(tmp_path, "-n", "results/report.html", configs=(overlay,)).stdout)
    cfg = default_config()
    grid = len(cfg["prune"]["methods"]) * len(cfg["prune"]["ratios"]) * len(cfg["prune"]["recoveries"])
    n_ds, n_pruned_ds = len(cfg["datasets"]), len(cfg["prune"]["datasets"] or cfg["datasets"])
    assert (jobs["prune"], jobs["sensitivity"]) == (n_pruned_ds * grid, n_pruned_ds)
    from eegslim.catalog import models_where

    # every exported baseline is still quantized (not bandpower_lr, which is never exported)
    assert jobs["quantize"] == n_ds * len(models_where(cfg["models"], exported=True)) + n_pruned_ds * grid
    overlay.write_text("models: [eegnet, labram]\nprune:\n  models: [eegnet, labram_pt]\n")
    proc = snakemake(tmp_path, "-n", "results/report.html", configs=(overlay,))
    assert "note: prune.models lists labram_pt, not in `models`: nothing to prune there" in proc.stderr
    assert planned_jobs(proc.stdout)["prune"] == n_pruned_ds * grid  # EEGNet only
    overlay.write_text("prune:\n  models: [eegnet, bandpower_lr]\n")
    proc = snakemake(tmp_path, "-n", "results/report.html", configs=(overlay,), check=False)
    assert proc.returncode != 0
    assert "config key 'prune.models[1]': bandpower_lr is not prunable" in proc.stdout + proc.stderr


def test_prune_datasets_limits_pruning_and_sensitivity_to_them(tmp_path):
    overlay = tmp_path / "one.yaml"
    overlay.write_text("prune:\n  datasets: null\n")  # all of them
    full = planned_jobs(snakemake(tmp_path, "-n", "results/report.html", configs=(overlay,)).stdout)
    n_ds = len(default_config()["datasets"])
    overlay.write_text("prune:\n  datasets: [demo_rest]\n")
    jobs = planned_jobs(snakemake(tmp_path, "-n", "results/report.html", configs=(overlay,)).stdout)
    per_dataset = full["prune"] // n_ds
    assert (jobs["prune"], jobs["sensitivity"]) == (per_dataset, full["sensitivity"] // n_ds)
    assert (jobs["train"], jobs["quantize"]) == (full["train"], full["quantize"] - (n_ds - 1) * per_dataset)
    overlay.write_text("prune:\n  datasets: [demo_rest, nope]\n")
    proc = snakemake(tmp_path, "-n", "results/report.html", configs=(overlay,))
    assert "note: prune.datasets lists nope, not in `datasets`: nothing to prune there" in proc.stderr
    assert planned_jobs(proc.stdout)["prune"] == per_dataset


def test_missing_raw_folder_names_key_and_path(tmp_path):
    overlay = tmp_path / "real.yaml"
    overlay.write_text(
        "datasets:\n  mydata:\n    adapter: bids\n    root: /nonexistent/eeg\n    sfreq: 200\n    window_s: 4\n"
    )
    proc = snakemake(tmp_path, "-n", "results/report.html", configs=(overlay,), check=False)
    assert proc.returncode != 0
    assert "datasets.mydata.root" in proc.stdout + proc.stderr and "/nonexistent/eeg" in proc.stdout + proc.stderr


def test_transformer_patching_is_checked_at_start(tmp_path):
    overlay = tmp_path / "patch.yaml"
    overlay.write_text("datasets:\n  demo_rest:\n    window_s: 17\n")
    proc = snakemake(tmp_path, "-n", "results/report.html", configs=(overlay,), check=False)
    assert proc.returncode != 0
    assert "datasets.demo_rest.window_s" in proc.stdout + proc.stderr


def test_conda_env_mirrors_the_pins():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((REPO / "envs/eegslim.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == deps
    assert "torch==2.13.0" in deps
    assert all(re.fullmatch(r"[A-Za-z0-9_.\[\]-]+==[0-9][\w.]*", d) for d in deps), "every dependency pinned"


def test_every_rule_has_log_benchmark_threads_resources():
    for smk_file in (REPO / "workflow/rules").glob("*.smk"):
        text = smk_file.read_text()
        for rule_body in re.split(r"^rule ", text, flags=re.M)[1:]:
            name = rule_body.split(":", 1)[0]
            for directive in ("log:", "benchmark:", "threads:", "resources:", "mem_mb=", "runtime="):
                assert directive in rule_body, f"rule {name} in {smk_file.name} lacks {directive}"


TRAINING_RULES = {"train", "finetune", "pretrain", "prune"}


def test_training_rules_and_only_they_request_a_gpu():
    gpu_rules = set()
    for smk_file in (REPO / "workflow/rules").glob("*.smk"):
        for rule_body in re.split(r"^rule ", smk_file.read_text(), flags=re.M)[1:]:
            if re.search(r"^\s+gpu=", rule_body, flags=re.M):
                gpu_rules.add(rule_body.split(":", 1)[0])
    assert gpu_rules == TRAINING_RULES


@pytest.mark.parametrize("gpu, flag", [(0, None), (1, "--gpus=1")])
def test_generic_profile_passes_gpus_only_when_asked(tmp_path, gpu, flag):
    """The sbatch line of profiles/slurm-generic, run by a shell with a fake sbatch that echoes its arguments."""
    cmd = yaml.safe_load((REPO / "profiles/slurm-generic/config.yaml").read_text())["cluster-generic-submit-cmd"]
    resources = types.SimpleNamespace(gpu=gpu, mem_mb=1000, runtime=10)
    (tmp_path / "sbatch").write_text('#!/bin/sh\necho "$@"\n')
    (tmp_path / "sbatch").chmod(0o755)
    proc = subprocess.run(cmd.format(rule="train", threads=1, resources=resources) + " job.sh", shell=True,
                          capture_output=True, text=True, cwd=tmp_path,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    args = proc.stdout.split()
    assert [a for a in args if a.startswith("--gpus")] == ([flag] if flag else [])
    assert args[-1] == "job.sh"


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        ("split:\n  train: ['a']\n", "config key 'split.train': only for protocol subjects (split.protocol is 'subject')"),
        ("split:\n  protocol: subjects\n", "config key 'split.protocol': protocol subjects needs the subject lists "
         "split.train, split.val and split.test"),
        ("split:\n  protocol: subjects\n  train: ['a']\n  val: ['b']\n", "has no split.test"),
        ("datasets:\n  demo_rest:\n    split: {protocol: kfold, description: x}\n",
         "config key 'datasets.demo_rest.split.description': only for protocol subjects (protocol of dataset "
         "'demo_rest' is 'kfold')"),
    ],
)
def test_subject_lists_belong_to_protocol_subjects(tmp_path, overlay, message):
    (tmp_path / "split.yaml").write_text(overlay)
    proc = snakemake(tmp_path, "-n", "results/report.html", configs=(tmp_path / "split.yaml",), check=False)
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr


def test_segment_kfold_is_a_kfold_for_the_dag(tmp_path):
    """A dataset under the leaky segment_kfold gets one split file and one run per fold (here folds 0 and 2 of 3),
    the other datasets keep their one subject-wise split."""
    (tmp_path / "split.yaml").write_text(
        "datasets:\n  demo_rest:\n    split: {protocol: segment_kfold, n_folds: 3, folds: [0, 2]}\n")
    proc = snakemake(tmp_path, "-n", "results/report.html", configs=(tmp_path / "split.yaml",))
    jobs = planned_jobs(proc.stdout)
    n_datasets = len(yaml.safe_load((REPO / "config.yaml").read_text())["datasets"])
    assert jobs["split_fold"] == 2 and jobs["split"] == n_datasets - 1
    for fold in (0, 2):
        assert f"results/demo_rest/splits/fold{fold}.json" in proc.stdout
        assert f"results/demo_rest/eegnet/baseline/fold{fold}-seed0/metrics.json" in proc.stdout
    assert "results/demo_rest/splits/fold1.json" not in proc.stdout


def test_scaled_cbramod_protocol_on_real_eegmat(shared_data, tmp_path):
    """configs/eegmat_scaled.yaml splits the real EEGMAT windows into exactly its subject lists, with its 20
    channels and 5 s windows (a real preprocess + split run)."""
    cfg = yaml.safe_load((REPO / "configs/eegmat_scaled.yaml").read_text())
    cfg["datasets"]["eegmat"]["root"] = str(shared_data / "eegmat")
    cfg["models"] = ["eegnet"]
    (tmp_path / "eegmat.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(tmp_path, "results/eegmat/splits.json", configs=(tmp_path / "eegmat.yaml",))
    split = yaml.safe_load((tmp_path / "results/eegmat/splits.json").read_text())   # JSON is YAML
    ids = [f"{i:02d}" for i in range(24)]
    assert split["subjects"] == {"train": ids[:18], "val": ids[18:20], "test": ids[20:]}
    assert split["protocol"] == "subjects" and split["protocol_description"] == cfg["split"]["description"]
    assert split["excluded_windows"] == 0 and not split["leaks_subjects"]
    windows = load_windows(tmp_path / "results/eegmat/windows.h5", rows=[0])
    assert windows.ch_names[-1] == "A2-A1" and windows.X.shape == (1, 20, 1000)      # 5 s at 200 Hz
