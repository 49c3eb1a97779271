"""Reading recordings with MNE: one reader per format, and standard channel names.

The names below load on first use (PEP 562), so importing a submodule that needs none of them (`eegslim.io.pth`,
used by the models) does not import MNE.
"""

from importlib import import_module

_WHERE = {"READERS": "readers", "RecordingError": "readers", "load_raw": "readers", "read_raw": "readers",
          "source_files": "readers", "eeg_channels": "channels", "normalize_name": "channels",
          "pick_channels": "channels"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
