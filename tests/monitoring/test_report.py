"""The drift report as one self-contained HTML file."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pyarrow as pa

from modelyard.monitoring.data_drift import compare
from modelyard.monitoring.drift_report import render

HOSTILE = "<script>alert(1)</script>"


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of each <summary>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.summaries: list[str] = []
        self._in_summary = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_summary = tag == "summary"

    def handle_endtag(self, tag: str) -> None:
        self._in_summary = False if tag == "summary" else self._in_summary

    def handle_data(self, data: str) -> None:
        if self._in_summary:
            self.summaries.append(data)


def drift_html() -> str:
    rng = np.random.default_rng(12)
    n = 3000
    reference = pa.table(
        {
            "steady": rng.normal(size=n),
            HOSTILE: rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "moved": rng.normal(size=n),
            "gone": rng.normal(size=n),
        }
    )
    current = pa.table(
        {
            "steady": rng.normal(size=n),
            HOSTILE: rng.normal(2, 1, size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n, p=[0.7, 0.2, 0.1]),
            "moved": rng.normal(1, 1, size=n),
            "new": np.arange(n),
        }
    )
    return render(compare(reference, current), title=f"churn {HOSTILE}", subtitle="v3 & <b>v4</b>")


def test_self_contained() -> None:
    html = drift_html()
    assert not re.search(r"https?:", html)
    parsed = Tags()
    parsed.feed(html)
    names = {tag for tag, _ in parsed.tags}
    assert "script" not in names
    assert "link" not in names
    assert not any("src" in attrs or "href" in attrs for _, attrs in parsed.tags)
    assert html.startswith("<!doctype html>")
    assert html.count("<svg") == 4  # a chart per tested column


def test_every_name_is_escaped() -> None:
    html = drift_html()
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>v4</b>" not in html
    assert "v3 &amp; &lt;b&gt;v4&lt;/b&gt;" in html


def test_drifted_columns_come_first() -> None:
    parsed = Tags()
    parsed.feed(drift_html())
    assert parsed.summaries == [HOSTILE, "colour", "moved", "steady"]


def test_verdict_and_schema_findings() -> None:
    html = drift_html()
    assert "Dataset drift: 3 of 4 columns (75%)" in html
    assert "<td>gone</td><td>removed</td>" in html
    assert "<td>new</td><td>added</td>" in html


def test_untested_and_calm_report() -> None:
    reference = pa.table({"x": np.arange(2000.0), "y": np.arange(2000.0)})
    current = pa.table({"x": pa.nulls(10, pa.float64()), "y": np.arange(10.0)})
    html = render(compare(reference, current), title="t")
    assert "not tested" in html
    assert "no values in the current" in html
    calm = render(compare(reference, reference), title="t")
    assert "No dataset drift: 0 of 2 columns (0%)" in calm
