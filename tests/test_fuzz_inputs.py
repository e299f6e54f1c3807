"""Fuzz test (issue 15): mutated scenario and experiment documents never give a traceback or
run — every invalid one is refused with exit 2 and a short error naming the file and a field.

Each mutation is invalid by construction: a numeric leaf made negative, non-finite, boolean,
a string or a list; a required key removed; an unknown key added at any level; or the whole
file replaced by garbage (random bytes, random text, a truncated or non-mapping document).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run_cli, small_scenario_dict

Doc = dict[str, Any]
Path_ = tuple[Any, ...]


def _leaves(doc: Any, path: Path_ = ()) -> list[Path_]:
    if isinstance(doc, dict):
        return [p for k, v in doc.items() for p in _leaves(v, (*path, k))]
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in _leaves(v, (*path, i))]
    return [path]


def _mappings(doc: Any, path: Path_ = ()) -> list[Path_]:
    if isinstance(doc, dict):
        return [path] + [p for k, v in doc.items() for p in _mappings(v, (*path, k))]
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in _mappings(v, (*path, i))]
    return []


def _get(doc: Any, path: Path_) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _set(doc: Any, path: Path_, value: Any) -> None:
    _get(doc, path[:-1])[path[-1]] = value


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


BAD_NUMBERS = st.sampled_from([-1, -0.5, -1e9, math.inf, -math.inf, math.nan, True, False,
                               "abc", "", [1, 2], {"x": 1}, None, 1e300])


@st.composite
def mutated(
    draw: st.DrawFn, base: Doc, required: list[Path_], strings_ok: set[str],
    open_maps: set[Path_] = frozenset(),  # type: ignore[assignment]
) -> Doc:
    """``base`` with one invalid-by-construction change (``open_maps``: mappings where a new
    key is a legitimate addition, e.g. a new variant, so no unknown key goes there)."""
    doc = copy.deepcopy(base)
    kind = draw(st.sampled_from(["number", "string_leaf", "missing", "unknown"]))
    numbers = [p for p in _leaves(doc) if _is_number(_get(doc, p))]
    strings = [p for p in _leaves(doc) if isinstance(_get(doc, p), str)
               and str(p[-1]) not in strings_ok]
    if kind == "number" or (kind == "string_leaf" and not strings):
        path = draw(st.sampled_from(numbers))
        _set(doc, path, draw(BAD_NUMBERS))
    elif kind == "string_leaf":
        path = draw(st.sampled_from(strings))
        _set(doc, path, draw(st.sampled_from([12, -3.5, True, ["x"], {"zz": 1}, "no_such_kind"])))
    elif kind == "missing":
        path = draw(st.sampled_from(required))
        del _get(doc, path[:-1])[path[-1]]
    else:
        where = draw(st.sampled_from([m for m in _mappings(doc) if m not in open_maps]))
        key = draw(st.sampled_from(["zz_unknown", "Name", "typo_key", "population "]))
        _get(doc, where)[key] = draw(st.sampled_from([1, "x", True, None]))
    return doc


GARBAGE = st.one_of(
    st.binary(min_size=1, max_size=200),
    st.text(min_size=1, max_size=200),
    st.sampled_from(["- a\n- b\n", "42\n", "'str'\n", "a: [1, 2\n", "{a: 1\n", "\t- x: y\n",
                     "a: &x [*x]\n", "null\n", "a: b: c\n", "%YAML 9.9\n---\na: 1\n"]),
)


def _check(path: Path, code: int, err: str, field_expected: bool) -> None:
    assert code == 2, f"accepted invalid input:\n{path.read_bytes()[:400]!r}"
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 3, err
    assert f"error in {path}" in lines[0], err
    if field_expected:
        assert ": " in lines[0].removeprefix(f"error in {path}: "), err


SCENARIO = small_scenario_dict()
SCENARIO_REQUIRED: list[Path_] = [
    ("name",), ("population",), ("population", "size"), ("population", "segments"),
    ("population", "segments", "credit_card", "share"), ("graph", "kind"),
]
EXPERIMENT: Doc = {
    "scenario": "small.yaml",
    "replicates": 2,
    "seed": 3,
    "variants": {"a": {}, "b": {"channels.ads.daily_reach": 0.05}},
    "sweep": {"sampler": "lhs", "samples": 4, "seed": 1,
              "parameters": {"channels.ads.budget": {"low": 0, "high": 1000}}},
}
EXPERIMENT_REQUIRED: list[Path_] = [("sweep", "parameters"), ("sweep", "samples"),
                                    ("sweep", "parameters", "channels.ads.budget", "high")]
FAST = settings(max_examples=70, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FAST
@given(doc=mutated(SCENARIO, SCENARIO_REQUIRED, {"name", "description"}))
def test_fuzzed_scenarios_are_refused_cleanly(tmp_path_factory, doc: Doc) -> None:
    path = tmp_path_factory.mktemp("fz") / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    code, _, err = run_cli("validate", str(path))
    _check(path, code, err, field_expected=True)


@FAST
@given(doc=mutated(EXPERIMENT, EXPERIMENT_REQUIRED, set(), {("variants",)}))
def test_fuzzed_experiments_are_refused_cleanly(tmp_path_factory, doc: Doc) -> None:
    folder = tmp_path_factory.mktemp("fe")
    (folder / "small.yaml").write_text(yaml.safe_dump(SCENARIO))
    path = folder / "exp.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    code, _, err = run_cli("validate", str(path))
    _check(path, code, err, field_expected=True)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=GARBAGE, command=st.sampled_from(["validate", "run", "sweep"]))
def test_garbage_files_are_refused_cleanly(tmp_path_factory, data: bytes | str,
                                           command: str) -> None:
    path = tmp_path_factory.mktemp("fg") / "garbage.yaml"
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    code, _, err = run_cli(command, str(path), *(["-q"] if command != "validate" else []))
    _check(path, code, err, field_expected=False)


# ---------------------------------------------------------------------------- this round's fields
# The fields added in the 2026-12-01 round (referral ladder, content format, group operators,
# retention ops, lifetime valuation), each with a typo, a wrong type and an out-of-range value on
# a copy of the preset that uses it: the error names the file, the field path and what is
# allowed (review helper; found by hand at COLUMNS=80, kept here so they stay clear).
_PRESETS = Path(__file__).resolve().parents[1] / "scenarios"
_OPS = ("lifecycle_operations", "operations", "payday_retention")
NEW_FIELD_CASES: list[tuple[str, Path_, Any, str, str]] = [
    ("cmb_credit_card", ("referral", "ladder_weight"), 5, "referral.ladder_weight", "[0, 1]"),
    ("cmb_credit_card", ("referral", "ladder_wieght"), 0.5, "referral.ladder_wieght",
     "ladder_weight"),
    ("social_security_elderly", ("channels", "channels_video", "format"), "vidoe",
     "channels.channels_video.format", "'video', 'live'"),
    ("social_security_elderly", ("population", "segments", "elderly_tier1", "format_preference"),
     {"vidoe": 1.0}, "format_preference.vidoe", "'video'"),
    ("cmb_credit_card", ("groups", "operators", "headcount"), -1, "groups.operators.headcount",
     "greater than 0, got -1"),
    ("cmb_credit_card", ("groups", "operators"), 5, "groups.operators",
     "mapping (key: value lines), got 5"),
    ("payroll", (*_OPS, "effect"), "retian", "payday_retention.effect", "'retain'"),
    ("payroll", (*_OPS, "keeps_outflow"), "half", "payday_retention.keeps_outflow",
     "valid number"),
    ("payroll", (*_OPS, "after_payday"), 1.5, "payday_retention.after_payday",
     "whole number, got 1.5"),
    ("payroll", (*_OPS, "audience"), "screened_employer", "payday_retention.audience",
     "'everyone' or 'screened_employers'"),
    ("payroll", ("money", "lifetime"), {"discount_rate": 1.5}, "money.lifetime.discount_rate",
     "less than or equal to 1, got 1.5"),
    ("payroll", ("money", "lifetime"), {"window_dayz": 30}, "money.lifetime.window_dayz",
     "valid: discount_rate, window_days"),
]
_PRESET_DOCS: dict[str, Doc] = {}


def test_this_rounds_fields_are_refused_cleanly(tmp_path: Path) -> None:
    for i, (preset, where, value, path_text, allowed) in enumerate(NEW_FIELD_CASES):
        if preset not in _PRESET_DOCS:
            _PRESET_DOCS[preset] = yaml.safe_load((_PRESETS / f"{preset}.yaml").read_text())
        doc = copy.deepcopy(_PRESET_DOCS[preset])
        _set(doc, where, value)
        path = tmp_path / f"case{i}.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True))
        code, _, err = run_cli("validate", str(path))
        _check(path, code, err, field_expected=True)
        first = err.splitlines()[0]
        assert path_text in first and allowed in first, (where, value, err)
