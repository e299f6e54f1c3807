"""YAML → validated model, turning every kind of bad input into one :class:`ScenarioError`.

The YAML is read with ruamel's round-trip loader, which builds only plain mappings, lists and
scalars (no arbitrary objects, so it is as safe as ``safe_load``) and remembers the line of
every key, so an error can say where in the file to look.

Before anything is built, the input is bounded: only a regular file is read (a named pipe,
``/dev/zero`` or a symlink loop is refused, never waited on), at most :data:`MAX_BYTES`, and
its event stream is counted with every alias *expanded* — a "billion laughs" document of nested
aliases is refused at :data:`MAX_NODES` nodes instead of hanging whatever walks it later.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from simulation.data.hooks import absolutize_sources
from simulation.errors import Problem, ScenarioError
from simulation.scenario.overrides import apply_overrides
from simulation.scenario.schema import CrossReferenceError, ScenarioCore, scenario_model

M = TypeVar("M", bound=BaseModel)

#: Largest scenario or experiment file read (the biggest preset is 12 kB).
MAX_BYTES = 1_000_000
#: Most YAML nodes (keys, values, list items) a document may hold, aliases expanded (the
#: biggest preset has ~820).
MAX_NODES = 50_000
#: Deepest nesting of mappings and lists (the presets nest 6 levels).
MAX_DEPTH = 64


def read_yaml(path: Path | str) -> tuple[Any, str]:
    """Parse a YAML file; returns (data with line info, source name). Raises ScenarioError."""
    path = Path(path)
    source = str(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ScenarioError.single(source, "", "file not found") from None
    except OSError as exc:
        why = "a symlink loop" if exc.errno == errno.ELOOP else (exc.strerror or str(exc))
        raise ScenarioError.single(source, "", f"cannot be read: {why}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ScenarioError.single(source, "", "is a directory, expected a YAML file")
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a named pipe" if stat.S_ISFIFO(st.st_mode)
            else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file"
        )
        raise ScenarioError.single(source, "", f"is {kind}, expected a regular YAML file")
    if st.st_size > MAX_BYTES:
        raise ScenarioError.single(
            source, "", f"file is {st.st_size:,} bytes; a scenario or experiment file may have "
            f"at most {MAX_BYTES:,}"
        )
    try:
        # O_NONBLOCK: should the file turn into a pipe between stat and open, never wait on it
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ScenarioError.single(source, "", f"cannot be read: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise ScenarioError.single(source, "", f"file is over {MAX_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError.single(source, "", "not a text file (expected UTF-8 YAML)") from None
    if "\x00" in text:
        raise ScenarioError.single(source, "", "not a text file (contains NUL bytes)")
    return parse_yaml(text, source), source


def check_size(text: str, source: str) -> None:
    """Refuse a document of more than MAX_NODES nodes (aliases expanded) or MAX_DEPTH levels.

    Works on the YAML event stream, before any object is built: each anchored node's expanded
    size is remembered, and an alias adds that size, so nested aliases are counted as what they
    expand to (9 levels of 9 aliases = 9⁹ nodes) while the parser reads only a few lines. The
    events come from libyaml (PyYAML's C parser, ~30× faster than ruamel's pure-Python one);
    a document libyaml cannot parse is counted with ruamel's parser instead.
    """
    import yaml as pyyaml

    try:
        events = list(_bounded(pyyaml.parse(text, Loader=pyyaml.CSafeLoader), source))
    except pyyaml.YAMLError:
        events = None
    if events is None:
        for _ in _bounded(YAML(typ="rt", pure=True).parse(io.StringIO(text)), source):
            pass


def _bounded(events: Any, source: str) -> Any:
    """Pass ``events`` through, raising ScenarioError past MAX_NODES (expanded) or MAX_DEPTH."""
    sizes: dict[str, int] = {}
    stack: list[list[Any]] = [[None, 0]]  # [anchor, expanded size] per open collection
    total = 0
    for event in events:
        yield None
        kind = type(event).__name__
        if kind in ("ScalarEvent", "AliasEvent"):
            n = 1 if kind == "ScalarEvent" else sizes.get(event.anchor, 1)
            if kind == "ScalarEvent" and event.anchor:
                sizes[event.anchor] = 1
            stack[-1][1] += n
            total += n
        elif kind in ("MappingStartEvent", "SequenceStartEvent"):
            stack.append([event.anchor, 1])
            total += 1
            if len(stack) > MAX_DEPTH:
                raise ScenarioError.single(
                    source, "", f"nested more than {MAX_DEPTH} levels deep", event.start_mark.line
                    + 1
                )
        elif kind in ("MappingEndEvent", "SequenceEndEvent"):
            anchor, n = stack.pop()
            if anchor:
                sizes[anchor] = n
            stack[-1][1] += n
        if total > MAX_NODES:
            line = event.start_mark.line + 1 if event.start_mark else None
            raise ScenarioError.single(
                source, "", f"more than {MAX_NODES:,} YAML nodes (aliases expanded); a "
                "scenario or experiment needs a few hundred — is this an alias bomb?", line
            )


def parse_yaml(text: str, source: str) -> Any:
    yaml = YAML(typ="rt", pure=True)
    try:
        check_size(text, source)
        data = yaml.load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = (exc.problem or exc.context or "syntax error").strip()
        raise ScenarioError.single(source, "", f"not valid YAML: {what}", line) from None
    except YAMLError as exc:
        raise ScenarioError.single(source, "", f"not valid YAML: {exc}") from None
    except RecursionError:
        raise ScenarioError.single(source, "", f"nested too deeply (over {MAX_DEPTH} levels)") \
            from None
    if data is None:
        raise ScenarioError.single(source, "", "file is empty; expected a YAML mapping")
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ScenarioError.single(
            source, "", f"expected a YAML mapping of keys to values at the top, got a {kind}"
        )
    return data


def line_of(data: Any, loc: tuple[str | int, ...]) -> int | None:
    """The 1-based YAML line of the deepest part of ``loc`` that exists in ``data``."""
    line: int | None = None
    node = data
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            with contextlib.suppress(KeyError, TypeError, AttributeError):
                line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            with contextlib.suppress(KeyError, TypeError, AttributeError):
                line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def _clean_loc(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Drop pydantic's union-branch tags (e.g. 'watts_strogatz', 'float') from a location."""
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and ("[" in part or part in _UNION_TAGS):
            continue
        out.append(part)
    return tuple(out)


_UNION_TAGS = {
    "float",
    "int",
    "str",
    "dict[str,float]",
    "complete",
    "watts_strogatz",
    "barabasi_albert",
    "sbm",
    "file",
    "function-after",
}


def _given(value: Any) -> str:
    """What the YAML held, in YAML words (not ruamel's CommentedSeq/CommentedMap)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "an empty value"
    return repr(value)


def _message(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if kind == "missing":
        return "required field is missing"
    if kind in {"float_parsing", "float_type", "int_parsing", "int_type", "bool_parsing"}:
        return f"{msg[0].lower()}{msg[1:]}, got {err.get('input')!r}"
    if kind == "model_type":
        # pydantic names the class ("instance of GroupOperators"): a YAML user wrote a section
        return f"input should be a mapping (key: value lines), got {_given(err.get('input'))}"
    if kind in {"dict_type", "list_type", "string_type"}:
        return f"{msg[0].lower()}{msg[1:]}, got {_given(err.get('input'))}"
    if kind == "int_from_float":
        return f"input should be a whole number, got {err.get('input')!r}"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal",
                "multiple_of"}:
        # bounds from Field(gt=…, le=…): say the value that broke them, as the custom checks do
        return f"{msg[0].lower()}{msg[1:]}, got {err.get('input')!r}"
    if kind == "literal_error":
        return f"{msg[0].lower()}{msg[1:]}, got {err.get('input')!r}"
    if kind == "union_tag_invalid":
        return msg
    return msg


def _problems_from_validation(exc: ValidationError, data: Any, prefix: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    errors = exc.errors(include_url=False)
    # A per-segment field accepts a number or a mapping; when both branches fail, report the
    # number branch's complaint once instead of two confusing ones.
    failing_paths = [_clean_loc(tuple(e.get("loc", ()))) for e in errors]
    for err in errors:
        loc = _clean_loc(tuple(err.get("loc", ())))
        if err.get("type") == "dict_type" and failing_paths.count(loc) > 1:
            continue  # the number branch of a "number or per-segment mapping" union said it
        if err.get("type") in ("unknown_key", "strict_number"):
            key = err.get("ctx", {}).get("key")
            if key is not None:
                loc = (*loc, *str(key).split("."))
        path = ".".join(str(p) for p in loc)
        msg = _message(err)
        if (path, msg) in seen:
            continue
        seen.add((path, msg))
        full = f"{prefix}{path}" if prefix else path
        problems.append(Problem(full, msg, line_of(data, loc)))
    return problems


def validate_model(model: type[M], data: Any, source: str, prefix: str = "") -> M:
    """Validate ``data`` against ``model``; any failure becomes one ScenarioError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, _problems_from_validation(exc, data, prefix)) from None
    except CrossReferenceError as exc:
        problems = [
            Problem(".".join(str(p) for p in loc), msg, line_of(data, loc))
            for loc, msg in exc.problems
        ]
        raise ScenarioError(source, problems) from None


def load_scenario(path: Path | str, overrides: list[str] | None = None) -> ScenarioCore:
    """Read, override (``a.b.c=value``) and validate a scenario file."""
    data, source = read_yaml(path)
    original = data
    if overrides:
        data = apply_overrides(data, overrides, source)
    data = absolutize_sources(data, Path(path).resolve().parent)
    try:
        return validate_model(scenario_model(), data, source)
    except ScenarioError as exc:
        if not overrides:
            raise
        raise ScenarioError(
            exc.source, [_blame_override(p, original, overrides) for p in exc.problems]
        ) from None


def _in_file(data: Any, parts: list[str]) -> bool:
    """Whether the field path ``parts`` exists in the file as written (before any --set)."""
    node = data
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _blame_override(problem: Problem, original: Any, overrides: list[str]) -> Problem:
    """A problem about a value ``--set`` gave (or a section it created) says so, without a line.

    Why: the line of a field the file does not have is its nearest parent's (``money:`` for
    ``--set money.lifetime.window_days=0`` on a scenario without a lifetime section), and the
    line of a field the override replaced holds the file's value, not the one that failed —
    either way the line pointed at something that is not the mistake."""
    path = problem.path
    for item in reversed(overrides):  # the last override of a path is the one that holds
        target = item.partition("=")[0].strip()
        if path == target:
            return Problem(f"{path} (from --set)", problem.message)
        if path.startswith(target + "."):
            return Problem(f"{path} (from --set {item.strip()})", problem.message)
        if target.startswith(path + ".") and not _in_file(original, path.split(".")):
            return Problem(f"{path} (from --set {item.strip()}, not in the file)",
                           problem.message)
    return problem


def scenario_from_dict(data: dict[str, Any], source: str = "<scenario>") -> ScenarioCore:
    return validate_model(scenario_model(), data, source)
