"""EEGMAT rest vs arithmetic: EEGNet, the transformer from scratch, and the transformer pretrained on other data.

1. EEGMAT (../shared/data/eegmat, every SubjectNN_{1,2}.edf on disk: 48 recordings of subjects 00-23 today)
   through eegslim's `preprocess` stage with the `folder` adapter: 19 EEG channels, 0.5–45 Hz, 50 Hz notch,
   200 Hz, 4 s windows.
2. Pretraining corpus, other real recordings only (never EEGMAT): EEGMMIDB subject S001 runs R01–R14 (64 ch,
   160 Hz) and the EEGLAB tutorial recording (32 ch, 128 Hz), through the same stage (0.5–45 Hz at their own
   rates, 4 s windows, resampled to 200 Hz patches for pretraining), every window used. The tiny transformer is pretrained once (masked modelling, `eegslim.pretrain`).
3. Per seed s (split seed = training seed = s): a subject-wise split of EEGMAT (25 % test, 20 % val subjects),
   then `train.run` for eegnet (config.yaml `train`), labram from random init and labram_pt from the pretrained
   encoder (config.yaml `finetune`). Test balanced accuracy, mean ± std over seeds.

4. The report page of the comparison (--workdir/report.html, tables in --workdir/tables): the three models beside
   the chance level, with the pretraining loss curve, as the pipeline's `report` rule draws them.

Run (from the repository root; prints Markdown; outputs under --workdir):
    .venv/bin/python benchmarks/pretrain_eegmat.py --seeds 0 1 2 --workdir /tmp/eegmat_bench
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path

import torch
import yaml

from eegslim.logs import setup_logging
from eegslim.pretrain import PretrainConfig, patch_windows
from eegslim.stages import preprocess, report, split, train
from eegslim.stages.pretrain import pretrain_and_save
from eegslim.store import load_windows

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
FILTER = {"sfreq": 200, "l_freq": 0.5, "h_freq": 45.0, "window_s": 4, "stride_s": 4}
EEGMAT = {"adapter": "folder", "root": str(DATA / "eegmat"), "channels": None, "notch": 50.0, **FILTER,
          "options": {"label_from": "path", "label_regex": r"_(?P<label>[12])\.edf$",
                      "label_map": {"1": "rest", "2": "arithmetic"}, "classes": ["rest", "arithmetic"],
                      "subject_regex": r"Subject(?P<subject>\d+)"}}  # fmt: skip
# The corpus keeps each recording's own rate (preprocess refuses to upsample); patch_windows resamples to 200 Hz.
CORPUS = {
    "eegmmidb_S001": {"adapter": "folder", "root": str(DATA / "eegmmidb" / "S001"), "channels": None, "notch": None,
                      **FILTER, "sfreq": 160, "options": {"label_from": "path", "label_regex": r"R(?P<label>\d+)\.edf$",
                                  "classes": [f"{r:02d}" for r in range(1, 15)]}},
    "eeglab_tutorial": {"adapter": "folder", "root": str(DATA / "formats" / "eeglab"), "channels": None,
                        "notch": None, **FILTER, "sfreq": 128,
                        "options": {"label_from": "path", "label_regex": r"(?P<label>test)_raw\.set$",
                                    "classes": ["test"]}},
}  # fmt: skip
PRETRAIN = {"epochs": 10, "batch_size": 32, "lr": 0.001, "weight_decay": 0.05, "warmup_epochs": 1}
log = logging.getLogger("eegslim.bench")


def windows(name: str, cfg: dict, workdir: Path) -> Path:
    out = workdir / name / "windows.h5"
    if not out.is_file():
        preprocess.run(name, cfg, out, workdir / name / "summary.json")
    return out


def pretrain_corpus(workdir: Path, size: str) -> dict:
    out = workdir / "pretrain" / size
    if (out / "history.json").is_file():
        return json.loads((out / "history.json").read_text())
    cfg = PretrainConfig.from_dict(PRETRAIN)
    sets = []
    for name, ds_cfg in CORPUS.items():
        w = load_windows(windows(name, ds_cfg, workdir))
        sets.append(patch_windows(name, w.X, w.sfreq, list(w.ch_names), 200, cfg.sfreq, 16))
    return pretrain_and_save(sets, [], out, size, {"patch_size": 200}, PRETRAIN, seed=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/eegmat_bench"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--pretrain-epochs", type=int, default=PRETRAIN["epochs"])
    parser.add_argument("--finetune-epochs", type=int, default=None, help="default: config.yaml's")
    args = parser.parse_args()
    PRETRAIN["epochs"] = args.pretrain_epochs
    if not (DATA / "eegmat").is_dir():
        raise SystemExit(f"{DATA}: recordings not found (they live in ../shared/data beside the repo)")
    torch.set_num_threads(args.threads)
    setup_logging(args.workdir / "bench.log")
    args.workdir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    if args.finetune_epochs:
        for key in ("train", "finetune"):
            config[key] = {**config[key], "epochs": args.finetune_epochs}
    started = time.perf_counter()
    history = pretrain_corpus(args.workdir, args.size)
    h5 = windows("eegmat", EEGMAT, args.workdir)
    labram = {"size": args.size, "patch_size": 200, "pretrained_path": None}
    runs = {"eegnet": ({**config["eegnet"]}, config["train"], None),
            "labram": ({**labram, "init": "random"}, config["finetune"], None),
            "labram_pt": ({**labram, "init": "pretrained"}, config["finetune"],
                          args.workdir / "pretrain" / args.size / "model.safetensors")}
    records: dict[str, list[dict]] = {m: [] for m in runs}
    for seed in args.seeds:
        split_json = args.workdir / "eegmat" / f"splits_seed{seed}.json"
        split.run(h5, split_json, val_fraction=0.2, test_fraction=0.25, seed=seed)
        for model, (model_cfg, train_cfg, pretrained) in runs.items():
            record = train.run("eegmat", model, h5, split_json, args.workdir / "eegmat" / model / f"seed{seed}",
                               model_cfg, train_cfg, seed, pretrained=pretrained)
            records[model].append(record)
            print(f"seed {seed} {model}: test balanced accuracy {record['balanced_accuracy']:.3f}", flush=True)
    print(f"\npretraining ({args.size}) on {', '.join(history['datasets'])}: {history['windows']} windows, "
          f"loss {history['train_loss'][0]:.3f} (epoch 1) -> {history['train_loss'][-1]:.3f} "
          f"(epoch {len(history['train_loss'])}); losses {[round(v, 3) for v in history['train_loss']]}")
    print(f"total {time.perf_counter() - started:.0f} s\n")
    print(f"chance: balanced accuracy 0.5, accuracy of the majority class {records['eegnet'][0]['chance_accuracy']:.3f}"
          " (first seed's test split)\n")
    print("| model | balanced accuracy | accuracy | macro-F1 | balanced accuracy per seed |")
    print("|---|---|---|---|---|")
    for model, seeds in records.items():
        cells = [mean_std([r[key] for r in seeds]) for key in ("balanced_accuracy", "accuracy", "macro_f1")]
        per_seed = ", ".join(f"{r['balanced_accuracy']:.3f}" for r in seeds)
        print(f"| {model} | {' | '.join(cells)} | {per_seed} |")
    write_report(args.workdir, history, args.size, args.seeds)


def mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.mean(values):.3f} ± {std:.3f}"


def write_report(workdir: Path, history: dict, size: str, seeds: list[int]) -> None:
    """The comparison as the pipeline's report page: workdir/report.html and workdir/tables/*.csv."""
    corpus = ", ".join(history["datasets"])
    labels = {"eegnet": "EEGNet, trained from scratch", "labram": f"transformer ({size}) from scratch",
              "labram_pt": f"transformer ({size}) pretrained on {corpus} (not EEGMAT) + fine-tuned"}
    metrics = [str(workdir / "eegmat" / model / f"seed{seed}" / "metrics.json") for model in labels for seed in seeds]
    report.run(metrics, {"eegmat": {"summary": str(workdir / "eegmat" / "summary.json"),
                                    "split": str(workdir / "eegmat" / f"splits_seed{seeds[0]}.json")}},
               workdir / "report.html", workdir / "tables", {"accuracy_budget": 0.01},
               pretrain_histories=[str(workdir / "pretrain" / size / "history.json")], model_labels=labels)
    print(f"\nreport: {workdir / 'report.html'}")

if __name__ == "__main__":
    main()
