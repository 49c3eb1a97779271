"""Paired comparisons between the baselines of different models of one finished run (the report pairs each
variant with its own baseline and each model with the classical reference only).

    .venv/bin/python benchmarks/paired_models.py --workdir ../eegmat_grid3 --dataset eegmat \
        --pairs labram_pt:eegnet labram_pt:labram labram:eegnet labram_pt:bandpower_lr

Reads results/tables/results.csv (written by the report rule) and every baseline's predictions.npz, pairs the
runs of two models by (fold, seed), and prints Markdown rows: each model's balanced accuracy and macro-F1 with
the report's 95 % cluster bootstrap over test subjects (folds as strata, 2000 replicates, seed 0), and each
pair's paired Δ on the same subject draws (eegslim.stats.bootstrap_deltas).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from eegslim import stats
from eegslim.predictions import predictions_path, read_predictions

METRICS = ("balanced_accuracy", "macro_f1")


def baseline_runs(results: pd.DataFrame, workdir: Path, dataset: str, model: str) -> dict[tuple, object]:
    """(fold, seed) -> Predictions of `model`'s unpruned, unexported baseline on `dataset`."""
    rows = results[(results["dataset"] == dataset) & (results["model"] == model) & (results["stage"] == "baseline")
                   & results["method"].isna() & results["variant"].isin(["torch", "sklearn"])]
    if rows.empty:
        raise SystemExit(f"no baseline of {model!r} on {dataset!r} in results.csv")
    return {(None if pd.isna(r["fold"]) else int(r["fold"]), int(r["seed"])):
            read_predictions(predictions_path(workdir / r["metrics_file"])) for _, r in rows.iterrows()}


def fmt(est: stats.Estimate, signed: bool = False) -> str:
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(est.mean)} [{f.format(est.low)}, {f.format(est.high)}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="where Snakemake ran (holds results/)")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--pairs", nargs="+", required=True, help="variant:baseline model names")
    args = parser.parse_args()
    results = pd.read_csv(args.workdir / "results" / "tables" / "results.csv")
    pairs = [tuple(p.split(":")) for p in args.pairs]
    models = sorted({m for pair in pairs for m in pair})
    runs = {m: baseline_runs(results, args.workdir, args.dataset, m) for m in models}
    print("| model | runs | balanced accuracy [95 % CI] | macro-F1 [95 % CI] |\n|---|---|---|---|")
    for m in models:
        est = stats.bootstrap_scores([(fold, p) for (fold, _), p in sorted(runs[m].items(), key=str)], METRICS)
        print(f"| {m} | {len(runs[m])} | {fmt(est['balanced_accuracy'])} | {fmt(est['macro_f1'])} |")
    print("\n| difference | pairs | Δ balanced accuracy [95 % CI] | Δ macro-F1 [95 % CI] |\n|---|---|---|---|")
    for a, b in pairs:
        common = sorted(set(runs[a]) & set(runs[b]), key=str)
        est = stats.bootstrap_deltas([(key[0], runs[a][key], runs[b][key]) for key in common], METRICS)
        print(f"| {a} − {b} | {len(common)} | {fmt(est['balanced_accuracy'], True)} | "
              f"{fmt(est['macro_f1'], True)} |")


if __name__ == "__main__":
    main()
