"""The notebooks' plumbing: what a cell calls to start (``start``), show (``table``) and record
its facts (``record``), the headless runner (``runner``, papermill), the progress bars
(``progress``) and the aws dry run (``dry_run``). Importing it is cheap."""

from .cells import short_id, start, table
from .records import record

__all__ = ["record", "short_id", "start", "table"]
