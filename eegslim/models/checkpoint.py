"""Checkpoints: `model.safetensors` (state_dict) + `arch.json` (config); rebuilt, never unpickled."""

from __future__ import annotations

import gzip
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..atomic import atomic_path, read_json, write_json
from . import build_model


def save_checkpoint(model: nn.Module, arch: dict, out_dir: str | Path) -> Path:
    """Write `out_dir/model.safetensors` and `out_dir/arch.json` atomically; return the weights path."""
    out_dir = Path(out_dir)
    weights = out_dir / "model.safetensors"
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp), metadata={"name": str(arch["name"])})
    write_json(out_dir / "arch.json", arch)
    return weights


def load_checkpoint(model_dir: str | Path) -> tuple[nn.Module, dict]:
    """Rebuild the model of `model_dir/arch.json` and load `model_dir/model.safetensors` (strict); eval mode."""
    model_dir = Path(model_dir)
    arch = read_json(model_dir / "arch.json")
    model = build_model(arch)
    weights = model_dir / "model.safetensors"
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{weights}: not a readable safetensors file ({err})") from err
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{model_dir / 'model.safetensors'}: does not match arch.json ({err})") from err
    return model.eval(), arch


def file_sizes(path: str | Path) -> tuple[int, int]:
    """(bytes, gzip -9 bytes) of a file: the dense size and a size that reflects zeros (sparsity)."""
    data = Path(path).read_bytes()
    return len(data), len(gzip.compress(data, compresslevel=9, mtime=0))
