"""A classical reference classifier, `bandpower_lr`: log relative band power per channel + logistic regression.

Features of one window (C channels, T samples at `sfreq` Hz): the Welch PSD of every channel (Hann segments of
`nperseg = min(T, 2 s)` samples, half overlap), its power in each band [lo, hi) Hz, bands ordered by frequency (default delta 1-4, theta 4-8,
alpha 8-13, beta 13-30, gamma 30-45) divided by the power over the union of the bands, then log10: a vector of
C × n_bands values, channel-major (channel 0's bands first). The classifier is StandardScaler + LogisticRegression
(class_weight balanced, lbfgs: deterministic) as one scikit-learn Pipeline. A fitted model is saved as JSON
(`to_json`: bands as [name, lo, hi] in feature order, scaler mean/scale, coef, intercept, classes) and scored from it with numpy (`BandpowerModel`),
never pickled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import welch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

DEFAULT_BANDS = {"delta": (1.0, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0),
                 "gamma": (30.0, 45.0)}
SEGMENT_S = 2.0     # Welch segment length, seconds (shorter windows use the whole window)
EPS = 1e-12         # floor of a relative power before log10 (a band with no power)
CHUNK = 512         # windows per Welch call (bounds the float64 copy)
MAX_ITER = 10_000   # lbfgs iterations: far more than standardized band powers need


def check_bands(bands: dict, sfreq: float) -> dict[str, tuple[float, float]]:
    """Bands as {name: (lo, hi)} floats ordered by frequency (the feature order does not depend on the order of
    JSON keys); a band that is empty, negative or reaches above the Nyquist frequency (sfreq / 2) raises a
    ValueError naming the band and the sfreq."""
    if not bands:
        raise ValueError("bandpower_lr.bands: no bands")
    out = {}
    for name, edges in bands.items():
        if len(edges) != 2:
            raise ValueError(f"bandpower_lr.bands.{name}: expected [low, high] Hz, got {edges!r}")
        lo, hi = float(edges[0]), float(edges[1])
        if not 0 <= lo < hi:
            raise ValueError(f"bandpower_lr.bands.{name}: need 0 <= low < high, got [{lo:g}, {hi:g}] Hz")
        if hi > sfreq / 2:
            raise ValueError(f"bandpower_lr.bands.{name}: [{lo:g}, {hi:g}] Hz reaches above the Nyquist frequency "
                             f"{sfreq / 2:g} Hz of data at sfreq {sfreq:g} Hz; lower the band or drop it")
        out[name] = (lo, hi)
    return dict(sorted(out.items(), key=lambda item: (item[1], item[0])))


def segment_length(n_times: int, sfreq: float) -> int:
    """Welch segment length in samples: min(window, SEGMENT_S seconds)."""
    return int(min(n_times, round(SEGMENT_S * sfreq)))


def band_masks(freqs: np.ndarray, bands: dict[str, tuple[float, float]]) -> np.ndarray:
    """(n_bands, n_freqs) bool: the PSD bins lo <= f < hi of each band (hi included for a band ending at Nyquist)."""
    masks = []
    for name, (lo, hi) in bands.items():
        mask = (freqs >= lo) & ((freqs < hi) | (np.isclose(freqs, hi) & np.isclose(hi, freqs[-1])))
        if not mask.any():
            raise ValueError(f"bandpower_lr.bands.{name}: [{lo:g}, {hi:g}] Hz holds no PSD bin at the Welch "
                             f"resolution of {freqs[1] - freqs[0]:g} Hz; widen it")
        masks.append(mask)
    return np.array(masks)


def relative_band_power(X: np.ndarray, sfreq: float, bands: dict = DEFAULT_BANDS) -> np.ndarray:
    """(n, C, n_bands) power of each band over the power in the union of the bands (rows sum to 1).

    X: (n, C, T) windows. Welch runs on CHUNK windows at a time, vectorised over windows and channels. A channel
    with no power in any band (flat) gets equal shares.
    """
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(f"band power: expected windows (n, C, T), got shape {X.shape}")
    bands = check_bands(bands, sfreq)
    nperseg = segment_length(X.shape[2], sfreq)
    out = np.empty((X.shape[0], X.shape[1], len(bands)), dtype=np.float64)
    masks = union = None
    for start in range(0, X.shape[0], CHUNK):
        freqs, psd = welch(X[start:start + CHUNK].astype(np.float64), fs=sfreq, nperseg=nperseg, axis=-1)
        if masks is None:
            masks = band_masks(freqs, bands).astype(np.float64)
            union = masks.any(axis=0).astype(np.float64)
        power = psd @ masks.T                      # (chunk, C, n_bands)
        total = psd @ union                        # (chunk, C)
        flat = total <= 0
        rel = np.divide(power, total[..., None], out=np.full_like(power, 1.0 / len(bands)),
                        where=~flat[..., None])
        out[start:start + CHUNK] = rel
    return out


def band_power_features(X: np.ndarray, sfreq: float, bands: dict = DEFAULT_BANDS) -> np.ndarray:
    """(n, C × n_bands) log10 relative band powers, channel-major (see the module docstring)."""
    rel = relative_band_power(X, sfreq, bands)
    return np.log10(np.maximum(rel, EPS)).reshape(len(rel), -1)


def make_classifier(C: float = 1.0, seed: int = 0) -> Pipeline:
    """StandardScaler + LogisticRegression(class_weight balanced, lbfgs, random_state seed)."""
    return Pipeline([
        ("scaler", StandardScaler()),
        ("lr", LogisticRegression(C=C, class_weight="balanced", solver="lbfgs", max_iter=MAX_ITER,
                                  random_state=seed)),
    ])


@dataclass(frozen=True)
class BandpowerModel:
    """A fitted bandpower_lr model as plain arrays: what model.json holds."""

    bands: dict[str, tuple[float, float]]
    sfreq: float
    n_classes: int
    mean: np.ndarray       # (F,) scaler mean
    scale: np.ndarray      # (F,) scaler scale
    coef: np.ndarray       # (1, F) binary, else (K, F)
    intercept: np.ndarray  # (1,) or (K,)
    classes: np.ndarray    # (K,) class ids the regression saw in training

    @classmethod
    def from_pipeline(cls, pipe: Pipeline, bands: dict, sfreq: float, n_classes: int) -> BandpowerModel:
        scaler, lr = pipe.named_steps["scaler"], pipe.named_steps["lr"]
        return cls(bands=check_bands(bands, sfreq), sfreq=float(sfreq), n_classes=int(n_classes),
                   mean=scaler.mean_.copy(), scale=scaler.scale_.copy(), coef=lr.coef_.copy(),
                   intercept=lr.intercept_.copy(), classes=lr.classes_.astype(np.int64))

    @property
    def n_params(self) -> int:
        """Learned coefficients and intercepts of the regression."""
        return int(self.coef.size + self.intercept.size)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, n_classes) class probabilities of windows X (n, C, T); classes unseen in training get 0."""
        return self.proba_from_features(band_power_features(X, self.sfreq, self.bands))

    def proba_from_features(self, features: np.ndarray) -> np.ndarray:
        z = (features - self.mean) / self.scale
        logits = z @ self.coef.T + self.intercept
        if self.coef.shape[0] == 1:                          # binary: one logit for classes[1]
            p1 = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            seen = np.stack([1.0 - p1, p1], axis=1)
        else:
            logits = logits - logits.max(axis=1, keepdims=True)
            seen = np.exp(logits)
            seen /= seen.sum(axis=1, keepdims=True)
        proba = np.zeros((len(features), self.n_classes))
        proba[:, self.classes] = seen
        return proba

    def to_json(self) -> dict:
        return {"name": "bandpower_lr", "bands": [[k, *v] for k, v in self.bands.items()], "sfreq": self.sfreq,
                "n_classes": self.n_classes, "scaler_mean": self.mean.tolist(), "scaler_scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept.tolist(), "classes": self.classes.tolist()}

    @classmethod
    def from_json(cls, obj: dict) -> BandpowerModel:
        return cls(bands={name: (lo, hi) for name, lo, hi in obj["bands"]}, sfreq=float(obj["sfreq"]),
                   n_classes=int(obj["n_classes"]), mean=np.asarray(obj["scaler_mean"], dtype=np.float64),
                   scale=np.asarray(obj["scaler_scale"], dtype=np.float64),
                   coef=np.asarray(obj["coef"], dtype=np.float64),
                   intercept=np.asarray(obj["intercept"], dtype=np.float64),
                   classes=np.asarray(obj["classes"], dtype=np.int64))


def fit(X: np.ndarray, y: np.ndarray, sfreq: float, n_classes: int, bands: dict = DEFAULT_BANDS, C: float = 1.0,
        seed: int = 0) -> BandpowerModel:
    """Fit band-power features + scaler + logistic regression on windows X (n, C, T) with labels y."""
    y = np.asarray(y, dtype=np.int64)
    if len(np.unique(y)) < 2:
        raise ValueError(f"bandpower_lr: training windows hold {len(np.unique(y))} class, need at least 2")
    pipe = make_classifier(C, seed).fit(band_power_features(X, sfreq, bands), y)
    return BandpowerModel.from_pipeline(pipe, bands, sfreq, n_classes)
