"""LaBraM-compatible Neural Transformer (fine-tuning model), with the original state_dict key names.

Jiang, W.-B., Zhao, L.-M., Lu, B.-L. (2024). Large Brain Model for Learning Generic Representations with
Tremendous EEG Data in BCI. ICLR 2024. Code: github.com/935963004/LaBraM (MIT), `modeling_finetune.py`.

Shapes (B batch, C channels, A patches per channel, P patch_size samples, E embed_dim, N classes)::

    x (B, C, A*P)  -> patches (B, C*A, P)                      one token per channel and second (P=200 at 200 Hz)
    patch_embed    TemporalConv: 3 convs, GroupNorm(4), GELU  -> (B, C*A, E)      E = out_chans * ceil(P/8)
    + pos_embed[channel] + time_embed[patch]; CLS prepended   -> (B, 1+C*A, E)
    blocks         pre-norm attention + MLP, layer scale, drop path, per-block head count and MLP width
    mean (or attention-weighted mean) of the patch tokens -> fc_norm -> head   -> logits (B, N)

`input_norm` rescales each window inside the model (so training, evaluation, ONNX export and quantization all
see the same transform); `pool` picks the token pooling.

Per-block `num_heads[i]` and `mlp_hidden[i]` let structurally pruned models rebuild from their config;
`mlp_hidden[i] == 0` removes that block's MLP branch (`norm2`, `mlp`, `gamma_2`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from eegslim.io.pth import load_pth

logger = logging.getLogger(__name__)

# The setting an UnsafePickleError from `load_pretrained` tells the user to allow globals with.
CHECKPOINT_OPTION = "`labram.allowed_globals: [module.name, ...]` (e.g. [argparse.Namespace])"

# LaBraM's utils.standard_1020 (channel-embedding row = index + 1; row 0 is the CLS token). Only the first
# 128 names have a row in the pretrained pos_embed (1, 129, E); the last 8 bipolar pairs are left out.
STANDARD_1020 = [
    "FP1", "FPZ", "FP2", "AF9", "AF7", "AF5", "AF3", "AF1", "AFZ", "AF2", "AF4", "AF6", "AF8", "AF10",
    "F9", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8", "F10",
    "FT9", "FT7", "FC5", "FC3", "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "FT10",
    "T9", "T7", "C5", "C3", "C1", "CZ", "C2", "C4", "C6", "T8", "T10",
    "TP9", "TP7", "CP5", "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6", "TP8", "TP10",
    "P9", "P7", "P5", "P3", "P1", "PZ", "P2", "P4", "P6", "P8", "P10",
    "PO9", "PO7", "PO5", "PO3", "PO1", "POZ", "PO2", "PO4", "PO6", "PO8", "PO10",
    "O1", "OZ", "O2", "O9", "CB1", "CB2", "IZ", "O10", "T3", "T5", "T4", "T6", "M1", "M2", "A1", "A2",
    "CFC1", "CFC2", "CFC3", "CFC4", "CFC5", "CFC6", "CFC7", "CFC8",
    "CCP1", "CCP2", "CCP3", "CCP4", "CCP5", "CCP6", "CCP7", "CCP8",
    "T1", "T2", "FTT9h", "TTP7h", "TPP9h", "FTT10h", "TPP8h", "TPP10h",
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP2-F8", "F8-T8", "T8-P8", "P8-O2",
]
_ROW = {name.upper(): i + 1 for i, name in enumerate(STANDARD_1020)}

# LabramConfig.input_norm: how each window (B, C, T) is rescaled before patching.
#   none       as stored (eegslim's windows are in 0.1 mV, LaBraM's scale);
#   channel_z  each channel of each window to zero mean and unit variance over time;
#   window_z   each channel's mean removed, then the window divided by its RMS over channels and time (relative
#              channel amplitudes kept).
INPUT_NORMS = ("none", "channel_z", "window_z")
POOLS = ("mean", "attention")          # LabramConfig.pool: patch tokens -> one vector (plain or learned weights)
# Fine-tuning parts that no pretraining checkpoint holds (fresh in every fine-tuned model).
HEAD_PREFIXES = ("head.", "fc_norm.", "attn_pool.")


def channel_index(ch_names: list[str]) -> list[int]:
    """pos_embed rows for `ch_names`, CLS (0) first. Case-insensitive; an unlisted bipolar pair 'A-B' uses A's row."""
    rows = [0]
    for name in ch_names:
        key = name.strip().upper()
        if key not in _ROW and "-" in key:
            key = key.split("-", 1)[0]
        if key not in _ROW:
            raise ValueError(f"LaBraM: channel {name!r} is not in the standard_1020 channel-embedding table")
        rows.append(_ROW[key])
    return rows


@dataclass
class LabramConfig:
    n_chans: int
    n_times: int
    n_classes: int
    ch_names: list[str]
    patch_size: int = 200
    out_chans: int = 8                              # TemporalConv channels; embed_dim = out_chans * ceil(P/8)
    depth: int = 12
    num_heads: list[int] = field(default_factory=lambda: [10] * 12)
    head_dim: int = 20
    mlp_hidden: list[int] = field(default_factory=lambda: [800] * 12)   # 0 = block without MLP
    qkv_bias: bool = False
    qk_norm: bool = True
    layer_scale_init: float = 0.1
    drop_path: float = 0.1
    max_patches: int = 16
    init_scale: float = 0.001
    channel_rows: list[int] | None = None           # pos_embed rows (CLS first); None = from ch_names
    input_norm: str = "none"                        # INPUT_NORMS
    pool: str = "mean"                              # POOLS

    def __post_init__(self):
        if len(self.ch_names) != self.n_chans:
            raise ValueError(f"LaBraM: {len(self.ch_names)} ch_names for n_chans={self.n_chans}")
        if not 1 <= self.n_patches <= self.max_patches:
            raise ValueError(f"LaBraM: n_times={self.n_times} makes {self.n_patches} patches of {self.patch_size} "
                             f"samples; 1 to max_patches ({self.max_patches}) fit the temporal embedding")
        if self.channel_rows is not None and len(self.channel_rows) != self.n_chans + 1:
            raise ValueError(f"LaBraM: channel_rows needs CLS + {self.n_chans} entries, got {len(self.channel_rows)}")
        if len(self.num_heads) != self.depth or len(self.mlp_hidden) != self.depth:
            raise ValueError(f"LaBraM: num_heads {self.num_heads} and mlp_hidden {self.mlp_hidden} "
                             f"need one entry per block (depth={self.depth})")
        if min(self.num_heads) < 1 or min(self.mlp_hidden) < 0:
            raise ValueError(f"LaBraM: every block needs >= 1 head and mlp_hidden >= 0, got {self.num_heads}, "
                             f"{self.mlp_hidden}")
        if self.input_norm not in INPUT_NORMS or self.pool not in POOLS:
            raise ValueError(f"LaBraM: input_norm must be one of {INPUT_NORMS} (got {self.input_norm!r}) and pool "
                             f"one of {POOLS} (got {self.pool!r})")
        if self.out_chans % 4:
            raise ValueError(f"LaBraM: out_chans={self.out_chans} must be a multiple of 4 (GroupNorm(4))")

    @property
    def n_patches(self) -> int:
        """Patches per channel; a window that is not a multiple of patch_size is zero-padded at its end."""
        return -(-self.n_times // self.patch_size)

    @property
    def embed_dim(self) -> int:
        # conv1: kernel 15, stride 8, padding 7 -> floor((P - 1) / 8) + 1 samples; conv2/3 keep the length
        return self.out_chans * ((self.patch_size - 1) // 8 + 1)


# Named sizes. base = LaBraM-Base exactly (5,819,936 backbone params); large = LaBraM-Large's width at 16 blocks
# (30.9M backbone params, the study's ~30M scale); tiny = the CPU demo size.
SIZES = {
    "tiny": dict(out_chans=4, depth=2, heads=4, head_dim=25, mlp_ratio=4),
    "base": dict(out_chans=8, depth=12, heads=10, head_dim=20, mlp_ratio=4),
    "large": dict(out_chans=16, depth=16, heads=16, head_dim=25, mlp_ratio=4),
}


def labram_config(size: str, n_chans: int, n_times: int, n_classes: int, ch_names: list[str],
                  **overrides) -> LabramConfig:
    """A LabramConfig of a named size ('tiny', 'base', 'large'); `overrides` replace any config field.

    An int `num_heads` or `mlp_hidden` override applies to every block.
    """
    if size not in SIZES:
        raise ValueError(f"LaBraM: unknown size {size!r}; choose one of {sorted(SIZES)}")
    s = SIZES[size]
    patch_size = overrides.get("patch_size", 200)
    out_chans = overrides.get("out_chans", s["out_chans"])
    depth = overrides.get("depth", s["depth"])
    embed_dim = out_chans * ((patch_size - 1) // 8 + 1)
    fields = dict(out_chans=out_chans, depth=depth, num_heads=[s["heads"]] * depth, head_dim=s["head_dim"],
                  mlp_hidden=[s["mlp_ratio"] * embed_dim] * depth)
    for key in ("num_heads", "mlp_hidden"):
        if isinstance(overrides.get(key), int):
            overrides[key] = [overrides[key]] * depth
    return LabramConfig(n_chans=n_chans, n_times=n_times, n_classes=n_classes, ch_names=list(ch_names),
                        **{**fields, **overrides})


def normalize_input(x: torch.Tensor, how: str, eps: float = 1e-6) -> torch.Tensor:
    """Windows (B, C, T) rescaled as `how` (INPUT_NORMS) says; same shape. Plain ops, so ONNX exports them."""
    if how == "none":
        return x
    x = x - x.mean(-1, keepdim=True)
    dims = -1 if how == "channel_z" else (-2, -1)
    return x / (x.pow(2).mean(dims, keepdim=True) + eps).sqrt()


class AttentionPool(nn.Module):
    """Softmax-weighted mean of tokens with one learned score per token: (B, N, E) -> (B, E)."""

    def __init__(self, dim: int):
        super().__init__()
        self.score = nn.Linear(dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.score(x).softmax(1) * x).sum(1)


class TemporalConv(nn.Module):
    """LaBraM's patch encoder: (B, C*A, P) raw patches -> (B, C*A, E) tokens, E = out_chans * ceil(P/8)."""

    def __init__(self, out_chans: int):
        super().__init__()
        self.conv1 = nn.Conv2d(1, out_chans, (1, 15), stride=(1, 8), padding=(0, 7))
        self.norm1 = nn.GroupNorm(4, out_chans)
        self.conv2 = nn.Conv2d(out_chans, out_chans, (1, 3), padding=(0, 1))
        self.norm2 = nn.GroupNorm(4, out_chans)
        self.conv3 = nn.Conv2d(out_chans, out_chans, (1, 3), padding=(0, 1))
        self.norm3 = nn.GroupNorm(4, out_chans)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(1)                                        # (B, 1, C*A, P)
        x = F.gelu(self.norm1(self.conv1(x)))                     # (B, oc, C*A, P')
        x = F.gelu(self.norm2(self.conv2(x)))
        x = F.gelu(self.norm3(self.conv3(x)))
        return x.permute(0, 2, 3, 1).flatten(2)                   # 'B C NA T -> B NA (T C)'


class Attention(nn.Module):
    """Multi-head self-attention with `num_heads` heads of `head_dim` (inner width may differ from E)."""

    def __init__(self, dim: int, num_heads: int, head_dim: int, qkv_bias: bool, qk_norm: bool):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, head_dim
        inner = num_heads * head_dim
        self.qkv = nn.Linear(dim, 3 * inner, bias=False)
        if qkv_bias:  # LaBraM: separate q and v biases, none for k
            self.q_bias = nn.Parameter(torch.zeros(inner))
            self.v_bias = nn.Parameter(torch.zeros(inner))
        else:
            self.q_bias = self.v_bias = None
        self.q_norm = nn.LayerNorm(head_dim, eps=1e-6) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(head_dim, eps=1e-6) if qk_norm else nn.Identity()
        self.proj = nn.Linear(inner, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, _ = x.shape
        bias = None
        if self.q_bias is not None:
            bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias)
        q, k, v = qkv.reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (B, h, N, hd)
        x = F.scaled_dot_product_attention(self.q_norm(q), self.k_norm(k), v)
        return self.proj(x.transpose(1, 2).flatten(2))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero the residual branch of whole samples with probability p (rescaled)."""
    if p == 0.0 or not training:
        return x
    keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1 - p)
    return x * keep / (1 - p)


class Block(nn.Module):
    """Pre-norm transformer block with layer scale: x += gamma_1*attn(norm1 x); x += gamma_2*mlp(norm2 x)."""

    def __init__(self, dim: int, num_heads: int, head_dim: int, mlp_hidden: int, cfg: LabramConfig, drop: float):
        super().__init__()
        self.drop = drop
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, head_dim, cfg.qkv_bias, cfg.qk_norm)
        self.gamma_1 = nn.Parameter(torch.full((dim,), cfg.layer_scale_init))
        if mlp_hidden > 0:
            self.norm2 = nn.LayerNorm(dim, eps=1e-6)
            self.mlp = Mlp(dim, mlp_hidden)
            self.gamma_2 = nn.Parameter(torch.full((dim,), cfg.layer_scale_init))
        else:
            self.mlp = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + drop_path(self.gamma_1 * self.attn(self.norm1(x)), self.drop, self.training)
        if self.mlp is not None:
            x = x + drop_path(self.gamma_2 * self.mlp(self.norm2(x)), self.drop, self.training)
        return x


class Labram(nn.Module):
    """LaBraM Neural Transformer for classification. Input (B, C, A*patch_size) float, output (B, N) logits."""

    def __init__(self, cfg: LabramConfig):
        super().__init__()
        self.cfg = cfg
        E = cfg.embed_dim
        rows = cfg.channel_rows if cfg.channel_rows is not None else channel_index(cfg.ch_names)
        self.register_buffer("chan_index", torch.tensor(rows), persistent=False)
        self.patch_embed = TemporalConv(cfg.out_chans)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, E))
        self.pos_embed = nn.Parameter(torch.zeros(1, 128 + 1, E))
        self.time_embed = nn.Parameter(torch.zeros(1, cfg.max_patches, E))
        drops = torch.linspace(0, cfg.drop_path, cfg.depth).tolist()
        self.blocks = nn.ModuleList(
            Block(E, h, cfg.head_dim, m, cfg, d) for h, m, d in zip(cfg.num_heads, cfg.mlp_hidden, drops))
        self.attn_pool = AttentionPool(E) if cfg.pool == "attention" else None
        self.fc_norm = nn.LayerNorm(E, eps=1e-6)
        self.head = nn.Linear(E, cfg.n_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # As LaBraM: truncated normal (std 0.02) for embeddings and Linears, residual projections scaled by
        # 1/sqrt(2 * layer), head multiplied by init_scale.
        for p in (self.pos_embed, self.time_embed, self.cls_token):
            nn.init.trunc_normal_(p, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        with torch.no_grad():
            for i, block in enumerate(self.blocks, start=1):
                block.attn.proj.weight.div_(math.sqrt(2.0 * i))
                if block.mlp is not None:
                    block.mlp.fc2.weight.div_(math.sqrt(2.0 * i))
            self.head.weight.mul_(self.cfg.init_scale)
            self.head.bias.mul_(self.cfg.init_scale)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, n_times) -> pooled features (B, E); the window is zero-padded to A whole patches."""
        B, C, T = x.shape
        if C != self.cfg.n_chans or T != self.cfg.n_times:
            raise ValueError(f"LaBraM: input {tuple(x.shape)} does not fit n_chans={self.cfg.n_chans}, "
                             f"n_times={self.cfg.n_times}")
        A = self.cfg.n_patches
        x = normalize_input(x, self.cfg.input_norm)
        if A * self.cfg.patch_size != T:
            x = F.pad(x, (0, A * self.cfg.patch_size - T))
        x = self.patch_embed(x.reshape(B, C * A, self.cfg.patch_size))            # (B, C*A, E), channel-major
        tokens = self.encode(x, self.chan_index, A)[:, 1:]
        return self.fc_norm(tokens.mean(1) if self.attn_pool is None else self.attn_pool(tokens))

    def encode(self, tokens: torch.Tensor, chan_index: torch.Tensor, n_patches: int) -> torch.Tensor:
        """Patch tokens (B, C*A, E), channel-major, -> block outputs (B, 1+C*A, E), CLS first.

        Adds the channel rows `chan_index` (1+C,) of pos_embed (CLS first) and the temporal embedding of
        A = `n_patches`, prepends the CLS token and runs the blocks. Masked pretraining calls it too.
        """
        B, A = tokens.shape[0], n_patches
        pos = self.pos_embed[:, chan_index]                                       # (1, 1+C, E)
        C = pos.shape[1] - 1
        x = tokens + pos[:, 1:].repeat_interleave(A, dim=1) + self.time_embed[:, :A].repeat(1, C, 1)
        x = torch.cat(((self.cls_token + pos[:, :1]).expand(B, -1, -1), x), dim=1)
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def load_pretrained(model: Labram, path: str | Path, allowed_globals: Sequence[str] = ()) -> dict[str, list[str]]:
    """Load a LaBraM pretraining checkpoint (`labram-base.pth`: `checkpoint['model']`, `student.*` keys).

    Read by `load_pth` (weights only, plus `allowed_globals`, e.g. 'argparse.Namespace' for a saved
    `args`; anything else raises UnsafePickleError listing the file's globals). Keeps the `student.`
    keys with the prefix stripped, drops `head.*` on a shape mismatch, loads with strict=False and raises
    if any backbone key other than the HEAD_PREFIXES stays missing or has the wrong shape.
    Returns {"missing": [...], "unexpected": [...]} as reported by load_state_dict.
    """
    path = Path(path)
    checkpoint = load_pth(path, allowed_globals, option=CHECKPOINT_OPTION)
    state = checkpoint.get("model", checkpoint.get("module")) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: no 'model' state dict in the checkpoint")
    state = {k[len("student."):]: v for k, v in state.items() if k.startswith("student.")}
    if not state:
        raise ValueError(f"{path}: no 'student.*' keys (not a LaBraM pretraining checkpoint)")
    own = model.state_dict()
    for key in [k for k in state if k.startswith("head.") and k in own and state[k].shape != own[k].shape]:
        del state[key]
    wrong = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items()
             if k in own and v.shape != own[k].shape]
    if wrong:
        raise ValueError(f"{path}: shapes do not match the model: {wrong[:5]}")
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith(HEAD_PREFIXES)]
    if missing:
        raise ValueError(f"{path}: backbone weights missing from the checkpoint: {missing[:10]}")
    logger.info("%s: loaded %d tensors; fresh: %s; ignored: %d", path, len(state) - len(result.unexpected_keys),
                result.missing_keys, len(result.unexpected_keys))
    return {"missing": list(result.missing_keys), "unexpected": list(result.unexpected_keys)}
