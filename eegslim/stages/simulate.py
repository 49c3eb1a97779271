"""Rule `simulate`: write an embedded demo dataset, then its `demo.json` marker (last, so a killed run is redone)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from eegslim.atomic import write_json
from eegslim.simulate import bids_rest, eeg_imagenet, sleep_edf

logger = logging.getLogger(__name__)

WRITERS = {"sleep_edf": sleep_edf.write_dataset, "bids_rest": bids_rest.write_dataset,
           "eeg_imagenet_2024": eeg_imagenet.write_eeg_imagenet_2024,
           "eeg_imagenet_2020": eeg_imagenet.write_eeg_imagenet_2020}


def run(kind: str, out_dir: str | Path, n_subjects: int, seed: int, **params: Any) -> None:
    """Write the `kind` demo dataset (one of WRITERS) under `out_dir`, then `out_dir/demo.json`.

    `params` go to the dataset's writer (sleep_edf: n_epochs; bids_rest: duration_s, sfreq; eeg_imagenet_2024:
    trials_per_class; eeg_imagenet_2020: images_per_class).
    """
    if kind not in WRITERS:
        raise ValueError(f"simulate: unknown kind {kind!r}; expected one of {sorted(WRITERS)}")
    out_dir = Path(out_dir)
    marker = out_dir / "demo.json"
    marker.unlink(missing_ok=True)  # no marker until the new dataset is complete
    started = time.perf_counter()
    files = WRITERS[kind](out_dir, n_subjects=n_subjects, seed=seed, **params)
    relative = sorted(path.relative_to(out_dir).as_posix() for path in files)
    write_json(marker, {"kind": kind, "seed": seed, "n_subjects": n_subjects, "params": params, "files": relative})
    logger.info("simulate %s: %d files in %s (%.1f s)", kind, len(files), out_dir, time.perf_counter() - started)
