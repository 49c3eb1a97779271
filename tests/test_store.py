"""eegslim.store: incremental, atomic windows.h5 writing and reading by rows."""

from __future__ import annotations

import hashlib
import json

import h5py
import numpy as np
import pytest

from eegslim.store import WindowWriter, load_windows


def _writer(path, source_root=None):
    return WindowWriter(path, ["Fz", "Cz"], 200.0, ["rest", "task"], "demo", {"window_s": 1.0}, source_root=source_root)


def _block(n, value):
    return np.full((n, 2, 200), value, dtype=np.float32), np.arange(n) % 2


def test_append_blocks_and_read_back(tmp_path):
    src = tmp_path / "raw" / "sub-01" / "a.edf"
    src.parent.mkdir(parents=True)
    src.write_bytes(b"recording bytes")
    path = tmp_path / "windows.h5"
    with _writer(path, source_root=tmp_path / "raw") as writer:
        writer.append(*_block(3, 1.0), subject="01", session="1", recording="sub-01/a.edf", sources=[src])
        with h5py.File(next(tmp_path.glob(".windows.tmp-*.h5")), "r") as partial:  # written before close
            assert partial["X"].shape == (3, 2, 200) and partial["X"].maxshape == (None, 2, 200)
        writer.append(*_block(2, 2.0), subject="02", session="2", recording="sub-02/b.edf")
        assert not path.exists()
    w = load_windows(path)
    assert w.X.shape == (5, 2, 200) and w.X.dtype == np.float32 and w.y.dtype == np.int64
    assert w.X[:, 0, 0].tolist() == [1, 1, 1, 2, 2] and w.y.tolist() == [0, 1, 0, 0, 1]
    assert w.subject.tolist() == ["01"] * 3 + ["02"] * 2 and w.session.tolist() == ["1"] * 3 + ["2"] * 2
    assert w.recording[-1] == "sub-02/b.edf"
    assert w.sfreq == 200.0 and w.ch_names == ["Fz", "Cz"] and w.class_names == ["rest", "task"]
    assert w.attrs["unit"] == "0.1 mV" and w.attrs["preprocessing"] == {"window_s": 1.0}
    assert w.attrs["source_hashes"] == {"sub-01/a.edf": hashlib.sha256(b"recording bytes").hexdigest()}
    with h5py.File(path, "r") as h5:  # the layout of docs/contracts.md
        assert json.loads(h5.attrs["ch_names"]) == ["Fz", "Cz"] and h5.attrs["dataset"] == "demo"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw", "windows.h5"]


def test_load_rows_in_any_order(tmp_path):
    path = tmp_path / "w.h5"
    with _writer(path) as writer:
        for i in range(4):
            writer.append(*_block(3, float(i)), subject=str(i), session="1", recording=f"r{i}")
    rows = [11, 0, 5, 6, 5]
    part = load_windows(path, rows=rows)
    full = load_windows(path)
    assert np.array_equal(part.X, full.X[rows]) and np.array_equal(part.y, full.y[rows])
    assert part.subject.tolist() == ["3", "0", "1", "2", "1"]
    assert load_windows(path, rows=[]).X.shape == (0, 2, 200)
    with pytest.raises(ValueError, match=r"w\.h5: rows outside 0\.\.11"):
        load_windows(path, rows=[12])


def test_failure_leaves_nothing(tmp_path):
    path = tmp_path / "w.h5"
    with pytest.raises(RuntimeError, match="boom"), _writer(path) as writer:
        writer.append(*_block(2, 1.0), subject="1", session="1", recording="r")
        raise RuntimeError("boom")
    with pytest.raises(ValueError, match=r"w\.h5: no windows were written"), _writer(path):
        pass
    with pytest.raises(ValueError, match=r"r: windows \(2, 3, 200\)"), _writer(path) as writer:
        writer.append(np.zeros((2, 3, 200)), np.zeros(2), subject="1", session="1", recording="r")
    with pytest.raises(ValueError, match=r"r: class ids outside 0\.\.1"), _writer(path) as writer:
        writer.append(np.zeros((1, 2, 200)), [2], subject="1", session="1", recording="r")
    assert list(tmp_path.iterdir()) == []


def test_load_missing_or_corrupt(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.h5: no such windows file"):
        load_windows(tmp_path / "nope.h5")
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match=r"bad\.h5: not a readable windows file"):
        load_windows(tmp_path / "bad.h5")
    with h5py.File(tmp_path / "partial.h5", "w") as h5:
        h5["X"] = np.zeros((1, 2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"partial\.h5: not a readable windows file"):
        load_windows(tmp_path / "partial.h5")


def test_fold_column_round_trip(tmp_path):
    """The published protocol's part travels per window (a string, '' when the dataset has none)."""
    path = tmp_path / "w.h5"
    with WindowWriter(path, ["Cz"], 100.0, ["a", "b"], "d", {}) as writer:
        writer.append(np.zeros((2, 1, 10)), np.array([0, 1]), subject="s1", session="1", recording="r1", fold="test")
        writer.append(np.zeros((3, 1, 10)), np.array([0, 1, 0]), subject="s2", session="1", recording="r2",
                      fold=["train", "train", "val"])
        writer.append(np.zeros((1, 1, 10)), np.array([1]), subject="s3", session="1", recording="r3")
    assert load_windows(path).fold.tolist() == ["test", "test", "train", "train", "val", ""]
    assert load_windows(path, rows=[4, 0]).fold.tolist() == ["val", "test"]


def test_protocol_attr(tmp_path):
    protocol = {"name": "official", "description": "d", "caveat": "block design"}
    for name, value in (("p.h5", protocol), ("none.h5", None)):
        with WindowWriter(tmp_path / name, ["Cz"], 100.0, ["a"], "d", {}, protocol=value) as writer:
            writer.append(np.zeros((1, 1, 10)), [0], subject="s", session="1", recording="r")
        assert load_windows(tmp_path / name).attrs["protocol"] == value
    with h5py.File(tmp_path / "none.h5", "r") as h5:
        assert h5.attrs["protocol"] == "null"


def test_metadata_only_read_skips_signals(tmp_path):
    path = tmp_path / "w.h5"
    with WindowWriter(path, ["Cz", "Pz"], 100.0, ["a", "b"], "d", {}) as writer:
        writer.append(np.ones((3, 2, 10)), np.array([0, 1, 1]), subject="s1", session="1", recording="r1")
    meta = load_windows(path, signals=False)
    assert meta.X.shape == (3, 2, 0) and meta.y.tolist() == [0, 1, 1] and meta.subject.tolist() == ["s1"] * 3
    assert load_windows(path, rows=[2], signals=False).X.shape == (1, 2, 0)


def test_pick_channels_restricts_to_a_common_set(tmp_path):
    from eegslim.io.channels import common_channels

    paths = {}
    for name, chans in (("a", ["Fp1", "Cz", "Pz", "O1"]), ("b", ["O1", "Pz", "Fz", "Cz"])):
        paths[name] = tmp_path / f"{name}.h5"
        X = np.arange(2 * len(chans) * 5, dtype=np.float32).reshape(2, len(chans), 5)
        with WindowWriter(paths[name], chans, 100.0, ["x"], name, {}) as writer:
            writer.append(X, [0, 0], subject="s", session="1", recording="r")
    windows = {name: load_windows(p) for name, p in paths.items()}
    shared = common_channels({name: w.ch_names for name, w in windows.items()})
    assert shared == ["Cz", "Pz", "O1"]  # the first dataset's order
    picked = windows["b"].pick_channels(shared)
    assert picked.ch_names == shared and picked.X.shape == (2, 3, 5)
    np.testing.assert_array_equal(picked.X[:, 0], windows["b"].X[:, 3])  # b's Cz row
    np.testing.assert_array_equal(picked.X[:, 2], windows["b"].X[:, 0])  # b's O1 row
    assert load_windows(paths["a"], signals=False).pick_channels(shared).X.shape == (2, 3, 0)
    with pytest.raises(ValueError, match="'b' lacks channels \\['Fp1'\\]"):
        windows["b"].pick_channels(["Fp1"])
    with pytest.raises(ValueError, match="share no channel"):
        common_channels({"sleep": ["Fpz-Cz", "Pz-Oz"], "a": windows["a"].ch_names})
