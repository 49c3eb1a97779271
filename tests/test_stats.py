"""eegslim.stats: subject-clustered, fold-stratified bootstrap of scores and paired differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from eegslim import stats
from eegslim.metrics import classification_metrics
from eegslim.predictions import make_predictions


def preds(y_true, y_pred, subject, n_classes=2, window=None):
    """Predictions whose argmax is exactly y_pred."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    proba = np.full((len(y_pred), n_classes), 0.1 / n_classes, dtype=np.float32)
    proba[np.arange(len(y_pred)), y_pred] = 0.9
    window = np.arange(len(y_true)) if window is None else window
    return make_predictions(window, y_true, proba, subject, ["rec"] * len(y_true))


def random_run(rng, subjects, n_per_subject=30, n_classes=2, p_correct=0.7, window_offset=0):
    subject = np.repeat(subjects, n_per_subject)
    y_true = rng.integers(0, n_classes, len(subject))
    wrong = (y_true + rng.integers(1, n_classes, len(subject))) % n_classes if n_classes > 1 else y_true
    y_pred = np.where(rng.random(len(subject)) < p_correct, y_true, wrong)
    return preds(y_true, y_pred, subject, n_classes, window=np.arange(len(subject)) + window_offset)


def blocks(subjects_correct, n_per_class=5):
    """One run: each subject has n_per_class windows of each of 2 classes, all right (True) or all wrong (False)."""
    y_true, y_pred, subject = [], [], []
    for name, correct in subjects_correct.items():
        t = np.repeat([0, 1], n_per_class)
        y_true += list(t)
        y_pred += list(t if correct else 1 - t)
        subject += [name] * len(t)
    return preds(y_true, y_pred, subject)


# ----------------------------------------------------------------------------------------------------- metrics

@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true", "ignore:A single label was found")
@pytest.mark.parametrize("n_classes", [2, 3, 4, 5, 9, 12])
def test_metrics_equal_sklearn(n_classes):
    rng = np.random.default_rng(n_classes)
    for trial in range(30):
        n = int(rng.integers(1, 80))
        y_true = rng.integers(0, n_classes, n)
        if trial % 3 == 0 and n_classes > 2:  # a class absent from y_true (but predicted)
            y_true[y_true == 1] = 0
        y_pred = np.where(rng.random(n) < 0.5, y_true, rng.integers(0, n_classes, n))
        subject = rng.choice(["a", "b", "c"], n)
        subjects, conf = stats.confusion_by_subject(y_true, y_pred, subject, n_classes)
        assert list(subjects) == sorted(set(subject))
        assert conf.dtype == np.int64 and conf.shape == (len(subjects), n_classes, n_classes)
        total = conf.sum(axis=0)
        expected = classification_metrics(y_true, y_pred, n_classes)
        assert stats.balanced_accuracy(total) == pytest.approx(expected["balanced_accuracy"], abs=1e-12)
        assert stats.macro_f1(total) == pytest.approx(expected["macro_f1"], abs=1e-12)
        assert stats.accuracy(total) == pytest.approx(expected["accuracy"], abs=1e-12)
        # vectorised over leading axes: per subject equals sklearn on that subject's windows
        per_ba, per_f1 = stats.balanced_accuracy(conf), stats.macro_f1(conf)
        for s, name in enumerate(subjects):
            m = subject == name
            labels = np.unique(y_true[m])
            ba = balanced_accuracy_score(y_true[m], y_pred[m])
            assert per_ba[s] == pytest.approx(ba, abs=1e-12)
            assert per_f1[s] == pytest.approx(
                f1_score(y_true[m], y_pred[m], labels=labels, average="macro", zero_division=0), abs=1e-12)


def test_confusion_rows_true_columns_predicted():
    subjects, conf = stats.confusion_by_subject([0, 0, 1, 2], [1, 1, 1, 0], ["x", "x", "w", "x"], 3)
    assert list(subjects) == ["w", "x"]
    assert conf[1, 0, 1] == 2 and conf[1, 2, 0] == 1 and conf[0, 1, 1] == 1 and conf.sum() == 4
    with pytest.raises(ValueError):
        stats.confusion_by_subject([0, 3], [0, 0], ["a", "a"], 3)


# -------------------------------------------------------------------------------------------------- bootstrap

def test_identical_predictions_give_zero_delta_and_zero_width():
    rng = np.random.default_rng(0)
    pairs = []
    for fold in range(3):
        for seed in range(2):
            run = random_run(rng, [f"f{fold}s{i}" for i in range(4)], n_classes=3)
            same = preds(run.y_true, run.y_pred, run.subject, 3, window=run.window)
            pairs.append((fold, run, same))
    for metric in ("balanced_accuracy", "macro_f1"):
        est = stats.bootstrap_delta(pairs, metric=metric, n_boot=500)
        assert est.mean == 0.0 and est.low == 0.0 and est.high == 0.0 and est.width == 0.0
        assert (est.n_runs, est.n_subjects, est.n_boot, est.level) == (6, 12, 500, 0.95)


def test_delta_of_one_subject_all_wrong():
    rng = np.random.default_rng(1)
    subjects = ["s1", "s2", "s3", "s4"]
    base = random_run(rng, subjects, n_per_subject=25, n_classes=3, p_correct=0.8)
    y_pred = base.y_pred.copy()
    bad = base.subject == "s3"
    y_pred[bad] = (base.y_true[bad] + 1) % 3
    variant = preds(base.y_true, y_pred, base.subject, 3, window=base.window)
    for metric, sk in (("balanced_accuracy", lambda t, p: balanced_accuracy_score(t, p)),
                       ("macro_f1", lambda t, p: f1_score(t, p, labels=np.unique(t), average="macro",
                                                          zero_division=0))):
        expected = sk(base.y_true, y_pred) - sk(base.y_true, base.y_pred)
        assert expected < -0.05
        est = stats.bootstrap_delta([(None, variant, base)], metric=metric, n_boot=300)
        assert est.mean == pytest.approx(expected, abs=1e-12)
        assert est.low < est.mean <= est.high


def test_point_estimates_equal_sklearn_mean_over_runs():
    rng = np.random.default_rng(2)
    runs = [(fold, random_run(rng, [f"f{fold}-{i}" for i in range(3)], n_classes=4, p_correct=0.5 + 0.1 * seed))
            for fold in range(3) for seed in range(3)]
    ba = np.mean([balanced_accuracy_score(p.y_true, p.y_pred) for _, p in runs])
    f1 = np.mean([f1_score(p.y_true, p.y_pred, labels=np.unique(p.y_true), average="macro", zero_division=0)
                  for _, p in runs])
    assert stats.bootstrap_score(runs, n_boot=200).mean == pytest.approx(ba, abs=1e-12)
    assert stats.bootstrap_score(runs, metric="macro_f1", n_boot=200).mean == pytest.approx(f1, abs=1e-12)
    est = stats.bootstrap_score(runs, n_boot=200)
    assert est.low <= est.mean <= est.high and (est.n_runs, est.n_subjects) == (9, 9)


def test_subject_windows_move_together():
    # 4 subjects, 2 all right and 2 all wrong, each with 5 windows of each class: a replicate that draws k
    # all-right subjects scores k/4 exactly; resampling windows independently would give almost any value.
    run = blocks({"a": True, "b": True, "c": False, "d": False})
    point, reps = stats.score_replicates([(None, run)], n_boot=2000, seed=3)
    assert point == 0.5
    assert set(np.round(reps * 4, 9)) <= {0.0, 1.0, 2.0, 3.0, 4.0}
    assert np.allclose(reps * 4, np.round(reps * 4))
    est = stats.bootstrap_score([(None, run)], n_boot=2000, seed=3)
    # P(0 or 4 right subjects drawn) = 1/16 each > 2.5 %: the clustered interval spans [0, 1]
    assert est.low == 0.0 and est.high == 1.0
    # an independent-window bootstrap of the same 40 windows would be far narrower
    rng = np.random.default_rng(3)
    correct = (run.y_true == run.y_pred).astype(float)
    iid = correct[rng.integers(0, len(correct), (2000, len(correct)))].mean(axis=1)
    iid_low, iid_high = np.percentile(iid, [2.5, 97.5])
    assert iid_high - iid_low < 0.5 * est.width
    assert len(np.unique(np.round(iid, 9))) > 5


def test_seed_fixes_the_interval():
    rng = np.random.default_rng(4)
    runs = [(f, random_run(rng, [f"{f}{i}" for i in range(6)], p_correct=0.6)) for f in range(2) for _ in range(2)]
    a = stats.bootstrap_score(runs, n_boot=400, seed=11)
    b = stats.bootstrap_score(runs, n_boot=400, seed=11)
    c = stats.bootstrap_score(runs, n_boot=400, seed=12)
    assert a == b
    assert (a.low, a.high) != (c.low, c.high) and a.mean == c.mean


def test_several_metrics_share_the_draws_and_equal_one_at_a_time():
    rng = np.random.default_rng(5)
    runs = [(f, random_run(rng, [f"{f}{i}" for i in range(5)], n_classes=3)) for f in range(2) for _ in range(3)]
    flip = np.random.default_rng(9).random(150) < 0.2  # the variant changes a fifth of each run's predictions
    pairs = [(f, preds(p.y_true, np.where(flip, (p.y_pred + 1) % 3, p.y_pred), p.subject, 3, p.window), p)
             for f, p in runs]
    metrics = ("balanced_accuracy", "macro_f1", "accuracy")
    together = stats.bootstrap_scores(runs, metrics, n_boot=300, seed=2)
    deltas = stats.bootstrap_deltas(pairs, metrics, n_boot=300, seed=2)
    for name in metrics:
        assert together[name] == stats.bootstrap_score(runs, name, n_boot=300, seed=2)
        assert deltas[name] == stats.bootstrap_delta(pairs, name, n_boot=300, seed=2)
    assert together["balanced_accuracy"] != together["macro_f1"]


def test_run_order_does_not_matter():
    rng = np.random.default_rng(5)
    pairs = []
    for fold in ("f2", "f0", "f1"):
        for _ in range(3):
            v = random_run(rng, [f"{fold}-{i}" for i in range(4)], n_classes=3, p_correct=0.6)
            b = random_run(np.random.default_rng(int(rng.integers(1e9))), [f"{fold}-{i}" for i in range(4)],
                           n_classes=3, p_correct=0.7)
            b = preds(v.y_true, b.y_pred, v.subject, 3, window=v.window)
            pairs.append((fold, v, b))
    shuffled = [pairs[i] for i in np.random.default_rng(0).permutation(len(pairs))]
    assert shuffled != pairs
    assert stats.bootstrap_delta(pairs, n_boot=300) == stats.bootstrap_delta(shuffled, n_boot=300)
    # bit for bit, every replicate (the mean over runs must not depend on the order it sums them in)
    _, reps = stats.delta_replicates(pairs, n_boot=2000)
    _, reps_shuffled = stats.delta_replicates(shuffled, n_boot=2000)
    assert np.array_equal(reps, reps_shuffled)
    runs = [(s, v) for s, v, _ in pairs]
    assert stats.bootstrap_score(runs, n_boot=300) == stats.bootstrap_score(runs[::-1], n_boot=300)


def test_strata_are_respected():
    # fold "A": 2 all-right subjects (its run scores 1 on any draw of A's subjects); fold "B": 5 subjects of which
    # 1 all right and 4 all wrong (scores k/5). A replicate is (1 + k/5) / 2 for k in 0..5 iff each fold's run is
    # scored only on draws of its own subjects (of its own count).
    a = blocks({"a1": True, "a2": True})
    b = blocks({"b1": True, "b2": False, "b3": False, "b4": False, "b5": False})
    point, reps = stats.score_replicates([("A", a), ("B", b)], n_boot=3000, seed=0)
    assert point == pytest.approx((1 + 0.2) / 2)
    k = (2 * reps - 1) * 5
    assert np.allclose(k, np.round(k)) and k.min() >= 0 and k.max() <= 5
    assert reps.min() >= 0.5 and reps.max() <= 1.0
    # the draw count of B's all-right subject is Binomial(5, 1/5): mean 1
    assert np.mean(k) == pytest.approx(1.0, abs=0.1)
    # runs of one stratum must test the same subjects
    with pytest.raises(ValueError, match="'A'"):
        stats.bootstrap_score([("A", a), ("A", blocks({"a1": True, "a3": True}))], n_boot=10)


def test_same_draw_for_every_run_of_a_stratum():
    # two seeds of one fold, one the mirror of the other (right where the other is wrong): with the same draw
    # their mean is 0.5 in every replicate; independent draws per run would scatter it.
    r1 = blocks({"a": True, "b": False, "c": True, "d": False})
    r2 = blocks({"a": False, "b": True, "c": False, "d": True})
    _, reps = stats.score_replicates([(0, r1), (0, r2)], n_boot=500)
    assert np.all(reps == 0.5)


def test_mismatched_windows_raise():
    rng = np.random.default_rng(6)
    base = random_run(rng, ["a", "b", "c"])
    shifted = preds(base.y_true, base.y_pred, base.subject, window=base.window + 1)
    with pytest.raises(ValueError, match=r"stratum 3.*window"):
        stats.bootstrap_delta([(3, shifted, base)], n_boot=10)
    other_truth = preds(1 - base.y_true, base.y_pred, base.subject, window=base.window)
    with pytest.raises(ValueError, match=r"stratum 'x'.*y_true"):
        stats.bootstrap_delta([("x", other_truth, base)], n_boot=10)
    shorter = preds(base.y_true[:-1], base.y_pred[:-1], base.subject[:-1], window=base.window[:-1])
    with pytest.raises(ValueError, match="window"):
        stats.bootstrap_delta([(None, shorter, base)], n_boot=10)
    empty = preds(np.zeros(0, int), np.zeros(0, int), np.zeros(0, str))
    with pytest.raises(ValueError, match="stratum 'e': no test windows"):
        stats.bootstrap_score([("e", empty)], n_boot=10)
    with pytest.raises(ValueError, match="metric"):
        stats.bootstrap_score([(None, base)], metric="auc", n_boot=10)


def test_subject_scores_and_share_above_chance():
    a = blocks({"a1": True, "a2": False})
    a2 = blocks({"a1": True, "a2": True})
    b = blocks({"b1": False})
    table = stats.subject_scores([(0, a), (0, a2), (1, b)])
    assert list(table.columns) == ["stratum", "run", "subject", "n_windows", "score"]
    assert table[["run", "subject", "score"]].values.tolist() == [
        [0, "a1", 1.0], [0, "a2", 0.0], [1, "a1", 1.0], [1, "a2", 1.0], [2, "b1", 0.0]]
    assert (table["n_windows"] == 10).all() and table["stratum"].tolist() == [0, 0, 0, 0, 1]
    # a1: 1.0, a2: mean 0.5 (not > 0.5), b1: 0.0
    assert stats.share_above_chance(table, 0.5) == pytest.approx(1 / 3)
    assert stats.share_above_chance(table, 0.4) == pytest.approx(2 / 3)


def est(mean, low, high):
    return stats.Estimate(mean=mean, low=low, high=high, n_runs=1, n_subjects=1, n_boot=1, level=0.95)


def test_verdicts():
    assert stats.VERDICTS == ("within budget", "inconclusive", "over budget")
    assert stats.verdict(est(-0.005, -0.01, 0.0), 0.02) == "within budget"
    assert stats.verdict(est(-0.01, -0.03, 0.01), 0.02) == "inconclusive"
    assert stats.verdict(est(-0.03, -0.05, -0.01), 0.02) == "over budget"
    assert stats.verdict(est(-0.01, -0.02, 0.0), 0.02) == "within budget"           # boundary is within
    assert stats.verdict(est(-0.01, -0.02 - 1e-13, 0.0), 0.02) == "within budget"   # tolerance
    assert stats.verdict(est(-0.01, -0.02 - 1e-9, 0.0), 0.02) == "inconclusive"
    assert stats.above_chance(est(0.7, 0.6, 0.8), 0.5) and not stats.above_chance(est(0.7, 0.5, 0.8), 0.5)


def test_cache_follows_the_object():
    rng = np.random.default_rng(7)
    for _ in range(20):  # new objects may reuse ids of dead ones; results must follow the contents
        run = random_run(rng, ["a", "b"], p_correct=float(rng.random()))
        expected = balanced_accuracy_score(run.y_true, run.y_pred)
        assert stats.bootstrap_score([(None, run)], n_boot=5).mean == pytest.approx(expected, abs=1e-12)
    assert isinstance(stats.subject_scores([]), pd.DataFrame)


def test_one_test_subject_per_fold_gives_no_interval_and_no_claims():
    """Every replicate of a stratum with one subject repeats it: no interval, so neither 'above chance' nor
    'within budget' can be claimed (a zero-width interval would claim both)."""
    rng = np.random.default_rng(0)
    runs = [(fold, random_run(rng, [f"s{fold}"], p_correct=0.9)) for fold in range(3)]
    est = stats.bootstrap_score(runs)
    assert est.n_subjects == 3 and 0.8 < est.mean and np.isnan(est.low) and np.isnan(est.high)
    assert stats.above_chance(est, 0.5) is None
    delta = stats.bootstrap_delta([(fold, run, run) for fold, run in runs])
    assert delta.mean == 0.0 and np.isnan(delta.low)
    assert stats.verdict(delta, 0.01) == "inconclusive"
    two = stats.bootstrap_score([(0, random_run(rng, ["a", "b"]))])  # two subjects in a stratum: an interval
    assert two.low < two.high
