"""The bad-input catalogue: every broken input stops with a message naming the file or key, and leaves no output.

Three groups, each case with an id and a literal excerpt of its message; docs/bad_input.md lists every case
with the same excerpt (checked by the last test):
- CONFIG: broken config overlays, refused by `snakemake -n` before any job runs (non-zero exit, no results/);
- DATA: broken recordings, one dataset each, run together through `snakemake --keep-going`: each dataset's
  job fails (non-zero exit of the run), its log ends with the message, its output does not exist;
- LIBRARY: broken files and a full disk met by eegslim functions: the exception carries the message, the
  target file is unchanged and no temporary file is left.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
import yaml

from eegslim.atomic import write_json
from eegslim.io.pth import UnsafePickleError, load_pth
from eegslim.models import arch_for, build_model
from eegslim.models.checkpoint import load_checkpoint, save_checkpoint
from eegslim.report.tables import write_csv
from eegslim.stages import simulate
from eegslim.store import WindowWriter
from smk import REPO, snakemake

pytestmark = pytest.mark.e2e

# id: (overlay on config.yaml, message excerpt)
CONFIG = {
    "config-typo": ("prune: {ratioz: [0.5]}", "config key 'prune.ratioz': unknown key"),
    "top-level-typo": ("modles: [eegnet]", "config key 'modles': unknown key"),
    "ratio-above-1": ("prune: {ratios: [0.5, 1.5]}", "config key 'prune.ratios[1]'"),
    "ratio-zero": ("prune: {ratios: [0.0]}", "config key 'prune.ratios[0]'"),
    "unknown-method": ("prune: {methods: [magnitude_globl]}", "config key 'prune.methods[0]'"),
    "wrong-type": ("train: {epochs: ten}", "config key 'train.epochs': 'ten' is not of type 'integer'"),
    "key-with-spaces": ("datasets: {'my data': {adapter: bids, root: raw, sfreq: 100, window_s: 4}}",
                        "config key 'datasets.my data': not a valid name"),
    "unknown-adapter": ("datasets: {demo_sleep: {adapter: edf_folder}}", "config key 'datasets.demo_sleep.adapter'"),
    "missing-raw-folder": ("datasets: {mine: {adapter: bids, root: /nonexistent/eeg, sfreq: 100, window_s: 4}}",
                           "config key 'datasets.mine.root': raw folder '/nonexistent/eeg' does not exist"),
    "window-too-long-for-transformer": ("datasets: {demo_rest: {window_s: 17}}",
                                        "config key 'datasets.demo_rest.window_s': 3400 samples per window exceed"),
}

SLEEP = {"adapter": "sleep_edf", "sfreq": 100, "window_s": 30, "channels": ["Fpz-Cz"]}
REST = {"adapter": "sleep_deprivation", "sfreq": 200, "window_s": 4, "l_freq": None, "h_freq": None,
        "options": {"eyes": "open"}}
IMAGENET = {"adapter": "eeg_imagenet_2024", "sfreq": 500, "window_s": 0.4, "options": {"granularity": "all"}}
DEAP = {"adapter": "deap", "sfreq": 128, "window_s": 4, "strict": True}
SEED = {"adapter": "seed", "sfreq": 200, "window_s": 4, "strict": True}
CHB_MIT = {"adapter": "chb_mit", "sfreq": 200, "window_s": 4, "strict": True}
BONN = {"adapter": "arrays", "sfreq": 128, "window_s": 4, "strict": True,
        "options": {"layout": "samples", "sfreq": 173.61, "unit_scale": 1e-6, "label_from": "path",
                    "label_regex": "^(?P<label>[ZONFS])/", "classes": ["Z", "O", "N", "F", "S"]}}

# id: (dataset settings, output that must not exist, message excerpt); the folders are built by `build`.
DATA = {
    "empty_folder": (SLEEP, "windows.h5", "no recordings found for adapter 'sleep_edf'"),
    "truncated_edf": ({**SLEEP, "strict": True}, "windows.h5", "SC4011E0-PSG.edf: truncated:"),
    "corrupt_header": ({**SLEEP, "strict": True}, "windows.h5", "SC4011E0-PSG.edf: corrupt EDF/BDF header"),
    "psg_without_hypnogram": ({**SLEEP, "strict": True}, "windows.h5", "SC4011E0-PSG.edf: no hypnogram"),
    "label_with_no_windows": ({**SLEEP, "strict": True}, "windows.h5", "SC4011E0-PSG.edf: no labelled 30-s epochs in"),
    "missing_channel": ({**SLEEP, "channels": ["Fpz-Cz", "C3"]}, "windows.h5", "missing channels ['C3']"),
    "sfreq_above_recording": ({**SLEEP, "sfreq": 200}, "windows.h5",
                              "sfreq 200 Hz is above the recording's 100 Hz"),
    "filter_above_nyquist": ({**SLEEP, "h_freq": 60.0}, "windows.h5", "filter/notch/resample settings do not fit"),
    "window_longer_than_recording": ({**REST, "window_s": 12}, "windows.h5",
                                     "window_s 12 s is longer than the recording (10 s)"),
    "flat_channel": (REST, "windows.h5", "no usable window (dropped: {'bad_annotation': 0, 'incomplete': 0, "
                                         "'nan': 0, 'flat':"),
    "all_nan": (REST, "windows.h5", "no usable window (dropped: {'bad_annotation':"),
    "unreadable_pth": (IMAGENET, "windows.h5", "EEG-ImageNet.pth: not a readable torch file"),
    "pth_with_disallowed_global": (IMAGENET, "windows.h5", "EEG-ImageNet.pth: refused to unpickle with weights_only="
                                   f"True (it references ['{os.system.__module__}.system']"),
    "too_few_subjects": (SLEEP, "splits.json", "at least 3 subjects, got 2"),
    "deap_pickle_with_disallowed_global": (DEAP, "windows.h5",
                                           f"s01.dat: refused global {os.system.__module__}.system"),
    "seed_mat_without_trials": (SEED, "windows.h5", "1_20131027.mat: no arrays <initials>_eeg{n} for trials [1, 2,"),
    "chb_mit_summary_names_missing_edf": (CHB_MIT, "windows.h5", "chb01_03.edf: listed in"),
    "adapter_unknown_option": ({**CHB_MIT, "options": {"backgroud_ratio": 1}}, "windows.h5",
                               "options: unknown key(s) ['backgroud_ratio'] for adapter 'chb_mit'"),
    "arrays_layout_contradicts_shape": (BONN, "windows.h5",
                                        "S001.txt: array of shape (4097, 2) (float64) does not fit layout 'samples'"),
}
HANDLED = {"nan_stretch": REST}  # not an error: the windows it touches are dropped and counted


class Touch:
    """Pickles as a call of os.system: what a malicious .pth would run on load."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


def _edit_fdt(folder: Path, edit) -> None:
    """Apply `edit` to every recording's samples (n_samples, n_channels) float32 µV of an EEGLAB .fdt."""
    for fdt in folder.rglob("*.fdt"):
        data = np.fromfile(fdt, dtype="<f4").reshape(-1, 61)
        edit(data)
        data.tofile(fdt)


def build(case: str, root: Path, sleep: Path, rest: Path, marker: Path) -> None:
    """Write the broken dataset `case` to `root` from the simulated folders `sleep` and `rest`."""
    if case in ("empty_folder",):
        root.mkdir(parents=True)
        return
    if case in ("unreadable_pth", "pth_with_disallowed_global"):
        root.mkdir(parents=True)
        if case == "unreadable_pth":
            (root / "EEG-ImageNet.pth").write_bytes(b"PK\x03\x04 this is not a torch file")
        else:
            torch.save({"dataset": [Touch(marker)]}, root / "EEG-ImageNet.pth")
        return
    if case == "deap_pickle_with_disallowed_global":
        (root / "data_preprocessed_python").mkdir(parents=True)
        (root / "data_preprocessed_python/s01.dat").write_bytes(pickle.dumps({"data": Touch(marker)}, protocol=2))
        return
    if case == "seed_mat_without_trials":
        root.mkdir(parents=True)
        scipy.io.savemat(root / "label.mat", {"label": np.array([[1, 0, -1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 0, 1, -1]])})
        scipy.io.savemat(root / "1_20131027.mat", {"djc_eeg": np.zeros((62, 10))})  # no trial number
        return
    if case in ("chb_mit_summary_names_missing_edf", "adapter_unknown_option"):
        (root / "chb01").mkdir(parents=True)
        (root / "chb01/chb01-summary.txt").write_text("File Name: chb01_03.edf\nNumber of Seizures in File: 1\n"
                                                      "Seizure Start Time: 2996 seconds\n"
                                                      "Seizure End Time: 3036 seconds\n")  # no EDF beside it
        return
    if case == "arrays_layout_contradicts_shape":
        (root / "S").mkdir(parents=True)
        np.savetxt(root / "S/S001.txt", np.zeros((4097, 2)))  # two columns where the layout says one
        return
    source = rest if case in (*HANDLED, "flat_channel", "all_nan", "window_longer_than_recording") else sleep
    shutil.copytree(source, root)
    (root / "demo.json").unlink()
    psg = root / "SC4011E0-PSG.edf"
    if case == "truncated_edf":
        psg.write_bytes(psg.read_bytes()[: psg.stat().st_size // 2])
    elif case == "corrupt_header":
        data = bytearray(psg.read_bytes())
        data[236:244] = b"x?!-9#@a"  # number of data records
        psg.write_bytes(bytes(data))
    elif case == "psg_without_hypnogram":
        next(root.glob("SC4011*-Hypnogram.edf")).unlink()
    elif case == "label_with_no_windows":
        import edfio

        hyp = next(root.glob("SC4011*-Hypnogram.edf"))
        old = edfio.read_edf(hyp)
        unscored = [edfio.EdfAnnotation(a.onset, a.duration, "Sleep stage ?") for a in old.annotations]
        edfio.Edf([], annotations=unscored, patient=old.patient, recording=old.recording,
                  starttime=old.starttime).write(hyp)
    elif case == "too_few_subjects":
        for path in root.glob("SC402*"):
            path.unlink()
    elif case == "flat_channel":
        _edit_fdt(root, lambda x: x.__setitem__((slice(None), 5), 0.0))
    elif case == "all_nan":
        _edit_fdt(root, lambda x: x.fill(np.nan))
    elif case == "nan_stretch":
        first = sorted(root.rglob("*.fdt"))[0]
        data = np.fromfile(first, dtype="<f4").reshape(-1, 61)
        data[500:1000] = np.nan  # 1-2 s at 500 Hz: the first 4-s window only
        data.tofile(first)


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory):
    """Every DATA and HANDLED dataset in one `snakemake --keep-going` run; returns (workdir, process, marker)."""
    workdir = tmp_path_factory.mktemp("broken")
    sleep, rest = workdir / "sim/sleep", workdir / "sim/rest"
    simulate.run("sleep_edf", sleep, n_subjects=3, seed=0, n_epochs=40)
    simulate.run("bids_rest", rest, n_subjects=3, seed=0, duration_s=10)
    marker = workdir / "pwned"
    datasets = {}
    for case, (settings, _, _) in DATA.items():
        build(case, workdir / "raw" / case, sleep, rest, marker)
        datasets[case] = {**settings, "root": str(workdir / "raw" / case)}
    for case, settings in HANDLED.items():
        build(case, workdir / "raw" / case, sleep, rest, marker)
        datasets[case] = {**settings, "root": str(workdir / "raw" / case)}
    overlay = workdir / "broken.yaml"
    overlay.write_text(yaml.safe_dump({"datasets": datasets, "models": ["eegnet"]}))  # no transformer patch checks
    targets = [f"results/{case}/{out}" for case, (_, out, _) in DATA.items()] + [
        f"results/{case}/windows.h5" for case in HANDLED]
    proc = snakemake(workdir, "--keep-going", *targets, configs=(overlay,), check=False)
    return workdir, proc, marker


def _log_of(workdir: Path, case: str, output: str) -> str:
    stage = "split" if output == "splits.json" else "preprocess"
    return (workdir / f"logs/{stage}/{case}.log").read_text()


@pytest.mark.parametrize("case", CONFIG)
def test_config_case(case, tmp_path):
    overlay = tmp_path / "bad.yaml"
    overlay.write_text(CONFIG[case][0] + "\n")
    proc = snakemake(tmp_path, "-n", "results/report.html", configs=(overlay,), check=False)
    assert proc.returncode != 0
    assert CONFIG[case][1] in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("case", DATA)
def test_data_case(broken_run, case):
    workdir, proc, marker = broken_run
    _, output, message = DATA[case]
    assert proc.returncode != 0
    failed = rf"Error in rule \w+:\n(?:    .*\n)*?    log: logs/\w+/{case}\.log"
    assert re.search(failed, proc.stdout + proc.stderr), f"no failed job reported for {case}"
    log = _log_of(workdir, case, output)
    assert message in log, log[-3000:]
    assert not (workdir / "results" / case / output).exists()
    assert not marker.exists()  # the malicious .pth and .dat were refused before anything in them ran


def test_no_partial_file_after_the_broken_run(broken_run):
    workdir, _, _ = broken_run
    assert sorted(workdir.rglob("*.tmp-*")) == []


def test_nan_stretch_drops_and_counts_its_windows(broken_run):
    import json

    import h5py

    workdir, _, _ = broken_run
    summary = json.loads((workdir / "results/nan_stretch/summary.json").read_text())
    assert summary["windows_dropped"]["bad_annotation"] > 0
    with h5py.File(workdir / "results/nan_stretch/windows.h5") as h5:
        assert np.isfinite(h5["X"][:]).all() and len(h5["X"]) == summary["n_windows"] > 0


def _disk_full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _write_windows(path: Path) -> None:
    with WindowWriter(path, ["Cz"], 100.0, ["a", "b"], "d", {}, "uV") as writer:
        writer.append(np.zeros((2, 1, 10)), np.array([0, 1]), subject="s", session="", recording="r")


def _arch() -> dict:
    return arch_for("eegnet", {}, 2, 100, 2, 100.0, ["C3", "C4"])


def _write_checkpoint(path: Path) -> None:
    save_checkpoint(build_model(_arch()), _arch(), path.parent)


WRITERS = {
    "json": (lambda p: write_json(p, {"new": 1}), "metrics.json"),
    "csv": (lambda p: write_csv(__import__("pandas").DataFrame({"a": [1]}), p), "results.csv"),
    "h5": (_write_windows, "windows.h5"),
    "safetensors": (_write_checkpoint, "model.safetensors"),
}


@pytest.mark.parametrize("writer", WRITERS)
def test_disk_full_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, writer):
    """The disk fills up as the data is flushed (os.fsync reports ENOSPC, as it does on delayed allocation)."""
    write, name = WRITERS[writer]
    target = tmp_path / name
    target.write_bytes(b"the previous, complete file")
    monkeypatch.setattr(os, "fsync", _disk_full)
    with pytest.raises(OSError, match=re.escape(f"{target}: disk full while writing it")) as err:
        write(target)
    assert err.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"the previous, complete file"
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_unreadable_checkpoint(tmp_path):
    save_checkpoint(build_model(_arch()), _arch(), tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'model.safetensors'}: not a readable safetensors")):
        load_checkpoint(tmp_path)


def test_pth_with_disallowed_global_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"x": Touch(marker)}, tmp_path / "evil.pth")
    with pytest.raises(UnsafePickleError, match=r"evil\.pth: refused"):
        load_pth(tmp_path / "evil.pth")
    assert not marker.exists()


def test_report_refuses_a_result_without_its_predictions(tmp_path):
    from eegslim.metrics import metrics_record
    from eegslim.report.collect import load_records
    from eegslim.report.inference import confidence

    path = tmp_path / "eegnet" / "baseline" / "seed0" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(metrics_record(dataset="d", model="eegnet", stage="baseline", variant="torch", seed=0,
                                              balanced_accuracy=0.7, split_protocol="subject")))
    with pytest.raises(ValueError, match=re.escape(f"{path.with_name('predictions.npz')}: missing")):
        confidence(load_records([path]), 0.01)
    (tmp_path / "eegnet" / "baseline" / "seed0" / "predictions.npz").write_bytes(b"PK\x03\x04cut")
    with pytest.raises(ValueError, match="predictions.npz: not a readable predictions file"):
        confidence(load_records([path]), 0.01)


LIBRARY = {
    "disk_full_on_write": "disk full while writing it",
    "unreadable_checkpoint": "model.safetensors: not a readable safetensors file",
    "pth_with_disallowed_global_library": "refused",
    "report_without_predictions": "predictions.npz: missing",
    "unreadable_predictions": "predictions.npz: not a readable predictions file",
}


def test_docs_list_every_case_with_its_message():
    doc = (REPO / "docs/bad_input.md").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([\w-]+)` \|.*$", doc, flags=re.M)}
    expected = {**{k: v[1] for k, v in CONFIG.items()}, **{k: v[2] for k, v in DATA.items()}, **LIBRARY}
    assert len(expected) >= 20
    missing = {case: msg for case, msg in expected.items() if case not in rows or msg not in rows[case]}
    assert missing == {}, f"docs/bad_input.md lacks these cases or their messages: {missing}"
