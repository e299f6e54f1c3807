"""Regenerate the headline-KPI table of docs/presets.md by running every preset.

Each preset in ``scenarios/*.yaml`` is run at its default size and horizon through the real
``opmatrix run`` command (seed 0, no plots); its summary.json gives conversion, retention at
90 days, CPA and LTV, and the wall time of the command (start-up included) is measured. The
table replaces the block between the ``kpis:start`` / ``kpis:end`` markers in docs/presets.md.

Usage: .venv/bin/python scripts/preset_kpis.py [--seed N] [--check]
(``--check`` prints the table without writing the file.)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "presets.md"
START = "<!-- kpis:start -->"
END = "<!-- kpis:end -->"


def run_preset(name: str, seed: int, out: Path) -> tuple[dict, float]:
    """Run one preset via the CLI; return its summary.json and the wall time in seconds."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "simulation", "run", name, "--seed", str(seed),
         "--no-plots", "--quiet", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr}")
    return json.loads((out / "summary.json").read_text()), elapsed


def pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def yuan(v: float | None) -> str:
    return "–" if v is None else f"¥{v:,.0f}"


def table(seed: int) -> str:
    rows = [
        "| preset | customers | days | conversion | retention 90 d | CPA | LTV | run time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted((REPO / "scenarios").glob("*.yaml")):
            summary, secs = run_preset(path.stem, seed, Path(tmp) / path.stem)
            k = summary["kpis"]
            rows.append(
                f"| `{path.stem}` | {k['customers']:,} | {summary['days']} "
                f"| {pct(k['conversion_rate'])} | {pct(k['retention_90d'])} "
                f"| {yuan(k['cost_per_acquisition'])} | {yuan(k['ltv'])} | {secs:.1f} s |"
            )
            print(rows[-1], flush=True)
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="print only, do not write")
    args = parser.parse_args()
    body = table(args.seed)
    if args.check:
        return
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    note = f"\n_seed {args.seed}; regenerate with `.venv/bin/python scripts/preset_kpis.py`_\n\n"
    DOC.write_text(f"{head}{START}{note}{body}\n{END}{tail}", encoding="utf-8")
    print(f"updated {DOC.relative_to(REPO)}")


if __name__ == "__main__":
    main()
