"""The report stage on synthetic metrics.json files: tables, aggregates, budget choice, HTML safety and errors."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eegslim.metrics import METRIC_KEYS, metrics_record
from eegslim.stages import report
from fake_predictions import write_fake_predictions

BASE_PARAMS = {"eegnet": 3000, "labram": 50000}
BASE_BA = {"eegnet": 0.82, "labram": 0.86}
# Balanced-accuracy loss of the pruned checkpoint per (method, ratio); int8 loses another 0.002.
DROP = {("l1_structured", 0.3): 0.002, ("l1_structured", 0.5): 0.006, ("l1_structured", 0.7): 0.05,
        ("magnitude_global", 0.3): 0.0, ("magnitude_global", 0.5): 0.004, ("magnitude_global", 0.7): 0.02}
METHODS, RATIOS, VARIANTS = ("l1_structured", "magnitude_global"), (0.3, 0.5, 0.7), ("torch", "fp32", "int8_dynamic")


def sizes(model, method, ratio, variant):
    """params, nonzero params, file bytes, gzip bytes and latency of one synthetic model."""
    base = BASE_PARAMS[model]
    params = base * (1 - ratio) if method == "l1_structured" else base
    nonzero = base * (1 - ratio) if method else base
    per_weight = 1 if variant == "int8_dynamic" else 4
    file_bytes = params * per_weight + 1000
    gzip_bytes = nonzero * per_weight * 0.9 + 500
    latency = None if variant == "torch" else params / base * (0.5 if variant == "int8_dynamic" else 1.0)
    return int(params), int(nonzero), int(file_bytes), int(gzip_bytes), latency


def write_record(root, ds, model, method, ratio, variant, seed, ba, latency="auto", split=("subject", None)):
    params, nonzero, file_bytes, gzip_bytes, lat = sizes(model, method, ratio, variant)
    stage = "baseline" if variant == "torch" and not method else "prune" if variant == "torch" else "quantize"
    rec = metrics_record(
        dataset=ds, model=model, stage=stage, method=method, ratio=ratio, recovery="finetune" if method else None,
        variant=variant, seed=seed, params=params, nonzero_params=nonzero, macs=params * 10,
        file_bytes=file_bytes, gzip_bytes=gzip_bytes, accuracy=ba + 0.03, balanced_accuracy=ba,
        macro_f1=ba - 0.02, cohen_kappa=ba - 0.2, n_test=400, latency_ms_b1=lat if latency == "auto" else latency,
        latency_ms_b64=None if lat is None else lat * 20, n_classes=5, chance_accuracy=0.4,
        chance_balanced_accuracy=0.2, split_protocol=split[0], split_caveat=split[1],
    )
    if variant == "int8_dynamic":
        rec.update(agreement_fp32=0.99, cpu_flags=["avx2", "avx512_vnni"])
    where = f"{method}/{ratio}/finetune" if method else "baseline"
    path = root / ds / model / where / variant / f"seed{seed}" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(rec))
    write_fake_predictions(path, ba, seed, n_classes=5, per_class=500)
    return str(path)


def write_grid(root, ds, pruned=True, split=("subject", None), shift=0.0):
    """Baseline + 2 methods × 3 ratios, each as torch/fp32/int8 variants; two seeds for EEGNet's baseline and
    its l1_structured 0.5 models (±0.02 around the mean); LaBraM's magnitude 0.3 int8 has no latency. `shift`:
    added to every balanced accuracy."""
    files = []
    configs = [(None, None)] + ([(m, r) for m in METHODS for r in RATIOS] if pruned else [])
    for model in BASE_PARAMS:
        for method, ratio in configs:
            for variant in VARIANTS:
                ba = (BASE_BA[model] + shift - DROP.get((method, ratio), 0.0)
                      - (0.002 if variant == "int8_dynamic" else 0))
                two = model == "eegnet" and method in (None, "l1_structured") and ratio in (None, 0.5)
                for seed, offset in ((0, -0.02), (1, 0.02)) if two else ((0, 0.0),):
                    no_latency = (model, method, ratio, variant) == ("labram", "magnitude_global", 0.3, "int8_dynamic")
                    files.append(write_record(root, ds, model, method, ratio, variant, seed, ba + offset,
                                              latency=None if no_latency else "auto", split=split))
    return files


def write_dataset_files(root, ds, shared_subject=None, skipped_reason="flat signal"):
    summary = {
        "recordings": {
            "read": [{"path": f"sub-{i:02d}_ses-1_eeg.set", "subject": f"s{i}", "n_windows": 100} for i in range(10)],
            "skipped": [{"path": "sub-09_ses-1", "reason": skipped_reason}],
        },
        "windows_per_class": {"W": 300, "N1": 100, "N2": 400, "N3": 150, "REM": 50},
        "windows_per_subject": {f"s{i}": 100 for i in range(10)},
        "channels": {"kept": ["Fpz-Cz", "Pz-Oz"], "dropped": ["EOG"]},
    }
    test_subjects = ["s8", "s9"] + ([shared_subject] if shared_subject else [])
    split = {
        "protocol": "subject", "seed": 0, "train": list(range(600)), "val": list(range(600, 800)),
        "test": list(range(800, 1000)),
        "subjects": {"train": [f"s{i}" for i in range(6)], "val": ["s6", "s7"], "test": test_subjects},
        "audit": {"shared_subjects": {"train-test": [shared_subject] if shared_subject else []},
                  "shared_sessions": {}, "shared_recordings": {}},
    }
    (root / ds).mkdir(parents=True, exist_ok=True)
    (root / ds / "summary.json").write_text(json.dumps(summary))
    (root / ds / "splits.json").write_text(json.dumps(split))
    return {"summary": str(root / ds / "summary.json"), "split": str(root / ds / "splits.json")}


def section(page, ds):
    """The HTML of one dataset's section."""
    return page.split(f"<h2>{ds}</h2>")[1].split("</section>")[0]


PUBLISHED = {"sleep_edf": [{"model": "AttnSleep", "metric": "accuracy", "value": 0.844, "source": "AttnSleep"}]}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Two datasets, full grid; bids_rest has no summary.json and a subject shared between train and test."""
    root = tmp_path_factory.mktemp("results")
    files = write_grid(root, "sleep_edf") + write_grid(root, "bids_rest")
    ds_files = {"sleep_edf": write_dataset_files(root, "sleep_edf"),
                "bids_rest": {"split": write_dataset_files(root, "bids_rest", shared_subject="s0")["split"]}}
    out_html, tables = root / "report.html", root / "tables"
    report.run(files, ds_files, out_html, tables, {"accuracy_budget": 0.01, "published": PUBLISHED})
    return {"root": root, "files": files, "ds_files": ds_files, "html": out_html.read_text(encoding="utf-8"),
            "tables": tables}


def test_html_has_both_sections_embedded_images_and_no_external_links(built):
    page = built["html"]
    for ds in ("sleep_edf", "bids_rest"):
        assert re.search(rf'<section id="ds\d-{ds.replace("_", "-")}"><h2>{ds}</h2>', page)
        assert f'href="#ds' in page
    assert page.count("data:image/png;base64,") == 8  # per-subject, ratio, size and Pareto figures per dataset
    assert not re.search(r"(src|href)=\"https?://", page) and "<script" not in page
    assert "Published results</b> come from the literature, on the real dataset under its own protocol" in page
    assert "unstructured" in page.lower() and "gzip" in page and "<b>int8 static</b> (QDQ" in page


def test_dataset_summary_leakage_and_missing_summary(built):
    page = built["html"]
    sleep, bids = section(page, "sleep_edf"), section(page, "bids_rest")
    assert 'class="ok">Leakage audit: no subject shared between train/val/test' in sleep
    assert "sub-09_ses-1: flat signal" in sleep and "Fpz-Cz, Pz-Oz" in sleep
    assert "no summary file given" in bids
    assert 'class="bad">Leakage audit: subjects: train-test shared: s0</p>' in bids
    datasets = pd.read_csv(built["tables"] / "datasets.csv")
    assert list(datasets["dataset"]) == ["bids_rest", "sleep_edf"]
    row = datasets.set_index("dataset").loc["sleep_edf"]
    assert (row["windows"], row["subjects"], row["classes"], row["recordings_read"], row["recordings_skipped"]) \
        == (1000, 10, 5, 10, 1)
    assert (row["train_windows"], row["val_windows"], row["test_windows"], row["test_subjects"]) == (600, 200, 200, 2)
    assert row["chance_balanced_accuracy"] == pytest.approx(0.2)
    bids = datasets.set_index("dataset").loc["bids_rest"]
    assert pd.isna(bids["windows"]) and bids["notes"] == "no summary file given"
    assert "s0" in bids["leakage_audit"]


def test_protocols_compared_on_the_same_recordings(tmp_path):
    """Two datasets reading the same recordings (summary.json: adapter, root, preprocessing), one split subject-wise
    and one segment-level (leaky): their baselines side by side with the leaky one's gain; a third dataset with
    other recordings stays out of the comparison."""
    caveat = "leaky by design"
    files = (write_grid(tmp_path, "eeg", pruned=False) + write_grid(tmp_path, "other", pruned=False)
             + write_grid(tmp_path, "eeg_segments", pruned=False, split=("segment_kfold", caveat), shift=0.1))
    ds_files = {}
    for ds, root in (("eeg", "/data/eeg"), ("eeg_segments", "/data/eeg"), ("other", "/data/other")):
        ds_files[ds] = write_dataset_files(tmp_path, ds)
        summary = json.loads(Path(ds_files[ds]["summary"]).read_text())
        Path(ds_files[ds]["summary"]).write_text(json.dumps(
            {**summary, "adapter": "deap", "root": root, "preprocessing": {"sfreq": 128.0, "window_s": 1}}))
    split_path = Path(ds_files["eeg_segments"]["split"])
    split_path.write_text(json.dumps({**json.loads(split_path.read_text()), "protocol": "segment_kfold",
                                      "caveat": caveat}))
    report.run(files, ds_files, tmp_path / "report.html", tmp_path / "tables", {"accuracy_budget": 0.01})
    table = pd.read_csv(tmp_path / "tables/protocols.csv")
    assert sorted(set(table["dataset"])) == ["eeg", "eeg_segments"] and set(table["recordings"]) == {"eeg"}
    assert sorted(table["model"]) == sorted(list(BASE_BA) * 2)
    leaky = table[table["split_protocol"] == "segment_kfold"]
    assert leaky["vs_subject_wise"].round(6).tolist() == [0.1] * len(BASE_BA)
    assert table.loc[table["split_protocol"] == "subject", "vs_subject_wise"].round(6).tolist() == [0.0] * len(BASE_BA)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    part = page.split("<section id=protocols>")[1].split("</section>")[0]
    assert "Split protocols compared" in part and "not paired" in part and "+0.100" in part
    assert '<a href="#protocols">Split protocols</a>' in page


def test_results_csv_has_every_record_in_stable_order(built):
    results = pd.read_csv(built["tables"] / "results.csv")
    assert len(results) == len(built["files"])
    assert list(results.columns[: len(METRIC_KEYS)]) == list(METRIC_KEYS)
    assert list(results.columns[len(METRIC_KEYS):]) == ["agreement_fp32", "cpu_flags", "metrics_file"]
    assert list(results["dataset"]) == sorted(results["dataset"])
    assert results["cpu_flags"].dropna().iloc[0] == '["avx2", "avx512_vnni"]'


def test_summary_table_rows_aggregates_and_delta(built):
    table = pd.read_csv(built["tables"] / "summary_sleep_edf.csv")
    assert len(table) == 2 * (1 + len(METHODS) * len(RATIOS)) * len(VARIANTS)
    for col in ("model", "method", "ratio", "recovery", "variant", "n_runs", "accuracy_mean", "balanced_accuracy_mean",
                "balanced_accuracy_std", "macro_f1_mean", "cohen_kappa_mean", "params_mean", "nonzero_params_mean",
                "file_bytes_mean", "gzip_bytes_mean", "latency_ms_b1_mean", "delta_balanced_accuracy"):
        assert col in table.columns
    eegnet = table[table["model"] == "eegnet"]
    assert list(eegnet["variant"][:3]) == ["torch", "fp32", "int8_dynamic"] and eegnet["method"][:3].isna().all()
    base = eegnet.iloc[0]
    assert base["n_runs"] == 2 and base["balanced_accuracy_mean"] == pytest.approx(0.82)
    assert base["balanced_accuracy_std"] == pytest.approx(0.04 / math.sqrt(2))
    assert base["delta_balanced_accuracy"] == pytest.approx(0.0)
    l1 = eegnet[(eegnet["method"] == "l1_structured") & (eegnet["ratio"] == 0.5)].set_index("variant")
    assert l1.loc["torch", "delta_balanced_accuracy"] == pytest.approx(-0.006)  # paired, per seed
    assert l1.loc["int8_dynamic", "delta_balanced_accuracy"] == pytest.approx(-0.008)
    assert l1.loc["torch", "delta_balanced_accuracy_low"] < -0.006 < l1.loc["torch", "delta_balanced_accuracy_high"]
    for variant in ("torch", "int8_dynamic"):  # the verdict follows the CI's lower bound against the 0.01 budget
        within = l1.loc[variant, "delta_balanced_accuracy_low"] >= -0.01
        assert l1.loc[variant, "verdict"] == ("within budget" if within else "inconclusive")
    assert base["balanced_accuracy_low"] < 0.82 < base["balanced_accuracy_high"] and base["above_chance"]
    assert pd.isna(base["verdict"]) and pd.isna(base["delta_balanced_accuracy_low"])  # a baseline has no Δ
    assert l1.loc["torch", "params_mean"] == 1500 and l1.loc["torch", "n_runs"] == 2
    labram = table[table["model"] == "labram"].set_index(["method", "ratio", "variant"])
    assert labram.loc[("magnitude_global", 0.7, "torch"), "delta_balanced_accuracy"] == pytest.approx(-0.02)
    assert labram.loc[("magnitude_global", 0.7, "torch"), "verdict"] == "over budget"
    assert pd.isna(labram.loc[("magnitude_global", 0.3, "int8_dynamic"), "latency_ms_b1_mean"])
    assert pd.isna(labram["balanced_accuracy_std"]).all()  # one seed: std undefined, shown as the mean alone


def test_html_table_formats_numbers(built):
    page = built["html"]
    assert "0.850 ± 0.028" in page  # eegnet baseline's accuracy, two seeds
    assert re.search(r"0\.820 \[0\.\d{3}, 0\.\d{3}\]", page)  # its balanced accuracy with the CI
    assert "13.0" in page and "1,500" in page  # 13000 bytes in kB; params with thousands separator
    assert re.search(r'<span class="neg">-0\.05[02] \[-0\.\d{3}, -0\.\d{3}\]</span>', page)  # over budget


def test_escaping_baselines_only_and_missing_files(tmp_path):
    name = "x<script>alert(1)"
    files = write_grid(tmp_path, name, pruned=False)
    ds_files = {name: write_dataset_files(tmp_path, "d", skipped_reason="<b>bad</b> & broken")}
    ds_files["empty"] = {}  # configured, but no metrics and no files
    report.run(files, ds_files, tmp_path / "r.html", tmp_path / "t", {})
    page = (tmp_path / "r.html").read_text()
    assert "<script" not in page and "x&lt;script&gt;alert(1)" in page
    assert "&lt;b&gt;bad&lt;/b&gt; &amp; broken" in page
    assert "Not run for this dataset: pruning (see prune.models and prune.datasets); per-layer sensitivity" in page
    assert page.count("data:image/png;base64,") == 3  # per-subject, size, Pareto
    assert "No metrics for this dataset." in page and "no split file given" in page
    assert (tmp_path / "t" / "summary_empty.csv").read_text().startswith("model,stage,method")


def test_outputs_atomic_and_deterministic(built, tmp_path):
    report.run(built["files"], built["ds_files"], tmp_path / "again.html", tmp_path / "t",
               {"accuracy_budget": 0.01, "published": PUBLISHED})
    assert (tmp_path / "again.html").read_text(encoding="utf-8") == built["html"]
    for path in [tmp_path, tmp_path / "t", built["tables"], built["root"]]:
        assert not [p.name for p in path.iterdir() if p.name.startswith(".") or ".tmp-" in p.name]
    assert sorted(p.name for p in built["tables"].iterdir()) == [
        "datasets.csv", "finetune_vs_scratch.csv", "headline.csv", "protocols.csv", "results.csv", "selection.csv",
        "summary_bids_rest.csv", "summary_sleep_edf.csv", "variants.csv"]


@pytest.mark.parametrize("content, problem", [
    ("{not json", "not valid JSON"),
    (json.dumps({"dataset": "d"}), "missing keys"),
    (json.dumps(metrics_record(dataset="d", model="eegnet", stage="baseline", variant="torch",
                               balanced_accuracy="high", split_protocol="subject")),
     "'balanced_accuracy' must be a number"),
    (json.dumps(metrics_record(dataset="d", model="eegnet", stage="train", variant="torch",
                               balanced_accuracy=0.5, split_protocol="subject")), "stage must be one of"),
    (json.dumps(metrics_record(dataset="d", model="eegnet", stage="baseline", variant="torch",
                               balanced_accuracy=0.5)), "'split_protocol' must be a non-empty string"),
])
def test_malformed_metrics_names_the_file(tmp_path, content, problem):
    bad = tmp_path / "bad" / "metrics.json"
    bad.parent.mkdir()
    bad.write_text(content)
    files = write_grid(tmp_path, "d", pruned=False) + [str(bad)]
    with pytest.raises(ValueError, match=re.escape(str(bad)) + ".*" + re.escape(problem)):
        report.run(files, {}, tmp_path / "r.html", tmp_path / "t", {})
    assert not (tmp_path / "r.html").exists()


def test_duplicate_record_and_bad_budget_are_errors(tmp_path):
    files = write_grid(tmp_path, "d", pruned=False)
    with pytest.raises(ValueError, match="same configuration, seed and fold"):
        report.run(files + files[:1], {}, tmp_path / "r.html", tmp_path / "t", {})
    with pytest.raises(ValueError, match="report.accuracy_budget"):
        report.run(files, {}, tmp_path / "r.html", tmp_path / "t", {"accuracy_budget": "1 point"})


CAVEAT = "block-confounded (Li et al., <IEEE TPAMI> 2020) & optimistic"


def write_official_split(root, ds, caveat=CAVEAT):
    """An official split whose six subjects are in every part (the Spampinato layout)."""
    everyone = [f"s{i}" for i in range(6)]
    split = {
        "protocol": "official", "published_protocol": "split 0", "seed": 0,
        "protocol_description": "published protocol split 0: by image, all subjects pooled; published val part",
        "caveat": caveat, "leaks_subjects": True, "excluded_windows": 36,
        "train": list(range(80)), "val": list(range(80, 90)), "test": list(range(90, 100)),
        "subjects": {"train": everyone, "val": everyone, "test": everyone},
        "audit": {"shared_subjects": {"train-val": everyone, "train-test": everyone, "val-test": everyone}},
    }
    (root / ds).mkdir(parents=True, exist_ok=True)
    (root / ds / "splits.json").write_text(json.dumps(split))
    return {"split": str(root / ds / "splits.json")}


def test_official_protocol_shows_caveat_and_shared_subjects(built, tmp_path):
    files = write_grid(tmp_path, "spampinato", pruned=False, split=("official", CAVEAT))
    report.run(files, {"spampinato": write_official_split(tmp_path, "spampinato")}, tmp_path / "r.html",
               tmp_path / "t", {})
    part = section((tmp_path / "r.html").read_text(encoding="utf-8"), "spampinato")
    box = part.split('<div class="warn">')[1].split("</div>")[0]
    assert '<p class="bad">Published protocol, not leakage-safe: test scores are optimistic.</p>' in box
    assert "Caveat: block-confounded (Li et al., &lt;IEEE TPAMI&gt; 2020) &amp; optimistic" in box
    assert '<p class="bad">subjects shared between train and test: 6</p>' in box
    assert "Split protocol: <b>official</b> (published protocol split 0: by image" in part
    assert "36 windows outside the published split are left out" in part
    assert 'class="bad">Leakage audit: subjects: train-test shared: s0, s1' in part
    assert "<b>official</b> split <span class=\"bad\">(not leakage-safe" in part
    row = pd.read_csv(tmp_path / "t" / "datasets.csv").iloc[0]
    assert (row["split_protocol"], row["split_caveat"]) == ("official", CAVEAT)
    assert set(pd.read_csv(tmp_path / "t" / "summary_spampinato.csv")["split_protocol"]) == {"official"}
    results = pd.read_csv(tmp_path / "t" / "results.csv")
    assert set(results["split_caveat"]) == {CAVEAT}
    # a clean subject split: green audit line, no warning box
    sleep = section(built["html"], "sleep_edf")
    assert 'class="ok">Leakage audit: no subject shared' in sleep and 'class="warn"' not in sleep
    assert "Split protocol: <b>subject</b>" in sleep
    assert pd.read_csv(built["tables"] / "datasets.csv").set_index("dataset").loc["sleep_edf", "split_protocol"] \
        == "subject"
    bids = section(built["html"], "bids_rest")  # a hand-made subject split that leaks is flagged too
    assert "subjects shared between train and test: 1" in bids and "not leakage-safe" in bids


def test_long_shared_lists_are_shortened(tmp_path):
    split = write_official_split(tmp_path, "big")
    data = json.loads((tmp_path / "big" / "splits.json").read_text())
    data["audit"]["shared_recordings"] = {"train-test": [f"s0/rec{i:03d}" for i in range(500)]}
    (tmp_path / "big" / "splits.json").write_text(json.dumps(data))
    files = write_grid(tmp_path, "big", pruned=False, split=("official", CAVEAT))
    report.run(files, {"big": split}, tmp_path / "r.html", tmp_path / "t", {})
    audit = pd.read_csv(tmp_path / "t" / "datasets.csv").iloc[0]["leakage_audit"]
    assert "rec009, … (500 in all)" in audit and "rec010" not in audit


def test_protocol_from_records_and_mismatch_note(tmp_path):
    files = write_grid(tmp_path, "d", pruned=False, split=("kfold", None))
    report.run(files, {}, tmp_path / "r.html", tmp_path / "t", {})
    assert pd.read_csv(tmp_path / "t" / "datasets.csv").iloc[0]["split_protocol"] == "kfold"
    assert "Split protocol: <b>kfold</b>" in (tmp_path / "r.html").read_text(encoding="utf-8")
    report.run(files, {"d": write_official_split(tmp_path, "d")}, tmp_path / "r2.html", tmp_path / "t2", {})
    notes = pd.read_csv(tmp_path / "t2" / "datasets.csv").iloc[0]["notes"]
    assert "split protocol 'kfold'" in notes and "re-run the stale stages" in notes


def test_records_of_one_dataset_must_share_the_split(tmp_path):
    files = write_grid(tmp_path / "a", "d", pruned=False)
    other = write_record(tmp_path / "b", "d", "eegnet", "l1_structured", 0.5, "torch", 0, 0.8,
                         split=("official", CAVEAT))
    with pytest.raises(ValueError, match=re.escape(other) + ".*split protocol 'official'.*differs"):
        report.run(files + [other], {}, tmp_path / "r.html", tmp_path / "t", {})


def test_sensitivity_heatmap_only_where_measured(tmp_path):
    root = tmp_path / "results"
    files = write_grid(root, "sleep_edf") + write_grid(root, "bids_rest")
    ds_files = {ds: write_dataset_files(root, ds) for ds in ("sleep_edf", "bids_rest")}
    rows = [{"dataset": "sleep_edf", "model": model, "seed": 0, "kind": kind, "layer": layer, "ratio": r,
             "delta_balanced_accuracy": -r * (0.5 if layer == "F2" else 0.1)}
            for model in ("eegnet", "labram") for kind, layer in (("structured", "F2"), ("unstructured", "head"))
            for r in (0.25, 0.5)]
    sens = tmp_path / "sensitivity.csv"
    pd.DataFrame(rows).to_csv(sens, index=False)
    report.run(files, ds_files, tmp_path / "r.html", tmp_path / "tables", {}, sensitivity_files=[str(sens)])
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Per-layer pruning sensitivity" in section(page, "sleep_edf")
    assert "sleep_edf: per-layer pruning sensitivity" in section(page, "sleep_edf")
    assert "Per-layer pruning sensitivity" not in section(page, "bids_rest")
    pd.DataFrame(rows).drop(columns=["layer"]).to_csv(sens, index=False)
    with pytest.raises(ValueError, match=r"sensitivity.csv: missing columns \['layer'\]"):
        report.run(files, ds_files, tmp_path / "r.html", tmp_path / "tables", {}, sensitivity_files=[str(sens)])
def test_models_beside_published_results_and_pretraining_curve(built, tmp_path):
    history = tmp_path / "history.json"
    history.write_text(json.dumps({"size": "tiny", "datasets": ["bids_rest"], "windows": {"bids_rest": 40},
                                   "epoch": [1, 2, 3], "train_loss": [3.2, 2.9, 2.7], "val_loss": [3.0, 2.8, 2.75]}))
    labels = {"eegnet": "EEGNet, trained from scratch", "labram": "transformer (tiny) from scratch"}
    out = tmp_path / "report.html"
    report.run(built["files"], built["ds_files"], out, tmp_path / "tables",
               {"accuracy_budget": 0.01, "published": PUBLISHED}, pretrain_histories=[history], model_labels=labels)
    page = out.read_text(encoding="utf-8")
    sleep = page.split('id="ds1-sleep-edf"')[1].split("<h3>Results</h3>")[0]
    assert "Models beside the classical reference and published results" in sleep and "published, on the real data" in sleep
    assert "AttnSleep" in sleep and "0.844" in sleep and "chance" in sleep
    assert "transformer (tiny) from scratch" in sleep and "EEGNet, trained from scratch" in sleep
    pretrain = page.split("<h2>Masked pretraining</h2>")[1]
    assert "bids_rest" in pretrain and "3.200 → 2.700" in pretrain and "data:image/png;base64," in pretrain
    assert page.count("data:image/png;base64,") == built["html"].count("data:image/png;base64,") + 1


def test_own_rows_beside_published_results_name_the_protocol_they_ran(built):
    """A published protocol scaled to the subjects at hand is named in each of this run's rows, so the rows are
    not read as the published protocol; the published rows stay as they are."""
    from eegslim.report import collect, html, inference

    records = collect.load_records(built["files"])
    agg = inference.with_confidence(collect.aggregate(records), inference.confidence(records, 0.01))
    rows = agg[agg["dataset"] == "sleep_edf"]
    scaled = "CBraMod's protocol scaled to 24 subjects (train 00-17, val 18-19, test 20-23)"
    table = html.comparison_html(rows, PUBLISHED["sleep_edf"], protocol=scaled)
    own = [r for r in table.split("<tr") if "this run" in r]
    assert own and all("CBraMod&#x27;s protocol scaled to 24 subjects" in r for r in own)
    assert not any("scaled" in r for r in table.split("<tr") if "published, on the real data" in r)
    assert "scaled" not in html.comparison_html(rows, PUBLISHED["sleep_edf"])


def test_pareto_and_size_figures_draw_ci_error_bars(built, monkeypatch):
    """Error bars reach from each point's mean to its subject-bootstrap CI bounds (variants.csv's low/high)."""
    from matplotlib.axes import Axes

    from eegslim.report import collect, compression_figures, figures, inference

    yerrs = []
    real = Axes.errorbar

    def spy(self, x, y, yerr=None, **kw):
        if yerr is not None:
            yerrs.extend(map(tuple, np.asarray(yerr).T.round(9)))
        return real(self, x, y, yerr=yerr, **kw)

    monkeypatch.setattr(Axes, "errorbar", spy)
    variants = pd.read_csv(built["tables"] / "variants.csv")
    sleep = variants[variants["dataset"] == "sleep_edf"]
    row = sleep[(sleep["model"] == "eegnet") & (sleep["configuration"] == "l1_structured 0.5 finetune")
                & (sleep["variant"] == "int8_dynamic")].iloc[0]
    expected = (round(row["balanced_accuracy_mean"] - row["balanced_accuracy_low"], 9),
                round(row["balanced_accuracy_high"] - row["balanced_accuracy_mean"], 9))
    assert expected[0] > 0 and expected[1] > 0
    assert compression_figures.pareto_figure(sleep, {"eegnet": 0.82, "labram": 0.86}, 0.01)
    assert expected in yerrs
    yerrs.clear()
    records = collect.load_records(built["files"])
    agg = inference.with_confidence(collect.aggregate(records), inference.confidence(records, 0.01))
    assert figures.size_figure(agg[agg["dataset"] == "sleep_edf"])
    assert expected in yerrs


def test_kfold_fold_files_give_a_table_per_fold_and_one_merged_audit(tmp_path):
    files = write_grid(tmp_path, "d", pruned=False, split=("kfold", None))
    folds = []
    for k, test in enumerate((["s0"], ["s1", "s2"])):
        train = [s for s in ("s0", "s1", "s2", "s3") if s not in test and s != "s3"]
        subjects = {"train": train + (["s1"] if k == 1 else []), "val": ["s3"], "test": test}
        split = {"protocol": "kfold", "fold": k, "n_folds": 2, "seed": 0, "train": [0, 1], "val": [2],
                 "test": [3 + k], "subjects": subjects}
        folds.append(tmp_path / f"fold{k}.json")
        folds[-1].write_text(json.dumps(split))
    report.run(files, {"d": {"split": [str(f) for f in folds]}}, tmp_path / "r.html", tmp_path / "t", {})
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "means over the test parts of 2 folds" in html and "2-fold cross-validation" in html
    # fold 1: train/val/test windows (subjects)
    assert "<td class=t>1</td><td>2 (2)</td><td>1 (1)</td><td>1 (2)</td>" in html
    row = pd.read_csv(tmp_path / "t" / "datasets.csv").iloc[0]
    assert row["n_folds"] == 2 and pd.isna(row["train_windows"])
    assert row["leakage_audit"] == "subjects: train-test shared: s1"  # fold 1 leaks s1: found through the merge
    (tmp_path / "plain.json").write_text(json.dumps({**json.loads(folds[0].read_text()), "protocol": "subject"}))
    with pytest.raises(ValueError, match="plain.json: one of several split files of a dataset, but not a k-fold"):
        report.run(files, {"d": {"split": [str(folds[0]), str(tmp_path / "plain.json")]}}, tmp_path / "r2.html",
                   tmp_path / "t2", {})


def test_headline_leads_the_page_and_matches_the_selection(built):
    page = built["html"]
    answer = page.index('<section id="answer">')
    assert answer < page.index("How to read this report") < page.index('<section id="ds0-')
    assert page.index('<nav class="bar">') < answer and 'href="#answer"' in page
    headline = pd.read_csv(built["tables"] / "headline.csv")
    selection = pd.read_csv(built["tables"] / "selection.csv")
    smallest = selection[selection["criterion"] == "smallest"]
    recommended = headline[headline["status"] == "recommended"]
    assert len(recommended) == len(smallest) > 0
    for _, r in recommended.iterrows():
        pick = smallest[(smallest["dataset"] == r["dataset"]) & (smallest["model"] == r["model"])].iloc[0]
        assert r["recommended"] == f"{pick['configuration']} · {pick['variant']}"
        assert r["file_reduction"] == pytest.approx(pick["file_reduction"])
        assert f"<b>{r['recommended']}</b>" in page[answer:page.index("How to read this report")]
    # every baseline is a row; the chance flag is the CI's, and a model at chance is never recommended
    summary = pd.concat([pd.read_csv(built["tables"] / f"summary_{ds}.csv").assign(dataset=ds)
                         for ds in ("bids_rest", "sleep_edf")])
    bases = summary[summary["method"].isna() & summary["variant"].isin(["torch", "sklearn"])]
    assert len(headline) == len(bases)
    merged = headline.merge(bases, on=["dataset", "model"], suffixes=("", "_summary"))
    assert (merged["above_chance"] == merged["above_chance_summary"]).all()
    assert not (merged["status"].eq("recommended") & ~merged["above_chance"]).any()
    # each headline row links to its dataset's section and to its model's row there, and each target exists once
    rows = re.findall(r'<tr[^>]*><td class=t><a href="#([^"]+)">([^<]+)</a></td><td class=t><a href="#([^"]+)">'
                      r'([^<]+)</a>', page[answer:])
    assert sorted((ds, model) for _, ds, _, model in rows) == sorted(zip(headline["dataset"], headline["model"]))
    for section_id, ds, row_id, model in rows:
        assert page.count(f'id="{section_id}"') == page.count(f'id="{row_id}"') == 1
        row = page[page.index(f'id="{row_id}"'):]
        assert section(page, ds).count(f'id="{row_id}"') == 1 and row[:row.index("</tr>")].count(f">{model}<") == 1


def test_details_are_folded_below_the_answer(built):
    sleep = section(built["html"], "sleep_edf")
    assert sleep.index("Balanced accuracy vs pruning ratio") < sleep.index("<details><summary>Every configuration")
    assert "<details><summary>Data: " in sleep and sleep.index("<details><summary>Data: ") > sleep.index(
        "<details><summary>Every configuration")
    captions = re.findall(r"<figcaption><b>Figure (\d+)\.</b>", built["html"])
    assert captions == [str(i) for i in range(1, len(captions) + 1)] and len(captions) == 8
    tables = re.findall(r"<caption><b>Table (\d+)\.</b>", built["html"])
    assert tables == [str(i) for i in range(1, len(tables) + 1)] and len(tables) >= 6
    assert built["html"].index("<caption><b>Table 1.</b> What to deploy") < built["html"].index('id="ds0-')


def _agg_row(model, ba, low, above=True, ref=(np.nan, np.nan, np.nan), variant="torch"):
    return {"dataset": "d", "model": model, "stage": "baseline", "method": np.nan, "ratio": np.nan,
            "recovery": np.nan, "variant": variant, "n_runs": 3, "balanced_accuracy_mean": ba,
            "balanced_accuracy_low": low, "balanced_accuracy_high": ba + 0.05, "chance_balanced_accuracy_mean": 0.5,
            "above_chance": above, "vs_reference": ref[0], "vs_reference_low": ref[1], "vs_reference_high": ref[2]}


@pytest.mark.parametrize(("above", "counts", "picked", "status", "why"), [
    (False, (1, 0, 0), True, "at chance", "interval reaches chance"),
    (True, (1, 0, 0), True, "recommended", ""),
    (True, (0, 2, 1), False, "none within budget", "(2 inconclusive, 1 over budget)"),
    (True, (0, 0, 0), False, "not compressed", "prune.models, prune.datasets"),
    (None, (0, 1, 0), False, "no interval", "one test subject per fold"),
])
def test_headline_status_says_why_there_is_no_pick(above, counts, picked, status, why):
    from eegslim.report.headline import headline_table

    low = {True: 0.6, False: 0.45, None: np.nan}[above]
    agg = pd.DataFrame([_agg_row("eegnet", 0.7, low, above, (0.05, 0.01, 0.09)),
                        _agg_row("bandpower_lr", 0.65, 0.6, variant="sklearn")])
    pick = {"dataset": "d", "model": "eegnet", "criterion": "smallest", "configuration": "l1_filter 0.5 finetune",
            "variant": "int8_dynamic", "file_bytes_mean": 4000.0, "fits_flash": True, "delta_balanced_accuracy": 0.0,
            "delta_balanced_accuracy_low": -0.005, "delta_balanced_accuracy_high": 0.005, "params_reduction": 2.0,
            "file_reduction": 3.0, "latency_b1_speedup": 1.5}
    selection = pd.DataFrame([pick] if picked else [], columns=list(pick))
    verdicts = pd.DataFrame([{"dataset": "d", "model": "eegnet", "within budget": counts[0],
                              "inconclusive": counts[1], "over budget": counts[2]}])
    table = headline_table(agg, selection, verdicts, 0.01).set_index("model")
    assert table.loc["bandpower_lr", "status"] == "classical reference"
    assert table.loc["eegnet", "status"] == status and why in table.loc["eegnet", "why"]
    if status == "recommended":
        assert table.loc["eegnet", "recommended"] == "l1_filter 0.5 finetune · int8_dynamic"
        assert table.loc["eegnet", "file_mbit"] == pytest.approx(4000 * 8 / 2**20)  # Mbit as report.flash_mbit


def test_accuracy_below_the_majority_class_and_noisy_timings_are_flagged():
    from eegslim.report.compression_html import fmt_ms
    from eegslim.report.html import accuracy_html

    below = {"accuracy_mean": 0.65, "accuracy_std": 0.02, "chance_accuracy_mean": 0.747}
    assert "below the majority class (0.747)" in accuracy_html(below)
    assert "majority" not in accuracy_html({**below, "accuracy_mean": 0.80})
    assert "unreliable" in fmt_ms(0.2, 0.3) and "unreliable" not in fmt_ms(0.2, 0.05)


def test_per_fold_scores_are_shown_beside_each_baseline():
    from eegslim.report.html import per_fold_scores

    records = pd.DataFrame({"model": ["eegnet"] * 4 + ["eegnet", "bandpower_lr"],
                            "method": [None] * 4 + ["l1_filter", None],
                            "variant": ["torch"] * 5 + ["sklearn"], "fold": [0, 0, 1, 1, 0, 0],
                            "balanced_accuracy": [0.6, 0.8, 0.5, 0.6, 0.1, 0.55]})
    assert per_fold_scores(records) == {"bandpower_lr": "0.550", "eegnet": "0.700, 0.550"}
    assert per_fold_scores(records.assign(fold=None)) == {}


def test_ratio_figure_has_a_panel_only_for_pruned_models(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    from eegslim.report import collect, figures, inference

    titles = []
    real = Axes.set_title
    monkeypatch.setattr(Axes, "set_title",
                        lambda self, label, *a, **k: titles.append(label) or real(self, label, *a, **k))
    records = collect.load_records(write_grid(tmp_path, "d"))
    agg = inference.with_confidence(collect.aggregate(records), inference.confidence(records, 0.01))
    assert figures.ratio_figure(agg) and sorted(titles) == ["eegnet", "labram"]
    titles.clear()
    assert figures.ratio_figure(agg[(agg["model"] == "eegnet") | agg["method"].isna()]) and titles == ["eegnet"]


def test_ratio_figure_shades_each_line_s_confidence_interval(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    from eegslim.report import collect, figures, inference

    bands = []
    real = Axes.fill_between
    monkeypatch.setattr(Axes, "fill_between", lambda self, x, y1, y2, *a, **k: bands.append((x, y1, y2))
                        or real(self, x, y1, y2, *a, **k))
    records = collect.load_records(write_grid(tmp_path, "d"))
    agg = inference.with_confidence(collect.aggregate(records), inference.confidence(records, 0.01))
    figures.ratio_figure(agg)
    pruned = agg[(agg["variant"] == "torch") & agg["method"].notna()]
    lines = pruned.groupby(["model", "method", "recovery"], dropna=False)
    assert len(bands) == lines.ngroups
    for (_, line), (x, low, high) in zip(sorted(lines, key=lambda kv: kv[0]), bands):
        line = line.sort_values("ratio")
        assert np.allclose(x, line["ratio"]) and np.allclose(low, line["balanced_accuracy_low"], equal_nan=True)
        assert np.allclose(high, line["balanced_accuracy_high"], equal_nan=True)
        assert (np.nan_to_num(low) <= line["balanced_accuracy_mean"].to_numpy() + 1e-12).all()
