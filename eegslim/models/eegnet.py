"""EEGNet (Lawhern et al. 2018), with braindecode's layer names.

Lawhern, V. J., Solon, A. J., Waytowich, N. R., Gordon, S. M., Hung, C. P., Lance, B. J. (2018).
EEGNet: a compact convolutional neural network for EEG-based brain-computer interfaces.
J. Neural Eng. 15(5):056013. arXiv:1611.08024.

Shapes (B batch, C channels, T samples, K temporal kernel, L final time length, N classes)::

    x (B, C, T) -> (B, 1, C, T)
    conv_temporal  (1, K) conv, F1 filters, padding K//2        -> (B, F1, C, T')     T' = T + 1 for even K
    conv_spatial   (C, 1) depthwise conv, D filters per F1      -> (B, F1*D, 1, T')
    pool_1         average (1, pool1)                           -> (B, F1*D, 1, T'//pool1)
    conv_separable (1, sep) depthwise + 1x1 pointwise to F2     -> (B, F2, 1, ...)
    pool_2         average (1, pool2)                           -> (B, F2, 1, L)
    classifier     Linear(F2*L, N)                              -> logits (B, N)

Max-norm constraints (spatial filters 1.0, classifier rows 0.25) are not parametrizations (they break
ONNX export and deepcopy); `apply_constraints()` renormalises in place and the training loop calls it
after every optimizer step.

In training mode and under `torch.inference_mode()` the first block (conv_temporal, bnorm_temporal,
conv_spatial) runs spatial-first (`eegslim.models.spatial_first`): the same function and BatchNorm statistics,
~7x fewer operations on CPU. Evaluation under `no_grad`, ONNX export, MAC counting and pruning see the modules
as listed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from eegslim.models import spatial_first


@dataclass
class EEGNetConfig:
    n_chans: int
    n_times: int
    n_classes: int
    F1: int = 8
    D: int = 2
    F2: int = 16
    kernel_length: int = 64
    pool1: int = 4
    pool2: int = 8
    sep_kernel: int = 16
    dropout: float = 0.25

    @property
    def final_length(self) -> int:
        """L: time length after pool_2 (braindecode's, = T//32 for the paper's settings)."""
        t = self.n_times + 2 * (self.kernel_length // 2) - self.kernel_length + 1
        t = t // self.pool1
        t = t + 2 * (self.sep_kernel // 2) - self.sep_kernel + 1
        return t // self.pool2


def eegnet_config(n_chans: int, n_times: int, n_classes: int, sfreq: float, **overrides) -> EEGNetConfig:
    """EEGNet config for data at `sfreq` Hz: kernel_length = sfreq/2, pools 4 and 8 at 128 Hz, scaled with sfreq.

    The separable kernel (16) stays fixed: after pool_1 the time resolution is about 32 Hz at any sfreq.
    Short windows at high rates (0.4 s at 1000 Hz) keep at least MIN_FINAL_LENGTH samples after pooling:
    the kernel is capped at half the window and the larger pool is halved until they fit.
    """
    kernel_length = min(max(1, round(sfreq / 2)), max(1, n_times // 2))
    pool1, pool2 = max(1, round(4 * sfreq / 128)), max(1, round(8 * sfreq / 128))
    while n_times // (pool1 * pool2) < MIN_FINAL_LENGTH and max(pool1, pool2) > 1:
        if pool2 >= pool1:
            pool2 = max(1, pool2 // 2)
        else:
            pool1 = max(1, pool1 // 2)
    defaults = {"kernel_length": kernel_length, "pool1": pool1, "pool2": pool2}
    return EEGNetConfig(n_chans=n_chans, n_times=n_times, n_classes=n_classes, **{**defaults, **overrides})


def _max_norm_(weight: torch.Tensor, max_norm: float) -> None:
    """Rescale each output unit (dim 0) of `weight` in place to an L2 norm of at most `max_norm`."""
    with torch.no_grad():
        weight.renorm_(p=2, dim=0, maxnorm=max_norm)


BN_MOMENTUM = 0.1
MIN_FINAL_LENGTH = 4  # time samples left for the classifier after both pools


class EEGNet(nn.Module):
    """EEGNet-F1,D: temporal conv, depthwise spatial conv, separable conv, linear classifier.

    Input (B, C, T) float, output (B, N) logits. See the module docstring for the shapes.
    """

    def __init__(self, cfg: EEGNetConfig):
        super().__init__()
        if cfg.final_length < 1:
            raise ValueError(f"EEGNet: n_times={cfg.n_times} is too short for kernel_length={cfg.kernel_length}, "
                             f"pools {cfg.pool1}/{cfg.pool2} (final length {cfg.final_length})")
        self.cfg = cfg
        # BN: Keras' eps, but torch's default momentum 0.1 rather than Keras' 0.99 (torch 0.01): with the
        # few hundred steps of a small EEG set, running statistics at 0.01 never converge and the model
        # collapses to one class in eval mode (measured on the demo: test bacc 0.19 vs 0.48 at 0.1).
        F1, F1D, F2, K, sep = cfg.F1, cfg.F1 * cfg.D, cfg.F2, cfg.kernel_length, cfg.sep_kernel
        self.conv_temporal = nn.Conv2d(1, F1, (1, K), padding=(0, K // 2), bias=False)
        self.bnorm_temporal = nn.BatchNorm2d(F1, momentum=BN_MOMENTUM, eps=1e-3)
        self.conv_spatial = nn.Conv2d(F1, F1D, (cfg.n_chans, 1), groups=F1, bias=False)
        self.bnorm_1 = nn.BatchNorm2d(F1D, momentum=BN_MOMENTUM, eps=1e-3)
        self.elu_1 = nn.ELU()
        self.pool_1 = nn.AvgPool2d((1, cfg.pool1))
        self.drop_1 = nn.Dropout(cfg.dropout)
        self.conv_separable_depth = nn.Conv2d(F1D, F1D, (1, sep), groups=F1D, padding=(0, sep // 2), bias=False)
        self.conv_separable_point = nn.Conv2d(F1D, F2, 1, bias=False)
        self.bnorm_2 = nn.BatchNorm2d(F2, momentum=BN_MOMENTUM, eps=1e-3)
        self.elu_2 = nn.ELU()
        self.pool_2 = nn.AvgPool2d((1, cfg.pool2))
        self.drop_2 = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(F2 * cfg.final_length, cfg.n_classes)
        self._init_weights()
        self.apply_constraints()

    def _init_weights(self) -> None:
        # braindecode's glorot_weight_zero_bias: xavier-uniform weights, zero biases, BN at identity
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def apply_constraints(self) -> None:
        """Max-norm: each spatial filter to L2 norm <= 1, each classifier row to <= 0.25 (Lawhern 2018)."""
        _max_norm_(self.conv_spatial.weight, 1.0)
        _max_norm_(self.classifier.weight, 0.25)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if spatial_first.applies(self.conv_temporal, self.bnorm_temporal):   # training: the same, ~7x cheaper
            x = spatial_first.temporal_bn_spatial(x, self.conv_temporal, self.bnorm_temporal, self.conv_spatial)
        elif spatial_first.inference_applies(self.conv_temporal, self.bnorm_temporal):   # predictions
            x = spatial_first.temporal_bn_spatial_inference(x, self.conv_temporal, self.bnorm_temporal,
                                                            self.conv_spatial)
        else:
            x = self.bnorm_temporal(self.conv_temporal(x.unsqueeze(1)))  # (B, F1, C, T')
            x = self.conv_spatial(x)                                      # (B, F1*D, 1, T')
        x = self.elu_1(self.bnorm_1(x))
        x = self.drop_1(self.pool_1(x))
        x = self.conv_separable_point(self.conv_separable_depth(x))   # (B, F2, 1, T'')
        x = self.drop_2(self.pool_2(self.elu_2(self.bnorm_2(x))))     # (B, F2, 1, L)
        return self.classifier(x.flatten(1))                          # (B, N)
