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
