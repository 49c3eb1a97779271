"""Check every output of a run: what a crash, a kill or a full disk must never leave behind broken.

    python -m eegslim.verify results resources/demo     # prints counts; exit 1 and the problems if any

Checks: each windows.h5 opens and holds summary.json's `n_windows` rows of X and y; each checkpoint
(arch.json + model.safetensors) rebuilds and loads (a pretrained encoder's weights decode); each JSON file parses and each metrics.json holds every
METRIC_KEYS key and has a predictions.npz beside it with its n_test windows and its accuracy; each model.onnx loads in onnxruntime; each CSV table (results/tables/*.csv, sensitivity.csv)
parses with a header; each HTML page (report.html) is complete; no temporary `*.tmp-*` file of a writer is left.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import h5py
import onnxruntime
import pandas as pd
from safetensors.torch import load_file

from eegslim.atomic import read_json
from eegslim.metrics import METRIC_KEYS
from eegslim.models.checkpoint import load_checkpoint
from eegslim.predictions import predictions_path, read_predictions


def _check_windows(summary_path: Path) -> None:
    expected = read_json(summary_path)["n_windows"]
    h5_path = summary_path.with_name("windows.h5")
    with h5py.File(h5_path, "r") as h5:
        n_x, n_y = h5["X"].shape[0], h5["y"].shape[0]
        if not n_x == n_y == expected:
            raise ValueError(f"{h5_path}: {n_x} windows and {n_y} labels, summary.json says {expected}")
        h5["X"][-1]  # the last chunk is on disk and decodes


def _check_metrics(path: Path) -> None:
    record = read_json(path)
    missing = [key for key in METRIC_KEYS if key not in record]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}")
    if not predictions_path(path).is_file():
        raise ValueError(f"{path}: no {predictions_path(path).name} beside it")
    _check_predictions(predictions_path(path), record)


def _check_predictions(path: Path, record: dict) -> None:
    """predictions.npz holds the record's n_test windows, and its predictions give the record's accuracy."""
    preds = read_predictions(path)
    if len(preds.window) != record["n_test"]:
        raise ValueError(f"{path}: {len(preds.window)} windows, metrics.json says n_test={record['n_test']}")
    accuracy = float((preds.y_true == preds.y_pred).mean())
    if abs(accuracy - record["accuracy"]) > 1e-9:
        raise ValueError(f"{path}: accuracy {accuracy:.6f} of the predictions, metrics.json says {record['accuracy']}")


def _check_checkpoint(arch_path: Path) -> None:
    """A model directory rebuilds and loads; a pretrained encoder (arch.json with `pretrained_on`, no classifier to
    rebuild) decodes its weights."""
    if "pretrained_on" in read_json(arch_path):
        load_file(str(arch_path.with_name("model.safetensors")))
    else:
        load_checkpoint(arch_path.parent)


def _check_csv(path: Path) -> None:
    """A table that pandas parses, with a header row (an empty file raises pandas' EmptyDataError)."""
    if pd.read_csv(path).columns.empty:
        raise ValueError(f"{path}: no header row")


def _check_html(path: Path) -> None:
    """A page written to its end: non-empty and closed by </html>."""
    text = path.read_text(encoding="utf-8").rstrip()
    if not text.lower().endswith("</html>"):
        raise ValueError(f"{path}: {'empty' if not text else 'does not end with </html> (truncated?)'}")


def verify(*roots: str | Path) -> tuple[Counter, list[str]]:
    """(counts of checked files by kind, problems found) for every output under `roots`."""
    counts, problems = Counter(), []
    checks = (
        ("windows.h5", "summary.json", _check_windows),
        ("checkpoint", "arch.json", _check_checkpoint),
        ("metrics.json", "metrics.json", _check_metrics),
        ("json", "*.json", read_json),
        ("onnx", "*.onnx", lambda p: onnxruntime.InferenceSession(str(p), providers=["CPUExecutionProvider"])),
        ("csv", "*.csv", _check_csv),
        ("html", "*.html", _check_html),
    )
    for root in map(Path, roots):
        for kind, pattern, check in checks:
            for path in sorted(root.rglob(pattern)):
                try:
                    check(path)
                    counts[kind] += 1
                except Exception as err:  # noqa: BLE001 (every failure is a finding, reported with its file)
                    problems.append(f"{path}: {kind} check failed: {type(err).__name__}: {err}")
        problems += [f"{path}: temporary file left behind" for path in sorted(root.rglob("*.tmp-*"))]
    return counts, problems


def main(argv: list[str]) -> int:
    counts, problems = verify(*(argv or ["results"]))
    print(", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no outputs found")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
