"""The HTML toolkit both reports are drawn with: escaped values, whole tables, one self-contained page."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ml.reports.html_page import bullets, document, frame_table, image, key_values, paragraph, section, table

HOSTILE = '<script>alert("x")</script> & co'
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text of each cell."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.cells: list[str] = []
        self._in_cell = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_cell = tag in ("td", "th")
        if self._in_cell:
            self.cells.append("")

    def handle_endtag(self, tag):
        self._in_cell = self._in_cell and tag not in ("td", "th")

    def handle_data(self, data):
        if self._in_cell:
            self.cells[-1] += data

    def named(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]


def _chart() -> Figure:
    figure = Figure(figsize=(2, 2))
    figure.subplots().plot([0, 1], [0, 1])
    return figure


def test_every_value_is_escaped_wherever_it_goes():
    parts = [
        section(HOSTILE, paragraph(HOSTILE, warning=True)),
        bullets([HOSTILE]),
        table([HOSTILE], [[HOSTILE]]),
        key_values({HOSTILE: HOSTILE}),
    ]
    page = document(HOSTILE, *parts)
    assert "<script" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page
    parsed = _Tags(page)
    assert not parsed.named("script")
    assert parsed.cells == [HOSTILE] * 4  # read back as the very text that went in


def test_a_table_has_its_header_then_one_row_per_row_with_numbers_readable():
    frame = pd.DataFrame({"group": ["a", "b", "c"], "applications": [10, 2_000, 3], "rate": [0.123456, np.nan, 1.0]})
    parsed = _Tags(frame_table(frame))
    assert len(parsed.named("thead")) == 1 and len(parsed.named("tr")) == 1 + len(frame)
    assert parsed.cells == ["group", "applications", "rate", "a", "10", "0.1235", "b", "2000", "-", "c", "3", "1.0000"]
    assert parsed.named("td")[1] == {"class": "number"} and parsed.named("td")[0] == {}


def test_the_page_is_one_self_contained_document_with_its_charts_inside(tmp_path):
    drawn = tmp_path / "chart.png"
    _chart().savefig(drawn, format="png")
    page = document("Month", section("Charts", image(_chart(), "from a figure"), image(drawn, "from a file")))
    assert page.startswith("<!doctype html>") and page.count("<html>") == page.count("</html>") == 1
    parsed = _Tags(page)
    assert len(parsed.named("style")) == 1 and len(parsed.named("title")) == 1 and len(parsed.named("h1")) == 1
    assert not parsed.named("link") and not parsed.named("script") and not re.search(r"(src|href)=\"?https?:", page)
    sources = [attrs["src"] for attrs in parsed.named("img")]
    assert [attrs["alt"] for attrs in parsed.named("img")] == ["from a figure", "from a file"]
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.removeprefix("data:image/png;base64,"))[:8] == PNG_SIGNATURE
    assert sources[1].endswith(base64.b64encode(drawn.read_bytes()).decode("ascii"))
