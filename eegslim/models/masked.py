"""Masked EEG modelling on the LaBraM-compatible transformer: targets, symmetric masks, the pretraining model.

LaBraM (Jiang et al., ICLR 2024) replaces half of the patch tokens with a learned mask token and predicts the
VQ codes of the masked patches; its tokenizer learns those codes by reconstructing each patch's Fourier
amplitude and phase. Here the encoder regresses the z-scored amplitude and phase directly (no tokenizer;
specs/models.md §8.2), with LaBraM's symmetric masking: every step also runs the complement mask, so each
patch is predicted exactly once per step.

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
from .labram import Labram, LabramConfig, labram_config

logger = logging.getLogger(__name__)

# LabramConfig fields that fix the encoder's weights; the data-dependent ones (channels, times, classes) do not.
ENCODER_FIELDS = ("patch_size", "out_chans", "depth", "num_heads", "head_dim", "mlp_hidden", "qkv_bias", "qk_norm",
                  "layer_scale_init", "max_patches")
# Fine-tuning parts the pretraining does not train (fresh in every fine-tuned model).
HEAD_PREFIXES = ("head.", "fc_norm.")


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
    """A Labram encoder plus LaBraM's `mask_token`, a final `norm` and amplitude/phase regression heads.

    forward(x (B, C, A*P), chan_index (1+C,), mask (B, N)) -> predicted amplitude and phase, each (B, N, F).
    """

    def __init__(self, encoder: Labram):
        super().__init__()
        self.encoder = encoder
        E, P = encoder.cfg.embed_dim, encoder.cfg.patch_size
        self.mask_token = nn.Parameter(torch.zeros(1, 1, E))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.norm = nn.LayerNorm(E, eps=1e-6)
        self.amp_head = nn.Linear(E, P // 2 + 1)
        self.phase_head = nn.Linear(E, P // 2 + 1)
        for head in (self.amp_head, self.phase_head):
            nn.init.trunc_normal_(head.weight, std=0.02)
            nn.init.zeros_(head.bias)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, A*P) -> (B, C*A, P), channel-major like the tokens."""
        B, C, T = x.shape
        P = self.encoder.cfg.patch_size
        if T % P:
            raise ValueError(f"masked model: {T} samples are not whole patches of {P}")
        return x.reshape(B, C * (T // P), P)

    def forward(self, x: torch.Tensor, chan_index: torch.Tensor, mask: torch.Tensor):
        patches = self.patches(x)
        tokens = self.encoder.patch_embed(patches)                                     # (B, N, E)
        tokens = torch.where(mask.unsqueeze(-1), self.mask_token.to(tokens.dtype), tokens)
        n_patches = x.shape[-1] // self.encoder.cfg.patch_size
        h = self.norm(self.encoder.encode(tokens, chan_index, n_patches)[:, 1:])
        return self.amp_head(h), self.phase_head(h)

    def loss(self, x: torch.Tensor, chan_index: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """MSE of amplitude plus phase on the masked tokens of one mask; 0 when nothing is masked.

        Symmetric masking sums this over a mask and its complement (LaBraM: loss + loss_sym)."""
        if not mask.any():  # the complement of a single-token sample's mask
            return x.new_zeros(())
        amp_t, phase_t = fourier_targets(self.patches(x))
        amp, phase = self(x, chan_index, mask)
        return F.mse_loss(amp[mask], amp_t[mask]) + F.mse_loss(phase[mask], phase_t[mask])


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
