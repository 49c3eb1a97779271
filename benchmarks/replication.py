"""Does a compressed variant's verdict replicate on new seeds? Its paired Δ against the baseline, per group of seeds.

    .venv/bin/python benchmarks/replication.py --workdir ../eegmat_tfdistill_rep --dataset eegmat --model labram_pt \
        --groups 0,1,2 3,4,5 0,1,2,3,4,5

Reads results/tables/results.csv (written by the report rule) and the predictions of every pruned, exported
variant of `--model` and of its unpruned baseline, pairs them by (fold, seed) as the report does, and prints one
Markdown row per configuration (method, ratio, recovery, variant) and seed group: runs, balanced accuracy, paired
Δ balanced accuracy and macro-F1 with the report's 95 % cluster bootstrap over test subjects (folds as strata,
2000 replicates, seed 0) and the verdict against --budget. The first group is meant to be the seeds a result was
found on, the next ones the seeds added after its settings were fixed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from eegslim import stats
from eegslim.predictions import predictions_path, read_predictions

from paired_models import baseline_runs, fmt

METRICS = ("balanced_accuracy", "macro_f1")


def variant_runs(results: pd.DataFrame, workdir: Path, dataset: str, model: str) -> dict[tuple, dict]:
    """(method, ratio, recovery, variant) -> {(fold, seed): Predictions} of every pruned, exported variant."""
    rows = results[(results["dataset"] == dataset) & (results["model"] == model) & results["method"].notna()
                   & (results["stage"] == "quantize")]
    out: dict[tuple, dict] = {}
    for _, r in rows.iterrows():
        key = (r["method"], float(r["ratio"]), r["recovery"], r["variant"])
        fold = None if pd.isna(r["fold"]) else int(r["fold"])
        out.setdefault(key, {})[(fold, int(r["seed"]))] = read_predictions(
            predictions_path(workdir / r["metrics_file"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="where Snakemake ran (holds results/)")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--groups", nargs="+", required=True, help="comma-separated training seeds per group")
    parser.add_argument("--budget", type=float, default=0.01, help="the accuracy budget (report.accuracy_budget)")
    args = parser.parse_args()
    results = pd.read_csv(args.workdir / "results" / "tables" / "results.csv")
    baseline = baseline_runs(results, args.workdir, args.dataset, args.model)
    groups = [{int(s) for s in g.split(",")} for g in args.groups]
    print("| method | ratio | recovery | variant | seeds | runs | balanced accuracy | Δ vs baseline [95 % CI] | "
          "Δ macro-F1 | verdict |\n|---|---|---|---|---|---|---|---|---|---|")
    for (method, ratio, recovery, variant), runs in sorted(variant_runs(results, args.workdir, args.dataset,
                                                                       args.model).items()):
        for seeds in groups:
            keys = sorted((k for k in runs if k[1] in seeds and k in baseline), key=str)
            if not keys:
                continue
            score = stats.bootstrap_score([(k[0], runs[k]) for k in keys])
            delta = stats.bootstrap_deltas([(k[0], runs[k], baseline[k]) for k in keys], METRICS)
            print(f"| {method} | {ratio:g} | {recovery} | {variant} | {','.join(map(str, sorted(seeds)))} | "
                  f"{len(keys)} | {score.mean:.3f} | {fmt(delta['balanced_accuracy'], True)} | "
                  f"{delta['macro_f1'].mean:+.3f} | {stats.verdict(delta['balanced_accuracy'], args.budget)} |")


if __name__ == "__main__":
    main()
