"""A copy of the workflow with its own small config.yaml, for tests that edit files or kill runs.

`mini_workdir` copies Snakefile, workflow/, scripts/, envs/ and the eegslim package (file times kept) and writes
a config.yaml: config.yaml's demo_sleep only, EEGNet only, one pruned configuration, two seeds, two ONNX variants.
Jobs: simulate, preprocess, split, 2 train, 2 prune, 4 quantize, report (12 in all).
The copy's eegslim/ comes first on PYTHONPATH (see `env`), so editing it there is what the jobs would run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from smk import REPO, SNAKEMAKE

COPIED = ("Snakefile", "workflow", "scripts", "envs", "eegslim")
SEEDS = [0, 1]


def mini_config() -> dict:
    """config.yaml reduced to demo_sleep (5 subjects, 60 scored epochs each), EEGNet, one pruned model per seed."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    sleep = cfg["datasets"]["demo_sleep"]
    sleep["simulate"] = {"kind": "sleep_edf", "n_subjects": 5, "seed": 1, "params": {"n_epochs": 60}}
    cfg["datasets"] = {"demo_sleep": sleep}
    cfg["seeds"] = SEEDS
    cfg["models"] = ["eegnet"]
    cfg["pretrain"]["datasets"] = ["demo_sleep"]  # only configured datasets can be pooled (no pretraining runs)
    cfg["split"].update(val_fraction=0.2, test_fraction=0.2)
    cfg["train"].update(epochs=3, patience=3)
    cfg["prune"].update(methods=["l1_structured"], ratios=[0.5], recoveries=["finetune"], epochs=1)
    cfg["quantize"].update(variants=["fp32", "int8_dynamic"], latency_repeats=3, latency_b64=False)
    cfg["sensitivity"]["ratios"] = []  # no sensitivity jobs: the rerun tests count jobs per rule
    return cfg


def mini_workdir(path: Path, cfg: dict | None = None) -> Path:
    """A runnable copy of the workflow in `path` with config.yaml = `cfg` (default `mini_config()`)."""
    path.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in COPIED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, path / name, ignore=ignore)
        else:
            shutil.copy2(src, path / name)
    (path / "config.yaml").write_text(yaml.safe_dump(cfg or mini_config(), sort_keys=False))
    return path


def env(workdir: Path) -> dict[str, str]:
    """The environment for jobs of `workdir`: its eegslim copy first on PYTHONPATH."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(workdir), os.environ.get("PYTHONPATH")]))}


def command(*args: str, cores: int = 2) -> list[str]:
    """The snakemake command line run inside a mini workdir (its own Snakefile and config.yaml)."""
    return [str(SNAKEMAKE), "--cores", str(cores), *args]


def run(workdir: Path, *args: str, configs: tuple[Path, ...] = (), check: bool = True,
        timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run snakemake in `workdir` with optional overlay config files (given last: the flag swallows targets)."""
    cmd = command(*args) + (["--configfile", "config.yaml", *map(str, configs)] if configs else [])
    proc = subprocess.run(cmd, cwd=workdir, env=env(workdir), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc
