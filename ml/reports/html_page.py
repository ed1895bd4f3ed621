"""The HTML both reports are drawn with: one stylesheet, headings, tables, lists and charts in one page.

Every value is escaped on its way in, so a feature name or a group value cannot break the markup, and
charts are base64 PNGs inside the page, so a report can be mailed or attached to a ticket as it is.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pages that only embed PNG files already drawn do not load matplotlib
    from matplotlib.figure import Figure

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { padding: 0.2em 0.8em; text-align: left; border-bottom: 1px solid #ddd; }
thead th { border-bottom: 1px solid #999; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.warning { color: #b00020; font-weight: 600; }
img { max-width: 32em; margin: 6px; border: 1px solid #eee; }
"""


def document(title: str, *sections: str) -> str:
    """A whole page: the stylesheet, the title as its heading, then the sections in order."""
    head = f'<meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style>'
    body = f"<h1>{html.escape(title)}</h1>\n" + "\n".join(sections)
    return f"<!doctype html>\n<html><head>{head}</head>\n<body>{body}\n</body></html>\n"


def section(title: str, *parts: str, level: int = 2) -> str:
    return f"<h{level}>{html.escape(title)}</h{level}>" + "".join(parts)


def paragraph(text: str, *, warning: bool = False) -> str:
    return f'<p class="warning">{html.escape(text)}</p>' if warning else f"<p>{html.escape(text)}</p>"


def bullets(items: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"


def table(columns: Sequence[str], rows: Iterable[Sequence]) -> str:
    header = "".join(f"<th>{html.escape(str(column))}</th>" for column in columns)
    body = "".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def frame_table(frame: pd.DataFrame) -> str:
    return table(frame.columns, frame.itertuples(index=False, name=None))


def key_values(pairs: Mapping[str, object]) -> str:
    """A two-column table of named figures, each name as its row's heading."""
    rows = "".join(f"<tr><th>{html.escape(str(name))}</th>{_cell(value)}</tr>" for name, value in pairs.items())
    return f"<table><tbody>{rows}</tbody></table>"


def image(chart: Figure | Path, alt: str) -> str:
    """A chart inside the page: a matplotlib figure, or a PNG file already drawn."""
    encoded = png_base64(chart) if isinstance(chart, Path) else _figure_base64(chart)
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def png_base64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _figure_base64(chart: Figure) -> str:
    buffer = io.BytesIO()
    chart.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _cell(value: object) -> str:
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return "<td>-</td>"
    if isinstance(value, bool) or not isinstance(value, Real):
        return f"<td>{html.escape(str(value))}</td>"
    text = str(value) if isinstance(value, Integral) else f"{value:.4f}"
    return f'<td class="number">{text}</td>'
