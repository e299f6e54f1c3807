"""Where presets live and how a name becomes a scenario file: one lookup for the CLI, the
runner and the dashboard.

A name that is a path (exists, or ends in .yaml/.yml) is taken as given. Otherwise it is a
preset: ``<folder>/<name>.yaml`` or ``<folder>/validation/<name>.yaml`` in the first of the
folders searched — the caller's own folders first (an experiment's folder and its sibling
``scenarios/``), then ``./scenarios`` of the working folder, then the ``scenarios/`` beside
the package (a checkout or an editable install).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

#: The ``scenarios/`` folder beside the package.
PACKAGED_SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def scenarios_dir() -> Path:
    """``./scenarios`` when run from a checkout, else the one beside the package."""
    local = Path.cwd() / "scenarios"
    return local if local.is_dir() else PACKAGED_SCENARIOS


def preset_names() -> list[str]:
    return sorted(p.stem for p in scenarios_dir().glob("*.yaml"))


def find_scenario(name: str, near: Iterable[Path] = ()) -> Path | None:
    """The scenario file ``name`` names (a path or a preset name), or None if none exists.

    ``near``: folders searched first, for a path relative to them and for presets in them."""
    p = Path(name)
    near = [Path(f) for f in near]
    for folder in near:
        if (folder / name).is_file():
            return (folder / name).resolve()
    if p.is_file():
        return p
    if p.suffix in {".yaml", ".yml"}:
        return None
    folders = [*near, Path.cwd() / "scenarios", PACKAGED_SCENARIOS]
    for folder in folders:
        for cand in (folder / f"{name}.yaml", folder / "validation" / f"{name}.yaml"):
            if cand.is_file():
                return cand.resolve()
    return None
