"""Each rule's stage module imports only the heavy libraries that rule uses (issue 13: per-job start-up).

Every Snakemake job is a new Python process, so a library imported and not used costs every job of that rule
its import time (torch ~2 s, scikit-learn ~1 s, MNE ~0.5 s, onnx ~0.7 s here). Checked in a fresh
interpreter per module; the times themselves are benchmarks, not tests.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "mne", "onnx", "onnxruntime", "matplotlib", "sklearn")
# stage module -> the heavy libraries it may import when loaded (what its rule uses from the start)
ALLOWED = {
    "eegslim.stages.split": (),
    "eegslim.stages.preprocess": ("mne",),                 # torch only when an adapter reads .pth files
    "eegslim.stages.report": ("matplotlib",),              # scikit-learn only where a metric is computed
    "eegslim.stages.classical": ("sklearn",),
    "eegslim.stages.train": ("torch",),                    # scikit-learn when the test set is scored
    "eegslim.stages.prune": ("torch",),
    "eegslim.stages.sensitivity": ("torch",),
    "eegslim.stages.quantize": ("torch", "onnx", "onnxruntime"),
    "eegslim.stages.pretrain": ("torch", "mne"),           # MNE resamples pooled datasets to one rate
}


def imported_heavy(module: str) -> list[str]:
    code = f"import sys, json, {module}; print(json.dumps([h for h in {HEAVY!r} if h in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_stage_imports_only_what_its_rule_uses(module):
    extra = sorted(set(imported_heavy(module)) - set(ALLOWED[module]))
    assert not extra, f"{module} imports {extra} at start-up"


def test_the_models_and_the_training_loop_load_without_mne():
    """The transformer reads `.pth` checkpoints through eegslim.io.pth; that must not pull in MNE's readers."""
    assert "mne" not in imported_heavy("eegslim.models")
    assert "mne" not in imported_heavy("eegslim.train")
