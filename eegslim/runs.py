"""Run names: the last level of a model directory, one training run of a configuration.

`seed{s}` under a single split (subject or official protocol); `fold{f}-seed{s}` under a k-fold `split.protocol`
(kfold, segment_kfold), where every fold is trained and evaluated on its own split file. The report averages
a configuration over its runs (seeds × folds).

Pretraining scopes name the encoder a fine-tuning run starts from (results/pretrain/{size}/{scope}/): `all`, one
encoder on every pool member's train part, or `{dataset}-fold{k}` when the fine-tuned dataset is itself k-folded
in the pool, so that fold k's encoder never saw fold k's test subjects.
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


POOLED_SCOPE = "all"


def pretrain_scope(dataset: str, run: str, pool: list[str]) -> str:
    """The pretraining scope of run `run` of `dataset` when `pool` datasets are pretrained on."""
    fold = parse_run(run)[0]
    return f"{dataset}-fold{fold}" if fold is not None and dataset in pool else POOLED_SCOPE


def held_out_fold(scope: str) -> tuple[str, int] | None:
    """(dataset, fold) whose test subjects pretraining scope `scope` leaves out; None for the pooled scope."""
    if scope == POOLED_SCOPE:
        return None
    dataset, _, fold = scope.rpartition("-fold")
    return dataset, int(fold)
