"""Peak memory (RSS) of masked pretraining of a transformer size on CPU, for a few optimizer steps.

Windows shaped like EEGMAT at 200 Hz (19 channels × 4 one-second patches = 76 tokens), batch `--batch`,
symmetric masking (two forward/backward passes per step), through `eegslim.pretrain.pretrain`. Reports the
resident set before the model is built, the process peak (`resource.getrusage` ru_maxrss) after the steps,
and the parameter memory for scale.

Run (from the repository root):
    .venv/bin/python benchmarks/pretrain_memory.py --size base --steps 4 --batch 32
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from eegslim.models import count_params
from eegslim.models.labram import Labram
from eegslim.models.masked import MaskedEEGModel, encoder_config
from eegslim.pretrain import PretrainConfig, patch_windows, pretrain

CH = ["Fp1", "Fp2", "F3", "F4", "F7", "F8", "T3", "T4", "C3", "C4", "T5", "T6", "P3", "P4", "O1", "O2", "Fz", "Cz",
      "Pz"]  # fmt: skip


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="base", choices=["tiny", "base", "large"])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X = np.random.default_rng(0).standard_normal((args.steps * args.batch, len(CH), 800)).astype(np.float32)
    patches = patch_windows("eegmat-like", X, 200.0, CH, 200, 200.0, 16)
    before = rss_mib()
    model = MaskedEEGModel(Labram(encoder_config(args.size)))
    params = count_params(model)
    cfg = PretrainConfig(epochs=1, batch_size=args.batch, device="cpu")
    start = time.perf_counter()
    history = pretrain(model, [patches], [], cfg)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"| {args.size} | {count_params(model.encoder):,} | {params * 4 / 2**20:.0f} | {args.batch} × "
          f"{len(CH)}×4 patches | {args.steps} | {before:.0f} | {peak:.0f} | {peak - before:.0f} | "
          f"{seconds / args.steps:.1f} | {history['train_loss'][0]:.3f} |")


if __name__ == "__main__":
    print("| size | encoder params | all params MiB (fp32) | batch | steps | RSS before model MiB | peak RSS MiB | "
          "peak − before MiB | s/step | loss |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    main()
