"""The catalogue: the one list of model, pruning-method, quantization-variant, recovery and split-protocol names.

Torch-free on purpose: the workflow (`workflow/rules/common.smk`) reads it to build wildcard constraints and expand
the grid without importing torch. Everything else takes its names from here, or a test holds it to them
(tests/test_catalog.py): the schema's enums, Snakemake's wildcard constraints, `eegslim.models.MODELS`,
`eegslim.prune.PRUNING_METHODS`, `eegslim.deploy.quantize.QUANTIZERS` and `eegslim.prune.RECOVERY_MODES`.
Adding a model or a method starts with one entry here.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class ModelSpec(NamedTuple):
    """A model name of the workflow (`models:` in config.yaml, `{model}` in results paths)."""

    arch: str | None     # the architecture in eegslim.models (arch.json's `name`); None for a classical model
    rule: str            # the Snakemake rule that trains it: train | finetune | classical
    pruned: bool         # gets a pruning grid (rule prune) and may be listed in `prune.models`
    exported: bool       # exported to ONNX and quantized (rule quantize)
    sensitivity: bool    # probed layer by layer (rule sensitivity) when it is pruned
    label: str           # a short human name


MODELS: dict[str, ModelSpec] = {
    "eegnet": ModelSpec("eegnet", "train", True, True, True, "EEGNet"),
    "labram": ModelSpec("labram", "finetune", True, True, True, "transformer (LaBraM-style)"),
    "labram_pt": ModelSpec("labram", "finetune", True, True, True, "transformer, pretrained + fine-tuned"),
    "bandpower_lr": ModelSpec(None, "classical", False, False, False,
                              "log relative band power + logistic regression"),
}
TRAINING_RULES = ("train", "finetune", "classical")
# The classical reference every deep model is compared with (paired) in the report, and drawn in its figures.
REFERENCE_MODEL = "bandpower_lr"
# The deep-model architectures (eegslim.models.MODELS holds one class per name).
ARCHITECTURES = tuple(dict.fromkeys(spec.arch for spec in MODELS.values() if spec.arch))
# Workflow model names that are another architecture: `labram_pt` is the transformer fine-tuned from pretraining.
ALIASES = {name: spec.arch for name, spec in MODELS.items() if spec.arch and spec.arch != name}


class MethodSpec(NamedTuple):
    """A pruning method. kind: unstructured (zeroed weights, masks kept while retraining), structured (a smaller
    model rebuilt from arch.json), soft (SFP: zeroed during training, removed at the end), architectural (whole
    transformer blocks or MLPs removed). archs: the architectures it applies to."""

    kind: str
    archs: tuple[str, ...]


METHODS: dict[str, MethodSpec] = {
    "magnitude_global": MethodSpec("unstructured", ARCHITECTURES),   # UWMP: one |w| threshold over all layers
    "magnitude_layerwise": MethodSpec("unstructured", ARCHITECTURES),  # the same share of every layer by |w|
    "random": MethodSpec("unstructured", ARCHITECTURES),             # random weights (the study's random removal)
    "l1_filter": MethodSpec("structured", ARCHITECTURES),            # LFP: smallest L1 norm, same share per layer
    "l1_structured": MethodSpec("structured", ARCHITECTURES),        # older name of l1_filter (kept for old configs)
    "bn_slimming": MethodSpec("structured", ("eegnet",)),            # NSFP: global threshold on BatchNorm |gamma|
    "taylor": MethodSpec("structured", ARCHITECTURES),               # first-order Taylor importance on training batches
    "random_structured": MethodSpec("structured", ARCHITECTURES),    # random units, same share per layer
    "soft_filter": MethodSpec("soft", ARCHITECTURES),                # SFP: zero smallest-L2 units after every epoch
    "depth": MethodSpec("architectural", ("labram",)),               # remove whole encoder blocks
    "mlp_removal": MethodSpec("architectural", ("labram",)),         # drop the MLP branch of whole blocks
}

# ONNX variants of rule quantize: fp32 is the export, the others are made from it (eegslim.deploy.quantize).
VARIANTS = ("fp32", "int8_dynamic", "int8_static", "fp16")
# The `variant` of a metrics.json that is not an ONNX file: a torch checkpoint, a scikit-learn model.
RECORD_VARIANTS = ("torch", "sklearn")
# How a pruned model is retrained: inherited weights, re-initialised with the same structure or mask, inherited
# weights taught by the unpruned model's outputs as well as the labels (knowledge distillation), not at all.
RECOVERIES = ("finetune", "scratch", "distill", "none")
# How windows are split (`split.protocol`, eegslim.splits): the folded ones write one split file per fold and
# train one run per fold (`fold{k}-seed{s}`).
PROTOCOLS = ("subject", "kfold", "official", "subjects", "segment_kfold")
FOLDED_PROTOCOLS = ("kfold", "segment_kfold")
# The protocols whose parts never share a subject (checked on every split file; the report measures the leaky
# ones, official and segment_kfold, against them).
SUBJECT_WISE_PROTOCOLS = ("subject", "kfold", "subjects")


def model_spec(model: str) -> ModelSpec:
    """The catalogue entry of `model`; unknown names raise, naming the known ones."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    return MODELS[model]


def models_where(models=None, **flags) -> list[str]:
    """The models (of `models`, default the catalogue, in that order) whose spec matches every `flags` value,
    e.g. models_where(cfg_models, pruned=True) or models_where(rule="finetune")."""
    names = list(MODELS) if models is None else list(models)
    return [m for m in names if all(getattr(model_spec(m), key) == value for key, value in flags.items())]


def applies(method: str, model: str) -> bool:
    """Whether `method` can prune `model` (an architecture or a workflow model name); unknown methods raise,
    naming the known ones. No method applies to a model that is not pruned (a classical model)."""
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; known: {', '.join(METHODS)}")
    arch = MODELS[model].arch if model in MODELS else model
    return arch in METHODS[method].archs


def skipped_cells(methods: list[str], models: list[str]) -> list[tuple[str, str]]:
    """(method, model) pairs of the grid that do not apply and are left out of the DAG."""
    return [(method, model) for method in methods for model in models if not applies(method, model)]


def alternation(names) -> str:
    """A regular expression matching exactly one of `names` (a Snakemake wildcard constraint); none: never matches."""
    return "|".join(re.escape(n) for n in names) or "(?!)"
