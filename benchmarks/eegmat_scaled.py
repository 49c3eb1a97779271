"""EEGMAT on CBraMod's protocol scaled to 24 subjects (configs/eegmat_scaled.yaml), five seeds, paired CIs.

Train Subject00-17, val 18-19, test 20-23; 5 s windows, 200 Hz, 20 channels, 0.1 mV. The same settings as the
Snakemake run of that config, outside Snakemake so the deep models can train on a GPU machine without MNE:

1. `--prepare` (here): the `preprocess` and `split` stages with the config's dataset and split blocks ->
   --workdir/eegmat/{windows.h5, split.json}, bandpower_lr per seed (its stage), and a pack (.npz, float16
   signals) of the windows and the split for the deep models (benchmarks/transformer_ablation.py's format).
2. `--train --data PACK` (anywhere): the encoder pretrained on the train + val windows (the config's `pretrain`
   block), then per seed EEGNet (`train` block), the transformer from scratch and from that encoder (`labram`,
   `finetune` blocks), with transformer_ablation.py's workers (select best_val and last from one fit).
3. `--stats`: balanced accuracy with its CI over the 4 test subjects (cluster bootstrap) and paired Δs, per
   model, `last` weights, beside the config's published numbers.

Run:
    .venv/bin/python benchmarks/eegmat_scaled.py --prepare --workdir /tmp/eegmat_scaled
    .venv/bin/python benchmarks/eegmat_scaled.py --train --data /tmp/eegmat_scaled/pack.npz --workdir /tmp/eegmat_scaled
    .venv/bin/python benchmarks/eegmat_scaled.py --stats --workdir /tmp/eegmat_scaled
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import transformer_ablation as ablation  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((REPO / "configs" / "eegmat_scaled.yaml").read_text())
SEEDS = CONFIG["seeds"]
MODELS = ("eegnet", "labram", "labram_pt")


def prepare(workdir: Path) -> None:
    from eegslim.stages import classical, preprocess, split

    ds = dict(CONFIG["datasets"]["eegmat"])
    ds["root"] = str((REPO / ds["root"]).resolve())
    h5, split_json = workdir / "eegmat" / "windows.h5", workdir / "eegmat" / "split.json"
    if not h5.is_file():
        preprocess.run("eegmat", ds, h5, workdir / "eegmat" / "summary.json")
    s = CONFIG["split"]
    parts = split.run(h5, split_json, 0.2, 0.25, 0, protocol="subjects", train=s["train"], val=s["val"],
                      test=s["test"], description=s["description"])
    for seed in SEEDS:
        out = ablation.run_dir(workdir, "bandpower_lr", 0, seed)
        if not (out / "predictions.npz").is_file():
            classical.run("eegmat", h5, split_json, out, CONFIG["bandpower_lr"], seed)
    from eegslim.store import load_windows

    w = load_windows(h5)
    ablation.save_pack(workdir / "pack.npz", w, {0: parts})
    print(f"{workdir / 'pack.npz'}: X {w.X.shape}, train/val/test windows "
          f"{[len(parts[p]) for p in ('train', 'val', 'test')]}")


def specs() -> dict[str, dict]:
    """Each deep model's job spec (transformer_ablation.finetune_job's format)."""
    labram = {k: v for k, v in CONFIG["labram"].items() if k not in ("init", "pretrained_path")}
    transformer = {"labram": labram, "finetune": CONFIG["finetune"], "augment": CONFIG["finetune"].get("augment")}
    key = ablation.pretrain_key(CONFIG["pretrain"]["target"], labram)
    return {"eegnet": {"model": "eegnet", "eegnet": CONFIG["eegnet"], "finetune": CONFIG["train"], "augment": None},
            "labram": transformer, "labram_pt": {**transformer, "pretrained": key}}


def train(args) -> None:
    started = time.perf_counter()
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    pool = ablation.Pool(args.workers, args.data, args.workdir, device)
    settings = {k: v for k, v in CONFIG["pretrain"].items() if k not in ("datasets", "target", "max_windows")}
    try:
        jobs = specs()
        pretraining = [("pretrain", (CONFIG["pretrain"]["target"], jobs["labram"]["labram"], 0, settings))]
        scratch = [("finetune", (m, jobs[m], 0, s)) for m in ("eegnet", "labram") for s in SEEDS]
        pool.run(pretraining + scratch, started + args.budget)          # the scratch models beside pretraining
        pool.run([("finetune", ("labram_pt", jobs["labram_pt"], 0, s)) for s in SEEDS], started + args.budget)
    finally:
        pool.close()
    print(f"wall {time.perf_counter() - started:.0f} s", flush=True)


def stats(workdir: Path, n_boot: int) -> str:
    from eegslim import stats as st

    preds = {m: ablation.load_preds(workdir, m, "last", [0], SEEDS) for m in MODELS}
    preds["bandpower_lr"] = ablation.load_preds(workdir, "bandpower_lr", None, [0], SEEDS)
    f = lambda e, sign="": f"{e.mean:{sign}.3f} [{e.low:{sign}.3f}, {e.high:{sign}.3f}]"   # noqa: E731
    lines = [f"| model | runs | balanced accuracy [95 % CI] | Δ vs bandpower_lr | Δ vs EEGNet |", "|---|---|---|---|---|"]
    result = {}
    for model, p in preds.items():
        if not p:
            continue
        score = st.bootstrap_score([(0, x) for _, x in sorted(p.items())], "balanced_accuracy", n_boot, 0, 0.95)
        deltas = []
        for ref in ("bandpower_lr", "eegnet"):
            common = sorted(set(p) & set(preds[ref]))
            d = (st.bootstrap_delta([(0, p[k], preds[ref][k]) for k in common], "balanced_accuracy", n_boot, 0, 0.95)
                 if common and ref != model else None)
            deltas.append(d)
        result[model] = {"score": dataclasses.asdict(score), "deltas": [d and dataclasses.asdict(d) for d in deltas]}
        lines.append(f"| {model} | {score.n_runs} | {f(score)} | "
                     + " | ".join(f(d, "+") if d else "–" for d in deltas) + " |")
    pt, scratch = preds["labram_pt"], preds["labram"]
    common = sorted(set(pt) & set(scratch))
    if common:
        d = st.bootstrap_delta([(0, pt[k], scratch[k]) for k in common], "balanced_accuracy", n_boot, 0, 0.95)
        lines += ["", f"Pretraining (labram_pt − labram, paired): {f(d, '+')} over {d.n_runs} seeds."]
    lines += ["", "Published, CBraMod's full protocol (36 subjects; a guide, not a paired comparison): "
              + "; ".join(f"{e['model']} {e['value']:.3f}" for e in CONFIG["report"]["published"]["eegmat"])]
    text = "\n".join(lines)
    (workdir / "eegmat_scaled.md").write_text(text + "\n")
    (workdir / "eegmat_scaled.json").write_text(json.dumps(result, indent=1))
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/eegmat_scaled"))
    parser.add_argument("--prepare", action="store_true")
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--stats", action="store_true")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget", type=float, default=7200.0, help="seconds after which no job starts")
    parser.add_argument("--n-boot", type=int, default=2000)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.prepare:
        prepare(args.workdir)
    if args.train:
        train(args)
    if args.stats:
        print(stats(args.workdir, args.n_boot))


if __name__ == "__main__":
    main()
