"""Regenerate tests/baselines.yaml (every preset's KPIs at a small size and fixed seed).

Prints what changed against the stored baselines, then writes the new ones. Run it only when a
KPI is meant to move, and say why in the commit message.

Usage: .venv/bin/python scripts/update_baselines.py [--check] [PRESET ...]
``--check`` prints the diff and exits 1 if anything moved, without writing. Naming presets
(e.g. ``quickstart validation/bass``) recomputes only those and keeps the others as stored.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import golden  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", help="only these presets (default: all)")
    parser.add_argument("--check", action="store_true", help="print the diff, write nothing")
    args = parser.parse_args(argv)
    old = golden.read_baselines()
    paths = {golden.preset_key(p): p for p in golden.preset_paths()}
    unknown = [name for name in args.presets if name not in paths]
    if unknown:
        print(f"unknown preset(s): {', '.join(unknown)}; known: {', '.join(paths)}")
        return 2
    wanted = args.presets or list(paths)
    new = {k: v for k, v in old.items() if k in paths}
    for name in wanted:
        new[name] = golden.compute_one(paths[name])
    new = {k: new[k] for k in paths if k in new}
    changes = golden.diff(old, new)
    for line in changes:
        print(line)
    print(f"{len(changes)} change(s) in {len(wanted)} preset(s)")
    if args.check:
        return 1 if changes else 0
    golden.write_baselines(new)
    print(f"wrote {golden.BASELINES.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
