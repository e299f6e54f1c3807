"""Helpers shared by CLI commands: locating presets, printing tables, progress bars."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from simulation.errors import ScenarioError
from simulation.formatting import fmt
from simulation.kpis import in_group
from simulation.scenario.presets import find_scenario, preset_names, scenarios_dir  # noqa: F401

if TYPE_CHECKING:
    from simulation.cli.output import OutTable

#: ``--set path.to.field=value``, shared by every command that loads a scenario.
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a field: path.to.field=value (repeatable)."),
]

#: ``--threads N``: threads of one run's kernels (results are the same for any N).
ThreadsOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Threads for one run's kernels (default: $OPMATRIX_THREADS, else every core; "
        "sweeps: 1 per run). Results are identical for any count.",
    ),
]


def use_threads(threads: int | None) -> int:
    """Apply ``--threads`` (or the ``OPMATRIX_THREADS`` default); a bad variable exits 2."""
    from simulation import kernels

    try:
        return kernels.set_threads(threads)
    except ValueError as exc:
        raise ScenarioError.single(f"${kernels.THREADS_ENV}", "", str(exc)) from None


console = Console()
err_console = Console(stderr=True)



def resolve_scenario_path(name: str) -> Path:
    """Accept a path, or a preset name such as ``cmb_credit_card`` (simulation/scenario/
    presets.py does the lookup)."""
    p = Path(name)
    if p.exists() or p.suffix in {".yaml", ".yml"}:
        return p  # a missing .yaml path: the loader says "file not found"
    found = find_scenario(name)
    if found is not None:
        return found
    presets = ", ".join(preset_names())
    raise ScenarioError.single(name, "", f"no such file or preset; presets: {presets}")


def default_out(kind: str, name: str, seed: int | None = None) -> Path:
    """``results/<kind>/<safe name>-<time>[-s<seed>]``: the name is made safe first, so a
    scenario named ``../../x`` still lands inside ``results/``."""
    from simulation.io import safe_name

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    suffix = f"-s{seed}" if seed is not None else ""
    base = Path("results") / kind / f"{safe_name(name)}-{stamp}{suffix}"
    out, i = base, 1
    while out.exists():
        i += 1
        out = base.with_name(f"{base.name}-{i}")
    return out


def progress(transient: bool = True) -> Progress:
    """A progress bar on stderr. A transient one is off when stderr is not a terminal: it would
    be erased anyway, and rich leaves an empty line in its place — the first line a user saw
    of an error raised while the bar ran (``report 2>&1 | less``, CI logs)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
        disable=transient and not err_console.is_terminal,
    )


def summary_table(summary: dict[str, Any], title: str) -> OutTable:
    """A run's headline KPIs, total and per segment (rows: KPIs in the interface language)."""
    from simulation.cli.output import Column, OutTable
    from simulation.i18n import kpi_label, tr

    segments = summary.get("segments", {}) or {}
    cols = [Column("kpi", tr("KPI"), align="left"), Column("total", tr("total"))]
    cols += [Column(str(seg), str(seg)) for seg in segments]
    rows, cells = [], []
    for kpi in in_group("table"):
        values = [summary.get(kpi.name), *(segments[s].get(kpi.name) for s in segments)]
        rows.append([kpi.name, *values])
        cells.append([kpi_label(kpi.name), *(fmt(v, kpi.format) for v in values)])
    table = OutTable(title, cols, rows)
    table.view = OutTable.of_cells(title, cols, cells)
    return table
