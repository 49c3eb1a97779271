"""Masked EEG pretraining over windows pooled from several datasets (channel sets and rates may differ).

Each dataset's windows are resampled to `sfreq` (200 Hz: LaBraM's 1 s patches of 200 samples) and cut into
whole patches; a window longer than `max_patches` patches becomes equal chunks of at most that many, one
shorter than a patch is zero-padded. Every batch comes from one dataset (one channel set and patch count);
the batches of all datasets are shuffled together each epoch. The loss is `MaskedEEGModel.loss` with a
symmetric mask pair per step. AdamW (betas 0.9/0.98), warmup + cosine, gradient clipping (LaBraM's recipe).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from .models import embedding_rows
from .models.masked import MaskedEEGModel, symmetric_masks
from .train import NO_WEIGHT_DECAY, EpochProgress, cpu_deterministic, lr_at, resolve_device

logger = logging.getLogger(__name__)


@dataclass
class PretrainConfig:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    min_lr: float = 1e-6
    mask_ratio: float = 0.5
    clip_grad: float | None = 3.0
    sfreq: float = 200.0                  # Hz the windows are resampled to: a patch is patch_size / sfreq seconds
    max_windows: int | None = None        # per dataset and part, a seeded random subset (keeps the demo cheap)
    drop_path: float = 0.0
    target: str = "amplitude_cossin"      # eegslim.models.masked.TARGETS (BENCHMARKS.md: issue 12 ablation)
    seed: int = 0
    device: str = "auto"

    @classmethod
    def from_dict(cls, cfg: dict) -> PretrainConfig:
        unknown = sorted(set(cfg) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"pretrain config: unknown keys {unknown}")
        return cls(**cfg)


@dataclass
class PatchSet:
    """One dataset's windows as whole patches: X (n, C, A*P) float32 at the pretraining rate; rows (1+C,)."""

    name: str
    X: torch.Tensor
    rows: torch.Tensor
    n_patches: int


def patch_windows(name: str, X: np.ndarray, sfreq: float, ch_names: list[str], patch_size: int,
                  target_sfreq: float, max_patches: int) -> PatchSet:
    """Resample windows (n, C, T) at `sfreq` Hz to `target_sfreq` and cut them into whole patches (see module)."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3 or len(X) == 0:
        raise ValueError(f"{name}: need windows (n, C, T) with n >= 1, got shape {X.shape}")
    if not math.isclose(sfreq, target_sfreq):
        import mne  # only to resample: importing this module stays light

        X = mne.filter.resample(X.astype(np.float64), up=target_sfreq, down=sfreq, axis=-1,
                                verbose="error").astype(np.float32)
    n, C, T = X.shape
    P = patch_size
    n_patches = -(-T // P)
    if n_patches <= max_patches:
        X = np.pad(X, ((0, 0), (0, 0), (0, n_patches * P - T)))
    else:
        whole = T // P
        n_chunks = -(-whole // max_patches)
        n_patches = whole // n_chunks
        X = X[..., : n_chunks * n_patches * P].reshape(n, C, n_chunks, n_patches * P)
        X = X.transpose(0, 2, 1, 3).reshape(n * n_chunks, C, n_patches * P)
    rows = torch.tensor(embedding_rows(list(ch_names)))
    return PatchSet(name, torch.from_numpy(np.ascontiguousarray(X)), rows, n_patches)


def subsample(indices: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """At most `limit` of `indices`, a seeded random choice kept in file order."""
    indices = np.asarray(indices, dtype=np.int64)
    if limit is None or len(indices) <= limit:
        return indices
    return np.sort(np.random.default_rng(seed).choice(indices, limit, replace=False))


def epoch_batches(sets: list[PatchSet], batch_size: int, generator: torch.Generator) -> list[tuple[int, torch.Tensor]]:
    """(set index, row indices) of every batch of one epoch: each set shuffled and cut, all batches shuffled."""
    batches = []
    for i, patch_set in enumerate(sets):
        order = torch.randperm(len(patch_set.X), generator=generator)
        batches += [(i, order[s:s + batch_size]) for s in range(0, len(order), batch_size)]
    return [batches[j] for j in torch.randperm(len(batches), generator=generator).tolist()]


def param_groups(model: MaskedEEGModel, weight_decay: float) -> list[dict]:
    """AdamW groups: no weight decay on 1-D parameters, the embeddings and the mask token."""
    no_decay = (*NO_WEIGHT_DECAY, "mask_token")
    decay, rest = [], []
    for name, param in model.named_parameters():
        (decay if param.ndim > 1 and name.rsplit(".", 1)[-1] not in no_decay else rest).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def _step_loss(model: MaskedEEGModel, patch_set: PatchSet, idx: torch.Tensor, ratio: float,
               generator: torch.Generator, device: torch.device, backward: bool = False) -> float:
    """The symmetric loss (mask + complement) of one batch; with `backward`, gradients of each pass are
    accumulated right after it, so only one pass's activations are alive at a time."""
    x = patch_set.X[idx].to(device)
    rows = patch_set.rows.to(device)
    total = 0.0
    for mask in symmetric_masks(len(idx), x.shape[1] * patch_set.n_patches, ratio, generator):
        loss = model.loss(x, rows, mask.to(device))
        if backward and loss.requires_grad:
            loss.backward()
        total += loss.item()
    return total


@torch.no_grad()
def evaluate_loss(model: MaskedEEGModel, sets: list[PatchSet], cfg: PretrainConfig) -> float | None:
    """Mean loss per window on `sets` with fixed (seeded) masks; None without windows."""
    if not sets:
        return None
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    total, count = 0.0, 0
    for i, idx in epoch_batches(sets, cfg.batch_size, torch.Generator().manual_seed(cfg.seed)):
        total += _step_loss(model, sets[i], idx, cfg.mask_ratio, generator, device) * len(idx)
        count += len(idx)
    return total / count


def pretrain(model: MaskedEEGModel, train_sets: list[PatchSet], val_sets: list[PatchSet], cfg: PretrainConfig,
             log: logging.Logger = logger) -> dict:
    """Train `model` in place on `train_sets`; return the history (per epoch `train_loss`, `val_loss`, `lr`,
    `seconds`, plus `windows` per set). The last epoch's weights are kept (the loss has no selection role).
    Deterministic on CPU for a given seed; a long epoch also logs the batch it has reached (see `EpochProgress`)."""
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    model.to(device)
    if cfg.epochs < 1 or not train_sets:
        raise ValueError(f"pretrain: need epochs >= 1 and at least one dataset (epochs={cfg.epochs})")
    steps_per_epoch = sum(-(-len(s.X) // cfg.batch_size) for s in train_sets)
    total, warmup = cfg.epochs * steps_per_epoch, round(cfg.warmup_epochs * steps_per_epoch)
    optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.98))
    order_gen = torch.Generator().manual_seed(cfg.seed)
    mask_gen = torch.Generator().manual_seed(cfg.seed + 2)
    history = {"epoch": [], "train_loss": [], "val_loss": [], "lr": [], "seconds": [],
               "windows": {s.name: len(s.X) for s in train_sets},
               "val_windows": {s.name: len(s.X) for s in val_sets}}
    step = 0
    with cpu_deterministic(device):
        for epoch in range(1, cfg.epochs + 1):
            start = time.perf_counter()
            model.train()
            loss_sum, seen = 0.0, 0
            progress = EpochProgress(steps_per_epoch)
            for b, (i, idx) in enumerate(epoch_batches(train_sets, cfg.batch_size, order_gen), 1):
                lr = lr_at(step, total, warmup, cfg.lr, cfg.min_lr)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                optimizer.zero_grad(set_to_none=True)
                loss = _step_loss(model, train_sets[i], idx, cfg.mask_ratio, mask_gen, device, backward=True)
                if cfg.clip_grad:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
                optimizer.step()
                loss_sum += loss * len(idx)
                seen += len(idx)
                step += 1
                if progress.due(b):
                    log.info("pretrain epoch %d/%d  batch %d/%d  train loss %.4f", epoch, cfg.epochs, b,
                             steps_per_epoch, loss_sum / seen)
            train_loss = loss_sum / seen
            val_loss = evaluate_loss(model, val_sets, cfg)
            seconds = time.perf_counter() - start
            for key, value in zip(("epoch", "train_loss", "val_loss", "lr", "seconds"),
                                  (epoch, train_loss, val_loss, lr, seconds)):
                history[key].append(value)
            log.info("pretrain epoch %d/%d  train loss %.4f  val loss %s  lr %.2e  %.1f s", epoch, cfg.epochs,
                     train_loss, "n/a" if val_loss is None else f"{val_loss:.4f}", lr, seconds)
    model.eval()
    return history
