"""End to end: the demo DAG with a tiny overlay config, its report, its metrics, and what reruns."""

from __future__ import annotations

import html
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import pandas as pd

from eegslim.catalog import MODELS
from eegslim.metrics import METRIC_KEYS
from eegslim.predictions import read_predictions
from eegslim.verify import verify
from smk import REPO, planned_jobs, snakemake

pytestmark = pytest.mark.e2e
TINY = REPO / "tests/configs/tiny.yaml"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Injected into a copy of the report: JS errors and broken images are collected, and on load the headline
# table's box and the viewport are written into the title, which --dump-dom prints.
PROBE = """<script>
window.probeErrors = [];
window.addEventListener("error", e => window.probeErrors.push(String(e.message || e.target.tagName)), true);
window.addEventListener("load", () => {
  const box = document.querySelector("#answer table").getBoundingClientRect();
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length;
  document.title = JSON.stringify({bottom: box.bottom, right: box.right, width: innerWidth, height: innerHeight,
                                   errors: window.probeErrors, broken: broken, images: document.images.length});
});
</script>"""


def pruned_models(cfg: dict) -> list[str]:
    """The models of `cfg` that its prune grid covers (prune.models, null = all)."""
    return [m for m in cfg["models"] if cfg["prune"].get("models") is None or m in cfg["prune"]["models"]]


def pruned_datasets(cfg: dict) -> list[str]:
    """The datasets of `cfg` whose models are pruned (prune.datasets, null = all)."""
    return [d for d in cfg["datasets"] if cfg["prune"].get("datasets") is None or d in cfg["prune"]["datasets"]]


def exported_models(cfg: dict) -> list[str]:
    """The models of `cfg` exported to ONNX (the catalogue's `exported`): all but the classical reference."""
    return [m for m in cfg["models"] if MODELS[m].exported]


def merged_config() -> dict:
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    for key, value in yaml.safe_load(TINY.read_text()).items():
        if isinstance(value, dict) and key != "datasets":
            cfg[key].update(value)
    return cfg


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("demo")
    snakemake(workdir, "results/report.html", configs=(TINY,))
    return workdir


def metrics_records(workdir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((workdir / "results").rglob("metrics.json"))]


def test_report_shows_both_demo_datasets(demo):
    html = (demo / "results/report.html").read_text()
    for ds in ("demo_sleep", "demo_rest", "demo_imagenet", "demo_spampinato"):
        assert ds in html
        assert (demo / f"results/tables/summary_{ds}.csv").stat().st_size > 0
    assert html.count("data:image/png;base64,") >= 4
    assert "http://" not in html and "https://" not in html.replace("https://json-schema", "")
    for word in ("balanced", "int8", "l1_filter", "magnitude_global", "block-confounded", "sensitivity",
                 "Smallest and fastest within the accuracy budget", "Pareto fronts"):
        assert word in html
    assert "cluster bootstrap over test subjects" in html and "classical reference" in html


def test_report_tables_carry_cis_and_verdicts_and_select_only_within_budget(demo):
    tables = demo / "results/tables"
    variants = pd.read_csv(tables / "variants.csv")
    assert set(variants["verdict"]) <= {"within budget", "inconclusive", "over budget"}
    low = variants["balanced_accuracy_low"]  # no interval (NaN) where a split tests one subject (demo_imagenet)
    assert (low.isna() | (low <= variants["balanced_accuracy_mean"] + 1e-12)).all() and low.notna().any()
    delta_low, delta_high = variants["delta_balanced_accuracy_low"], variants["delta_balanced_accuracy_high"]
    assert (low.isna() == delta_low.isna()).all() and (delta_low.isna() | (delta_low <= delta_high)).all()
    selection = pd.read_csv(tables / "selection.csv")
    assert (selection["verdict"] == "within budget").all() and (selection["delta_balanced_accuracy_low"] >= -0.01).all()
    html = (demo / "results/report.html").read_text()
    cfg = merged_config()
    flagged = 0
    for ds in cfg["datasets"]:
        summary = pd.read_csv(tables / f"summary_{ds}.csv")
        assert {"balanced_accuracy_low", "balanced_accuracy_high", "above_chance", "verdict"} <= set(summary.columns)
        flagged += int((~summary["above_chance"].astype(bool)).sum())
        for model in exported_models(cfg):  # a recommendation, or the plain statement that there is none
            chosen = selection[(selection["dataset"] == ds) & (selection["model"] == model)]
            assert len(chosen) == 2 or f"{model}: no compressed variant is confidently within" in html, (ds, model)
    assert html.count("not above chance</span>") >= flagged  # every such row is flagged (more tables show some)


def test_every_result_has_its_predictions_and_verify_passes(demo):
    counts, problems = verify(demo / "results")
    assert problems == [] and counts["metrics.json"] == len(metrics_records(demo))
    for path in (demo / "results").rglob("metrics.json"):
        preds = read_predictions(path.with_name("predictions.npz"))
        split = demo / "results" / json.loads(path.read_text())["dataset"] / "splits.json"
        assert preds.window.tolist() == sorted(json.loads(split.read_text())["test"])


def test_block_confounded_caveat_reaches_split_and_every_spampinato_metrics(demo):
    """The report's 'block-confounded' could come from config.yaml's published-source text; check the files."""
    split = json.loads((demo / "results/demo_spampinato/splits.json").read_text())
    assert split["protocol"] == "official" and split["caveat"].startswith("block-confounded")
    records = [r for r in metrics_records(demo) if r["dataset"] == "demo_spampinato"]
    assert records and all(r["split_protocol"] == "official" for r in records)
    assert all((r["split_caveat"] or "").startswith("block-confounded") for r in records), {
        r["split_caveat"] for r in records}


def test_every_metrics_json_is_complete_and_in_range(demo):
    cfg = merged_config()
    records = metrics_records(demo)
    grid = len(cfg["prune"]["methods"]) * len(cfg["prune"]["ratios"]) * len(cfg["prune"]["recoveries"])
    n_exported = (len(cfg["datasets"]) * len(exported_models(cfg))
                  + len(pruned_datasets(cfg)) * len(pruned_models(cfg)) * grid)
    n_classical = len(cfg["datasets"]) * (len(cfg["models"]) - len(exported_models(cfg)))
    assert len(records) == n_exported * (1 + len(cfg["quantize"]["variants"])) + n_classical
    for rec in records:
        assert set(METRIC_KEYS) <= set(rec), set(METRIC_KEYS) - set(rec)
        for key in ("accuracy", "balanced_accuracy", "macro_f1"):
            assert 0.0 <= rec[key] <= 1.0
        assert -1.0 <= rec["cohen_kappa"] <= 1.0
        assert 0 < rec["nonzero_params"] <= rec["params"]
        assert rec["file_bytes"] > 0 and 0 < rec["gzip_bytes"]
        assert rec["n_test"] > 0
        if rec["stage"] == "quantize":
            assert rec["latency_ms_b1"] > 0 and math.isfinite(rec["latency_ms_b1"])
            assert 0.0 <= rec["agreement_fp32"] <= 1.0
        if rec["variant"] == "int8_static":
            n_train = len(json.loads((demo / f"results/{rec['dataset']}/splits.json").read_text())["train"])
            assert rec["calibration_windows"] == min(500, n_train)


def test_eegnet_is_clearly_above_chance(demo):
    """On the two demo sets with a learnable signal at demo size (the 80- and 40-way ones are shape demos)."""
    for rec in metrics_records(demo):
        if rec["model"] == "eegnet" and rec["stage"] == "baseline" and rec["dataset"] in ("demo_sleep", "demo_rest"):
            assert rec["balanced_accuracy"] > rec["chance_balanced_accuracy"] + 0.15, rec


def test_transformer_from_scratch_is_above_chance_on_demo_rest(demo):
    """Issue 12: the demo's transformer learned something: the CI over its test subjects is above chance."""
    table = pd.read_csv(demo / "results/tables/summary_demo_rest.csv")
    row = table[(table.model == "labram") & (table.stage == "baseline")].iloc[0]
    assert row.balanced_accuracy_low > 0.5 and row.above_chance, row.to_dict()


def test_the_curve_has_every_ratio_for_every_method(demo):
    """Issue 13: the accuracy-vs-ratio curve of each pruned model has at least 4 ratios per method."""
    cfg = merged_config()
    assert len(cfg["prune"]["ratios"]) >= 4
    for ds in pruned_datasets(cfg):
        table = pd.read_csv(demo / f"results/tables/summary_{ds}.csv")
        pruned = table[(table["variant"] == "torch") & table["method"].notna()]
        for model in pruned_models(cfg):
            for method in cfg["prune"]["methods"]:
                ratios = set(pruned[(pruned["model"] == model) & (pruned["method"] == method)]["ratio"])
                assert ratios == set(cfg["prune"]["ratios"]), (ds, model, method, ratios)


def test_pruning_and_quantization_really_compress(demo):
    by_key = {(r["dataset"], r["model"], r["stage"], r["method"], r["ratio"], r["variant"]): r
              for r in metrics_records(demo)}
    for (ds, model, stage, method, ratio, variant), rec in by_key.items():
        if not MODELS[model].exported:
            continue
        base = by_key[(ds, model, "baseline", None, None, "torch")]
        if stage == "prune" and method == "l1_filter":
            assert rec["params"] < base["params"]
        if stage == "prune" and method == "magnitude_global":
            # the ratio applies to the prunable layers; the classifier head is excluded by design
            assert rec["params"] == base["params"] and rec["nonzero_params"] < base["nonzero_params"]
        if variant == "int8_dynamic" and model == "labram":
            # int8 weights shrink the file, to under half for the unpruned transformer (one pruned to a tenth of
            # its units keeps more of its file in the parts left in fp32: embeddings, norms)
            fp32 = by_key[(ds, model, stage, method, ratio, "fp32")]
            assert rec["file_bytes"] < (0.5 if method is None else 1.0) * fp32["file_bytes"], (ds, method, ratio)


def test_logs_start_with_inputs_and_settings(demo):
    log = next((demo / "logs/train").rglob("*.log")).read_text().splitlines()
    assert "rule train" in log[0]
    assert any("settings:" in line for line in log[:5]) and any("epoch" in line for line in log)


def test_nothing_changed_plans_nothing(demo):
    proc = snakemake(demo, "-n", "results/report.html", configs=(TINY,))
    assert planned_jobs(proc.stdout) == {}, proc.stdout[-2000:]


def test_new_prune_ratio_plans_only_the_new_jobs(demo, tmp_path):
    overlay = tmp_path / "ratios.yaml"
    cfg = merged_config()
    overlay.write_text(yaml.safe_dump({"prune": {"ratios": [*cfg["prune"]["ratios"], 0.6]}}))
    new_models = len(pruned_datasets(cfg)) * len(pruned_models(cfg)) * len(cfg["prune"]["methods"])
    proc = snakemake(demo, "-n", "results/report.html", configs=(TINY, overlay))
    assert planned_jobs(proc.stdout) == {"prune": new_models, "quantize": new_models, "report": 1}


def test_prune_setting_reruns_prune_quantize_report_only(demo, tmp_path):
    overlay = tmp_path / "epochs.yaml"
    overlay.write_text("prune: {epochs: 3}\n")
    cfg = merged_config()
    n_pruned = (len(pruned_datasets(cfg)) * len(pruned_models(cfg)) * len(cfg["prune"]["methods"])
                * len(cfg["prune"]["ratios"]))
    proc = snakemake(demo, "-n", "results/report.html", configs=(TINY, overlay))
    assert planned_jobs(proc.stdout) == {"prune": n_pruned, "quantize": n_pruned, "report": 1}


def headless_chromium(*args: str) -> subprocess.CompletedProcess:
    """Chromium without a display at a 1400 × 900 window, console messages on stderr."""
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--window-size=1400,900", "--enable-logging=stderr", "--v=0", *args],
                          capture_output=True, text=True, timeout=180, check=True)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (.ci/run installs Debian's chromium package)")
def test_report_first_screen_in_a_real_browser(demo, tmp_path):
    """Issue 14: the headline table is in the first viewport, nothing is cut off, every figure decodes, and the
    page logs nothing to the console."""
    report = demo / "results/report.html"
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text().replace("<head>", "<head>" + PROBE, 1))
    proc = headless_chromium("--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    facts = json.loads(html.unescape(re.search(r"<title>(.*?)</title>", proc.stdout).group(1)))
    assert facts["errors"] == [] and facts["broken"] == 0 and facts["images"] >= 4, facts
    assert facts["bottom"] <= facts["height"] and facts["right"] <= facts["width"], facts
    shot = headless_chromium(f"--screenshot={tmp_path / 'first_screen.png'}", report.as_uri())
    assert (tmp_path / "first_screen.png").stat().st_size > 20_000
    console = [line for out in (proc.stderr, shot.stderr) for line in out.splitlines() if ":CONSOLE" in line]
    assert console == [], console
