"""Building blocks of simulated EEG/EOG: background noise, rhythms and transient events.

Every generator returns a float64 array of shape (n_samples,). Noise generators have unit standard
deviation and event generators unit peak amplitude; the caller scales them to µV. Onsets are in
seconds from the start of the recording; events running past the end are cut off.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter


def _shaped_noise(rng: np.random.Generator, n_samples: int, amplitude: np.ndarray) -> np.ndarray:
    """Gaussian noise whose amplitude spectrum is `amplitude` (one value per rfft bin), unit std."""
    spectrum = amplitude * (rng.standard_normal(amplitude.size) + 1j * rng.standard_normal(amplitude.size))
    signal = np.fft.irfft(spectrum, n_samples)
    return signal / signal.std()


def pink_noise(rng: np.random.Generator, n_samples: int, sfreq: float, exponent: float = 1.0,
               knee_hz: float = 0.5) -> np.ndarray:
    """1/f^exponent background (power spectrum), flat below `knee_hz`, no DC; unit std."""
    freqs = np.fft.rfftfreq(n_samples, 1 / sfreq)
    amplitude = np.maximum(freqs, knee_hz) ** (-exponent / 2)
    amplitude[0] = 0.0
    return _shaped_noise(rng, n_samples, amplitude)


def band_noise(rng: np.random.Generator, n_samples: int, sfreq: float, low_hz: float,
               high_hz: float) -> np.ndarray:
    """Gaussian noise band-limited to [low_hz, high_hz] (a waxing and waning rhythm); unit std."""
    freqs = np.fft.rfftfreq(n_samples, 1 / sfreq)
    amplitude = ((freqs >= low_hz) & (freqs <= high_hz)).astype(float)
    return _shaped_noise(rng, n_samples, amplitude)


def line_noise(n_samples: int, sfreq: float, freq_hz: float, phase: float) -> np.ndarray:
    """Mains interference: a sine at `freq_hz` with `phase` (rad); unit peak."""
    return np.sin(2 * np.pi * freq_hz * np.arange(n_samples) / sfreq + phase)


def poisson_onsets(rng: np.random.Generator, start_s: float, duration_s: float, rate_hz: float) -> np.ndarray:
    """Onsets (s) of a Poisson process with `rate_hz` events per second within [start_s, start_s + duration_s)."""
    count = rng.poisson(rate_hz * duration_s)
    return np.sort(start_s + rng.uniform(0, duration_s, count))


def _add_at(out: np.ndarray, sfreq: float, onset_s: float, waveform: np.ndarray) -> None:
    """Add `waveform` into `out` starting at `onset_s`, cut at the end of `out`."""
    start = int(round(onset_s * sfreq))
    stop = min(out.size, start + waveform.size)
    if start < stop:
        out[start:stop] += waveform[: stop - start]


def spindles(rng: np.random.Generator, n_samples: int, sfreq: float, onsets_s: np.ndarray, freq_hz: float,
             duration_s: tuple[float, float] = (0.5, 2.0)) -> np.ndarray:
    """Sleep spindles: Hann-windowed sines near `freq_hz` (±0.5 Hz), each 0.5–2 s long; unit peak."""
    out = np.zeros(n_samples)
    for onset in onsets_s:
        t = np.arange(int(rng.uniform(*duration_s) * sfreq)) / sfreq
        freq = freq_hz + rng.uniform(-0.5, 0.5)
        _add_at(out, sfreq, onset, np.hanning(t.size) * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)))
    return out


def k_complexes(rng: np.random.Generator, n_samples: int, sfreq: float, onsets_s: np.ndarray) -> np.ndarray:
    """K-complexes: a sharp negative wave (~0.3 s) followed by a slower positive one, ~1.2 s; unit peak."""
    out = np.zeros(n_samples)
    t = np.arange(int(1.2 * sfreq)) / sfreq
    for onset in onsets_s:
        width = rng.uniform(0.07, 0.11)
        wave = -np.exp(-((t - 0.3) / width) ** 2) + 0.6 * np.exp(-((t - 0.7) / (2.5 * width)) ** 2)
        _add_at(out, sfreq, onset, wave)
    return out


def blinks(n_samples: int, sfreq: float, onsets_s: np.ndarray) -> np.ndarray:
    """Eye blinks: monophasic bumps ~0.3 s wide; unit peak."""
    out = np.zeros(n_samples)
    t = np.arange(int(0.6 * sfreq)) / sfreq
    wave = np.exp(-((t - 0.25) / 0.08) ** 2)
    for onset in onsets_s:
        _add_at(out, sfreq, onset, wave)
    return out


def saccades(rng: np.random.Generator, n_samples: int, sfreq: float, onsets_s: np.ndarray,
             time_constant_s: float = 1.0) -> np.ndarray:
    """Rapid eye movements as an AC-coupled EOG sees them: random steps (±0.3–1) decaying with `time_constant_s`."""
    steps = np.zeros(n_samples)
    index = np.clip(np.round(onsets_s * sfreq).astype(int), 0, n_samples - 1)
    np.add.at(steps, index, rng.choice([-1.0, 1.0], index.size) * rng.uniform(0.3, 1.0, index.size))
    decay = np.exp(-1 / (time_constant_s * sfreq))
    gaze = lfilter([1.0], [1.0, -decay], steps)  # gaze steps through a first-order high-pass
    smoothing = np.hanning(max(3, int(0.04 * sfreq)))
    return np.convolve(gaze, smoothing / smoothing.sum(), mode="same")
