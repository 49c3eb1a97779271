"""Simulated sleep-deprivation resting-state EEG in the BIDS layout of OpenNeuro ds004902 (specs/datasets.md §3).

Per subject `sub-XX/ses-{1,2}/eeg/sub-XX_ses-{1,2}_task-eyesopen_eeg.{set,fdt,json}` + `_channels.tsv`; ses-1 is
normal sleep (NS), ses-2 sleep deprived (SD). The `.set` is an EEGLAB header saved as MATLAB 5 variables whose
`data` names the `.fdt` file, which holds the samples as float32 µV, channels × samples in MATLAB (column-major)
order; 61 channels (ds004902's names and order), 500 Hz. Sleep deprivation raises frontal theta and lowers
posterior alpha by a per-subject amount.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from eegslim.atomic import atomic_open, write_json
from eegslim.simulate import signals

TASK = "eyesopen"
LINE_HZ = 50.0
# ds004902's 61 channels in its channels.tsv order (Brain Products cap; FCz is the reference and not recorded).
CHANNELS = tuple("Fp1 AF3 AF7 Fz F1 F3 F5 F7 FC1 FC3 FC5 FT7 Cz C1 C3 C5 T7 CP1 CP3 CP5 TP7 TP9 Pz P1 P3 P5 P7 PO3 PO7 "
                 "Oz O1 Fpz Fp2 AF4 AF8 F2 F4 F6 F8 FC2 FC4 FC6 FT8 C2 C4 C6 T8 CPz CP2 CP4 CP6 TP8 TP10 P2 P4 P6 P8 "
                 "POz PO4 PO8 O2".split())
# Scalp distribution of each rhythm, by region (0–1); sites between two regions (AF, FC, …) take the mean.
ALPHA_TOPOGRAPHY = {"Fp": 0.15, "F": 0.25, "T": 0.35, "C": 0.4, "P": 0.8, "O": 1.0}
THETA_TOPOGRAPHY = {"Fp": 0.8, "F": 1.0, "T": 0.4, "C": 0.7, "P": 0.4, "O": 0.3}
BLINK_TOPOGRAPHY = {"Fp": 1.0, "F": 0.3, "T": 0.05, "C": 0.05, "P": 0.0, "O": 0.0}
N_SHARED_SOURCES = 4  # background sources mixed into every channel (volume conduction)


_BETWEEN = {"AF": ("Fp", "F"), "FC": ("F", "C"), "FT": ("F", "T"), "CP": ("C", "P"), "TP": ("T", "P"),
            "PO": ("P", "O")}


def _topography(weights: dict[str, float]) -> np.ndarray:
    """Per-channel weight (channels, 1) from the region letters of each name (Fp1 → Fp, CPz → C/P, PO7 → P/O)."""
    regions = [_BETWEEN.get(prefix, (prefix,)) for prefix in (name.rstrip("0123456789z") for name in CHANNELS)]
    return np.array([np.mean([weights[region] for region in pair]) for pair in regions])[:, None]


@dataclass(frozen=True)
class SubjectTraits:
    """One participant's resting EEG and how strongly sleep deprivation changes it."""

    background_uv: float  # std of the 1/f background
    alpha_uv: float
    theta_uv: float
    alpha_hz: float
    theta_rise: float  # SD multiplies theta by (1 + theta_rise)
    alpha_drop: float  # SD multiplies alpha by (1 - alpha_drop)
    mixing: np.ndarray  # (channels, N_SHARED_SOURCES) background volume conduction
    channel_gains: np.ndarray  # (channels, 1)

    @classmethod
    def draw(cls, rng: np.random.Generator) -> SubjectTraits:
        return cls(background_uv=10.0 * rng.lognormal(0.0, 0.2), alpha_uv=8.0 * rng.lognormal(0.0, 0.2),
                   theta_uv=5.0 * rng.lognormal(0.0, 0.2), alpha_hz=rng.uniform(8.5, 11.5),
                   theta_rise=rng.uniform(0.6, 1.2), alpha_drop=rng.uniform(0.25, 0.5),
                   mixing=rng.normal(0.0, 1.0, (len(CHANNELS), N_SHARED_SOURCES)) / np.sqrt(N_SHARED_SOURCES),
                   channel_gains=rng.lognormal(0.0, 0.1, (len(CHANNELS), 1)))


def recording_signals(rng: np.random.Generator, traits: SubjectTraits, deprived: bool, duration_s: float,
                      sfreq: float) -> np.ndarray:
    """Eyes-open resting EEG in µV, shape (61, duration_s · sfreq): rows follow CHANNELS."""
    n = int(round(duration_s * sfreq))
    session_gain = rng.lognormal(0.0, 0.1)  # electrode impedance, cap fit: differs between sessions
    shared = np.stack([signals.pink_noise(rng, n, sfreq) for _ in range(N_SHARED_SOURCES)])
    own = np.stack([signals.pink_noise(rng, n, sfreq) for _ in CHANNELS])
    data = traits.background_uv * np.sqrt(0.5) * (traits.mixing @ shared + own)
    alpha_uv = traits.alpha_uv * (1 - traits.alpha_drop if deprived else 1.0)
    theta_uv = traits.theta_uv * (1 + traits.theta_rise if deprived else 1.0)
    alpha = signals.band_noise(rng, n, sfreq, traits.alpha_hz - 1.0, traits.alpha_hz + 1.0)
    theta = signals.band_noise(rng, n, sfreq, 4.0, 7.5)
    data += _topography(ALPHA_TOPOGRAPHY) * alpha_uv * (0.8 * alpha + 0.2 * np.stack(
        [signals.band_noise(rng, n, sfreq, traits.alpha_hz - 1.0, traits.alpha_hz + 1.0) for _ in CHANNELS]))
    data += _topography(THETA_TOPOGRAPHY) * theta_uv * theta
    data += 2.0 * np.stack([signals.band_noise(rng, n, sfreq, 15.0, 30.0) for _ in CHANNELS])
    blink_onsets = signals.poisson_onsets(rng, 0.0, duration_s, rng.uniform(0.1, 0.4))
    data += _topography(BLINK_TOPOGRAPHY) * 100.0 * signals.blinks(n, sfreq, blink_onsets)
    data += rng.uniform(1.0, 8.0, (len(CHANNELS), 1)) * signals.line_noise(n, sfreq, LINE_HZ, rng.uniform(0, 2 * np.pi))
    return data * traits.channel_gains * session_gain


def _mat5_bytes(variables: dict, created: dt.datetime) -> bytes:
    """MATLAB 5 file of `variables`, with a fixed creation date in its header (scipy stamps the current time)."""
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables, format="5", oned_as="row")
    header = f"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: {created:%a %b %d %H:%M:%S %Y}"
    return header.ljust(116).encode("ascii") + buffer.getvalue()[116:]


def write_eeglab(set_path: Path, data_uv: np.ndarray, sfreq: float, subject: str, session: int,
                 created: dt.datetime) -> None:
    """Write an EEGLAB `.set` header and its `.fdt` float32 data file (channels × samples µV), atomically."""
    fdt_path = set_path.with_suffix(".fdt")
    n_channels, n_samples = data_uv.shape
    with atomic_open(fdt_path, "wb") as fh:
        fh.write(np.asarray(data_uv.T, dtype="<f4").tobytes())  # MATLAB order: all channels of sample 1 first
    chanlocs = np.rec.fromarrays([np.array(CHANNELS, dtype=object), np.array(["EEG"] * n_channels, dtype=object)],
                                 names=["labels", "type"])
    header = {"setname": set_path.stem, "filename": set_path.name, "filepath": "", "subject": subject,
              "group": "", "condition": "NS" if session == 1 else "SD", "session": float(session), "comments": "",
              "nbchan": float(n_channels), "trials": 1.0, "pnts": float(n_samples), "srate": float(sfreq),
              "xmin": 0.0, "xmax": (n_samples - 1) / sfreq, "times": np.zeros((0, 0)), "data": fdt_path.name,
              "datfile": fdt_path.name, "icaact": np.zeros((0, 0)), "icawinv": np.zeros((0, 0)),
              "icasphere": np.zeros((0, 0)), "icaweights": np.zeros((0, 0)), "icachansind": np.zeros((0, 0)),
              "chanlocs": chanlocs, "ref": "common"}
    with atomic_open(set_path, "wb") as fh:
        fh.write(_mat5_bytes(header, created))


def _write_tsv(path: Path, rows: list[list[str]]) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.writelines("\t".join(row) + "\n" for row in rows)


def write_dataset(out_dir: Path, n_subjects: int, seed: int, *, duration_s: float = 60.0,
                  sfreq: float = 500.0) -> list[Path]:
    """Write eyes-open recordings of both sessions for sub-01..sub-{n_subjects}; return the files written."""
    if not 1 <= n_subjects <= 99:
        raise ValueError(f"bids_rest: n_subjects must be 1..99 (two-digit sub-XX labels), got {n_subjects}")
    if duration_s < 10:
        raise ValueError(f"bids_rest: duration_s must be at least 10 s, got {duration_s}")
    rng = np.random.default_rng(seed)
    orders = np.array(["NS->SD", "SD->NS"] * ((n_subjects + 1) // 2))[:n_subjects]
    rng.shuffle(orders)  # counterbalanced chronological order, unrelated to the label
    files = [out_dir / "dataset_description.json", out_dir / "participants.tsv", out_dir / "participants.json"]
    write_json(files[0], {"Name": "eegslim simulated sleep-deprivation resting-state EEG (ds004902 layout)",
                          "BIDSVersion": "1.8.0", "DatasetType": "raw", "License": "CC0",
                          "GeneratedBy": [{"Name": "eegslim.simulate.bids_rest", "Description": f"seed {seed}"}]})
    participants = [["participant_id", "Age", "Gender", "SessionOrder"]]
    for index in range(n_subjects):
        subject = f"{index + 1:02d}"
        subject_rng = np.random.default_rng([seed, index])
        traits = SubjectTraits.draw(subject_rng)
        participants.append([f"sub-{subject}", str(subject_rng.integers(18, 30)), str(subject_rng.choice(["F", "M"])),
                             str(orders[index])])
        first_visit = dt.datetime(2021, 3, 1) + dt.timedelta(days=int(subject_rng.integers(0, 600)))
        for session in (1, 2):
            session_rng = np.random.default_rng([seed, index, session])
            later_visit = (session == 2) != (orders[index] == "SD->NS")
            created = first_visit + dt.timedelta(days=7 if later_visit else 0)
            stem = out_dir / f"sub-{subject}" / f"ses-{session}" / "eeg" / f"sub-{subject}_ses-{session}_task-{TASK}"
            data = recording_signals(session_rng, traits, session == 2, duration_s, sfreq)
            set_path = stem.with_name(stem.name + "_eeg.set")
            write_eeglab(set_path, data, sfreq, subject, session, created)
            write_json(stem.with_name(stem.name + "_eeg.json"), {
                "TaskName": TASK, "SamplingFrequency": sfreq, "EEGChannelCount": len(CHANNELS),
                "EOGChannelCount": 0, "ECGChannelCount": 0, "EMGChannelCount": 0, "EEGReference": "FCz",
                "PowerLineFrequency": LINE_HZ, "RecordingDuration": duration_s, "RecordingType": "continuous",
                "SoftwareFilters": "n/a", "EEGPlacementScheme": "10-20"})
            channels_tsv = stem.with_name(stem.name + "_channels.tsv")
            _write_tsv(channels_tsv, [["name", "type", "units"]] + [[name, "EEG", "uV"] for name in CHANNELS])
            files += [set_path, set_path.with_suffix(".fdt"), stem.with_name(stem.name + "_eeg.json"), channels_tsv]
    _write_tsv(files[1], participants)
    write_json(files[2], {"SessionOrder": {
        "Description": "Chronological order of the two sessions (ses-1 is always NS, ses-2 always SD)",
        "Levels": {"NS->SD": "normal sleep first", "SD->NS": "sleep deprivation first"}}})
    return files
