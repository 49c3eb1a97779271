"""Training throughput: eegslim's loop (`eegslim.train.fit`) vs a bare PyTorch loop, same tensors and model.

For EEGNet also eegslim's loop on the module path (what training ran before the spatial-first block of
`eegslim.models.spatial_first`), how far the two paths' trained models end apart (max |Δ logit| on the
validation windows after the same seeded run), and prediction: `eegslim.train.predict_logits` (inference mode,
spatial-first) against the same model's modules under `no_grad` (what it ran before), on the training windows.

Both train the same freshly initialised model (EEGNet-8,2 and the tiny transformer) on the same in-memory
tensors (EEG-like shape: 19 channels × 800 samples at 200 Hz, 2 classes) with AdamW, batch 32, the same
number of epochs. The bare loop is what a user would write: shuffle, forward, cross-entropy, backward, step
(plus EEGNet's max-norm, part of the model's recipe). eegslim's loop adds the LR schedule, class weights,
per-epoch validation on 32 windows, best-state copies and deterministic kernels. One warm-up run each, then
interleaved repeats (order alternating); windows/s = training windows × epochs / wall time; median reported.

Run (from the repository root; prints a Markdown table):
    .venv/bin/python benchmarks/train_throughput.py --repeats 5
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from eegslim.models import arch_for, build_model, spatial_first
from eegslim.train import TrainConfig, fit, predict_logits

CH = ["Fp1", "Fp2", "F3", "F4", "F7", "F8", "T3", "T4", "C3", "C4", "T5", "T6", "P3", "P4", "O1", "O2", "Fz", "Cz",
      "Pz"]  # fmt: skip
N_TRAIN, N_VAL, N_TIMES, SFREQ, BATCH, EPOCHS = 512, 32, 800, 200.0, 32, 2
MODELS = {"eegnet": {}, "labram": {"size": "tiny"}}


def data(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_TRAIN + N_VAL, len(CH), N_TIMES)).astype(np.float32)
    y = rng.integers(0, 2, N_TRAIN + N_VAL)
    return torch.from_numpy(X[:N_TRAIN]), torch.from_numpy(y[:N_TRAIN]), X[N_TRAIN:], y[N_TRAIN:]


def fresh(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(arch_for(name, MODELS[name], len(CH), N_TIMES, 2, SFREQ, CH))


def train_eegslim(name, X, y, Xv, yv) -> tuple[torch.nn.Module, float]:
    """The trained model and the wall time of `fit`."""
    model = fresh(name)
    cfg = TrainConfig(epochs=EPOCHS, batch_size=BATCH, lr=1e-3, weight_decay=0.01, warmup_epochs=1,
                      layer_decay=0.65 if name == "labram" else None, class_weights=True, device="cpu")
    start = time.perf_counter()
    fit(model, X, y, Xv, yv, cfg, 2)
    return model, time.perf_counter() - start


def run_eegslim(name, X, y, Xv, yv) -> float:
    return train_eegslim(name, X, y, Xv, yv)[1]


@contextlib.contextmanager
def module_path():
    """EEGNet's first block on its modules (what training ran before `eegslim.models.spatial_first`)."""
    applies = spatial_first.applies
    spatial_first.applies = lambda *args: False
    try:
        yield
    finally:
        spatial_first.applies = applies


def run_module_path(name, X, y, Xv, yv) -> float:
    """eegslim's loop with the spatial-first block switched off."""
    with module_path():
        return run_eegslim(name, X, y, Xv, yv)


def path_difference(X, y, Xv, yv) -> float:
    """Max |Δ logit| on the validation windows between EEGNet trained spatial-first and on the module path."""
    fast = train_eegslim("eegnet", X, y, Xv, yv)[0]
    with module_path():
        slow = train_eegslim("eegnet", X, y, Xv, yv)[0]
    with torch.no_grad():
        return float((fast.eval()(torch.from_numpy(Xv)) - slow.eval()(torch.from_numpy(Xv))).abs().max())


def prediction(X, repeats: int) -> tuple[list[float], list[float], float]:
    """EEGNet windows/s of `predict_logits` and of the module path (interleaved repeats), and their max |Δ logit|."""
    model = fresh("eegnet").eval()
    runs = {"fast": lambda: predict_logits(model, X), "modules": lambda: _predict_modules(model, X)}
    rates: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(repeats + 1):  # the first round warms up
        for key in list(runs)[:: 1 if r % 2 == 0 else -1]:
            start = time.perf_counter()
            runs[key]()
            if r:
                rates[key].append(len(X) / (time.perf_counter() - start))
    return rates["fast"], rates["modules"], float((runs["fast"]() - runs["modules"]()).abs().max())


@torch.no_grad()
def _predict_modules(model: torch.nn.Module, X: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    return torch.cat([model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


def run_bare(name, X, y, Xv, yv) -> float:
    model = fresh(name)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    generator = torch.Generator().manual_seed(0)
    constrain = getattr(model, "apply_constraints", None)
    start = time.perf_counter()
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(X), generator=generator)
        for s in range(0, len(X) - BATCH + 1, BATCH):
            idx = order[s:s + BATCH]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if constrain is not None:
                constrain()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, y, Xv, yv = data()
    loops = {"eegslim fit": run_eegslim, "eegslim fit, module path (before)": run_module_path,
             "bare PyTorch": run_bare}
    windows = N_TRAIN // BATCH * BATCH * EPOCHS
    print(f"{N_TRAIN} train windows of {len(CH)}×{N_TIMES}, batch {BATCH}, {EPOCHS} epochs, "
          f"{args.threads} threads, {args.repeats} interleaved repeats\n")
    print("| model | loop | median windows/s | runs (windows/s) | ratio to eegslim fit |")
    print("|---|---|---|---|---|")
    for name in MODELS:
        runs = {k: fn for k, fn in loops.items() if name == "eegnet" or fn is not run_module_path}
        for fn in runs.values():  # warm-up
            fn(name, X, y, Xv, yv)
        rates: dict[str, list[float]] = {k: [] for k in runs}
        for r in range(args.repeats):
            for loop in list(runs)[:: 1 if r % 2 == 0 else -1]:
                rates[loop].append(windows / runs[loop](name, X, y, Xv, yv))
        ours = statistics.median(rates["eegslim fit"])
        for loop, values in rates.items():
            ratio = "" if loop == "eegslim fit" else f"**{ours / statistics.median(values):.2f}**"
            print(f"| {name} | {loop} | {statistics.median(values):.0f} | {', '.join(f'{v:.0f}' for v in values)} | "
                  f"{ratio} |")
    print(f"\nEEGNet, spatial-first vs module path after the same seeded run: max |Δ logit| on the validation "
          f"windows {path_difference(X, y, Xv, yv):.2e}")
    fast, modules, difference = prediction(X, args.repeats)
    listed = {key: ", ".join(f"{v:.0f}" for v in values) for key, values in (("fast", fast), ("modules", modules))}
    print(f"\nEEGNet prediction ({len(X)} windows, batch 256): predict_logits {statistics.median(fast):.0f} "
          f"windows/s ({listed['fast']}), module path {statistics.median(modules):.0f} windows/s "
          f"({listed['modules']}): **{statistics.median(fast) / statistics.median(modules):.1f}×**; "
          f"max |Δ logit| {difference:.2e}")


if __name__ == "__main__":
    main()
