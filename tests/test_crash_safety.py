"""Crash safety: writers write a temporary file and rename it; a run killed again and again resumes to the same result."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eegslim.atomic import write_json
from eegslim.verify import verify
from smk import REPO
from test_determinism import outputs

# Calls that write a file. Each must sit inside `with atomic_path(...)`/`atomic_open(...)` (within the few
# lines before it, the `with` that opens the temporary) or write to an in-memory buffer.
WRITERS = re.compile(r"open\([^)]*['\"][wa]b?['\"]|h5py\.File\([^)]*['\"][wa]|torch\.save\(|save_file\(|onnx\.save|"
                     r"\.savefig\(|\.to_csv\(|export_raw\(|torch\.onnx\.export\(|quantize_dynamic\(|np\.save|"
                     r"write_text\(|write_bytes\(|\.write_edf\(|\.write\(|json\.dump\(|pickle\.dump\(|"
                     r"shutil\.copy|\.to_parquet\(")
# Not checked: logging.FileHandler (logs.py) streams the rule's log while the job runs; a log is not a result,
# and a killed job's log is overwritten by its rerun.


def test_every_writer_in_eegslim_writes_a_temporary_and_renames():
    unsafe = []
    for path in sorted([*(REPO / "eegslim").rglob("*.py"), *(REPO / "scripts").rglob("*.py")]):
        if path.name == "atomic.py":
            continue
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            code = line.split("#", 1)[0]
            if not WRITERS.search(code) or re.search(r"\b(buf|buffer|fh|tmp)\b\.write\(", code):
                continue
            context = "\n".join(lines[max(0, i - 6): i + 1])
            in_memory = re.search(r"\b(buf|buffer)\b", code)
            if "atomic_path(" in context or "atomic_open(" in context or in_memory:
                continue
            unsafe.append(f"{path.relative_to(REPO)}:{i + 1}: {line.strip()}")
    assert unsafe == [], "writers that do not go through eegslim.atomic:\n" + "\n".join(unsafe)


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "metrics.json"
    stale = tmp_path / ".metrics.tmp-999999.json"  # what SIGKILL leaves: no exception handler ran
    stale.write_text('{"half": ')
    other = tmp_path / ".history.tmp-999999.json"  # another target's: not ours to remove
    other.write_text("{")
    write_json(target, {"ok": True})
    assert json.loads(target.read_text()) == {"ok": True}
    assert not stale.exists() and other.exists()


def test_verify_finds_a_truncated_output_and_a_leftover_temporary(tmp_path):
    (tmp_path / "metrics.json").write_text('{"dataset": "x", ')
    (tmp_path / ".model.tmp-1.onnx").write_bytes(b"\0")
    _, problems = verify(tmp_path)
    assert any("metrics.json: metrics.json check failed" in p for p in problems), problems
    assert any(".model.tmp-1.onnx: temporary file left behind" in p for p in problems), problems



def test_verify_checks_csv_tables_and_the_html_page(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "results.csv").write_text("dataset,model\nsleep,eegnet\n")
    (tables / "selection.csv").write_text("")  # killed before the header was written
    (tmp_path / "sensitivity.csv").write_text('layer,ratio\n"conv,0.5\n')  # cut inside a quoted field
    (tmp_path / "report.html").write_text("<html><body>ok</body></html>\n")
    (tmp_path / "cut.html").write_text("<html><body><table><tr>")
    (tmp_path / "empty.html").write_text("")
    counts, problems = verify(tmp_path)
    assert counts["csv"] == 1 and counts["html"] == 1, counts
    assert any("selection.csv: csv check failed" in p for p in problems), problems
    assert any("sensitivity.csv: csv check failed" in p for p in problems), problems
    assert any("cut.html: html check failed" in p and "</html>" in p for p in problems), problems
    assert any("empty.html: html check failed" in p and "empty" in p for p in problems), problems

@pytest.mark.slow
@pytest.mark.e2e
def test_ten_kills_and_resumes_end_in_the_uninterrupted_result(mini_run, tmp_path):
    report_file = tmp_path / "kill_resume.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/kill_resume.py"), "--workdir", str(tmp_path / "run"),
         "--kills", "10", "--seed", "0", "--json", str(report_file)],
        capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(report_file.read_text())
    assert report["kills"] >= 10 and report["kills_during_a_job"] >= 5, report
    assert report["final_exit_code"] == 0 and report["problems"] == []
    assert report["verified"]["metrics.json"] == 12 and report["verified"]["onnx"] == 8
    assert report["verified"]["windows.h5"] == 1 and report["verified"]["checkpoint"] == 4
    assert outputs(tmp_path / "run") == outputs(mini_run)  # same metrics, histories and weights as never killed


def test_verify_checks_predictions_beside_every_metrics_json(tmp_path):
    from eegslim.metrics import metrics_record
    from eegslim.predictions import make_predictions, write_predictions

    preds = make_predictions([0, 1, 2, 3], [0, 1, 1, 0], np.eye(2)[[0, 1, 0, 0]], ["a"] * 4, ["r"] * 4)
    for name, n_test, accuracy in (("ok", 4, 0.75), ("short", 5, 0.75), ("wrong", 4, 0.5), ("none", 4, 0.75)):
        write_json(tmp_path / name / "metrics.json", metrics_record(n_test=n_test, accuracy=accuracy))
        if name != "none":
            write_predictions(tmp_path / name / "predictions.npz", preds)
    counts, problems = verify(tmp_path)
    assert counts["metrics.json"] == 1, problems
    assert any("short/predictions.npz: 4 windows, metrics.json says n_test=5" in p for p in problems), problems
    assert any("wrong/predictions.npz: accuracy 0.750000" in p for p in problems), problems
    assert any("none/metrics.json" in p and "no predictions.npz beside it" in p for p in problems), problems
