"""Preprocessing every EEGMAT recording on disk (SubjectNN_{1,2}.edf: 48 of subjects 00-23 today): eegslim's
`preprocess` stage vs a plain MNE script.

Both do read → pick 19 EEG channels → band-pass 0.5–45 Hz → notch 50 Hz → resample 200 Hz →
4-s windows → HDF5, with MNE's default filters, in one process; repeats are interleaved (order
alternating) and timed without tracing; one extra traced run each measures the peak of Python/NumPy
allocations (tracemalloc), compared with the largest recording's samples and the whole dataset's.
The two outputs are checked to hold the same windows.

Run (from the repository root; prints a Markdown table):
    .venv/bin/python benchmarks/preprocess_eegmat.py --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import h5py
import mne
import numpy as np

from eegslim.stages.preprocess import run as eegslim_run
from eegslim.store import load_windows

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "eegmat"
CHANNELS = ["Fp1", "Fp2", "F3", "F4", "F7", "F8", "T3", "T4", "C3", "C4", "T5", "T6", "P3", "P4", "O1", "O2",
            "Fz", "Cz", "Pz"]  # fmt: skip
L_FREQ, H_FREQ, NOTCH, SFREQ, WINDOW_S = 0.5, 45.0, 50.0, 200.0, 4.0
OPTIONS = {"label_from": "path", "label_regex": r"_(?P<label>[12])\.edf$",
           "label_map": {"1": "rest", "2": "arithmetic"}, "classes": ["rest", "arithmetic"],
           "subject_regex": r"Subject(?P<subject>\d+)"}  # fmt: skip


def run_eegslim(data: Path, out: Path) -> None:
    cfg = {"adapter": "folder", "root": str(data), "channels": CHANNELS, "l_freq": L_FREQ, "h_freq": H_FREQ,
           "notch": NOTCH, "sfreq": SFREQ, "window_s": WINDOW_S, "options": OPTIONS}  # fmt: skip
    eegslim_run("eegmat", cfg, out / "windows.h5", out / "summary.json")


def run_plain(data: Path, out: Path) -> None:
    """The same chain written directly against MNE and h5py."""
    n_win = int(WINDOW_S * SFREQ)
    with h5py.File(out / "plain.h5", "w") as h5:
        X = h5.create_dataset("X", (0, len(CHANNELS), n_win), "f4", maxshape=(None, len(CHANNELS), n_win),
                              chunks=(16, len(CHANNELS), n_win))  # fmt: skip
        y = h5.create_dataset("y", (0,), "i8", maxshape=(None,))
        for path in sorted(data.glob("Subject*_*.edf")):
            raw = mne.io.read_raw_edf(path, preload=True, infer_types=True, verbose="error")
            raw.pick(CHANNELS)
            raw.filter(L_FREQ, H_FREQ, picks="all", verbose="error")
            raw.notch_filter(NOTCH, picks="all", verbose="error")
            raw.resample(SFREQ, verbose="error")
            n = raw.n_times // n_win
            x = raw.get_data()[:, : n * n_win].reshape(len(CHANNELS), n, n_win).transpose(1, 0, 2)
            x = (x * 1e4).astype(np.float32)
            keep = ~(x.std(axis=2) < 1e-3).any(axis=1)  # the same flat-window rule as eegslim
            x = x[keep]
            X.resize(len(X) + len(x), axis=0)
            X[-len(x) :] = x
            y.resize(len(y) + len(x), axis=0)
            y[-len(x) :] = 0 if path.stem.endswith("_1") else 1


def timed(fn: Callable[[Path, Path], None], data: Path, trace: bool = False) -> tuple[float, int]:
    """(seconds, peak traced bytes or 0), writing into a fresh temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        if trace:
            tracemalloc.start()
        t0 = time.perf_counter()
        fn(data, Path(tmp))
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        if trace:
            tracemalloc.stop()
    return seconds, peak


def check_same(data: Path) -> int:
    """Both pipelines give the same windows; returns their number."""
    with tempfile.TemporaryDirectory() as tmp:
        run_eegslim(data, Path(tmp))
        run_plain(data, Path(tmp))
        ours = load_windows(Path(tmp) / "windows.h5")
        with h5py.File(Path(tmp) / "plain.h5") as h5:
            X, y = h5["X"][()], h5["y"][()]
    assert ours.X.shape == X.shape, (ours.X.shape, X.shape)
    assert np.array_equal(ours.y, y), "labels differ"
    assert np.allclose(ours.X, X, atol=1e-6), f"windows differ by up to {np.abs(ours.X - X).max()}"
    return len(y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"{args.data}: EEGMAT recordings not found (they live in ../shared/data beside the repo)")
    files = sorted(args.data.glob("Subject*_*.edf"))
    sizes = [mne.io.read_raw_edf(f, verbose="error").n_times * 21 * 8 for f in files]  # float64, all 21 channels
    n_windows = check_same(args.data)
    runs = {"eegslim": run_eegslim, "plain MNE": run_plain}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for fn in runs.values():  # warm-up: one-time imports (eegslim's NaN handling pulls in mne.preprocessing), file cache
        timed(fn, args.data)
    for r in range(args.repeats):
        for name in list(runs)[:: 1 if r % 2 == 0 else -1]:
            times[name].append(timed(runs[name], args.data)[0])
    peaks = {name: timed(fn, args.data, trace=True)[1] for name, fn in runs.items()}
    mib = 2**20
    print(f"EEGMAT: {len(files)} recordings, {n_windows} windows of 19×{int(WINDOW_S * SFREQ)}; "
          f"largest recording {max(sizes) / mib:.1f} MiB, all {sum(sizes) / mib:.1f} MiB (float64 samples)\n")
    print("| pipeline | median s | runs (s) | peak traced MiB | peak / largest recording |")
    print("|---|---|---|---|---|")
    for name in runs:
        runs_s = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"| {name} | {statistics.median(times[name]):.2f} | {runs_s} | {peaks[name] / mib:.1f} | "
              f"{peaks[name] / max(sizes):.2f} |")  # fmt: skip
    ratio = statistics.median(times["eegslim"]) / statistics.median(times["plain MNE"])
    print(f"\nratio eegslim / plain (median times): {ratio:.2f}")


if __name__ == "__main__":
    main()
