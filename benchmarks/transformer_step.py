"""Where the tiny transformer's training step goes on this CPU, and whether a compiler or bf16 makes it faster.

Issue 13, item 3 asks for 1.5x the tiny transformer's training windows/s. This script measures what bounds it,
with train_throughput.py's model and tensors (19 channels x 800 samples, batch 32 -> 2,432 tokens of 100 features),
one thread, AdamW, forward + cross-entropy + backward + step:

1. torch.profiler over 8 steps: time per step by operator (the largest ones), the matrix products' share and the
   rate they run at (their multiply-adds, forward and the two backward products, counted from the model's shapes);
2. the same step eager fp32, under `torch.compile` (inductor; compile time reported apart) and under bf16 autocast
   (weights fp32, products in bf16), interleaved repeats, median ms per step;
3. one isolated fp32 and bf16 product at the MLP's training shape (2,432 x 100 @ 100 x 400): what the kernels reach.

Run (from the repository root; prints Markdown):
    .venv/bin/python benchmarks/transformer_step.py --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from train_throughput import BATCH, data, fresh

MATMUL_OPS = ("aten::mm", "aten::addmm")
STEPS = 8


def linear_macs(model: torch.nn.Module, rows: int) -> int:
    """Multiply-adds of the blocks' nn.Linear layers on `rows` token rows: forward, input gradient and weight
    gradient (3x). The classifier head is left out: it runs on one pooled row per window, not on every token."""
    return 3 * rows * sum(m.in_features * m.out_features for m in model.blocks.modules()
                          if isinstance(m, torch.nn.Linear))


def stepper(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, bf16: bool = False):
    """A function that runs `steps` training steps over consecutive batches and returns seconds per step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()

    def run(steps: int = STEPS) -> float:
        start = time.perf_counter()
        for i in range(steps):
            xb, yb = X[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(xb)
            loss = F.cross_entropy(logits.float(), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return (time.perf_counter() - start) / steps

    return run


def profile_step(X, y) -> None:
    model = fresh("labram")
    run = stepper(model, X, y)
    run(3)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run(STEPS)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total_ms = sum(e.self_cpu_time_total for e in events) / 1e3 / STEPS
    matmul_ms = sum(e.self_cpu_time_total for e in events if e.key in MATMUL_OPS) / 1e3 / STEPS
    rows = BATCH * X.shape[1] * model.cfg.n_patches  # tokens per batch: one per channel and patch
    gflop = 2 * linear_macs(model, rows) / 1e9
    print(f"Profile: {total_ms:.1f} ms per step (profiler self time), {rows} token rows per batch\n")
    print("| operator | ms per step | share |\n|---|---|---|")
    for e in events[:10]:
        ms = e.self_cpu_time_total / 1e3 / STEPS
        print(f"| {e.key[:60]} | {ms:.1f} | {ms / total_ms:.0%} |")
    print(f"\nMatrix products (mm, addmm): {matmul_ms:.1f} ms per step for {gflop:.2f} GFLOP "
          f"= **{gflop / matmul_ms * 1e3:.0f} GFLOP/s**; everything else {total_ms - matmul_ms:.1f} ms.")


def compare_modes(X, y, repeats: int) -> None:
    modes = {"eager fp32": stepper(fresh("labram"), X, y), "bf16 autocast": stepper(fresh("labram"), X, y, True)}
    compiled = torch.compile(fresh("labram"))
    start = time.perf_counter()
    modes["torch.compile (inductor)"] = stepper(compiled, X, y)
    modes["torch.compile (inductor)"](1)
    compile_s = time.perf_counter() - start
    for run in modes.values():
        run(2)
    times: dict[str, list[float]] = {k: [] for k in modes}
    for r in range(repeats):
        for key in list(modes)[:: 1 if r % 2 == 0 else -1]:
            times[key].append(modes[key]() * 1e3)
    eager = statistics.median(times["eager fp32"])
    print(f"\n| step | median ms | runs (ms) | speed-up vs eager fp32 |\n|---|---|---|---|")
    for key, values in times.items():
        print(f"| {key} | {statistics.median(values):.1f} | {', '.join(f'{v:.1f}' for v in values)} | "
              f"**{eager / statistics.median(values):.2f}×** |")
    print(f"\ntorch.compile's first step (compilation): {compile_s:.0f} s.")


def isolated_products() -> None:
    a, b = torch.randn(2432, 100), torch.randn(100, 400)
    print("\n| isolated product 2,432×100 @ 100×400 | GFLOP/s |\n|---|---|")
    for dtype in (torch.float32, torch.bfloat16):
        aa, bb = a.to(dtype), b.to(dtype)
        for _ in range(5):
            aa @ bb
        start = time.perf_counter()
        for _ in range(100):
            aa @ bb
        seconds = (time.perf_counter() - start) / 100
        gflops = 2 * aa.shape[0] * aa.shape[1] * bb.shape[1] / seconds / 1e9
        print(f"| {str(dtype).removeprefix('torch.')} | {gflops:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    X, y, _, _ = data()
    profile_step(X, y)
    compare_modes(X, y, args.repeats)
    isolated_products()


if __name__ == "__main__":
    main()
