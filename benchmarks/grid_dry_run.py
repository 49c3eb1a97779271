"""Benchmark how fast Snakemake resolves the full pruning grid (configs/full_grid.yaml) against the demo's DAG.

    .venv/bin/python benchmarks/grid_dry_run.py [--repeats 3]

Both are dry runs (`-n -q rules`) of results/report.html in an empty scratch working directory, interleaved
(demo, grid, demo, grid, ...) so machine load hits both alike. Prints jobs, median wall and CPU seconds,
milliseconds per job and the grid / demo ratios as a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
CONFIGS = {"demo (config.yaml)": (REPO / "config.yaml",),
           "full grid (+ configs/full_grid.yaml)": (REPO / "config.yaml", REPO / "configs/full_grid.yaml")}


def dry_run(workdir: Path, configs: tuple[Path, ...]) -> tuple[float, float, int]:
    """(wall s, child CPU s, planned jobs) of one dry run."""
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "1",
           "results/report.html", "-n", "-q", "rules", "--configfile", *map(str, configs)]
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = re.search(r"^total\s+(\d+)\s*$", proc.stdout, flags=re.M)
    if total is None:
        raise RuntimeError(f"no job stats in the dry run's output:\n{proc.stdout[-2000:]}")
    return wall, (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime), int(total.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for name, configs in CONFIGS.items():
                results[name].append(dry_run(Path(tmp), configs))
    rows = {}
    for name, runs in results.items():
        wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        rows[name] = (runs[0][2], wall, cpu, [r[0] for r in runs])
    demo = rows["demo (config.yaml)"]
    print("| DAG | jobs | median wall s | median CPU s | CPU ms per job | runs (wall s) |")
    print("|---|---|---|---|---|---|")
    for name, (jobs, wall, cpu, runs) in rows.items():
        print(f"| {name} | {jobs:,} | {wall:.1f} | {cpu:.1f} | {1000 * cpu / jobs:.2f} | "
              f"{', '.join(f'{r:.1f}' for r in runs)} |")
    grid = rows["full grid (+ configs/full_grid.yaml)"]
    print(f"\njobs ratio grid/demo {grid[0] / demo[0]:.1f}, wall ratio {grid[1] / demo[1]:.1f}, "
          f"CPU ratio {grid[2] / demo[2]:.1f}")


if __name__ == "__main__":
    main()
