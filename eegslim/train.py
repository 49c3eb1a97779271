"""One supervised training loop for every model (EEGNet, LaBraM, pruned variants).

AdamW with linear warmup and a per-step cosine schedule, label smoothing, optional inverse-frequency
class weights, LaBraM's layer-wise lr decay (for pretrained weights: see `init_settings`) and training-batch
augmentation (`eegslim.augment`). Model selection (`TrainConfig.select`): `best_val` keeps and
restores the best epoch by validation balanced accuracy, with optional early stopping; `last` trains the fixed
epoch budget and keeps the final weights (for validation sets too small to pick an epoch by). Validation is
evaluated and logged every epoch either way. Data are in-memory tensors, shuffled by a seeded generator.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .augment import AugmentConfig, Augmenter
from .metrics import classification_metrics
from .predictions import Predictions, make_predictions, softmax
from .store import Windows

logger = logging.getLogger(__name__)
PROGRESS_S = 30.0  # within an epoch, log the batch reached at most this often (s); epochs are always logged

NO_WEIGHT_DECAY = ("pos_embed", "cls_token", "time_embed")
SELECTIONS = ("best_val", "last")  # TrainConfig.select: restore the best validation epoch | keep the final weights


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_epochs: float = 0.0
    min_lr: float = 1e-6
    label_smoothing: float = 0.0
    layer_decay: float | None = None     # LaBraM: 0.65; only for models with `blocks`
    augment: dict | None = None          # AugmentConfig fields; training batches only
    class_weights: bool = False          # inverse-frequency cross-entropy weights
    patience: int | None = None          # early stopping on validation balanced accuracy (select best_val only)
    select: str = "last"                 # last | best_val: which epoch's weights are kept (SELECTIONS)
    seed: int = 0
    device: str = "auto"                 # "auto" -> CUDA if available
    num_threads: int | None = None

    @classmethod
    def from_dict(cls, cfg: dict) -> TrainConfig:
        unknown = sorted(set(cfg) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"train config: unknown keys {unknown}")
        return cls(**cfg)

    def __post_init__(self):
        if self.select not in SELECTIONS:
            raise ValueError(f"train config: select must be one of {', '.join(SELECTIONS)}, got {self.select!r}")
        AugmentConfig.from_dict(self.augment)


def init_settings(train_cfg: dict, pretrained: bool) -> dict:
    """A training block's settings for a model from pretrained weights or from random init.

    Layer-wise lr decay shrinks the lr of the early layers to protect pretrained features; from random init it
    starves the patch encoder (0.65 over 2 blocks: a quarter of the lr), so it is dropped there unless the block
    says `layer_decay_from_scratch: true`. That key itself is consumed here (not a TrainConfig field).
    """
    cfg = dict(train_cfg)
    if not cfg.pop("layer_decay_from_scratch", False) and not pretrained:
        cfg["layer_decay"] = None
    return cfg


@dataclass
class Distillation:
    """Knowledge distillation (Hinton et al. 2015) for `fit`: the training loss becomes
    (1 − alpha) · cross-entropy(labels) + alpha · T² · KL(softmax(teacher / T) ‖ softmax(student / T)).

    teacher: a trained model, frozen and in eval mode, run on the same (augmented) batch as the student.
    alpha in [0, 1]: the weight of the teacher's soft targets; temperature T > 0 softens both distributions (T² keeps
    the soft term's gradient scale independent of T).
    """

    teacher: nn.Module
    alpha: float = 0.9
    temperature: float = 2.0

    def __post_init__(self):
        if not 0.0 <= self.alpha <= 1.0 or self.temperature <= 0:
            raise ValueError(f"distillation: need 0 <= alpha <= 1 and temperature > 0, got alpha={self.alpha}, "
                             f"temperature={self.temperature}")
        self.teacher.eval()
        self.teacher.requires_grad_(False)

    def loss(self, xb: torch.Tensor, logits: torch.Tensor, hard_loss: torch.Tensor) -> torch.Tensor:
        """The distillation loss of the student's `logits` (b, N) on batch `xb`, given its label loss."""
        t = self.temperature
        with torch.no_grad():
            target = F.log_softmax(self.teacher(xb).float() / t, dim=1)
        soft = F.kl_div(F.log_softmax(logits / t, dim=1), target, reduction="batchmean", log_target=True)
        return (1.0 - self.alpha) * hard_loss + self.alpha * t * t * soft


def resolve_device(device: str) -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else torch.device(device)


@contextmanager
def cpu_deterministic(device: torch.device) -> Iterator[None]:
    """Deterministic kernels inside the block when `device` is the CPU; the previous setting is restored after.

    They cost nothing on CPU; on CUDA they slow cuDNN convs and some backward ops have no deterministic version
    anyway, so GPU runs are reproducible only up to floating-point ordering.
    """
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(device.type == "cpu", warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_deterministic)


class EpochProgress:
    """Whether batch i (1-based) of an epoch of `n_batches` is due a log line: every PROGRESS_S s, never the last."""

    def __init__(self, n_batches: int):
        self.n_batches, self.last = n_batches, time.perf_counter()

    def due(self, i: int) -> bool:
        now = time.perf_counter()
        if now - self.last < PROGRESS_S or i >= self.n_batches:
            return False
        self.last = now
        return True


def _layer_id(name: str, n_layers: int) -> int:
    """LaBraM's get_num_layer_for_vit: 0 for the embeddings, b+1 for blocks.b, n_layers+1 for the rest."""
    if name in ("cls_token", "mask_token", "pos_embed") or name.startswith("patch_embed"):
        return 0
    if name.startswith("blocks."):
        return int(name.split(".")[1]) + 1
    return n_layers + 1


def param_groups(model: nn.Module, weight_decay: float, layer_decay: float | None) -> list[dict]:
    """AdamW groups: no weight decay on 1-D params and embeddings; lr_scale = layer_decay^(L+1-layer_id)."""
    if layer_decay is not None and not hasattr(model, "blocks"):
        raise ValueError(f"layer_decay applies to transformers with `blocks`, not {type(model).__name__}")
    n_layers = len(model.blocks) if layer_decay is not None else 0
    groups: dict[tuple[int, bool], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decay = param.ndim > 1 and name not in NO_WEIGHT_DECAY
        layer = _layer_id(name, n_layers) if layer_decay is not None else 0
        scale = layer_decay ** (n_layers + 1 - layer) if layer_decay is not None else 1.0
        group = groups.setdefault((layer, decay), {"params": [], "weight_decay": weight_decay if decay else 0.0,
                                                   "lr_scale": scale})
        group["params"].append(param)
    return list(groups.values())


def lr_at(step: int, total: int, warmup: int, lr: float, min_lr: float) -> float:
    """Linear warmup from min_lr to lr over `warmup` steps, then cosine down to min_lr at `total`."""
    if step < warmup:
        return min_lr + (lr - min_lr) * step / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))


def _class_weights(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    counts = torch.bincount(y, minlength=n_classes).float()
    return torch.where(counts > 0, counts.sum() / (n_classes * counts.clamp(min=1)), torch.zeros_like(counts))


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.inference_mode()
def predict_logits(model: nn.Module, X, batch_size: int = 256) -> torch.Tensor:
    """Logits (n, N) of `model` in eval mode and inference mode, on the CPU."""
    model.eval()
    device = _device_of(model)
    X = torch.as_tensor(X, dtype=torch.float32)
    return torch.cat([model(X[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(X), batch_size)])


def predict(model: nn.Module, X, batch_size: int = 256) -> np.ndarray:
    """Predicted class ids (n,) as int64."""
    return predict_logits(model, X, batch_size).argmax(1).numpy()


def evaluate(model: nn.Module, X, y, n_classes: int, batch_size: int = 256) -> dict:
    """`eegslim.metrics.classification_metrics` of the model's predictions on (X, y)."""
    return classification_metrics(np.asarray(y), predict(model, X, batch_size), n_classes)


def predict_windows(model: nn.Module, windows: Windows, rows, batch_size: int = 256) -> Predictions:
    """`eegslim.predictions.Predictions` of `model` on the windows.h5 rows `rows` of `windows` (loaded whole)."""
    rows = np.asarray(rows, dtype=np.int64)
    proba = softmax(predict_logits(model, windows.X[rows], batch_size).numpy())
    return make_predictions(rows, windows.y[rows], proba, windows.subject[rows], windows.recording[rows])


def fit(model: nn.Module, X_train, y_train, X_val, y_val, cfg: TrainConfig, n_classes: int,
        post_step: Iterable[Callable[[nn.Module], None]] = (), log: logging.Logger = logger,
        epoch_end: Iterable[Callable[[nn.Module, int], None]] = (),
        eligible: Callable[[int], bool] | None = None, distill: Distillation | None = None) -> dict:
    """Train `model` in place; keep the weights `cfg.select` picks; return the history.

    select best_val: restore the weights of the best validation epoch, stopping early after `patience` epochs
    without improvement. select last: train all `cfg.epochs` and keep the final weights (patience ignored).

    After every optimizer step: `model.apply_constraints()` if the model has it, then each `post_step(model)`
    (pruning keeps its masks this way). After every epoch, before validation: each `epoch_end(model, epoch)`
    (gradual and soft pruning). Only epochs with `eligible(epoch)` true (all when None) may become the best
    epoch or count towards early stopping (best_val); with none eligible the last epoch's weights are kept.
    History: per-epoch `train_loss`, `val_balanced_accuracy`, `lr`, `seconds`, plus `select`, `best_epoch` (the
    1-based epoch whose weights were kept), `best_val_balanced_accuracy` (its validation score) and `stopped_early`.
    """
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    device = resolve_device(cfg.device)
    model.to(device)
    if distill is not None:
        distill.teacher.to(device)
    X = torch.as_tensor(X_train, dtype=torch.float32)
    y = torch.as_tensor(y_train, dtype=torch.int64)
    if device.type == "cuda":
        X, y = X.to(device), y.to(device)
    n = len(X)
    if cfg.epochs < 1 or n < 2 or len(X_val) == 0:
        raise ValueError(f"fit: need epochs >= 1, >= 2 training and >= 1 validation windows "
                         f"(epochs={cfg.epochs}, {n} train, {len(X_val)} val)")
    bs = min(cfg.batch_size, n)
    steps_per_epoch = n // bs                        # drop the ragged last batch (BatchNorm needs > 1 sample)
    total, warmup = cfg.epochs * steps_per_epoch, round(cfg.warmup_epochs * steps_per_epoch)
    optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay, cfg.layer_decay), lr=cfg.lr)
    weight = _class_weights(y, n_classes).to(device) if cfg.class_weights else None
    constrain = getattr(model, "apply_constraints", None)
    post_step, epoch_end = list(post_step), list(epoch_end)
    generator = torch.Generator().manual_seed(cfg.seed)
    augment_cfg = AugmentConfig.from_dict(cfg.augment)
    augment = Augmenter(augment_cfg, cfg.seed + 1) if augment_cfg.active else None
    keep_last = cfg.select == "last"
    if keep_last and cfg.patience is not None:
        log.info("select last: keeping the final epoch's weights; patience %d ignored (no early stopping)",
                 cfg.patience)

    history = {"epoch": [], "train_loss": [], "val_balanced_accuracy": [], "lr": [], "seconds": []}
    best_bacc, best_epoch, best_state, stale = -1.0, 0, None, 0
    step = 0
    with cpu_deterministic(device):
        for epoch in range(1, cfg.epochs + 1):
            start = time.perf_counter()
            model.train()
            order = torch.randperm(n, generator=generator)[: steps_per_epoch * bs].to(X.device)
            loss_sum = torch.zeros((), device=device)
            progress = EpochProgress(steps_per_epoch)
            for i, batch in enumerate(order.view(steps_per_epoch, bs), 1):
                lr = lr_at(step, total, warmup, cfg.lr, cfg.min_lr)
                for group in optimizer.param_groups:
                    group["lr"] = lr * group["lr_scale"]
                xb, yb = X[batch].to(device, non_blocking=True), y[batch].to(device, non_blocking=True)
                yb_mixed, lam = yb, 1.0
                if augment is not None:
                    xb, yb, yb_mixed, lam = augment(xb, yb)
                logits = model(xb)
                loss = F.cross_entropy(logits, yb, weight=weight, label_smoothing=cfg.label_smoothing)
                if lam < 1.0:
                    loss = lam * loss + (1 - lam) * F.cross_entropy(logits, yb_mixed, weight=weight,
                                                                    label_smoothing=cfg.label_smoothing)
                if distill is not None:
                    loss = distill.loss(xb, logits, loss)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if constrain is not None:
                    constrain()
                for hook in post_step:
                    hook(model)
                loss_sum += loss.detach()
                step += 1
                if progress.due(i):
                    log.info("epoch %d/%d  batch %d/%d  train loss %.4f", epoch, cfg.epochs, i, steps_per_epoch,
                             loss_sum.item() / i)
            for hook in epoch_end:
                hook(model, epoch)
            bacc = evaluate(model, X_val, y_val, n_classes)["balanced_accuracy"]
            seconds = time.perf_counter() - start
            train_loss = loss_sum.item() / steps_per_epoch
            for key, value in zip(history, (epoch, train_loss, bacc, lr, seconds)):
                history[key].append(value)
            log.info("epoch %d/%d  train loss %.4f  val bacc %.4f  lr %.2e  %.1f s",
                     epoch, cfg.epochs, train_loss, bacc, lr, seconds)
            if keep_last or (eligible is not None and not eligible(epoch)):
                continue
            if bacc > best_bacc:
                best_bacc, best_epoch, stale = bacc, epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
                if cfg.patience is not None and stale >= cfg.patience:
                    log.info("early stop: no val improvement for %d epochs", stale)
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        best_epoch, best_bacc = history["epoch"][-1], history["val_balanced_accuracy"][-1]
    model.eval()
    log.info("%s epoch %d kept: val bacc %.4f", "last" if keep_last else "best", best_epoch, best_bacc)
    history.update(select=cfg.select, best_epoch=best_epoch, best_val_balanced_accuracy=best_bacc,
                   stopped_early=len(history["epoch"]) < cfg.epochs)
    return history
