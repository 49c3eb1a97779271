# Config validation, grid expansion and input functions shared by every rule.
import json
import re
import sys
from pathlib import Path

from snakemake.utils import validate

from eegslim.config import config_errors
from eegslim import catalog
from eegslim.catalog import alternation, applies, models_where, skipped_cells
from eegslim.runs import POOLED_SCOPE, RUN_PATTERN, held_out_fold, parse_run, pretrain_scope, run_name

SCHEMA = workflow.source_path("../schemas/config.schema.yaml")
if problems := config_errors(config, SCHEMA):
    raise WorkflowError("invalid configuration:\n  " + "\n  ".join(problems))
validate(config, schema=SCHEMA)  # fills in the schema's defaults

DATASETS = sorted(config["datasets"])
MODELS = list(config["models"])
SEEDS = list(config["seeds"])
PRUNE = config["prune"]
# Prunable models of `models` (eegslim.catalog) that prune.models selects (null: all prunable ones).
PRUNED_MODELS = [m for m in models_where(MODELS, pruned=True) if PRUNE["models"] is None or m in PRUNE["models"]]
# Datasets whose models prune.datasets selects for pruning (null: all).
PRUNED_DATASETS = [ds for ds in DATASETS if PRUNE["datasets"] is None or ds in PRUNE["datasets"]]
EXPORTED_MODELS = models_where(MODELS, exported=True)  # exported to ONNX and quantized
VARIANTS = list(config["quantize"]["variants"])
SENSITIVITY = config["sensitivity"]
if SKIPPED := skipped_cells(PRUNE["methods"], PRUNED_MODELS):
    print("note: prune grid cells skipped (the method does not apply to the model): "
          + ", ".join(f"{method} x {model}" for method, model in SKIPPED), file=sys.stderr)
PRETRAIN = config["pretrain"]
PRETRAIN_DATASETS = sorted(PRETRAIN["datasets"] if PRETRAIN["datasets"] is not None else DATASETS)
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
        if any(catalog.MODELS[m].arch == "labram" for m in MODELS):
            n_times = round(cfg["window_s"] * cfg["sfreq"])
            patch = config["labram"]["patch_size"]
            if -(-n_times // patch) > 16:
                config_error(
                    f"datasets.{ds}.window_s",
                    f"{n_times} samples per window exceed 16 transformer patches of labram.patch_size={patch}",
                )


check_datasets()


def transformer_settings(model):
    """`labram` settings of a transformer model: `labram_pt` is the same model with init 'pretrained'."""
    cfg = dict(config["labram"])
    if model == "labram_pt":
        cfg["init"] = "pretrained"
    return cfg


def uses_pretrain_rule(model):
    """True when `model` starts from the `pretrain` rule's checkpoint (pretrained, no pretrained_path)."""
    cfg = transformer_settings(model)
    return catalog.MODELS[model].rule == "finetune" and cfg["init"] == "pretrained" and not cfg.get("pretrained_path")


def check_pretraining():
    """Pretraining datasets are configured datasets; `labram_pt` is not a copy of `labram`."""
    for i, ds in enumerate(PRETRAIN["datasets"] or []):
        if ds not in config["datasets"]:
            config_error(f"pretrain.datasets[{i}]", f"{ds!r} is not a key of `datasets` ({', '.join(DATASETS)})")
    if {"labram", "labram_pt"} <= set(MODELS) and config["labram"]["init"] == "pretrained":
        config_error("models", "labram_pt duplicates labram when labram.init is 'pretrained'; drop one of them")
    path = config["labram"].get("pretrained_path")
    if path and not Path(path).is_file():
        config_error("labram.pretrained_path", f"checkpoint {path!r} does not exist")


check_pretraining()
for i, model in enumerate(PRUNE["models"] or []):
    if not catalog.MODELS[model].pruned:
        config_error(f"prune.models[{i}]", f"{model} is not prunable (prunable models: "
                     f"{', '.join(models_where(pruned=True))})")
if UNUSED := sorted(set(PRUNE["models"] or []) - set(MODELS)):  # e.g. an overlay that narrowed `models`
    print(f"note: prune.models lists {', '.join(UNUSED)}, not in `models`: nothing to prune there", file=sys.stderr)
if UNUSED := sorted(set(PRUNE["datasets"] or []) - set(DATASETS)):  # or narrowed `datasets`
    print(f"note: prune.datasets lists {', '.join(UNUSED)}, not in `datasets`: nothing to prune there",
          file=sys.stderr)


SUBJECT_LISTS = ("train", "val", "test")  # split.protocol subjects: the published protocol's subject lists


def split_settings(ds):
    """The top-level `split` settings with the dataset's own `split` overrides. The top level's subject lists and
    description (protocol subjects) do not reach a dataset whose own `split` sets another protocol."""
    top, own = config["split"], config["datasets"][ds].get("split", {})
    if own.get("protocol", "subjects") != "subjects":
        top = {k: v for k, v in top.items() if k not in (*SUBJECT_LISTS, "description")}
    return {**top, **own}


def kfold_folds(ds):
    """The folds trained on `ds` under a k-fold split.protocol (kfold, segment_kfold: split.folds, else all
    n_folds), else None."""
    cfg = split_settings(ds)
    if cfg["protocol"] not in catalog.FOLDED_PROTOCOLS:
        return None
    return list(range(cfg["n_folds"])) if cfg["folds"] is None else list(cfg["folds"])


def split_key(ds, name):
    """The config key that sets split setting `name` for `ds`: its own `split` override, else the top level."""
    return f"datasets.{ds}.split.{name}" if name in config["datasets"][ds].get("split", {}) else f"split.{name}"


def check_subject_lists(ds, cfg):
    """Protocol subjects needs split.train, val and test; the other protocols refuse them and `description`."""
    if cfg["protocol"] == "subjects":
        for name in SUBJECT_LISTS:
            if name not in cfg:
                config_error(split_key(ds, "protocol"), f"protocol subjects needs the subject lists split.train, "
                             f"split.val and split.test (dataset {ds!r} has no split.{name})")
        return
    for name in (*SUBJECT_LISTS, "description"):
        if name in cfg:
            config_error(split_key(ds, name), f"only for protocol subjects (protocol of dataset {ds!r} is "
                         f"{cfg['protocol']!r})")


def check_splits():
    """split.folds belong to a k-fold; the subject lists to protocol subjects."""
    if config["split"]["protocol"] != "subjects":
        for name in (*SUBJECT_LISTS, "description"):
            if name in config["split"]:
                config_error(f"split.{name}", f"only for protocol subjects (split.protocol is "
                             f"{config['split']['protocol']!r})")
    for ds in DATASETS:
        cfg = split_settings(ds)
        key = f"datasets.{ds}.split" if "split" in config["datasets"][ds] else "split"
        check_subject_lists(ds, cfg)
        if cfg["folds"] is not None and cfg["protocol"] not in catalog.FOLDED_PROTOCOLS:
            config_error(f"{key}.folds", f"only for the k-fold protocols {', '.join(catalog.FOLDED_PROTOCOLS)} "
                         f"(protocol is {cfg['protocol']!r})")
        if too_big := [f for f in cfg["folds"] or [] if f >= cfg["n_folds"]]:
            config_error(f"{key}.folds",
                         f"folds {too_big} do not exist: n_folds is {cfg['n_folds']} (folds 0..{cfg['n_folds'] - 1})")


check_splits()


def pretrain_settings():
    """`pretrain` settings of the masked-modelling loop (the datasets, channels and seed travel separately)."""
    return {k: v for k, v in PRETRAIN.items() if k not in ("datasets", "channels", "seed")}


def pool_split_files(scope):
    """The split file each pool member (PRETRAIN_DATASETS order) gives its train and val parts from under
    `scope`: the held-out fold's file for the fine-tuned dataset; fold 0's for any other k-folded member (its
    subjects are never tested against this encoder); else splits.json."""
    held_out = held_out_fold(scope)
    files = []
    for ds in PRETRAIN_DATASETS:
        if held_out is not None and ds == held_out[0]:
            files.append(split_file(ds, held_out[1]))
        else:
            files.append(split_file(ds, 0 if kfold_folds(ds) is not None else None))
    return files


def pretrain_dir(size, scope):
    return f"results/pretrain/{size}/{scope}"


def pretrained_input(wildcards):
    """The weights a transformer starts from: the user's pretrained_path or the pretrain rule's checkpoint."""
    cfg = transformer_settings(wildcards.model)
    if cfg["init"] != "pretrained":
        return {}
    if cfg.get("pretrained_path"):
        return {"pretrained": cfg["pretrained_path"]}
    out = pretrain_dir(cfg["size"], pretrain_scope(wildcards.ds, wildcards.run, PRETRAIN_DATASETS))
    return {"pretrained": f"{out}/model.safetensors", "pretrained_arch": f"{out}/arch.json"}


def model_labels():
    """How each model of this run was initialised, for the report's comparison table."""
    labels = {}
    for model in MODELS:
        cfg, spec = transformer_settings(model), catalog.MODELS[model]
        trained_by = spec.rule
        if trained_by == "train":
            labels[model] = f"{spec.label}, trained from scratch"
        elif trained_by != "finetune":
            labels[model] = spec.label
        elif cfg["init"] != "pretrained":
            labels[model] = f"transformer ({cfg['size']}) from scratch"
        elif cfg.get("pretrained_path"):
            labels[model] = f"transformer ({cfg['size']}) from {Path(cfg['pretrained_path']).name} + fine-tuned"
        else:
            per_fold = " of the fold" if any(kfold_folds(ds) is not None for ds in PRETRAIN_DATASETS) else ""
            labels[model] = (f"transformer ({cfg['size']}) pretrained on {', '.join(PRETRAIN_DATASETS)} "
                             f"(train parts{per_fold}) + fine-tuned")
    return labels


def pretrain_histories():
    """history.json of the pretrain checkpoints the models of this run start from (for the report's figure)."""
    sizes = {transformer_settings(m)["size"] for m in MODELS if uses_pretrain_rule(m)}
    scopes = {pretrain_scope(ds, run, PRETRAIN_DATASETS) for ds in DATASETS for run in runs(ds)}
    return [f"{pretrain_dir(size, scope)}/history.json" for size in sorted(sizes) for scope in sorted(scopes)]


def flat(value):
    """A config value as a flat, order-independent string param (so reruns follow real changes only)."""
    return json.dumps(value, sort_keys=True)


def ratio_label(ratio):
    return f"{ratio:g}"


def model_files(prefix):
    """The files of one trained deep model (baseline or pruned), by name."""
    return {
        "weights": f"{prefix}/model.safetensors",
        "arch": f"{prefix}/arch.json",
        "metrics": f"{prefix}/metrics.json",
        "history": f"{prefix}/history.json",
        "predictions": f"{prefix}/predictions.npz",
    }


def classical_files(prefix):
    """The files of one fitted classical model (rule `classical`), by name."""
    return {
        "model": f"{prefix}/model.json",
        "metrics": f"{prefix}/metrics.json",
        "predictions": f"{prefix}/predictions.npz",
    }


def trained_files(model, prefix):
    """The files the rule that trains `model` writes under `prefix`."""
    return classical_files(prefix) if catalog.MODELS[model].rule == "classical" else model_files(prefix)


def runs(ds):
    """The run names of `ds` (eegslim.runs): every seed, on every trained fold under k-fold."""
    folds = kfold_folds(ds)
    if folds is None:
        return [run_name(seed) for seed in SEEDS]
    return [run_name(seed, fold) for fold in folds for seed in SEEDS]


def split_file(ds, fold=None):
    """results/{ds}/splits.json, or the split file of k-fold fold `fold`."""
    return f"results/{ds}/splits.json" if fold is None else f"results/{ds}/splits/fold{fold}.json"


def split_files(ds):
    """The split files of `ds`: splits.json, or one file per trained fold under k-fold."""
    folds = kfold_folds(ds)
    return [split_file(ds)] if folds is None else [split_file(ds, fold) for fold in folds]


def report_split_files():
    """Dataset -> its splits.json, or the list of its k-fold fold files (the report's `dataset_files`)."""
    return {ds: split_files(ds) if kfold_folds(ds) is not None else split_file(ds) for ds in DATASETS}


def run_split(ds, run):
    """The split file one run of `ds` trains on and is scored on."""
    return split_file(ds, parse_run(run)[0])


def model_dirs():
    """Every trained model directory of the grid: baselines (every model and dataset) and pruned variants
    (PRUNED_MODELS on PRUNED_DATASETS), all runs."""
    dirs = []
    for ds in DATASETS:
        for model in MODELS:
            for run in runs(ds):
                dirs.append(f"results/{ds}/{model}/baseline/{run}")
                if model not in PRUNED_MODELS or ds not in PRUNED_DATASETS:
                    continue
                for method in (m for m in PRUNE["methods"] if applies(m, model)):
                    for ratio in PRUNE["ratios"]:
                        for recovery in PRUNE["recoveries"]:
                            dirs.append(
                                f"results/{ds}/{model}/prune/{method}/{ratio_label(ratio)}/{recovery}/{run}"
                            )
    return dirs


def dir_model(d):
    """The model name of a model directory results/{ds}/{model}/..."""
    return d.split("/")[2]


def all_metrics():
    """Every metrics.json the report aggregates: torch checkpoints, classical models and the ONNX variants of the
    exported models."""
    files = []
    for d in model_dirs():
        files.append(f"{d}/metrics.json")
        if dir_model(d) in EXPORTED_MODELS:
            files.extend(f"{d}/onnx/{variant}/metrics.json" for variant in VARIANTS)
    return files


def all_predictions():
    """The predictions.npz beside every metrics.json of `all_metrics` (what the report's statistics read)."""
    return [str(Path(f).with_name("predictions.npz")) for f in all_metrics()]


def sensitivity_files():
    """Every per-layer sensitivity table the report draws: one per dataset and pruned model (none when
    sensitivity.ratios is empty)."""
    if not SENSITIVITY["ratios"]:
        return []
    return [f"results/{ds}/{model}/sensitivity.csv" for ds in PRUNED_DATASETS
            for model in models_where(PRUNED_MODELS, sensitivity=True)]


def every_output():
    """Every file of the DAG but the report's: the default target asks for them too, so that `snakemake` with no
    target regenerates an intermediate that is missing (e.g. deleted by a forced rerun that was killed) and
    reruns what follows it; `snakemake results/report.html` does not look at intermediates."""
    files = [f"resources/demo/{ds}/demo.json" for ds in DATASETS if "simulate" in config["datasets"][ds]]
    for ds in DATASETS:
        files += [f"results/{ds}/windows.h5", f"results/{ds}/summary.json", *split_files(ds)]
    for d in model_dirs():
        files += list(trained_files(dir_model(d), d).values())
        if dir_model(d) in EXPORTED_MODELS:
            files += [f"{d}/onnx/{variant}/{name}" for variant in VARIANTS for name in ("model.onnx", "predictions.npz")]
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


def split_rule_settings(ds):
    """What the split stage needs of `split_settings`: all but `folds` (the folds to train, not how to split)."""
    return {k: v for k, v in split_settings(ds).items() if k != "folds"}


def grid_settings(recovery):
    """Recovery-training settings of `prune` for one recovery, without the grid axes (wildcards, or which models
    and datasets are pruned); `distill` only for the distill recovery, so tuning it reruns no other job."""
    axes = ("models", "datasets", "methods", "ratios", "recoveries") + (() if recovery == "distill" else ("distill",))
    return {k: v for k, v in PRUNE.items() if k not in axes}


wildcard_constraints:
    ds="|".join(re.escape(ds) for ds in DATASETS),
    model=alternation(catalog.MODELS),
    size="tiny|base|large",
    scope=rf"{POOLED_SCOPE}|(?:{'|'.join(re.escape(ds) for ds in DATASETS)})-fold\d+",
    run=RUN_PATTERN,
    fold=r"\d+",
    method=alternation(PRUNE["methods"]),
    ratio=r"[0-9.]+",
    recovery=alternation(catalog.RECOVERIES),
    mdir=rf"baseline/{RUN_PATTERN}|prune/[^/]+/[^/]+/[^/]+/{RUN_PATTERN}",
    variant=alternation(VARIANTS),
