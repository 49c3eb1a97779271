"""Logging for pipeline stages: one log file per rule, starting with the rule's inputs and settings."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any


def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO) -> logging.Logger:
    """Send `eegslim.*` log records to `log_file` (appended) and to stderr; return the package logger."""
    logger = logging.getLogger("eegslim")
    logger.setLevel(level)
    logger.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w", encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    logger.propagate = False
    return logger


def log_settings(logger: logging.Logger, rule: str, inputs: Any, settings: Any) -> None:
    """First lines of every rule's log: what it reads and with which settings."""
    logger.info("rule %s", rule)
    logger.info("inputs: %s", json.dumps(inputs, sort_keys=True, default=str))
    logger.info("settings: %s", json.dumps(settings, sort_keys=True, default=str))
