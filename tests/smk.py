"""Helpers to run the real Snakemake workflow from tests, in a scratch working directory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
