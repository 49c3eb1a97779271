# Config validation, grid expansion and input functions shared by every rule.
import json
import re
from pathlib import Path

from snakemake.utils import validate

from eegslim.config import config_errors

SCHEMA = workflow.source_path("../schemas/config.schema.yaml")
if problems := config_errors(config, SCHEMA):
    raise WorkflowError("invalid configuration:\n  " + "\n  ".join(problems))
validate(config, schema=SCHEMA)  # fills in the schema's defaults

DATASETS = sorted(config["datasets"])
MODELS = list(config["models"])
SEEDS = list(config["seeds"])
PRUNE = config["prune"]
VARIANTS = list(config["quantize"]["variants"])
ENV = "../../envs/eegslim.yaml"


def config_error(key, problem):
    raise WorkflowError(f"config key '{key}': {problem}")


def check_datasets():
    """Checks the schema cannot express: demo roots, raw folders that exist, transformer patching."""
    for ds, cfg in config["datasets"].items():
        if "simulate" in cfg and cfg["root"] != f"resources/demo/{ds}":
            config_error(f"datasets.{ds}.root", f"a simulated dataset lives in resources/demo/{ds}, got {cfg['root']!r}")
        if "simulate" not in cfg and not Path(cfg["root"]).is_dir():
            config_error(f"datasets.{ds}.root", f"raw folder {cfg['root']!r} does not exist")
        if "labram" in MODELS:
            n_times = round(cfg["window_s"] * cfg["sfreq"])
            patch = config["labram"]["patch_size"]
            if -(-n_times // patch) > 16:
                config_error(
                    f"datasets.{ds}.window_s",
                    f"{n_times} samples per window exceed 16 transformer patches of labram.patch_size={patch}",
                )


check_datasets()


def flat(value):
    """A config value as a flat, order-independent string param (so reruns follow real changes only)."""
    return json.dumps(value, sort_keys=True)


def ratio_label(ratio):
    return f"{ratio:g}"


def model_files(prefix):
    """The files of one trained model (baseline or pruned), by name."""
    return {
        "weights": f"{prefix}/model.safetensors",
        "arch": f"{prefix}/arch.json",
        "metrics": f"{prefix}/metrics.json",
        "history": f"{prefix}/history.json",
    }


def model_dirs():
    """Every trained model directory of the grid: baselines and pruned variants, all datasets and seeds."""
    dirs = []
    for ds in DATASETS:
        for model in MODELS:
            for seed in SEEDS:
                dirs.append(f"results/{ds}/{model}/baseline/seed{seed}")
                for method in PRUNE["methods"]:
                    for ratio in PRUNE["ratios"]:
                        for recovery in PRUNE["recoveries"]:
                            dirs.append(
                                f"results/{ds}/{model}/prune/{method}/{ratio_label(ratio)}/{recovery}/seed{seed}"
                            )
    return dirs


def all_metrics():
    """Every metrics.json the report aggregates: torch checkpoints and their ONNX variants."""
    files = []
    for d in model_dirs():
        files.append(f"{d}/metrics.json")
        files.extend(f"{d}/onnx/{variant}/metrics.json" for variant in VARIANTS)
    return files


def every_output():
    """Every file of the DAG but the report's: the default target asks for them too, so that `snakemake` with no
    target regenerates an intermediate that is missing (e.g. deleted by a forced rerun that was killed) and
    reruns what follows it; `snakemake results/report.html` does not look at intermediates."""
    files = [f"resources/demo/{ds}/demo.json" for ds in DATASETS if "simulate" in config["datasets"][ds]]
    for ds in DATASETS:
        files += [f"results/{ds}/windows.h5", f"results/{ds}/summary.json", f"results/{ds}/splits.json"]
    for d in model_dirs():
        files += list(model_files(d).values())
        files += [f"{d}/onnx/{variant}/model.onnx" for variant in VARIANTS]
    return files + all_metrics()


def raw_input(wildcards):
    """The simulate marker of a demo dataset, else the user's raw folder."""
    cfg = config["datasets"][wildcards.ds]
    if "simulate" in cfg:
        return f"resources/demo/{wildcards.ds}/demo.json"
    return cfg["root"]


def dataset_settings(ds):
    """Preprocessing settings of one dataset (everything but the demo simulation)."""
    cfg = {k: v for k, v in config["datasets"][ds].items() if k not in ("simulate", "split")}
    cfg.setdefault("stride_s", cfg["window_s"])
    return cfg


def split_settings(ds):
    """The top-level `split` settings with the dataset's own `split` overrides."""
    return {**config["split"], **config["datasets"][ds].get("split", {})}


def grid_settings():
    """Recovery-training settings of `prune`, without the grid axes (they are wildcards)."""
    return {k: v for k, v in PRUNE.items() if k not in ("methods", "ratios", "recoveries")}


wildcard_constraints:
    ds="|".join(re.escape(ds) for ds in DATASETS),
    model="eegnet|labram",
    seed=r"\d+",
    method="|".join(PRUNE["methods"]) or "none",
    ratio=r"[0-9.]+",
    recovery="finetune|scratch|none",
    mdir=r"baseline/seed\d+|prune/[^/]+/[^/]+/[^/]+/seed\d+",
    variant="|".join(VARIANTS),
