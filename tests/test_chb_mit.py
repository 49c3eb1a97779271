"""The `chb_mit` adapter on folders written here as PhysioNet's chbmit 1.0.0 ships them: `chbNN/chbNN_MM.edf`
(256 Hz, bipolar labels `FP1-F7` ..., `T8-P8` twice, dummy `-` and `.` channels) and `chbNN/chbNN-summary.txt`
with "Seizure Start Time:" and "Seizure 1 Start Time:" lines."""

from __future__ import annotations

import json
from pathlib import Path

import edfio
import numpy as np
import pytest

from eegslim.datasets import ADAPTERS
from eegslim.datasets.chb_mit import label_windows, read_summary
from eegslim.io import RecordingError
from eegslim.stages.preprocess import run
from eegslim.store import load_windows
from leakage import clean_subject_split

chb = ADAPTERS["chb_mit"]
SFREQ = 256
# A CHB-MIT header, shortened: T8-P8 is repeated (as in 654 of the real files), '-' and '.' are dummy channels.
LABELS = ["FP1-F7", "F7-T7", "T7-P7", "T8-P8", "-", "FZ-CZ", "CZ-PZ", "-", "T8-P8", "."]
KEPT = ["Fp1-F7", "F7-T7", "T7-P7", "T8-P8", "Fz-Cz", "Cz-Pz"]  # windows.h5 names


def write_edf(path: Path, seconds: int, seizures=(), seed: int = 0) -> Path:
    """A 256-Hz EDF with LABELS: 20 µV noise, 300 µV inside the seizures; the repeated T8-P8 differs from the
    first (+100 µV offset), so a test can tell which one was kept."""
    rng = np.random.default_rng(seed)
    t = np.arange(seconds * SFREQ) / SFREQ
    amplitude = np.where(np.any([(t >= s) & (t < e) for s, e in seizures] or [t < 0], axis=0), 300.0, 20.0)
    signals = []
    for i, label in enumerate(LABELS):
        x = rng.normal(0, 1, len(t)) * amplitude + (100.0 if i == 8 else 0.0)
        x = np.zeros(len(t)) if label in ("-", ".") else x
        signals.append(edfio.EdfSignal(x, SFREQ, label=label, physical_dimension="uV", physical_range=(-3000, 3000)))
    path.parent.mkdir(parents=True, exist_ok=True)
    edfio.Edf(signals).write(path)
    return path


HEADER = """Data Sampling Rate: 256 Hz
*************************

Channels in EDF Files:
**********************
Channel 1: FP1-F7
Channel 2: F7-T7
"""


def block(name: str, seizures, numbered: bool, end_time: str = "12:42:54") -> str:
    lines = [f"File Name: {name}", "File Start Time: 11:42:54", f"File End Time: {end_time}",
             f"Number of Seizures in File: {len(seizures)}"]  # fmt: skip
    for k, (s, e) in enumerate(seizures, 1):
        n = f" {k}" if numbered else ""
        lines += [f"Seizure{n} Start Time: {s} seconds", f"Seizure{n} End Time: {e} seconds"]
    return "\n".join(lines) + "\n\n"


def write_case(root: Path, case: str, files: dict, numbered: bool = False, missing=(), seconds: int = 120) -> None:
    """chbNN/ with one EDF per entry of `files` {name: seizures} (except `missing`) and the summary."""
    folder = root / case
    for i, (name, seizures) in enumerate(files.items()):
        if name not in missing:
            write_edf(folder / name, seconds, seizures, seed=sum(map(ord, name)) + i)
    text = HEADER + "".join(block(name, seizures, numbered) for name, seizures in files.items())
    (folder / f"{case}-summary.txt").write_text(text)


def dataset(root: Path) -> None:
    """Four cases; chb21 is chb01 again. Both spellings; chb02's summary names an EDF that is missing; chb03's
    seizure starts and ends inside a window (two straddling windows)."""
    write_case(root, "chb01", {"chb01_01.edf": [], "chb01_03.edf": [(40, 60)]})
    write_case(root, "chb02", {"chb02_01.edf": [(20, 44)], "chb02_02.edf": [], "chb02_16+.edf": [(80, 100)]},
               numbered=True, missing=("chb02_02.edf",))  # fmt: skip
    write_case(root, "chb03", {"chb03_01.edf": [(10, 34)], "chb03_02.edf": []}, numbered=True)
    write_case(root, "chb21", {"chb21_19.edf": [(60, 84)]})


def test_summary_in_both_spellings_paired_by_position(tmp_path):
    summary = tmp_path / "chb09-summary.txt"
    summary.write_text(
        HEADER + block("chb09_01.edf", [], False) + block("chb09_02.edf", [(2996, 3036)], False)
        + block("chb09_06.edf", [(12231, 12295)], True, end_time="24:22:17")
        # chb09_08 as published: the second seizure's end is printed as "Seizure 1 End Time"
        + "File Name: chb09_08.edf\nFile Start Time: 14:12:01\nFile End Time: 18:12:01\n"
          "Number of Seizures in File: 2\nSeizure 1 Start Time: 2951 seconds\nSeizure 1 End Time:   3030 seconds\n"
          "Seizure 2 Start Time: 9196 seconds\nSeizure 1 End Time:   9267 seconds\n"
    )  # fmt: skip
    assert read_summary(summary) == {
        "chb09_01.edf": (), "chb09_02.edf": ((2996.0, 3036.0),), "chb09_06.edf": ((12231.0, 12295.0),),
        "chb09_08.edf": ((2951.0, 3030.0), (9196.0, 9267.0)),
    }  # fmt: skip
    summary.write_text(HEADER + "File Name: chb09_02.edf\nNumber of Seizures in File: 2\n"
                       "Seizure Start Time: 10 seconds\nSeizure End Time: 20 seconds\n")  # fmt: skip
    with pytest.raises(ValueError, match=r"chb09-summary\.txt:8: chb09_02\.edf declares 2 seizure\(s\) but lists"):
        read_summary(summary)
    summary.write_text(HEADER + block("chb09_02.edf", [(30, 20)], False))
    with pytest.raises(ValueError, match=r"chb09_02\.edf: a seizure ends before it starts"):
        read_summary(summary)


def test_windows_inside_outside_and_straddling_a_seizure():
    onsets, labels = label_windows(40.0, [(10.0, 22.0)], epoch_s=4.0, min_overlap_s=4.0)
    assert onsets.tolist() == [0, 4, 8, 12, 16, 20, 24, 28, 32, 36]
    # [8, 12) and [20, 24) hold 2 s of the seizure: left out by default (the whole window must be inside)
    assert labels.tolist() == ["background"] * 2 + ["", "seizure", "seizure", ""] + ["background"] * 4
    _, half = label_windows(40.0, [(10.0, 22.0)], epoch_s=4.0, min_overlap_s=2.0)
    assert half.tolist() == ["background"] * 2 + ["seizure"] * 4 + ["background"] * 4
    _, most = label_windows(41.5, [(10.0, 22.0), (39.0, 40.0)], epoch_s=4.0, min_overlap_s=3.0)
    assert most.tolist() == ["background"] * 2 + ["", "seizure", "seizure", ""] + ["background"] * 3 + [""]


def test_find_reports_a_missing_edf_and_keeps_bipolar_pairs(tmp_path):
    dataset(tmp_path)
    write_edf(tmp_path / "chb03" / "chb03_99.edf", 20)  # not in the summary
    items, skipped = chb.find(tmp_path, {"background_ratio": None})
    reasons = {s.path.relative_to(tmp_path).as_posix(): s.reason for s in skipped}
    assert reasons == {"chb02/chb02_02.edf": f"listed in {tmp_path / 'chb02' / 'chb02-summary.txt'} but missing",
                       "chb03/chb03_99.edf": "not listed in chb03-summary.txt"}  # fmt: skip
    assert len(items) == 7 and chb.class_names({}) == ["background", "seizure"]
    item = next(i for i in items if i.path.name == "chb01_03.edf")
    assert (item.subject, item.session, item.epoch_s) == ("chb01", "chb01", 4.0)
    assert item.sources == (item.path, tmp_path / "chb01" / "chb01-summary.txt")
    labels = dict(zip(item.extra["onsets"], item.extra["labels"], strict=True))
    assert len(labels) == 30 and [labels[t] for t in (36.0, 40.0, 56.0, 60.0)] == ["background", "seizure",
                                                                                 "seizure", "background"]
    raw = chb.read(item, {})
    assert raw.ch_names == ["FP1-F7", "F7-T7", "T7-P7", "T8-P8", "FZ-CZ", "CZ-PZ"] and raw.info["sfreq"] == 256
    first, repeated = raw.get_data(picks="T8-P8").mean(), 100e-6
    assert abs(first) < 20e-6 < repeated  # the first T8-P8 stayed, the repeated one (mean 100 µV) went
    assert [a["description"] for a in raw.annotations][10:15] == ["seizure"] * 5
    with pytest.raises(RecordingError, match=r"chb02_02\.edf: listed in .*chb02-summary\.txt but missing.*strict"):
        run("c", {"adapter": "chb_mit", "root": str(tmp_path), "sfreq": 256, "window_s": 4, "strict": True},
            tmp_path / "w.h5", tmp_path / "s.json")  # fmt: skip


def test_background_ratio_is_seeded_and_per_subject(tmp_path):
    dataset(tmp_path)

    def kept(options):
        items, _ = chb.find(tmp_path, options)
        return {(i.path.name, t, c) for i in items for t, c in zip(i.extra["onsets"], i.extra["labels"], strict=True)}

    default = kept({})
    assert default == kept({}) == kept({"seed": 0})  # reproducible
    assert default != kept({"seed": 1})
    for subject, n_seizure in (("chb01", 5 + 6), ("chb02", 6 + 5), ("chb03", 5)):  # chb21 counts as chb01
        mine = [c for name, _, c in default if name.startswith(subject) or (subject == "chb01" and "chb21" in name)]
        assert mine.count("seizure") == n_seizure == mine.count("background")
    twice = kept({"background_ratio": 2})
    assert sum(c == "background" for *_, c in twice) == 2 * sum(c == "seizure" for *_, c in twice)
    every = kept({"background_ratio": None})
    assert sum(c == "background" for *_, c in every) == 30 * 7 - 27 - 2  # less the seizure and straddling windows


def test_same_people_files_chb21_under_chb01(tmp_path):
    dataset(tmp_path)
    merged = {(i.path.name, i.subject, i.session) for i in chb.find(tmp_path, {})[0]}
    assert ("chb21_19.edf", "chb01", "chb21") in merged
    apart = {(i.path.name, i.subject) for i in chb.find(tmp_path, {"same_people": False})[0]}
    assert ("chb21_19.edf", "chb21") in apart
    assert {i.subject for i in chb.find(tmp_path / "chb21", {})[0]} == {"chb01"}  # root may be one case's folder


def test_unknown_and_invalid_options_are_refused(tmp_path):
    dataset(tmp_path)
    for options, match in [
        ({"backgroud_ratio": 1}, r"unknown key\(s\) \['backgroud_ratio'\] for adapter 'chb_mit'"),
        ({"min_overlap_s": 5}, r"options.min_overlap_s: seconds in \(0, epoch_s = 4\]"),
        ({"min_overlap_s": 0}, r"options.min_overlap_s"),
        ({"background_ratio": -1}, r"options.background_ratio: a number >= 0"),
        ({"epoch_s": 0}, r"options.epoch_s: a positive number"),
        ({"same_people": "yes"}, r"options.same_people: true or false"),
        ({"seed": 1.5}, r"options.seed: an integer"),
    ]:
        with pytest.raises(ValueError, match=match):
            chb.find(tmp_path, options)


def test_seizure_windows_through_preprocess_and_a_subject_wise_split(tmp_path):
    """Leakage audit: 256 Hz → 200 Hz, 4-s windows; seizure windows hold the seizures; no subject (chb21 = chb01)
    in two parts."""
    dataset(tmp_path)
    cfg = {"adapter": "chb_mit", "root": str(tmp_path), "sfreq": 200, "l_freq": 0.5, "h_freq": 40.0, "window_s": 4,
           "options": {"background_ratio": 1}}  # fmt: skip
    run("chb", cfg, tmp_path / "w.h5", tmp_path / "s.json")
    w = load_windows(tmp_path / "w.h5")
    assert w.sfreq == 200 and w.X.shape[1:] == (6, 800) and w.ch_names == KEPT
    assert w.class_names == ["background", "seizure"] and (w.y == 1).sum() == (w.y == 0).sum() == 11 + 11 + 5
    std = w.X.std(axis=2).mean(axis=1) / 1e4 * 1e6  # µV
    assert std[w.y == 1].min() > 150 > 60 > std[w.y == 0].max()  # every window has the label of its signal
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["windows_per_subject"].keys() == {"chb01", "chb02", "chb03"}
    assert [s["path"] for s in summary["recordings"]["skipped"]] == ["chb02/chb02_02.edf"]
    assert {r["session"] for r in summary["recordings"]["read"] if r["subject"] == "chb01"} == {"chb01", "chb21"}
    clean_subject_split(w)
