"""Reading recordings with MNE: one reader per format, and standard channel names."""

from eegslim.io.channels import eeg_channels, normalize_name, pick_channels
from eegslim.io.readers import READERS, RecordingError, load_raw, read_raw, source_files

__all__ = [
    "READERS",
    "RecordingError",
    "eeg_channels",
    "load_raw",
    "normalize_name",
    "pick_channels",
    "read_raw",
    "source_files",
]
