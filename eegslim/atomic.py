"""Crash-safe writers: every output is written under a temporary name and renamed.

A reader never sees a half-written file: either the old file (or none) or the complete new one.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _temp_name(path: Path) -> Path:
    # Keep the suffix so libraries that dispatch on it (h5py, onnx, MNE exporters) still work.
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")


def _remove_stale_temps(path: Path) -> None:
    """Delete temporaries of `path` left by a killed writer (SIGKILL skips the cleanup below).

    One job writes one output (Snakemake guarantees it), so any other temporary of `path` is stale.
    """
    pattern = glob.escape(f".{path.stem}.tmp-") + "*" + glob.escape(path.suffix)
    for stale in path.parent.glob(pattern):
        stale.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` if the block succeeds.

    On any exception the temporary file is removed and `path` is left untouched (a full disk is reported
    naming `path`); temporaries of `path`
    left by an earlier, killed writer are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    tmp = _temp_name(path)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{tmp}: the writer produced no file for {path}")
        with open(tmp, "rb+") as fh:  # data on disk before the rename makes it visible
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OSError(err.errno, f"{path}: disk full while writing it ({err.strerror}); the temporary file "
                                     "was removed and the previous file, if any, is unchanged") from err
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[Any]:
    """Open a temporary file for writing (`mode` 'w' or 'wb'); rename it onto `path` on success."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented JSON with sorted keys, atomically."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, allow_nan=True)
        fh.write("\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, naming the file in the error if it does not parse."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
