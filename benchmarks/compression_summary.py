"""What compression buys, from a finished run: the best variants within the accuracy budget vs the baseline.

    .venv/bin/python benchmarks/compression_summary.py [--results <workdir>/results] [--repeats 50]

Reads results/tables/{variants,selection,results,finetune_vs_scratch}.csv written by the report rule; the
metrics files named in results.csv are resolved against the workdir (the parent of --results), so it runs
from anywhere. For each dataset and model it re-times every ONNX variant within the budget
(report.accuracy_budget) side by side with the baseline's fp32 export in this one process (interleaved
repeats, 1 intra-op thread, batch 1 and 64), since the pipeline times them in different jobs, and reports the
smallest and the fastest of them. Prints Markdown tables for BENCHMARKS.md: reductions (baseline ÷ chosen)
against the transformer targets (params ≥ 4×, file ≥ 8×, batch-1 latency ≥ 2×), the best each dataset and
model reaches within the budget, whether int8 pays off for the unpruned EEGNet, and fine-tune vs scratch
(mean ± std over seeds) at each ratio.
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pandas as pd

from eegslim.deploy.latency import cpu_flags, latency_interleaved
from eegslim.report.collect import config_label

TARGETS = {"params": 4.0, "file": 8.0, "b1": 2.0}  # the transformer's targets (issue 5)
TRANSFORMERS = ("labram", "labram_pt")  # models judged against TARGETS
TABLES = ("variants", "selection", "results", "finetune_vs_scratch")
# (baseline fp32 model.onnx, {name: model.onnx}) -> {"base" and each name: {batch: median ms}}
Timer = Callable[[Path, dict[str, Path]], dict[str, dict[int, float]]]


def read_tables(results_dir: Path) -> dict[str, pd.DataFrame]:
    """TABLES read from `results_dir`/tables; a missing one is an error naming it."""
    tables = {}
    for name in TABLES:
        path = results_dir / "tables" / f"{name}.csv"
        if not path.is_file():
            raise SystemExit(f"{path}: not found; run the report rule (snakemake results/report.html) first")
        tables[name] = pd.read_csv(path)
    return tables


def onnx_paths(results: pd.DataFrame, workdir: Path) -> dict[tuple, Path]:
    """(dataset, model, configuration, variant) → model.onnx of the configuration's first seed; relative
    metrics files are taken relative to `workdir` (where Snakemake ran)."""
    rows = results[results["stage"] == "quantize"].sort_values("seed")
    paths = {}
    for _, r in rows.iterrows():
        key = (r["dataset"], r["model"], config_label(r), r["variant"])
        paths.setdefault(key, (workdir / r["metrics_file"]).with_name("model.onnx"))
    return paths


def no_fp32_baseline(dataset: str, model: str, table: str) -> SystemExit:
    """The error for a run whose baseline has no fp32 export, the reference of every reduction."""
    return SystemExit(f"{dataset}/{model}: the baseline has no fp32 ONNX variant in {table}, the reference of "
                      "every reduction; add fp32 to quantize.variants in config.yaml and rerun")


def baseline_fp32(paths: dict[tuple, Path], dataset: str, model: str) -> Path:
    """The baseline's fp32 model.onnx of (dataset, model)."""
    path = paths.get((dataset, model, "baseline", "fp32"))
    if path is None:
        raise no_fp32_baseline(dataset, model, "results.csv")
    return path


def baseline_row(group: pd.DataFrame) -> pd.Series:
    """The baseline fp32 row of one (dataset, model) group of variants.csv."""
    ref = group[(group["configuration"] == "baseline") & (group["variant"] == "fp32")]
    if ref.empty:
        raise no_fp32_baseline(group["dataset"].iloc[0], group["model"].iloc[0], "variants.csv")
    return ref.iloc[0]


def input_shape(path: Path) -> tuple[int, int]:
    """(C, T) of an exported model's input."""
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    return int(dims[1].dim_value), int(dims[2].dim_value)


def retime(base: Path, chosen: dict[str, Path], repeats: int) -> dict[str, dict[int, float]]:
    """Median latency (ms) at batch 1 and 64 of the baseline fp32 ('base') and each chosen model, interleaved."""
    paths = {"base": base, **chosen}
    shape = input_shape(base)
    out: dict[str, dict[int, float]] = {name: {} for name in paths}
    for batch in (1, 64):
        for name, stats in latency_interleaved(paths, batch, *shape, threads=1, repeats=repeats, warmup=5).items():
            out[name][batch] = stats["median"]
    return out


def name_of(row: pd.Series) -> str:
    """A variant's display name and timing key: 'configuration (variant)'."""
    return f"{row['configuration']} ({row['variant']})"


def retimed_candidates(group: pd.DataFrame, paths: dict[tuple, Path], timer: Timer) -> pd.DataFrame:
    """The within-budget rows of one (dataset, model) with their side-by-side speed-ups over the baseline
    fp32 (`b1`, `b64`: baseline ms ÷ variant ms); empty when none is within the budget."""
    ok = group[group["within_budget"].astype(bool)].copy()
    if ok.empty:
        return ok
    ds, model = group["dataset"].iloc[0], group["model"].iloc[0]
    ok["name"] = [name_of(r) for _, r in ok.iterrows()]
    timed = timer(baseline_fp32(paths, ds, model),
                  {r["name"]: paths[(ds, model, r["configuration"], r["variant"])] for _, r in ok.iterrows()})
    for batch in (1, 64):
        ok[f"b{batch}"] = [timed["base"][batch] / timed[n][batch] for n in ok["name"]]
    return ok


def pick(candidates: pd.DataFrame, criterion: str) -> pd.Series:
    """`smallest` (file bytes, then gzip bytes) or `fastest` (re-timed batch-1 speed-up, then file bytes),
    ties to the higher balanced accuracy."""
    order = {"smallest": (["file_bytes_mean", "gzip_bytes_mean"], [True, True]),
             "fastest": (["b1", "file_bytes_mean"], [False, True])}[criterion]
    cols, ascending = order[0] + ["balanced_accuracy_mean"], order[1] + [False]
    return candidates.sort_values(cols, ascending=ascending, kind="stable").iloc[0]


def pipeline_pick(selection: pd.DataFrame, ds: str, model: str, criterion: str) -> str:
    """What selection.csv (timings of separate jobs) chose for the criterion, '—' when nothing."""
    rows = selection[(selection["dataset"] == ds) & (selection["model"] == model)
                     & (selection["criterion"] == criterion)]
    return name_of(rows.iloc[0]) if len(rows) else "—"


def verdict(model: str, red: dict[str, float]) -> str:
    """'yes / no / yes' for the params, file and batch-1 targets of a transformer; '—' for other models."""
    if model not in TRANSFORMERS:
        return "—"
    return " / ".join("yes" if red[k] >= t else "no" for k, t in TARGETS.items())


def chosen_table(variants: pd.DataFrame, selection: pd.DataFrame, paths: dict[tuple, Path],
                 timer: Timer) -> list[str]:
    """Markdown rows: per dataset and model the smallest and the fastest re-timed within-budget variant."""
    lines = ["| dataset | model | criterion | chosen (variant) | pipeline's pick | candidates re-timed | "
             "Δ bal. acc. | params ↓ | file ↓ | gzip ↓ | b1 speed-up | b64 speed-up | targets met (transformer) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (ds, model), group in variants.groupby(["dataset", "model"], sort=True):
        ref = baseline_row(group)
        candidates = retimed_candidates(group, paths, timer)
        if candidates.empty:
            lines.append(f"| {ds} | {model} | — | no variant within the budget | | 0 | | | | | | | |")
            continue
        for criterion in ("smallest", "fastest"):
            r = pick(candidates, criterion)
            red = {"params": ref["params_mean"] / r["params_mean"], "b1": r["b1"],
                   "file": ref["file_bytes_mean"] / r["file_bytes_mean"],
                   "gzip": ref["gzip_bytes_mean"] / r["gzip_bytes_mean"]}
            lines.append(f"| {ds} | {model} | {criterion} | {r['name']} | "
                         f"{pipeline_pick(selection, ds, model, criterion)} | {len(candidates)} | "
                         f"{r['delta_balanced_accuracy']:+.3f} | {red['params']:.2f}× | {red['file']:.2f}× | "
                         f"{red['gzip']:.2f}× | {r['b1']:.2f}× | {r['b64']:.2f}× | {verdict(model, red)} |")
    return lines


def best_table(variants: pd.DataFrame) -> list[str]:
    """Markdown rows: per dataset and model the best reduction within the budget (pipeline timings)."""
    lines = ["| dataset | model | params ↓ | file ↓ | b1 speed-up (pipeline) | one variant meets all three targets |",
             "|---|---|---|---|---|---|"]
    for (ds, model), group in variants.groupby(["dataset", "model"], sort=True):
        ref = baseline_row(group)
        ok = group[group["within_budget"].astype(bool)]
        red = pd.DataFrame({"params": ref["params_mean"] / ok["params_mean"],
                            "file": ref["file_bytes_mean"] / ok["file_bytes_mean"],
                            "b1": ref["latency_ms_b1_mean"] / ok["latency_ms_b1_mean"]})
        all_three = bool(np.all([red[k] >= t for k, t in TARGETS.items()], axis=0).any())
        lines.append(f"| {ds} | {model} | {red['params'].max():.2f}× | {red['file'].max():.2f}× | "
                     f"{red['b1'].max():.2f}× | {'yes' if all_three else 'no'} |")
    return lines


def int8_table(variants: pd.DataFrame, paths: dict[tuple, Path], timer: Timer) -> list[str]:
    """Markdown rows: the unpruned EEGNet's non-fp32 variants re-timed side by side with its fp32 export."""
    lines = ["| dataset | variant | b1 speed-up | b64 speed-up | file ↓ | agreement with fp32 | Δ bal. acc. |",
             "|---|---|---|---|---|---|---|"]
    eeg = variants[(variants["model"] == "eegnet") & (variants["configuration"] == "baseline")]
    for ds, group in eeg.groupby("dataset", sort=True):
        ref = baseline_row(group)
        others = group[group["variant"] != "fp32"]
        timed = timer(baseline_fp32(paths, ds, "eegnet"),
                      {v: paths[(ds, "eegnet", "baseline", v)] for v in others["variant"]})
        for _, r in others.iterrows():
            lines.append(f"| {ds} | {r['variant']} | {timed['base'][1] / timed[r['variant']][1]:.2f}× | "
                         f"{timed['base'][64] / timed[r['variant']][64]:.2f}× | "
                         f"{ref['file_bytes_mean'] / r['file_bytes_mean']:.2f}× | {r['agreement_fp32_mean']:.3f} | "
                         f"{r['delta_balanced_accuracy']:+.3f} |")
    return lines


def mean_std(mean: float, std: float, n: float) -> str:
    """'0.812 ± 0.010 (n=3)'; no ± where the std is undefined (one seed)."""
    return f"{mean:.3f}" + ("" if pd.isna(std) else f" ± {std:.3f}") + f" (n={int(n)})"


def finetune_scratch_table(fvs: pd.DataFrame) -> list[str]:
    """Markdown rows of finetune_vs_scratch.csv (balanced accuracy, mean ± std over seeds) and a closing
    count of the cells where scratch matches or beats fine-tuning."""
    if fvs.empty:
        return ["No pruning ratio was recovered both by fine-tuning and from scratch (prune.recoveries)."]
    lines = ["| dataset | model | method | ratio | fine-tune bal. acc. | scratch bal. acc. | fine-tune − scratch |",
             "|---|---|---|---|---|---|---|"]
    for _, r in fvs.sort_values(["dataset", "model", "method", "ratio"], kind="stable").iterrows():
        lines.append(f"| {r['dataset']} | {r['model']} | {r['method']} | {r['ratio']:g} | "
                     f"{mean_std(r['finetune_mean'], r['finetune_std'], r['finetune_n'])} | "
                     f"{mean_std(r['scratch_mean'], r['scratch_std'], r['scratch_n'])} | "
                     f"{r['finetune_mean'] - r['scratch_mean']:+.3f} |")
    k = int((fvs["scratch_mean"] >= fvs["finetune_mean"]).sum())
    return lines + ["", f"Scratch ≥ fine-tune in {k} of {len(fvs)} cells."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    tables = read_tables(args.results)
    results, variants = tables["results"], tables["variants"]
    paths = onnx_paths(results, args.results.resolve().parent)
    timer = functools.partial(retime, repeats=args.repeats)
    recorded = results["cpu_flags"].dropna() if "cpu_flags" in results else []
    flags = sorted({f for v in recorded for f in json.loads(v)}) or cpu_flags()
    print(f"CPU int8 flags: {', '.join(flags) or 'none'}; onnxruntime intra-op threads 1; "
          f"{args.repeats} interleaved repeats per batch size.\n")
    print("Smallest and fastest within the budget, every within-budget variant re-timed side by side with the "
          "baseline fp32:\n")
    print("\n".join(chosen_table(variants, tables["selection"], paths, timer)))
    print("\nBest reduction per dataset and model within the budget (any variant; pipeline timings, "
          "baseline fp32 ÷ variant):\n")
    print("\n".join(best_table(variants)))
    print("\nDoes int8 pay off for the unpruned EEGNet? (re-timed side by side; > 1 = faster / smaller than "
          "fp32)\n")
    print("\n".join(int8_table(variants, paths, timer)))
    print("\nFine-tune vs scratch at each ratio (balanced accuracy, mean ± std over seeds):\n")
    print("\n".join(finetune_scratch_table(tables["finetune_vs_scratch"])))


if __name__ == "__main__":
    main()
