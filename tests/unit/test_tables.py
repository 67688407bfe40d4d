"""Tables a person reads at normal zoom (bwp_workshop.notebook.table): text left-aligned, and a
long text column (00's preflight hints, say) wrapped at a readable width instead of stretching
into a paragraph as wide as the page; the data and pandas' operations unchanged."""

from __future__ import annotations

import re

import pandas as pd

from bwp_workshop.notebook import table
from bwp_workshop.notebook.cells import LONG_TEXT, WRAP_WIDTH
from bwp_workshop.steps.preflight import Check

HINT = (
    "Sign in to AWS for the account and region you deploy to: `aws sso login --profile NAME` "
    "and AWS_PROFILE=NAME, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment."
)


def styles_of(html: str, column: int) -> str:
    """The CSS the HTML's style sheet gives cells of ``column``."""
    rules = re.findall(r"([^{}]+)\{([^}]*)\}", html)
    return " ".join(body for selectors, body in rules if f"_col{column}" in selectors)


def test_the_preflight_hints_wrap_at_a_readable_width() -> None:
    checks = [
        Check("Python", True, "3.11.7"),
        Check("AWS credentials", False, "No AWS credentials found for the aws target.", HINT),
    ]
    shown = table(checks)
    assert list(shown.columns) == ["name", "ok", "detail", "hint"] and len(HINT) > LONG_TEXT
    html = shown._repr_html_()
    hint = styles_of(html, 3)
    assert f"max-width: {WRAP_WIDTH}" in hint and "white-space: normal" in hint and "text-align: left" in hint
    assert "text-align: left" in styles_of(html, 0) and "max-width" not in styles_of(html, 0)
    assert 'class="dataframe"' in html and HINT.replace("`", "") in html.replace("`", "")
    # Still a DataFrame, with the data as it was.
    assert isinstance(shown, pd.DataFrame) and shown.loc[1, "hint"] == HINT
    assert isinstance(shown[["name", "ok"]], pd.DataFrame)


def test_a_table_without_long_text_is_pandas_own() -> None:
    shown = table([{"queue": "event_queue", "messages": 0}, {"queue": "dead_letter_queue", "messages": 1}])
    assert shown._repr_html_() == pd.DataFrame(shown)._repr_html_()
    many = table([{"reason": "x" * (LONG_TEXT + 1)}] * 100)  # past pandas' row limit: pandas truncates
    assert many._repr_html_() == pd.DataFrame(many)._repr_html_()
