"""Benchmark the SLURM profiles: the cut-down demo DAG on a private single-node cluster, beside a local run.

    .venv/bin/python benchmarks/slurm_run.py [--profiles local slurm slurm-generic] [--keep]

Starts the cluster of tests/slurm_cluster.py (root and Debian's slurmctld, slurmd, munge needed), runs
tests/configs/slurm.yaml's DAG once per profile in its own scratch working directory (`local` is the
reference: the same DAG, no SLURM), and prints a Markdown table for BENCHMARKS.md: SLURM jobs, their
states, wall time, the ratio to the local run, and the time the jobs spent queued and running.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from slurm_cluster import Cluster, missing_binaries  # noqa: E402
from smk import run_profile, write_config  # noqa: E402

JOB_LINE = re.compile(r"SLURM_JOB_ID=(\d+)")


def slurm_job_ids(workdir: Path) -> list[int]:
    """SLURM job ids recorded by the rule logs (eegslim.logs.start_rule) of one run."""
    ids = []
    for log in (workdir / "logs").rglob("*.log"):
        ids += [int(m) for m in JOB_LINE.findall(log.read_text(errors="replace"))]
    return sorted(ids)


def seconds(job: dict[str, str], start: str, end: str) -> float:
    return (dt.datetime.fromisoformat(job[end]) - dt.datetime.fromisoformat(job[start])).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["local", "slurm", "slurm-generic"])
    parser.add_argument("--keep", action="store_true", help="keep the working directories")
    args = parser.parse_args()
    if missing := missing_binaries():
        sys.exit(f"SLURM not installed: {', '.join(missing)} missing (run .ci/run or apt-get install "
                 "slurmctld slurmd slurm-client munge)")
    root = Path(tempfile.mkdtemp(prefix="eegslim-slurm-bench-"))
    rows = []
    with Cluster(gpus=1) as cluster:
        for profile in args.profiles:
            workdir = root / profile
            workdir.mkdir()
            config = write_config(REPO / "tests/configs/slurm.yaml", workdir / "slurm_config.yaml")
            code, wall = run_profile(workdir, profile, config, cluster.env)
            if code != 0:
                sys.exit(f"profile {profile} failed ({code}); see {workdir / 'snakemake.out'}")
            known = cluster.jobs()
            jobs = [known[i] for i in slurm_job_ids(workdir)]
            rows.append((profile, jobs, wall))
    if args.keep:
        print(f"working directories: {root}\n")
    else:
        shutil.rmtree(root)
    reference = next((wall for profile, _, wall in rows if profile == "local"), None)
    print("| profile | SLURM jobs | states | wall s | ratio to local | queued s (sum) | running s (sum) |")
    print("|---|---|---|---|---|---|---|")
    for profile, jobs, wall in rows:
        states = ", ".join(sorted({j["JobState"] for j in jobs})) or "-"
        ratio = f"{wall / reference:.2f}" if reference else "-"
        queued = sum(seconds(j, "SubmitTime", "StartTime") for j in jobs)
        running = sum(seconds(j, "StartTime", "EndTime") for j in jobs)
        print(f"| {profile} | {len(jobs)} | {states} | {wall:.0f} | {ratio} | {queued:.0f} | {running:.0f} |")


if __name__ == "__main__":
    main()
