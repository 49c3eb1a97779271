"""EEGNet's first block computed spatial-first: the same function, ~7× less work on CPU.

EEGNet starts with conv_temporal (1 → F1 filters of K samples, zero 'same' padding), BatchNorm over the F1
feature maps, then a depthwise spatial conv (D filters of the C channels per temporal filter). Every step is
linear except BatchNorm, whose training-mode statistics (per temporal filter f: mean μ_f and biased variance
σ²_f of its output over batch, channels and time) are quadratic forms of the filter in the input's patch
moments:

    μ_f = w_f · m,  σ²_f = w_f G w_f − μ_f²,  m[k] = E[x_pad[t+k]],  G[k, k'] = E[x_pad[t+k] x_pad[t+k']]

So the block equals  scale_f · conv_f(Σ_c s_jc x_c) + shift_f · Σ_c s_jc  for output map j of filter f, with
scale = γ / √(σ² + eps) and shift = β − μ·scale: mix the C channels first (F1·D maps instead of F1·C), filter
those with the temporal kernels (by FFT), and take the statistics from m and G, which do not depend on the
weights. G is computed exactly from per-row autocorrelations (FFT) with edge corrections, in float64.

On 19 × 800 windows with K = 100 this replaces ~390 M multiply-adds per batch of 32 with ~50 M; the result
matches the module path to float32 rounding (`tests/test_spatial_first.py`), running statistics included.
In inference mode (`torch.inference_mode()`, what `eegslim.train.predict_logits` uses) the same mixing applies
with BatchNorm's running statistics as scale and shift; plain evaluation under `no_grad` (ONNX export, MAC
counting) keeps the modules, so exported graphs and MAC counts describe the model as listed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _fft_size(n: int) -> int:
    return 1 << (n - 1).bit_length()


def patch_moments(x: torch.Tensor, K: int, pad: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Mean m (K,) and second moment G (K, K), float64, of the length-K patches of `x` (B, C, T) zero-padded by
    `pad` on both sides, over every (batch, channel, position); and the number of patches B·C·T'."""
    B, C, T = x.shape
    L = T + 2 * pad
    T_out = L - K + 1
    if L < 2 * K:
        raise ValueError(f"patch_moments: padded length {L} is shorter than twice the kernel ({K})")
    X = F.pad(x.detach().reshape(B * C, T).double(), (pad, pad))          # (n, L)
    n = X.shape[0] * T_out
    col = torch.cat([X.new_zeros(1), X.sum(0).cumsum(0)])
    k = torch.arange(K, device=x.device)
    mean = (col[k + T_out] - col[k]) / n                                  # m[k] = Σ_{u=k}^{k+T'-1} colsum[u]
    n_fft = _fft_size(L + K)
    spec = torch.fft.rfft(X, n_fft)
    lag_total = torch.fft.irfft((spec.real ** 2 + spec.imag ** 2).sum(0), n_fft)[:K]   # Q[l] = Σ_u P_l[u]
    # P_l[u] = Σ_rows X[u] X[u+l] near both ends, from the Gram matrices of the first and last 2K samples;
    # G[k, k+l] = Q[l] − Σ_{u<k} P_l[u] − Σ_{u≥k+T'} P_l[u]
    lag, u = torch.arange(K, device=x.device)[:, None], torch.arange(2 * K, device=x.device)[None, :]
    inside = u + lag < 2 * K
    cols = (u + lag).clamp(max=2 * K - 1)
    head, tail = X[:, :2 * K], X[:, L - 2 * K:]
    p_head = torch.where(inside, (head.T @ head)[u, cols], 0.0)          # (K lags, 2K positions)
    p_tail = torch.where(inside, (tail.T @ tail)[u, cols], 0.0)
    before = torch.cat([p_head.new_zeros(K, 1), p_head.cumsum(1)], 1)   # Σ_{u<k}
    after = torch.cat([p_tail.flip(1).cumsum(1).flip(1), p_tail.new_zeros(K, 1)], 1)   # Σ_{v'≥v}, tail coords
    by_lag = lag_total[:, None] - before[:, :K] - after[:, k + K + 1]   # [l, k] = G[k, k+l]; u = k+T' ↔ v = k+K+1
    a, b = k[:, None], k[None, :]
    G = by_lag[(b - a).abs(), torch.minimum(a, b)] / n
    return mean, G, n


def _correlate_same(x: torch.Tensor, w: torch.Tensor, pad: int) -> torch.Tensor:
    """conv1d(x, w, padding=pad, groups=J) by FFT: x (B, J, T), w (J, K) -> (B, J, T + 2·pad − K + 1)."""
    T, K = x.shape[-1], w.shape[-1]
    n_fft = _fft_size(T + K - 1)
    full = torch.fft.irfft(torch.fft.rfft(x, n_fft) * torch.fft.rfft(w.flip(-1), n_fft), n_fft)
    start = K - 1 - pad
    return full[..., start:start + T + 2 * pad - K + 1]


def _fits(conv_temporal: nn.Conv2d, bnorm: nn.BatchNorm2d) -> bool:
    return (bnorm.affine and bnorm.track_running_stats and conv_temporal.bias is None
            and conv_temporal.padding[1] == conv_temporal.kernel_size[1] // 2)


def applies(conv_temporal: nn.Conv2d, bnorm: nn.BatchNorm2d) -> bool:
    """Whether the block is in training mode with batch statistics and a fixed momentum (else use the modules)."""
    return bnorm.training and bnorm.momentum is not None and _fits(conv_temporal, bnorm)


def inference_applies(conv_temporal: nn.Conv2d, bnorm: nn.BatchNorm2d) -> bool:
    """Whether the block evaluates with running statistics under `torch.inference_mode()`."""
    return not bnorm.training and torch.is_inference_mode_enabled() and _fits(conv_temporal, bnorm)


def _mix_filter(x: torch.Tensor, w_t: torch.Tensor, w_s: torch.Tensor, scale: torch.Tensor,
                shift: torch.Tensor) -> torch.Tensor:
    """scale_f · conv_f(Σ_c s_jc x_c) + shift_f · Σ_c s_jc: x (B, C, T), w_t (F1, K), w_s (F1·D, C), scale and
    shift (F1,) -> (B, F1·D, 1, T')."""
    F1, K = w_t.shape
    D = w_s.shape[0] // F1
    mixed = torch.einsum("jc,bct->bjt", w_s, x)                           # (B, F1·D, T)
    out = _correlate_same(mixed, w_t.repeat_interleave(D, 0), K // 2)
    out = out * scale.repeat_interleave(D)[:, None] + (shift.repeat_interleave(D) * w_s.sum(1))[:, None]
    return out.unsqueeze(2)


def temporal_bn_spatial(x: torch.Tensor, conv_temporal: nn.Conv2d, bnorm: nn.BatchNorm2d,
                        conv_spatial: nn.Conv2d) -> torch.Tensor:
    """conv_spatial(bnorm(conv_temporal(x[:, None]))) in training mode, spatial-first; x (B, C, T) ->
    (B, F1·D, 1, T'). Updates bnorm's running statistics exactly as BatchNorm does."""
    w_t = conv_temporal.weight[:, 0, 0, :]                                # (F1, K)
    w_s = conv_spatial.weight[:, 0, :, 0]                                 # (F1·D, C)
    mean, G, n = patch_moments(x, w_t.shape[1], w_t.shape[1] // 2)
    mu = w_t @ mean.to(x.dtype)
    var = ((w_t @ G.to(x.dtype)) * w_t).sum(1) - mu ** 2                   # biased, as BatchNorm normalises
    with torch.no_grad():
        bnorm.num_batches_tracked.add_(1)
        m = bnorm.momentum
        bnorm.running_mean.mul_(1 - m).add_(m * mu)
        bnorm.running_var.mul_(1 - m).add_(m * var * n / (n - 1))
    scale = bnorm.weight / torch.sqrt(var + bnorm.eps)
    return _mix_filter(x, w_t, w_s, scale, bnorm.bias - mu * scale)


def temporal_bn_spatial_inference(x: torch.Tensor, conv_temporal: nn.Conv2d, bnorm: nn.BatchNorm2d,
                                  conv_spatial: nn.Conv2d) -> torch.Tensor:
    """conv_spatial(bnorm(conv_temporal(x[:, None]))) in eval mode (running statistics); x (B, C, T) ->
    (B, F1·D, 1, T')."""
    scale = bnorm.weight / torch.sqrt(bnorm.running_var + bnorm.eps)
    shift = bnorm.bias - bnorm.running_mean * scale
    return _mix_filter(x, conv_temporal.weight[:, 0, 0, :], conv_spatial.weight[:, 0, :, 0], scale, shift)
