"""windows.h5: labelled EEG windows, written one recording at a time, read whole or by rows.

Layout (docs/contracts.md): X float32 (n, C, T) in 0.1 mV, y int64 (n,), subject/session/recording
UTF-8 strings (n,); attrs dataset, sfreq, ch_names, class_names, unit, preprocessing,
source_hashes, protocol (JSON; protocol: the published evaluation protocol the `fold` column follows,
{"name", "description", "caveat", ...}, or null).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from eegslim.atomic import atomic_path

log = logging.getLogger(__name__)

_STR = h5py.string_dtype("utf-8")
_META = ("subject", "session", "recording", "fold")  # fold: published-protocol part or ""
_CHUNK_BYTES = 1 << 20


def sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class WindowWriter:
    """Context manager that appends per-recording blocks to a new windows.h5.

    The file is written under a temporary name and renamed onto `path` only when the block exits
    without error; attrs and `source_hashes` are written then. Memory: one block at a time.
    """

    def __init__(
        self,
        path: str | Path,
        ch_names: Sequence[str],
        sfreq: float,
        class_names: Sequence[str],
        dataset: str,
        preprocessing: dict[str, Any],
        unit: str = "0.1 mV",
        source_root: str | Path | None = None,
        protocol: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.attrs = {
            "dataset": dataset,
            "sfreq": float(sfreq),
            "ch_names": json.dumps(list(ch_names)),
            "class_names": json.dumps(list(class_names)),
            "unit": unit,
            "preprocessing": json.dumps(preprocessing, sort_keys=True),
            "protocol": json.dumps(protocol, sort_keys=True),
        }
        self.n_channels, self.n_classes = len(ch_names), len(class_names)
        self.source_root = None if source_root is None else Path(source_root)
        self.source_hashes: dict[str, str] = {}
        self.n_rows = 0
        self._h5: h5py.File | None = None
        self._session: contextlib.AbstractContextManager | None = None

    @contextlib.contextmanager
    def _open(self):
        with atomic_path(self.path) as tmp, h5py.File(tmp, "w") as h5:
            self._h5 = h5
            try:
                yield self
                self._finish()
            finally:
                self._h5 = None

    def __enter__(self) -> WindowWriter:
        self._session = self._open()
        return self._session.__enter__()

    def __exit__(self, exc_type, exc, tb) -> bool | None:
        return self._session.__exit__(exc_type, exc, tb)

    def _create(self, n_times: int) -> None:
        rows = max(1, _CHUNK_BYTES // (4 * self.n_channels * n_times))
        self._h5.create_dataset(
            "X", shape=(0, self.n_channels, n_times), maxshape=(None, self.n_channels, n_times),
            dtype=np.float32, chunks=(rows, self.n_channels, n_times),
        )  # fmt: skip
        self._h5.create_dataset("y", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(4096,))
        for name in _META:
            self._h5.create_dataset(name, shape=(0,), maxshape=(None,), dtype=_STR, chunks=(4096,))

    def append(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        subject: str,
        session: str,
        recording: str,
        fold: str | Sequence[str] = "",
        sources: Iterable[str | Path] = (),
    ) -> None:
        """Append one recording's windows X (n, C, T) and labels y (n,); hash its source files (once per file).

        fold: the published protocol's part ('train' | 'val' | 'test') of the recording, or one per
        window; "" when the dataset has no published split.
        """
        if self._h5 is None:
            raise RuntimeError(f"{self.path}: WindowWriter.append outside its `with` block")
        X, y = np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.int64)
        if X.ndim != 3 or X.shape[1] != self.n_channels or len(y) != len(X):
            raise ValueError(f"{recording}: windows {X.shape} / labels {y.shape} do not fit {self.n_channels} channels")
        if len(y) and (y.min() < 0 or y.max() >= self.n_classes):
            raise ValueError(f"{recording}: class ids outside 0..{self.n_classes - 1}")
        if "X" not in self._h5:
            self._create(X.shape[2])
        elif X.shape[2] != self._h5["X"].shape[2]:
            raise ValueError(f"{recording}: window length {X.shape[2]} differs from {self._h5['X'].shape[2]}")
        start, stop = self.n_rows, self.n_rows + len(X)
        columns = {"X": X, "y": y, "subject": subject, "session": session, "recording": recording, "fold": fold}
        for name, values in columns.items():
            self._h5[name].resize(stop, axis=0)
            self._h5[name][start:stop] = values
        self.n_rows = stop
        for src in sources:  # a file shared by several recordings (DEAP/SEED trials) is hashed once
            src = Path(src)
            key = src.relative_to(self.source_root).as_posix() if self.source_root else src.as_posix()
            if key not in self.source_hashes:
                self.source_hashes[key] = sha256(src)

    def _finish(self) -> None:
        if "X" not in self._h5:
            raise ValueError(f"{self.path}: no windows were written")
        for key, value in {**self.attrs, "source_hashes": json.dumps(self.source_hashes, sort_keys=True)}.items():
            self._h5.attrs[key] = value
        log.info("%s: %d windows", self.path, self.n_rows)


@dataclass
class Windows:
    """Contents of windows.h5 (or a subset of its rows, in the order asked)."""

    X: np.ndarray  # (n, C, T) float32, 0.1 mV
    y: np.ndarray  # (n,) int64
    subject: np.ndarray  # (n,) str
    session: np.ndarray
    recording: np.ndarray
    fold: np.ndarray  # (n,) str: published-protocol part or ""
    sfreq: float
    ch_names: list[str]
    class_names: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)  # every attr, JSON ones decoded

    def pick_channels(self, names: Sequence[str]) -> Windows:
        """These windows with only the channels `names`, in that order (X becomes (n, len(names), T)).

        Raises ValueError naming the dataset and the channels it lacks.
        """
        missing = [n for n in names if n not in self.ch_names]
        if missing:
            raise ValueError(f"dataset {self.attrs.get('dataset', '?')!r} lacks channels {missing} (has {self.ch_names})")
        index = [self.ch_names.index(n) for n in names]
        return replace(self, X=self.X[:, index], ch_names=list(names))


def _read_rows(dset: h5py.Dataset, rows: np.ndarray | None) -> np.ndarray:
    """Rows of `dset` (any order, repeats allowed), read as contiguous runs of the sorted rows."""
    if rows is None:
        return dset[()]
    unique, inverse = np.unique(rows, return_inverse=True)
    runs = np.split(unique, np.flatnonzero(np.diff(unique) != 1) + 1) if len(unique) else []
    parts = [dset[r[0] : r[-1] + 1] for r in runs]
    out = np.concatenate(parts) if parts else np.zeros((0, *dset.shape[1:]), dtype=dset.dtype)
    return out[inverse]


def _strings(values: np.ndarray) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else v for v in values], dtype=str)


def load_windows(path: str | Path, rows: Sequence[int] | np.ndarray | None = None, signals: bool = True) -> Windows:
    """Read windows.h5, all rows or `rows` (indices, in that order); errors name the file.

    signals=False skips X (returned with shape (n, C, 0)): labels and metadata only, for the split stage.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such windows file (run the preprocess stage)")
    try:
        with h5py.File(path, "r") as h5:
            n = h5["y"].shape[0]
            idx = None if rows is None else np.asarray(rows, dtype=np.int64)
            if idx is not None and len(idx) and (idx.min() < 0 or idx.max() >= n):
                raise ValueError(f"{path}: rows outside 0..{n - 1}")
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in h5.attrs.items()}
            for key in ("ch_names", "class_names", "preprocessing", "source_hashes"):
                attrs[key] = json.loads(attrs[key])
            attrs["protocol"] = json.loads(attrs.get("protocol", "null"))  # absent in files written before it
            X = _read_rows(h5["X"], idx) if signals else np.zeros((n if idx is None else len(idx), h5["X"].shape[1], 0),
                                                                np.float32)
            return Windows(
                X=X,
                y=_read_rows(h5["y"], idx),
                **{m: _strings(_read_rows(h5[m], idx)) for m in _META},
                sfreq=float(attrs["sfreq"]),
                ch_names=attrs["ch_names"],
                class_names=attrs["class_names"],
                attrs=attrs,
            )
    except (OSError, KeyError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable windows file ({type(err).__name__}: {err})") from err
