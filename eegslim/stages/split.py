"""Rule `split`: windows.h5 -> splits.json (whole subjects per part; refuses subject overlap)."""

from __future__ import annotations

import logging
from pathlib import Path

from eegslim.splits import save_split, subject_split
from eegslim.store import load_windows

logger = logging.getLogger(__name__)


def run(windows_h5: str | Path, out_json: str | Path, val_fraction: float, test_fraction: float, seed: int) -> dict:
    """Split the windows of `windows_h5` by subject and write the split to `out_json`; return it."""
    windows = load_windows(windows_h5)
    try:
        split = subject_split(windows.subject, windows.y, val_fraction, test_fraction, seed,
                              sessions=windows.session, recordings=windows.recording)
    except ValueError as err:
        raise ValueError(f"{windows_h5}: {err}") from None
    save_split(split, out_json)
    logger.info("split written to %s: %s", out_json, {part: len(split[part]) for part in ("train", "val", "test")})
    return split
