"""Loading third-party pickles (torch `.pth`, DEAP `.dat`) without running code from them.

`load_pth` uses torch's weights-only unpickler (tensors, containers, scalars, torch's allow-list)
plus the globals a config names explicitly (`allowed_globals`); anything else is refused with the
pickle's global references listed statically (the pickle is disassembled, never executed).
`load_restricted_pickle` reads numpy-array pickles (DEAP's Python-2 `.dat` files) allowing only the
classes numpy needs to rebuild arrays. torch is imported by `load_pth` itself, so a dataset adapter that reads
`.pth` files costs the preprocessing of other datasets no torch import.
"""

from __future__ import annotations

import importlib
import io
import logging
import pickle
import pickletools
import re
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

# The globals needed to rebuild numpy arrays, under numpy 1 and numpy 2 module names; `_codecs.encode`
# turns a str into bytes (how Python 3 writes an array's bytes in protocol-2 pickles).
_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}
_NUMPY_DTYPES_MODULE = "numpy.dtypes"  # numpy 2 dtype classes (Float64DType, ...), any name allowed
_STRING_OPS = {
    "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
}  # fmt: skip
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
# The line of torch's weights-only error that says what was refused (the rest is generic advice).
_TORCH_REASON = re.compile(r"WeightsUnpickler error|Unsupported|Trying to load")
_LEGACY_PICKLES = 5  # torch<1.6 files: magic, protocol, sys_info, the object, storage keys; then raw bytes


# The setting a refusal names by default (a dataset's `.pth` files); checkpoints name their own.
DATASET_OPTION = "the dataset option `allowed_globals: [module.name, ...]`"


class UnsafePickleError(ValueError):
    """A pickle that references globals outside the allow-list; the message names file and globals."""


def _globals_in_stream(stream: BinaryIO) -> list[str]:
    """'module.name' of every GLOBAL / STACK_GLOBAL / INST in one pickle, read statically.

    STACK_GLOBAL takes module and name from the stack: the last two values pushed as strings
    (directly or from the memo); '?' where they were not strings.
    """
    found: list[str] = []
    pushed: list[Any] = []  # strings pushed, None for any other opcode (enough for STACK_GLOBAL)
    memo: dict[int, Any] = {}
    for op, arg, _ in pickletools.genops(stream):
        if op.name in ("GLOBAL", "INST"):
            found.append(arg.replace(" ", ".", 1))
        elif op.name == "STACK_GLOBAL":
            module, name = (pushed[-2:] if len(pushed) >= 2 else [None, None])
            found.append(f"{module if isinstance(module, str) else '?'}.{name if isinstance(name, str) else '?'}")
        if op.name in _STRING_OPS:
            pushed.append(arg if isinstance(arg, str) else arg.decode("latin1"))
        elif op.name in _GET_OPS:
            pushed.append(memo.get(arg))
        elif op.name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif op.name in _PUT_OPS:
            memo[arg] = pushed[-1] if pushed else None
        else:
            pushed.append(None)
        if op.name == "STOP":
            break
    return found


def _pickles(path: Path) -> Iterator[BinaryIO]:
    """The pickle streams of a file: `*/data.pkl` of a zip checkpoint, else the file's leading pickles."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name == "data.pkl" or name.endswith("/data.pkl"):
                    yield io.BytesIO(archive.read(name))
        return
    with open(path, "rb") as fh:
        for _ in range(_LEGACY_PICKLES):
            if not fh.peek(1):
                return
            yield fh


def pickle_globals(path: str | Path) -> list[str]:
    """Every global ('module.name') the pickle(s) in `path` reference, in order of first use; static."""
    path, found = Path(path), []
    for stream in _pickles(path):
        try:
            found.extend(_globals_in_stream(stream))
        except ValueError:  # raw storage bytes after a legacy file's pickles, or a damaged stream
            break
    return list(dict.fromkeys(found))


def _resolve(name: str) -> Any:
    """The object named 'module.name' (imported), or ValueError naming the config option."""
    module, _, attr = name.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as err:
        raise ValueError(f"allowed_globals: cannot import {name!r} ({type(err).__name__}: {err})") from err


def load_pth(path: str | Path, allowed_globals: Sequence[str] = (), option: str = DATASET_OPTION) -> Any:
    """`torch.load` a `.pth` with `weights_only=True` (tensors on CPU; zip files memory-mapped).

    allowed_globals: 'module.name' strings trusted in addition to torch's allow-list. A file that
    needs anything else raises UnsafePickleError listing the globals it references; it is never
    unpickled in full. option: the config setting that error tells the user to allow globals with.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    extra = [_resolve(g) for g in allowed_globals]
    try:
        with torch.serialization.safe_globals(extra):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as err:
        raise _unsafe(path, allowed_globals, err, option) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise ValueError(f"{path}: not a readable torch file ({type(err).__name__}: {err})") from err


def _unsafe(path: Path, allowed: Sequence[str], err: Exception, option: str) -> UnsafePickleError:
    """The refusal: the globals outside torch's allow-list and `allowed`, and how to allow them."""
    from torch import _weights_only_unpickler

    safe = set(_weights_only_unpickler._get_allowed_globals()) | set(allowed)
    unsafe = [g for g in pickle_globals(path) if g not in safe]
    reasons = [line.strip() for line in str(err).splitlines() if _TORCH_REASON.search(line)]
    listed = f"it references {unsafe}" if unsafe else "no disallowed global found statically"
    torch_says = f"; torch: {reasons[0]}" if reasons else ""
    return UnsafePickleError(
        f"{path}: refused to unpickle with weights_only=True ({listed}{torch_says}). Nothing from "
        f"the file was executed. If you trust it, allow these explicitly with {option}."
    )


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and nothing else."""

    def __init__(self, fh: BinaryIO, path: Path) -> None:
        super().__init__(fh, encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_GLOBALS or module == _NUMPY_DTYPES_MODULE:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"{self.path}: refused global {module}.{name}: only numpy array reconstruction is allowed in this pickle"
        )


def load_restricted_pickle(path: str | Path) -> Any:
    """Unpickle a numpy-array pickle (DEAP `.dat`, Python 2: latin1 strings) allowing only numpy arrays."""
    path = Path(path)
    with open(path, "rb") as fh:
        try:
            return _NumpyOnlyUnpickler(fh, path).load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
            raise ValueError(f"{path}: not a readable pickle ({type(err).__name__}: {err})") from err
