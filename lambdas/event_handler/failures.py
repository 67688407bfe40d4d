"""A record's failure (:class:`RecordFailed`, permanent or transient), and the values one batch
computes once per key, or the failure computing one raised (:class:`BatchCache`)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from bwp_workshop.errors import CallFailed

#: Failures a retry cannot fix; anything else is logged as transient.
PERMANENT = "permanent"
TRANSIENT = "transient"


class RecordFailed(Exception):
    """A record could not be processed. ``kind`` is permanent or transient; ``reason`` is safe
    to log (no tokens, no secrets)."""

    def __init__(self, reason: str, kind: str) -> None:
        # Valid UTF-8 whatever the record held (a lone surrogate would break the log line and
        # the dead-letter message attribute).
        reason = reason.encode("utf-8", "backslashreplace").decode("utf-8")
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


def call_failed(exc: CallFailed, context: str = "") -> RecordFailed:
    """The record's failure when a call it needed failed: transient when a retry may succeed."""
    return RecordFailed(f"{context}{exc}", TRANSIENT if exc.transient else PERMANENT)


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchCache(Generic[K, V]):
    """Values of one batch, each computed once per key: a value, or the :class:`RecordFailed`
    its computation raised (raised again, as a new exception, for every record that asks)."""

    def __init__(self) -> None:
        self._values: dict[K, V | RecordFailed] = {}

    def get(self, key: K, compute: Callable[[], V]) -> V:
        if key not in self._values:
            try:
                self._values[key] = compute()
            except RecordFailed as exc:
                self._values[key] = exc
        value = self._values[key]
        if isinstance(value, RecordFailed):
            raise RecordFailed(value.reason, value.kind)
        return value
