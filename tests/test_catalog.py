"""eegslim.catalog is the one list of names: the schema, the wildcard constraints and the registries agree with it."""

from __future__ import annotations

import re

import pytest
import yaml

from eegslim import catalog
from smk import REPO

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
RULES = {path.stem: path.read_text() for path in (REPO / "workflow/rules").glob("*.smk")}


def enum(*keys):
    node = SCHEMA["properties"]
    for key in keys[:-1]:
        node = node[key]["properties"]
    return node[keys[-1]]["items"]["enum"]


def test_schema_enums_are_the_catalogue():
    assert enum("models") == list(catalog.MODELS)
    assert enum("prune", "models") == list(catalog.MODELS)   # non-prunable ones are refused by name (common.smk)
    assert enum("prune", "methods") == list(catalog.METHODS)
    assert enum("prune", "recoveries") == list(catalog.RECOVERIES)
    assert enum("quantize", "variants") == list(catalog.VARIANTS)
    assert SCHEMA["$defs"]["split"]["properties"]["protocol"]["enum"] == list(catalog.PROTOCOLS)
    for model in catalog.MODELS:           # each model's settings block is a top-level key of its name or arch
        assert model in SCHEMA["properties"] or catalog.MODELS[model].arch in SCHEMA["properties"], model


def test_protocol_kinds_are_protocols():
    assert set(catalog.FOLDED_PROTOCOLS) <= set(catalog.PROTOCOLS)
    assert set(catalog.SUBJECT_WISE_PROTOCOLS) <= set(catalog.PROTOCOLS)
    assert {"official", "segment_kfold"}.isdisjoint(catalog.SUBJECT_WISE_PROTOCOLS)   # the two that may leak


def test_schema_adapters_are_the_registry():
    from eegslim.datasets import ADAPTERS

    adapters = SCHEMA["$defs"]["dataset"]["properties"]["adapter"]["enum"]
    assert sorted(adapters) == sorted(ADAPTERS)   # a new module in eegslim/datasets/ needs its name in the schema


def test_registries_are_the_catalogue():
    from eegslim.deploy.quantize import QUANTIZERS
    from eegslim.models import ALIASES, MODELS
    from eegslim.prune import PRUNING_METHODS, RECOVERY_MODES
    from eegslim.prune.units import FAMILIES
    from eegslim.stages.quantize import VARIANTS

    assert list(MODELS) == list(FAMILIES) == list(catalog.ARCHITECTURES) and ALIASES == catalog.ALIASES == {"labram_pt": "labram"}
    assert list(PRUNING_METHODS) == list(catalog.METHODS)
    assert tuple(VARIANTS) == catalog.VARIANTS and ("fp32", *QUANTIZERS) == catalog.VARIANTS
    assert RECOVERY_MODES == catalog.RECOVERIES


def test_every_model_spec_is_consistent_and_has_its_rule():
    for name, spec in catalog.MODELS.items():
        assert spec.rule in catalog.TRAINING_RULES and re.search(rf"^rule {spec.rule}:", "\n".join(RULES.values()),
                                                                 re.M), name
        assert (spec.arch is None) == (spec.rule == "classical"), name     # classical models have no torch module
        if not spec.pruned:
            assert not spec.sensitivity and not any(catalog.applies(m, name) for m in catalog.METHODS), name
        if spec.pruned or spec.exported:
            assert spec.arch in catalog.ARCHITECTURES, name
    assert catalog.models_where(pruned=False) == ["bandpower_lr"]
    assert catalog.models_where(["bandpower_lr", "eegnet"], exported=True) == ["eegnet"]
    with pytest.raises(ValueError, match="unknown model 'eegnet2'; known: eegnet, labram"):
        catalog.models_where(["eegnet2"], pruned=True)


def test_wildcard_constraints_come_from_the_catalogue():
    """No rule file spells a model, recovery or variant list in a constraint: each is an `alternation` of the
    catalogue (or of the configured variants and methods), and the regex matches exactly the names."""
    checked = 0
    for stem, text in RULES.items():
        for _, block in re.findall(r"^( *)wildcard_constraints:\n((?:\1    \S.*\n)+)", text, re.M):
            for line in block.splitlines():
                key, _, value = line.strip().partition("=")
                if key in ("model", "recovery", "variant", "method"):
                    assert value.startswith("alternation("), f"{stem}.smk: {line.strip()}"
                    checked += 1
    assert checked >= 9  # common.smk's model, method, recovery, variant; train, finetune, classical, prune, ...
    common = RULES["common"]
    assert "model=alternation(catalog.MODELS)," in common and "recovery=alternation(catalog.RECOVERIES)," in common
    pattern = re.compile(catalog.alternation(catalog.MODELS))
    assert all(pattern.fullmatch(m) for m in catalog.MODELS) and not pattern.fullmatch("eegnet2")
    assert not re.fullmatch(catalog.alternation([]), "")


def test_no_rule_or_script_hard_codes_the_model_list():
    """The lists that used to be repeated (models, recoveries) are catalogue lookups now."""
    for path in [*(REPO / "workflow/rules").glob("*.smk"), *(REPO / "scripts").glob("*.py")]:
        text = path.read_text()
        assert not re.search(r"eegnet\|labram|finetune\|scratch|\"eegnet\", \"labram\"", text), path.name


def test_applies_reads_architectures_and_workflow_names():
    assert catalog.applies("depth", "labram_pt") and not catalog.applies("depth", "eegnet")
    assert catalog.applies("bn_slimming", "eegnet") and not catalog.applies("l1_filter", "bandpower_lr")
    with pytest.raises(ValueError, match="unknown pruning method 'nope'"):
        catalog.applies("nope", "eegnet")
