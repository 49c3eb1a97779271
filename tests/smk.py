"""Helpers to run the real Snakemake workflow from tests, in a scratch working directory."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def snakemake(workdir: Path, *args: str, configs: tuple[Path, ...] = (), check: bool = True, timeout: int = 1800):
    """Run snakemake on the repository's Snakefile in `workdir`; return the CompletedProcess."""
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "2", *args]
    cmd += ["--configfile", str(REPO / "config.yaml"), *map(str, configs)]  # last: it swallows what follows
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def planned_jobs(output: str) -> dict[str, int]:
    """Job counts per rule from the 'Job stats' table of a dry run ({} when nothing is to be done)."""
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:", 1)[1]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)\s*$", table, flags=re.M))
    counts.pop("total", None)
    return {rule: int(n) for rule, n in counts.items()}


def deep_merge(base: dict, overlay: dict) -> dict:
    """`base` updated recursively with `overlay` (a new dict; neither is modified)."""
    out = dict(base)
    for key, value in overlay.items():
        nested = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = deep_merge(base[key], value) if nested else value
    return out


def write_config(overlay: Path, dest: Path) -> Path:
    """config.yaml with an overlay whose `datasets` select (and adjust) datasets; written to `dest`.

    Pass the result as the only --configfile: Snakemake merges config files, so an overlay alone
    cannot drop datasets.
    """
    base = yaml.safe_load((REPO / "config.yaml").read_text())
    extra = yaml.safe_load(overlay.read_text())
    datasets = {ds: deep_merge(base["datasets"][ds], cfg or {}) for ds, cfg in extra.pop("datasets").items()}
    dest.write_text(yaml.safe_dump({**deep_merge(base, extra), "datasets": datasets}, sort_keys=False))
    return dest


def run_profile(workdir: Path, profile: str, config: Path, env: dict, timeout: int = 900) -> tuple[int, float]:
    """Run the DAG in `workdir` through profiles/`profile`; return (exit code, wall seconds).

    Snakemake's output goes to `workdir`/snakemake.out. Past `timeout` it gets SIGINT (which makes
    the SLURM executor cancel its jobs), then SIGKILL 60 s later.
    """
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--profile",
           str(REPO / "profiles" / profile), "results/report.html", "--configfile", str(config)]
    start = time.perf_counter()
    with open(workdir / "snakemake.out", "w") as out:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return proc.returncode, time.perf_counter() - start
