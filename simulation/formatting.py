"""How numbers are printed, shared by the CLI tables, the HTML reports and the dashboard.

What each KPI is called and which format it takes live in the KPI registry
(:mod:`simulation.kpis`); :func:`fmt_kpi` joins the two.
"""

from __future__ import annotations

import math
from typing import Any

from simulation.kpis import format_of
from simulation.kpis import get as kpi

#: The minus sign of every printed number (U+2212, as the figures' ticks): "−25.0%" beside
#: "−¥1.45", never a hyphen in one and a minus in the other.
MINUS = "\u2212"


def fmt(value: Any, kind: str = "", pct_digits: int = 1) -> str:
    """Numbers as a strategy team reads them: 12.3%, +0.50 pp, ¥1,234, 5,678; '—' if undefined;
    negative numbers with a true minus sign (:data:`MINUS`) whatever their kind."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return _minus(_fmt(value, kind, pct_digits))


def _fmt(value: Any, kind: str, pct_digits: int) -> str:
    if kind == "pct":
        return f"{100 * value:.{pct_digits}f}%"
    if kind == "pp":  # a difference of two shares, in percentage points
        return f"{100 * value:+.{pct_digits}f} pp"
    if kind == "money":  # "−¥1.45": the sign before the currency
        if value == 0:  # "¥0", not "¥0.00": nothing is nothing, not a price in cents
            return "¥0"
        sign = "-" if value < 0 else ""
        a = abs(value)
        # ¥99.996 is "¥100", not "¥100.00": the whole-yuan tier starts where cents round into it
        return f"{sign}¥{a:,.0f}" if a >= 99.995 else f"{sign}¥{a:,.2f}"
    if kind == "int":
        return f"{round(value):,}"
    if kind == "days":  # a payback: days within a year, years beyond (as docs/presets.md)
        return _days(value, abs(value) > 365)
    if isinstance(value, float):
        return f"{value:,.{pct_digits + 2}g}"
    return str(value)


def _minus(text: str) -> str:
    """A leading hyphen-minus (Python's sign) as :data:`MINUS`; no sign at all on a number that
    prints as zero ("−0.0 pp" and "+0.0 pp" beside each other read as two different changes)."""
    if text[:1] in ("-", "+") and not _nonzero(text):
        return text[1:]
    return MINUS + text[1:] if text.startswith("-") else text


def _nonzero(text: str) -> bool:
    """Whether the printed number has a digit other than 0 (its exponent aside)."""
    mantissa = text.split("e")[0]
    return any(c in "123456789" for c in mantissa)


def _days(value: float, years: bool) -> str:
    return _minus(f"{value / 365:,.1f} yr" if years else f"{value:,.0f} d")


def fmt_kpi(name: str, value: Any, pct_digits: int = 1) -> str:
    """``value`` of the registered KPI ``name`` in that KPI's format."""
    return fmt(value, format_of(name), pct_digits)


def fmt_ci(mean: float, low: float, high: float, kind: str = "", pct_digits: int = 1) -> str:
    """``mean [low, high]``; just the mean when the interval is undefined (one replicate)."""
    if low is None or (isinstance(low, float) and math.isnan(low)):
        return fmt(mean, kind, pct_digits)
    ends = (mean, low, high)
    if kind == "days" and all(isinstance(v, int | float) and math.isfinite(v) for v in ends):
        years = max(abs(v) for v in ends) > 365  # one unit in a cell: "1.6 yr [-9.3 yr, …]"
        return f"{_days(mean, years)} [{_days(low, years)}, {_days(high, years)}]"
    return (
        f"{fmt(mean, kind, pct_digits)} [{fmt(low, kind, pct_digits)}, "
        f"{fmt(high, kind, pct_digits)}]"
    )


def fmt_diff_ci(mean: float, low: float, high: float, kind: str = "",
                pct_digits: int = 1) -> str:
    """A difference with its interval, every number signed ("+180 [+158, +203]",
    "−¥426 [−¥465, −¥387]"), with one minus sign (:data:`MINUS`) throughout; a share's
    difference in percentage points ("+1.8 pp", "−0.7 pp"). An unsigned "180" next to a
    "+1.8 pp" reads as a level, not a change."""
    if kind == "pct":
        kind = "pp"
    if kind == "days":
        return fmt_ci(mean, low, high, kind, pct_digits)

    def signed(v: float) -> str:
        text = fmt(v, kind, pct_digits)  # negative: already with MINUS
        if (kind != "pp" and isinstance(v, int | float) and math.isfinite(v) and v > 0
                and _nonzero(text)):
            return f"+{text}"
        return text

    if low is None or (isinstance(low, float) and math.isnan(low)):
        return signed(mean)
    return f"{signed(mean)} [{signed(low)}, {signed(high)}]"


def within(metric: str, low: float, high: float) -> tuple[float, float, bool]:
    """The interval ``[low, high]`` of KPI ``metric`` clipped to the values it can take (a
    share: [0, 1]), and whether it was clipped. A Student-t interval of a share near 100 %
    reads "99.84% [99.35%, 100.34%]": a share cannot pass 100 %, so the interval stops there
    (and the table says so)."""
    bounds = kpi(metric).value_range
    if bounds is None or low is None or high is None:
        return low, high, False
    lo, hi = bounds
    clipped_low = min(max(low, lo), hi) if math.isfinite(low) else low
    clipped_high = max(min(high, hi), lo) if math.isfinite(high) else high
    moved = (math.isfinite(low) and clipped_low != low) or (
        math.isfinite(high) and clipped_high != high)
    return clipped_low, clipped_high, moved


#: What a table or figure says when it clipped a share's interval.
CLIPPED_NOTE = "a share's interval is cut at 0 % and 100 %, the values a share can take"
