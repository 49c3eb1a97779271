"""The predictions.npz contract: sorted by window, argmax of the probabilities, checked shapes, named errors."""

from __future__ import annotations

import numpy as np
import pytest

from eegslim.predictions import make_predictions, read_predictions, softmax, write_predictions


def test_predictions_round_trip_sorted_by_window(tmp_path):
    logits = np.array([[0.0, 2.0], [3.0, -1.0], [1.0, 1.5]])
    preds = make_predictions([7, 2, 5], [1, 0, 0], softmax(logits), ["s2", "s1", "s1"], ["r2", "r1", "r1"])
    assert preds.window.tolist() == [2, 5, 7] and preds.y_pred.tolist() == [0, 1, 1]
    assert preds.y_true.tolist() == [0, 0, 1] and preds.subject.tolist() == ["s1", "s1", "s2"]
    np.testing.assert_allclose(preds.proba.sum(1), 1.0, rtol=1e-6)
    write_predictions(tmp_path / "predictions.npz", preds)
    back = read_predictions(tmp_path / "predictions.npz")
    for name in ("window", "y_true", "y_pred", "proba", "subject", "recording"):
        assert np.array_equal(getattr(back, name), getattr(preds, name)), name
    assert back.n_classes == 2 and not list(tmp_path.glob(".*tmp*"))


def test_bad_predictions_are_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="proba has shape"):
        make_predictions([0, 1], [0, 1], np.ones((3, 2)), ["a", "b"], ["a", "b"])
    with pytest.raises(ValueError, match="appears twice"):
        make_predictions([0, 0], [0, 1], np.ones((2, 2)) / 2, ["a", "b"], ["a", "b"])
    np.savez(tmp_path / "short.npz", window=np.arange(3))
    with pytest.raises(ValueError, match=r"short.npz: missing arrays \['y_true'"):
        read_predictions(tmp_path / "short.npz")
    (tmp_path / "cut.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ValueError, match="cut.npz: not a readable predictions file"):
        read_predictions(tmp_path / "cut.npz")
