"""``--set a.b.c=value`` overrides, applied to the raw YAML data before validation.

Values are parsed as YAML scalars (``0.3`` → float, ``true`` → bool, ``[1, 2]`` → list), so an
override is validated exactly like the same value written in the file.
"""

from __future__ import annotations

import copy
import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from simulation.errors import ScenarioError


def parse_value(text: str) -> Any:
    yaml = YAML(typ="safe", pure=True)
    try:
        return yaml.load(io.StringIO(text))
    except YAMLError:
        return text


def split_override(item: str, source: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ScenarioError.single(
            source, "--set", f"'{item}' is not of the form path.to.field=value"
        )
    path, _, raw = item.partition("=")
    parts = [p for p in path.strip().split(".")]
    if not path.strip() or any(not p for p in parts):
        raise ScenarioError.single(source, "--set", f"'{item}' has an empty field path")
    return parts, parse_value(raw)


def set_path(data: dict[str, Any], parts: list[str], value: Any, source: str) -> None:
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict):
            where = ".".join(parts[:i])
            raise ScenarioError.single(
                source, f"--set {'.'.join(parts)}", f"'{where}' is not a mapping"
            )
        if part not in node or node[part] is None:
            node[part] = {}
        node = node[part]
    if not isinstance(node, dict):
        raise ScenarioError.single(
            source, f"--set {'.'.join(parts)}", f"'{'.'.join(parts[:-1])}' is not a mapping"
        )
    node[parts[-1]] = value


def apply_overrides(data: dict[str, Any], overrides: list[str], source: str) -> dict[str, Any]:
    """A copy of ``data`` with every override applied (later ones win)."""
    out = copy.deepcopy(data)
    for item in overrides:
        parts, value = split_override(item, source)
        set_path(out, parts, value, source)
    return out
