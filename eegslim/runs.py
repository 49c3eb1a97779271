"""Run names: the last level of a model directory, one training run of a configuration.

`seed{s}` under a single split (subject or official protocol); `fold{f}-seed{s}` under `split.protocol: kfold`,
where every fold of the subject-wise k-fold is trained and evaluated on its own split file. The report averages
a configuration over its runs (seeds × folds).
"""

from __future__ import annotations

import re

RUN_PATTERN = r"(?:fold\d+-)?seed\d+"  # a Snakemake wildcard constraint
_RUN = re.compile(r"(?:fold(?P<fold>\d+)-)?seed(?P<seed>\d+)")


def run_name(seed: int, fold: int | None = None) -> str:
    """'seed3', or 'fold1-seed3' for fold 1 of a k-fold split."""
    return f"seed{seed}" if fold is None else f"fold{fold}-seed{seed}"


def parse_run(name: str) -> tuple[int | None, int]:
    """(fold or None, seed) of a run name made by `run_name`; ValueError for anything else."""
    match = _RUN.fullmatch(name)
    if match is None:
        raise ValueError(f"run {name!r}: expected 'seed<N>' or 'fold<K>-seed<N>'")
    return (None if match["fold"] is None else int(match["fold"])), int(match["seed"])
