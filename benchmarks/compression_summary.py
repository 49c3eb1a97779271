"""What compression buys, from a finished run: the best variants within the accuracy budget vs the baseline.

    .venv/bin/python benchmarks/compression_summary.py [--results results] [--repeats 50]

Reads results/tables/{selection,variants,results}.csv written by the report rule. For each dataset and model it
takes the smallest and the fastest ONNX variant within the budget (report.accuracy_budget) and re-times it
side by side with the baseline's fp32 export in this one process (interleaved repeats, 1 intra-op thread,
batch 1 and 64), since the pipeline times them in different jobs. Prints Markdown tables for BENCHMARKS.md:
reductions (baseline ÷ chosen) against the targets (transformer: params ≥ 4×, file ≥ 8×, batch-1 latency
≥ 2×),
the best each ratio reaches within the budget, and whether int8 pays off for the unpruned EEGNet.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
import pandas as pd

from eegslim.deploy import cpu_flags, latency_interleaved
from eegslim.report.collect import config_label

TARGETS = {"params": 4.0, "file": 8.0, "b1": 2.0}  # the transformer's targets (issue 5)
KEY = ["dataset", "model", "configuration", "variant"]


def onnx_paths(results: pd.DataFrame) -> dict[tuple, Path]:
    """(dataset, model, configuration, variant) → model.onnx of the configuration's first seed."""
    rows = results[results["stage"] == "quantize"].sort_values("seed")
    paths = {}
    for _, r in rows.iterrows():
        key = (r["dataset"], r["model"], config_label(r), r["variant"])
        paths.setdefault(key, Path(r["metrics_file"]).with_name("model.onnx"))
    return paths


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    tables = args.results / "tables"
    selection = pd.read_csv(tables / "selection.csv")
    variants = pd.read_csv(tables / "variants.csv")
    results = pd.read_csv(tables / "results.csv")
    paths = onnx_paths(results)
    flags = sorted({f for v in results["cpu_flags"].dropna() for f in json.loads(v)}) or cpu_flags()
    print(f"CPU int8 flags: {', '.join(flags) or 'none'}; onnxruntime intra-op threads 1; "
          f"{args.repeats} interleaved repeats per batch size.\n")

    print("| dataset | model | criterion | chosen (variant) | Δ bal. acc. | params ↓ | file ↓ | gzip ↓ | "
          "b1 speed-up | b64 speed-up | targets met (transformer) |\n|---|---|---|---|---|---|---|---|---|---|---|")
    for (ds, model), group in selection.groupby(["dataset", "model"], sort=True):
        base = paths[(ds, model, "baseline", "fp32")]
        chosen = {r["criterion"]: paths[(ds, model, r["configuration"], r["variant"])] for _, r in group.iterrows()}
        timed = retime(base, chosen, args.repeats)
        for _, r in group.iterrows():
            b1 = timed["base"][1] / timed[r["criterion"]][1]
            b64 = timed["base"][64] / timed[r["criterion"]][64]
            met = [r["params_reduction"] >= TARGETS["params"], r["file_reduction"] >= TARGETS["file"],
                   b1 >= TARGETS["b1"]]
            verdict = " / ".join(("yes" if m else "no") for m in met) if model == "labram" else "—"
            print(f"| {ds} | {model} | {r['criterion']} | {r['configuration']} ({r['variant']}) | "
                  f"{r['delta_balanced_accuracy']:+.3f} | {r['params_reduction']:.2f}× | "
                  f"{r['file_reduction']:.2f}× | "
                  f"{r['gzip_reduction']:.2f}× | {b1:.2f}× | {b64:.2f}× | {verdict} |")

    print("\nBest reduction each ratio reaches within the budget (any variant; pipeline timings, baseline fp32 ÷ "
          "variant):\n")
    print("| dataset | model | params ↓ | file ↓ | b1 speed-up (pipeline) | one variant meets all three targets |\n"
          "|---|---|---|---|---|---|")
    for (ds, model), group in variants.groupby(["dataset", "model"], sort=True):
        ref = group[(group["configuration"] == "baseline") & (group["variant"] == "fp32")].iloc[0]
        ok = group[group["within_budget"]]
        red = pd.DataFrame({"params": ref["params_mean"] / ok["params_mean"],
                            "file": ref["file_bytes_mean"] / ok["file_bytes_mean"],
                            "b1": ref["latency_ms_b1_mean"] / ok["latency_ms_b1_mean"]})
        all_three = bool(np.all([red[k] >= t for k, t in TARGETS.items()], axis=0).any())
        print(f"| {ds} | {model} | {red['params'].max():.2f}× | {red['file'].max():.2f}× | {red['b1'].max():.2f}× | "
              f"{'yes' if all_three else 'no'} |")

    print("\nDoes int8 pay off for the unpruned EEGNet? (re-timed side by side; > 1 = faster / smaller than fp32)\n")
    print("| dataset | variant | b1 speed-up | b64 speed-up | file ↓ | agreement with fp32 | Δ bal. acc. |\n"
          "|---|---|---|---|---|---|---|")
    eeg = variants[(variants["model"] == "eegnet") & (variants["configuration"] == "baseline")]
    for ds, group in eeg.groupby("dataset", sort=True):
        ref = group[group["variant"] == "fp32"].iloc[0]
        others = group[group["variant"] != "fp32"]
        timed = retime(paths[(ds, "eegnet", "baseline", "fp32")],
                        {v: paths[(ds, "eegnet", "baseline", v)] for v in others["variant"]}, args.repeats)
        for _, r in others.iterrows():
            print(f"| {ds} | {r['variant']} | {timed['base'][1] / timed[r['variant']][1]:.2f}× | "
                  f"{timed['base'][64] / timed[r['variant']][64]:.2f}× | "
                  f"{ref['file_bytes_mean'] / r['file_bytes_mean']:.2f}× | {r['agreement_fp32_mean']:.3f} | "
                  f"{r['delta_balanced_accuracy']:+.3f} |")


if __name__ == "__main__":
    main()
