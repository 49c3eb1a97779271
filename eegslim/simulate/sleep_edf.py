"""Simulated Sleep-EDF Expanded cassette (SC) nights: a PSG EDF+ and an annotations-only hypnogram per subject.

Layout as PhysioNet ships it (specs/datasets.md §4): `SC4ss1E0-PSG.edf` holds `EEG Fpz-Cz`, `EEG Pz-Oz` and
`EOG horizontal` at 100 Hz; `SC4ss1E?-Hypnogram.edf` (last letter varies by subject) holds runs of equal R&K
stages in 30-s epochs, starting at the PSG's start date and time.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from pathlib import Path

import edfio
import mne
import numpy as np
from scipy.ndimage import uniform_filter1d

from eegslim.atomic import atomic_path
from eegslim.simulate import signals

SFREQ = 100.0
EPOCH_S = 30.0
CHANNELS = ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")
STAGE_DESCRIPTIONS = {
    "W": "Sleep stage W", "1": "Sleep stage 1", "2": "Sleep stage 2", "3": "Sleep stage 3",
    "4": "Sleep stage 4", "R": "Sleep stage R", "?": "Sleep stage ?", "M": "Movement time",
}
HYPNOGRAM_LETTERS = "CHJMPUVW"  # the varying last letter of real SC hypnogram names

# Standard deviation (noise) or peak (events) of each component at weight 1, in µV.
BASE_UV = {"background": 12.0, "alpha": 9.0, "theta": 7.0, "beta": 2.5, "delta": 22.0, "emg": 4.0,
           "spindle": 25.0, "kcomplex": 80.0, "blink": 120.0, "saccade": 70.0, "sem": 45.0}
# How much of each component reaches (Fpz-Cz, Pz-Oz, EOG horizontal).
MIXING = {"background": (1.0, 0.9, 0.6), "alpha": (0.45, 1.0, 0.1), "theta": (1.0, 0.7, 0.3),
          "beta": (1.0, 0.6, 0.2), "delta": (1.0, 0.6, 0.5), "emg": (1.0, 0.5, 0.8), "spindle": (0.8, 1.0, 0.1),
          "kcomplex": (1.0, 0.6, 0.4), "blink": (0.15, 0.0, 1.0), "saccade": (0.15, 0.0, 1.0),
          "sem": (0.15, 0.0, 1.0)}
EPOCH_JITTER = 0.35  # log-std of epoch-to-epoch variation of each component's weight
RHYTHMS = ("alpha", "theta", "beta", "delta", "sem")
EVENTS = ("spindle", "kcomplex", "blink", "saccade")
_WAKE = {"background": 1.0, "alpha": 1.0, "theta": 0.25, "beta": 1.0, "delta": 0.15, "emg": 0.6, "sem": 0.0,
         "spindle": 0.0, "kcomplex": 0.0, "blink": 0.3, "saccade": 0.3}
# Per stage: weights of noise components and rates (events/s) of transient events.
STAGE_PROFILES = {
    "W": _WAKE,
    "?": _WAKE,
    "1": {"background": 0.9, "alpha": 0.45, "theta": 0.9, "beta": 0.5, "delta": 0.3, "emg": 0.5, "sem": 1.0,
          "spindle": 0.0, "kcomplex": 0.01, "blink": 0.02, "saccade": 0.0},
    "2": {"background": 1.0, "alpha": 0.1, "theta": 0.7, "beta": 0.3, "delta": 0.45, "emg": 0.35, "sem": 0.15,
          "spindle": 0.15, "kcomplex": 0.05, "blink": 0.0, "saccade": 0.0},
    "3": {"background": 1.1, "alpha": 0.05, "theta": 0.5, "beta": 0.2, "delta": 1.2, "emg": 0.25, "sem": 0.0,
          "spindle": 0.05, "kcomplex": 0.02, "blink": 0.0, "saccade": 0.0},
    "4": {"background": 1.1, "alpha": 0.03, "theta": 0.4, "beta": 0.15, "delta": 1.7, "emg": 0.2, "sem": 0.0,
          "spindle": 0.02, "kcomplex": 0.0, "blink": 0.0, "saccade": 0.0},
    "R": {"background": 0.75, "alpha": 0.3, "theta": 0.8, "beta": 0.6, "delta": 0.2, "emg": 0.2, "sem": 0.1,
          "spindle": 0.0, "kcomplex": 0.0, "blink": 0.0, "saccade": 0.5},
    "M": {"background": 1.5, "alpha": 0.5, "theta": 0.5, "beta": 1.0, "delta": 0.5, "emg": 8.0, "sem": 0.5,
          "spindle": 0.0, "kcomplex": 0.0, "blink": 0.3, "saccade": 1.0},
}
# Brief stage changes that fragment a night: where an epoch of each sleep stage may jump to.
_FRAGMENTS = {"1": "W2", "2": "1W3", "3": "24", "4": "3", "R": "1W2"}


@dataclass(frozen=True)
class SubjectTraits:
    """What makes one sleeper's EEG differ from another's."""

    gains: dict[str, float]  # per component, multiplies BASE_UV
    channel_gains: np.ndarray  # (3,)
    alpha_hz: float
    spindle_hz: float
    exponent: float  # 1/f exponent of the background
    sex: str  # "M" | "F"
    age: int  # years

    @classmethod
    def draw(cls, rng: np.random.Generator) -> SubjectTraits:
        overall = rng.lognormal(0.0, 0.2)
        return cls(gains={name: overall * rng.lognormal(0.0, 0.35) for name in BASE_UV},
                   channel_gains=rng.lognormal(0.0, 0.1, len(CHANNELS)), alpha_hz=rng.uniform(8.5, 11.5),
                   spindle_hz=rng.uniform(12.0, 14.5), exponent=rng.uniform(0.8, 1.4),
                   sex=str(rng.choice(["M", "F"])), age=int(rng.integers(25, 102)))


def hypnogram(rng: np.random.Generator, n_epochs: int) -> list[str]:
    """One stage code (keys of STAGE_DESCRIPTIONS) per 30-s epoch: wake, compressed sleep cycles, wake, a few `?`.

    Cycles descend N1 → N2 → N3 → N4 and back to N2, then REM; deep sleep shrinks and REM grows in later cycles.
    """
    n_unknown = int(rng.integers(1, 4))
    n_wake_start = max(2, round(n_epochs * rng.uniform(0.10, 0.16)))
    n_wake_end = max(1, round(n_epochs * rng.uniform(0.05, 0.09)))
    n_sleep = n_epochs - n_unknown - n_wake_start - n_wake_end
    n_cycles = max(1, round(n_sleep / 40))
    cycle_ends = np.round(np.linspace(0, n_sleep, n_cycles + 1)).astype(int)
    sleep: list[str] = []
    for cycle, length in enumerate(np.diff(cycle_ends)):
        late = cycle / max(1, n_cycles - 1)
        weights = np.array([0.13, 0.22, 0.38 * (1 - late) + 0.06, 0.12, 0.12 + 0.22 * late]) * rng.uniform(0.7, 1.3, 5)
        n1, n2a, n_deep, n2b, n_rem = np.maximum(1, np.floor(weights / weights.sum() * length)).astype(int)
        n2b += length - (n1 + n2a + n_deep + n2b + n_rem)  # rounding remainder
        n4 = int(n_deep * rng.uniform(0.3, 0.6) * (1 - 0.7 * late))
        n3a = (n_deep - n4) // 2
        sleep += ["1"] * n1 + ["2"] * n2a + ["3"] * n3a + ["4"] * n4 + ["3"] * (n_deep - n4 - n3a) + ["2"] * n2b
        sleep += ["R"] * n_rem
    for i, stage in enumerate(sleep):
        draw = rng.uniform()
        if draw < 0.01:
            sleep[i] = "M"
        elif draw < 0.07 and stage in _FRAGMENTS:
            sleep[i] = str(rng.choice(list(_FRAGMENTS[stage])))
    return ["W"] * n_wake_start + sleep + ["W"] * n_wake_end + ["?"] * n_unknown


def stage_runs(stages: list[str]) -> list[tuple[float, float, str]]:
    """Merge consecutive equal epochs into (onset s, duration s, description) runs, as the real hypnograms do."""
    runs, onset = [], 0.0
    for stage, group in itertools.groupby(stages):
        duration = EPOCH_S * len(list(group))
        runs.append((onset, duration, STAGE_DESCRIPTIONS[stage]))
        onset += duration
    return runs


def _epoch_envelope(weights: np.ndarray, epoch_samples: int) -> np.ndarray:
    """Per-epoch weights (n_epochs,) → per-sample envelope, ramped over 2 s at stage changes."""
    return uniform_filter1d(np.repeat(weights, epoch_samples), size=int(2 * SFREQ), mode="nearest")


def _component_carrier(rng: np.random.Generator, name: str, traits: SubjectTraits, n: int) -> np.ndarray:
    """Unit-std carrier of a rhythmic component, shape (n,)."""
    bands = {"alpha": (traits.alpha_hz - 1.0, traits.alpha_hz + 1.0), "theta": (4.0, 7.5), "beta": (15.0, 25.0),
             "delta": (0.5, 2.0), "sem": (0.1, 0.5)}
    return signals.band_noise(rng, n, SFREQ, *bands[name])


def _event_train(rng: np.random.Generator, name: str, onsets: np.ndarray, traits: SubjectTraits, n: int) -> np.ndarray:
    """Unit-peak train of one transient event type at `onsets` (s), shape (n,)."""
    if name == "spindle":
        return signals.spindles(rng, n, SFREQ, onsets, traits.spindle_hz)
    if name == "kcomplex":
        return signals.k_complexes(rng, n, SFREQ, onsets)
    if name == "blink":
        return signals.blinks(n, SFREQ, onsets)
    return signals.saccades(rng, n, SFREQ, onsets)


def psg_signals(rng: np.random.Generator, stages: list[str], traits: SubjectTraits) -> np.ndarray:
    """Stage-dependent PSG for one night in µV, shape (3, n_epochs · 3000): rows follow CHANNELS."""
    epoch_samples = int(EPOCH_S * SFREQ)
    n = len(stages) * epoch_samples
    mixing = {name: np.asarray(weights)[:, None] for name, weights in MIXING.items()}

    def stage_weights(name: str) -> np.ndarray:
        return np.array([STAGE_PROFILES[stage][name] for stage in stages])

    def amplitude(name: str) -> np.ndarray:
        weights = stage_weights(name) * rng.lognormal(0.0, EPOCH_JITTER, len(stages))
        return BASE_UV[name] * traits.gains[name] * _epoch_envelope(weights, epoch_samples)

    shared = signals.pink_noise(rng, n, SFREQ, traits.exponent)
    own = np.stack([signals.pink_noise(rng, n, SFREQ, traits.exponent) for _ in CHANNELS])
    data = mixing["background"] * amplitude("background") * np.sqrt(0.5) * (shared + own)
    muscle = np.stack([signals.band_noise(rng, n, SFREQ, 20.0, 45.0) for _ in CHANNELS])
    data += mixing["emg"] * amplitude("emg") * muscle
    for name in RHYTHMS:
        data += mixing[name] * amplitude(name) * _component_carrier(rng, name, traits, n)
    for name in EVENTS:
        rates = stage_weights(name)
        onsets = np.concatenate([signals.poisson_onsets(rng, i * EPOCH_S, EPOCH_S, rate)
                                 for i, rate in enumerate(rates) if rate > 0] or [np.empty(0)])
        peak = BASE_UV[name] * traits.gains[name]
        data += mixing[name] * peak * _event_train(rng, name, onsets, traits, n)
    return data * traits.channel_gains[:, None]


def _start_datetime(rng: np.random.Generator) -> dt.datetime:
    """Lights-off time of a night in the years the SC recordings were made (UTC, whole seconds)."""
    day = dt.date(1989, 1, 1) + dt.timedelta(days=int(rng.integers(0, 5 * 365)))
    minutes = 21 * 60 + 30 + int(rng.integers(0, 150))
    return dt.datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=dt.timezone.utc)


def _patient_name(traits: SubjectTraits) -> str:
    return f"{'Female' if traits.sex == 'F' else 'Male'}_{traits.age}yr"


def write_psg(path: Path, data_uv: np.ndarray, start: dt.datetime, traits: SubjectTraits) -> None:
    """Write the PSG (3, n) µV as EDF+ with MNE's exporter (edfio), atomically."""
    info = mne.create_info(list(CHANNELS), SFREQ, ch_types=["eeg", "eeg", "eog"])
    raw = mne.io.RawArray(data_uv * 1e-6, info, verbose="error")
    raw.set_meas_date(start)
    raw.info["subject_info"] = {"his_id": "X", "sex": 2 if traits.sex == "F" else 1,
                                "last_name": _patient_name(traits)}
    with atomic_path(path) as tmp:
        mne.export.export_raw(tmp, raw, fmt="edf", overwrite=True, verbose="error")


def write_hypnogram(path: Path, runs: list[tuple[float, float, str]], start: dt.datetime,
                    traits: SubjectTraits) -> None:
    """Write an annotations-only EDF+ (no signals), like the real `SC4ssNE?-Hypnogram.edf`, atomically."""
    edf = edfio.Edf([], annotations=[edfio.EdfAnnotation(onset, duration, text) for onset, duration, text in runs],
                    patient=edfio.Patient(code="X", sex=traits.sex, name=_patient_name(traits)),
                    recording=edfio.Recording(startdate=start.date()), starttime=start.time())
    with atomic_path(path) as tmp:
        edf.write(tmp)


def write_dataset(out_dir: Path, n_subjects: int, seed: int, *, n_epochs: int = 150) -> list[Path]:
    """Write one night (N=1) of `n_epochs` 30-s epochs for subjects 00..n_subjects-1; return the files written."""
    if not 1 <= n_subjects <= 100:
        raise ValueError(f"sleep_edf: n_subjects must be 1..100 (two-digit SC subject numbers), got {n_subjects}")
    if n_epochs < 40:
        raise ValueError(f"sleep_edf: n_epochs must be at least 40 (20 min) to hold a sleep cycle, got {n_epochs}")
    letter_offset = int(np.random.default_rng(seed).integers(len(HYPNOGRAM_LETTERS)))
    files = []
    for subject in range(n_subjects):
        rng = np.random.default_rng([seed, subject])
        traits = SubjectTraits.draw(rng)
        start = _start_datetime(rng)
        stages = hypnogram(rng, n_epochs)
        letter = HYPNOGRAM_LETTERS[(letter_offset + subject) % len(HYPNOGRAM_LETTERS)]
        psg = out_dir / f"SC4{subject:02d}1E0-PSG.edf"
        hyp = out_dir / f"SC4{subject:02d}1E{letter}-Hypnogram.edf"
        write_psg(psg, psg_signals(rng, stages, traits), start, traits)
        write_hypnogram(hyp, stage_runs(stages), start, traits)
        files += [psg, hyp]
    return files
