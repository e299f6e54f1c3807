"""``--set a.b.c=value`` overrides, applied to the raw YAML data before validation.

Values are parsed as YAML scalars (``0.3`` → float, ``true`` → bool, ``[1, 2]`` → list), so an
override is validated exactly like the same value written in the file.
"""

from __future__ import annotations

import copy
import difflib
import io
import types
import typing
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


def _list_index(node: list[Any], part: str, parts: list[str], i: int, source: str) -> int:
    """``part`` as a position in the list ``node`` (``referral.tiers.1.reward``), or a clear error.

    Lists are addressed by existing positions only: an override never appends an item, for the
    same reason a typo never adds a channel.
    """
    where = ".".join(parts[:i]) or "<root>"
    if not (part.isdigit() and int(part) < len(node)):
        allowed = f"0 to {len(node) - 1}" if node else "none: the list is empty"
        raise ScenarioError.single(
            source, f"--set {'.'.join(parts)}",
            f"'{part}' is not a position in the list {where} (allowed: {allowed})",
        )
    return int(part)


def set_path(data: dict[str, Any], parts: list[str], value: Any, source: str) -> None:
    """Set ``parts`` (a field path; list items by position) in ``data``, creating mappings."""
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = node[_list_index(node, part, parts, i, source)]
            continue
        if not isinstance(node, dict):
            where = ".".join(parts[:i])
            raise ScenarioError.single(
                source, f"--set {'.'.join(parts)}", f"'{where}' is not a mapping"
            )
        if part not in node or node[part] is None:
            node[part] = {}
        node = node[part]
    if isinstance(node, list):
        node[_list_index(node, parts[-1], parts, len(parts) - 1, source)] = value
        return
    if not isinstance(node, dict):
        raise ScenarioError.single(
            source, f"--set {'.'.join(parts)}", f"'{'.'.join(parts[:-1])}' is not a mapping"
        )
    node[parts[-1]] = value


def apply_overrides(data: dict[str, Any], overrides: list[str], source: str) -> dict[str, Any]:
    """A copy of ``data`` with every override applied (later ones win).

    An override that would add a new entry to a map of sections (a channel, a segment, a perk)
    is refused unless it says so explicitly — see :func:`new_entry_problem` — so a typo such as
    ``channels.wecom_1_to_1.daily_reach`` never silently adds a channel with default costs.
    """
    from simulation.scenario.schema import scenario_model

    out = copy.deepcopy(data)
    parsed = [split_override(item, source) for item in overrides]
    paths = [".".join(parts) for parts, _ in parsed]
    for (parts, value), item in zip(parsed, overrides, strict=True):
        problem = new_entry_problem(scenario_model(), out, parts, value, paths)
        if problem:
            raise ScenarioError.single(source, f"--set {item.partition('=')[0].strip()}", problem)
        set_path(out, parts, value, source)
    return out


def _unwrap(annotation: Any) -> list[Any]:
    """The alternatives of an annotation: Annotated and Optional/Union peeled off."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [a for arg in typing.get_args(annotation) for a in _unwrap(arg)]
    return [annotation]


def _is_model(annotation: Any) -> bool:
    from pydantic import BaseModel

    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def new_entry_problem(
    root: type, data: Any, parts: list[str], value: Any, all_paths: list[str]
) -> str | None:
    """Why setting ``parts`` would add a map entry by accident, or None.

    Walks the schema (``root``, a model class) beside the data. Where a part names a *new* key
    of a mapping whose values are sections (``channels``, ``population.segments``,
    ``perks.catalogue`` …), the override must add it explicitly: by giving the entry's ``kind``
    (``channels.new.kind=…``, in this or another override of the same command or variant) for
    sections that have one, or the whole entry as a mapping (``channels.new={kind: …, …}``).
    The error names the existing keys and the closest match.
    """
    node: Any = data
    options: list[Any] = [root]
    for i, part in enumerate(parts):
        if isinstance(node, list) and part.isdigit():
            # a list item by position (set_path checks the position): walk into the item type
            lists = [a for a in options if typing.get_origin(a) is list]
            options = [t for a in lists for t in _unwrap(typing.get_args(a)[0])]
            node = node[int(part)] if int(part) < len(node) else None
            continue
        models = [a for a in options if _is_model(a) and part in a.model_fields]
        if models:
            options = _unwrap(models[0].model_fields[part].annotation)
            node = node.get(part) if isinstance(node, dict) else None
            continue
        maps = [a for a in options if typing.get_origin(a) is dict]
        if not maps:
            return None  # a model field pydantic will name (unknown key), or a leaf
        entry = [a for arg in maps for a in _unwrap(typing.get_args(arg)[-1])]
        sections = [a for a in entry if _is_model(a)]
        existing = list(node) if isinstance(node, dict) else []
        if sections and part not in existing:
            where = ".".join(parts[:i])
            prefix = ".".join(parts[: i + 1])
            has_kind = "kind" in sections[0].model_fields
            rest = parts[i + 1 :]
            explicit = (
                (not rest and isinstance(value, dict) and (not has_kind or "kind" in value))
                or (has_kind and f"{prefix}.kind" in all_paths)
            )
            if explicit:
                return None
            close = difflib.get_close_matches(part, existing, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            add = (
                f"to add a new one, also set its kind ({prefix}.kind=custom)"
                if has_kind
                else f"to add a new one, give it whole ({prefix}={{...}})"
            )
            return (
                f"'{part}' is not in {where} (existing: {', '.join(existing) or 'none'}){hint} "
                f"— {add}"
            )
        options = entry
        node = node.get(part) if isinstance(node, dict) else None
    return None
