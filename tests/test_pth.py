"""eegslim.io.pth: weights-only .pth loading, static listing of refused globals, numpy-only pickles."""

from __future__ import annotations

import fractions
import os
import pickle

import numpy as np
import pytest
import torch

from eegslim.io.pth import UnsafePickleError, load_pth, load_restricted_pickle, pickle_globals


class Touch:
    """Unpickling this would create `path` (proves that a refusal executes nothing)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


class Point:
    def __init__(self, x):
        self.x = x


def test_plain_containers_and_tensors_load(tmp_path):
    obj = {"dataset": [{"eeg": torch.arange(6.0).reshape(2, 3), "label": "n01", "subject": 3}], "labels": ["a"]}
    torch.save(obj, tmp_path / "ok.pth")
    out = load_pth(tmp_path / "ok.pth")
    assert out["dataset"][0]["label"] == "n01" and out["dataset"][0]["subject"] == 3
    assert torch.equal(out["dataset"][0]["eeg"], obj["dataset"][0]["eeg"])


@pytest.mark.parametrize("legacy", [False, True])
def test_reduce_to_os_system_refused_and_not_run(tmp_path, legacy):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"x": Touch(marker), "t": torch.ones(2)}, path, _use_new_zipfile_serialization=not legacy)
    assert f"{os.system.__module__}.system" in pickle_globals(path)
    with pytest.raises(UnsafePickleError, match=rf"evil\.pth: refused .*'{os.system.__module__}\.system'.*allowed_globals"):
        load_pth(path)
    assert not marker.exists()


def test_custom_class_refused_then_allowed_explicitly(tmp_path):
    torch.save({"p": Point(2), "f": fractions.Fraction(1, 3)}, tmp_path / "c.pth")
    with pytest.raises(UnsafePickleError, match=r"c\.pth: .*\['test_pth\.Point', 'fractions\.Fraction'\]") as err:
        load_pth(tmp_path / "c.pth")
    assert "torch._utils" not in str(err.value)  # torch's own allow-listed globals are not listed
    with pytest.raises(UnsafePickleError, match=r"\['test_pth\.Point'\]"):
        load_pth(tmp_path / "c.pth", allowed_globals=["fractions.Fraction"])
    out = load_pth(tmp_path / "c.pth", allowed_globals=["fractions.Fraction", "test_pth.Point"])
    assert out["f"] == fractions.Fraction(1, 3) and out["p"].x == 2
    with pytest.raises(ValueError, match=r"allowed_globals: cannot import 'nope\.thing'"):
        load_pth(tmp_path / "c.pth", allowed_globals=["nope.thing"])


def test_stack_global_pickles_listed_statically(tmp_path):
    path = tmp_path / "p4.pkl"
    path.write_bytes(pickle.dumps([Point(1), Point(2), fractions.Fraction(1, 2)], protocol=4))
    assert pickle_globals(path) == ["test_pth.Point", "fractions.Fraction"]


def test_unreadable_file(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"junk\.pth: "):
        load_pth(tmp_path / "junk.pth")
    with pytest.raises(FileNotFoundError, match=r"none\.pth: no such file"):
        load_pth(tmp_path / "none.pth")


@pytest.mark.parametrize("protocol", [2, 4])
def test_restricted_pickle_numpy_only(tmp_path, protocol):
    data = {"data": np.arange(24, dtype=np.float64).reshape(2, 3, 4), "labels": np.ones((2, 4), dtype=np.float32)}
    (tmp_path / "s01.dat").write_bytes(pickle.dumps(data, protocol=protocol))
    out = load_restricted_pickle(tmp_path / "s01.dat")
    assert np.array_equal(out["data"], data["data"]) and out["labels"].dtype == np.float32
    marker = tmp_path / "pwned"
    (tmp_path / "evil.dat").write_bytes(pickle.dumps({"data": Touch(marker)}, protocol=protocol))
    with pytest.raises(UnsafePickleError, match=rf"evil\.dat: refused global {os.system.__module__}\.system"):
        load_restricted_pickle(tmp_path / "evil.dat")
    assert not marker.exists()
