"""Masked EEG modelling on the LaBraM-compatible transformer: targets, symmetric masks, the pretraining model.

LaBraM (Jiang et al., ICLR 2024) replaces half of the patch tokens with a learned mask token and predicts the
VQ codes of the masked patches; its tokenizer learns those codes by reconstructing each patch's Fourier
amplitude and phase. Here the encoder regresses Fourier targets directly (no tokenizer; specs/models.md §8.2),
with LaBraM's symmetric masking: every step also runs the complement mask, so each patch is predicted exactly
once per step. The target (TARGETS): `amplitude_phase` (LaBraM's pair, z-scored; the phase of a 1 s patch is
close to unpredictable noise), `amplitude` alone, or `amplitude_cossin` (amplitude plus the phase as cos/sin
weighted by amplitude, i.e. the z-scored real and imaginary parts, which vanish where there is no power).

Shapes: B batch, C channels, A patches per channel, N = C*A tokens (channel-major), P patch samples,
E embed_dim, F = P // 2 + 1 frequency bins (rfft: the non-redundant half of LaBraM's full FFT).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from ..atomic import read_json
from .labram import HEAD_PREFIXES, Labram, LabramConfig, labram_config, normalize_input

logger = logging.getLogger(__name__)

# LabramConfig fields that fix the encoder's weights; the data-dependent ones (channels, times, classes) do not.
ENCODER_FIELDS = ("patch_size", "out_chans", "depth", "num_heads", "head_dim", "mlp_hidden", "qkv_bias", "qk_norm",
                  "layer_scale_init", "max_patches", "input_norm")


def fourier_spectrum(patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Amplitude |X_k| and phase arg X_k (radians) of each patch's rfft: (..., P) -> two (..., P//2 + 1)."""
    spectrum = torch.fft.rfft(patches.float(), dim=-1)
    return spectrum.abs(), spectrum.angle()


def std_norm(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """LaBraM's std_norm: z-score each sample over all its other dims (tokens and frequency bins)."""
    dims = tuple(range(1, x.ndim))
    return (x - x.mean(dims, keepdim=True)) / (x.std(dims, keepdim=True) + eps)


def fourier_targets(patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Z-scored amplitude and phase targets of patches (B, N, P): two (B, N, F)."""
    amplitude, phase = fourier_spectrum(patches)
    return std_norm(amplitude), std_norm(phase)


TARGETS = ("amplitude_phase", "amplitude", "amplitude_cossin")


def spectral_targets(patches: torch.Tensor, target: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The two regression targets of `target` (TARGETS) for patches (B, N, P): z-scored amplitude (B, N, F) and
    phase (B, N, F), None, or the z-scored real and imaginary parts (B, N, 2F)."""
    if target == "amplitude_phase":
        return fourier_targets(patches)
    spectrum = torch.fft.rfft(patches.float(), dim=-1)
    amplitude = std_norm(spectrum.abs())
    if target == "amplitude":
        return amplitude, None
    if target == "amplitude_cossin":
        return amplitude, std_norm(torch.cat((spectrum.real, spectrum.imag), -1))
    raise ValueError(f"masked model: target must be one of {TARGETS}, got {target!r}")


def symmetric_masks(batch: int, n_tokens: int, ratio: float,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask, complement), bool (batch, n_tokens): per sample round(ratio * n_tokens) random tokens are masked
    (LaBraM's random_masking: argsort of uniform noise); the complement masks exactly the others."""
    if not 0 < ratio < 1:
        raise ValueError(f"mask ratio must be in (0, 1), got {ratio}")
    n_masked = min(max(round(ratio * n_tokens), 1), n_tokens - 1) if n_tokens > 1 else 1
    rank = torch.rand(batch, n_tokens, generator=generator).argsort(1).argsort(1)
    mask = rank < n_masked
    return mask, ~mask


def encoder_config(size: str, **overrides) -> LabramConfig:
    """The encoder config of a named size; channels, times and classes are placeholders (the encoder's weights
    do not depend on them: channel rows and patch counts are given per batch)."""
    patch_size = overrides.get("patch_size", 200)
    return labram_config(size, 1, patch_size, 1, ["Cz"], **overrides)


class MaskedEEGModel(nn.Module):
    """A Labram encoder plus LaBraM's `mask_token`, a final `norm` and the regression heads of `target`.

    forward(x (B, C, A*P), chan_index (1+C,), mask (B, N)) -> the predicted targets (see `spectral_targets`;
    the second is None for target 'amplitude').
    """

    def __init__(self, encoder: Labram, target: str = "amplitude_cossin"):
        super().__init__()
        if target not in TARGETS:
            raise ValueError(f"masked model: target must be one of {TARGETS}, got {target!r}")
        self.encoder, self.target = encoder, target
        E, F_bins = encoder.cfg.embed_dim, encoder.cfg.patch_size // 2 + 1
        self.mask_token = nn.Parameter(torch.zeros(1, 1, E))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.norm = nn.LayerNorm(E, eps=1e-6)
        self.amp_head = nn.Linear(E, F_bins)
        second = {"amplitude_phase": F_bins, "amplitude": 0, "amplitude_cossin": 2 * F_bins}[target]
        self.phase_head = nn.Linear(E, second) if second else None
        for head in (self.amp_head, self.phase_head):
            if head is not None:
                nn.init.trunc_normal_(head.weight, std=0.02)
                nn.init.zeros_(head.bias)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, A*P) -> (B, C*A, P) after the encoder's `input_norm`, channel-major like the tokens."""
        B, C, T = x.shape
        P = self.encoder.cfg.patch_size
        if T % P:
            raise ValueError(f"masked model: {T} samples are not whole patches of {P}")
        return normalize_input(x, self.encoder.cfg.input_norm).reshape(B, C * (T // P), P)

    def forward(self, x: torch.Tensor, chan_index: torch.Tensor, mask: torch.Tensor):
        patches = self.patches(x)
        tokens = self.encoder.patch_embed(patches)                                     # (B, N, E)
        tokens = torch.where(mask.unsqueeze(-1), self.mask_token.to(tokens.dtype), tokens)
        n_patches = x.shape[-1] // self.encoder.cfg.patch_size
        h = self.norm(self.encoder.encode(tokens, chan_index, n_patches)[:, 1:])
        return self.amp_head(h), None if self.phase_head is None else self.phase_head(h)

    def loss(self, x: torch.Tensor, chan_index: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """MSE of both targets (see `spectral_targets`) on the masked tokens of one mask; 0 when nothing is masked.

        Symmetric masking sums this over a mask and its complement (LaBraM: loss + loss_sym)."""
        if not mask.any():  # the complement of a single-token sample's mask
            return x.new_zeros(())
        amp_t, second_t = spectral_targets(self.patches(x), self.target)
        amp, second = self(x, chan_index, mask)
        loss = F.mse_loss(amp[mask], amp_t[mask])
        return loss if second is None else loss + F.mse_loss(second[mask], second_t[mask])


def encoder_arch(cfg: LabramConfig, size: str) -> dict:
    """arch.json of a pretrained encoder: the name, size and the fields that fix its weights."""
    return {"name": "labram", "size": size, **{k: getattr(cfg, k) for k in ENCODER_FIELDS}}


def encoder_state(model: MaskedEEGModel) -> dict[str, torch.Tensor]:
    """The encoder's weights under the fine-tuning model's key names, without the untrained head and fc_norm."""
    return {k: v.detach().cpu().contiguous() for k, v in model.encoder.state_dict().items()
            if not k.startswith(HEAD_PREFIXES)}


def load_encoder(model: Labram, checkpoint_dir: str | Path) -> dict[str, list[str]]:
    """Load a `pretrain` rule checkpoint (`model.safetensors` + `arch.json`) into a fine-tuning Labram.

    Raises when the architectures differ, when a backbone weight is missing or when the file holds keys the
    model does not have; `head.*` and `fc_norm.*` stay freshly initialised. Returns {"missing", "unexpected"}.
    """
    checkpoint_dir = Path(checkpoint_dir)
    arch = read_json(checkpoint_dir / "arch.json")
    differ = {k: (arch.get(k), getattr(model.cfg, k)) for k in ENCODER_FIELDS if arch.get(k) != getattr(model.cfg, k)}
    if differ:
        raise ValueError(f"{checkpoint_dir / 'arch.json'}: encoder differs from the fine-tuning model "
                         f"(checkpoint, model): {differ}")
    weights = checkpoint_dir / "model.safetensors"
    result = model.load_state_dict(load_file(str(weights)), strict=False)
    missing = [k for k in result.missing_keys if not k.startswith(HEAD_PREFIXES)]
    if missing or result.unexpected_keys:
        raise ValueError(f"{weights}: missing backbone keys {missing[:10]}, unexpected keys {result.unexpected_keys[:10]}")
    logger.info("%s: loaded the pretrained encoder (%s), fresh: %s", weights, arch.get("size"), result.missing_keys)
    return {"missing": list(result.missing_keys), "unexpected": list(result.unexpected_keys)}
