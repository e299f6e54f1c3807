"""Reading a user's CSV or Parquet file into a DataFrame, with errors that name file, row, column.

A bank's own data (customer table, edge list, KPI spreadsheet) arrives as CSV or Parquet. Every
problem found in it becomes one :class:`~simulation.errors.ScenarioError` whose source is the
data file and whose path is ``row R, column 'C'`` (``R`` counts data rows from 1, so in a CSV it
is the file's line ``R + 1``), so the CLI prints it in three lines and exits 2 — never a
traceback. Tables are read once per process and cached by (path, size, modification time):
sweeps and calibrations validate the same scenario hundreds of times.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulation.errors import Problem, ScenarioError

SUFFIXES = (".csv", ".parquet", ".pq")
#: At most this many bad rows are listed per problem (the count says how many in all).
MAX_LISTED = 3


def resolve(path: str | os.PathLike[str], base: Path | None = None) -> Path:
    """``path`` made absolute against ``base`` (the folder of the YAML that names it)."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = (base or Path.cwd()) / p
    return p.resolve()


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_size, st.st_mtime_ns


def file_problem(path: Path | str, message: str, field: str = "") -> ScenarioError:
    return ScenarioError(str(path), [Problem(field, message)])


def read_table(path: Path | str, what: str = "table") -> pd.DataFrame:
    """The file as a DataFrame (a cached copy: callers must not modify it in place)."""
    p = Path(path)
    if p.suffix.lower() not in SUFFIXES:
        raise file_problem(p, f"a {what} must be a .csv or .parquet file, got '{p.suffix}'")
    try:
        key = _stat_key(p)
    except FileNotFoundError:
        raise file_problem(p, f"{what} file not found") from None
    except OSError as exc:
        raise file_problem(p, f"cannot read the {what}: {exc.strerror or exc}") from None
    if p.is_dir():
        raise file_problem(p, f"is a directory, expected a {what} file")
    return _read_cached(*key)


@functools.lru_cache(maxsize=16)
def _read_cached(path: str, size: int, mtime_ns: int) -> pd.DataFrame:
    p = Path(path)
    try:
        if p.suffix.lower() == ".csv":
            # Everything as text first: the schema decides each column's type, so a stray
            # letter in a numeric column becomes an error on its row, not a silent NaN.
            frame = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
        else:
            frame = pd.read_parquet(p)
    except pd.errors.EmptyDataError:
        raise file_problem(p, "file is empty; expected a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise file_problem(p, f"cannot parse the file: {first}") from None
    except Exception as exc:  # pyarrow raises its own error types for damaged Parquet files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise file_problem(p, f"cannot parse the file: {first}") from None
    if frame.empty:
        raise file_problem(p, "has a header but no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    dupes = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if dupes:
        raise file_problem(p, f"duplicate column name(s): {', '.join(dupes)}")
    return frame


@functools.lru_cache(maxsize=32)
def _digest_cached(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def file_digest(path: Path | str) -> str:
    """A short SHA-256 of the file's bytes: it enters run ids, so new data never resumes old
    runs, and a calibrated scenario pins the data version it was fitted to."""
    return _digest_cached(*_stat_key(Path(path)))


def row_label(rows: Iterable[int], total: int | None = None) -> str:
    """``row 4`` or ``rows 4, 9, 12 (and 30 more)`` for 0-based row positions."""
    rows = list(rows)
    shown = ", ".join(str(r + 1) for r in rows[:MAX_LISTED])
    more = (total if total is not None else len(rows)) - min(len(rows), MAX_LISTED)
    word = "row" if len(rows) == 1 and not more else "rows"
    return f"{word} {shown}" + (f" (and {more} more)" if more > 0 else "")


class TableChecker:
    """Collects problems of one data file, each at ``row R, column 'C'``."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.problems: list[Problem] = []

    def add(self, message: str, column: str | None = None, rows: Any = None) -> None:
        where: list[str] = []
        if rows is not None:
            is_mask = getattr(rows, "dtype", None) is not None and rows.dtype == np.bool_
            idx = np.flatnonzero(rows) if is_mask else list(rows)
            if len(idx) == 0:
                return
            where.append(row_label(idx[:MAX_LISTED], len(idx)))
        if column is not None:
            where.append(f"column '{column}'")
        self.problems.append(Problem(", ".join(where), message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise ScenarioError(self.path, self.problems)

    # ------------------------------------------------------------ typed columns

    def numbers(
        self,
        frame: pd.DataFrame,
        column: str,
        low: float | None = None,
        high: float | None = None,
        strict_low: bool = False,
        integer: bool = False,
        allowed: str = "",
    ) -> np.ndarray | None:
        """Column ``column`` as float64, every value checked; ``None`` when any is bad."""
        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        missing = raw.isna().to_numpy()
        bad_text = np.isnan(values) & ~missing
        ok = True
        if missing.any():
            self.add("empty value; every row needs one", column, missing)
            ok = False
        if bad_text.any():
            first = raw[bad_text].iloc[0]
            self.add(f"not a number: {first!r}{allowed}", column, bad_text)
            ok = False
        finite = ~np.isnan(values)
        if np.isinf(values).any():
            self.add("infinite value", column, np.isinf(values))
            ok = False
        if integer:
            frac = finite & (np.abs(values - np.round(values)) > 1e-9)
            if frac.any():
                self.add(f"must be a whole number, got {values[frac][0]!r}", column, frac)
                ok = False
        if low is not None:
            below = finite & ((values <= low) if strict_low else (values < low))
            if below.any():
                rel = ">" if strict_low else "≥"
                self.add(f"must be {rel} {low:g}, got {values[below][0]:g}", column, below)
                ok = False
        if high is not None:
            above = finite & (values > high)
            if above.any():
                self.add(f"must be ≤ {high:g}, got {values[above][0]:g}", column, above)
                ok = False
        return values if ok else None

    def labels(
        self, frame: pd.DataFrame, column: str, valid: Iterable[str] | None = None, what: str = ""
    ) -> np.ndarray | None:
        """Column ``column`` as stripped strings, each in ``valid`` when given."""
        raw = frame[column]
        missing = raw.isna().to_numpy()
        if missing.any():
            self.add("empty value; every row needs one", column, missing)
            return None
        text = raw.astype(str).str.strip().to_numpy(dtype=object)
        if valid is not None:
            valid = list(valid)
            bad = ~np.isin(text, np.array(valid, dtype=object))
            if bad.any():
                self.add(
                    f"unknown {what or column} {text[bad][0]!r}; valid: {', '.join(valid)}",
                    column,
                    bad,
                )
                return None
        return text
