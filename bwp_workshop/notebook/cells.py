"""Small conveniences for the workshop notebooks: the parameters cell's target applied to the
kernel (and, on local, the local runtime brought in line with what is deployed), and results
shown as tables."""

from __future__ import annotations

import functools
import sys
from datetime import UTC, datetime
from typing import Any

from ..settings import Settings, get_settings
from ..targets import choose_target

#: Columns whose ids are long and only told apart in a table (the full value is in the data).
SHORTENED_COLUMNS = ("event_id", "message_id", "order_id", "installation_id")
#: A text column with a value longer than this many characters (a hint, a reason) wraps in a
#: table's HTML at :data:`WRAP_WIDTH`, instead of stretching into a paragraph as wide as the page.
LONG_TEXT = 60
WRAP_WIDTH = "45ch"


def start(target: str | None = None, *, local_up: bool = True) -> Settings:
    """The settings in force for the notebook's ``target`` parameter (None: BWP_TARGET from the
    environment or .env); the notebook passes them to every step. A cell that re-reads them
    (after writing .env) keeps the target: ``get_settings(target=settings.target)``. Unless
    ``local_up=False``, the target's local services are started or brought in line with what is
    deployed (none on aws), and anything that had to change is said: a restarted local AWS,
    say, and which notebooks to run again. Errors in this kernel's cells show from here on as
    :mod:`~bwp_workshop.notebook.cell_errors` says."""
    from .cell_errors import install

    settings = get_settings(**({"target": target} if target else {}))
    chosen = choose_target(settings)
    handler = install()
    if handler is not None:
        handler.target = chosen
    _table_display_options()
    print(f"target: {settings.target}   region: {settings.region}   state: {settings.bwp_dir}")
    if local_up:
        for change in chosen.up():
            if change.action != "already running":
                print(change)
    return settings


def _table_display_options() -> None:
    """Tables show values in full (URLs, hints) and never read ``$`` as maths."""
    if "pandas" not in sys.modules:
        import pandas  # noqa: F401  (the options below need it; notebooks show tables anyway)
    import pandas as pd

    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.html.use_mathjax", False)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 200)


def _when(value: Any) -> Any:
    """An epoch number in a time column as a UTC datetime (other values as they are)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 1e9:
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC).replace(microsecond=0)
    return value


def short_id(value: Any, keep: int = 8) -> Any:
    """``abcdef12…`` for a long id; other values as they are."""
    text = str(value)
    return f"{text[:keep]}…" if isinstance(value, str) and len(text) > keep + 4 else value


def table(data: Any, columns: list[str] | None = None, *, short_ids: bool = False) -> Any:
    """A pandas DataFrame of a dict (two columns) or a list of dicts/dataclass rows (or a
    DataFrame). Columns named ``*_at``/``* at`` holding epoch numbers show as UTC datetimes;
    with ``short_ids`` the id columns (:data:`SHORTENED_COLUMNS`) show their first characters."""
    import pandas as pd

    _table_display_options()
    if isinstance(data, dict):
        values = [_when(v) if str(k).endswith(("_at", " at")) else v for k, v in data.items()]
        frame = pd.DataFrame({"": list(data.keys()), "value": [str(v) for v in values]})
        return frame.set_index("")
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
    else:
        rows = [row.as_row() if hasattr(row, "as_row") else row for row in data]
        frame = pd.DataFrame(rows)
    for column in frame.columns:
        name = str(column)
        if name.endswith(("_at", " at")) and frame[column].dtype.kind in "if":
            frame[column] = frame[column].map(_when)
        if short_ids and name in SHORTENED_COLUMNS:
            frame[column] = frame[column].map(short_id)
    return _table_class()(frame[columns] if columns else frame)


@functools.cache
def _table_class() -> Any:
    """The DataFrame :func:`table` returns (made on first use: pandas is imported late)."""
    import pandas as pd

    class Table(pd.DataFrame):
        """A DataFrame whose HTML shows text as text is read: left-aligned, and long text
        (a hint, a reason: longer than :data:`LONG_TEXT`) wrapped at :data:`WRAP_WIDTH`.
        Everything else is pandas' own: the data, the text form, every operation."""

        @property
        def _constructor(self) -> Any:
            return Table

        def _repr_html_(self) -> str | None:
            lengths = {
                column: self.iloc[:, index].map(lambda value: len(value) if isinstance(value, str) else -1)
                for index, column in enumerate(self.columns)
            }
            text = [column for column, length in lengths.items() if (length >= 0).any()]
            long = [column for column in text if lengths[column].max() > LONG_TEXT]
            if not long or len(self) > pd.get_option("display.max_rows") or self.columns.has_duplicates:
                return super()._repr_html_()
            styler = self.style.set_table_attributes('class="dataframe"')
            styler = styler.set_table_styles([{"selector": "th.col_heading", "props": "text-align: left;"}])
            styler = styler.set_properties(subset=text, **{"text-align": "left"})
            wrapped = {"white-space": "normal", "min-width": "20ch", "max-width": WRAP_WIDTH}
            return styler.set_properties(subset=long, **wrapped).to_html()

    return Table
