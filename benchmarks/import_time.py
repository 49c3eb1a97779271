"""Per-rule start-up: seconds to import each stage module in a fresh interpreter, beside a bare `import torch`.

Every Snakemake job is a new process, so this is paid once per job. Rounds are interleaved (each round imports
every module once, in a new process each, bare torch included), and the median over rounds is reported with the
ratio to the bare torch import of the same rounds; `--baseline DIR` (another checkout, e.g. a `git worktree` of an
older commit) is timed in the same rounds, so before and after are side by side on the same noisy machine.

    .venv/bin/python benchmarks/import_time.py --rounds 7
    git worktree add /tmp/eegslim-before <commit>
    .venv/bin/python benchmarks/import_time.py --rounds 7 --baseline /tmp/eegslim-before
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("split", "preprocess", "classical", "report", "train", "prune", "sensitivity", "quantize", "pretrain")
HEAVY = ("torch", "mne", "onnx", "onnxruntime", "matplotlib", "sklearn")


def timed_import(module: str, root: Path) -> tuple[float, list[str]]:
    code = (f"import time, sys, json; t = time.perf_counter(); import {module}; "
            f"print(json.dumps([time.perf_counter() - t, [h for h in {HEAVY!r} if h in sys.modules]]))")
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd="/")
    seconds, heavy = json.loads(out.stdout)
    return seconds, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--baseline", type=Path, help="another checkout, timed in the same rounds")
    args = parser.parse_args()
    roots = {"now": REPO} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    times: dict[tuple[str, str], list[float]] = {}
    heavy: dict[tuple[str, str], list[str]] = {}
    for _ in range(args.rounds):
        for name, root in roots.items():
            for stage in ("torch", *STAGES):
                module = stage if stage == "torch" else f"eegslim.stages.{stage}"
                seconds, libs = timed_import(module, root)
                times.setdefault((name, stage), []).append(seconds)
                heavy[(name, stage)] = libs
    torch_s = statistics.median(times[("now", "torch")])
    header = "| stage module | " + " | ".join(f"{n}: s (× bare torch) | {n}: heavy imports" for n in roots) + " |"
    print(f"bare `import torch`: {torch_s:.2f} s (median of {args.rounds})\n")
    print(header)
    print("|---|" + "---|---|" * len(roots))
    for stage in STAGES:
        cells = []
        for name in roots:
            s = statistics.median(times[(name, stage)])
            cells += [f"{s:.2f} ({s / torch_s:.2f}×)", ", ".join(heavy[(name, stage)]) or "–"]
        print(f"| {stage} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
