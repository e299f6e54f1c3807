"""How KPIs are labelled and printed, shared by the CLI tables and the HTML reports."""

from __future__ import annotations

import math
from typing import Any

#: (label, summary key, kind) of the headline KPIs, in the order a strategy team reads them.
KPI_ROWS: tuple[tuple[str, str, str], ...] = (
    ("customers", "customers", "int"),
    ("stock customers (day 0)", "stock_customers", "int"),
    ("acquisitions", "acquisitions", "int"),
    ("conversion rate", "conversion_rate", "pct"),
    ("retention 30 d", "retention_30d", "pct"),
    ("retention 90 d", "retention_90d", "pct"),
    ("retention 180 d", "retention_180d", "pct"),
    ("churned", "churned", "int"),
    ("spend", "spend", "money"),
    ("cost per acquisition", "cost_per_acquisition", "money"),
    ("LTV (horizon value / acquisition)", "ltv", "money"),
    ("ROI", "roi", "pct"),
)


def fmt(value: Any, kind: str = "", pct_digits: int = 1) -> str:
    """Numbers as a strategy team reads them: 12.3%, +0.50 pp, ¥1,234, 5,678; '—' if undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if kind == "pct":
        return f"{100 * value:.{pct_digits}f}%"
    if kind == "pp":  # a difference of two shares, in percentage points
        return f"{100 * value:+.{pct_digits}f} pp"
    if kind == "money":
        return f"¥{value:,.0f}" if abs(value) >= 100 else f"¥{value:,.2f}"
    if kind == "int":
        return f"{round(value):,}"
    if isinstance(value, float):
        return f"{value:,.{pct_digits + 2}g}"
    return str(value)


def fmt_ci(mean: float, low: float, high: float, kind: str = "", pct_digits: int = 1) -> str:
    """``mean [low, high]``; just the mean when the interval is undefined (one replicate)."""
    if low is None or (isinstance(low, float) and math.isnan(low)):
        return fmt(mean, kind, pct_digits)
    return (
        f"{fmt(mean, kind, pct_digits)} [{fmt(low, kind, pct_digits)}, "
        f"{fmt(high, kind, pct_digits)}]"
    )
