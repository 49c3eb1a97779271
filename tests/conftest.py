"""Shared fixtures."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real recordings in ../shared/data beside the checkout; skips when absent (a fresh clone)."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"real recordings not found: {path} is absent (they live beside the checkout, not in it)")
    return path


@pytest.fixture(scope="session")
def mini_run(tmp_path_factory) -> Path:
    """A complete run of the small workflow copy of tests/mini.py (12 jobs), shared by rerun and determinism tests.

    Tests that edit files in it must restore them (times included).
    """
    from mini import mini_workdir, run

    workdir = mini_workdir(tmp_path_factory.mktemp("mini"))
    run(workdir, "results/report.html")
    return workdir
