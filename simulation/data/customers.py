"""A bank's own customer table as the population: ``population: {source: customers.csv, ...}``.

One row per customer. ``population.columns`` maps each customer field below to a file column
(a column named like the field maps itself); every column of the file must be mapped or listed
in ``population.ignore_columns``, so a misspelt column is an error, not silently dropped. Traits
the table does not carry are still drawn from the row's segment distributions in the scenario,
so a table with only ``id, segment`` is a valid start.

Why so strict: a calibration fitted on a table whose ``churn`` column was silently ignored would
be wrong without any visible sign. Every value is checked (type, range, known names), and a bad
one is reported as ``error in customers.csv: rows 4, 9 (and 3 more), column 'age': …``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulation.data.tables import TableChecker, _stat_key, read_table, row_label
from simulation.errors import Problem, ScenarioError
from simulation.population.stages import Ring, Stage

#: Customer fields a column may map to, and what each holds.
CUSTOMER_FIELDS: dict[str, str] = {
    "id": "customer id, unique (edge lists refer to it)",
    "segment": "segment name (one of population.segments)",
    "city": "city: a whole number ≥ 0 or a name (names are coded by frequency, most common 0)",
    "age_band": "age band (a key of the segment's age_bands)",
    "digital_affinity": "in [0, 1]",
    "price_sensitivity": "in [0, 1]",
    "referral_propensity": "in [0, 1]",
    "churn_hazard": "daily hazard active → at-risk, in [0, 1]",
    "monthly_value": "yuan per month while active, ≥ 0",
    "stage": "unaware, aware, engaged, converted, active, at_risk or dormant",
    "ring": "outer, middle, inner (customers) or none / empty",
    "weight": "customers this row represents, > 0 (a sample of the whole base)",
    "balance": "deposit balance held today, yuan ≥ 0 (empty: drawn from money.segments)",
    "wealth": "of the balance, yuan in wealth products, ≤ balance (empty: drawn)",
    "salary": "monthly salary paid in (payroll), yuan ≥ 0 (empty: drawn)",
    "card_spend": "monthly credit-card spend, yuan ≥ 0 (empty: drawn)",
    "loan": "loan amount drawn, yuan ≥ 0 (empty: drawn)",
}
#: Money columns and the product of ``money.segments.<segment>`` each one needs.
MONEY_FIELDS: dict[str, str] = {
    "balance": "deposits", "wealth": "wealth", "salary": "payroll", "card_spend": "card",
    "loan": "loan",
}
#: Trait columns that are probabilities (checked in [0, 1]).
UNIT_FIELDS = ("digital_affinity", "price_sensitivity", "referral_propensity", "churn_hazard")
#: Stages a row may start in. Churned customers are left out on purpose: a former customer at
#: day 0 would count as a lost customer in every retention KPI.
START_STAGES = ("unaware", "aware", "engaged", "converted", "active", "at_risk", "dormant")
CUSTOMER_START = frozenset({"converted", "active", "at_risk", "dormant"})
RING_VALUES = ("none", "outer", "middle", "inner")


@dataclass(frozen=True, eq=False)
class CustomerTable:
    """The checked columns of a customer file (``None``: not in the file, drawn instead)."""

    path: str
    n: int
    ids: pd.Index | None = None
    segment: np.ndarray | None = None  # object (names)
    city: np.ndarray | None = None  # int32 codes
    city_names: list[str] | None = None
    age_band: np.ndarray | None = None  # object (names)
    traits: dict[str, np.ndarray] = field(default_factory=dict)  # float arrays
    stage: np.ndarray | None = None  # int8 Stage codes
    ring: np.ndarray | None = None  # int8 Ring codes (NONE for non-customers)
    weight: np.ndarray | None = None  # float64
    money: dict[str, np.ndarray] = field(default_factory=dict)  # float64, NaN = drawn

    def index_of(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """Row positions of customer ids ``values`` (−1 where unknown)."""
        if self.ids is None:
            ints = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(ints) & (ints >= 0) & (ints < self.n) & (ints == np.round(ints))
            return np.where(ok, np.nan_to_num(ints, nan=-1), -1).astype(np.int64)
        keys = pd.Series(values).astype(str).str.strip() if self.ids.dtype == object else values
        return np.asarray(self.ids.get_indexer(keys), dtype=np.int64)


def field_mapping(
    frame_columns: list[str], columns: dict[str, str], ignore: list[str], checker: TableChecker
) -> dict[str, str]:
    """``{customer field: file column}`` after checking both sides of the mapping."""
    mapping: dict[str, str] = {}
    for fld, col in columns.items():
        if fld not in CUSTOMER_FIELDS:
            checker.add(
                f"population.columns has unknown customer field '{fld}'; valid: "
                f"{', '.join(CUSTOMER_FIELDS)}"
            )
        elif col not in frame_columns:
            checker.add(
                f"population.columns.{fld} names column '{col}', which the file does not "
                f"have; its columns: {', '.join(frame_columns)}"
            )
        else:
            mapping[fld] = col
    used = set(mapping.values())
    for col in frame_columns:
        if col in used or col in ignore:
            continue
        if col in CUSTOMER_FIELDS and col not in mapping:
            mapping[col] = col
            continue
        checker.add(
            "not mapped to a customer field: map it in population.columns "
            f"({', '.join(CUSTOMER_FIELDS)}) or list it in population.ignore_columns",
            col,
        )
    for col in ignore:
        if col not in frame_columns:
            checker.add(f"population.ignore_columns names '{col}', which the file does not have")
    return mapping


def load_customers(
    path: str | Path, columns: dict[str, str] | None = None, ignore: list[str] | None = None
) -> CustomerTable:
    """Read and check a customer file on its own (scenario-independent checks)."""
    p = Path(path)
    cols = tuple(sorted((columns or {}).items()))
    return _load_cached(_stat_key(p) if p.exists() else (str(p), -1, -1), cols, tuple(ignore or ()))


@functools.lru_cache(maxsize=8)
def _load_cached(
    key: tuple[str, int, int], columns: tuple[tuple[str, str], ...], ignore: tuple[str, ...]
) -> CustomerTable:
    path = key[0]
    frame = read_table(path, "customer table")
    checker = TableChecker(path)
    mapping = field_mapping(list(frame.columns), dict(columns), list(ignore), checker)
    checker.raise_if_any()
    out: dict[str, Any] = {"path": path, "n": len(frame)}
    if "id" in mapping:
        out["ids"] = _ids(frame, mapping["id"], checker)
    if "segment" in mapping:
        out["segment"] = checker.labels(frame, mapping["segment"])
    if "city" in mapping:
        out["city"], out["city_names"] = _cities(frame, mapping["city"], checker)
    if "age_band" in mapping:
        out["age_band"] = checker.labels(frame, mapping["age_band"])
    traits: dict[str, np.ndarray] = {}
    for fld in UNIT_FIELDS:
        if fld in mapping:
            values = checker.numbers(frame, mapping[fld], 0.0, 1.0)
            if values is not None:
                traits[fld] = values
    if "monthly_value" in mapping:
        values = checker.numbers(frame, mapping["monthly_value"], 0.0)
        if values is not None:
            traits["monthly_value"] = values
    out["traits"] = traits
    stage_names: np.ndarray | None = None
    if "stage" in mapping:
        stage_names = checker.labels(frame, mapping["stage"], None)
        if stage_names is not None:
            stage_names = np.char.lower(stage_names.astype(str)).astype(object)
            churned = stage_names == "churned"
            if churned.any():
                checker.add(
                    "'churned' rows cannot start the simulation (they would count as lost "
                    "customers in every retention KPI); drop former customers, or give "
                    "'unaware' to those the bank may win back",
                    mapping["stage"],
                    churned,
                )
                stage_names = None
            else:
                bad = ~np.isin(stage_names, np.array(START_STAGES, dtype=object))
                if bad.any():
                    checker.add(
                        f"unknown stage {stage_names[bad][0]!r}; valid: {', '.join(START_STAGES)}",
                        mapping["stage"],
                        bad,
                    )
                    stage_names = None
        if stage_names is not None:
            out["stage"] = np.array(
                [int(Stage[s.upper()]) for s in stage_names], dtype=np.int8
            )
    if "ring" in mapping:
        out["ring"] = _rings(frame, mapping["ring"], stage_names, "stage" in mapping, checker)
    if "weight" in mapping:
        out["weight"] = checker.numbers(frame, mapping["weight"], 0.0, strict_low=True)
    out["money"] = _money(frame, mapping, checker)
    checker.raise_if_any()
    return CustomerTable(**out)


def _money(
    frame: pd.DataFrame, mapping: dict[str, str], checker: TableChecker
) -> dict[str, np.ndarray]:
    """Balances and holdings in yuan; an empty cell means "draw it from the segment"."""
    out: dict[str, np.ndarray] = {}
    for fld in MONEY_FIELDS:
        if fld not in mapping:
            continue
        col = mapping[fld]
        raw = frame[col]
        missing = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
        values = pd.to_numeric(raw.where(~missing), errors="coerce").to_numpy(dtype=float)
        bad = np.isnan(values) & ~missing
        if bad.any():
            checker.add(f"not a number: {raw[bad].iloc[0]!r} (yuan, or empty to draw it)",
                        col, bad)
        if np.isinf(values).any():
            checker.add("infinite value", col, np.isinf(values))
        neg = np.isfinite(values) & (values < 0)
        if neg.any():
            checker.add(f"must be ≥ 0 yuan, got {values[neg][0]:g}", col, neg)
        out[fld] = values
    if "wealth" in out:
        if "balance" not in out:
            checker.add("a wealth column needs a balance column (wealth is the part of the "
                        "balance held in wealth products)", mapping["wealth"])
        else:
            w, b = out["wealth"], out["balance"]
            alone = np.isfinite(w) & ~np.isfinite(b)
            if alone.any():
                checker.add("wealth given without a balance on the same row", mapping["wealth"],
                            alone)
            over = np.isfinite(w) & np.isfinite(b) & (w > b * (1 + 1e-9))
            if over.any():
                i = int(np.flatnonzero(over)[0])
                checker.add(f"wealth {w[i]:g} exceeds the row's balance {b[i]:g} (wealth is part "
                            "of the balance)", mapping["wealth"], over)
    return out


def money_problems(table: CustomerTable, scenario: Any) -> list[Problem]:
    """Money columns against the scenario's money section: a row's amount of a product needs
    that product in its segment's ``money.segments`` entry (else it would be silently unused)."""
    if not table.money:
        return []
    money = scenario.money
    names = list(scenario.population.segments)
    if not money.enabled:
        return [Problem(
            f"column(s) {', '.join(repr(f) for f in table.money)}",
            "balances and holdings are mapped, but the scenario has no money section "
            "(money.segments); add one, or list the columns in population.ignore_columns",
        )]
    problems: list[Problem] = []
    seg = table.segment
    for fld, values in table.money.items():
        product = MONEY_FIELDS[fld]
        for name in names:
            cfg = money.segments.get(name)
            if cfg is not None and getattr(cfg, product) is not None:
                continue
            rows_of = (seg == name) if seg is not None else np.ones(table.n, dtype=bool)
            hit = rows_of & np.isfinite(values) & (values > 0)
            if hit.any():
                rows = np.flatnonzero(hit)
                problems.append(Problem(
                    f"{row_label(rows[:3], rows.size)}, column '{fld}'",
                    f"segment '{name}' has no money.segments.{name}.{product}, so this amount "
                    f"would be unused; add the product or leave the cells empty",
                ))
    return problems


def _ids(frame: pd.DataFrame, column: str, checker: TableChecker) -> pd.Index | None:
    raw = frame[column]
    missing = raw.isna().to_numpy()
    if missing.any():
        checker.add("empty customer id", column, missing)
        return None
    numeric = pd.to_numeric(raw, errors="coerce")
    if numeric.notna().all() and (numeric == numeric.round()).all():
        ids = pd.Index(numeric.astype(np.int64).to_numpy())
    else:
        ids = pd.Index(raw.astype(str).str.strip().to_numpy(dtype=object))
    dup = ids.duplicated(keep="first")
    if dup.any():
        first = int(np.flatnonzero(dup)[0])
        earlier = int(ids.get_indexer([ids[first]])[0]) if ids.is_unique else int(
            np.flatnonzero(ids == ids[first])[0]
        )
        checker.add(
            f"duplicate customer id {ids[first]!r} (first on row {earlier + 1})", column, dup
        )
        return None
    return ids


def _cities(
    frame: pd.DataFrame, column: str, checker: TableChecker
) -> tuple[np.ndarray | None, list[str] | None]:
    raw = frame[column]
    numeric = pd.to_numeric(raw, errors="coerce")
    if raw.notna().all() and numeric.notna().all():
        values = checker.numbers(frame, column, 0.0, integer=True)
        return (None, None) if values is None else (values.astype(np.int32), None)
    names = checker.labels(frame, column)
    if names is None:
        return None, None
    counts = pd.Series(names).value_counts(sort=False)
    order = sorted(counts.index, key=lambda c: (-counts[c], str(c)))  # most common city = 0
    code = {c: i for i, c in enumerate(order)}
    return np.array([code[c] for c in names], dtype=np.int32), [str(c) for c in order]


def _rings(
    frame: pd.DataFrame,
    column: str,
    stage_names: np.ndarray | None,
    has_stage: bool,
    checker: TableChecker,
) -> np.ndarray | None:
    raw = frame[column]
    text = raw.fillna("none").astype(str).str.strip().str.lower().to_numpy(dtype=object)
    text[text == ""] = "none"
    bad = ~np.isin(text, np.array(RING_VALUES, dtype=object))
    if bad.any():
        checker.add(f"unknown ring {text[bad][0]!r}; valid: {', '.join(RING_VALUES)}", column, bad)
        return None
    if not has_stage:
        checker.add(
            "a ring column needs a stage column (a ring belongs to a customer, and without "
            "stages no row is one)",
            column,
        )
        return None
    if stage_names is None:
        return None
    is_customer = np.isin(stage_names, np.array(sorted(CUSTOMER_START), dtype=object))
    stray = ~is_customer & (text != "none")
    if stray.any():
        checker.add(
            f"only customers (stage {', '.join(sorted(CUSTOMER_START))}) have a ring; this row's "
            f"stage is {stage_names[stray][0]!r}",
            column,
            stray,
        )
        return None
    codes = np.array([int(Ring[t.upper()]) for t in text], dtype=np.int8)
    return codes


# ---------------------------------------------------------------------------- scenario checks


def check_against_segments(
    table: CustomerTable, segments: dict[str, Any], age_bands: dict[str, list[str]]
) -> list[Problem]:
    """Problems of the table under a scenario's segments and their age bands."""
    problems: list[Problem] = []
    names = list(segments)
    if table.segment is not None:
        bad = ~np.isin(table.segment, np.array(names, dtype=object))
        if bad.any():
            rows = np.flatnonzero(bad)
            problems.append(
                Problem(
                    f"{row_label(rows[:3], rows.size)}, column 'segment'",
                    f"unknown segment {table.segment[rows[0]]!r}; the scenario's segments: "
                    f"{', '.join(names)}",
                )
            )
            return problems
    if table.age_band is not None:
        seg = table.segment if table.segment is not None else None
        for s_name in names if seg is not None else names[:1]:
            rows_of = seg == s_name if seg is not None else np.ones(table.n, dtype=bool)
            valid = age_bands[s_name]
            bad = rows_of & ~np.isin(table.age_band, np.array(valid, dtype=object))
            if bad.any() and (seg is not None or len(names) == 1):
                rows = np.flatnonzero(bad)
                problems.append(
                    Problem(
                        f"{row_label(rows[:3], rows.size)}, column 'age_band'",
                        f"age band {table.age_band[rows[0]]!r} is not one of segment "
                        f"'{s_name}''s age_bands: {', '.join(valid)}",
                    )
                )
                break
    return problems


def customer_problems(population: Any) -> ScenarioError | None:
    """The table of ``population`` (a validated PopulationConfig) checked against its segments."""
    table = load_customers(population.source, population.columns, population.ignore_columns)
    bands = {name: list(seg.age_bands) for name, seg in population.segments.items()}
    if table.age_band is not None and table.segment is None and len(population.segments) > 1:
        return ScenarioError(
            table.path,
            [Problem("column 'age_band'", "an age_band column needs a segment column when the "
                     "scenario has more than one segment (age bands are per segment)")],
        )
    problems = check_against_segments(table, population.segments, bands)
    return ScenarioError(table.path, problems) if problems else None
