"""The pruning-method catalogue: each method's kind and the model families it applies to.

Torch-free on purpose: the workflow reads it to expand the grid (`workflow/rules/common.smk`) without importing
torch. `eegslim.prune.PRUNING_METHODS` holds one function per name listed here (a test checks both agree).
"""

from __future__ import annotations

ALL_MODELS = ("eegnet", "labram")
# Workflow model names that are another architecture: `labram_pt` is the transformer fine-tuned from
# pretraining (eegslim.models.arch_name reads this too).
ALIASES = {"labram_pt": "labram"}

# name: (kind, model families). kind: unstructured (zeroed weights, masks kept while retraining),
# structured (a smaller model rebuilt from arch.json), soft (SFP: zeroed during training, removed at the end),
# architectural (whole transformer blocks or MLPs removed).
METHODS: dict[str, tuple[str, tuple[str, ...]]] = {
    "magnitude_global": ("unstructured", ALL_MODELS),       # UWMP: one |w| threshold over all layers
    "magnitude_layerwise": ("unstructured", ALL_MODELS),    # the same share of every layer by |w|
    "random": ("unstructured", ALL_MODELS),                 # random weights (the study's random removal)
    "l1_filter": ("structured", ALL_MODELS),                # LFP: smallest L1 norm, same share per layer
    "l1_structured": ("structured", ALL_MODELS),            # older name of l1_filter (kept for old configs)
    "bn_slimming": ("structured", ("eegnet",)),             # NSFP: global threshold on BatchNorm |gamma|
    "taylor": ("structured", ALL_MODELS),                   # first-order Taylor importance on training batches
    "random_structured": ("structured", ALL_MODELS),        # random units, same share per layer
    "soft_filter": ("soft", ALL_MODELS),                    # SFP: zero smallest-L2 units after every epoch
    "depth": ("architectural", ("labram",)),                # remove whole encoder blocks
    "mlp_removal": ("architectural", ("labram",)),          # drop the MLP branch of whole blocks
}


def applies(method: str, model: str) -> bool:
    """Whether `method` can prune `model` (unknown methods raise, naming the known ones)."""
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; known: {', '.join(METHODS)}")
    return ALIASES.get(model, model) in METHODS[method][1]


def skipped_cells(methods: list[str], models: list[str]) -> list[tuple[str, str]]:
    """(method, model) pairs of the grid that do not apply and are left out of the DAG."""
    return [(method, model) for method in methods for model in models if not applies(method, model)]
