"""Issue 12's ablation: which part of today's transformer recipe keeps it near chance on EEGMAT, and what fixes it.

Data: benchmarks/trust_eegmat.py's EEGMAT-24 windows (configs/eegmat.yaml: 19 channels, 200 Hz, 4 s windows) and
its subject-wise 6-fold partition (split seed 0), so every arm is scored on exactly the test windows the EEGNet
and bandpower_lr runs of that benchmark were scored on, and every comparison is paired.

1. `--pack FILE` (here, where MNE is installed): trust_eegmat's windows.h5 and fold splits -> one .npz (signals
   as float16, a relative rounding of 5e-4, far below the EEG noise) that travels to a GPU machine without MNE.
2. Training (`--data FILE`), jobs spread over `--workers` processes (one thread each; sharing the GPU if any):
   - phase 1, pretraining: for each fold and each masked-modelling target (eegslim.models.masked.TARGETS) the tiny
     encoder is pretrained on the fold's train + val windows (never its test subjects), and a frozen-encoder
     linear probe (mean-pooled features, logistic regression) is scored on the fold's test windows for the
     pretrained and for the same untrained encoder;
   - phase 2, one change at a time against `today` (configs/eegmat.yaml's labram + finetune blocks as they
     were: layer decay 0.65 applied from random init), ARMS in order, every fold x seed;
   - phase 2b (`--pt-arms`), PRETRAINED_ARMS: fine-tuning the phase-1 encoders (augmentation on);
   - CORPUS_ARMS (run only when named in `--pt-arms`): a pretrained arm again, from encoders pretrained on a
     seeded share of the fold's pretraining subjects (the corpus-size curve: probes and fine-tuning vs share);
   - phase 3 (`--combined`): today's recipe with every phase-2 change whose mean paired Δ is > 0 (the best one
     of each exclusive group), from scratch and fine-tuned from encoders pretrained with the target of the best
     linear probe and the combined input settings.
   Each fit runs select best_val with no early stopping and also keeps the final epoch's weights, so a run
   writes two paired predictions (`best_val`, `last`) from one training. No new job starts after `--budget`
   seconds (phase 2 stops at 70 % of it); finished runs are never redone.
3. `--stats-only`: paired cluster-bootstrap CIs (eegslim.stats; test subjects resampled, folds as strata) of every
   arm against `today`, EEGNet (`last`) and bandpower_lr (trust_eegmat's runs in --reference), over the
   folds x seeds every compared arm finished. Markdown to stdout and --workdir/ablation.md, JSON beside it.

Run:
    .venv/bin/python benchmarks/transformer_ablation.py --pack /tmp/ablation/eegmat24.npz \
        --reference /tmp/trust_eegmat                       # after benchmarks/trust_eegmat.py
    python3 benchmarks/transformer_ablation.py --data /tmp/ablation/eegmat24.npz --workdir /tmp/ablation \
        --workers 14 --budget 480 --combined                # GPU machine: phases 1-3
    .venv/bin/python benchmarks/transformer_ablation.py --stats-only --workdir /tmp/ablation \
        --reference /tmp/trust_eegmat
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import multiprocessing as mp
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "eegmat.yaml"
FOLDS, SEEDS = [0, 1, 2, 3], [0, 1, 2]
SELECTIONS = ("best_val", "last")
METRICS = ("balanced_accuracy", "macro_f1")
PRETRAIN = {"epochs": 60, "batch_size": 64, "lr": 1e-3, "mask_ratio": 0.5, "warmup_epochs": 2}

# name -> (what changes against `today`, {"labram": ..., "finetune": ..., "augment": ...} overrides, group).
# Arms of one group are exclusive alternatives: `combined` takes at most one of them.
ARMS = {
    "today": ("configs/eegmat.yaml's recipe (layer decay 0.65 from random init)", {}, None),
    "no_layer_decay": ("layer-wise lr decay off (random init)", {"finetune": {"layer_decay_from_scratch": False}},
                       "layer_decay"),
    "augment": ("time shift ±25 %, amplitude ×[0.8, 1.2], channel dropout 0.1",
                {"augment": {"time_shift": 0.25, "amplitude": 0.2, "channel_dropout": 0.1}}, "augment"),
    "window_z": ("input: each window divided by its RMS", {"labram": {"input_norm": "window_z"}}, "input"),
    "channel_z": ("input: per-window, per-channel z-score", {"labram": {"input_norm": "channel_z"}}, "input"),
    "attention_pool": ("attention-pooling head", {"labram": {"pool": "attention"}}, "pool"),
    "mixup": ("mixup, alpha 0.4", {"augment": {"mixup": 0.4}}, "mixup"),
    "regularise": ("drop path 0.3, weight decay 0.1", {"labram": {"drop_path": 0.3},
                                                       "finetune": {"weight_decay": 0.1}}, "regularise"),
    "patch_100": ("0.5 s patches (100 samples)", {"labram": {"patch_size": 100}}, "patch"),
    "depth_4": ("4 blocks instead of 2", {"labram": {"depth": 4}}, "capacity"),
    "lr_3e-4": ("lr 3e-4 instead of 1e-3", {"finetune": {"lr": 3e-4}}, "lr"),
    "epochs_40": ("40 epochs instead of 20", {"finetune": {"epochs": 40}}, "epochs"),
}
TARGETS = ("amplitude_phase", "amplitude", "amplitude_cossin")
AUGMENT = ARMS["augment"][1]
# Fine-tuning from the phase-1 encoders: name -> (what changes against `today`, changes, pretraining target).
PRETRAINED_ARMS = {
    "pt_amplitude_phase": ("augment; encoder pretrained on LaBraM's amplitude + phase", [AUGMENT], "amplitude_phase"),
    "pt_amplitude": ("augment; encoder pretrained on amplitude only", [AUGMENT], "amplitude"),
    "pt_cossin": ("augment; encoder pretrained on amplitude + amplitude-weighted cos/sin", [AUGMENT],
                  "amplitude_cossin"),
    "pt_cossin_no_layer_decay": ("pt_cossin without layer decay", [AUGMENT, {"finetune": {"layer_decay": None}}],
                                 "amplitude_cossin"),
    "pt_cossin_strong_augment": ("pt_cossin with time shift ±50 %, amplitude ×[0.7, 1.3], channel dropout 0.2",
                                 [{"augment": {"time_shift": 0.5, "amplitude": 0.3, "channel_dropout": 0.2}}],
                                 "amplitude_cossin"),
    "pt_cossin_epochs_40": ("pt_cossin with 40 fine-tuning epochs", [AUGMENT, {"finetune": {"epochs": 40}}],
                            "amplitude_cossin"),
}
# The corpus-size curve: name -> (the pretrained arm it repeats, the share of the fold's pretraining subjects kept).
CORPUS_ARMS = {f"pt_cossin_epochs_40_corpus{share:g}": ("pt_cossin_epochs_40", share) for share in (0.25, 0.5)}
log = logging.getLogger("eegslim.bench")


# ----------------------------------------------------------------------------------------------------- the recipe

EPOCHS: int | None = None      # --epochs: every arm's epoch budget (smoke tests); None = the recipe's


def base_recipe() -> dict:
    config = yaml.safe_load(CONFIG.read_text())
    labram = {k: v for k, v in config["labram"].items() if k not in ("init", "pretrained_path")}
    finetune = {**config["finetune"], "layer_decay_from_scratch": True, **({"epochs": EPOCHS} if EPOCHS else {})}
    return {"labram": labram, "finetune": finetune, "augment": {}}


def recipe(changes: list[dict]) -> dict:
    out = base_recipe()
    for change in changes:
        for block, values in change.items():
            out[block] = {**out[block], **copy.deepcopy(values)}
    return out


# ------------------------------------------------------------------------------------------------------------ data

def pack(reference: Path, out: Path) -> None:
    from eegslim.store import load_windows

    windows = load_windows(reference / "eegmat" / "windows.h5")
    splits = {k: json.loads((reference / "eegmat" / "splits" / f"fold{k}.json").read_text()) for k in range(6)}
    save_pack(out, windows, splits)
    print(f"{out}: {out.stat().st_size / 2**20:.1f} MiB, X {windows.X.shape}")


def save_pack(out: Path, windows, splits: dict[int, dict]) -> None:
    """Windows (signals as float16) and {fold: split} with their train/val/test rows, as one .npz (`Data` reads it)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, X=windows.X.astype(np.float16), y=windows.y, subject=windows.subject, recording=windows.recording,
             sfreq=windows.sfreq, ch_names=np.array(windows.ch_names), class_names=np.array(windows.class_names),
             splits=json.dumps({str(k): {p: s[p] for p in ("train", "val", "test")} for k, s in splits.items()}))


class Data:
    """The packed windows (X float32 (n, C, T), labels, subjects) and {fold: {part: rows}}."""

    def __init__(self, path: Path):
        z = np.load(path)
        self.X = z["X"].astype(np.float32)
        self.y, self.subject, self.recording = z["y"], z["subject"], z["recording"]
        self.sfreq, self.ch_names = float(z["sfreq"]), [str(c) for c in z["ch_names"]]
        self.class_names = [str(c) for c in z["class_names"]]
        self.splits = {int(k): {p: np.asarray(v, dtype=np.int64) for p, v in parts.items()}
                       for k, parts in json.loads(str(z["splits"])).items()}


# ------------------------------------------------------------------------------------------------------- the jobs

def run_dir(workdir: Path, arm: str, fold: int, seed: int) -> Path:
    return workdir / "runs" / arm / f"fold{fold}-seed{seed}"


def encoder_dir(workdir: Path, key: str, fold: int) -> Path:
    return workdir / "pretrain" / key / f"fold{fold}"


def pretrain_key(target: str, labram: dict, corpus: float = 1.0) -> str:
    extra = [f"{k}{labram[k]}" for k in ("input_norm", "patch_size") if labram.get(k) not in (None, "none", 200)]
    return "-".join([target, *extra, *([f"corpus{corpus:g}"] if corpus < 1 else [])])


def corpus_rows(data: Data, fold: int, part: str, corpus: float) -> np.ndarray:
    """The fold's `part` rows of a seeded `corpus` share of its subjects (at least one; all when corpus is 1)."""
    rows = data.splits[fold][part]
    if corpus >= 1:
        return rows
    subjects = np.unique(data.subject[rows])
    keep = np.random.default_rng(fold).choice(subjects, max(1, round(corpus * len(subjects))), replace=False)
    return rows[np.isin(data.subject[rows], keep)]


def build(data: Data, model_cfg: dict, seed: int, model: str = "labram"):
    from eegslim.models import arch_for, build_model

    arch = arch_for(model, dict(model_cfg), data.X.shape[1], data.X.shape[2], len(data.class_names), data.sfreq,
                    data.ch_names)
    torch.manual_seed(seed)
    np.random.seed(seed)
    return build_model(arch)


@torch.no_grad()
def features(net, X: np.ndarray, device) -> np.ndarray:
    """Frozen-encoder features (n, E): fc_norm of the mean patch token (the fine-tuning model's pooled vector)."""
    net.eval().to(device)
    return torch.cat([net.forward_features(torch.as_tensor(X[i:i + 256]).to(device)).float().cpu()
                      for i in range(0, len(X), 256)]).numpy()


def linear_probe(data: Data, fold: int, net, device) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    split = data.splits[fold]
    fit_rows = np.concatenate([split["train"], split["val"]])
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced"))
    probe.fit(features(net, data.X[fit_rows], device), data.y[fit_rows])
    test = split["test"]
    return float(balanced_accuracy_score(data.y[test], probe.predict(features(net, data.X[test], device))))


def pretrain_job(data: Data, workdir: Path, target: str, labram: dict, fold: int, settings: dict, corpus: float,
                 device) -> None:
    from safetensors.torch import save_file

    from eegslim.atomic import write_json
    from eegslim.models.labram import Labram
    from eegslim.models.masked import MaskedEEGModel, encoder_arch, encoder_config, encoder_state, load_encoder
    from eegslim.pretrain import PretrainConfig, patch_windows, pretrain

    out = encoder_dir(workdir, pretrain_key(target, labram, corpus), fold)
    if (out / "history.json").is_file():
        return
    started = time.perf_counter()
    size = labram["size"]
    cfg = PretrainConfig.from_dict({**settings, "target": target, "device": str(device)})
    encoder_fields = {k: labram[k] for k in ("patch_size", "input_norm", "depth") if k in labram}
    sets = {part: [patch_windows("eegmat", data.X[corpus_rows(data, fold, part, corpus)], data.sfreq, data.ch_names,
                                 encoder_fields.get("patch_size", 200), cfg.sfreq, 16)] for part in ("train", "val")}
    sets["train"][0].X = torch.cat([sets["train"][0].X, sets["val"][0].X])          # unlabelled: train + val
    torch.manual_seed(0)
    model = MaskedEEGModel(Labram(encoder_config(size, drop_path=0.0, **encoder_fields)), target)
    history = pretrain(model, sets["train"], sets["val"], cfg)
    model.cpu()
    out.mkdir(parents=True, exist_ok=True)
    save_file(encoder_state(model), str(out / "model.safetensors"))
    write_json(out / "arch.json", encoder_arch(model.encoder.cfg, size))
    untrained = build(data, labram, 0)
    probe_untrained = linear_probe(data, fold, untrained, device)
    trained = build(data, labram, 0)
    load_encoder(trained, out)
    probe_pretrained = linear_probe(data, fold, trained, device)
    history.update(seconds_total=time.perf_counter() - started, probe_untrained=probe_untrained,
                   probe_pretrained=probe_pretrained, settings=settings, target=target, labram=labram, corpus=corpus)
    write_json(out / "history.json", history)
    print(f"pretrain {pretrain_key(target, labram, corpus)} fold {fold}: loss {history['train_loss'][0]:.3f} -> "
          f"{history['train_loss'][-1]:.3f}, probe untrained {probe_untrained:.3f} pretrained "
          f"{probe_pretrained:.3f} ({history['seconds_total']:.0f} s)", flush=True)


def finetune_job(data: Data, workdir: Path, arm: str, spec: dict, fold: int, seed: int, device) -> None:
    from eegslim.atomic import write_json
    from eegslim.metrics import classification_metrics
    from eegslim.models.masked import load_encoder
    from eegslim.predictions import write_predictions
    from eegslim.store import Windows
    from eegslim.train import TrainConfig, fit, init_settings, predict_windows

    out = run_dir(workdir, arm, fold, seed)
    if (out / "run.json").is_file():
        return
    pretrained, model = spec.get("pretrained"), spec.get("model", "labram")
    train_cfg = {**init_settings(spec["finetune"], pretrained=bool(pretrained)), "augment": spec["augment"] or None}
    cfg = TrainConfig.from_dict({**train_cfg, "select": "best_val", "patience": None, "seed": seed,
                                 "device": str(device), "num_threads": 1})
    split = data.splits[fold]
    net = build(data, spec[model], seed, model)
    if pretrained:
        load_encoder(net, encoder_dir(workdir, pretrained, fold))
    final: dict = {}

    def keep_final(m, epoch: int) -> None:
        if epoch == cfg.epochs:
            final.update({k: v.detach().clone() for k, v in m.state_dict().items()})

    started = time.perf_counter()
    n_classes = len(data.class_names)
    history = fit(net, data.X[split["train"]], data.y[split["train"]], data.X[split["val"]], data.y[split["val"]],
                  cfg, n_classes, epoch_end=[keep_final], log=log)
    seconds = time.perf_counter() - started
    windows = Windows(X=data.X, y=data.y, subject=data.subject, session=data.subject, recording=data.recording,
                      fold=data.subject, sfreq=data.sfreq, ch_names=data.ch_names, class_names=data.class_names)
    scores = {}
    for name in SELECTIONS:
        if name == "last":
            net.load_state_dict(final)
        pred = predict_windows(net, windows, split["test"])
        write_predictions(out / name / "predictions.npz", pred)
        scores[name] = classification_metrics(pred.y_true, pred.y_pred, n_classes)["balanced_accuracy"]
    write_json(out / "history.json", history)
    write_json(out / "run.json", {"arm": arm, "fold": fold, "seed": seed, "seconds": seconds, "device": str(device),
                                  "recipe": spec, "best_epoch": history["best_epoch"],
                                  "test_balanced_accuracy": scores})
    print(f"{arm} fold {fold} seed {seed}: best_val {scores['best_val']:.3f} last {scores['last']:.3f} "
          f"({seconds:.0f} s)", flush=True)


def worker(data_path: Path, workdir: Path, jobs, results, device_name: str) -> None:
    torch.set_num_threads(1)
    device = torch.device(device_name)
    data = Data(data_path)
    while (job := jobs.get()) is not None:
        kind, args = job
        try:
            if kind == "pretrain":
                pretrain_job(data, workdir, *args, device)
            else:
                finetune_job(data, workdir, *args, device)
            results.put((job, None))
        except Exception as err:  # noqa: BLE001 - reported, the other jobs go on
            results.put((job, repr(err)))


class Pool:
    """Worker processes fed from one queue; `run(jobs, deadline)` starts no job after `deadline` (perf_counter)."""

    def __init__(self, n: int, data: Path, workdir: Path, device: str):
        ctx = mp.get_context("spawn")
        self.jobs, self.results = ctx.Queue(), ctx.Queue()
        self.procs = [ctx.Process(target=worker, args=(data, workdir, self.jobs, self.results, device))
                      for _ in range(n)]
        for p in self.procs:
            p.start()
        self.n = n

    def run(self, jobs: list, deadline: float) -> None:
        pending, busy = list(jobs), 0
        while pending or busy:
            while pending and busy < self.n and time.perf_counter() < deadline:
                self.jobs.put(pending.pop(0))
                busy += 1
            if busy == 0:
                print(f"deadline: {len(pending)} jobs not started", flush=True)
                return
            job, err = self.results.get()
            busy -= 1
            if err:
                print(f"FAILED {job}: {err}", flush=True)

    def close(self) -> None:
        for _ in self.procs:
            self.jobs.put(None)
        for p in self.procs:
            p.join()


def mean_deltas(workdir: Path, arms: list[str]) -> dict[str, float]:
    """Mean paired Δ of `last` balanced accuracy against today over the runs both finished (for `combined`)."""
    def scores(arm):
        out = {}
        for f in (workdir / "runs" / arm).glob("*/run.json"):
            r = json.loads(f.read_text())
            out[(r["fold"], r["seed"])] = r["test_balanced_accuracy"]["last"]
        return out
    today = scores("today")
    out = {}
    for arm in arms:
        own = scores(arm)
        common = sorted(set(own) & set(today))
        if common:
            out[arm] = statistics.mean(own[k] - today[k] for k in common)
    return out


def combined_changes(deltas: dict[str, float]) -> list[str]:
    """The best arm of each group whose mean Δ against today is > 0."""
    best: dict[str, str] = {}
    for arm, delta in deltas.items():
        group = ARMS[arm][2]
        if group and delta > 0 and (group not in best or delta > deltas[best[group]]):
            best[group] = arm
    return sorted(best.values(), key=list(ARMS).index)


def train_all(args) -> None:
    started = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    pool = Pool(args.workers, args.data, args.workdir, device)
    budget_end = started + args.budget
    try:
        base = base_recipe()["labram"]
        corpora = {a: CORPUS_ARMS.get(a, (a, 1.0)) for a in args.pt_arms}  # arm -> (pretrained arm, share)
        encoders = sorted({(t, 1.0) for t in args.targets}
                          | {(PRETRAINED_ARMS[arm][2], share) for arm, share in corpora.values()})
        pool.run([("pretrain", (t, base, f, PRETRAIN, share)) for t, share in encoders for f in args.folds],
                 budget_end)
        arms = {a: recipe([ARMS[a][1]]) for a in args.arms}
        arms.update({a: {**recipe(PRETRAINED_ARMS[arm][1]), "pretrained": pretrain_key(PRETRAINED_ARMS[arm][2], base,
                                                                                         share)}
                     for a, (arm, share) in corpora.items()})
        jobs = [("finetune", (a, spec, f, s)) for a, spec in arms.items() for f in args.folds for s in args.seeds]
        pool.run(jobs, started + 0.7 * args.budget)
        deltas = mean_deltas(args.workdir, [a for a in args.arms if a != "today"])
        chosen = combined_changes(deltas)
        print(f"mean Δ vs today: { {k: round(v, 3) for k, v in deltas.items()} }; combined = {chosen}", flush=True)
        if chosen and args.combined:
            spec = recipe([ARMS[a][1] for a in chosen])
            probes = {t: [json.loads(p.read_text()).get("probe_pretrained", 0) for p in
                          (args.workdir / "pretrain" / pretrain_key(t, base)).glob("*/history.json")]
                      for t in args.targets}
            target = max(probes, key=lambda t: statistics.mean(probes[t]) if probes[t] else 0)
            key = pretrain_key(target, spec["labram"])
            pool.run([("pretrain", (target, spec["labram"], f, PRETRAIN, 1.0)) for f in args.folds], budget_end)
            jobs = [("finetune", (name, s, f, seed)) for name, s in
                    (("combined", spec), ("combined_pt", {**spec, "pretrained": key}))
                    for f in args.folds for seed in args.seeds]
            pool.run(jobs, budget_end)
            (args.workdir / "combined.json").write_text(json.dumps({"changes": chosen, "deltas": deltas,
                                                                    "target": target, "recipe": spec}, indent=1))
    finally:
        pool.close()
    print(f"wall {time.perf_counter() - started:.0f} s", flush=True)


# ------------------------------------------------------------------------------------------------------ statistics

def load_preds(root: Path, name: str, sel: str | None, folds, seeds) -> dict:
    from eegslim.predictions import read_predictions

    out = {}
    for f in folds:
        for s in seeds:
            path = root / "runs" / name / f"fold{f}-seed{s}" / (sel or ".") / "predictions.npz"
            if path.is_file():
                out[(f, s)] = read_predictions(path)
    return out


def statistics_tables(args) -> str:
    from eegslim import stats

    def fmt(e, signed=False):
        f = "{:+.3f}" if signed else "{:.3f}"
        return f"{f.format(e.mean)} [{f.format(e.low)}, {f.format(e.high)}]"

    arms = sorted({p.name for p in (args.workdir / "runs").iterdir()},
                  key=lambda a: (list(ARMS).index(a) if a in ARMS else len(ARMS), a))
    preds = {a: load_preds(args.workdir, a, "last", args.folds, args.seeds) for a in arms}
    preds["today:best_val"] = load_preds(args.workdir, "today", "best_val", args.folds, args.seeds)
    refs = {"EEGNet": load_preds(args.reference, "eegnet", "last", args.folds, args.seeds),
            "bandpower_lr": load_preds(args.reference, "bandpower_lr", None, args.folds, args.seeds)}
    seconds = {}
    for a in arms:
        secs = [json.loads(p.read_text())["seconds"] for p in (args.workdir / "runs" / a).glob("*/run.json")]
        seconds[a] = statistics.mean(secs) if secs else float("nan")

    def delta(a: dict, b: dict, metric="balanced_accuracy"):
        common = sorted(set(a) & set(b))
        if not common:
            return None
        return stats.bootstrap_delta([(f, a[(f, s)], b[(f, s)]) for f, s in common], metric, args.n_boot, 0, 0.95)

    lines = ["| arm | what changed | runs | balanced accuracy [95 % CI] | Δ vs today | Δ vs EEGNet | "
             "Δ vs bandpower_lr | s per fit |", "|---|---|---|---|---|---|---|---|"]
    result = {}
    for a in arms + ["today:best_val"]:
        p = preds[a]
        if not p:
            continue
        score = stats.bootstrap_score([(f, x) for (f, _), x in sorted(p.items())], "balanced_accuracy",
                                      args.n_boot, 0, 0.95)
        d = {"today": delta(p, preds.get("today", {})), "EEGNet": delta(p, refs["EEGNet"]),
             "bandpower_lr": delta(p, refs["bandpower_lr"])}
        result[a] = {"score": dataclasses.asdict(score), **{k: dataclasses.asdict(v) if v else None for k, v in d.items()}}
        what = {**{k: v[0] for k, v in {**ARMS, **PRETRAINED_ARMS}.items()},
                **{k: f"{arm}, encoder pretrained on {share:.0%} of the subjects" for k, (arm, share) in
                   CORPUS_ARMS.items()},
                "today:best_val": "today, best-validation epoch kept"}.get(a, "see combined.json")
        lines.append(f"| {a} | {what} | {score.n_runs} | {fmt(score)} | "
                     + " | ".join(fmt(v, True) if v else "–" for v in d.values())
                     + f" | {seconds.get(a.split(':')[0], float('nan')):.0f} |")
    if "combined" in preds and "combined_pt" in preds:
        d = delta(preds["combined_pt"], preds["combined"])
        if d:
            lines += ["", f"Pretraining (combined_pt − combined, paired): {fmt(d, True)} over {d.n_runs} runs."]
            result["pretrain_delta"] = dataclasses.asdict(d)
    for a, (arm, share) in CORPUS_ARMS.items():
        d = delta(preds.get(a, {}), preds.get(arm, {}))
        if d:
            lines += ["", f"Pretraining corpus ({a} − {arm}, paired): {fmt(d, True)} over {d.n_runs} runs."]
            result[f"corpus_delta_{share:g}"] = dataclasses.asdict(d)
    probes = {}
    for h in sorted((args.workdir / "pretrain").glob("*/fold*/history.json")):
        r = json.loads(h.read_text())
        probes.setdefault(h.parent.parent.name, []).append(r)
    if probes:
        lines += ["", "| pretraining | folds | loss first → last epoch | linear probe: untrained | pretrained | s |",
                  "|---|---|---|---|---|---|"]
        for key, runs in probes.items():
            m = lambda k: statistics.mean(r[k] for r in runs)   # noqa: E731
            lines.append(f"| {key} | {len(runs)} | {statistics.mean(r['train_loss'][0] for r in runs):.3f} → "
                         f"{statistics.mean(r['train_loss'][-1] for r in runs):.3f} | {m('probe_untrained'):.3f} | "
                         f"{m('probe_pretrained'):.3f} | {m('seconds_total'):.0f} |")
        result["probes"] = {k: [{"loss": r["train_loss"], "val_loss": r["val_loss"], "probe_untrained":
                                 r["probe_untrained"], "probe_pretrained": r["probe_pretrained"]} for r in v]
                            for k, v in probes.items()}
    text = "\n".join(lines)
    (args.workdir / "ablation.md").write_text(text + "\n")
    (args.workdir / "ablation.json").write_text(json.dumps(result, indent=1, default=str))
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ablation"))
    parser.add_argument("--pack", type=Path, help="write the packed windows here and stop")
    parser.add_argument("--data", type=Path, help="the packed windows to train from")
    parser.add_argument("--reference", type=Path, default=Path("/tmp/trust_eegmat"),
                        help="benchmarks/trust_eegmat.py's workdir (windows, splits, EEGNet and bandpower_lr runs)")
    parser.add_argument("--arms", nargs="*", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--pt-arms", nargs="*", default=list(PRETRAINED_ARMS),
                        choices=[*PRETRAINED_ARMS, *CORPUS_ARMS], help="CORPUS_ARMS run only when named")
    parser.add_argument("--combined", action="store_true", help="phase 3 after the single changes")
    parser.add_argument("--targets", nargs="*", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--folds", type=int, nargs="+", default=FOLDS)
    parser.add_argument("--seeds", type=int, nargs="+", default=SEEDS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu"])
    parser.add_argument("--budget", type=float, default=3600.0, help="seconds after which no job starts")
    parser.add_argument("--stats-only", action="store_true")
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--epochs", type=int, help="smoke test: this epoch budget for fine-tuning and pretraining")
    args = parser.parse_args()
    if args.epochs:
        global EPOCHS
        EPOCHS = PRETRAIN["epochs"] = args.epochs
    if args.pack:
        pack(args.reference, args.pack)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    if not args.stats_only:
        logging.basicConfig(level=logging.WARNING)
        train_all(args)
    if (args.workdir / "runs").is_dir() and args.reference.is_dir():
        print(statistics_tables(args))


if __name__ == "__main__":
    main()
