"""Logging for pipeline stages: one log file per rule, starting with the rule's inputs and settings."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any


def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO) -> logging.Logger:
    """Send `eegslim.*` log records to `log_file` (or to stderr without one); return the package logger."""
    logger = logging.getLogger("eegslim")
    logger.setLevel(level)
    logger.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    if log_file is None:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
    else:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, mode="w", encoding="utf-8")
    handler.setFormatter(fmt)
    logger.addHandler(handler)
    logger.propagate = False
    return logger


def _decoded(value: Any) -> Any:
    """Params travel as JSON strings (flat, for Snakemake's rerun checks); log them as objects."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def start_rule(smk: Any) -> logging.Logger:
    """Set up logging for a Snakemake `script:` job; log its inputs, outputs, settings and SLURM job first."""
    logger = setup_logging(smk.log[0] if smk.log else None)
    logger.info("rule %s, wildcards %s, threads %d", smk.rule, dict(smk.wildcards), smk.threads)
    for what, values in (("inputs", smk.input), ("outputs", smk.output), ("settings", smk.params)):
        named = {key: _decoded(value) for key, value in values.items()} or list(values)
        logger.info("%s: %s", what, json.dumps(named, sort_keys=True, default=str))
    if job_id := os.environ.get("SLURM_JOB_ID"):  # the proof that a cluster job ran inside SLURM
        logger.info("SLURM_JOB_ID=%s node=%s gpus=%s", job_id, os.environ.get("SLURMD_NODENAME", "?"),
                    os.environ.get("SLURM_JOB_GPUS") or os.environ.get("CUDA_VISIBLE_DEVICES") or "none")

    def log_uncaught(exc_type, exc, tb):  # the failure lands in the rule's log too, not only on stderr
        logger.error("failed: %s", exc, exc_info=(exc_type, exc, tb))
        sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = log_uncaught
    return logger
