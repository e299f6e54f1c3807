"""Printing result tables: ``--format table|markdown|csv|json`` and ``--lang en|zh``.

Every command that prints a result table builds :class:`OutTable` objects and hands them to
:func:`emit`, so each gets the same four formats for free (new commands: use ``FormatOption``,
``LangOption`` and :func:`emit`). ``table`` fits the terminal: a table wider than the console
is transposed when that needs fewer parts, and otherwise split into parts that each fit, the key
column(s) repeated in every part — never a cell cut to "preset_…" or wrapped onto three lines.
``csv`` and ``json`` carry the raw numbers (not the formatted strings) for scripts; their notes
go to stderr so stdout stays machine-readable.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from simulation.formatting import fmt
from simulation.i18n import set_lang, tr


class Format(StrEnum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"


def _lang_callback(value: str | None) -> str | None:
    from simulation.i18n import LANGS, normalise

    if value is not None and normalise(value) is None:
        raise typer.BadParameter(f"'{value}' is not a language; choose one of {', '.join(LANGS)}")
    if value is not None:
        set_lang(value)
    return value


FormatOption = Annotated[
    Format,
    typer.Option(
        "--format", "-f", case_sensitive=False,
        help="table (fits the terminal) | markdown | csv | json (raw numbers).",
    ),
]
LangOption = Annotated[
    str | None,
    typer.Option(
        "--lang", callback=_lang_callback, expose_value=True,
        help="Interface language: en | zh (default: $OPMATRIX_LANG, else en).",
    ),
]


@dataclass
class Column:
    """One column: its machine key (csv/json header), display label and number kind."""

    key: str
    label: str
    kind: str = ""
    align: str = "right"


@dataclass
class OutTable:
    """A result table: raw ``rows`` for csv/json, display ``cells`` for table/markdown."""

    title: str
    columns: list[Column]
    rows: list[list[Any]]
    cells: list[list[str]] | None = None
    notes: list[str] = field(default_factory=list)
    #: Leading columns that identify a row; repeated in every part of a split table.
    key_columns: int = 1
    #: What table/markdown show instead, when the tidy csv/json shape reads badly on screen
    #: (e.g. one "mean [low, high]" cell for three raw columns).
    view: OutTable | None = None

    @classmethod
    def of_cells(
        cls, title: str, columns: list[Column], cells: list[list[str]], notes: list[str] | None
        = None, key_columns: int = 1,
    ) -> OutTable:
        """A display-only table (its raw rows are its strings)."""
        return cls(title, columns, cells, cells, list(notes or []), key_columns)

    def display(self) -> list[list[str]]:
        if self.cells is not None:
            return self.cells
        return [[fmt(v, c.kind) for v, c in zip(row, self.columns, strict=True)]
                for row in self.rows]

    def transposed(self) -> OutTable:
        """Rows become columns (one column per row, labelled by its key cells)."""
        k = self.key_columns
        cells = self.display()
        heads = [" · ".join(r[:k]) for r in cells]
        cols = [Column("field", tr("metric"), align="left")] + [
            Column(h, h) for h in heads
        ]
        rows = [[c.label] + [r[j] for r in self.rows] for j, c in enumerate(self.columns) if j >= k]
        tcells = [[c.label] + [r[j] for r in cells] for j, c in enumerate(self.columns) if j >= k]
        return OutTable(self.title, cols, rows, tcells, self.notes, 1)


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is not None and not isinstance(value, int | float | str | bool):
        return str(value)
    return value


def _widths(table: OutTable) -> list[int]:
    cells = table.display()
    return [
        max([cell_len(c.label), *(cell_len(r[i]) for r in cells)])
        for i, c in enumerate(table.columns)
    ]


def _parts(table: OutTable, width: int) -> list[list[int]]:
    """Column index groups that each fit ``width`` (rich's box: 3 characters per column + 1).

    A table that does not fit in one is split, and each part then shows only the rows with a
    value in its own columns (:func:`_rows_with_values`), so a part is as wide as the rows it
    shows: the KPI labels of the total-only rows no longer widen the segments' parts."""
    w = _widths(table)
    k = min(table.key_columns, len(w))
    keys = list(range(k))
    if 1 + sum(x + 3 for x in w) <= width or len(w) <= k + 1:
        return [keys + list(range(k, len(w)))]
    cells = table.display()
    labels = [cell_len(c.label) for c in table.columns]

    def need(cols: list[int]) -> int:
        rows = [cells[j] for j in _rows_with_values(table, cols)]
        return 1 + sum(max([labels[i], *(cell_len(r[i]) for r in rows)]) + 3 for i in cols)

    parts: list[list[int]] = []
    current: list[int] = []
    for i in range(k, len(w)):
        if current and need(keys + current + [i]) > width:
            parts.append(keys + current)
            current = []
        current.append(i)
    parts.append(keys + current)
    return parts


def fit(table: OutTable, width: int) -> list[tuple[OutTable, list[int]]]:
    """The table (or its transpose) and the column groups to print it in, fewest parts first."""
    plain = _parts(table, width)
    if len(plain) == 1 or not table.rows:
        return [(table, p) for p in plain]
    flipped = table.transposed()
    other = _parts(flipped, width)
    if len(other) < len(plain):
        return [(flipped, p) for p in other]
    return [(table, p) for p in plain]


def _rich(table: OutTable, columns: Sequence[int], rows: Sequence[int] | None = None) -> Table:
    out = Table()
    cells = table.display()
    for i in columns:
        c = table.columns[i]
        out.add_column(c.label, justify="left" if c.align == "left" else "right",
                       no_wrap=True, overflow="fold")
    for j, r in enumerate(cells):
        if rows is None or j in rows:
            out.add_row(*(r[i] for i in columns), )
    return out


def _rows_with_values(table: OutTable, columns: Sequence[int]) -> list[int]:
    """Rows of one part of a split table with a value in at least one of its own columns: a
    part holding only segment columns repeats every KPI that exists only for the total
    (incremental, budget …) as a row of dashes otherwise."""
    cells = table.display()
    own = [i for i in columns if i >= table.key_columns]
    return [j for j, r in enumerate(cells) if not own or any(r[i] != "—" for i in own)]


def _markdown(table: OutTable) -> str:
    def esc(text: str) -> str:
        return str(text).replace("|", "\\|")

    cells = table.display()
    lines = [f"### {esc(table.title)}", ""] if table.title else []
    lines.append("| " + " | ".join(esc(c.label) for c in table.columns) + " |")
    lines.append("|" + "|".join(":---" if c.align == "left" else "---:" for c in table.columns)
                 + "|")
    lines += ["| " + " | ".join(esc(v) for v in r) + " |" for r in cells]
    lines += [""] + [f"*{esc(n)}*" for n in table.notes] if table.notes else []
    return "\n".join(lines) + "\n"


def _csv(table: OutTable) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.key for c in table.columns])
    for row in table.rows:
        writer.writerow(["" if v is None else v for v in map(_plain, row)])
    return buf.getvalue()


def _json(table: OutTable) -> dict[str, Any]:
    keys = [c.key for c in table.columns]
    return {
        "title": table.title,
        "columns": keys,
        "labels": {c.key: c.label for c in table.columns},
        "rows": [dict(zip(keys, map(_plain, row), strict=True)) for row in table.rows],
        "notes": table.notes,
    }


def emit(
    tables: OutTable | Sequence[OutTable],
    format: Format | str = Format.table,
    console: Console | None = None,
) -> None:
    """Print ``tables`` in ``format`` (see the module docstring)."""
    if isinstance(tables, OutTable):
        tables = [tables]
    format = Format(format)
    if format in (Format.table, Format.markdown):
        tables = [t.view or t for t in tables]
    if format is Format.table:
        console = console or Console()
        for table in tables:
            groups = fit(table, console.width)
            for i, (shape, cols) in enumerate(groups):
                title = table.title
                if len(groups) > 1:
                    title = tr("{label} (table {i} of {n})", label=title, i=i + 1, n=len(groups))
                # the title on its own line: a rich title would wrap at the table's width
                console.print(title, markup=False, highlight=False, style="italic")
                rows = _rows_with_values(shape, cols) if len(groups) > 1 else None
                console.print(_rich(shape, cols, rows))
                left = 0 if rows is None else len(shape.display()) - len(rows)
                if left:
                    text = ("1 row without a value in these columns left out" if left == 1
                            else "{n} rows without a value in these columns left out")
                    console.print(tr(text, n=left), markup=False, highlight=False, style="dim")
            for note in table.notes:
                console.print(note, soft_wrap=False, markup=False, highlight=False)
        return
    if format is Format.markdown:
        sys.stdout.write("\n".join(_markdown(t) for t in tables))
        return
    for note in (n for t in tables for n in t.notes):
        print(f"note: {note}", file=sys.stderr)
    if format is Format.csv:
        if len(tables) == 1:
            sys.stdout.write(_csv(tables[0]))
        else:
            sys.stdout.write("\n".join(f"# {t.title}\n{_csv(t)}" for t in tables))
        return
    data: Any = _json(tables[0]) if len(tables) == 1 else {"tables": [_json(t) for t in tables]}
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=1, allow_nan=False) + "\n")
