"""Benchmark the demo: a full run from empty results/, a no-op dry run, and per-rule time and memory.

    .venv/bin/python benchmarks/demo_run.py [--workdir DIR] [--cores N]

Runs the repository's Snakefile with the default config.yaml in a scratch working directory (nothing
is written into the checkout) and prints Markdown tables for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def run(workdir: Path, cores: str, *args: str) -> float:
    """Run snakemake once; return its wall time in seconds (raises on failure)."""
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", cores, *args,
           "results/report.html", "--configfile", str(REPO / "config.yaml")]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def rule_table(workdir: Path) -> list[tuple[str, int, float, float, float]]:
    """(rule, jobs, total s, max s, max peak RSS MB) from the benchmark: files of every job."""
    stats: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for tsv in (workdir / "logs/benchmarks").rglob("*.tsv"):
        rule = tsv.relative_to(workdir / "logs/benchmarks").parts[0].removesuffix(".tsv")
        with tsv.open() as fh:
            row = next(csv.DictReader(fh, delimiter="\t"))
        rss = float(row["max_rss"]) if row["max_rss"] not in ("", "-", "NA") else float("nan")
        stats[rule].append((float(row["s"]), rss))
    return [(rule, len(v), sum(s for s, _ in v), max(s for s, _ in v), max(r for _, r in v))
            for rule, v in sorted(stats.items())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--cores", default="all")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="eegslim-demo-"))
    full = run(workdir, args.cores)
    dry = [run(workdir, args.cores, "-n") for _ in range(3)]
    print(f"workdir: {workdir}\n")
    print("| measurement | seconds |\n|---|---|")
    print(f"| full demo run, empty results/ (`--cores {args.cores}`) | {full:.0f} |")
    print(f"| no-op dry run (`-n`), median of 3 | {sorted(dry)[1]:.2f} |\n")
    print("| rule | jobs | total s | max s | max peak RSS (MB) |\n|---|---|---|---|---|")
    for rule, n, total, longest, rss in rule_table(workdir):
        print(f"| {rule} | {n} | {total:.1f} | {longest:.1f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
