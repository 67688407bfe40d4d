"""The notebooks' plumbing: what a cell calls to start (``start``), show (``table``) and record
its facts (``record``), the headless runner (``runner``, papermill), the progress bars
(``progress``), the aws dry run (``dry_run``) and the code on the page (``show_code``, from
``source``). Importing it is cheap."""

from .cells import short_id, start, table
from .records import record
from .source import show_code

__all__ = ["record", "short_id", "show_code", "start", "table"]
