"""One self-contained HTML file: figures embedded as base64 PNG, inline CSS, no script and no
link to anything outside the file, so it opens offline and can be mailed as one attachment."""

from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from matplotlib.figure import Figure
from ruamel.yaml import YAML

from simulation.formatting import fmt as format_kpi
from simulation.plots.style import png_bytes


@dataclass
class Table:
    """A small table of already formatted strings."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass
class EmbeddedFigure:
    title: str
    caption: str
    data_uri: str


@dataclass
class Report:
    """Everything a report page shows, in order."""

    title: str
    subtitle: str
    facts: list[tuple[str, str]]
    tables: list[Table] = field(default_factory=list)
    figures: list[EmbeddedFigure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scenario_yaml: str = ""
    extra_yaml: list[tuple[str, str]] = field(default_factory=list)

    def add_figure(self, title: str, caption: str, fig: Figure) -> None:
        data = base64.b64encode(png_bytes(fig, dpi=96)).decode("ascii")
        self.figures.append(EmbeddedFigure(title, caption, f"data:image/png;base64,{data}"))


def fmt(value: Any, kind: str = "") -> str:
    """Report numbers: as the CLI's, with two decimals on shares."""
    return format_kpi(value, kind, pct_digits=2)


def to_yaml(data: Any) -> str:
    buf = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False
    yaml.dump(data, buf)
    return buf.getvalue()


TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ r.title }}</title>
<style>
body { font-family: system-ui, "Segoe UI", "Noto Sans", sans-serif; margin: 2rem auto;
       max-width: 1150px; color: #222; line-height: 1.4; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .subtitle { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f5f8; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.15rem 1rem; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9rem; }
pre { background: #f6f8fa; padding: 0.8rem; overflow-x: auto; font-size: 0.8rem; }
.note { color: #555; font-size: 0.85rem; } .warn { color: #a15c00; }
</style></head>
<body>
<h1>{{ r.title }}</h1>
<p class="subtitle">{{ r.subtitle }}</p>
<dl class="facts">
{% for k, v in r.facts %}<dt>{{ k }}</dt><dd>{{ v }}</dd>
{% endfor %}</dl>
{% for n in r.notes %}<p class="warn">{{ n }}</p>{% endfor %}
{% for t in r.tables %}
<h2>{{ t.title }}</h2>
<table><tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% if t.note %}<p class="note">{{ t.note }}</p>{% endif %}
{% endfor %}
{% if r.figures %}<h2>Figures</h2>{% endif %}
{% for f in r.figures %}
<figure><h3>{{ f.title }}</h3><img src="{{ f.data_uri }}" alt="{{ f.title }}">
<figcaption>{{ f.caption }}</figcaption></figure>
{% endfor %}
{% for title, text in r.extra_yaml %}<h2>{{ title }}</h2><pre>{{ text }}</pre>{% endfor %}
{% if r.scenario_yaml %}<h2>Resolved scenario</h2><pre>{{ r.scenario_yaml }}</pre>{% endif %}
<p class="note">Generated {{ generated }} by opmatrix.</p>
</body></html>
"""


def render_html(report: Report) -> str:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return env.from_string(TEMPLATE).render(r=report, generated=stamp)


def write_html(report: Report, path: Path) -> Path:
    """Write atomically (temp file + rename) so a reader never sees half a report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(render_html(report), encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
