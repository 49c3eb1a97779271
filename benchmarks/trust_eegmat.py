"""EEGMAT-24, subject-wise 6-fold × 3 seeds: bandpower_lr, EEGNet (best_val and last from one fit), paired CIs.

1. Every EEGMAT recording on disk (../shared/data/eegmat, SubjectNN_{1,2}.edf) through eegslim's `preprocess` stage
   with configs/eegmat.yaml's dataset settings (folder adapter, 19 EEG channels, 0.5–45 Hz, 50 Hz notch, 200 Hz,
   4 s windows), once: --workdir/eegmat/windows.h5 is reused when present.
2. One subject partition for every seed and model: `kfold_split(..., n_folds=6, fold=k, val_fraction=0.2, seed=0)`
   (test = fold k's subjects, val = 20 % of the others). Per fold k and training seed s:
   - bandpower_lr (configs/eegmat.yaml's `bandpower_lr`, fit on train+val, random_state s) via its stage;
   - EEGNet (configs/eegmat.yaml's `eegnet` and `train` blocks) trained ONCE with `eegslim.train.fit`,
     select best_val and patience None (all epochs run); an `epoch_end` hook copies the state_dict after the final
     epoch's training. The test windows are scored with the best-validation weights fit restored (`best_val`) and
     with the copy (`last`): two paired predictions from one training;
   - optional (--models ... labram): the tiny transformer from scratch (`labram` + `finetune` blocks), the same way.
   Order: all bandpower_lr runs, then each deep model fold by fold (all seeds of a fold before the next fold), so a
   cut-off run holds whole folds. Each run writes --workdir/runs/{model}/fold{k}-seed{s}/ (predictions.npz per
   selection, history.json, run.json last); a rerun skips runs whose run.json exists.
3. Statistics (`eegslim.stats`, cluster bootstrap over test subjects stratified by fold, one draw shared by a fold's
   seeds and by both members of a pair; percentile 95 % intervals, n_boot 2000, seed 0) over the runs on disk:
   balanced accuracy and macro-F1 per model and selection, per-fold means, paired differences, the share of
   subjects above chance, seconds per fit. Printed as Markdown, written to --workdir/trust_eegmat.md and .json.
   Only folds where every requested model finished all requested seeds are counted (--allow-partial: any run).

Run (from the repository root; one thread, as measured in BENCHMARKS.md):
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 nice -n 5 .venv/bin/python \
        benchmarks/trust_eegmat.py --workdir /tmp/trust_eegmat
    ... --folds 0 1 --seeds 0            # a subset
    ... --stats-only                     # recompute the tables from the runs on disk
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from eegslim import stats
from eegslim.atomic import write_json
from eegslim.logs import setup_logging
from eegslim.metrics import classification_metrics
from eegslim.models import arch_for, arch_name, build_model, count_params
from eegslim.predictions import read_predictions, write_predictions
from eegslim.splits import kfold_split
from eegslim.stages import classical, preprocess
from eegslim.store import load_windows
from eegslim.train import TrainConfig, fit, init_settings, predict_windows

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "eegmat.yaml"
N_FOLDS, VAL_FRACTION, SPLIT_SEED = 6, 0.2, 0
SELECTIONS = ("best_val", "last")
DEEP = {"eegnet": ("eegnet", "train"), "labram": ("labram", "finetune")}   # model -> (model block, training block)
LABELS = {"bandpower_lr": "bandpower_lr", "eegnet": "EEGNet", "labram": "transformer (tiny, scratch)"}
METRICS = ("balanced_accuracy", "macro_f1")
log = logging.getLogger("eegslim.bench")


def dataset_cfg(config: dict, root: Path | None) -> dict:
    cfg = dict(config["datasets"]["eegmat"])
    cfg["root"] = str(root if root else (REPO / cfg["root"]).resolve())
    return cfg


def windows_h5(workdir: Path, cfg: dict) -> Path:
    out = workdir / "eegmat" / "windows.h5"
    if not out.is_file():
        started = time.perf_counter()
        preprocess.run("eegmat", cfg, out, workdir / "eegmat" / "summary.json")
        log.info("preprocessed EEGMAT in %.1f s", time.perf_counter() - started)
    return out


def fold_splits(h5: Path, workdir: Path) -> dict[int, Path]:
    meta = load_windows(h5, signals=False)
    out = {}
    for k in range(N_FOLDS):
        path = workdir / "eegmat" / "splits" / f"fold{k}.json"
        if not path.is_file():
            split = kfold_split(meta.subject, meta.y, n_folds=N_FOLDS, fold=k, val_fraction=VAL_FRACTION,
                                seed=SPLIT_SEED, sessions=meta.session, recordings=meta.recording)
            write_json(path, split)
        out[k] = path
    return out


def run_dir(workdir: Path, model: str, fold: int, seed: int) -> Path:
    return workdir / "runs" / model / f"fold{fold}-seed{seed}"


def run_bandpower(workdir: Path, h5: Path, split_json: Path, config: dict, fold: int, seed: int) -> None:
    out = run_dir(workdir, "bandpower_lr", fold, seed)
    if (out / "run.json").is_file():
        return
    started = time.perf_counter()
    record = classical.run("eegmat", h5, split_json, out, config["bandpower_lr"], seed)
    seconds = time.perf_counter() - started
    write_json(out / "run.json", {"model": "bandpower_lr", "fold": fold, "seed": seed, "seconds": seconds,
                                  "balanced_accuracy": record["balanced_accuracy"]})
    print(f"bandpower_lr fold {fold} seed {seed}: test bacc {record['balanced_accuracy']:.3f} ({seconds:.1f} s)",
          flush=True)


def run_deep(workdir: Path, windows, split_json: Path, config: dict, model: str, fold: int, seed: int,
             threads: int) -> None:
    out = run_dir(workdir, model, fold, seed)
    if (out / "run.json").is_file():
        return
    model_block, train_block = DEEP[model]
    cfg = TrainConfig.from_dict({**init_settings(config[train_block], pretrained=False), "select": "best_val", "patience": None, "seed": seed,
                                 "num_threads": threads, "device": "cpu"})
    arch_cfg = dict(config[model_block])
    if arch_cfg.pop("init", "random") != "random":
        raise SystemExit(f"{model}: only init random is benchmarked here")
    arch_cfg.pop("pretrained_path", None)
    split = json.loads(split_json.read_text())
    train, val, test = (np.asarray(split[part], dtype=np.int64) for part in ("train", "val", "test"))
    n_classes = len(windows.class_names)
    _, n_chans, n_times = windows.X.shape
    arch = arch_for(arch_name(model), arch_cfg, n_chans, n_times, n_classes, windows.sfreq, list(windows.ch_names))
    torch.manual_seed(seed)
    np.random.seed(seed)
    net = build_model(arch)
    final: dict = {}

    def keep_final(m: torch.nn.Module, epoch: int) -> None:   # after the epoch's training, before validation
        if epoch == cfg.epochs:
            final.update({k: v.detach().clone() for k, v in m.state_dict().items()})

    started = time.perf_counter()
    history = fit(net, windows.X[train], windows.y[train], windows.X[val], windows.y[val], cfg, n_classes,
                  epoch_end=[keep_final], log=log)
    seconds = time.perf_counter() - started
    if len(final) == 0:
        raise RuntimeError(f"{model} fold {fold} seed {seed}: the final epoch's weights were not copied")
    scores = {}
    best = predict_windows(net, windows, test)                 # fit restored the best validation epoch
    write_predictions(out / "best_val" / "predictions.npz", best)
    net.load_state_dict(final)
    last = predict_windows(net, windows, test)
    write_predictions(out / "last" / "predictions.npz", last)
    for name, pred in (("best_val", best), ("last", last)):
        scores[name] = classification_metrics(pred.y_true, pred.y_pred, n_classes)["balanced_accuracy"]
    write_json(out / "history.json", history)
    write_json(out / "run.json", {"model": model, "fold": fold, "seed": seed, "seconds": seconds,
                                  "params": count_params(net), "epochs": cfg.epochs,
                                  "best_epoch": history["best_epoch"],
                                  "best_val_balanced_accuracy": history["best_val_balanced_accuracy"],
                                  "last_val_balanced_accuracy": history["val_balanced_accuracy"][-1],
                                  "test_balanced_accuracy": scores, "n_train": len(train), "n_val": len(val),
                                  "n_test": len(test), "threads": threads})
    print(f"{model} fold {fold} seed {seed}: best epoch {history['best_epoch']}/{cfg.epochs}, test bacc "
          f"best_val {scores['best_val']:.3f}, last {scores['last']:.3f} ({seconds:.0f} s)", flush=True)


# ------------------------------------------------------------------------------------------------------ statistics

def variants(models: list[str]) -> list[tuple[str, str, str | None]]:
    """(key, model, selection) of every scored variant: bandpower_lr once, each deep model per selection."""
    out = []
    for model in models:
        if model == "bandpower_lr":
            out.append(("bandpower_lr", model, None))
        else:
            out += [(f"{model}:{sel}", model, sel) for sel in SELECTIONS]
    return out


def load_runs(workdir: Path, models: list[str], folds: list[int], seeds: list[int], allow_partial: bool):
    """{variant key: {(fold, seed): Predictions}}, {model: {(fold, seed): run.json}}, the folds counted."""
    preds: dict = {}
    infos: dict = {}
    for key, model, sel in variants(models):
        preds[key] = {}
        for fold in folds:
            for seed in seeds:
                d = run_dir(workdir, model, fold, seed)
                if not (d / "run.json").is_file():
                    continue
                infos.setdefault(model, {})[(fold, seed)] = json.loads((d / "run.json").read_text())
                preds[key][(fold, seed)] = read_predictions(d / (sel or ".") / "predictions.npz")
    complete = [f for f in folds if all((f, s) in preds[key] for key in preds for s in seeds)]
    if not allow_partial:
        for key in preds:
            preds[key] = {fs: p for fs, p in preds[key].items() if fs[0] in complete}
        for model in infos:
            infos[model] = {fs: r for fs, r in infos[model].items() if fs[0] in complete}
    return preds, infos, complete


def fmt(est: stats.Estimate, signed: bool = False) -> str:
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(est.mean)} [{f.format(est.low)}, {f.format(est.high)}]"


def est_dict(est: stats.Estimate) -> dict:
    return {"mean": est.mean, "low": est.low, "high": est.high, "n_runs": est.n_runs, "n_subjects": est.n_subjects,
            "n_boot": est.n_boot, "level": est.level}


def compute(preds: dict, infos: dict, models: list[str], n_boot: int, seed: int) -> dict:
    out: dict = {"scores": {}, "per_fold": {}, "deltas": {}, "share_above_chance": {}, "seconds": {}, "epochs": {}}
    for key, runs in preds.items():
        if not runs:
            continue
        pairs = [(fold, p) for (fold, _), p in sorted(runs.items())]
        out["scores"][key] = {m: est_dict(stats.bootstrap_score(pairs, m, n_boot, seed, 0.95)) for m in METRICS}
        per_fold: dict = {}
        for (fold, _), p in sorted(runs.items()):
            per_fold.setdefault(fold, []).append(
                classification_metrics(p.y_true, p.y_pred, p.n_classes)["balanced_accuracy"])
        out["per_fold"][key] = {str(f): statistics.mean(v) for f, v in per_fold.items()}
        scores = stats.subject_scores(pairs, "balanced_accuracy")
        per_subject = scores.groupby("subject")["score"].mean()
        out["share_above_chance"][key] = {"share": stats.share_above_chance(scores, 0.5),
                                          "above": int((per_subject > 0.5).sum()), "subjects": int(len(per_subject))}
    for model, runs in infos.items():
        secs = [r["seconds"] for r in runs.values()]
        out["seconds"][model] = {"mean": statistics.mean(secs), "std": statistics.stdev(secs) if len(secs) > 1 else 0.0,
                                 "n": len(secs), "total": sum(secs)}
        if model != "bandpower_lr":
            best = [r["best_epoch"] for r in runs.values()]
            out["epochs"][model] = {"best_epoch": best, "epochs": runs[next(iter(runs))]["epochs"],
                                    "best_is_last": sum(b == r["epochs"] for b, r in zip(best, runs.values()))}
    comparisons = []
    for model in models:
        if model in DEEP:
            comparisons.append((f"{model}:last", f"{model}:best_val"))
            if "bandpower_lr" in models:
                comparisons += [(f"{model}:{sel}", "bandpower_lr") for sel in SELECTIONS]
    if "labram" in models and "eegnet" in models:
        comparisons += [(f"labram:{sel}", f"eegnet:{sel}") for sel in SELECTIONS]
    for variant, baseline in comparisons:
        common = sorted(set(preds.get(variant, {})) & set(preds.get(baseline, {})))
        if not common:
            continue
        pairs = [(fold, preds[variant][(fold, s)], preds[baseline][(fold, s)]) for fold, s in common]
        out["deltas"][f"{variant} - {baseline}"] = {
            m: est_dict(stats.bootstrap_delta(pairs, m, n_boot, seed, 0.95)) for m in METRICS}
    return out


def label(key: str) -> str:
    model, _, sel = key.partition(":")
    return f"{LABELS.get(model, model)}" + (f" (`{sel}`)" if sel else "")


def markdown(res: dict, folds: list[int], seeds: list[int], complete: list[int], n_windows: int, n_subjects: int,
             wall: float | None) -> str:
    e = lambda d: stats.Estimate(**d)   # noqa: E731
    lines = [f"EEGMAT, {n_subjects} subjects, {n_windows} windows; subject-wise {N_FOLDS}-fold (split seed "
             f"{SPLIT_SEED}, the same partition for every seed and model), training seeds {seeds}; folds counted: "
             f"{complete} of {folds}. Cluster bootstrap over test subjects stratified by fold, {res['n_boot']} "
             f"replicates, seed {res['boot_seed']}, 95 % percentile intervals; chance balanced accuracy 0.5.", ""]
    lines += ["| model (selection) | runs | balanced accuracy [95 % CI] | macro-F1 [95 % CI] | subjects above chance "
              "| balanced accuracy per fold (mean over seeds) |", "|---|---|---|---|---|---|"]
    for key, sc in res["scores"].items():
        share = res["share_above_chance"][key]
        per_fold = ", ".join(f"{v:.3f}" for v in res["per_fold"][key].values())
        lines.append(f"| {label(key)} | {sc['balanced_accuracy']['n_runs']} | {fmt(e(sc['balanced_accuracy']))} | "
                     f"{fmt(e(sc['macro_f1']))} | {share['above']}/{share['subjects']} ({share['share']:.2f}) | "
                     f"{per_fold} |")
    lines += ["", "Paired differences (variant − baseline, same test windows, same subject draws):", "",
              "| difference | pairs | Δ balanced accuracy [95 % CI] | Δ macro-F1 [95 % CI] |", "|---|---|---|---|"]
    for name, d in res["deltas"].items():
        variant, baseline = name.split(" - ")
        lines.append(f"| {label(variant)} − {label(baseline)} | {d['balanced_accuracy']['n_runs']} | "
                     f"{fmt(e(d['balanced_accuracy']), True)} | {fmt(e(d['macro_f1']), True)} |")
    lines += ["", "| model | fits | seconds per fit (mean ± std) | total s | best-validation epoch per run |",
              "|---|---|---|---|---|"]
    for model, s in res["seconds"].items():
        ep = res["epochs"].get(model)
        epochs = (f"{', '.join(map(str, ep['best_epoch']))} (of {ep['epochs']}; = last in {ep['best_is_last']})"
                  if ep else "–")
        lines.append(f"| {LABELS.get(model, model)} | {s['n']} | {s['mean']:.1f} ± {s['std']:.1f} | "
                     f"{s['total']:.0f} | {epochs} |")
    if wall is not None:
        lines += ["", f"Wall time of this invocation: {wall:.0f} s."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/trust_eegmat"))
    parser.add_argument("--data", type=Path, default=None, help="EEGMAT folder (default: the config's root)")
    parser.add_argument("--folds", type=int, nargs="+", default=list(range(N_FOLDS)))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=["bandpower_lr", "eegnet"],
                        choices=["bandpower_lr", "eegnet", "labram"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--boot-seed", type=int, default=0)
    parser.add_argument("--stats-only", action="store_true", help="no training: statistics of the runs on disk")
    parser.add_argument("--allow-partial", action="store_true", help="count folds with missing runs too")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    setup_logging(args.workdir / "bench.log")
    config = yaml.safe_load(CONFIG.read_text())
    started = time.perf_counter()
    h5 = windows_h5(args.workdir, dataset_cfg(config, args.data))
    splits = fold_splits(h5, args.workdir)
    if not args.stats_only:
        if "bandpower_lr" in args.models:
            for fold in args.folds:
                for seed in args.seeds:
                    run_bandpower(args.workdir, h5, splits[fold], config, fold, seed)
        deep = [m for m in args.models if m in DEEP]
        if deep:
            windows = load_windows(h5)
            for model in deep:
                for fold in args.folds:
                    for seed in args.seeds:
                        run_deep(args.workdir, windows, splits[fold], config, model, fold, seed, args.threads)
    preds, infos, complete = load_runs(args.workdir, args.models, args.folds, args.seeds, args.allow_partial)
    res = compute(preds, infos, args.models, args.n_boot, args.boot_seed)
    meta = load_windows(h5, signals=False)
    res.update(n_boot=args.n_boot, boot_seed=args.boot_seed, folds=args.folds, seeds=args.seeds,
               folds_counted=complete, models=args.models, threads=args.threads,
               n_windows=int(len(meta.y)), n_subjects=int(len(set(meta.subject.tolist()))),
               fold_subjects={str(k): json.loads(p.read_text())["subjects"]["test"] for k, p in splits.items()},
               machine=platform.processor() or platform.machine())
    wall = None if args.stats_only else time.perf_counter() - started
    res["wall_s"] = wall
    text = markdown(res, args.folds, args.seeds, complete, res["n_windows"], res["n_subjects"], wall)
    print("\n" + text)
    (args.workdir / "trust_eegmat.md").write_text(text + "\n")
    write_json(args.workdir / "trust_eegmat.json", res)


if __name__ == "__main__":
    main()
