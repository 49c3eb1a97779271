"""EEG augmentations of training batches (never applied at evaluation), deterministic under a seed.

Random circular time shift, amplitude scaling, channel dropout and mixup; every random draw comes from a seeded
CPU `torch.Generator` (the mixup weight from a seeded numpy Generator), so a seed gives the same batches on any
device. Shapes: x (B, C, T) float, y (B,) int64.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class AugmentConfig:
    time_shift: float = 0.0        # max circular shift, a fraction of the window (0.25: up to ±T/4 samples)
    amplitude: float = 0.0         # each window multiplied by a factor uniform in [1 - amplitude, 1 + amplitude]
    channel_dropout: float = 0.0   # probability that a channel of a window is zeroed
    mixup: float = 0.0             # alpha of Beta(alpha, alpha) mixing of window pairs and their labels; 0 = off

    @classmethod
    def from_dict(cls, cfg: dict | None) -> AugmentConfig:
        cfg = dict(cfg or {})
        unknown = sorted(set(cfg) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"augment config: unknown keys {unknown}")
        return cls(**cfg)

    def __post_init__(self):
        if not (0 <= self.time_shift <= 0.5 and 0 <= self.amplitude < 1 and 0 <= self.channel_dropout < 1
                and self.mixup >= 0):
            raise ValueError(f"augment config: need 0 <= time_shift <= 0.5, 0 <= amplitude < 1, "
                             f"0 <= channel_dropout < 1, mixup >= 0; got {self}")

    @property
    def active(self) -> bool:
        return any((self.time_shift, self.amplitude, self.channel_dropout, self.mixup))


class Augmenter:
    """`augmenter(x, y)` -> (x', y, y_mixed, lam): the loss is lam·CE(y) + (1 - lam)·CE(y_mixed)."""

    def __init__(self, cfg: AugmentConfig, seed: int):
        self.cfg = cfg
        self.generator = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)

    def _uniform(self, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=self.generator)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
        cfg, (B, C, T) = self.cfg, x.shape
        if cfg.time_shift:
            limit = int(cfg.time_shift * T)
            shift = torch.randint(-limit, limit + 1, (B,), generator=self.generator)
            index = (torch.arange(T) - shift[:, None]) % T                         # (B, T)
            x = x.gather(2, index.to(x.device)[:, None, :].expand(B, C, T))
        if cfg.amplitude:
            x = x * (1 + cfg.amplitude * (2 * self._uniform(B, 1, 1) - 1)).to(x.device)
        if cfg.channel_dropout:
            x = x * (self._uniform(B, C, 1) >= cfg.channel_dropout).to(x.device, x.dtype)
        if not cfg.mixup:
            return x, y, y, 1.0
        lam = float(self.rng.beta(cfg.mixup, cfg.mixup))
        partner = torch.randperm(B, generator=self.generator).to(x.device)
        return lam * x + (1 - lam) * x[partner], y, y[partner], lam
