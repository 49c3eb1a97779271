"""Atomic writers, the metrics record and rule logging."""

from __future__ import annotations

import logging
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from snakemake.iocontainers import Namedlist

from eegslim.atomic import atomic_open, atomic_path, read_json, write_json
from eegslim.logs import start_rule
from eegslim.metrics import METRIC_KEYS, classification_metrics, metrics_record


def test_atomic_path_renames_on_success(tmp_path):
    target = tmp_path / "sub" / "out.h5"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".h5" and tmp != target
        tmp.write_bytes(b"new")
        assert not target.exists()
    assert target.read_bytes() == b"new"
    assert list(target.parent.iterdir()) == [target]


def test_atomic_path_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("half a fi")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_path_requires_the_writer_to_write(tmp_path):
    with pytest.raises(FileNotFoundError, match="produced no file"), atomic_path(tmp_path / "x.onnx"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_json_round_trip_and_clear_error(tmp_path):
    write_json(tmp_path / "a.json", {"b": 1, "a": [1.5, None]})
    assert (tmp_path / "a.json").read_text().index('"a"') < (tmp_path / "a.json").read_text().index('"b"')
    assert read_json(tmp_path / "a.json") == {"a": [1.5, None], "b": 1}
    (tmp_path / "bad.json").write_text('{"a": ')
    with pytest.raises(ValueError, match="bad.json: not valid JSON"):
        read_json(tmp_path / "bad.json")


def test_classification_metrics_by_hand():
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 0, 2, 2])
    m = classification_metrics(y_true, y_pred, n_classes=4)  # class 3 never occurs
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["balanced_accuracy"] == pytest.approx((3 / 4 + 1 / 2 + 1) / 3)
    f1 = [2 * 0.75 * 0.75 / 1.5, 0.5, 1.0]  # per present class: precision = recall for 0 and 1
    assert m["macro_f1"] == pytest.approx(np.mean(f1))
    assert m["chance_accuracy"] == pytest.approx(0.5) and m["chance_balanced_accuracy"] == 0.25
    assert -1 <= m["cohen_kappa"] <= 1 and m["n_test"] == 8


def test_metrics_reject_mismatched_labels():
    with pytest.raises(ValueError, match="equal"):
        classification_metrics(np.array([0, 1]), np.array([0]), 2)


def test_metrics_record_has_every_key():
    rec = metrics_record(dataset="d", accuracy=0.5, extra_key=1)
    assert set(METRIC_KEYS) <= set(rec) and rec["extra_key"] == 1 and rec["latency_ms_b1"] is None


def test_start_rule_logs_inputs_settings_and_failures(tmp_path):
    log_file = tmp_path / "logs" / "train.log"
    smk = SimpleNamespace(
        rule="train", threads=1, log=[str(log_file)], wildcards=Namedlist(fromdict={"ds": "demo"}),
        input=Namedlist(fromdict={"h5": "results/demo/windows.h5"}), output=Namedlist(["out.json"]),
        params=Namedlist(fromdict={"train_cfg": '{"epochs": 3}'}),
    )
    logger = start_rule(smk)
    try:
        raise ValueError("windows.h5: no windows")
    except ValueError as err:
        sys.excepthook(type(err), err, err.__traceback__)
    finally:
        sys.excepthook = sys.__excepthook__
    for handler in logger.handlers:
        handler.flush()
    lines = log_file.read_text().splitlines()
    assert "rule train" in lines[0]
    assert "results/demo/windows.h5" in lines[1] and '"epochs": 3' in lines[3]
    assert any("failed: windows.h5: no windows" in line for line in lines)
    logging.getLogger("eegslim").handlers.clear()
