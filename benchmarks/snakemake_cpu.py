"""Run Snakemake in this process and print the CPU seconds of the Snakemake process itself (not its jobs).

The arguments are Snakemake's, e.g. (BENCHMARKS.md, the 1,330-job EEGMAT grid):
    .venv/bin/python benchmarks/snakemake_cpu.py --cores 2 --scheduler greedy --scheduler-subsample 50 \
        --set-threads pretrain=1 -s Snakefile -d ../eegmat_grid3 results/report.html --replace-workflow-config \
        --configfile configs/eegmat.yaml benchmarks/configs/eegmat_grid1000.yaml
Printed at exit, to stderr: `snakemake process: user U s, system S s, wall W s`.
"""

import atexit
import resource
import sys
import time

from snakemake.cli import main

started = time.time()


def _report() -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"snakemake process: user {usage.ru_utime:.1f} s, system {usage.ru_stime:.1f} s, "
          f"wall {time.time() - started:.1f} s", file=sys.stderr)


atexit.register(_report)
sys.argv = ["snakemake", *sys.argv[1:]]
main()
