"""Simulated visual-object EEG in the `.pth` layouts of EEG-ImageNet 2024 and Spampinato/Palazzo 2020.

Layouts per specs/datasets.md §1 and §2. Each subject watches class blocks of images shown back to back for
500 ms while a continuous recording runs; trials are cut from it at image onsets, so one image's late response
spills into the next trial. The class is carried by the evoked response over posterior channels: latency,
amplitude and left-right balance of a P1, an N1, a P2 and an alpha-band burst depend strongly on the class
group (EEG-ImageNet: the five fine groups; each coarse class is its own group) and weakly on the class within
its group, and vary per subject and trial. Both files hold only dicts, lists, str, int and float32 tensors, so
`torch.load(path, weights_only=True)` reads them.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.signal import butter, sosfiltfilt

from eegslim.atomic import atomic_open
from eegslim.simulate import signals

SFREQ = 1000.0
SOA = 500  # samples between image onsets (500 ms, no blank)
BLOCK_GAP = 1000  # samples of rest before each class block
LINE_HZ = 50.0
N_SHARED_SOURCES = 4
# EEG-ImageNet channel order (Neuroscan 64 cap without M1/M2): the order of its official RGNN code.
CHANNELS = tuple("FP1 FPZ FP2 AF3 AF4 F7 F5 F3 F1 FZ F2 F4 F6 F8 FT7 FC5 FC3 FC1 FCZ FC2 FC4 FC6 FT8 T7 C5 C3 C1 CZ "
                 "C2 C4 C6 T8 TP7 CP5 CP3 CP1 CPZ CP2 CP4 CP6 TP8 P7 P5 P3 P1 PZ P2 P4 P6 P8 PO7 PO5 PO3 POZ PO4 "
                 "PO6 PO8 CB1 O1 OZ O2 CB2".split())
N_SAMPLES_2024 = 501
N_CHANNELS_2020 = 128
EVOKED_GAIN_2020 = 1.5  # the 5–95 Hz band-pass removes much of the slow evoked response: keep it learnable
# The 40 classes of Spampinato et al. (EEG-ImageNet's coarse classes).
COARSE_WNIDS = tuple(
    "n02389026 n03888257 n03584829 n02607072 n03297495 n03063599 n03792782 n04086273 n02510455 n11939491 "
    "n02951358 n02281787 n02106662 n04120489 n03590841 n02992529 n03445777 n03180011 n02906734 n07873807 "
    "n03773504 n02492035 n03982430 n03709823 n03100240 n03376595 n03877472 n03775071 n03272010 n04069434 "
    "n03452741 n03792972 n07753592 n13054560 n03197337 n02504458 n02690373 n03272562 n02124075 n02708093".split())
# EEG-ImageNet's fine classes: 5 groups of 8 (dogs, fish, fruit, vehicles, musical instruments).
FINE_WNIDS = tuple(
    "n02085620 n02085782 n02085936 n02086079 n02086240 n02086646 n02086910 n02087046 "
    "n01440764 n01443537 n01484850 n01491361 n01494475 n01496331 n01498041 n02526121 "
    "n07742313 n07745940 n07747607 n07749582 n07753113 n07753275 n07754684 n07760859 "
    "n02701002 n02814533 n02930766 n03594945 n03670208 n03769881 n03770679 n04285008 "
    "n02672831 n02676566 n02787622 n02804610 n02992211 n03017168 n03110669 n03249569".split())
# Evoked components: latency s, width s, peak µV, carrier Hz (0 = a plain bump).
COMPONENTS = np.array([[0.100, 0.015, 5.0, 0.0], [0.170, 0.025, -8.0, 0.0], [0.280, 0.050, 6.0, 0.0],
                       [0.220, 0.060, 3.0, 10.0]])
# Spread of the class code between groups and between classes of a group: amplitude factor, latency s, balance.
GROUP_SD = (0.5, 0.020, 0.6)
CLASS_SD = (0.25, 0.008, 0.3)
EVOKED_SAMPLES = 800
_ROWS = {"FP": 0.95, "AF": 0.8, "F": 0.6, "FC": 0.35, "FT": 0.3, "C": 0.0, "T": 0.0, "CP": -0.35, "TP": -0.35,
         "P": -0.6, "PO": -0.8, "O": -0.95, "CB": -1.05}


def scalp_xy(names: tuple[str, ...]) -> np.ndarray:
    """Rough flat scalp position (n, 2) of 10-10 names: x left(-1)→right(+1), y back(-1)→front(+1)."""
    xy = []
    for name in names:
        prefix, site = re.fullmatch(r"([A-Za-z]+?)(\d+|[zZ])", name).groups()
        x = 0.0 if site in "zZ" else (1 if int(site) % 2 == 0 else -1) * 0.2 * ((int(site) + 1) // 2)
        xy.append((x, _ROWS[prefix.upper()]))
    return np.array(xy)


def spiral_xy(n: int) -> np.ndarray:
    """Evenly spread positions (n, 2) on the unit disc, for an unnamed high-density cap."""
    index = np.arange(n) + 0.5
    angle = index * np.pi * (3 - np.sqrt(5))
    return np.sqrt(index / n)[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)


@dataclass(frozen=True)
class ClassCodes:
    """Per class and component: amplitude factor, latency shift (s), left-right balance."""

    amp: np.ndarray
    lat: np.ndarray
    lateral: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, groups: np.ndarray) -> ClassCodes:
        """Strong group effects plus weak per-class deviations; `groups` maps class → group id."""
        shape, n_groups = (groups.size, len(COMPONENTS)), int(groups.max()) + 1
        group = [sd * rng.standard_normal((n_groups, shape[1]))[groups] for sd in GROUP_SD]
        own = [sd * rng.standard_normal(shape) for sd in CLASS_SD]
        amp = np.clip(1 + group[0], 0.2, None) * np.clip(1 + own[0], 0.3, None)
        return cls(amp, group[1] + own[1], group[2] + own[2])


@dataclass(frozen=True)
class Subject:
    """One viewer: background EEG and how their evoked responses differ from the average viewer's."""

    background_uv: float
    alpha_uv: float
    alpha_hz: float
    erp_gain: np.ndarray  # (components,)
    latency_s: float
    lateral: float
    channel_gains: np.ndarray  # (channels, 1)
    mixing: np.ndarray  # (channels, N_SHARED_SOURCES)

    @classmethod
    def draw(cls, rng: np.random.Generator, n_channels: int) -> Subject:
        erp_gain = rng.lognormal(0.0, 0.25) * rng.lognormal(0.0, 0.15, len(COMPONENTS))  # overall × per component
        return cls(background_uv=10.0 * rng.lognormal(0.0, 0.2), alpha_uv=4.0 * rng.lognormal(0.0, 0.3),
                   alpha_hz=rng.uniform(8.5, 11.5), erp_gain=erp_gain, latency_s=rng.normal(0.0, 0.008),
                   lateral=rng.normal(0.0, 0.2), channel_gains=rng.lognormal(0.0, 0.1, (n_channels, 1)),
                   mixing=rng.normal(0.0, 1.0, (n_channels, N_SHARED_SOURCES)) / np.sqrt(N_SHARED_SOURCES))


def evoked(rng: np.random.Generator, codes: ClassCodes, label: int, subject: Subject, xy: np.ndarray,
           gain: float = 1.0) -> np.ndarray:
    """One trial's evoked response in µV, (channels, EVOKED_SAMPLES), onset at sample 0."""
    t = np.arange(EVOKED_SAMPLES) / SFREQ
    latency = COMPONENTS[:, 0] + codes.lat[label] + subject.latency_s + rng.normal(0.0, 0.006)
    lag = t[None, :] - latency[:, None]
    waves = np.exp(-0.5 * (lag / COMPONENTS[:, 1:2]) ** 2) * np.cos(2 * np.pi * COMPONENTS[:, 3:4] * lag)
    posterior = 1 / (1 + np.exp((xy[:, 1:2] + 0.4) / 0.15))
    maps = posterior * (1 + (codes.lateral[label] + subject.lateral)[None, :] * xy[:, 0:1])
    amps = gain * COMPONENTS[:, 2] * codes.amp[label] * subject.erp_gain * rng.lognormal(0.0, 0.3)
    return (maps * amps) @ waves


def record(rng: np.random.Generator, subject: Subject, codes: ClassCodes, blocks: list[int], per_block: int,
           xy: np.ndarray, gain: float = 1.0) -> tuple[np.ndarray, list[int]]:
    """A continuous session in µV (channels, samples) and its image onsets; evoked responses are scaled by `gain`."""
    n_channels, block_len = len(xy), BLOCK_GAP + per_block * SOA
    n = len(blocks) * block_len + EVOKED_SAMPLES
    shared = np.stack([signals.pink_noise(rng, n, SFREQ) for _ in range(N_SHARED_SOURCES)])
    own = np.stack([signals.pink_noise(rng, n, SFREQ) for _ in range(n_channels)])
    data = subject.background_uv * np.sqrt(0.5) * (subject.mixing @ shared + own)
    posterior = 1 / (1 + np.exp((xy[:, 1:2] + 0.2) / 0.3))
    data += posterior * subject.alpha_uv * signals.band_noise(rng, n, SFREQ, subject.alpha_hz - 1, subject.alpha_hz + 1)
    frontal = np.clip((xy[:, 1:2] - 0.4) / 0.55, 0.0, 1.0) ** 2
    data += frontal * 80.0 * signals.blinks(n, SFREQ, signals.poisson_onsets(rng, 0.0, n / SFREQ, 0.15))
    data += rng.uniform(0.5, 3.0, (n_channels, 1)) * signals.line_noise(n, SFREQ, LINE_HZ, rng.uniform(0, 2 * np.pi))
    onsets = []
    for index, label in enumerate(blocks):
        for trial in range(per_block):
            onset = index * block_len + BLOCK_GAP + trial * SOA
            data[:, onset:onset + EVOKED_SAMPLES] += evoked(rng, codes, label, subject, xy, gain)
            onsets.append(onset)
    return data * subject.channel_gains, onsets


def save_pth(path: Path, obj: dict) -> None:
    """torch.save `obj` atomically; saving via a buffer fixes the zip's inner folder name, so bytes follow content."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_open(path, "wb") as fh:
        fh.write(buffer.getbuffer())


def _image_numbers(rng: np.random.Generator, count: int) -> list[int]:
    return sorted(int(n) for n in rng.choice(np.arange(1, 50000), count, replace=False))


def write_eeg_imagenet_2024(out_dir: Path, n_subjects: int, seed: int, *, trials_per_class: int = 3) -> list[Path]:
    """Write `EEG-ImageNet_1.pth` (first half of the subjects) and `EEG-ImageNet_2.pth`; return their paths.

    Per subject the 80 classes come in shuffled blocks of `trials_per_class` images; `eeg_data` is float32 volts,
    (62, 501) at 1000 Hz from image onset. `labels` lists the 5 fine groups of 8 first, then the 40 coarse classes.
    """
    if n_subjects < 2:
        raise ValueError(f"eeg_imagenet_2024: n_subjects must be at least 2 (one per file), got {n_subjects}")
    if trials_per_class < 1:
        raise ValueError(f"eeg_imagenet_2024: trials_per_class must be at least 1, got {trials_per_class}")
    labels = list(FINE_WNIDS + COARSE_WNIDS)
    rng = np.random.default_rng([seed, 2024])
    codes = ClassCodes.draw(rng, np.concatenate([np.arange(40) // 8, 5 + np.arange(40)]))
    images = [[f"{wnid}_{n}.JPEG" for n in _image_numbers(rng, trials_per_class)] for wnid in labels]
    xy = scalp_xy(CHANNELS)
    entries: list[list[dict]] = []
    for subject_id in range(n_subjects):
        subject_rng = np.random.default_rng([seed, 2024, subject_id])
        subject = Subject.draw(subject_rng, len(CHANNELS))
        blocks = [int(label) for label in subject_rng.permutation(len(labels))]
        shown = [images[label][i] for label in blocks for i in subject_rng.permutation(trials_per_class)]
        data, onsets = record(subject_rng, subject, codes, blocks, trials_per_class, xy)
        entries.append([
            {"eeg_data": torch.from_numpy((data[:, onset:onset + N_SAMPLES_2024] * 1e-6).astype(np.float32)),
             "label": labels[label], "granularity": "fine" if label < 40 else "coarse", "subject": subject_id,
             "image": image}
            for onset, label, image in zip(onsets, np.repeat(blocks, trials_per_class), shown)])
    half = (n_subjects + 1) // 2
    all_images = [name for names in images for name in names]
    paths = [out_dir / "EEG-ImageNet_1.pth", out_dir / "EEG-ImageNet_2.pth"]
    for path, subjects in zip(paths, (entries[:half], entries[half:])):
        save_pth(path, {"dataset": [entry for subject in subjects for entry in subject], "labels": labels,
                        "images": all_images})
    return paths


def _segment_lengths(rng: np.random.Generator, n: int) -> np.ndarray:
    """Segment lengths around 500 samples; a few fall outside 450–600 (the loaders' length filter)."""
    lengths = rng.integers(470, 531, n)
    odd = rng.choice(n, max(2, round(0.03 * n)), replace=False)
    lengths[odd[::2]] = rng.integers(440, 450, odd[::2].size)
    lengths[odd[1::2]] = rng.integers(601, 621, odd[1::2].size)
    return lengths


def image_splits(image_of_trial: list[int], n_images: int, seed: int, n_splits: int = 6) -> list[dict]:
    """`n_splits` train/val/test splits (~80/10/10) of trial indices, each image's trials all in one part."""
    trials_of: list[list[int]] = [[] for _ in range(n_images)]
    for index, image in enumerate(image_of_trial):
        trials_of[image].append(index)
    n_held = max(1, round(0.1 * n_images))
    splits = []
    for split in range(n_splits):
        order = np.random.default_rng([seed, 2020, 100 + split]).permutation(n_images)
        parts = {"test": order[:n_held], "val": order[n_held:2 * n_held], "train": order[2 * n_held:]}
        splits.append({name: sorted(i for image in parts[name] for i in trials_of[image])
                       for name in ("train", "val", "test")})
    return splits


def write_eeg_imagenet_2020(out_dir: Path, n_subjects: int, seed: int, *, images_per_class: int = 2) -> list[Path]:
    """Write `eeg_5_95_std.pth` and `block_splits_by_image_all.pth`; return their paths.

    Every subject sees the same sequence: 40 class blocks of `images_per_class` images. `eeg` is (128, L) at
    1000 Hz, band-passed 5–95 Hz and z-scored per channel over the whole file (unit scale, not volts).
    """
    if n_subjects < 1 or images_per_class < 1:
        raise ValueError(f"eeg_imagenet_2020: n_subjects and images_per_class must be at least 1, got "
                         f"{n_subjects} and {images_per_class}")
    labels = list(COARSE_WNIDS)
    rng = np.random.default_rng([seed, 2020])
    codes = ClassCodes.draw(rng, np.arange(len(labels)))
    images = [f"{wnid}_{n}" for wnid in labels for n in _image_numbers(rng, images_per_class)]
    blocks = [int(label) for label in rng.permutation(len(labels))]
    shown = [label * images_per_class + int(i) for label in blocks for i in rng.permutation(images_per_class)]
    lengths = iter(_segment_lengths(rng, n_subjects * len(shown)))
    band = butter(4, [5.0, 95.0], btype="bandpass", fs=SFREQ, output="sos")
    xy = spiral_xy(N_CHANNELS_2020)
    segments, total, total_sq, count = [], np.zeros(N_CHANNELS_2020), np.zeros(N_CHANNELS_2020), 0
    for subject_id in range(1, n_subjects + 1):
        subject_rng = np.random.default_rng([seed, 2020, subject_id])
        data, onsets = record(subject_rng, Subject.draw(subject_rng, N_CHANNELS_2020), codes, blocks,
                              images_per_class, xy, EVOKED_GAIN_2020)
        data = sosfiltfilt(band, data, axis=1)
        for onset, image in zip(onsets, shown):
            segment = data[:, onset:onset + next(lengths)]
            total, total_sq, count = total + segment.sum(1), total_sq + (segment ** 2).sum(1), count + segment.shape[1]
            segments.append((segment.astype(np.float32), image, subject_id))
    mean = total / count
    std = np.sqrt(total_sq / count - mean ** 2)[:, None].astype(np.float32)
    mean = mean[:, None].astype(np.float32)
    dataset = [{"eeg": torch.from_numpy((segment - mean) / std), "image": image,
                "label": image // images_per_class, "subject": subject_id} for segment, image, subject_id in segments]
    paths = [out_dir / "eeg_5_95_std.pth", out_dir / "block_splits_by_image_all.pth"]
    save_pth(paths[0], {"dataset": dataset, "labels": labels, "images": images})
    save_pth(paths[1], {"splits": image_splits([entry["image"] for entry in dataset], len(images), seed)})
    return paths
