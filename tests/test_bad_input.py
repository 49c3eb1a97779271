"""Bad input through the real workflow: each stops with a message naming the file or key, nothing half-written."""

from __future__ import annotations

from pathlib import Path

from eegslim.stages import simulate
from smk import snakemake


def own_dataset(tmp_path: Path, root: Path, adapter: str, **extra: str) -> Path:
    overlay = tmp_path / "own.yaml"
    lines = [
        "datasets:",
        "  own:",
        f"    adapter: {adapter}",
        f"    root: {root}",
        "    sfreq: 100",
        "    window_s: 30",
        *(f"    {key}: {value}" for key, value in extra.items()),
    ]
    overlay.write_text("\n".join(lines) + "\n")
    return overlay


def leftovers(workdir: Path) -> list[Path]:
    """Files under results/ (complete outputs of a failed rule would be deleted by Snakemake too)."""
    results = workdir / "results"
    return sorted(p for p in results.rglob("*") if p.is_file()) if results.exists() else []


def test_dataset_with_no_recordings(tmp_path):
    empty = tmp_path / "raw" / "empty"
    empty.mkdir(parents=True)
    overlay = own_dataset(tmp_path, empty, "sleep_edf")
    proc = snakemake(tmp_path, "results/own/windows.h5", configs=(overlay,), check=False)
    assert proc.returncode != 0
    log = (tmp_path / "logs/preprocess/own.log").read_text()
    assert str(empty) in log and "no" in log.lower()
    assert leftovers(tmp_path) == []


def test_edf_without_the_configured_channels(tmp_path):
    raw = tmp_path / "raw" / "sleep"
    simulate.run("sleep_edf", raw, n_subjects=3, seed=0, n_epochs=40)
    overlay = own_dataset(tmp_path, raw, "sleep_edf", channels="[Fpz-Cz, C3]")
    proc = snakemake(tmp_path, "results/own/windows.h5", configs=(overlay,), check=False)
    assert proc.returncode != 0
    log = (tmp_path / "logs/preprocess/own.log").read_text()
    assert "C3" in log and "SC4001E0-PSG.edf" in log
    assert leftovers(tmp_path) == []


def test_corrupt_recording_is_skipped_unless_strict(tmp_path):
    raw = tmp_path / "raw" / "sleep"
    simulate.run("sleep_edf", raw, n_subjects=3, seed=0, n_epochs=40)
    psg = raw / "SC4011E0-PSG.edf"
    psg.write_bytes(psg.read_bytes()[: psg.stat().st_size // 2])  # truncated mid-recording
    overlay = own_dataset(tmp_path, raw, "sleep_edf", channels="[Fpz-Cz]")
    snakemake(tmp_path, "results/own/windows.h5", configs=(overlay,))
    summary = (tmp_path / "results/own/summary.json").read_text()
    assert "SC4011E0-PSG.edf" in summary

    workdir = tmp_path / "strict"
    workdir.mkdir()
    strict = own_dataset(workdir, raw, "sleep_edf", channels="[Fpz-Cz]", strict="true")
    proc = snakemake(workdir, "results/own/windows.h5", configs=(strict,), check=False)
    assert proc.returncode != 0
    assert "SC4011E0-PSG.edf" in (workdir / "logs/preprocess/own.log").read_text()
    assert leftovers(workdir) == []
