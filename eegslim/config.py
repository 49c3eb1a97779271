"""Config checks with messages that name the offending key (the workflow calls these at start-up)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = []
    for part in error.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts).lstrip(".") or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    key = _key_path(error)
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - set(known))
        prefix = f"{key}." if key != "<top level>" else ""
        hint = f" (known keys: {', '.join(known)})" if known else ""
        return "; ".join(f"config key '{prefix}{name}': unknown key{hint}" for name in unexpected)
    if "propertyNames" in error.schema_path:
        return f"config key '{key}.{error.instance}': not a valid name ({error.message})"
    return f"config key '{key}': {error.message}"


def config_errors(config: dict[str, Any], schema_path: str | Path) -> list[str]:
    """Every schema violation of `config`, one message each, naming the key (e.g. 'prune.ratios[0]')."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    return [_describe(error) for error in errors]
